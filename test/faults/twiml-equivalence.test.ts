import fc from 'fast-check';
import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import type { Gather } from '../../src/dialog/index.js';
import type { PromptCatalog } from '../../src/prompts.js';
import { TwimlRenderer } from '../../src/voice/twiml.js';

/**
 * TwimlRenderer has VoiceResponse write a step once and fills the sealed state into later turns.
 * This pins the result to what a fresh VoiceResponse writes for the same turn, for any prompt
 * text, base URL, voice and sealed state, including XML special characters and characters XML
 * cannot carry (both refuse those).
 */
function reference(baseUrl: string, voices: Record<string, string>, locale: string, texts: string[], gather: Gather | null, state: string): string {
  const response = new twilio.twiml.VoiceResponse();
  const voice = voices[locale];
  const attributes = (voice ? { voice, language: locale } : { language: locale }) as Parameters<typeof response.say>[0];
  if (gather) {
    const g = response.gather({
      input: ['dtmf'],
      action: `${baseUrl}/voice/turn?s=${state}`,
      method: 'POST',
      timeout: gather.waitSeconds ?? 5,
      actionOnEmptyResult: false,
      ...(gather.kind === 'menu' ? { numDigits: 1, finishOnKey: '' } : { finishOnKey: '#' }),
    });
    for (const text of texts) g.say(attributes, text);
    response.redirect({ method: 'POST' }, `${baseUrl}/voice/no-input?s=${state}`);
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

describe('TwiML templates against a fresh VoiceResponse', () => {
  it('when any step is rendered twice with different sealed states, then each answer is what VoiceResponse writes for it', () => {
    const anyText = fc.string({ unit: 'binary', maxLength: 40 });
    const xmlish = fc.string({ unit: fc.constantFrom('&', '<', '>', '"', "'", '\t', '\n', '\r', 'a', ' ', 'é', '\u0001', '\uD800'), maxLength: 12 });
    const text = fc.oneof(anyText, xmlish);
    const sealed = fc.base64String({ minLength: 4, maxLength: 60 }).map((b) => b.replace(/\+/g, '-').replace(/\//g, '_').replace(/=/g, ''));
    fc.assert(
      fc.property(
        fc.array(text, { maxLength: 4 }),
        fc.option(
          fc.record<Gather>({ kind: fc.constantFrom('menu', 'digits'), waitSeconds: fc.option(fc.integer({ min: 3, max: 30 })) }),
        ),
        fc.constantFrom('https://pin.example', 'http://localhost:3000', 'https://x.example/a&b"<c>'),
        fc.option(text),
        fc.constantFrom('en-US', 'es-US'),
        sealed,
        sealed,
        (texts, gather, baseUrl, voice, locale, first, second) => {
          const voices: Record<string, string> = voice === null ? {} : { [locale]: voice };
          // A catalog that speaks the text carried in the key, so any text can be rendered.
          const catalog = { render: (_locale: string, key: string) => key.slice(1) } as unknown as PromptCatalog;
          const renderer = new TwimlRenderer({ catalog, voices }, baseUrl);
          const say = texts.map((t) => ({ key: `:${t}` as never }));
          for (const state of [first, second]) {
            expect(outcome(() => renderer.render(locale, { say, gather, hangup: !gather }, state))).toBe(
              outcome(() => reference(baseUrl, voices, locale, texts, gather, state)),
            );
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
