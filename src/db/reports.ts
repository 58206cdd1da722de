import type { PinCredentialStatus, User } from '../accounts/model.js';
import type { AuditEventName } from '../audit/events.js';
import type { Channel } from '../audit/actor.js';
import type { AuthRule } from '../pin/rules.js';
import { withTransaction, type Pool, type Queryable } from './pool.js';
import { rulesById } from './rules.js';

// The reports' reads (DESIGN §9). Each report on PIN status is an exact SQL condition that
// mirrors pinStatus (src/pin/status.ts), the one definition of expiry, lockout and inactivity, so
// that a report's count and its first page are read by an index, never by deciding every user
// (test/accounts/reports.test.ts proves the count equal to pinStatus at every boundary). pinStatus
// reads times as a Date does, truncated to the millisecond, and now is a whole millisecond, so a
// condition on trunc(x) becomes one on x itself, which an index serves: trunc(x) <= T is
// x < T + 1 ms, and trunc(x) < T is x < T. Days are 86,400 s each, as in pinStatus, whatever the
// session's time zone.
const MS = `interval '1 millisecond'`;
const DAY_MS = 86_400_000;
const days = (column: string) => `make_interval(secs => ${column}::double precision * 86400)`;
const activity = 'GREATEST(c.last_signin_at, c.activity_since)';
// expiresAt = changed_at + max days, when the PIN expires at all.
const expires = `NOT c.does_not_expire AND r.max_days > 0`;
// Expired: now >= trunc(changed_at) + max days.
const expiredAt = `c.changed_at < $1::timestamptz - ${days('r.max_days')} + ${MS}`;
// The flags of each set that a partial index lists (migrations 0013 and 0014).
const EXPIRED_FLAGS = 'NOT c.does_not_expire AND NOT c.must_change AND c.temporary_since IS NULL';
const EXPIRING_FLAGS = 'NOT c.does_not_expire AND NOT c.must_change AND NOT c.enrollment_pending';

/** Which users each report on PIN status holds. */
export type ReportSet = 'expired' | 'expiring' | 'locked' | 'enrollment-pending' | 'inactive';

/** SQL on c alone with its parameters, numbered after the exact condition's. */
interface Part {
  where: string;
  values: unknown[];
}

/** from <= column < to, a null end unbounded; empty when to <= from. */
interface Range {
  from: number | null;
  to: number | null;
}

interface Condition {
  /** Exact, on c and r: $1 is now and, for the inactive set, $2 its days for a rule without an inactivity lock. */
  where: string;
  values(now: Date, defaultInactiveDays: number): unknown[];
  /**
   * For the count, from the rules (few): `certain`, the members every rule agrees on, counted from
   * pin_credentials alone by an index; `rest`, a superset of the other members, which an index
   * finds and the exact condition then decides with their rules. null: no such users.
   */
  split(now: number, rules: readonly AuthRule[], defaultInactiveDays: number): { certain: Range | null; rest: Range[] } | null;
  /** The column the ranges are on, and the flags every member has. */
  column: string;
  flags: string;
}

/** A condition on $1, now. */
const atNow = (where: string) => ({ where, values: (now: Date) => [now] });

const empty = (range: Range) => range.from !== null && range.to !== null && range.to <= range.from;
/** `outer` less `inner`, a range inside it: at most two ranges. */
function without(outer: Range, inner: Range | null): Range[] {
  if (inner === null) return empty(outer) ? [] : [outer];
  const pieces: Range[] = [];
  if (inner.from !== null) pieces.push({ from: outer.from, to: inner.from });
  if (inner.to !== null) pieces.push({ from: inner.to, to: outer.to });
  return pieces.filter((range) => !empty(range));
}

const min = (values: number[]) => Math.min(...values);
const max = (values: number[]) => Math.max(...values);

/** A set that is all flags: every member is certain. */
const whole = () => ({ certain: { from: null, to: null }, rest: [] });

