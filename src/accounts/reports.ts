import { csvText } from '../csv.js';
import { countReportMembers, countUserEvents, eachReportMember, type ReportCandidate, type ReportSet } from '../db/reports.js';
import type { Pool } from '../db/pool.js';
import { NotFoundError } from '../errors.js';
import { INACTIVE_REPORT_DEFAULT_DAYS, pinStatus, type PinStatus } from '../pin/status.js';
import { presentPinStatus, reportColumns, reportRecords, type Phrase } from './present.js';

// The reports of DESIGN §9. A report on PIN status is counted and paged in SQL by a condition
// that mirrors pinStatus exactly (src/db/reports.ts; the boundary tests prove them equal), and
// every row it shows is still decided by pinStatus, the same definition the phone, the pages and
// the API use, so a report and a user's page cannot disagree.

/** One user in a report: who, and the report's fact about them. */
export interface ReportRow {
  userId: number;
  extension: string;
  firstName: string;
  lastName: string;
  fact: Phrase;
}

export interface Report {
  /** As typed after `pinline report` and in /admin/reports/NAME. */
  name: string;
  title: string;
  /** One line: who is in it. */
  description: string;
  /** The fact's column in CSV and the CLI, in snake_case. */
  factColumn: string;
  /** The fact's column heading on the page. */
  factLabel: string;
  /** How many users it holds at `now`. */
  count(pool: Pool, now: Date): Promise<number>;
  /** Its rows at `now`, in their order: those in `range` (a page) in one batch, or all of them in batches. */
  each(pool: Pool, now: Date, range: RowRange | null, visit: (rows: ReportRow[]) => void | Promise<void>): Promise<void>;
}

interface RowRange {
  offset: number;
  limit: number;
}

export interface ReportResult {
  report: Report;
  /** When the report was made: the time its definitions were judged at. */
  now: Date;
  rows: ReportRow[];
}

/** The failed-signins report's window: the last 24 hours before now. */
const FAILED_SIGNIN_WINDOW_MS = 24 * 60 * 60_000;

export interface ReportPage {
  report: Report;
  now: Date;
  /** Every user in the report, not only this page's. */
  total: number;
  rows: ReportRow[];
}

/** A report on PIN status: its users from the database, each row decided by pinStatus. */
function statusReport(
  definition: Omit<Report, 'count' | 'each'>,
  set: ReportSet,
  includes: (candidate: ReportCandidate, status: PinStatus) => boolean,
  fact: (candidate: ReportCandidate, status: PinStatus, now: Date) => Phrase,
): Report {
  return {
    ...definition,
    count: (pool, now) => countReportMembers(pool, set, now, INACTIVE_REPORT_DEFAULT_DAYS),
    each: (pool, now, range, visit) =>
      eachReportMember(pool, set, now, INACTIVE_REPORT_DEFAULT_DAYS, range, (members) => {
        const rows: ReportRow[] = [];
        for (const candidate of members) {
          const status = pinStatus(candidate.pin, candidate.rule, now);
          // The SQL's condition and pinStatus agree (the boundary tests); pinStatus has the last word.
          if (!includes(candidate, status)) continue;
          const { user } = candidate;
          rows.push({ userId: user.id, extension: user.extension, firstName: user.firstName, lastName: user.lastName, fact: fact(candidate, status, now) });
        }
        return visit(rows);
      }),
  };
}

