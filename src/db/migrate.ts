import { fileURLToPath } from 'node:url';
import { runner } from 'node-pg-migrate';
import type { Logger } from '../logger.js';

/** migrations/ at the package root; the same relative path from src/db and dist/db. */
export const MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations', import.meta.url));
const MIGRATIONS_TABLE = 'pgmigrations';
/** node-pg-migrate logs a failed connection with its stack before throwing it; whoever called reports the error once, in one line. */
const CONNECT_FAILURE = 'could not connect to postgres:';

/**
 * Applies pending migrations. node-pg-migrate holds a Postgres advisory lock while it runs;
 * 'wait' makes a second instance starting at the same moment queue behind the first, then
 * find nothing left to do.
 */
export async function migrate(databaseUrl: string, logger?: Logger): Promise<string[]> {
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
