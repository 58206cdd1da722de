import type { Queryable } from './pool.js';

export interface WindowHits {
  hits: number;
  resetAt: Date;
}

/**
 * Counts one hit for `key` in one statement: a new window starts when the stored one has ended.
 * Atomic across instances, so exactly one request sees each count.
 */
export async function incrementHits(db: Queryable, key: string, windowMs: number): Promise<WindowHits> {
  const { rows } = await db.query(
    `INSERT INTO rate_limit_counters AS c (key, hits, reset_at)
     VALUES ($1::text, 1, clock_timestamp() + $2::int * interval '1 millisecond')
     ON CONFLICT (key) DO UPDATE SET
       hits = CASE WHEN c.reset_at <= clock_timestamp() THEN 1 ELSE c.hits + 1 END,
       reset_at = CASE WHEN c.reset_at <= clock_timestamp() THEN EXCLUDED.reset_at ELSE c.reset_at END
     RETURNING hits, reset_at`,
    [key, windowMs],
  );
  return { hits: rows[0].hits as number, resetAt: rows[0].reset_at as Date };
}

/** Takes back one hit of the current window (a request that turned out not to count). */
export async function decrementHits(db: Queryable, key: string): Promise<void> {
  await db.query(
    `UPDATE rate_limit_counters SET hits = greatest(hits - 1, 0) WHERE key = $1::text AND reset_at > clock_timestamp()`,
    [key],
  );
}

export async function findHits(db: Queryable, key: string): Promise<WindowHits | null> {
  const { rows } = await db.query(
    `SELECT hits, reset_at FROM rate_limit_counters WHERE key = $1::text AND reset_at > clock_timestamp()`,
    [key],
  );
  return rows[0] ? { hits: rows[0].hits as number, resetAt: rows[0].reset_at as Date } : null;
}

export async function deleteHits(db: Queryable, key: string): Promise<void> {
  await db.query('DELETE FROM rate_limit_counters WHERE key = $1::text', [key]);
}

/** Forgets windows that have ended, so the table holds only live counters. */
export async function deleteEndedWindows(db: Queryable): Promise<void> {
  await db.query('DELETE FROM rate_limit_counters WHERE reset_at <= clock_timestamp()');
}