/** The one list of reports, in the order they are shown. */
export const REPORTS: readonly Report[] = [
  statusReport(
    {
      name: 'expired',
      title: 'Expired PINs',
      description: 'PINs past their expiry, not counting PINs that must be changed anyway or temporary PINs.',
      factColumn: 'expired_at',
      factLabel: 'Expired',
    },
    'expired',
    ({ pin }, status) => status.expired && !pin.mustChange && pin.temporarySince === null,
    (_account, status) => [status.expiresAt ?? 'never'],
  ),
  statusReport(
    {
      name: 'expiring',
      title: 'Expiring PINs',
      description: 'PINs that expire within the warning days of their rule: the callers hear the expiry warning.',
      factColumn: 'expires_at',
      factLabel: 'Expires',
    },
    'expiring',
    // Exactly when the phone warns (dialog/machine.ts afterSignin): nothing due first, then the days left.
    ({ rule }, status) =>
      status.requiredChange === null && status.daysUntilExpiry !== null && status.daysUntilExpiry <= rule.warningDays && !status.expired,
    (_account, status) => [status.expiresAt ?? 'never'],
  ),
  statusReport(
    {
      name: 'locked',
      title: 'Locked Users',
      description: 'Users locked by an administrator, by intruder detection (while the lockout runs) or for inactivity.',
      factColumn: 'lock',
      factLabel: 'Lock',
    },
    'locked',
    (_account, status) => status.lockout !== null,
    (account, _status, now) => presentPinStatus(account, now).lockout,
  ),
  statusReport(
    {
      name: 'enrollment-pending',
      title: 'Enrollment Pending',
      description: 'Users who have not yet enrolled: they choose their PIN at their first phone sign-in.',
      factColumn: 'created_at',
      factLabel: 'User Created',
    },
    'enrollment-pending',
    ({ pin }) => pin.enrollmentPending,
    ({ user }) => [user.createdAt],
  ),
  statusReport(
    {
      name: 'inactive',
      title: 'Inactive Users',
      description: `No successful sign-in for the inactivity days of their rule, or ${INACTIVE_REPORT_DEFAULT_DAYS} days when the rule has none.`,
      factColumn: 'last_signin',
      factLabel: 'Last Sign-In',
    },
    'inactive',
    (_account, status) => status.inactive,
    ({ pin }, status) => lastSigninFact(pin.lastSigninAt, status.lastActivityAt),
  ),
  {
    name: 'failed-signins',
    title: 'Failed Phone Sign-Ins',
    description: 'Users with failed phone sign-ins in the last 24 hours, most first.',
    factColumn: 'failed_signins',
    factLabel: 'Failed Sign-Ins',
    // Few users fail within a day, and the (event, at) index finds them: counted and paged in memory.
    count: async (pool, now) => (await failedSignins(pool, now)).length,
    async each(pool, now, range, visit) {
      const rows = await failedSignins(pool, now);
      await visit(range ? rows.slice(range.offset, range.offset + range.limit) : rows);
    },
  },
];

async function failedSignins(pool: Pool, now: Date): Promise<ReportRow[]> {
  const counts = await countUserEvents(pool, {
    event: 'signin.failed',
    channel: 'phone',
    since: new Date(now.getTime() - FAILED_SIGNIN_WINDOW_MS),
    until: now,
  });
  return counts.map(({ count, ...user }) => ({ ...user, fact: [String(count)] }));
}

export const REPORT_NAMES: readonly string[] = REPORTS.map((report) => report.name);

/** The last sign-in; without one, or before the inactivity clock restarted, where the clock counts from. */
function lastSigninFact(lastSigninAt: Date | null, lastActivityAt: Date): Phrase {
  if (lastSigninAt === null) return ['never (counted from ', lastActivityAt, ')'];
  if (lastSigninAt.getTime() < lastActivityAt.getTime()) return [lastSigninAt, ' (counted from ', lastActivityAt, ')'];
  return [lastSigninAt];
}

/** Runs reports at the services' clock, so that tests can move time. */
export class ReportService {
  constructor(
    private readonly pool: Pool,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The report of that name; NotFoundError for any other. */
  private find(name: string): Report {
    const report = REPORTS.find((candidate) => candidate.name === name);
    if (!report) throw new NotFoundError(`report ${name}`);
    return report;
  }

  /** The whole report. */
  async run(name: string): Promise<ReportResult> {
    const report = this.find(name);
    const now = this.clock();
    const rows: ReportRow[] = [];
    await report.each(this.pool, now, null, (batch) => {
      rows.push(...batch);
    });
    return { report, now, rows };
  }

  /** How many users each report holds, at one time. */
  async counts(): Promise<{ now: Date; counts: Array<{ report: Report; count: number }> }> {
    const now = this.clock();
    return { now, counts: await Promise.all(REPORTS.map(async (report) => ({ report, count: await report.count(this.pool, now) }))) };
  }

  /** One page of a report (1-based) and how many users it holds. */
  async page(name: string, page: number, pageSize: number): Promise<ReportPage> {
    const report = this.find(name);
    const now = this.clock();
    const range = { offset: (page - 1) * pageSize, limit: pageSize };
    let rows: ReportRow[] = [];
    const [total] = await Promise.all([
      report.count(this.pool, now),
      report.each(this.pool, now, range, (batch) => {
        rows = batch;
      }),
    ]);
    return { report, now, total, rows };
  }

  /**
   * The whole report as CSV with a header (the CLI and the admin download), handed to write in
   * pieces as the rows come from the database: a report of every user is never held at once.
   */
  async csv(name: string, write: (piece: string, made: { report: Report; now: Date }) => void | Promise<void>): Promise<void> {
    const report = this.find(name);
    const made = { report, now: this.clock() };
    const columns = reportColumns(report);
    await write(csvText(columns, []), made);
    await report.each(this.pool, made.now, null, async (rows) => {
      if (rows.length > 0) await write(csvText(columns, reportRecords(report, rows), { header: false }), made);
    });
  }
}
