import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import path from 'node:path';

/** A process, told apart from a later one that reuses its PID (a container restarted, say). */
export interface ProcessId {
  readonly pid: number;
  /** The kernel's start time of the process (/proc/PID/stat, field 22); null where there is no /proc. */
  readonly startTime: string | null;
}

/** What the lock says about the cluster: being started, serving, or being restarted or stopped by its holder. */
export type ClusterState = 'starting' | 'ready' | 'restarting' | 'stopping';

/** The content of the lock file: who is in charge of the embedded cluster, and how it is. */
export interface LockOwner extends ProcessId {
  /** Tells apart two holds of one process (the server and an in-process command). */
  readonly session: string;
  readonly host: string;
  /** Who the holder is, for people: "pinline server on PORT 3000", "pinline CLI". */
  readonly description: string;
  readonly since: string;
  readonly state: ClusterState;
}

function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) is in parentheses and may hold spaces: count from after it.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
  } catch {
    return null;
  }
}

const thisProcess = (): ProcessId => ({ pid: process.pid, startTime: processStartTime(process.pid) });

/** Whether the process still runs (and is the same one: a reused PID has another start time). */
export function isAlive(id: ProcessId): boolean {
  try {
    process.kill(id.pid, 0);
  } catch (err) {
    // EPERM: it runs, as another user.
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  if (id.startTime === null) return true;
  const now = processStartTime(id.pid);
  return now === null || now === id.startTime;
}

const sameProcess = (a: ProcessId, b: ProcessId) => a.pid === b.pid && a.startTime === b.startTime;
const sameHold = (a: ProcessId & { session: string }, b: ProcessId & { session: string }) => sameProcess(a, b) && a.session === b.session;

function readOwner(file: string): LockOwner | null {
  try {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number' || typeof parsed.state !== 'string') return null;
    return { startTime: null, session: '', host: '', description: 'a pinline process', since: '', ...parsed } as LockOwner;
  } catch {
    return null;
  }
}

/** A process of this machine that still runs: a lock held elsewhere (DATA_DIR on a network share) counts as live. */
function isLiveOwner(owner: LockOwner | null): owner is LockOwner {
  if (owner === null) return false;
  return (owner.host !== '' && owner.host !== hostname()) || isAlive(owner);
}

/**
 * The lock file beside DATA_DIR/pg that makes one pinline process (of several started from one
 * checkout) the one in charge of the embedded cluster: it starts it, restarts it if it dies and
 * stops it. It names its holder; a lock whose holder is gone is taken over.
 */
export class ClusterLock {
  private readonly me = { ...thisProcess(), session: randomBytes(8).toString('hex') };

  constructor(
    readonly file: string,
    private readonly description: string,
  ) {}

  private content(state: ClusterState, since = new Date().toISOString()): string {
    const owner: LockOwner = { ...this.me, host: hostname(), description: this.description, since, state };
    return `${JSON.stringify(owner)}\n`;
  }

  /** A file written aside, so that the lock appears whole or not at all (link and rename are atomic). */
  private writeAside(text: string): string {
    const aside = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}`;
    writeFileSync(aside, text, { mode: 0o600 });
    return aside;
  }

  /** The holder, when it still runs; null when the lock is free or its holder is gone. */
  owner(): LockOwner | null {
    const owner = readOwner(this.file);
    return isLiveOwner(owner) ? owner : null;
  }

  holds(): boolean {
    const owner = readOwner(this.file);
    return owner !== null && sameHold(owner, this.me);
  }

  /** Takes the lock if it is free or its holder is gone; true when this process holds it. */
  tryAcquire(): boolean {
    mkdirSync(path.dirname(this.file), { recursive: true });
    for (let attempt = 0; attempt < 3; attempt++) {
      const aside = this.writeAside(this.content('starting'));
      try {
        linkSync(aside, this.file);
        return true;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      } finally {
        rmSync(aside, { force: true });
      }
      const seen = readOwner(this.file);
      if (seen !== null && sameHold(seen, this.me)) return true;
      if (isLiveOwner(seen)) return false;
      // A stale lock: move it away, and make sure what moved is the stale one, not a lock that
      // another process took over meanwhile (which goes back, unless a third took it since).
      const moved = `${this.file}.stale.${process.pid}.${randomBytes(4).toString('hex')}`;
      try {
        renameSync(this.file, moved);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        continue;
      }
      const took = readOwner(moved);
      if (isLiveOwner(took)) {
        try {
          linkSync(moved, this.file);
        } catch {
          // Someone holds it again already.
        }
        rmSync(moved, { force: true });
        return false;
      }
      rmSync(moved, { force: true });
    }
    return false;
  }

  /** Says how the cluster is, for the processes waiting to use it; only while this process holds the lock. */
  setState(state: ClusterState): void {
    const current = readOwner(this.file);
    if (current === null || !sameHold(current, this.me)) return;
    renameSync(this.writeAside(this.content(state, current.since)), this.file);
  }

  release(): void {
    if (this.holds()) rmSync(this.file, { force: true });
  }
}

/**
 * The servers using one embedded cluster, each a file in a directory beside the lock: the holder
 * hands the cluster over, running, when another one is still there.
 */
export class Instances {
  private readonly me = { ...thisProcess(), session: randomBytes(8).toString('hex') };

  constructor(readonly dir: string) {}

  private get file(): string {
    return path.join(this.dir, `${this.me.pid}-${this.me.session}`);
  }

  register(): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    // Written aside and renamed, so that a reader never sees half of it.
    const aside = path.join(this.dir, `.${this.me.pid}-${this.me.session}`);
    writeFileSync(aside, `${JSON.stringify(this.me)}\n`, { mode: 0o600 });
    renameSync(aside, this.file);
  }

  unregister(): void {
    rmSync(this.file, { force: true });
  }

  /** The other registered servers that still run; the files of those gone are removed. */
  others(): ProcessId[] {
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return [];
    }
    const live: ProcessId[] = [];
    for (const name of names) {
      if (name.startsWith('.')) continue;
      const file = path.join(this.dir, name);
      let id: (ProcessId & { session: string }) | null = null;
      try {
        id = JSON.parse(readFileSync(file, 'utf8')) as ProcessId & { session: string };
      } catch {
        // Unreadable: treated as gone.
      }
      if (id !== null && sameHold(id, this.me)) continue;
      if (id !== null && isAlive(id)) live.push(id);
      else rmSync(file, { force: true });
    }
    return live;
  }
}
