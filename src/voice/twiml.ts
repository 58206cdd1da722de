import type { Gather, Say } from '../dialog/index.js';
import type { PromptCatalog } from '../prompts.js';

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

/**
 * TwiML is written as a string, not built with twilio's VoiceResponse (xmlbuilder): on a menu
 * turn the builder cost more than the signature check, the seal and the dialog together
 * (bench/README-sections.md). The output is byte for byte what VoiceResponse writes for these
 * verbs, with the same escaping, and like it refuses text that XML cannot carry.
 */
const XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';
const ILLEGAL_XML_CHARS = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?:[^\uD800-\uDBFF]|^)[\uDC00-\uDFFF]/;
const NEEDS_ESCAPE = /[&<>"\t\n\r]/;

function legal(value: string): string {
  if (ILLEGAL_XML_CHARS.test(value)) throw new Error(`TwiML cannot carry the character in ${JSON.stringify(value)}`);
  return value;
}

/** xmlbuilder's text escaping. */
function text(value: string): string {
  legal(value);
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/\r/g, '&#xD;');
}

/** xmlbuilder's attribute escaping (twilio's TwiML does not check attribute characters; nor does this). */
function attribute(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/"/g, '&quot;')
    .replace(/\t/g, '&#x9;')
    .replace(/\n/g, '&#xA;')
    .replace(/\r/g, '&#xD;');
}

function sayOpenTag(speech: Speech, locale: string): string {
  const voice = speech.voices[locale];
  return voice ? `<Say voice="${attribute(voice)}" language="${attribute(locale)}"` : `<Say language="${attribute(locale)}"`;
}

function says(open: string, texts: readonly string[]): string {
  let xml = '';
  for (const t of texts) xml += t === '' ? `${open}/>` : `${open}>${text(t)}</Say>`;
  return xml;
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
  const open = sayOpenTag(speech, locale);
  const texts = step.say.map((s) => speech.catalog.render(locale, s.key, s.params));
  if (step.gather && urls) {
    const keys = step.gather.kind === 'menu' ? ' numDigits="1" finishOnKey=""' : ' finishOnKey="#"';
    const gather =
      `<Gather input="dtmf" action="${attribute(urls.action)}" method="POST" timeout="${GATHER_TIMEOUT_SECONDS}" actionOnEmptyResult="false"${keys}`;
    const inner = says(open, texts);
    return (
      `${XML_DECLARATION}<Response>${inner === '' ? `${gather}/>` : `${gather}>${inner}</Gather>`}` +
      `${urls.noInput === '' ? '<Redirect method="POST"/>' : `<Redirect method="POST">${text(urls.noInput)}</Redirect>`}</Response>`
    );
  }
  return `${XML_DECLARATION}<Response>${says(open, texts)}<Hangup/></Response>`;
}

/** [error.unavailable] and a hang-up: the answer to anything that went wrong. */
export function renderUnavailable(speech: Speech, locale: string): string {
  return renderStep(speech, locale, { say: [{ key: 'error.unavailable' }], gather: null, hangup: true }, null);
}
