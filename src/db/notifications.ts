import type { Queryable } from './pool.js';

/** The pg-boss queue every user notification goes through; created by migrations/0006. */
export const NOTIFY_QUEUE = 'notify';

export interface NotificationFailure {
  id: number;
  at: Date;
  userId: number | null;
  extension: string | null;
  kind: string;
  channel: 'sms' | 'email';
  recipient: string;
  attempts: number;
  error: string;
}

export async function insertNotificationFailure(db: Queryable, failure: Omit<NotificationFailure, 'id' | 'at'>): Promise<void> {
  await db.query(
    `INSERT INTO notification_failures (user_id, extension, kind, channel, recipient, attempts, error)
     VALUES ($1::bigint, $2::text, $3::text, $4::text, $5::text, $6::int, $7::text)`,
    [failure.userId, failure.extension, failure.kind, failure.channel, failure.recipient, failure.attempts, failure.error],
  );
}

export async function listNotificationFailures(db: Queryable, limit: number, offset: number): Promise<NotificationFailure[]> {
  const { rows } = await db.query(
    `SELECT id, at, user_id, extension, kind, channel, recipient, attempts, error
       FROM notification_failures ORDER BY at DESC, id DESC LIMIT $1::int OFFSET $2::int`,
    [limit, offset],
  );
  return rows.map((r) => ({
    id: r.id as number,
    at: r.at as Date,
    userId: r.user_id as number | null,
    extension: r.extension as string | null,
    kind: r.kind as string,
    channel: r.channel as 'sms' | 'email',
    recipient: r.recipient as string,
    attempts: r.attempts as number,
    error: r.error as string,
  }));
}

/**
 * Claims the right to tell a user of an intruder lockout: true at most once an hour per user,
 * decided in the lockout's own transaction.
 */
export async function claimLockoutNotice(db: Queryable, userId: number): Promise<boolean> {
  const result = await db.query(
    `UPDATE pin_credentials SET lockout_notice_at = now()
      WHERE user_id = $1::bigint AND (lockout_notice_at IS NULL OR lockout_notice_at <= now() - interval '1 hour')`,
    [userId],
  );
  return result.rowCount === 1;
}

/**
 * Deletes a user's reset messages that are still waiting in the queue (pg-boss's job table;
 * pg-boss can delete jobs only by id): a newer PIN makes their PIN worthless, and it must never
 * arrive after the new one. A job being sent at this moment is deleted too, so it is not retried.
 * Returns how many were deleted.
 */
export async function deleteQueuedResets(db: Queryable, userId: number): Promise<number> {
  const result = await db.query(
    `DELETE FROM pgboss.job
      WHERE name = $1::text AND state < 'completed'
        AND data->>'userId' = $2::text AND data->'notice'->>'kind' = 'pin_reset'`,
    [NOTIFY_QUEUE, String(userId)],
  );
  return result.rowCount ?? 0;
}
