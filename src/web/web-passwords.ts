import type { Queryable } from '../db/pool.js';

/**
 * "User Must Change at Next Sign-In" for the web password (Change Password > Web Application).
 * WebCredentialService sets the hash; this flag lives beside it and the self-service page reads it.
 */
export async function setWebPasswordMustChange(db: Queryable, userId: number, mustChange: boolean): Promise<void> {
  await db.query('UPDATE web_passwords SET must_change = $2::boolean WHERE user_id = $1::bigint', [userId, mustChange]);
}

export async function webPasswordMustChange(db: Queryable, userId: number): Promise<boolean> {
  const { rows } = await db.query('SELECT must_change FROM web_passwords WHERE user_id = $1::bigint', [userId]);
  return rows[0]?.must_change === true;
}