const CONDITIONS: Record<ReportSet, Condition> = {
  expired: {
    ...atNow(`${expires} AND NOT c.must_change AND c.temporary_since IS NULL AND ${expiredAt}`),
    column: 'c.changed_at',
    flags: EXPIRED_FLAGS,
    // A member's changed_at < now - max days + 1 ms, under a rule whose PINs expire.
    split(now, rules) {
      const expiring = rules.filter((rule) => rule.maxDays > 0).map((rule) => rule.maxDays * DAY_MS);
      if (expiring.length === 0) return null;
      const any = { from: null, to: now - min(expiring) + 1 };
      const certain = expiring.length === rules.length ? { from: null, to: now - max(expiring) + 1 } : null;
      return { certain, rest: without(any, certain) };
    },
  },
  // Nothing due before the menu, not expired, and whole days left (rounded up) within the warning
  // days: trunc(changed_at) + max days - now <= warning days.
  expiring: {
    ...atNow(`${expires} AND NOT c.must_change AND NOT c.enrollment_pending AND NOT (${expiredAt})
    AND c.changed_at < $1::timestamptz - ${days('r.max_days')} + ${days('r.warning_days')} + ${MS}`),
    column: 'c.changed_at',
    flags: EXPIRING_FLAGS,
    // Under each rule whose PINs expire: now - max days + 1 ms <= changed_at < now - max days + warning days + 1 ms.
    split(now, rules) {
      const windows = rules.filter((rule) => rule.maxDays > 0).map((rule) => ({ from: now - rule.maxDays * DAY_MS + 1, to: now - (rule.maxDays - rule.warningDays) * DAY_MS + 1 }));
      if (windows.length === 0) return null;
      const any = { from: min(windows.map((w) => w.from)), to: max(windows.map((w) => w.to)) };
      const every = { from: max(windows.map((w) => w.from)), to: min(windows.map((w) => w.to)) };
      const certain = windows.length === rules.length && !empty(every) ? every : null;
      return { certain, rest: without(any, certain) };
    },
  },
  // The directory's deactivation, an administrator's lock, an intruder lockout still running
  // (now < trunc(locked_at) + lockout minutes), or the rule's inactivity lock (more than its days).
  locked: {
    ...atNow(`(c.deactivated_at IS NOT NULL OR c.locked_by_admin
    OR (c.locked_at IS NOT NULL AND (r.lockout_minutes IS NULL OR c.locked_at >= $1::timestamptz - make_interval(mins => r.lockout_minutes) + ${MS}))
    OR (r.inactive_days > 0 AND ${activity} < $1::timestamptz - ${days('r.inactive_days')}))`),
    column: '',
    flags: '',
    split: () => null,
  },
  'enrollment-pending': { where: 'c.enrollment_pending', values: () => [], column: '', flags: 'c.enrollment_pending', split: whole },
  // More than the rule's inactivity days since the last activity, or $2 days when the rule has none.
  inactive: {
    where: `${activity} < $1::timestamptz - ${days('CASE WHEN r.inactive_days > 0 THEN r.inactive_days ELSE $2::int END')}`,
    values: (now, defaultInactiveDays) => [now, defaultInactiveDays],
    column: activity,
    flags: 'true',
    split(now, rules, defaultInactiveDays) {
      const limits = rules.map((rule) => (rule.inactiveDays > 0 ? rule.inactiveDays : defaultInactiveDays) * DAY_MS);
      if (limits.length === 0) return null;
      const certain = { from: null, to: now - max(limits) };
      return { certain, rest: without({ from: null, to: now - min(limits) }, certain) };
    },
  },
};

/** Locked under any rule: the directory's deactivation or an administrator's lock. */
const LOCKED_CERTAIN = 'c.deactivated_at IS NOT NULL OR c.locked_by_admin';

const FROM = 'users u JOIN pin_credentials c ON c.user_id = u.id JOIN auth_rules r ON r.id = u.rule_id';

/** A range of a column as SQL, its bounds added to values. */
function inRange(column: string, range: Range, values: unknown[]): string {
  const parts = ['true'];
  const bound = (at: number) => {
    values.push(new Date(at));
    return `$${values.length}::timestamptz`;
  };
  if (range.from !== null) parts.push(`${column} >= ${bound(range.from)}`);
  if (range.to !== null) parts.push(`${column} < ${bound(range.to)}`);
  return parts.join(' AND ');
}

