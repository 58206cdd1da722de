import { Readable } from 'node:stream';
import type { TextSink } from '../../src/cli/io.js';
import { main, type CliIo } from '../../src/cli/main.js';

/** What one in-process run of the CLI printed, and its exit status. */
export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliRunOptions {
  stdin?: string;
  env?: Record<string, string>;
  isTTY?: boolean;
  /** Where stdout goes instead of the text returned (a stream, to test a slow or closed pipe). */
  stdout?: TextSink;
}

function sink() {
  return {
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

/** The CLI's environment for a test database: the pepper and secrets the test services use too. */
export function cliEnvFor(databaseUrl: string, dataDir: string): Record<string, string> {
  return {
    DATABASE_URL: databaseUrl,
    PIN_PEPPER: 'test-pepper-0123456789',
    SESSION_SECRET: 'test-session-secret-0123456789',
    TWILIO_AUTH_TOKEN: 'x',
    NODE_ENV: 'test',
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
  };
}

/** Runs `pinline ARGS` in this process with its own streams, as main() does for the real command. */
export async function runCli(args: string[], env: Record<string, string>, options: CliRunOptions = {}): Promise<CliRun> {
  const stdout = sink();
  const stderr = sink();
  const io: CliIo = {
    stdout: options.stdout ?? stdout,
    stderr,
    stdin: Readable.from(options.stdin === undefined ? [] : [options.stdin]),
    env: { ...env, ...options.env },
    isTTY: options.isTTY ?? false,
  };
  const code = await main(['node', 'pinline', ...args], io);
  return { code, stdout: stdout.text, stderr: stderr.text };
}
