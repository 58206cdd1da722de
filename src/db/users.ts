import { RULE_COLUMNS, ruleFromRow, type AuthRule } from './rules.js';
import type { PoolClient, Queryable } from './pool.js';

/** The same shapes as the users table's CHECK constraints. */
export const EXTENSION_PATTERN = /^[0-9]{2,15}$/;
export const E164_PATTERN = /^\+[1-9][0-9]{1,14}$/;

export interface User {
  id: number;
  extension: string;
  firstName: string;
  lastName: string;
  phone: string | null;
  locale: string;
  ruleId: number;
  createdAt: Date;
}

/** The per-user PIN flags and status of DESIGN §2. Never carries the hash. */
export interface PinCredentialStatus {
  changedAt: Date;
  mustChange: boolean;
  enrollmentPending: boolean;
  doesNotExpire: boolean;
  lockedByAdmin: boolean;
  cannotChange: boolean;
  failedCount: number;
  lastFailedAt: Date | null;
  lockedAt: Date | null;
}

export type PinFlags = Pick<PinCredentialStatus, 'mustChange' | 'enrollmentPending' | 'doesNotExpire' | 'lockedByAdmin' | 'cannotChange'>;

export const PIN_FLAG_COLUMNS: Readonly<Record<keyof PinFlags, string>> = {
  mustChange: 'must_change',
  enrollmentPending: 'enrollment_pending',
  doesNotExpire: 'does_not_expire',
  lockedByAdmin: 'locked_by_admin',
  cannotChange: 'cannot_change',
};

/** A user with PIN status and rule: what every channel needs to show or decide. */
export interface Account {
  user: User;
  pin: PinCredentialStatus;
  rule: AuthRule;
}

/** The same plus the PIN hash, only for the sign-in and change paths. */
export interface AccountWithHash extends Account {
  pinHash: string;
}

const ACCOUNT_SELECT = `
  u.id AS user_id, u.extension, u.first_name, u.last_name, u.phone, u.locale, u.rule_id, u.created_at AS user_created_at,
  c.changed_at, c.must_change, c.enrollment_pending, c.does_not_expire, c.locked_by_admin, c.cannot_change,
  c.failed_count, c.last_failed_at, c.locked_at, c.pin_hash,
  ${RULE_COLUMNS}
  FROM users u
  JOIN pin_credentials c ON c.user_id = u.id
  JOIN auth_rules r ON r.id = u.rule_id`;

export function userFromRow(row: Record<string, unknown>): User {
  return {
    id: row.user_id as number,
    extension: row.extension as string,
    firstName: row.first_name as string,
    lastName: row.last_name as string,
    phone: row.phone as string | null,
    locale: row.locale as string,
    ruleId: row.rule_id as number,
    createdAt: row.user_created_at as Date,
  };
}

function accountFromRow(row: Record<string, unknown>): AccountWithHash {
  return {
    user: userFromRow(row),
    pin: {
      changedAt: row.changed_at as Date,
      mustChange: row.must_change as boolean,
      enrollmentPending: row.enrollment_pending as boolean,
      doesNotExpire: row.does_not_expire as boolean,
      lockedByAdmin: row.locked_by_admin as boolean,
      cannotChange: row.cannot_change as boolean,
      failedCount: row.failed_count as number,
      lastFailedAt: row.last_failed_at as Date | null,
      lockedAt: row.locked_at as Date | null,
    },
    rule: ruleFromRow(row),
    pinHash: row.pin_hash as string,
  };
}

function withoutHash(account: AccountWithHash): Account {
  return { user: account.user, pin: account.pin, rule: account.rule };
}

export type AccountKey = { extension: string } | { userId: number };

function where(key: AccountKey): [string, unknown] {
  return 'extension' in key ? ['u.extension = $1::text', key.extension] : ['u.id = $1::bigint', key.userId];
}

export async function findAccount(db: Queryable, key: AccountKey): Promise<Account | null> {
  const account = await findAccountWithHash(db, key);
  return account ? withoutHash(account) : null;
}

/** The account with its PIN hash, without locking it: for checks that are made again under the lock. */
export async function findAccountWithHash(db: Queryable, key: AccountKey): Promise<AccountWithHash | null> {
  const [condition, value] = where(key);
  const { rows } = await db.query(`SELECT ${ACCOUNT_SELECT} WHERE ${condition}`, [value]);
  return rows[0] ? accountFromRow(rows[0]) : null;
}

/** Locks the credential row until the transaction ends: PIN checks and changes on one account run one at a time. */
export async function lockAccount(client: PoolClient, key: AccountKey): Promise<AccountWithHash | null> {
  const [condition, value] = where(key);
  const { rows } = await client.query(`SELECT ${ACCOUNT_SELECT} WHERE ${condition} FOR UPDATE OF c`, [value]);
  return rows[0] ? accountFromRow(rows[0]) : null;
}

/** The one user whose registered phone is `phone`, for caller-ID sign-in. */
export async function findUserByPhone(db: Queryable, phone: string): Promise<User | null> {
  const { rows } = await db.query(
    `SELECT u.id AS user_id, u.extension, u.first_name, u.last_name, u.phone, u.locale, u.rule_id, u.created_at AS user_created_at
       FROM users u WHERE u.phone = $1::text`,
    [phone],
  );
  return rows.length === 1 && rows[0] ? userFromRow(rows[0]) : null;
}

