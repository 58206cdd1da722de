import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, chmodSync, constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { freePort } from '../../src/net.js';

/** Debian's PgBouncer (apt-get install pgbouncer); .ci/run installs it. */
const PGBOUNCER_PATH = process.env.PGBOUNCER_PATH ?? '/usr/sbin/pgbouncer';

function installed(): boolean {
  try {
    accessSync(PGBOUNCER_PATH, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export const hasPgBouncer = installed();
export const PGBOUNCER_SKIP_REASON = `PgBouncer tests skipped: no PgBouncer at ${PGBOUNCER_PATH} (apt-get install pgbouncer, or set PGBOUNCER_PATH)`;

export interface PgBouncer {
  readonly port: number;
  /** The same database and user as `databaseUrl`, through this PgBouncer. */
  url(databaseUrl: string): string;
  stop(): Promise<void>;
}

/**
 * A real PgBouncer in transaction mode in front of the Postgres of `serverUrl`, with its defaults
 * except `settings`: every database name is passed through, and PgBouncer logs in as that URL's
 * user (auth_type = any), so the test databases need no entries of their own.
 */
export async function startPgBouncer(serverUrl: string, settings: Record<string, string> = {}): Promise<PgBouncer> {
  const server = new URL(serverUrl);
  const dir = mkdtempSync(path.join(tmpdir(), 'pinline-pgbouncer-'));
  // As root PgBouncer runs as the postgres user (it refuses root), which must read its config.
  chmodSync(dir, 0o755);
  const port = await freePort();
  const login = [`user=${decodeURIComponent(server.username) || 'postgres'}`, server.password ? `password=${decodeURIComponent(server.password)}` : ''];
  const ini = [
    '[databases]',
    // The embedded Postgres listens on a Unix socket only: `?host=` names its directory.
    `* = host=${server.searchParams.get('host') ?? server.hostname} port=${server.port || '5432'} ${login.join(' ').trim()}`,
    '[pgbouncer]',
    'listen_addr = 127.0.0.1',
    `listen_port = ${port}`,
    'unix_socket_dir =',
    'pool_mode = transaction',
    'auth_type = any',
    ...Object.entries(settings).map(([name, value]) => `${name} = ${value}`),
  ].join('\n');
  const file = path.join(dir, 'pgbouncer.ini');
  writeFileSync(file, `${ini}\n`, { mode: 0o644 });
  const args = userInfo().uid === 0 ? ['-u', 'postgres', file] : [file];
  const child: ChildProcess = spawn(PGBOUNCER_PATH, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = (databaseUrl: string) => {
    const through = new URL(databaseUrl);
    through.hostname = '127.0.0.1';
    through.port = String(port);
    through.searchParams.delete('host');
    return through.toString();
  };

  // Ready once it accepts a client and reaches the server.
  const deadline = Date.now() + 10_000;
  for (;;) {
    const probe = new pg.Client({ connectionString: url(serverUrl), connectionTimeoutMillis: 1000 });
    try {
      await probe.connect();
      await probe.query('SELECT 1');
      await probe.end();
      break;
    } catch (err) {
      await probe.end().catch(() => undefined);
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGTERM');
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`PgBouncer did not start: ${(err as Error).message}\n${log}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    port,
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
