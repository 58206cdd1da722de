import { PIN_FLAGS, type PinFlags } from '../accounts/model.js';
import { auditInsert, type AuditInput } from './audit.js';
import type { Queryable } from './pool.js';

// pin_credentials and pin_history: the PIN hash, its flags and status, and the hashes it replaced.

function columnOf(flag: keyof PinFlags): string {
  return flag.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/**
 * `temporary`: the PIN is one nobody chose, so its temporary lifetime starts now. `untold`: no
 * one was told it either (a bulk import's or SCIM's new user), until a new PIN replaces it.
 */
export async function insertPinCredential(
  db: Queryable,
  userId: number,
  pinHash: string,
  flags: Partial<PinFlags>,
  temporary: boolean,
  untold = false,
): Promise<void> {
  await db.query(
    `INSERT INTO pin_credentials (user_id, pin_hash, temporary_since, untold, ${PIN_FLAGS.map(columnOf).join(', ')})
     VALUES ($1::bigint, $2::text, CASE WHEN $3::boolean THEN now() END, $4::boolean, ${PIN_FLAGS.map((_f, i) => `$${i + 5}::boolean`).join(', ')})`,
    [userId, pinHash, temporary, untold, ...PIN_FLAGS.map((f) => flags[f] ?? (f === 'enrollmentPending'))],
  );
}

/** True while the user's PIN is still the one no one was told (DESIGN §9, §11). */
export async function isPinUntold(db: Queryable, userId: number): Promise<boolean> {
  const { rows } = await db.query('SELECT untold FROM pin_credentials WHERE user_id = $1::bigint', [userId]);
  return rows[0]?.untold === true;
}

/**
 * Sets or clears "deactivated by the directory" (DESIGN §11); false when it already stood so.
 * Deactivating moves the credential version, so no call signed in before it regains its
 * authority after a reactivation; reactivating restarts the inactivity clock, as an unlock does.
 */
export async function setDeactivated(db: Queryable, userId: number, deactivated: boolean): Promise<boolean> {
  const result = deactivated
    ? await db.query(
        'UPDATE pin_credentials SET deactivated_at = now(), version = version + 1 WHERE user_id = $1::bigint AND deactivated_at IS NULL',
        [userId],
      )
    : await db.query(
        'UPDATE pin_credentials SET deactivated_at = NULL, activity_since = now(), inactive_locked_at = NULL WHERE user_id = $1::bigint AND deactivated_at IS NOT NULL',
        [userId],
      );
  return result.rowCount === 1;
}

/**
 * The SET list for the given flags, their parameters numbered from `first`. Unless the statement
 * moves the credential version itself, a change of "must change" moves it (the expression reads
 * the row as it was).
 */
function flagAssignments(flags: Partial<PinFlags>, first: number, versionMoved = false): { assignments: string[]; values: boolean[] } {
  const keys = PIN_FLAGS.filter((k) => flags[k] !== undefined);
  const assignments = keys.map((k, i) => `${columnOf(k)} = $${first + i}::boolean`);
  const mustChange = keys.indexOf('mustChange');
  if (mustChange >= 0 && !versionMoved) {
    assignments.push(`version = version + (must_change IS DISTINCT FROM $${first + mustChange}::boolean)::int`);
  }
  return { assignments, values: keys.map((k) => flags[k] as boolean) };
}

export async function updatePinFlags(db: Queryable, userId: number, flags: Partial<PinFlags>): Promise<void> {
  const { assignments, values } = flagAssignments(flags, 2);
  if (assignments.length === 0) return;
  await db.query(`UPDATE pin_credentials SET ${assignments.join(', ')} WHERE user_id = $1::bigint`, [userId, ...values]);
}

/** Recent PIN hashes, newest first. */
export async function pinHistory(db: Queryable, userId: number, limit: number): Promise<string[]> {
  if (limit <= 0) return [];
  const { rows } = await db.query(
    'SELECT pin_hash FROM pin_history WHERE user_id = $1::bigint ORDER BY retired_at DESC, id DESC LIMIT $2::int',
    [userId, limit],
  );
  return rows.map((r) => r.pin_hash as string);
}

export interface Replacement {
  /** How many previous hashes to keep. */
  keep: number;
  flags: Partial<PinFlags>;
  /** A PIN nobody chose (a reset, a generated one): its temporary lifetime starts now. */
  temporary: boolean;
  /** A reset also ends an intruder lockout. */
  clearLockout: boolean;
}

/**
 * Replaces the PIN hash, moving the old one into the history (trimmed to `keep` entries),
 * resetting the failed-sign-in count and setting the flags. A new hash is a new credential: its
 * version moves, and comes back.
 */
export async function replacePinHash(db: Queryable, userId: number, oldHash: string, newHash: string, replacement: Replacement): Promise<number> {
  const { keep, flags } = replacement;
  if (keep > 0) {
    await db.query('INSERT INTO pin_history (user_id, pin_hash) VALUES ($1::bigint, $2::text)', [userId, oldHash]);
  }
  await db.query(
    `DELETE FROM pin_history WHERE user_id = $1::bigint AND id NOT IN (
       SELECT id FROM pin_history WHERE user_id = $1::bigint ORDER BY retired_at DESC, id DESC LIMIT $2::int)`,
    [userId, keep],
  );
  const { assignments, values } = flagAssignments(flags, 5, true);
  const { rows } = await db.query(
    `UPDATE pin_credentials SET pin_hash = $2::text, changed_at = now(), failed_count = 0, last_failed_at = NULL,
            temporary_since = CASE WHEN $3::boolean THEN now() END,
            locked_at = CASE WHEN $4::boolean THEN NULL ELSE locked_at END,
            activity_since = now(), inactive_locked_at = NULL, version = version + 1, untold = false
            ${assignments.map((a) => `, ${a}`).join('')}
      WHERE user_id = $1::bigint
      RETURNING version`,
    [userId, newHash, replacement.temporary, replacement.clearLockout, ...values],
  );
  return rows[0].version as number;
}

/**
 * After a right PIN: the sign-in recorded as the user's last activity, failures forgotten, an
 * intruder lockout over, and an upgraded hash if one was made (the same PIN re-hashed: the
 * credential version stays). Written with its audit row in one statement, so recording the last
 * sign-in costs the sign-in transaction no extra round-trip.
 */
export async function recordSigninSuccess(
  db: Queryable,
  signin: { userId: number; at: Date; upgradedHash: string | null; audit: AuditInput },
): Promise<void> {
  const insert = auditInsert(signin.audit, 4);
  await db.query(
    `WITH signed_in AS (
       UPDATE pin_credentials SET last_signin_at = $2::timestamptz, failed_count = 0, locked_at = NULL,
              inactive_locked_at = NULL, pin_hash = COALESCE($3::text, pin_hash)
        WHERE user_id = $1::bigint)
     ${insert.text}`,
    [signin.userId, signin.at, signin.upgradedHash, ...insert.values],
  );
}

/** A web sign-in (/me): only the last activity. */
export async function recordWebSignin(db: Queryable, userId: number, at: Date): Promise<void> {
  await db.query('UPDATE pin_credentials SET last_signin_at = $2::timestamptz, inactive_locked_at = NULL WHERE user_id = $1::bigint', [userId, at]);
}

/** Marks an inactivity lock's first refusal; false when it was marked before (so it is audited once). */
export async function markInactiveLock(db: Queryable, userId: number, at: Date): Promise<boolean> {
  const result = await db.query(
    'UPDATE pin_credentials SET inactive_locked_at = $2::timestamptz WHERE user_id = $1::bigint AND inactive_locked_at IS NULL',
    [userId, at],
  );
  return result.rowCount === 1;
}

/** After a wrong PIN: the new failure count, and the lockout when it reached the threshold. */
export async function recordSigninFailure(db: Queryable, userId: number, failedCount: number, at: Date, lockNow: boolean): Promise<void> {
  await db.query(
    `UPDATE pin_credentials SET failed_count = $2::int, last_failed_at = $3::timestamptz,
            locked_at = CASE WHEN $4::boolean THEN $3::timestamptz ELSE NULL END
      WHERE user_id = $1::bigint`,
    [userId, failedCount, at, lockNow],
  );
}

/** Clears an administrator's lock, an intruder lockout, an inactivity lock (its clock starts again) and the failed count. */
export async function clearLocks(db: Queryable, userId: number): Promise<void> {
  await db.query(
    `UPDATE pin_credentials SET locked_by_admin = false, locked_at = NULL, failed_count = 0,
            activity_since = now(), inactive_locked_at = NULL
      WHERE user_id = $1::bigint`,
    [userId],
  );
}
