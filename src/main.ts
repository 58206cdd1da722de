import type { Server } from 'node:http';
import { createApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { ensureDemoUser } from './demo.js';
import { createLogger } from './logger.js';
import { startEventDispatcher } from './events/dispatcher.js';
import { openRuntime } from './runtime.js';

const SHUTDOWN_GRACE_MS = 10_000;

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
  const runtime = await openRuntime(config, logger);
  // Said once: where each channel's messages go, or that they go nowhere.
  for (const note of runtime.notifications.notes) logger.info({ notifications: note }, note);
  // A rule saved before rules had to be met by some PIN is reported, never changed behind anyone's back.
  for (const { rule, problem } of await runtime.accounts.unmeetableRules()) {
    logger.warn({ rule }, `authentication rule "${rule}" cannot be met: ${problem}; change it (pinline rule set, /admin/rules or the API)`);
  }
  await runtime.notifications.startWorker();
  // Every audit event POSTed to the operators' webhook, from this instance or another.
  const events = config.events ? startEventDispatcher({ pool: runtime.pool, config: config.events, logger }) : null;
  if (config.nodeEnv !== 'production') await ensureDemoUser(runtime, process.stdout);

  const app = createApp(runtime);
  const server: Server = app.listen(config.port, () => {
    logger.info({ port: config.port, publicBaseUrl: config.publicBaseUrl, embeddedDatabase: !config.databaseUrl }, 'pinline listening');
  });
  server.on('error', (err) => {
    logger.fatal({ err: { message: err.message } }, 'cannot listen');
    void runtime.close().finally(() => process.exit(1));
  });

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
  process.stderr.write(`pinline: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