/**
 * The locked users that need their rule to decide, a superset on c alone (an intruder lockout, or
 * no activity for a rule's inactivity days), its bounds added to values: what the partial index of
 * intruder lockouts and the activity index find, without the users locked under any rule.
 */
function lockedByRuleGuard(now: Date, rules: readonly AuthRule[], values: unknown[]): string {
  const idle = rules.filter((rule) => rule.inactiveDays > 0).map((rule) => rule.inactiveDays * DAY_MS);
  const idleArm = idle.length > 0 ? ` OR ${inRange(activity, { from: null, to: now.getTime() - min(idle) }, values)}` : '';
  return `(c.locked_at IS NOT NULL${idleArm})`;
}

/** A superset of a set's members on c alone, which the indexes find, its bounds added to values; null: nobody. */
function guardOf(set: ReportSet, now: Date, rules: readonly AuthRule[], defaultInactiveDays: number, values: unknown[]): string | null {
  if (set === 'locked') return `(${LOCKED_CERTAIN} OR ${lockedByRuleGuard(now, rules, values)})`;
  const condition = CONDITIONS[set];
  const split = condition.split(now.getTime(), rules, defaultInactiveDays);
  if (split === null) return null;
  const ranges = [...(split.certain ? [split.certain] : []), ...split.rest];
  return `${condition.flags} AND (${ranges.map((range) => `(${inRange(condition.column, range, values)})`).join(' OR ')})`;
}

/** A user a report considers: who, their PIN's flags and status, and their rule. */
export interface ReportCandidate {
  user: Pick<User, 'id' | 'extension' | 'firstName' | 'lastName' | 'createdAt'>;
  pin: PinCredentialStatus;
  rule: AuthRule;
}

// A whole report may read every user, so a member is read lean. The rules are read once, and every
// number its PIN status needs travels in one text column of comma-separated integers: that costs
// far less to send and read than a dozen typed columns (about a quarter less time for 100,000 users;
// npm run bench:reports). Times are epoch milliseconds truncated like a Date read the usual way
// (Postgres keeps microseconds), so a candidate's status is the status anywhere else; '' is NULL.
const millis = (column: string) => `(date_part('epoch', date_trunc('milliseconds', ${column})) * 1000)::int8`;
const FLAGS = ['must_change', 'enrollment_pending', 'does_not_expire', 'locked_by_admin', 'cannot_change'] as const;
const TIMES = ['changed_at', 'last_failed_at', 'locked_at', 'temporary_since', 'last_signin_at', 'activity_since', 'inactive_locked_at', 'deactivated_at'] as const;
/** In the order candidateFromRow reads them: ids, creation, flags as bits (FLAGS order), failed count, then TIMES. */
const NUMBERS = [
  'u.id',
  'u.rule_id',
  millis('u.created_at'),
  FLAGS.map((flag, bit) => `(c.${flag}::int << ${bit})`).join(' | '),
  'c.failed_count',
  ...TIMES.map((column) => millis(`c.${column}`)),
];
export const CANDIDATE_COLUMNS = `u.extension, u.first_name, u.last_name, concat_ws(',', ${NUMBERS.map((n) => `coalesce((${n})::text, '')`).join(', ')})`;

const hasFlag = (flags: number, name: (typeof FLAGS)[number]) => (flags & (1 << FLAGS.indexOf(name))) !== 0;
/** The time at `index` of the packed numbers, or null: read field by field, as an export reads a million. */
const timeAt = (numbers: readonly string[], index: number) => {
  const text = numbers[index];
  return text === undefined || text === '' ? null : new Date(Number(text));
};
/** Where TIMES start among the packed numbers. */
const FIRST_TIME = NUMBERS.length - TIMES.length;
const timeOf = (numbers: readonly string[], column: (typeof TIMES)[number]) => timeAt(numbers, FIRST_TIME + TIMES.indexOf(column));

