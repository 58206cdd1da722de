import { Option, type Command } from 'commander';
import { ROLES } from '../../accounts/roles.js';
import { pino } from 'pino';
import { loadConfig, type Config } from '../../config.js';
import type { Actor } from '../../audit/actor.js';
import { loggerOptions, type Logger } from '../../logger.js';
import type { Runtime } from '../../runtime.js';
import { writeLines, type CliIo } from '../io.js';

/** What every command gets: the streams, and the configuration and database opened on demand. */
export interface CliContext {
  readonly io: CliIo;
  /** Every change made from the CLI is audited under this actor (DESIGN §3). */
  readonly actor: Actor;
  /** The configuration from io.env, loaded on first use. */
  config(): Config;
  logger(): Logger;
  /** Opens the database (migrating it), runs fn, and always closes it again. */
  withRuntime<T>(fn: (runtime: Runtime) => Promise<T>): Promise<T>;
  print(...lines: string[]): void;
  /** Ends the command with this exit status, having said why in its own output (an import with bad rows). */
  setExitCode(code: number): void;
  readonly exitCode: number;
}

/** Fills in a top-level command that main.ts has made with its name and summary (see COMMANDS there). */
export type RegisterCommand = (command: Command, ctx: CliContext) => void;

const MIGRATE_CONNECT_FAILURE = 'could not connect to postgres:';

const CLI_ACTOR: Actor = { channel: 'cli', name: 'cli' };

export function createContext(io: CliIo): CliContext {
  let config: Config | null = null;
  let logger: Logger | null = null;
  let exitCode = 0;
  const ctx: CliContext = {
    io,
    actor: CLI_ACTOR,
    get exitCode() {
      return exitCode;
    },
    setExitCode(code) {
      exitCode = code;
    },
    config() {
      config ??= loadConfig(io.env);
      return config;
    },
    logger() {
      // JSON lines on stderr, so stdout stays the command's output; quiet unless LOG_LEVEL asks.
      logger ??= pino(
        {
          ...loggerOptions(io.env.LOG_LEVEL ? ctx.config().logLevel : 'warn', false),
          hooks: {
            logMethod(args, method) {
              // node-pg-migrate logs a failed connection with a stack; the CLI reports it in one line itself.
              if (typeof args[0] === 'string' && args[0].startsWith(MIGRATE_CONNECT_FAILURE)) return;
              method.apply(this, args);
            },
          },
        },
        { write: (line: string) => io.stderr.write(line) },
      );
      return logger;
    },
    async withRuntime(fn) {
      // Imported here, not above: `pinline --help` and `pinline call` never open the database.
      const { openRuntime } = await import('../../runtime.js');
      const runtime = await openRuntime(ctx.config(), ctx.logger());
      try {
        return await fn(runtime);
      } finally {
        await runtime.close();
      }
    },
    print(...lines) {
      writeLines(io.stdout, lines);
    },
  };
  return ctx;
}

/** `--role ROLE`, one of the administrators' roles (DESIGN §11); anything else is a one-line usage error. */
export function roleOption(description: string): Option {
  return new Option('--role <ROLE>', description).choices(ROLES);
}
