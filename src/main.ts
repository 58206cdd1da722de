import { createServer, type Server } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { ensureDemoUser, firstAdminNote } from './demo.js';
import { describeFailure, InputError } from './errors.js';
import { createLogger } from './logger.js';
import { startEventDispatcher } from './events/dispatcher.js';
import { openRuntime } from './runtime.js';

const SHUTDOWN_GRACE_MS = 10_000;

/** Starts listening; rejects with the reason when it cannot (the port is taken, say). */
function listen(server: Server, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function listenFailure(port: number, err: unknown): string {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  const reason = code === 'EADDRINUSE' ? 'the address is in use' : code === 'EACCES' ? 'permission denied' : (err as Error).message;
  return `cannot listen on PORT ${port}: ${reason}`;
}

/** Two first starts at once both find the database new: the one that loses the race leaves the demo user to the other. */
async function ensureDemoUserOnce(runtime: Parameters<typeof ensureDemoUser>[0]): Promise<void> {
  try {
    await ensureDemoUser(runtime, process.stdout);
  } catch (err) {
    if (!(err instanceof InputError && err.code === 'extension_taken')) throw err;
  }
}

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`pinline: ${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
  const logger = createLogger(config.logLevel, config.nodeEnv);
  // Before listening: a server that says it listens can serve (the database is there and migrated).
  const runtime = await openRuntime(config, logger, { embedded: { supervise: true, description: `pinline server on PORT ${config.port}` } });
  // Before the first sign-in, so an unknown ID costs one verification like a wrong PIN (not the CLI's cost).
  await runtime.hasher.prepareDummy();
  // Said once: where each channel's messages go, or that they go nowhere.
  for (const note of runtime.notifications.notes) logger.info(note);
  // A rule saved before rules had to be met by some PIN is reported, never changed behind anyone's back.
  for (const { rule, problem } of await runtime.accounts.unmeetableRules()) {
    logger.warn({ rule }, `authentication rule "${rule}" cannot be met: ${problem}; change it (pinline rule set, /admin/rules or the API)`);
  }
  await runtime.notifications.startWorker();
  // Every audit event POSTed to the operators' webhook, from this instance or another.
  const events = config.events ? startEventDispatcher({ pool: runtime.pool, config: config.events, logger }) : null;
  if (config.nodeEnv !== 'production') await ensureDemoUserOnce(runtime);

  const server = createServer(createApp(runtime));
  try {
    await listen(server, config.port);
  } catch (err) {
    await (events?.stop() ?? Promise.resolve()).then(() => runtime.close());
    process.stderr.write(`pinline: ${listenFailure(config.port, err)}\n`);
    process.exit(1);
  }
  logger.info({ port: config.port, publicBaseUrl: config.publicBaseUrl, embeddedDatabase: !config.databaseUrl }, 'pinline listening');
  server.on('error', (err) => logger.error({ err: { message: err.message } }, 'HTTP server error'));
  void firstAdminNote(runtime).then((note) => note && logger.info(note), () => undefined);

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.warn('requests still open after the grace period; closing them');
      server.closeAllConnections();
    }, SHUTDOWN_GRACE_MS);
    force.unref();
    // Stop accepting, let in-flight turns finish, then release the database.
    server.close(() => {
      clearTimeout(force);
      // The event dispatcher and the notification worker finish what they are sending first.
      (events?.stop() ?? Promise.resolve()).then(() => runtime.close()).then(
        () => {
          logger.info('stopped');
          process.exit(0);
        },
        (err: unknown) => {
          logger.error({ err: { message: (err as Error).message } }, 'closing the database failed');
          process.exit(1);
        },
      );
    });
    server.closeIdleConnections();
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((err: unknown) => {
  // One line, no stack: what the CLI would say (a database that cannot be reached, in its own words).
  const failure = describeFailure(err);
  const message = failure?.detail ?? failure?.message ?? (err instanceof Error ? err.message || err.name : String(err));
  process.stderr.write(`pinline: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(1);
});
