import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { E164_PATTERN } from '../../accounts/model.js';
import { InputError } from '../../errors.js';
import { loadPromptCatalog } from '../../prompts.js';
import { simulateCall, type KeySource, type TranscriptLine } from '../simulator.js';
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
export function registerCallCommand(program: Command, ctx: CliContext): void {
  program
    .command('call')
    .description('place a simulated call: prints what is said and sends keys (scripted with --keys, or typed)')
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
      const baseUrl = (opts.url ?? config.publicBaseUrl).replace(/\/+$/, '');
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
      if (transcript.error) throw new InputError('service_misbehaved', `the service misbehaved: ${transcript.error}`);
      const catalog = loadPromptCatalog();
      const unavailable = new Set(catalog.localeNames.map((locale) => catalog.render(locale, 'error.unavailable')));
      if (transcript.said.some((text) => unavailable.has(text))) {
        throw new InputError('service_unavailable', 'the service answered that it is unavailable (see its log)');
      }
    });
}
