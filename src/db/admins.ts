import type { Queryable } from './pool.js';

/** An administrator of the web pages, without the password hash. */
export interface Admin {
  id: number;
  username: string;
  createdAt: Date;
  /** Sessions signed in before this are over (a reset ends them). */
  passwordChangedAt: Date;
}

const ADMIN_COLUMNS = 'id, username, created_at, password_changed_at';

function adminFromRow(row: Record<string, unknown>): Admin {
  return {
    id: row.id as number,
    username: row.username as string,
    createdAt: row.created_at as Date,
    passwordChangedAt: row.password_changed_at as Date,
  };
}

/** Whether any administrator exists: none yet on a new installation. */
export async function anyAdmin(db: Queryable): Promise<boolean> {
  const { rows } = await db.query('SELECT EXISTS (SELECT 1 FROM admins) AS any');
  return rows[0]?.any === true;
}

export async function insertAdmin(db: Queryable, username: string, passwordHash: string): Promise<Admin> {
  const { rows } = await db.query(
    `INSERT INTO admins (username, password_hash) VALUES ($1::text, $2::text) RETURNING ${ADMIN_COLUMNS}`,
    [username, passwordHash],
  );
  return adminFromRow(rows[0]);
}

export async function findAdminWithHash(db: Queryable, username: string): Promise<{ admin: Admin; passwordHash: string } | null> {
  const { rows } = await db.query(`SELECT ${ADMIN_COLUMNS}, password_hash FROM admins WHERE username = $1::text`, [username]);
  return rows[0] ? { admin: adminFromRow(rows[0]), passwordHash: rows[0].password_hash as string } : null;
}

export async function findAdminById(db: Queryable, id: number): Promise<Admin | null> {
  const { rows } = await db.query(`SELECT ${ADMIN_COLUMNS} FROM admins WHERE id = $1::bigint`, [id]);
  return rows[0] ? adminFromRow(rows[0]) : null;
}

/** Replaces the password hash; returns the administrator, or null when there is none by that name. */
export async function updateAdminPassword(db: Queryable, username: string, passwordHash: string): Promise<Admin | null> {
  const { rows } = await db.query(
    `UPDATE admins SET password_hash = $2::text, password_changed_at = clock_timestamp() WHERE username = $1::text
     RETURNING ${ADMIN_COLUMNS}`,
    [username, passwordHash],
  );
  return rows[0] ? adminFromRow(rows[0]) : null;
}

/**
 * Replaces the hash with one of the same password under the current pepper or parameters; nothing
 * else moves (not password_changed_at, which ends sessions). Only if the hash is still the one verified.
 */
export async function rehashAdminPassword(db: Queryable, adminId: number, verifiedHash: string, newHash: string): Promise<void> {
  await db.query('UPDATE admins SET password_hash = $3::text WHERE id = $1::bigint AND password_hash = $2::text', [adminId, verifiedHash, newHash]);
}
