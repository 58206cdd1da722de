import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { databaseUrlFor, TEMPLATE_PREFIX, TEST_DB_PREFIX } from './database-names.js';

declare module 'vitest' {
  export interface ProvidedContext {
    databaseUrl: string;
    templateDatabase: string;
  }
}

/**
 * Uses DATABASE_URL when set, otherwise starts a throwaway embedded Postgres. Migrates one
 * template database that every test file copies (CREATE DATABASE … TEMPLATE), so each file
 * starts from a fresh, fully migrated database in milliseconds.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let embedded: EmbeddedDatabase | null = null;
  let dir: string | null = null;
  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    dir = mkdtempSync(path.join(tmpdir(), 'pinline-test-pg-'));
    // As root the cluster runs as the postgres user, which must be able to enter the directory.
    chmodSync(dir, 0o755);
    embedded = await startEmbeddedPostgres(path.join(dir, 'pg'), pino({ level: 'silent' }), { persistent: false });
    // The tests create a database per file, as with DATABASE_URL's superuser: the service's own role may not.
    databaseUrl = embedded.superuserUrl;
    process.stdout.write(`pinline tests: DATABASE_URL not set, using an embedded Postgres in ${embedded.directory}\n`);
  }
  const template = `${TEMPLATE_PREFIX}${process.pid}`;
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${template}`);
  await admin.query(`CREATE DATABASE ${template}`);
  await migrate(databaseUrlFor(databaseUrl, template));

  project.provide('databaseUrl', databaseUrl);
  project.provide('templateDatabase', template);

  return async () => {
    const { rows } = await admin.query(
      `SELECT datname FROM pg_database WHERE datname = $1::text OR datname LIKE $2::text`,
      [template, `${TEST_DB_PREFIX}${process.pid}_%`],
    );
    for (const row of rows) await admin.query(`DROP DATABASE IF EXISTS ${row.datname} WITH (FORCE)`);
    await admin.end();
    await embedded?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  };
}
