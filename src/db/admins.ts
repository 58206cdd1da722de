import type { Role } from '../accounts/roles.js';
import type { Queryable } from './pool.js';

/** An administrator of the web pages, without the password hash. */
export interface Admin {
  id: number;
  username: string;
  /** What they may do (DESIGN §11), read again on every page. */
  role: Role;
  createdAt: Date;
  /** Sessions signed in before this are over (a reset ends them). */
  passwordChangedAt: Date;
}

const ADMIN_COLUMNS = 'id, username, role, created_at, password_changed_at';

function adminFromRow(row: Record<string, unknown>): Admin {
  return {
    id: row.id as number,
    username: row.username as string,
    role: row.role as Role,
    createdAt: row.created_at as Date,
    passwordChangedAt: row.password_changed_at as Date,
  };
}

/** Whether any administrator exists: none yet on a new installation. */
export async function anyAdmin(db: Queryable): Promise<boolean> {
  const { rows } = await db.query('SELECT EXISTS (SELECT 1 FROM admins) AS any');
  return rows[0]?.any === true;
}

export async function insertAdmin(db: Queryable, username: string, passwordHash: string, role: Role): Promise<Admin> {
  const { rows } = await db.query(
    `INSERT INTO admins (username, password_hash, role) VALUES ($1::text, $2::text, $3::text) RETURNING ${ADMIN_COLUMNS}`,
    [username, passwordHash, role],
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

/** Every administrator, by username (`pinline admin list`). */
export async function listAdmins(db: Queryable): Promise<Admin[]> {
  const { rows } = await db.query(`SELECT ${ADMIN_COLUMNS} FROM admins ORDER BY username`);
  return rows.map(adminFromRow);
}

/** Sets the role; returns the administrator with the role they had before, or null when there is none by that name. */
export async function updateAdminRole(db: Queryable, username: string, role: Role): Promise<{ admin: Admin; previous: Role } | null> {
  const { rows } = await db.query(
    `UPDATE admins a SET role = $2::text FROM (SELECT id, role FROM admins WHERE username = $1::text FOR UPDATE) old
      WHERE a.id = old.id RETURNING a.id, a.username, a.role, a.created_at, a.password_changed_at, old.role AS previous`,
    [username, role],
  );
  return rows[0] ? { admin: adminFromRow(rows[0]), previous: rows[0].previous as Role } : null;
}

/** Deletes the administrator; returns them, or null when there is none by that name. */
export async function deleteAdmin(db: Queryable, username: string): Promise<Admin | null> {
  const { rows } = await db.query(`DELETE FROM admins WHERE username = $1::text RETURNING ${ADMIN_COLUMNS}`, [username]);
  return rows[0] ? adminFromRow(rows[0]) : null;
}
