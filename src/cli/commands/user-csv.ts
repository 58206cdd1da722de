import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Command } from 'commander';
import type { ImportRowOutcome } from '../../accounts/import.js';
import { exportUsersCsv, exportUsersJson } from '../../accounts/export.js';
import { importSummary, USER_CSV_FIELDS } from '../../accounts/present.js';
import { InputError } from '../../errors.js';
import { streamedOutput } from '../io.js';
import type { CliContext } from './context.js';

const EXIT_BAD_ROWS = 1;

function outcomeLine(row: ImportRowOutcome): string {
  return `line ${row.line}: ${row.result}${row.reason !== undefined ? `: ${row.reason}` : ''}`;
}

/** The file, to be read in pieces (the import reads it as it goes); one that cannot be read is a one-line error now. */
async function importSource(file: string): Promise<() => AsyncIterable<Uint8Array>> {
  try {
    const handle = await open(file);
    const isDirectory = (await handle.stat()).isDirectory();
    await handle.close();
    if (isDirectory) throw Object.assign(new Error(file), { code: 'EISDIR' });
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'it is a directory' : String(code ?? err);
    throw new InputError('unreadable_file', `cannot read ${file}: ${why}`);
  }
  return () => createReadStream(file, { highWaterMark: 1024 * 1024 });
}

/** The file's line breaks less the header's: the rows to expect, for the progress bar (a quoted cell with a line break counts twice). */
async function countLines(source: () => AsyncIterable<Uint8Array>): Promise<number> {
  let lines = 0;
  for await (const piece of source()) {
    for (let at = piece.indexOf(10); at !== -1; at = piece.indexOf(10, at + 1)) lines += 1;
  }
  return Math.max(1, lines - 1);
}

/** A progress bar on the terminal with rows a second and the time left (cli-progress, loaded only here). */
async function importProgress(terminal: NodeJS.WriteStream, total: number): Promise<{ row(): void; stop(): void }> {
  const { SingleBar, Presets } = await import('cli-progress');
  const bar = new SingleBar(
    { stream: terminal, format: 'importing {bar} {value}/{total} rows | {speed} rows/s | {eta_formatted} left', etaBuffer: 5000, hideCursor: true },
    Presets.shades_classic,
  );
  const started = Date.now();
  let done = 0;
  bar.start(total, 0, { speed: 0 });
  return {
    row() {
      done += 1;
      if (done % 500 === 0 || done === total) bar.update(Math.min(done, total), { speed: Math.round((done * 1000) / Math.max(1, Date.now() - started)) });
    },
    stop: () => bar.stop(),
  };
}

/** `user import` and `user export` (DESIGN §9). */
export function registerUserCsvCommands(user: Command, ctx: CliContext): void {
  user
    .command('import')
    .description('create and update users from a CSV file, matched by extension; prints one line per row, then the counts')
    .argument('<FILE>', `CSV with a header row: extension and any of ${USER_CSV_FIELDS.slice(1).join(', ')}`)
    .option('--dry-run', 'change nothing: print what an import would do')
    .option('--quiet', 'print only the counts, not a line per row')
    .option('--reset-pins', "reset each created user's PIN and send it to them by text message or e-mail (otherwise a new user has a PIN no one knows until an administrator sets or resets one)")
    .action(async (file: string, opts: { dryRun?: boolean; resetPins?: boolean; quiet?: boolean }) => {
      const source = await importSource(file);
      const terminal = ctx.io.progressTerminal;
      const progress = terminal && !opts.quiet ? await importProgress(terminal, await countLines(source)) : null;
      await ctx.withRuntime(async ({ userImport }) => {
        // Each row's line is printed as its chunk holds, and none is kept: memory stays flat however long the file.
        const options = { dryRun: opts.dryRun === true, resetPins: opts.resetPins === true, keepRows: 0, file: path.basename(file) };
        // A chunk's lines go out in one write, on the turn of the event loop the import takes after
        // each chunk: a write per row costs more than the row (issue 21).
        const lines: string[] = [];
        const flush = () => {
          if (lines.length > 0) ctx.print(lines.splice(0).join('\n'));
        };
        const report = await userImport
          .run(source, options, ctx.actor, (row) => {
            if (!opts.quiet && lines.push(outcomeLine(row)) === 1) setImmediate(flush);
            progress?.row();
          })
          .finally(() => {
            flush();
            progress?.stop();
          });
        ctx.print(importSummary(report));
        if (report.counts.error > 0) ctx.setExitCode(EXIT_BAD_ROWS);
      });
    });

  user
    .command('export')
    .description('print every user with PIN status and flags (never a hash), as CSV that imports again, or JSON')
    .option('--json', "a JSON array of users, as the API's user resource")
    .action(async (opts: { json?: boolean }) => {
      await ctx.withRuntime(async ({ accounts }) => {
        const write = streamedOutput(ctx.io.stdout);
        await (opts.json ? exportUsersJson : exportUsersCsv)(accounts, write);
      });
    });
}
