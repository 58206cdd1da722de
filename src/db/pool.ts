import pg from 'pg';
import type { Logger } from '../logger.js';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** Anything queries can run on: the pool, or one connection inside a transaction. */
export type Queryable = pg.Pool | pg.ClientBase;

// timestamptz/int8 as JS values the app expects: bigint ids fit in a JS number here.
pg.types.setTypeParser(pg.types.builtins.INT8, (value) => Number(value));

export function createPool(databaseUrl: string, logger: Logger, max = 20): Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    // Fail fast when the database is down, so a caller hears [error.unavailable] well inside Twilio's 15 s.
    connectionTimeoutMillis: 3000,
    idleTimeoutMillis: 30_000,
    statement_timeout: 5000,
    application_name: 'pinline',
  });
  // An idle client losing its connection must not crash the process.
  pool.on('error', (err) => logger.warn({ err: { message: err.message } }, 'idle database connection lost'));
  return pool;
}

/** Runs fn in one transaction on one connection; always releases it. */
export async function withTransaction<T>(pool: Pool, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken = false;
  // A connection lost while checked out (e.g. during a PIN hash) is reported as an 'error'
  // event; without a listener it would crash the process instead of failing this transaction.
  const onError = () => {
    broken = true;
  };
  client.on('error', onError);
  try {
    await client.query('BEGIN');
    const result = await fn(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      broken = true;
    }
    throw err;
  } finally {
    client.off('error', onError);
    client.release(broken);
  }
}

/** One round-trip to the database: /readyz. */
export async function ping(pool: Pool): Promise<void> {
  await pool.query('SELECT 1');
}
