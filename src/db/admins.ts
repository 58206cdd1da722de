import type { Role } from '../accounts/roles.js';
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
  // Only a local administrator has a password; one who signs in through the identity provider has none.
  const { rows } = await db.query(`SELECT ${ADMIN_COLUMNS}, password_hash FROM admins WHERE username = $1::text AND source = 'local'`, [
    username,
  ]);
  return rows[0] ? { admin: adminFromRow(rows[0]), passwordHash: rows[0].password_hash as string } : null;
}

export async function findAdminById(db: Queryable, id: number): Promise<Admin | null> {
  const { rows } = await db.query(`SELECT ${ADMIN_COLUMNS} FROM admins WHERE id = $1::bigint`, [id]);
  return rows[0] ? adminFromRow(rows[0]) : null;
}

/** Replaces the password hash; returns the administrator, or null when no local administrator has that name. */
export async function updateAdminPassword(db: Queryable, username: string, passwordHash: string): Promise<Admin | null> {
  const { rows } = await db.query(
    `UPDATE admins SET password_hash = $2::text, password_changed_at = clock_timestamp() WHERE username = $1::text AND source = 'local'
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

/** Where an administrator signs in: a local password, or the organisation's identity provider (DESIGN §11). */
type AdminSource = 'local' | 'oidc';

/** An administrator as `admin list` shows them. */
export interface AdminListing {
  username: string;
  role: Role;
  source: AdminSource;
  createdAt: Date;
}

/** Where the administrator of that name signs in, or null when there is none. */
export async function findAdminSource(db: Queryable, username: string): Promise<AdminSource | null> {
  const { rows } = await db.query('SELECT source FROM admins WHERE username = $1::text', [username]);
  return (rows[0]?.source as AdminSource | undefined) ?? null;
}

/** Every administrator, by username. */
export async function listAdmins(db: Queryable): Promise<AdminListing[]> {
  const { rows } = await db.query('SELECT username, role, source, created_at FROM admins ORDER BY username');
  return rows.map((row: Record<string, unknown>) => ({
    username: row.username as string,
    role: row.role as Role,
    source: row.source as AdminSource,
    createdAt: row.created_at as Date,
  }));
}

/**
 * The administrator the identity provider vouched for, made at their first sign-in and given the
 * name and role of this sign-in at every later one. Throws a unique violation (on `username`)
 * when another administrator already has the name.
 */
export async function upsertOidcAdmin(
  db: Queryable,
  identity: { issuer: string; subject: string; username: string; role: Role },
): Promise<{ admin: Admin; created: boolean; previousRole: Role | null }> {
  const { rows } = await db.query(
    `WITH previous AS (SELECT role FROM admins WHERE oidc_issuer = $1::text AND oidc_subject = $2::text)
     INSERT INTO admins (source, oidc_issuer, oidc_subject, username, role) VALUES ('oidc', $1::text, $2::text, $3::text, $4::text)
     ON CONFLICT (oidc_issuer, oidc_subject) DO UPDATE SET username = EXCLUDED.username, role = EXCLUDED.role
     RETURNING ${ADMIN_COLUMNS}, (xmax = 0) AS created, (SELECT role FROM previous) AS previous_role`,
    [identity.issuer, identity.subject, identity.username, identity.role],
  );
  const row = rows[0];
  return { admin: adminFromRow(row), created: row.created === true, previousRole: (row.previous_role as Role | null) ?? null };
}
