import pg from 'pg';
import { isConnectionFailure } from '../errors.js';
import type { Logger } from '../logger.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything queries can run on: the pool, or one connection inside a transaction. */
export type Queryable = pg.Pool | pg.ClientBase;

// timestamptz/int8 as JS values the app expects: bigint ids fit in a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

/** How long one statement may run on the server: well inside Twilio's 15 s for a whole turn. */
const STATEMENT_TIMEOUT_MS = 5000;
/**
 * The client gives up a little later, for what the server cannot time out itself (a connection
 * that hangs). Client-side, so nothing is sent at connection start: PgBouncer in transaction mode
 * refuses startup parameters such as statement_timeout.
 */
const QUERY_TIMEOUT_MS = STATEMENT_TIMEOUT_MS + 1000;
/** Every transaction opens with its settings, in the same round-trip as BEGIN: SET LOCAL lasts exactly as long. */
const BEGIN = `BEGIN; SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`;
/** One consistent view of the whole database for a long read (an export), that writes nothing. */
const BEGIN_SNAPSHOT = `BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = ${STATEMENT_TIMEOUT_MS}`;

/** The client's own timeout: the connection is no use afterwards, but waiting twice would outlast the caller. */
const CLIENT_TIMEOUT = /Query read timeout/;

/** A statement that changes nothing, so running it twice is the same as once. */
function safeToRepeat(statement: unknown): boolean {
  const text = typeof statement === 'string' ? statement : (statement as { text?: unknown } | null)?.text;
  return typeof text === 'string' && /^\s*SELECT\b/i.test(text);
}

export function createPool(databaseUrl: string, logger: Logger, max = 20): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    // Fail fast when the database is down, so a caller hears [error.unavailable] well inside Twilio's 15 s.
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    query_timeout: QUERY_TIMEOUT_MS,
    application_name: 'pinline',
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', (err) => logger.warn({ err: { message: err.message } }, 'idle database connection lost'));

  // After a failover the first statements can meet connections that died under them (directly,
  // or behind PgBouncer): a read is tried once more, on a fresh connection.
  const query = pool.query.bind(pool) as (...args: unknown[]) => Promise<unknown>;
  const retryingQuery = async (...args: unknown[]): Promise<unknown> => {
    if (typeof args.at(-1) === 'function') return query(...args);
    try {
      return await query(...args);
    } catch (err) {
      if (!isConnectionFailure(err) || !safeToRepeat(args[0])) throw err;
      const result = await query(...args);
      // Said only once the read worked: with no database at all, the caller reports the failure itself.
      logger.warn({ err: { message: (err as Error).message } }, 'database connection lost; read again on a fresh connection');
      return result;
    }
  };
  Object.assign(pool, { query: retryingQuery });
  return pool;
}

/**
 * Runs fn in one transaction on one connection, and always releases it. A transaction whose
 * connection failed before COMMIT was sent changed nothing, so it runs once more on a fresh
 * connection; one that failed during COMMIT is not repeated (it may have been applied).
 */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let committing = false;
    try {
      return await transactionOnce(pool, fn, () => {
        committing = true;
      });
    } catch (err) {
      if (attempt > 1 || committing || !isConnectionFailure(err)) throw err;
    }
  }
}

/**
 * Runs fn in one transaction and rolls it back, whatever fn did: a dry run sees its own writes and
 * leaves nothing. Not repeated after a lost connection, since fn may have reported what it saw.
 */
export function withRolledBackTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return transactionOnce(pool, fn, () => {}, { begin: BEGIN, end: 'ROLLBACK' });
}

/**
 * Runs fn in a REPEATABLE READ READ ONLY transaction: every query sees the database as of the
 * first one, so a read in pages (keyset pagination) is one consistent picture, and it works behind
 * PgBouncer in transaction mode. Not repeated after a lost connection: fn may have written output.
 */
export function withSnapshot<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  return transactionOnce(pool, fn, () => {}, { begin: BEGIN_SNAPSHOT, end: 'COMMIT' });
}

/**
 * Runs fn inside a savepoint of the client's transaction: when fn throws, its writes are undone
 * and the transaction goes on, so one bad row of a bulk import leaves the others standing.
 */
export async function withSavepoint<T>(client: PoolClient, fn: () => Promise<T>): Promise<T> {
  await client.query('SAVEPOINT row_savepoint');
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    await client.query('ROLLBACK TO SAVEPOINT row_savepoint');
    throw err;
  }
  await client.query('RELEASE SAVEPOINT row_savepoint');
  return result;
}

async function transactionOnce<T>(
  pool: Pool,
  fn: (client: PoolClient) => Promise<T>,
  onCommit: () => void,
  statements: { begin: string; end: 'COMMIT' | 'ROLLBACK' } = { begin: BEGIN, end: 'COMMIT' },
): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // A connection lost while checked out (e.g. during a PIN hash) is reported as an 'error'
  // event; without a listener it would crash the process instead of failing this transaction.
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query(statements.begin);
    const result = await fn(client);
    onCommit();
    await client.query(statements.end);
    return result;
  } catch (err) {
    if (isConnectionFailure(err) || CLIENT_TIMEOUT.test(String((err as Error | null)?.message))) broken = true;
    if (!broken) {
      try {
        await client.query('ROLLBACK');
      } catch {
        broken = true;
      }
    }
    throw err;
  } finally {
    client.off('error', onError);
    // A broken connection is closed, not handed to the next caller.
    client.release(broken);
  }
}

/** One round-trip to the database: /readyz. */
export async function ping(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}
