import type { Queryable } from './pool.js';

/** A user's self-service web password, without the hash. */
export interface WebPasswordState {
  mustChange: boolean;
  /** Sessions signed in before this are over, except the one that made the change. */
  changedAt: Date;
}

/** Sets the password hash and its "must change" flag; returns when it was set. */
export async function upsertWebPassword(db: Queryable, userId: number, passwordHash: string, mustChange: boolean): Promise<Date> {
  const { rows } = await db.query(
    `INSERT INTO web_passwords (user_id, password_hash, must_change, changed_at)
     VALUES ($1::bigint, $2::text, $3::boolean, clock_timestamp())
     ON CONFLICT (user_id) DO UPDATE
       SET password_hash = EXCLUDED.password_hash, must_change = EXCLUDED.must_change, changed_at = EXCLUDED.changed_at
     RETURNING changed_at`,
    [userId, passwordHash, mustChange],
  );
  return rows[0].changed_at as Date;
}

export async function findWebPasswordState(db: Queryable, userId: number): Promise<WebPasswordState | null> {
  const { rows } = await db.query('SELECT must_change, changed_at FROM web_passwords WHERE user_id = $1::bigint', [userId]);
  return rows[0] ? { mustChange: rows[0].must_change as boolean, changedAt: rows[0].changed_at as Date } : null;
}

/** The user id and web password hash for an extension, or null when the user has no web password. */
export async function findWebPasswordHash(db: Queryable, extension: string): Promise<{ userId: number; passwordHash: string } | null> {
  const { rows } = await db.query(
    `SELECT u.id, w.password_hash FROM users u JOIN web_passwords w ON w.user_id = u.id WHERE u.extension = $1::text`,
    [extension],
  );
  return rows[0] ? { userId: rows[0].id as number, passwordHash: rows[0].password_hash as string } : null;
}

/**
 * Replaces the hash with one of the same password under the current pepper or parameters; nothing
 * else moves (not changed_at, which ends sessions). Only if the hash is still the one verified.
 */
export async function rehashWebPassword(db: Queryable, userId: number, verifiedHash: string, newHash: string): Promise<void> {
  await db.query('UPDATE web_passwords SET password_hash = $3::text WHERE user_id = $1::bigint AND password_hash = $2::text', [
    userId,
    verifiedHash,
    newHash,
  ]);
}