export interface UserSearch {
  query?: string;
  limit?: number;
  offset?: number;
}

export async function searchAccounts(db: Queryable, search: UserSearch = {}): Promise<{ total: number; accounts: Account[] }> {
  const q = search.query?.trim() || null;
  const filter = `($1::text IS NULL OR u.extension LIKE $1::text || '%' OR u.first_name ILIKE '%' || $1::text || '%'
      OR u.last_name ILIKE '%' || $1::text || '%' OR (u.first_name || ' ' || u.last_name) ILIKE '%' || $1::text || '%')`;
  const [{ rows }, count] = await Promise.all([
    db.query(
      `SELECT ${ACCOUNT_SELECT} WHERE ${filter} ORDER BY u.extension LIMIT $2::int OFFSET $3::int`,
      [q, search.limit ?? 50, search.offset ?? 0],
    ),
    db.query(`SELECT count(*)::int AS total FROM users u WHERE ${filter}`, [q]),
  ]);
  return { total: count.rows[0].total as number, accounts: rows.map((r) => withoutHash(accountFromRow(r))) };
}

export type NewUser = Omit<User, 'id' | 'createdAt'>;

export async function insertUser(db: Queryable, user: NewUser): Promise<User> {
  const { rows } = await db.query(
    `INSERT INTO users (extension, first_name, last_name, phone, locale, rule_id)
     VALUES ($1::text, $2::text, $3::text, $4::text, $5::text, $6::bigint)
     RETURNING id AS user_id, extension, first_name, last_name, phone, locale, rule_id, created_at AS user_created_at`,
    [user.extension, user.firstName, user.lastName, user.phone, user.locale, user.ruleId],
  );
  return userFromRow(rows[0]);
}

export type UserChanges = Partial<Omit<NewUser, 'extension'>> & { extension?: string };

const USER_COLUMNS: Record<keyof UserChanges, string> = {
  extension: 'extension',
  firstName: 'first_name',
  lastName: 'last_name',
  phone: 'phone',
  locale: 'locale',
  ruleId: 'rule_id',
};

export async function updateUser(db: Queryable, userId: number, changes: UserChanges): Promise<User | null> {
  const keys = (Object.keys(USER_COLUMNS) as Array<keyof UserChanges>).filter((k) => changes[k] !== undefined);
  const assignments = keys.map((k, i) => `${USER_COLUMNS[k]} = $${i + 2}`);
  const { rows } = await db.query(
    `UPDATE users SET ${[...assignments, 'updated_at = now()'].join(', ')} WHERE id = $1::bigint
     RETURNING id AS user_id, extension, first_name, last_name, phone, locale, rule_id, created_at AS user_created_at`,
    [userId, ...keys.map((k) => changes[k])],
  );
  return rows[0] ? userFromRow(rows[0]) : null;
}

export async function deleteUser(db: Queryable, userId: number): Promise<boolean> {
  const result = await db.query('DELETE FROM users WHERE id = $1::bigint', [userId]);
  return result.rowCount === 1;
}

export async function insertPinCredential(
  db: Queryable,
  userId: number,
  pinHash: string,
  flags: Partial<PinFlags> = {},
): Promise<void> {
  await db.query(
    `INSERT INTO pin_credentials (user_id, pin_hash, enrollment_pending, must_change, does_not_expire, locked_by_admin, cannot_change)
     VALUES ($1::bigint, $2::text, $3::boolean, $4::boolean, $5::boolean, $6::boolean, $7::boolean)`,
    [
      userId,
      pinHash,
      flags.enrollmentPending ?? true,
      flags.mustChange ?? false,
      flags.doesNotExpire ?? false,
      flags.lockedByAdmin ?? false,
      flags.cannotChange ?? false,
    ],
  );
}

export async function updatePinFlags(db: Queryable, userId: number, flags: Partial<PinFlags>): Promise<void> {
  const keys = (Object.keys(PIN_FLAG_COLUMNS) as Array<keyof PinFlags>).filter((k) => flags[k] !== undefined);
  if (keys.length === 0) return;
  const assignments = keys.map((k, i) => `${PIN_FLAG_COLUMNS[k]} = $${i + 2}::boolean`);
  await db.query(`UPDATE pin_credentials SET ${assignments.join(', ')} WHERE user_id = $1::bigint`, [
    userId,
    ...keys.map((k) => flags[k]),
  ]);
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

/**
 * Replaces the PIN hash, moving the old one into the history (trimmed to `keep` entries) and
 * resetting the failed-sign-in count.
 */
export async function replacePinHash(
  client: PoolClient,
  userId: number,
  oldHash: string,
  newHash: string,
  keep: number,
  flags: Partial<PinFlags>,
): Promise<void> {
  if (keep > 0) {
    await client.query('INSERT INTO pin_history (user_id, pin_hash) VALUES ($1::bigint, $2::text)', [userId, oldHash]);
  }
  await client.query(
    `DELETE FROM pin_history WHERE user_id = $1::bigint AND id NOT IN (
       SELECT id FROM pin_history WHERE user_id = $1::bigint ORDER BY retired_at DESC, id DESC LIMIT $2::int)`,
    [userId, keep],
  );
  await client.query(
    `UPDATE pin_credentials SET pin_hash = $2::text, changed_at = now(), failed_count = 0, last_failed_at = NULL
      WHERE user_id = $1::bigint`,
    [userId, newHash],
  );
  await updatePinFlags(client, userId, flags);
}
