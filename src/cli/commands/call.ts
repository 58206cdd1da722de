import path from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { E164_PATTERN } from '../../accounts/model.js';
import type { Config } from '../../config.js';
import { InputError } from '../../errors.js';
import { loadPromptCatalog } from '../../prompts.js';
import { simulateCall, type CallFailure, type KeySource, type TranscriptLine } from '../simulator.js';
import type { CliContext } from './context.js';

const KEYS_PATTERN = /^[0-9*#]*$/;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function describeLine(line: TranscriptLine): string | null {
  switch (line.kind) {
    case 'say':
      return `  pinline: ${line.text}`;
    case 'play':
      return `  pinline: [plays ${line.url}]`;
    case 'pause':
      return `  pinline: [pause ${line.seconds} s]`;
    case 'keys':
      return `  caller:  ${line.keys}`;
    case 'silence':
      return '  caller:  (silence)';
    case 'end':
      return line.by === 'service' ? `  [the service hung up: ${line.reason}]` : line.by === 'caller' ? '  [the caller hung up]' : null;
    case 'request':
      return null;
  }
}

/** Where the simulator's idea of the service came from, to say so when the service disagrees. */
interface Signing {
  baseUrl: string;
  /** "--url", "PUBLIC_BASE_URL", or the default and the PORT it was made from. */
  urlFrom: string;
  tokenFrom: string;
}

function signingOf(ctx: CliContext, config: Config, url: string | undefined): Signing {
  const env = ctx.io.env;
  const baseUrl = (url ?? config.publicBaseUrl).replace(/\/+$/, '');
  const urlFrom = url !== undefined ? '--url' : env.PUBLIC_BASE_URL ? 'PUBLIC_BASE_URL' : `the default PUBLIC_BASE_URL, http://localhost:$PORT (PORT ${env.PORT ?? '3000'})`;
  const tokenFrom = env.TWILIO_AUTH_TOKEN
    ? 'the TWILIO_AUTH_TOKEN of this environment'
    : `the development TWILIO_AUTH_TOKEN in ${path.join(config.dataDir, 'secrets.json')}`;
  return { baseUrl, urlFrom, tokenFrom };
}

/** Why the call could not go on, in one line that says what to do about it. */
function failureMessage(failure: CallFailure, detail: string, signing: Signing): string {
  switch (failure.kind) {
    case 'unreachable':
      return (
        `cannot reach the service at ${failure.url} (${failure.reason}): is it running? ` +
        `Start it with npm start (in another terminal), or give its address with --url`
      );
    case 'signature_refused':
      return (
        `the service refused the call's signature (HTTP 403 from ${failure.url}). ` +
        `The simulator signed for ${signing.baseUrl} (${signing.urlFrom}) with ${signing.tokenFrom}; ` +
        `the service checks against its own PUBLIC_BASE_URL (its start log names it: publicBaseUrl) and TWILIO_AUTH_TOKEN. ` +
        `Use the same here: --url or PUBLIC_BASE_URL, and TWILIO_AUTH_TOKEN or the server's DATA_DIR`
      );
    case 'misbehaved':
      return `the service misbehaved: ${detail}`;
  }
}

/**
 * Reads one entry per line from a person at the terminal: a bare Enter is silence, end of input
 * hangs up. close() lets the process end when the service hangs up first.
 */
function terminalKeys(ctx: CliContext): { keys: KeySource; close: () => void } {
  const reader = createInterface({ input: ctx.io.stdin, terminal: false });
  const lines = reader[Symbol.asyncIterator]();
  const keys: KeySource = async () => {
    for (;;) {
      if (ctx.io.isTTY) ctx.io.stdout.write('  keys (Enter = silence, Ctrl-D = hang up)> ');
      const next = await lines.next();
      if (next.done) return null;
      const keys = String(next.value).trim();
      if (KEYS_PATTERN.test(keys)) return keys;
      ctx.io.stdout.write('  only 0-9, * and # are keys on a phone\n');
    }
  };
  return { keys, close: () => reader.close() };
}

/** `pinline call`: the call simulator (DESIGN §6), playing the service's TwiML as a phone would. */
export function registerCallCommand(call: Command, ctx: CliContext): void {
  call
    .option('--from <E164>', "the caller's number (caller ID)", '+15550000100')
    .option('--to <E164>', 'the number called', '+15550000199')
    .option('--url <BASE>', "the service's public base URL (default: PUBLIC_BASE_URL)")
    .option('--keys <K>', 'what to press at the next prompt, e.g. 1001# (repeat it; an empty value is silence)', collect, [])
    .action(async (opts: { from: string; to: string; url?: string; keys: string[] }) => {
      for (const [flag, value] of [['--from', opts.from], ['--to', opts.to]] as const) {
        if (!E164_PATTERN.test(value)) throw new InputError('invalid_phone', `${flag} must be an E.164 number like +15551230001 (got "${value}")`);
      }
      const bad = opts.keys.find((k) => !KEYS_PATTERN.test(k));
      if (bad !== undefined) throw new InputError('invalid_keys', `--keys may only contain 0-9, * and # (got "${bad}")`);

      const config = ctx.config();
      const signing = signingOf(ctx, config, opts.url);
      const { baseUrl } = signing;
      ctx.print(`Calling ${baseUrl} from ${opts.from}`);
      const terminal = opts.keys.length > 0 ? null : terminalKeys(ctx);
      const transcript = await simulateCall({
        baseUrl,
        authToken: config.twilioAuthToken,
        from: opts.from,
        to: opts.to,
        keys: terminal?.keys ?? opts.keys,
        onLine: (line) => {
          const text = describeLine(line);
          if (text !== null) ctx.print(text);
        },
      }).finally(() => terminal?.close());
      if (transcript.failure) throw new InputError(`call_${transcript.failure.kind}`, failureMessage(transcript.failure, transcript.error ?? '', signing));
      const catalog = loadPromptCatalog();
      const unavailable = new Set(catalog.localeNames.map((locale) => catalog.render(locale, 'error.unavailable')));
      if (transcript.said.some((text) => unavailable.has(text))) {
        throw new InputError('service_unavailable', 'the service answered that it is unavailable (see its log)');
      }
      // The call went otherwise than the script: the rest of the script would have gone unheard.
      if (transcript.unusedKeys.length > 0) {
        const keys = transcript.unusedKeys.map((k) => k || '(silence)').join(' ');
        const count = transcript.unusedKeys.length === 1 ? '1 scripted key was' : `${transcript.unusedKeys.length} scripted keys were`;
        throw new InputError('keys_unused', `the call ended before the script did: ${count} not used (${keys}); the transcript above shows where it went otherwise`);
      }
    });
}
