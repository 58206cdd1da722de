import type { Command } from 'commander';
import { reportColumns, reportRecords } from '../../accounts/present.js';
import { REPORTS, REPORT_NAMES } from '../../accounts/reports.js';
import { formatTable, streamedOutput } from '../io.js';
import type { CliContext } from './context.js';

/** Each report's name and who is in it, for --help. */
function reportList(): string {
  const width = Math.max(...REPORTS.map((r) => r.name.length));
  return REPORTS.map((r) => `  ${r.name.padEnd(width)}  ${r.description}`).join('\n');
}

export function registerReportCommand(report: Command, ctx: CliContext): void {
  report
    // Optional, so that a missing name gets the same answer as a wrong one: the list (DESIGN §9).
    .argument('[NAME]', `the report: ${REPORT_NAMES.join(', ')}`)
    .option('--csv', 'print CSV with a header row')
    .addHelpText('after', `\nReports:\n${reportList()}`)
    .action(async (name: string | undefined, opts: { csv?: boolean }) => {
      if (name === undefined || !REPORT_NAMES.includes(name)) {
        const asked = name === undefined ? 'name a report' : `there is no report named "${name}"`;
        // A usage error: exit 2, one line.
        report.error(`${asked}; the reports are ${REPORT_NAMES.join(', ')} (pinline report --help says who is in each)`);
      }
      await ctx.withRuntime(async ({ reports }) => {
        if (opts.csv) {
          // Streamed as the rows are read: a report of every user is never held at once.
          const write = streamedOutput(ctx.io.stdout);
          await reports.csv(name, (piece) => write(piece));
          return;
        }
        const result = await reports.run(name);
        const columns = reportColumns(result.report);
        const records = reportRecords(result.report, result.rows);
        const count = records.length === 1 ? '1 user' : `${records.length} users`;
        ctx.print(
          ...formatTable(
            columns.map((column) => column.toUpperCase()),
            records.map((record) => columns.map((column) => record[column] ?? '')),
          ),
          `${count} as of ${result.now.toISOString()}`,
        );
      });
    });
}