export function candidateFromRow(row: unknown[], rules: ReadonlyMap<number, AuthRule>): ReportCandidate {
  const [extension, firstName, lastName, packed] = row as [string, string, string, string];
  const numbers = packed.split(',');
  const [id, ruleId, createdAt, flags, failedCount] = numbers.slice(0, FIRST_TIME).map(Number) as [number, number, number, number, number];
  const changedAt = timeOf(numbers, 'changed_at');
  const activitySince = timeOf(numbers, 'activity_since');
  // The rules come from the same snapshot, and a user's rule cannot be deleted.
  const rule = rules.get(ruleId);
  if (!rule || !changedAt || !activitySince) throw new Error(`user ${id}: rule ${ruleId} or a required time is missing from the report's snapshot`);
  return {
    user: { id, extension, firstName, lastName, createdAt: new Date(createdAt) },
    pin: {
      changedAt,
      mustChange: hasFlag(flags, 'must_change'),
      enrollmentPending: hasFlag(flags, 'enrollment_pending'),
      doesNotExpire: hasFlag(flags, 'does_not_expire'),
      lockedByAdmin: hasFlag(flags, 'locked_by_admin'),
      cannotChange: hasFlag(flags, 'cannot_change'),
      failedCount,
      lastFailedAt: timeOf(numbers, 'last_failed_at'),
      lockedAt: timeOf(numbers, 'locked_at'),
      temporarySince: timeOf(numbers, 'temporary_since'),
      lastSigninAt: timeOf(numbers, 'last_signin_at'),
      activitySince,
      inactiveLockedAt: timeOf(numbers, 'inactive_locked_at'),
      deactivatedAt: timeOf(numbers, 'deactivated_at'),
    },
    rule,
  };
}

/** Rows fetched at a time: a whole report never holds them all, so they die young. */
const BATCH = 5000;

/**
 * How many users one report on PIN status holds at now, in one snapshot: those every rule agrees on
 * from an index of pin_credentials alone, and the rest decided with their rules, never every user.
 */
