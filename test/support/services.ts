import { pino } from 'pino';
import { afterAll, beforeAll } from 'vitest';
import type { Config } from '../../src/config.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createServices, type Services } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './db.js';

export const silentLogger = pino({ level: 'silent' });

export function testConfig(overrides: Partial<Config> = {}): Config {
  return Object.freeze({
    nodeEnv: 'test',
    port: 0,
    databaseUrl: null,
    migrationsDatabaseUrl: null,
    dataDir: '/nonexistent',
    publicBaseUrl: 'http://pinline.test',
    twilioAuthToken: 'test-twilio-auth-token',
    pinPepper: 'test-pepper-0123456789',
    pinPepperPrevious: [],
    sessionSecret: 'test-session-secret-0123456789',
    sessionSecretPrevious: [],
    defaultLocale: 'en-US',
    logLevel: 'silent',
    voices: { 'en-US': 'Polly.Joanna', 'es-US': 'Polly.Lupe' },
    hashConcurrency: 2,
    hashQueueTimeoutMs: 4000,
    hashQueueLimit: 128,
    dbPoolSize: 10,
    trustProxy: 'loopback',
    metricsToken: null,
    sms: null,
    email: null,
    events: null,
    oidc: null,
    ...overrides,
  });
}

export interface ServiceFixture {
  services: Services;
  pool: Pool;
  database: TestDatabase;
  /** Moves the clock the services see. */
  setNow(date: Date): void;
}

/**
 * Gives the test file its own fresh database and services on it, torn down after the file.
 * Read the fields inside tests or hooks, not at import time.
 */
export function useServices(overrides: Partial<Config> = {}): ServiceFixture {
  const fixture = {} as ServiceFixture;
  let now: Date | null = null;
  beforeAll(async () => {
    fixture.database = await createTestDatabase();
    fixture.pool = createPool(fixture.database.url, silentLogger, 10);
    fixture.services = createServices(testConfig(overrides), silentLogger, fixture.pool, {
      clock: () => now ?? new Date(),
    });
    fixture.setNow = (date) => {
      now = date;
    };
  });
  afterAll(async () => {
    await fixture.pool?.end();
    await fixture.database?.drop();
  });
  return fixture;
}
