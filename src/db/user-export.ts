import type { Account } from '../accounts/model.js';
import type { AuthRule } from '../pin/rules.js';
import type { Queryable } from './pool.js';
import { RULE_COLUMNS, ruleFromRow } from './rules.js';

// Every account for `user export` (DESIGN §9, issue 21), read lean: a million rows go through here.
// Rows come as arrays, times as epoch milliseconds (a number, not a date string parsed per row),
// and the rules are read once and shared rather than joined into every row.

/** A time as whole epoch milliseconds: what `new Date(n)` takes, as pg's own parser would truncate it. */
const ms = (column: string) => `floor(extract(epoch FROM ${column}) * 1000)::int8`;

const EXPORT_SELECT = `SELECT u.id, u.extension, u.first_name, u.last_name, u.phone, u.email, u.locale, u.rule_id, u.response_wait, ${ms('u.created_at')},
  ${ms('c.changed_at')}, c.must_change, c.enrollment_pending, c.does_not_expire, c.locked_by_admin, c.cannot_change, c.failed_count,
  ${ms('c.last_failed_at')}, ${ms('c.locked_at')}, ${ms('c.temporary_since')}, ${ms('c.last_signin_at')}, ${ms('c.activity_since')},
  ${ms('c.inactive_locked_at')}, ${ms('c.deactivated_at')}
  FROM users u JOIN pin_credentials c ON c.user_id = u.id`;

/** Every rule by id: read once per export, in its snapshot. */
export async function rulesById(db: Queryable): Promise<Map<number, AuthRule>> {
  const { rows } = await db.query(`SELECT ${RULE_COLUMNS} FROM auth_rules r`);
  return new Map(rows.map((row) => [Number(row.id), ruleFromRow(row)]));
}

const time = (value: unknown): Date | null => (value === null ? null : new Date(value as number));

/**
 * Opens the cursor of every account in extension order, for fetchExportPage, in the caller's
 * transaction (it closes with it): one plan for the whole export, rather than a query planned
 * (and, on a big table, started with parallel workers) for every page.
 */
export async function declareExportCursor(db: Queryable): Promise<void> {
  // JIT compiling a plain scan costs more than it saves.
  await db.query(`SET LOCAL jit = off; DECLARE user_export NO SCROLL CURSOR FOR ${EXPORT_SELECT} ORDER BY u.extension`);
}

/** The next `limit` accounts of the cursor; fewer at the end. */
export async function fetchExportPage(db: Queryable, rules: ReadonlyMap<number, AuthRule>, limit: number): Promise<Account[]> {
  const { rows } = await db.query<unknown[]>({ text: `FETCH ${Math.trunc(limit)} FROM user_export`, rowMode: 'array' });
  return rows.map((r) => {
    const rule = rules.get(r[7] as number);
    if (!rule) throw new Error(`rule ${String(r[7])} of user ${String(r[0])} is not in the export's snapshot`);
    return {
      user: {
        id: r[0] as number,
        extension: r[1] as string,
        firstName: r[2] as string,
        lastName: r[3] as string,
        phone: r[4] as string | null,
        email: r[5] as string | null,
        locale: r[6] as string,
        ruleId: r[7] as number,
        responseWait: r[8] as number,
        createdAt: new Date(r[9] as number),
      },
      pin: {
        changedAt: new Date(r[10] as number),
        mustChange: r[11] as boolean,
        enrollmentPending: r[12] as boolean,
        doesNotExpire: r[13] as boolean,
        lockedByAdmin: r[14] as boolean,
        cannotChange: r[15] as boolean,
        failedCount: r[16] as number,
        lastFailedAt: time(r[17]),
        lockedAt: time(r[18]),
        temporarySince: time(r[19]),
        lastSigninAt: time(r[20]),
        activitySince: new Date(r[21] as number),
        inactiveLockedAt: time(r[22]),
        deactivatedAt: time(r[23]),
      },
      rule,
    };
  });
}
