import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type { NewUser, User, UserChanges } from '../accounts/model.js';
import type { Actor } from '../audit/actor.js';
import type { PoolClient, Queryable } from './pool.js';

// A bulk import's writes, set-wise (DESIGN §9, issue 21): the rows the domain has checked go to a
// staging table by COPY, then one statement per kind writes them and their audit rows. The
// staging tables live for the transaction only.

/** A checked new user of one row of the file. */
export interface StagedNewUser {
  line: number;
  user: NewUser;
  ruleName: string;
}

/** A checked change of an existing user: only the fields that differ, and its audit details. */
export interface StagedChange {
  line: number;
  userId: number;
  changes: UserChanges;
  details: Record<string, unknown>;
}

/** A value in COPY's text format: \N for null; backslash, tab and line breaks escaped. */
function copyValue(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '\\N';
  return String(value).replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** The rows as COPY text, a thousand to a write: one write per row would cost more than the row. */
function* copyBatches(rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): Generator<string> {
  for (let i = 0; i < rows.length; i += 1000) {
    yield rows
      .slice(i, i + 1000)
      .map((row) => `${row.map(copyValue).join('\t')}\n`)
      .join('');
  }
}

async function stage(client: PoolClient, table: string, definition: string, columns: readonly string[], rows: ReadonlyArray<ReadonlyArray<string | number | null | undefined>>): Promise<void> {
  // A chunk's statements are simple and short: JIT compiling them costs more than it saves, and its sorts fit in memory.
  await client.query(`SET LOCAL jit = off; SET LOCAL work_mem = '64MB'; CREATE TEMP TABLE IF NOT EXISTS ${table} (${definition}) ON COMMIT DROP; TRUNCATE ${table}`);
  const copy = client.query(copyFrom(`COPY ${table} (${columns.join(', ')}) FROM STDIN`));
  await pipeline(Readable.from(copyBatches(rows)), copy);
}

const NEW_USER_COLUMNS = ['line', 'extension', 'first_name', 'last_name', 'phone', 'email', 'locale', 'rule_id', 'response_wait', 'rule_name'] as const;
/** The users columns a created row sets. */
const NEW_USER_WRITTEN = 'extension, first_name, last_name, phone, email, locale, rule_id, response_wait';

/**
 * What a dry run writes (it rolls back): only the users table, which later rows read (phone
 * numbers taken, the constraints that may refuse a row). Credentials and audit rows can't refuse
 * a row or change another row's outcome, so writing them only to roll them back is skipped.
 */
export type ImportWrites = 'all' | 'users-only';

/**
 * Creates the users, each with the shared untold PIN hash (temporary, enrollment pending) and
 * audited as `user.created` then `pin.set`, in file order. Only the columns set here are named,
 * so every other column takes its default.
 */
export async function insertImportedUsers(
  client: PoolClient,
  rows: readonly StagedNewUser[],
  pinHash: string,
  pinSetDetails: Record<string, unknown>,
  actor: Actor,
  writes: ImportWrites,
): Promise<void> {
  await stage(
    client,
    'import_new_users',
    'line int, extension text, first_name text, last_name text, phone text, email text, locale text, rule_id bigint, response_wait int, rule_name text',
    NEW_USER_COLUMNS,
    rows.map(({ line, user, ruleName }) => [line, user.extension, user.firstName, user.lastName, user.phone, user.email, user.locale, user.ruleId, user.responseWait, ruleName]),
  );
  if (writes === 'users-only') {
    await client.query(`INSERT INTO users (${NEW_USER_WRITTEN}) SELECT ${NEW_USER_WRITTEN} FROM import_new_users ORDER BY line`);
    return;
  }
  await client.query(
    `WITH created AS (
       INSERT INTO users (${NEW_USER_WRITTEN})
       SELECT ${NEW_USER_WRITTEN} FROM import_new_users ORDER BY line
       RETURNING id, extension
     ), credentials AS (
       INSERT INTO pin_credentials (user_id, pin_hash, temporary_since, enrollment_pending, untold)
       SELECT id, $1::text, now(), true, true FROM created
     )
     INSERT INTO audit_events (event, channel, actor, user_id, extension, details)
     SELECT e.event, $2::text, $3::text, c.id, c.extension,
            CASE e.k WHEN 1 THEN jsonb_build_object('rule', n.rule_name, 'enrollmentPending', true) ELSE $4::jsonb END
       FROM created c JOIN import_new_users n USING (extension)
      CROSS JOIN (VALUES (1, 'user.created'), (2, 'pin.set')) AS e (k, event)
      ORDER BY n.line, e.k`,
    [pinHash, actor.channel, actor.name, JSON.stringify(pinSetDetails)],
  );
}

const CHANGE_COLUMNS = ['line', 'user_id', 'first_name', 'last_name', 'phone', 'email', 'locale', 'rule_id', 'response_wait', 'details'] as const;

/** Applies each change (a null field is one the row leaves alone) and audits it as `user.updated`, in file order. */
export async function updateImportedUsers(client: PoolClient, rows: readonly StagedChange[], actor: Actor, writes: ImportWrites): Promise<void> {
  await stage(
    client,
    'import_user_changes',
    'line int, user_id bigint, first_name text, last_name text, phone text, email text, locale text, rule_id bigint, response_wait int, details jsonb',
    CHANGE_COLUMNS,
    rows.map(({ line, userId, changes: c, details }) => [line, userId, c.firstName, c.lastName, c.phone, c.email, c.locale, c.ruleId, c.responseWait, JSON.stringify(details)]),
  );
  const update = `UPDATE users u SET
         first_name = coalesce(s.first_name, u.first_name), last_name = coalesce(s.last_name, u.last_name),
         phone = coalesce(s.phone, u.phone), email = coalesce(s.email, u.email), locale = coalesce(s.locale, u.locale),
         rule_id = coalesce(s.rule_id, u.rule_id), response_wait = coalesce(s.response_wait, u.response_wait), updated_at = now()
         FROM import_user_changes s WHERE u.id = s.user_id`;
  if (writes === 'users-only') {
    await client.query(update);
    return;
  }
  await client.query(
    `WITH changed AS (
       ${update}
       RETURNING u.id, u.extension
     )
     INSERT INTO audit_events (event, channel, actor, user_id, extension, details)
     SELECT 'user.updated', $1::text, $2::text, c.id, c.extension, s.details
       FROM changed c JOIN import_user_changes s ON s.user_id = c.id ORDER BY s.line`,
    [actor.channel, actor.name],
  );
}

/** Which user has each of these phone numbers now. */
export async function phoneHolders(db: Queryable, phones: readonly string[]): Promise<Map<string, number>> {
  if (phones.length === 0) return new Map();
  const { rows } = await db.query('SELECT phone, id FROM users WHERE phone = ANY($1::text[])', [phones]);
  return new Map(rows.map((row) => [row.phone as string, Number(row.id)]));
}

/**
 * The users with these extensions, by extension: only the columns an import compares, read as
 * arrays, and the creation time as a number, not a timestamp to parse (issue 21: every row of a
 * file that changes nothing is still read).
 */
export async function importTargets(db: Queryable, extensions: readonly string[]): Promise<Map<string, User>> {
  const found = new Map<string, User>();
  if (extensions.length === 0) return found;
  const { rows } = await db.query<unknown[]>({
    text: `SELECT id, extension, first_name, last_name, phone, email, locale, rule_id, response_wait, extract(epoch FROM created_at)::float8 * 1000
             FROM users WHERE extension = ANY($1::text[])`,
    values: [extensions],
    rowMode: 'array',
  });
  for (const [id, extension, firstName, lastName, phone, email, locale, ruleId, responseWait, createdAt] of rows) {
    found.set(extension as string, {
      id: id as number,
      extension: extension as string,
      firstName: firstName as string,
      lastName: lastName as string,
      phone: phone as string | null,
      email: email as string | null,
      locale: locale as string,
      ruleId: ruleId as number,
      responseWait: responseWait as number,
      createdAt: new Date(createdAt as number),
    });
  }
  return found;
}
