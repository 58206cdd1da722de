import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import { MIGRATIONS_DIR, pendingMigrations } from '../../src/db/migrate.js';
import { cliEnvFor, runCli } from '../support/cli.js';
import { databaseUrlFor, TEST_DB_PREFIX } from '../support/database-names.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

const ALL = readdirSync(MIGRATIONS_DIR)
  .filter((file) => file.endsWith('.sql'))
  .map((file) => path.basename(file, '.sql'))
  .sort();

let migrated: TestDatabase;
let empty: { name: string; url: string };
let dir: string;

async function onServer<T>(fn: (client: pg.Client) => Promise<T>, url = inject('databaseUrl')): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

beforeAll(async () => {
  migrated = await createTestDatabase();
  // A database no migration has run on, named like the test databases so the run's cleanup drops it too.
  const name = `${TEST_DB_PREFIX}${inject('templateDatabase').split('_').pop()}_empty_${randomBytes(4).toString('hex')}`;
  await onServer((client) => client.query(`CREATE DATABASE ${name}`));
  empty = { name, url: databaseUrlFor(inject('databaseUrl'), name) };
  dir = mkdtempSync(path.join(tmpdir(), 'pinline-migrate-test-'));
});

afterAll(async () => {
  await migrated?.drop();
  if (empty) await onServer((client) => client.query(`DROP DATABASE IF EXISTS ${empty.name} WITH (FORCE)`));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('pending migrations', () => {
  it('when every migration is applied, then none is pending', async () => {
    expect(await onServer((client) => pendingMigrations(client), migrated.url)).toEqual([]);
  });

  it('when the last one is not recorded, then it alone is pending', async () => {
    const last = ALL.at(-1) as string;
    await onServer(async (client) => {
      await client.query('BEGIN');
      await client.query('DELETE FROM pgmigrations WHERE name = $1::text', [last]);
      expect(await pendingMigrations(client)).toEqual([last]);
      await client.query('ROLLBACK');
    }, migrated.url);
  });

  it('when the database was never migrated, then every migration is pending, and the first command applies them all', async () => {
    expect(await onServer((client) => pendingMigrations(client), empty.url)).toEqual(ALL);
    const run = await runCli(['user', 'show', '1001'], cliEnvFor(empty.url, dir));
    expect(run).toEqual({ code: 1, stdout: '', stderr: 'pinline: user with extension 1001 not found\n' });
    expect(await onServer((client) => pendingMigrations(client), empty.url)).toEqual([]);
  });
});
