import type { Queryable } from './pool.js';

// The web_sessions rows are connect-pg-simple's: `sess` is the JSON express-session saves, with
// the signed-in `user` or `admin` as the session module stores them.

/** Ends a user's self-service sessions, except `keepSid` (the session that made the change). */
export async function endUserSessions(db: Queryable, userId: number, keepSid: string | null = null): Promise<number> {
  const result = await db.query(
    `DELETE FROM web_sessions WHERE sess -> 'user' ->> 'id' = $1::text AND ($2::text IS NULL OR sid <> $2::text)`,
    [String(userId), keepSid],
  );
  return result.rowCount ?? 0;
}

/** Ends every session of an administrator. */
export async function endAdminSessions(db: Queryable, adminId: number): Promise<number> {
  const result = await db.query(`DELETE FROM web_sessions WHERE sess -> 'admin' ->> 'id' = $1::text`, [String(adminId)]);
  return result.rowCount ?? 0;
}
