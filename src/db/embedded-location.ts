import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  realpathSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

/**
 * Where, as root, the embedded cluster (and a copy of the Postgres binaries) go when the postgres
 * user cannot reach DATA_DIR/pg (or node_modules): kept across reboots, unlike /tmp, and owned by
 * root, so only root can change the binaries that postgres runs.
 */
export const DEFAULT_FALLBACK_ROOT = '/var/lib/pinline';

export interface UserIds {
  readonly uid: number;
  readonly gid: number;
}

const run = promisify(execFile);

async function idOf(flag: '-u' | '-g', user: string): Promise<number | null> {
  try {
    const { stdout } = await run('id', [flag, user]);
    const id = Number.parseInt(stdout.trim(), 10);
    return Number.isInteger(id) ? id : null;
  } catch {
    return null;
  }
}

async function postgresIds(): Promise<UserIds | null> {
  const [uid, gid] = await Promise.all([idOf('-u', 'postgres'), idOf('-g', 'postgres')]);
  return uid === null || gid === null ? null : { uid, gid };
}

/** The postgres system user that the cluster runs as when pinline runs as root (Postgres refuses root); created if missing. */
export async function ensurePostgresUser(): Promise<UserIds> {
  const existing = await postgresIds();
  if (existing) return existing;
  try {
    await run('groupadd', ['--system', 'postgres']).catch(async (err: unknown) => {
      // 9: the group exists already (a user of that name did not).
      if ((err as { code?: unknown }).code !== 9) throw err;
    });
    await run('useradd', ['--system', '--gid', 'postgres', '--no-create-home', '--shell', '/usr/sbin/nologin', 'postgres']);
  } catch (err) {
    const detail = String((err as { stderr?: unknown }).stderr || (err as Error).message).trim().replace(/\s*\n\s*/g, ' ');
    throw new Error(`running as root, Postgres needs a "postgres" system user, and creating it failed: ${detail}`);
  }
  const created = await postgresIds();
  if (!created) throw new Error('running as root, Postgres needs a "postgres" system user, and none was found after creating it');
  return created;
}

/** `p` with symlinks resolved as far as it exists, so that one directory always has one name. */
function canonicalPath(p: string): string {
  const absolute = path.resolve(p);
  let existing = absolute;
  while (!existsSync(existing)) {
    const parent = path.dirname(existing);
    if (parent === existing) return absolute;
    existing = parent;
  }
  return path.join(realpathSync(existing), path.relative(existing, absolute));
}

/**
 * Whether `ids` can enter every directory from / down to `dir` (which must exist). Judged from
 * the primary group only: node drops supplementary groups when it spawns as another user.
 */
export function canEnter(dir: string, ids: UserIds): boolean {
  let current = canonicalPath(dir);
  for (;;) {
    let stat;
    try {
      stat = statSync(current);
    } catch {
      return false;
    }
    const bit = stat.uid === ids.uid ? 0o100 : stat.gid === ids.gid ? 0o010 : 0o001;
    if (!stat.isDirectory() || (stat.mode & bit) === 0) return false;
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** The fallback cluster for one DATA_DIR/pg: the same path for the same directory, whoever computes it (server or CLI). */
export function fallbackClusterDir(databaseDir: string, root: string = DEFAULT_FALLBACK_ROOT): string {
  const hash = createHash('sha256').update(canonicalPath(databaseDir)).digest('hex').slice(0, 16);
  return path.join(root, 'clusters', hash, 'pg');
}

export interface ClusterLocation {
  /** The data directory the cluster uses. */
  readonly directory: string;
  /** Why it is not DATA_DIR/pg, when it is not. */
  readonly fallbackReason: string | null;
}

const hasCluster = (dir: string) => existsSync(path.join(dir, 'PG_VERSION'));

/**
 * Where the cluster for `databaseDir` (DATA_DIR/pg) lives when it runs as `ids`: there if they can
 * reach it; otherwise, or when only the fallback holds a cluster already (so that a later chmod
 * does not start an empty one), the fallback under `root`. Creates nothing but DATA_DIR itself.
 */
export function chooseClusterDir(databaseDir: string, ids: UserIds, root: string = DEFAULT_FALLBACK_ROOT): ClusterLocation {
  const primary = canonicalPath(databaseDir);
  mkdirSync(path.dirname(primary), { recursive: true });
  const fallback = fallbackClusterDir(primary, root);
  if (canEnter(path.dirname(primary), ids)) {
    if (hasCluster(primary) || !hasCluster(fallback)) return { directory: primary, fallbackReason: null };
    return { directory: fallback, fallbackReason: `the cluster for ${primary} was created in ${fallback} while the postgres user could not reach ${primary}` };
  }
  const stranded = hasCluster(primary) ? ` (the cluster already in ${primary} stays there, unused)` : '';
  return {
    directory: fallback,
    fallbackReason: `the postgres user cannot enter ${path.dirname(primary)} or one of its parents${stranded}`,
  };
}

/**
 * Creates `dir` and the directories between `root` and it as root-owned 0755 (whatever the umask),
 * and refuses any of them that someone else could change: postgres runs what they hold.
 */
export function ensureRootOwnedDir(dir: string, root: string): void {
  const relative = path.relative(root, dir);
  if (relative.startsWith('..') || path.isAbsolute(relative)) throw new Error(`${dir} is not inside ${root}`);
  const levels = [root, ...relative.split(path.sep).filter(Boolean).map((_, i, parts) => path.join(root, ...parts.slice(0, i + 1)))];
  for (const level of levels) {
    if (!existsSync(level)) {
      mkdirSync(level, { recursive: true });
      chmodSync(level, 0o755);
    }
    const stat = lstatSync(level);
    if (!stat.isDirectory() || stat.uid !== 0 || (stat.mode & 0o022) !== 0) {
      throw new Error(`${level} must be a directory owned by root and writable by root only`);
    }
  }
}

/** Files readable (and, where they were, executable) by everyone, writable by root only. */
function makeReadOnlyForOthers(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) continue;
    if (entry.isDirectory()) makeReadOnlyForOthers(full);
    else chmodSync(full, (statSync(full).mode & 0o111) !== 0 ? 0o755 : 0o644);
  }
}

