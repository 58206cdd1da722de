import twilio from 'twilio';
import type { Gather, Say } from '../dialog/index.js';
import type { PromptCatalog } from '../prompts.js';

const { VoiceResponse } = twilio.twiml;

/** Seconds Twilio waits for the next key before submitting what it has (or falling through). */
export const GATHER_TIMEOUT_SECONDS = 5;

export interface Speech {
  catalog: PromptCatalog;
  voices: Readonly<Record<string, string>>;
}

export interface TurnUrls {
  /** Where Twilio posts the keys. */
  action: string;
  /** Where the call goes when the Gather ends without keys. */
  noInput: string;
}

type SayAttributes = Parameters<InstanceType<typeof VoiceResponse>['say']>[0];

function sayAttributes(speech: Speech, locale: string): SayAttributes {
  const voice = speech.voices[locale];
  return (voice ? { voice, language: locale } : { language: locale }) as SayAttributes;
}

/**
 * Renders one dialog step. Prompts play inside the Gather so a caller can type ahead; the
 * Redirect after it turns silence into a no-input turn.
 */
export function renderStep(
  speech: Speech,
  locale: string,
  step: { say: Say[]; gather: Gather | null; hangup: boolean },
  urls: TurnUrls | null,
): string {
  const response = new VoiceResponse();
  const attributes = sayAttributes(speech, locale);
  const texts = step.say.map((s) => speech.catalog.render(locale, s.key, s.params));
  if (step.gather && urls) {
    const gather = response.gather({
      input: ['dtmf'],
      action: urls.action,
      method: 'POST',
      timeout: GATHER_TIMEOUT_SECONDS,
      actionOnEmptyResult: false,
      ...(step.gather.kind === 'menu' ? { numDigits: 1, finishOnKey: '' } : { finishOnKey: '#' }),
    });
    for (const text of texts) gather.say(attributes, text);
    response.redirect({ method: 'POST' }, urls.noInput);
  } else {
    for (const text of texts) response.say(attributes, text);
    response.hangup();
  }
  return response.toString();
}

/** [error.unavailable] and a hang-up: the answer to anything that went wrong. */
export function renderUnavailable(speech: Speech, locale: string): string {
  return renderStep(speech, locale, { say: [{ key: 'error.unavailable' }], gather: null, hangup: true }, null);
}
