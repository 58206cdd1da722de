import fc from 'fast-check';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import type { Gather } from '../../src/dialog/index.js';
import type { PromptCatalog } from '../../src/prompts.js';
import { renderStep, type TurnUrls } from '../../src/voice/twiml.js';

/**
 * renderStep writes TwiML as a string for speed (bench/README-sections.md). This pins it to what
 * twilio's own VoiceResponse writes for the same step, for any text, URL and voice, including
 * XML special characters and characters XML cannot carry (both refuse those in text).
 */
function reference(voices: Record<string, string>, locale: string, texts: string[], gather: Gather | null, urls: TurnUrls): string {
  const response = new twilio.twiml.VoiceResponse();
  const voice = voices[locale];
  const attributes = (voice ? { voice, language: locale } : { language: locale }) as Parameters<typeof response.say>[0];
  if (gather) {
    const g = response.gather({
      input: ['dtmf'],
      action: urls.action,
      method: 'POST',
      timeout: 5,
      actionOnEmptyResult: false,
      ...(gather.kind === 'menu' ? { numDigits: 1, finishOnKey: '' } : { finishOnKey: '#' }),
    });
    for (const text of texts) g.say(attributes, text);
    response.redirect({ method: 'POST' }, urls.noInput);
  } else {
    for (const text of texts) response.say(attributes, text);
    response.hangup();
  }
  return response.toString();
}

function outcome(render: () => string): string {
  try {
    return render();
  } catch {
    return '(refused)';
  }
}

describe('TwiML rendering against twilio VoiceResponse', () => {
  it('when any prompts, URLs and voice are rendered, then the TwiML is byte for byte what VoiceResponse writes', () => {
    const anyText = fc.string({ unit: 'binary', maxLength: 40 });
    const xmlish = fc.string({ unit: fc.constantFrom('&', '<', '>', '"', "'", '\t', '\n', '\r', 'a', ' ', 'é', '\u0001', '\uD800'), maxLength: 12 });
    const text = fc.oneof(anyText, xmlish);
    fc.assert(
      fc.property(
        fc.array(text, { maxLength: 4 }),
        fc.option(fc.constantFrom<Gather>({ kind: 'menu' }, { kind: 'digits' })),
        text,
        text,
        fc.option(text),
        fc.constantFrom('en-US', 'es-US'),
        (texts, gather, action, noInput, voice, locale) => {
          const voices: Record<string, string> = voice === null ? {} : { [locale]: voice };
          // A catalog that speaks the text carried in the key, so any text can be rendered.
          const catalog = { render: (_locale: string, key: string) => key.slice(1) } as unknown as PromptCatalog;
          const say = texts.map((t) => ({ key: `:${t}` as never }));
          const urls = { action, noInput };
          expect(outcome(() => renderStep({ catalog, voices }, locale, { say, gather, hangup: !gather }, urls))).toBe(
            outcome(() => reference(voices, locale, texts, gather, urls)),
          );
        },
      ),
      { numRuns: 3000 },
    );
  });
});
