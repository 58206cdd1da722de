import type { Account, AccountKey, AccountWithHash, NewUser, User, UserChanges } from '../accounts/model.js';
import type { Queryable } from './pool.js';
import { RULE_COLUMNS, ruleFromRow } from './rules.js';

// The users table, and accounts: a user joined with their PIN credential and rule.

const USER_COLUMNS = 'u.id AS user_id, u.extension, u.first_name, u.last_name, u.phone, u.email, u.locale, u.rule_id, u.response_wait, u.created_at AS user_created_at';

/** Each User field's column, for inserts and partial updates. */
const USER_FIELD_COLUMNS: Record<keyof NewUser, string> = {
  extension: 'extension',
  firstName: 'first_name',
  lastName: 'last_name',
  phone: 'phone',
  email: 'email',
  locale: 'locale',
  ruleId: 'rule_id',
  responseWait: 'response_wait',
};

const ACCOUNT_SELECT = `
  ${USER_COLUMNS},
  c.changed_at, c.must_change, c.enrollment_pending, c.does_not_expire, c.locked_by_admin, c.cannot_change,
  c.failed_count, c.last_failed_at, c.locked_at, c.temporary_since, c.last_signin_at, c.activity_since, c.inactive_locked_at, c.deactivated_at, c.pin_hash,
  c.version AS credential_version,
  ${RULE_COLUMNS}
  FROM users u
  JOIN pin_credentials c ON c.user_id = u.id
  JOIN auth_rules r ON r.id = u.rule_id`;

function userFromRow(row: Record<string, unknown>): User {
  return {
    id: row.user_id as number,
    extension: row.extension as string,
    firstName: row.first_name as string,
    lastName: row.last_name as string,
    phone: row.phone as string | null,
    email: row.email as string | null,
    locale: row.locale as string,
    ruleId: row.rule_id as number,
    responseWait: row.response_wait as number,
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
      temporarySince: row.temporary_since as Date | null,
      lastSigninAt: row.last_signin_at as Date | null,
      activitySince: row.activity_since as Date,
      inactiveLockedAt: row.inactive_locked_at as Date | null,
      deactivatedAt: row.deactivated_at as Date | null,
    },
    rule: ruleFromRow(row),
    pinHash: row.pin_hash as string,
    credentialVersion: row.credential_version as number,
  };
}

function withoutHash(account: AccountWithHash): Account {
  return { user: account.user, pin: account.pin, rule: account.rule };
}

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
export async function lockAccount(db: Queryable, key: AccountKey): Promise<AccountWithHash | null> {
  const [condition, value] = where(key);
  const { rows } = await db.query(`SELECT ${ACCOUNT_SELECT} WHERE ${condition} FOR UPDATE OF c`, [value]);
  return rows[0] ? accountFromRow(rows[0]) : null;
}

/** The one user whose registered phone is `phone`, for caller-ID sign-in. */
export async function findUserByPhone(db: Queryable, phone: string): Promise<User | null> {
  const { rows } = await db.query(`SELECT ${USER_COLUMNS} FROM users u WHERE u.phone = $1::text`, [phone]);
  return rows.length === 1 && rows[0] ? userFromRow(rows[0]) : null;
}

/** The accounts with these ids, by id: a page of SCIM's list in one query. */
export async function findAccountsById(db: Queryable, userIds: readonly number[]): Promise<Map<number, Account>> {
  const { rows } = await db.query(`SELECT ${ACCOUNT_SELECT} WHERE u.id = ANY($1::bigint[])`, [userIds]);
  return new Map(rows.map((row) => [Number(row.user_id), withoutHash(accountFromRow(row))]));
}

export interface UserSearch {
  query?: string;
  limit?: number;
  offset?: number;
  /** Count at most this many past the limit (a page says "10,000+"): counting a million users takes longer than the page. */
  countLimit?: number;
}

/** A page of the users found, and how many were found: at most countLimit, and then `capped`. */
export async function searchAccounts(db: Queryable, search: UserSearch = {}): Promise<{ total: number; capped: boolean; accounts: Account[] }> {
  const q = search.query?.trim() || null;
  // "Begins with", as Cisco Unity Connection's user search: the extension, the last name, or the
  // whole name "first last" (which begins with the text whenever the first name does), without
  // regard to case. Each side has its prefix index (migrations 0013 and 0014), so the OR is a
  // bitmap of three index ranges. The text is a literal: LIKE's % _ and \ are escaped.
  const prefix = `replace(replace(replace(lower($1::text), '\\', '\\\\'), '%', '\\%'), '_', '\\_') || '%'`;
  const filter = `($1::text IS NULL OR u.extension LIKE ${prefix} OR lower(u.last_name) LIKE ${prefix}
    OR lower(u.first_name || ' ' || u.last_name) LIKE ${prefix})`;
  const counted =
    search.countLimit === undefined
      ? db.query(`SELECT count(*)::int AS total FROM users u WHERE ${filter}`, [q])
      : db.query(`SELECT count(*)::int AS total FROM (SELECT 1 FROM users u WHERE ${filter} LIMIT $2::int) found`, [q, search.countLimit + 1]);
  const [{ rows }, count] = await Promise.all([
    db.query(`SELECT ${ACCOUNT_SELECT} WHERE ${filter} ORDER BY u.extension LIMIT $2::int OFFSET $3::int`, [
      q,
      search.limit ?? 50,
      search.offset ?? 0,
    ]),
    counted,
  ]);
  const found = count.rows[0].total as number;
  const capped = search.countLimit !== undefined && found > search.countLimit;
  return { total: capped ? (search.countLimit as number) : found, capped, accounts: rows.map((r) => withoutHash(accountFromRow(r))) };
}

export async function insertUser(db: Queryable, user: NewUser): Promise<User> {
  const keys = Object.keys(USER_FIELD_COLUMNS) as Array<keyof NewUser>;
  const { rows } = await db.query(
    `INSERT INTO users AS u (${keys.map((k) => USER_FIELD_COLUMNS[k]).join(', ')})
     VALUES (${keys.map((_k, i) => `$${i + 1}`).join(', ')}) RETURNING ${USER_COLUMNS}`,
    keys.map((k) => user[k]),
  );
  return userFromRow(rows[0]);
}

export async function updateUser(db: Queryable, userId: number, changes: UserChanges): Promise<User | null> {
  const keys = (Object.keys(USER_FIELD_COLUMNS) as Array<keyof NewUser>).filter((k) => changes[k] !== undefined);
  const assignments = keys.map((k, i) => `${USER_FIELD_COLUMNS[k]} = $${i + 2}`);
  const { rows } = await db.query(
    `UPDATE users AS u SET ${[...assignments, 'updated_at = now()'].join(', ')} WHERE u.id = $1::bigint RETURNING ${USER_COLUMNS}`,
    [userId, ...keys.map((k) => changes[k])],
  );
  return rows[0] ? userFromRow(rows[0]) : null;
}

export async function deleteUser(db: Queryable, userId: number): Promise<boolean> {
  const result = await db.query('DELETE FROM users WHERE id = $1::bigint', [userId]);
  return result.rowCount === 1;
}

/** True on a brand-new database: no user and no audit trail yet. */
export async function isPristine(db: Queryable): Promise<boolean> {
  const { rows } = await db.query(
    'SELECT NOT EXISTS (SELECT 1 FROM users) AND NOT EXISTS (SELECT 1 FROM audit_events) AS pristine',
  );
  return rows[0].pristine as boolean;
}
