import { createInterface } from 'node:readline';
import { EventEmitter } from 'node:events';
import { Writable, type Readable } from 'node:stream';
import { InputError } from '../errors.js';

/** Anything text can be written to: process.stdout, or a buffer in tests. */
export interface TextSink {
  write(text: string): unknown;
}

/** The process's streams and environment, passed in so that tests can run the CLI in-process. */
export interface CliIo {
  stdout: TextSink;
  stderr: TextSink;
  stdin: Readable;
  env: Record<string, string | undefined>;
  /** stdin is a terminal: a password can be prompted for with echo off. */
  isTTY: boolean;
  /** stderr, when it is a terminal: where a long command draws its progress bar. */
  progressTerminal?: NodeJS.WriteStream;
}

export function processIo(): CliIo {
  // A reader that went away (`| head`) is not a failure: what is left has nowhere to go. Without a
  // listener, the EPIPE of a write already buffered would crash the process with a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
  });
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    isTTY: process.stdin.isTTY === true,
    ...(process.stderr.isTTY ? { progressTerminal: process.stderr } : {}),
  };
}

export function writeLines(sink: TextSink, lines: readonly string[]): void {
  if (lines.length > 0) sink.write(lines.join('\n') + '\n');
}

/**
 * The reader of the output went away (`pinline user export | head`): the command stops, and the
 * CLI ends silently with status 0, as `git log | head` does. Nobody is left to read a message.
 */
export class OutputClosedError extends Error {
  override readonly name = 'OutputClosedError';
}

/**
 * A long output (an export) to the sink. Each write waits while a stream's buffer is full (a slow
 * pipe) until it drains, so memory stays bounded. A reader that goes away (EPIPE) stops the
 * command with an OutputClosedError; any other failure to write (a full disk) with one line.
 */
export function streamedOutput(sink: TextSink): (text: string) => Promise<void> {
  const stream = sink instanceof EventEmitter ? sink : null;
  let failure: string | null = null;
  let wake: (() => void) | null = null;
  // Left in place after the command: a late EPIPE from the last buffered write must not crash either.
  stream?.on('error', (err: { code?: unknown }) => {
    failure = typeof err.code === 'string' ? err.code : 'error';
    wake?.();
  });
  stream?.on('drain', () => wake?.());
  const check = () => {
    if (failure === 'EPIPE') throw new OutputClosedError('the reader of the output went away');
    if (failure !== null) throw new InputError('output_failed', `the output could not be written (${failure})`);
  };
  return async (text) => {
    check();
    if (sink.write(text) === false && stream) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
    check();
  };
}

/** `key: value` lines with the values lined up in one column. */
export function formatPairs(pairs: ReadonlyArray<readonly [string, string]>): string[] {
  const width = Math.max(0, ...pairs.map(([key]) => key.length)) + 2;
  return pairs.map(([key, value]) => `${`${key}:`.padEnd(width)}${value}`);
}

/** A plain-text table: a header row and columns padded to their widest cell. */
export function formatTable(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string[] {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function formatTime(value: Date | null, none = 'never'): string {
  return value === null ? none : value.toISOString();
}

export function yesNo(value: boolean): string {
  return value ? 'yes' : 'no';
}

/** The first line of the input (without its line ending), or null when the input is empty. */
export async function readFirstLine(input: Readable): Promise<string | null> {
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false });
  try {
    for await (const line of lines) return line;
    return null;
  } finally {
    lines.close();
  }
}

/**
 * Asks for a secret on the terminal with echo off: readline runs in terminal mode (raw input)
 * but writes its echo to a sink that drops it. The prompt itself goes to stderr.
 */
export async function promptHidden(io: CliIo, prompt: string): Promise<string> {
  const muted = new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  const rl = createInterface({ input: io.stdin, output: muted, terminal: true });
  io.stderr.write(prompt);
  try {
    return await new Promise<string>((resolve, reject) => {
      rl.once('line', resolve);
      rl.once('SIGINT', () => reject(new InputError('cancelled', 'cancelled')));
      rl.once('close', () => reject(new InputError('no_input', 'no password entered')));
    });
  } finally {
    rl.close();
    io.stderr.write('\n');
  }
}
