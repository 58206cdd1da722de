import { countUserEvents, eachReportCandidate, type CandidateSet, type ReportCandidate } from '../db/reports.js';
import type { Pool } from '../db/pool.js';
import { NotFoundError } from '../errors.js';
import { INACTIVE_REPORT_DEFAULT_DAYS, pinStatus, type PinStatus } from '../pin/status.js';
import { presentPinStatus, type Phrase } from './present.js';

// The reports of DESIGN §9. Whether a user is in a report on PIN status is decided here, in
// TypeScript, by pinStatus, the same definition the phone, the pages and the API use. The SQL
// (src/db/reports.ts) only narrows the candidates with a generous superset, so that 100,000 users
// are not all read; see the comment there.

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
  /** The report's rows at `now`, in their order. */
  evaluate(pool: Pool, now: Date): Promise<ReportRow[]>;
}

export interface ReportResult {
  report: Report;
  /** When the report was made: the time its definitions were judged at. */
  now: Date;
  rows: ReportRow[];
}

/** The failed-signins report's window: the last 24 hours before now. */
const FAILED_SIGNIN_WINDOW_MS = 24 * 60 * 60_000;

/** A report on PIN status: its candidates from the database, each decided by pinStatus. */
function statusReport(
  definition: Omit<Report, 'evaluate'>,
  candidates: CandidateSet,
  includes: (candidate: ReportCandidate, status: PinStatus) => boolean,
  fact: (candidate: ReportCandidate, status: PinStatus, now: Date) => Phrase,
): Report {
  return {
    ...definition,
    async evaluate(pool, now) {
      const rows: ReportRow[] = [];
      await eachReportCandidate(pool, candidates, now, INACTIVE_REPORT_DEFAULT_DAYS, (candidate) => {
        const status = pinStatus(candidate.pin, candidate.rule, now);
        if (!includes(candidate, status)) return;
        const { user } = candidate;
        rows.push({ userId: user.id, extension: user.extension, firstName: user.firstName, lastName: user.lastName, fact: fact(candidate, status, now) });
      });
      return rows;
    },
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
    async evaluate(pool, now) {
      const counts = await countUserEvents(pool, {
        event: 'signin.failed',
        channel: 'phone',
        since: new Date(now.getTime() - FAILED_SIGNIN_WINDOW_MS),
        until: now,
      });
      return counts.map(({ count, ...user }) => ({ ...user, fact: [String(count)] }));
    },
  },
];

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

  async run(name: string): Promise<ReportResult> {
    const report = this.find(name);
    const now = this.clock();
    return { report, now, rows: await report.evaluate(this.pool, now) };
  }

  /** Every report, at one time. */
  async runAll(): Promise<ReportResult[]> {
    const now = this.clock();
    return Promise.all(REPORTS.map(async (report) => ({ report, now, rows: await report.evaluate(this.pool, now) })));
  }
}
