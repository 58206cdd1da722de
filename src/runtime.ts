import { availableParallelism } from 'node:os';
import path from 'node:path';
import { ApiTokenService } from './accounts/api-tokens.js';
import { UserImport } from './accounts/import.js';
import { ReportService } from './accounts/reports.js';
import { AccountService } from './accounts/service.js';
import { WebCredentialService } from './accounts/web-credentials.js';
import { AuditService } from './audit/service.js';
import type { Config } from './config.js';
import { pepperRing, sessionKeyRing, type KeyRing, type SessionSecret } from './keys.js';
import { loadMessageTexts } from './notify/messages.js';
import { NotificationQueue, type RetryPolicy } from './notify/queue.js';
import { createTransports } from './notify/transports.js';
import { startEmbeddedPostgres, type EmbeddedDatabase, type EmbeddedOptions } from './db/embedded.js';
import { migrate, pendingMigrations } from './db/migrate.js';
import { createPool, type Pool } from './db/pool.js';
import type { Logger } from './logger.js';
import { Metrics } from './metrics.js';
import { loadCommonPins } from './pin/common-pins.js';
import { HashGate } from './pin/hash-gate.js';
import { SecretHasher, type HashParameters, DEFAULT_HASH_PARAMETERS } from './pin/hasher.js';
import { PinService } from './pin/service.js';
import { loadPromptCatalog, type PromptCatalog } from './prompts.js';

/** Everything the HTTP app and the CLI work with, wired once. */
export interface Services {
  config: Config;
  logger: Logger;
  pool: Pool;
  hasher: SecretHasher;
  gate: HashGate;
  pins: PinService;
  accounts: AccountService;
  /** Bulk import from CSV (DESIGN §9), for the CLI and the admin web. */
  userImport: UserImport;
  webCredentials: WebCredentialService;
  apiTokens: ApiTokenService;
  audit: AuditService;
  /** The reports of DESIGN §9, judged at the services' clock. */
  reports: ReportService;
  catalog: PromptCatalog;
  /** This instance's counts, served at /metrics when METRICS_TOKEN is set. */
  metrics: Metrics;
  /** Queues messages to users; the server also delivers them (startWorker). */
  notifications: NotificationQueue;
  /** SESSION_SECRET, then SESSION_SECRET_PREVIOUS: the keys of sessions, calls and queued messages. */
  sessionKeys: KeyRing<SessionSecret>;
}

export interface Runtime extends Services {
  databaseUrl: string;
  /** Closes the pool, then stops an embedded Postgres this process started. */
  close(): Promise<void>;
}

/** Builds the services on an open pool (used by tests, which bring their own database). */
export function createServices(
  config: Config,
  logger: Logger,
  pool: Pool,
  options: { hashParameters?: HashParameters; clock?: () => Date; notificationRetry?: RetryPolicy } = {},
): Services {
  const catalog = loadPromptCatalog();
  const sessionKeys = sessionKeyRing(config.sessionSecret, config.sessionSecretPrevious);
  if (!catalog.has(config.defaultLocale)) {
    throw new Error(`DEFAULT_LOCALE ${config.defaultLocale} has no prompts/${config.defaultLocale}.json`);
  }
  // argon2 on at most one thread per core; the gate admits more turns than that, so that while
  // some wait on Postgres inside their slot, others keep every core hashing.
  const hasher = new SecretHasher(
    pepperRing(config.pinPepper, config.pinPepperPrevious),
    options.hashParameters ?? DEFAULT_HASH_PARAMETERS,
    Math.min(config.hashConcurrency, Math.max(1, availableParallelism())),
    (pepperId) => logger.warn({ pepperId }, 'a hash names a pepper this instance does not hold: list it in PIN_PEPPER_PREVIOUS'),
  );
  const gate = new HashGate(config.hashConcurrency, config.hashQueueLimit, config.hashQueueTimeoutMs);
  const metrics = new Metrics({ gate, pool });
  const notifications = new NotificationQueue({
    pool,
    transports: createTransports(config),
    texts: loadMessageTexts(),
    sessionKeys,
    logger,
    onDelivery: (channel, result) => metrics.delivery(channel, result),
    ...(options.notificationRetry ? { retry: options.notificationRetry } : {}),
  });
  const commonPins = loadCommonPins();
  const pins = new PinService({
    notifier: notifications,
    pool,
    hasher,
    gate,
    commonPins,
    observer: metrics,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const accounts = new AccountService(pool, pins, notifications, catalog.localeNames, config.defaultLocale, commonPins);
  const webCredentials = new WebCredentialService(pool, hasher, gate, notifications);
  return {
    config,
    logger,
    pool,
    hasher,
    gate,
    pins,
    accounts,
    userImport: new UserImport({ pool, accounts, pins, notifier: notifications }),
    webCredentials,
    apiTokens: new ApiTokenService(pool),
    audit: new AuditService(pool),
    reports: new ReportService(pool, options.clock),
    catalog,
    metrics,
    notifications,
    sessionKeys,
  };
}

/**
 * Opens the database (DATABASE_URL, or the embedded Postgres under DATA_DIR/pg, started or shared
 * with another pinline process), applies pending migrations (the migrator runs only when one query
 * finds some), and builds the services. `embedded`: how this process holds the embedded cluster
 * (the server watches it; a command only uses it).
 */
export async function openRuntime(
  config: Config,
  logger: Logger,
  options: { embedded?: Pick<EmbeddedOptions, 'supervise' | 'description'> } = {},
): Promise<Runtime> {
  let embedded: EmbeddedDatabase | null = null;
  let databaseUrl = config.databaseUrl;
  if (!databaseUrl) {
    embedded = await startEmbeddedPostgres(path.join(config.dataDir, 'pg'), logger, options.embedded ?? { description: 'a pinline command' });
    databaseUrl = embedded.databaseUrl;
  }
  const pool = createPool(databaseUrl, logger, config.dbPoolSize);
  try {
    if ((await pendingMigrations(pool)).length > 0) {
      const applied = await migrate(config.migrationsDatabaseUrl ?? databaseUrl, logger);
      if (applied.length > 0) logger.info({ migrations: applied }, 'database migrated');
    }
  } catch (err) {
    await pool.end();
    await embedded?.stop();
    throw err;
  }
  const services = createServices(config, logger, pool);
  return {
    ...services,
    databaseUrl,
    async close() {
      await services.notifications.stop();
      await pool.end();
      await embedded?.stop();
    },
  };
}