/**
 * A root-owned, read-only copy of a Postgres distribution (bin/, lib/, share/) under `root`, for
 * the postgres user when it cannot reach node_modules. One per version, shared by every checkout;
 * built aside and renamed into place, so a copy that exists is complete. `replace`: build it anew
 * even if one exists (one that does not run).
 */
export function installBinariesCopy(sourceDir: string, root: string, name: string, options: { replace?: boolean } = {}): string {
  ensureRootOwnedDir(root, root);
  const target = path.join(root, name);
  if (existsSync(target) && !options.replace) {
    ensureRootOwnedDir(target, root);
    return target;
  }
  const aside = (what: string) => path.join(root, `.${name}.${what}.${process.pid}.${randomBytes(4).toString('hex')}`);
  const staging = aside('new');
  const old = aside('old');
  try {
    // Symlinks as they are: lib/ links libpq.so to libpq.so.5 and so on, relatively.
    cpSync(sourceDir, staging, { recursive: true, verbatimSymlinks: true });
    makeReadOnlyForOthers(staging);
    // A running postgres keeps the files it opened; the old copy goes once the new one is in place.
    if (options.replace && existsSync(target)) renameSync(target, old);
    try {
      renameSync(staging, target);
    } catch (err) {
      // Another pinline installed the same copy meanwhile: use that one.
      if (!existsSync(target)) throw err;
    }
  } finally {
    rmSync(staging, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
  ensureRootOwnedDir(target, root);
  return target;
}

/** Leaves a note beside a fallback cluster saying whose it is, for whoever looks in `root`. */
export function writeClusterNote(clusterDir: string, databaseDir: string): void {
  writeFileSync(
    path.join(path.dirname(clusterDir), 'README'),
    `The embedded Postgres cluster of pinline's DATA_DIR/pg ${canonicalPath(databaseDir)},\n` +
      `kept here because the postgres user cannot reach that directory.\n`,
  );
}

/** The longest socket path Postgres takes: sockaddr_un's 108 bytes, less the closing NUL. */
const MAX_SOCKET_PATH = 107;

const socketPath = (dir: string, port: number) => path.join(dir, `.s.PGSQL.${port}`);
const fitsSocketPath = (dir: string, port: number) => Buffer.byteLength(socketPath(dir, port)) <= MAX_SOCKET_PATH;

/**
 * Where the cluster's Unix socket goes: its own data directory, which only its owner enters
 * (0700), unless that path is too long for a socket; then a 0700 directory of the same owner in
 * the temporary directory, at a name derived from the cluster's (so every pinline process, and a
 * restart, finds the same one). `owner`: the cluster's OS user.
 */
export function socketDirFor(clusterDir: string, port: number, owner: UserIds): { dir: string; elsewhere: boolean } {
  if (fitsSocketPath(clusterDir, port)) {
    chmodSync(clusterDir, 0o700);
    return { dir: clusterDir, elsewhere: false };
  }
  const name = `pinline-pg-${owner.uid}-${createHash('sha256').update(canonicalPath(clusterDir)).digest('hex').slice(0, 16)}`;
  const base = fitsSocketPath(path.join(tmpdir(), name), port) ? tmpdir() : '/tmp';
  const dir = path.join(base, name);
  try {
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, owner.uid, owner.gid);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  }
  // In a directory everyone may write to: use it only if it is what we would have made.
  const stat = lstatSync(dir);
  if (!stat.isDirectory() || stat.uid !== owner.uid || (stat.mode & 0o777) !== 0o700) {
    throw new Error(`${dir} is not a 0700 directory of the embedded Postgres's user: remove it, or choose a shorter DATA_DIR`);
  }
  return { dir, elsewhere: true };
}
