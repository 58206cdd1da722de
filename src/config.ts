import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';

/** The validated environment of DESIGN §5, plus a few operational knobs with safe defaults. */
export interface Config {
  readonly nodeEnv: 'production' | 'development' | 'test';
  readonly port: number;
  /** null: an embedded Postgres under `dataDir`. */
  readonly databaseUrl: string | null;
  readonly dataDir: string;
  readonly publicBaseUrl: string;
  readonly twilioAuthToken: string;
  readonly pinPepper: string;
  readonly sessionSecret: string;
  readonly defaultLocale: string;
  readonly logLevel: string;
  /** Twilio `<Say voice>` per locale; a locale without an entry uses Twilio's default voice. */
  readonly voices: Readonly<Record<string, string>>;
  /**
   * Turns that may hold a hashing slot at once: their argon2 work and the database transaction
   * around it. Beyond this, turns queue. argon2 itself runs on at most one thread per core
   * (SecretHasher), so the default of two slots per core keeps every core hashing while other
   * turns wait on Postgres (README, Performance: sign-in throughput).
   */
  readonly hashConcurrency: number;
  /** How long a turn may wait for a hashing slot before the caller hears [system.busy]. */
  readonly hashQueueTimeoutMs: number;
  /** How many turns may wait for a hashing slot at once; beyond this they get [system.busy] at once. */
  readonly hashQueueLimit: number;
  /** Postgres connections per instance; always more than the hashing slots, which each hold one. */
  readonly dbPoolSize: number;
  /**
   * Which proxies' X-Forwarded-For / -Proto to believe (express "trust proxy"): the client
   * address feeds the sign-in rate limits and the audit log, so only trust your own proxies.
   */
  readonly trustProxy: string | number | boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

const REQUIRED_IN_PRODUCTION = [
  'DATABASE_URL',
  'PUBLIC_BASE_URL',
  'TWILIO_AUTH_TOKEN',
  'PIN_PEPPER',
  'SESSION_SECRET',
] as const;

const GENERATED_SECRETS = ['TWILIO_AUTH_TOKEN', 'PIN_PEPPER', 'SESSION_SECRET'] as const;
type GeneratedSecret = (typeof GENERATED_SECRETS)[number];

const DEFAULT_VOICES = 'en-US=Polly.Joanna,es-US=Polly.Lupe';

/** The file under DATA_DIR that keeps development secrets across restarts. */
export function secretsFile(dataDir: string): string {
  return path.join(dataDir, 'secrets.json');
}

/**
 * Reads development secrets from DATA_DIR, generating and saving the missing ones once,
 * so that a restart keeps existing PIN hashes, sessions and Twilio signatures valid.
 */
export function loadOrCreateDevSecrets(dataDir: string): Record<GeneratedSecret, string> {
  const file = secretsFile(dataDir);
  const stored: Partial<Record<GeneratedSecret, string>> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<GeneratedSecret, string>>)
    : {};
  let changed = false;
  for (const name of GENERATED_SECRETS) {
    if (!stored[name]) {
      stored[name] = randomBytes(32).toString('hex');
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true });
    writeFileSync(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
  }
  return stored as Record<GeneratedSecret, string>;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    problems.push(`${name} must be a whole number from ${min} to ${max} (got "${raw}")`);
    return fallback;
  }
  return value;
}

function parseVoices(raw: string, problems: string[]): Record<string, string> {
  const voices: Record<string, string> = {};
  for (const pair of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [locale, voice] = pair.split('=').map((s) => s.trim());
    if (!locale || !voice) {
      problems.push(`VOICES must look like "en-US=Polly.Joanna,es-US=Polly.Lupe" (bad entry "${pair}")`);
      continue;
    }
    voices[locale] = voice;
  }
  return voices;
}

/** "loopback", a list of addresses or subnets, a hop count, or true/false (express's forms). */
function parseTrustProxy(raw: string): string | number | boolean {
  if (/^\d+$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  return raw;
}

/**
 * Builds the configuration from the environment. In production every missing required variable
 * is named in one error; in development missing secrets come from (or are created in) DATA_DIR.
 */
export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const nodeEnv = env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : 'development';

  if (nodeEnv === 'production') {
    const missing = REQUIRED_IN_PRODUCTION.filter((name) => !env[name]);
    if (missing.length > 0) {
      throw new ConfigError(`NODE_ENV=production but these variables are missing: ${missing.join(', ')}`);
    }
  }

  const port = integer(env, 'PORT', 3000, 1, 65535, problems);
  const dataDir = path.resolve(env.DATA_DIR || './data');
  const publicBaseUrl = (env.PUBLIC_BASE_URL || `http://localhost:${port}`).replace(/\/+$/, '');
  try {
    const url = new URL(publicBaseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') problems.push('PUBLIC_BASE_URL must be an http(s) URL');
  } catch {
    problems.push(`PUBLIC_BASE_URL is not a valid URL ("${publicBaseUrl}")`);
  }

  const needsGenerated = GENERATED_SECRETS.some((name) => !env[name]);
  const generated = nodeEnv !== 'production' && needsGenerated ? loadOrCreateDevSecrets(dataDir) : null;
  const secret = (name: GeneratedSecret): string => env[name] || generated?.[name] || '';

  for (const name of ['PIN_PEPPER', 'SESSION_SECRET'] as const) {
    if (secret(name).length < 16) problems.push(`${name} must be at least 16 characters`);
  }

  const logLevel = env.LOG_LEVEL || 'info';
  if (!['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].includes(logLevel)) {
    problems.push(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "${logLevel}")`);
  }
  const defaultLocale = env.DEFAULT_LOCALE || 'en-US';
  if (!/^[a-z]{2}-[A-Z]{2}$/.test(defaultLocale)) problems.push(`DEFAULT_LOCALE must look like en-US (got "${defaultLocale}")`);

  const cores = Math.max(1, availableParallelism());
  const hashConcurrency = integer(env, 'HASH_CONCURRENCY', cores * 2, 1, 256, problems);
  const config: Config = {
    nodeEnv,
    port,
    databaseUrl: env.DATABASE_URL || null,
    dataDir,
    publicBaseUrl,
    twilioAuthToken: secret('TWILIO_AUTH_TOKEN'),
    pinPepper: secret('PIN_PEPPER'),
    sessionSecret: secret('SESSION_SECRET'),
    defaultLocale,
    logLevel,
    voices: Object.freeze(parseVoices(env.VOICES ?? DEFAULT_VOICES, problems)),
    hashConcurrency,
    hashQueueTimeoutMs: integer(env, 'HASH_QUEUE_TIMEOUT_MS', 4000, 100, 10000, problems),
    hashQueueLimit: integer(env, 'HASH_QUEUE_LIMIT', cores * 64, 1, 100000, problems),
    // Each admitted hashing turn holds a connection; the rest serve menu lookups and /readyz.
    dbPoolSize: integer(env, 'DB_POOL_SIZE', Math.max(20, hashConcurrency + 10), 2, 1000, problems),
    trustProxy: parseTrustProxy(env.TRUST_PROXY ?? 'loopback'),
  };
  if (config.dbPoolSize < config.hashConcurrency + 2) {
    problems.push(
      `DB_POOL_SIZE (${config.dbPoolSize}) must be at least HASH_CONCURRENCY + 2 (${config.hashConcurrency + 2}): each hashing turn holds a connection`,
    );
  }
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  return Object.freeze(config);
}
