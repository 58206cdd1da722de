import { Argument, type Command } from 'commander';
import { reportCsv, reportRecords } from '../../accounts/present.js';
import { REPORT_NAMES } from '../../accounts/reports.js';
import { formatTable } from '../io.js';
import type { CliContext } from './context.js';

export function registerReportCommand(program: Command, ctx: CliContext): void {
  program
    .command('report')
    .description('list the users in a report: expired or expiring PINs, locks, pending enrollment, inactivity, failed sign-ins')
    // commander refuses any other name with a usage error (exit 2) that lists the names.
    .addArgument(new Argument('<NAME>', 'the report').choices(REPORT_NAMES))
    .option('--csv', 'print CSV with a header row')
    .action(async (name: string, opts: { csv?: boolean }) => {
      await ctx.withRuntime(async ({ reports }) => {
        const result = await reports.run(name);
        if (opts.csv) {
          ctx.io.stdout.write(reportCsv(result));
          return;
        }
        const { columns, records } = reportRecords(result);
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