export async function countReportMembers(pool: Pool, set: ReportSet, now: Date, defaultInactiveDays: number): Promise<number> {
  const condition = CONDITIONS[set];
  return withTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const rules = [...(await rulesById(client)).values()];
    if (set === 'locked') {
      // Deactivated or locked by an administrator, under any rule; the others need their rule.
      const values = condition.values(now, defaultInactiveDays);
      const { rows } = await client.query(
        `SELECT (SELECT count(*) FROM pin_credentials c WHERE ${LOCKED_CERTAIN})
              + (SELECT count(*) FROM ${FROM} WHERE NOT (${LOCKED_CERTAIN}) AND ${lockedByRuleGuard(now, rules, values)} AND ${condition.where}) AS n`,
        values,
      );
      return Number(rows[0].n);
    }
    const split = condition.split(now.getTime(), rules, defaultInactiveDays);
    if (split === null) return 0;
    let n = 0;
    if (split.certain) {
      const values: unknown[] = [];
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM pin_credentials c WHERE ${condition.flags} AND ${inRange(condition.column, split.certain, values)}`, values);
      n += rows[0].n as number;
    }
    if (split.rest.length > 0) {
      const values = condition.values(now, defaultInactiveDays);
      const ranges = split.rest.map((range) => `(${inRange(condition.column, range, values)})`).join(' OR ');
      const { rows } = await client.query(`SELECT count(*)::int AS n FROM ${FROM} WHERE ${condition.flags} AND (${ranges}) AND ${condition.where}`, values);
      n += rows[0].n as number;
    }
    return n;
  });
}

/** One page of a set's members by extension, its parameters added to values; null: nobody. */
function pageQuery(set: ReportSet, now: Date, rules: readonly AuthRule[], defaultInactiveDays: number, page: { offset: number; limit: number }, values: unknown[]): string | null {
  const { where } = CONDITIONS[set];
  const limit = () => {
    values.push(page.limit, page.offset);
    return `LIMIT $${values.length - 1}::int OFFSET $${values.length}::int`;
  };
  if (set === 'locked') {
    // Few users are locked, spread over every extension. Their page is found by walking the users
    // in extension order in the unique index alone (it holds the id), keeping the members: those
    // locked under any rule, from their partial index, and the few others, decided with their
    // rules. An OR keeps both sets hashed subplans, so the walk stops at the page's end, rather
    // than reading every locked user's rows to sort them all.
    const byRule = lockedByRuleGuard(now, rules, values);
    return `SELECT ${CANDIDATE_COLUMNS} FROM ${FROM} WHERE u.id IN (
              SELECT p.id FROM users p
               WHERE p.id IN (SELECT c.user_id FROM pin_credentials c WHERE ${LOCKED_CERTAIN})
                  OR p.id IN (SELECT c.user_id FROM ${FROM} WHERE NOT (${LOCKED_CERTAIN}) AND ${byRule} AND ${where})
               ORDER BY p.extension ${limit()})
            ORDER BY u.extension`;
  }
  const guard = guardOf(set, now, rules, defaultInactiveDays, values);
  // Extensions are digits, so every collation orders them alike, and the unique index serves it.
  // The guard, a superset on pin_credentials alone, lets the planner start from an index of it.
  return guard === null ? null : `SELECT ${CANDIDATE_COLUMNS} FROM ${FROM} WHERE ${guard} AND ${where} ORDER BY u.extension ${limit()}`;
}

/**
 * Calls visit with each member of one report on PIN status, by extension, from one snapshot of
 * users and rules: all of them through a cursor in batches, or only the range (a page).
 */
export async function eachReportMember(
  pool: Pool,
  set: ReportSet,
  now: Date,
  defaultInactiveDays: number,
  range: { offset: number; limit: number } | null,
  visit: (members: ReportCandidate[]) => void | Promise<void>,
): Promise<void> {
  const { where, values } = CONDITIONS[set];
  const params = values(now, defaultInactiveDays);
  await withTransaction(pool, async (client) => {
    await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY');
    const rules = await rulesById(client);
    if (range) {
      const text = pageQuery(set, now, [...rules.values()], defaultInactiveDays, range, params);
      if (text === null) return visit([]);
      const { rows } = await client.query<unknown[]>({ text, values: params, rowMode: 'array' });
      await visit(rows.map((row) => candidateFromRow(row, rules)));
      return;
    }
    const guard = guardOf(set, now, [...rules.values()], defaultInactiveDays, params);
    if (guard === null) return visit([]);
    const select = `SELECT ${CANDIDATE_COLUMNS} FROM ${FROM} WHERE ${guard} AND ${where} ORDER BY u.extension`;
    await client.query(`DECLARE report_members NO SCROLL CURSOR FOR ${select}`, params);
    for (;;) {
      const { rows } = await client.query<unknown[]>({ text: `FETCH ${BATCH} FROM report_members`, rowMode: 'array' });
      await visit(rows.map((row) => candidateFromRow(row, rules)));
      if (rows.length < BATCH) return;
    }
  });
}

export interface EventCount {
  userId: number;
  extension: string;
  firstName: string;
  lastName: string;
  count: number;
}

/**
 * Users with events of one kind on one channel in (since, until], most first, then by extension.
 * Events of deleted users (user_id NULL) and unknown IDs are left out.
 */
export async function countUserEvents(
  db: Queryable,
  filter: { event: AuditEventName; channel: Channel; since: Date; until: Date },
): Promise<EventCount[]> {
  // The (event, at DESC) index finds the window's rows; only those are grouped.
  const { rows } = await db.query(
    `SELECT u.id AS user_id, u.extension, u.first_name, u.last_name, e.n
       FROM (SELECT user_id, count(*)::int AS n FROM audit_events
              WHERE event = $1::text AND at > $3::timestamptz AND at <= $4::timestamptz
                AND channel = $2::text AND user_id IS NOT NULL
              GROUP BY user_id) e
       JOIN users u ON u.id = e.user_id
      ORDER BY e.n DESC, u.extension COLLATE "C"`,
    [filter.event, filter.channel, filter.since, filter.until],
  );
  return rows.map((row) => ({
    userId: row.user_id as number,
    extension: row.extension as string,
    firstName: row.first_name as string,
    lastName: row.last_name as string,
    count: row.n as number,
  }));
}
