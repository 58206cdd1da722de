import twilio from 'twilio';
import { RESPONSE_WAIT } from '../accounts/model.js';
import type { Gather, Say } from '../dialog/index.js';
import type { PromptCatalog } from '../prompts.js';

const { VoiceResponse } = twilio.twiml;

/** Turns a template may hold before the cache starts over; prompts and their values are few. */
const MAX_TEMPLATES = 4096;

/**
 * Stands for the sealed state in a cached template. The sealed state is base64url, which XML
 * never needs to escape, so it can be put in after VoiceResponse has written the document.
 */
const SEALED_STATE_MARK = 'PINLINE-SEALED-STATE-MARK';

export interface Speech {
  catalog: PromptCatalog;
  voices: Readonly<Record<string, string>>;
}

export interface RenderedStep {
  say: Say[];
  gather: Gather | null;
  hangup: boolean;
}

type SayAttributes = Parameters<InstanceType<typeof VoiceResponse>['say']>[0];

/**
 * Writes each dialog step as TwiML with twilio's VoiceResponse. Prompts play inside the Gather
 * so a caller can type ahead; the Redirect after it turns silence into a no-input turn.
 *
 * A step's document differs from turn to turn only in the sealed state inside its two URLs, so
 * VoiceResponse writes it once per distinct step and later turns fill in the state: building the
 * XML cost more than the signature check, the seal and the dialog together (bench/).
 */
export class TwimlRenderer {
  private readonly templates = new Map<string, string>();

  constructor(
    private readonly speech: Speech,
    private readonly publicBaseUrl: string,
  ) {}

  /** The TwiML for a step; `sealedState` goes into the action URLs of a step that gathers keys. */
  render(locale: string, step: RenderedStep, sealedState: string | null): string {
    const gathers = step.gather !== null && sealedState !== null;
    const key = JSON.stringify([locale, gathers ? step.gather?.kind : null, gathers ? step.gather?.waitSeconds : null, step.say]);
    let template = this.templates.get(key);
    if (template === undefined) {
      template = this.write(locale, step.say, gathers ? step.gather : null);
      if (this.templates.size >= MAX_TEMPLATES) this.templates.clear();
      this.templates.set(key, template);
    }
    return gathers ? template.replaceAll(SEALED_STATE_MARK, sealedState as string) : template;
  }

  /** [error.unavailable] and a hang-up: the answer to anything that went wrong. */
  unavailable(locale: string): string {
    return this.render(locale, { say: [{ key: 'error.unavailable' }], gather: null, hangup: true }, null);
  }

  private write(locale: string, say: Say[], gather: Gather | null): string {
    const response = new VoiceResponse();
    const voice = this.speech.voices[locale];
    const attributes = (voice ? { voice, language: locale } : { language: locale }) as SayAttributes;
    const texts = say.map((s) => this.speech.catalog.render(locale, s.key, s.params));
    if (gather) {
      const keys = response.gather({
        input: ['dtmf'],
        action: `${this.publicBaseUrl}/voice/turn?s=${SEALED_STATE_MARK}`,
        method: 'POST',
        // Seconds Twilio waits for the next key before submitting what it has (or falling through):
        // the signed-in caller's own wait, else the default for everyone.
        timeout: gather.waitSeconds ?? RESPONSE_WAIT.default,
        actionOnEmptyResult: false,
        ...(gather.kind === 'menu' ? { numDigits: 1, finishOnKey: '' } : { finishOnKey: '#' }),
      });
      for (const text of texts) keys.say(attributes, text);
      response.redirect({ method: 'POST' }, `${this.publicBaseUrl}/voice/no-input?s=${SEALED_STATE_MARK}`);
    } else {
      for (const text of texts) response.say(attributes, text);
      response.hangup();
    }
    return response.toString();
  }
}
