import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { startEmbeddedPostgres } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';

export interface BenchDatabase {
  url: string;
  /** Where it runs, for the report. */
  description: string;
  close(): Promise<void>;
}

/**
 * A fresh, migrated database for one bench run: a throwaway database on the DATABASE_URL server
 * (dropped afterwards), or else an embedded Postgres in a temporary directory.
 */
export async function openBenchDatabase(suffix = '', options: { keep?: boolean } = {}): Promise<BenchDatabase> {
  const serverUrl = process.env.DATABASE_URL;
  if (serverUrl) {
    // A kept database has a fixed name, is made only once and is left in place, migrated again each time.
    // BENCH_KEEP_AS names another kept database, so that two people can bench side by side.
    const kept = `kept${process.env.BENCH_KEEP_AS ? `_${process.env.BENCH_KEEP_AS.replace(/\W/g, '')}` : ''}`;
    const name = `pinline_bench_${options.keep ? kept : process.pid}${suffix ? `_${suffix}` : ''}`;
    const admin = new pg.Client({ connectionString: serverUrl });
    await admin.connect();
    const exists = (await admin.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [name])).rowCount === 1;
    if (!options.keep || !exists) {
      await admin.query(`DROP DATABASE IF EXISTS ${name}`);
      await admin.query(`CREATE DATABASE ${name}`);
    }
    const url = new URL(serverUrl);
    url.pathname = `/${name}`;
    await migrate(url.toString());
    const version = (await admin.query('SHOW server_version')).rows[0]?.server_version as string;
    return {
      url: url.toString(),
      description: `PostgreSQL ${version} at ${url.host} (DATABASE_URL), throwaway database ${name}`,
      async close() {
        if (!options.keep) await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await admin.end();
      },
    };
  }
  const dir = mkdtempSync(path.join(tmpdir(), 'pinline-bench-pg-'));
  // As root the cluster runs as the postgres user, which must be able to enter the directory.
  chmodSync(dir, 0o755);
  const embedded = await startEmbeddedPostgres(path.join(dir, 'pg'), pino({ level: 'silent' }), { persistent: false });
  await migrate(embedded.databaseUrl);
  const client = new pg.Client({ connectionString: embedded.databaseUrl });
  await client.connect();
  const version = (await client.query('SHOW server_version')).rows[0]?.server_version as string;
  await client.end();
  return {
    url: embedded.databaseUrl,
    description: `embedded PostgreSQL ${version} (DATABASE_URL not set), in ${dir}`,
    async close() {
      await embedded.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const BENCH_PIN = '860472';
const FIRST_EXTENSION = 200001;

/**
 * Seeds `count` signed-up users sharing one PIN hash (the verify cost is the same as with one
 * hash each, and seeding stays instant), past enrollment and old enough to change their PIN.
 */
export async function seedUsers(databaseUrl: string, count: number, pinHash: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO users (extension, first_name, last_name, rule_id)
       SELECT ($1::int + g)::text, 'Bench', 'Caller', (SELECT id FROM auth_rules WHERE name = 'default')
         FROM generate_series(0, $2::int - 1) g`,
      [FIRST_EXTENSION, count],
    );
    await client.query(
      `INSERT INTO pin_credentials (user_id, pin_hash, enrollment_pending, changed_at)
       SELECT id, $1::text, false, now() - interval '2 days' FROM users WHERE first_name = 'Bench'`,
      [pinHash],
    );
    await client.query('COMMIT');
  } finally {
    await client.end();
  }
  return Array.from({ length: count }, (_, i) => String(FIRST_EXTENSION + i));
}

/** Gives one user an e-mail address, so that changing their PIN queues a notification. */
export async function giveEmail(databaseUrl: string, extension: string, email: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('UPDATE users SET email = $2::text WHERE extension = $1::text', [extension, email]);
  } finally {
    await client.end();
  }
}

/** Audit rows of one event, to check that the sign-ins measured were real verifications. */
export async function countEvents(databaseUrl: string, event: string): Promise<number> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    const { rows } = await client.query('SELECT count(*)::int AS n FROM audit_events WHERE event = $1::text', [event]);
    return rows[0]?.n as number;
  } finally {
    await client.end();
  }
}
