import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../logger.js';
import type { Queryable } from './pool.js';

/** migrations/ at the package root; the same relative path from src/db and dist/db. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
const MIGRATIONS_TABLE = 'pgmigrations';
/** node-pg-migrate logs a failed connection with its stack before throwing it; whoever called reports the error once, in one line. */
const CONNECT_FAILURE = 'could not connect to postgres:';

/** Postgres's "undefined_table": a database no migration has run on yet. */
const UNDEFINED_TABLE = '42P01';

/**
 * The migrations in migrations/ that the database has not recorded, in one query: what a start
 * checks before it pays for the migrator (node-pg-migrate, its lock and its own reading).
 */
export async function pendingMigrations(db: Queryable): Promise<string[]> {
  // node-pg-migrate names a migration by its file name without the extension.
  const names = (await readdir(MIGRATIONS_DIR)).filter((file) => file.endsWith('.sql')).map((file) => path.basename(file, '.sql'));
  try {
    const { rows } = await db.query<{ name: string }>(`SELECT name FROM ${MIGRATIONS_TABLE}`);
    const applied = new Set(rows.map((row) => row.name));
    return names.filter((name) => !applied.has(name)).sort();
  } catch (err) {
    if ((err as { code?: unknown }).code === UNDEFINED_TABLE) return names.sort();
    throw err;
  }
}

/**
 * Applies pending migrations. node-pg-migrate holds a Postgres advisory lock while it runs;
 * 'wait' makes a second instance starting at the same moment queue behind the first, then
 * find nothing left to do.
 */
export async function migrate(databaseUrl: string, logger?: Logger): Promise<string[]> {
  const { runner } = await import('node-pg-migrate');
  const applied = await runner({
    databaseUrl,
    dir: MIGRATIONS_DIR,
    migrationsTable: MIGRATIONS_TABLE,
    direction: 'up',
    singleTransaction: true,
    checkOrder: true,
    advisoryLockMode: 'wait',
    log: () => undefined,
    logger: {
      debug: () => undefined,
      info: () => undefined,
      warn: (msg: string) => logger?.warn(msg),
      error: (msg: string) => {
        if (!msg.startsWith(CONNECT_FAILURE)) logger?.error(msg);
      },
    },
  });
  return applied.map((m) => m.name);
}
