import { randomBytes } from 'node:crypto';
import { existsSync, linkSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { EMAIL_ADDRESS } from './accounts/model.js';

/** The validated environment of DESIGN §5, plus a few operational knobs with safe defaults. */
export interface Config {
  readonly nodeEnv: 'production' | 'development' | 'test';
  readonly port: number;
  /** null: an embedded Postgres under `dataDir`. */
  readonly databaseUrl: string | null;
  /**
   * Where migrations run, when not DATABASE_URL: node-pg-migrate holds a session-level advisory
   * lock, so behind PgBouncer in transaction mode they need a direct connection to Postgres.
   */
  readonly migrationsDatabaseUrl: string | null;
  readonly dataDir: string;
  readonly publicBaseUrl: string;
  readonly twilioAuthToken: string;
  readonly pinPepper: string;
  /** Older peppers whose hashes still verify (PIN_PEPPER_PREVIOUS), newest first: DESIGN §10 rotation. */
  readonly pinPepperPrevious: readonly string[];
  readonly sessionSecret: string;
  /** Other session secrets still accepted (SESSION_SECRET_PREVIOUS), newest first. */
  readonly sessionSecretPrevious: readonly string[];
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
  /** The bearer token that /metrics asks for; null: there is no /metrics. */
  readonly metricsToken: string | null;
  /** Text messages through Twilio's Messages API (DESIGN §8); null: not configured. */
  readonly sms: { readonly accountSid: string; readonly from: string; readonly apiUrl: string } | null;
  /** E-mail through SMTP; null: not configured. */
  readonly email: { readonly smtpUrl: string; readonly from: string } | null;
  /** Every audit event POSTed to this URL, signed the Standard Webhooks way; null: off. */
  readonly events: { readonly url: string; readonly secret: string } | null;
  /** Administrators' single sign-on with OpenID Connect (DESIGN §11); null: local accounts only. */
  readonly oidc: OidcConfig | null;
}

export interface OidcConfig {
  /** The issuer identifier; its discovery document is at `/.well-known/openid-configuration` beneath it. */
  readonly issuer: string;
  readonly clientId: string;
  /** null: a public client, which proves itself by PKCE alone. */
  readonly clientSecret: string | null;
  /** The ID token claim that carries the administrator's role (a string or an array of strings). */
  readonly roleClaim: string;
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
const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
/** Secrets of our own choosing: long enough that guessing them is hopeless. */
const MIN_SECRET_LENGTH = { production: 32, development: 16 } as const;
/** The metrics token only guards counters, but is still a bearer secret. */
const MIN_METRICS_TOKEN_LENGTH = 16;
/** What Twilio issues as an auth token. */
const TWILIO_AUTH_TOKEN_PATTERN = /^[0-9a-f]{32}$/i;

/** The file under DATA_DIR that keeps development secrets across restarts. */
export function secretsFile(dataDir: string): string {
  return path.join(dataDir, 'secrets.json');
}

/**
 * Reads development secrets from DATA_DIR, generating and saving the missing ones once,
 * so that a restart keeps existing PIN hashes, sessions and Twilio signatures valid.
 */
function loadOrCreateDevSecrets(dataDir: string): Record<GeneratedSecret, string> {
  const file = secretsFile(dataDir);
  const stored: Partial<Record<GeneratedSecret, string>> = existsSync(file)
    ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Record<GeneratedSecret, string>>)
    : {};
  let changed = false;
  for (const name of GENERATED_SECRETS) {
    if (!stored[name]) {
      // 32 random bytes as hex: 64 characters, and (for the auth token) the shape of a real one.
      stored[name] = randomBytes(name === 'TWILIO_AUTH_TOKEN' ? 16 : 32).toString('hex');
      changed = true;
    }
  }
  if (changed) {
    mkdirSync(dataDir, { recursive: true });
    // Written aside, then linked (a first start) or renamed into place: two starts at once from one
    // checkout must not each keep secrets of their own, and a reader never sees half a file.
    const aside = `${file}.${process.pid}`;
    writeFileSync(aside, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 });
    try {
      if (existsSync(file)) renameSync(aside, file);
      else linkSync(aside, file);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      return loadOrCreateDevSecrets(dataDir);
    } finally {
      rmSync(aside, { force: true });
    }
  }
  return stored as Record<GeneratedSecret, string>;
}

// ---- the schema: one entry per variable, each message names what is wrong (never a secret's value)

const unset = (value: unknown) => (value === '' ? undefined : value);

function wholeNumber(min: number, max: number) {
  return z
    .string()
    .refine((raw) => /^\d+$/.test(raw) && Number(raw) >= min && Number(raw) <= max, {
      error: (issue) => `must be a whole number from ${min} to ${max} (got "${String(issue.input)}")`,
    })
    .transform(Number);
}

const httpUrl = z.string().refine(
  (raw) => {
    try {
      return ['http:', 'https:'].includes(new URL(raw).protocol);
    } catch {
      return false;
    }
  },
  { error: (issue) => `is not a valid URL, or not http(s) ("${String(issue.input)}")` },
);

/** Hosts where plain http stays on the machine: an identity provider there needs no TLS (the tests' own). */
function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);
}

/** An issuer is https; plain http only on a loopback host, where nothing crosses a network. */
const issuerUrl = z.string().refine(
  (raw) => {
    try {
      const url = new URL(raw);
      return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopbackHost(url.hostname));
    } catch {
      return false;
    }
  },
  { error: (issue) => `must be an https:// URL (plain http only on localhost) (got "${String(issue.input)}")` },
);

/** "loopback", a list of addresses or subnets, a hop count, or true/false (express's forms). */
const trustProxy = z.string().transform((raw): string | number | boolean => {
  if (/^\d+$/.test(raw)) return Number(raw);
  if (raw === 'true' || raw === 'false') return raw === 'true';
  return raw;
});

const voices = z.string().transform((raw, ctx) => {
  const parsed: Record<string, string> = {};
  for (const pair of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [locale, voice] = pair.split('=').map((s) => s.trim());
    if (!locale || !voice) {
      ctx.addIssue({ code: 'custom', message: `must look like "${DEFAULT_VOICES}" (bad entry "${pair}")` });
      return z.NEVER;
    }
    parsed[locale] = voice;
  }
  return Object.freeze(parsed);
});

/** A comma-separated list of secrets (a secret has no comma: `openssl rand -hex 32` makes none). */
const secretList = z.string().transform((raw) =>
  Object.freeze(
    raw
      .split(',')
      .map((secret) => secret.trim())
      .filter(Boolean),
  ),
);

const cores = Math.max(1, availableParallelism());

const EnvSchema = z.object({
  PORT: z.preprocess(unset, wholeNumber(1, 65535).optional()),
  DATABASE_URL: z.preprocess(unset, z.string().optional()),
  MIGRATIONS_DATABASE_URL: z.preprocess(unset, z.string().optional()),
  DATA_DIR: z.preprocess(unset, z.string().optional()),
  PUBLIC_BASE_URL: z.preprocess(unset, httpUrl.optional()),
  DEFAULT_LOCALE: z.preprocess(
    unset,
    z
      .string()
      .regex(/^[a-z]{2}-[A-Z]{2}$/, { error: (issue) => `must look like en-US (got "${String(issue.input)}")` })
      .default('en-US'),
  ),
  LOG_LEVEL: z.preprocess(
    unset,
    z.enum(LOG_LEVELS, { error: (issue) => `must be one of ${LOG_LEVELS.join(', ')} (got "${String(issue.input)}")` }).default('info'),
  ),
  VOICES: z.preprocess(unset, voices.default(voices.parse(DEFAULT_VOICES))),
  HASH_CONCURRENCY: z.preprocess(unset, wholeNumber(1, 256).default(cores * 2)),
  HASH_QUEUE_TIMEOUT_MS: z.preprocess(unset, wholeNumber(100, 10000).default(4000)),
  HASH_QUEUE_LIMIT: z.preprocess(unset, wholeNumber(1, 100000).default(cores * 64)),
  DB_POOL_SIZE: z.preprocess(unset, wholeNumber(2, 1000).optional()),
  TRUST_PROXY: z.preprocess(unset, trustProxy.default('loopback')),
  // A bearer token is one word: a space could never match an Authorization header.
  PIN_PEPPER_PREVIOUS: z.preprocess(unset, secretList.default([])),
  SESSION_SECRET_PREVIOUS: z.preprocess(unset, secretList.default([])),
  METRICS_TOKEN: z.preprocess(unset, z.string().regex(/^\S+$/, { error: 'must not contain spaces' }).optional()),
  TWILIO_ACCOUNT_SID: z.preprocess(
    unset,
    z.string().regex(/^AC[0-9a-fA-F]{32}$/, { error: 'must be a Twilio account SID (AC and 32 hexadecimal characters)' }).optional(),
  ),
  TWILIO_SMS_FROM: z.preprocess(
    unset,
    z
      .string()
      .regex(/^(\+[1-9][0-9]{1,14}|MG[0-9a-fA-F]{32})$/, { error: 'must be an E.164 number (like +15551230001) or a messaging service SID (MG…)' })
      .optional(),
  ),
  TWILIO_API_URL: z.preprocess(unset, httpUrl.default('https://api.twilio.com')),
  SMTP_URL: z.preprocess(
    unset,
    z
      .string()
      .refine((raw) => {
        try {
          return ['smtp:', 'smtps:'].includes(new URL(raw).protocol);
        } catch {
          return false;
        }
      }, { error: 'must be an smtp:// or smtps:// URL' })
      .optional(),
  ),
  MAIL_FROM: z.preprocess(unset, z.string().regex(EMAIL_ADDRESS, { error: 'must be an e-mail address, like pinline@example.com' }).optional()),
  EVENTS_WEBHOOK_URL: z.preprocess(unset, httpUrl.optional()),
  // Standard Webhooks secrets are base64, usually written with a whsec_ prefix.
  EVENTS_WEBHOOK_SECRET: z.preprocess(
    unset,
    z.string().regex(/^(whsec_)?[A-Za-z0-9+/]{24,}={0,2}$/, { error: 'must be a Standard Webhooks secret (whsec_ and base64 of at least 18 bytes)' }).optional(),
  ),
  OIDC_ISSUER: z.preprocess(unset, issuerUrl.optional()),
  OIDC_CLIENT_ID: z.preprocess(unset, z.string().regex(/^[\x21-\x7e]+$/, { error: 'must be printable characters without spaces' }).optional()),
  OIDC_CLIENT_SECRET: z.preprocess(unset, z.string().regex(/^[\x21-\x7e]+$/, { error: 'must be printable characters without spaces' }).optional()),
  OIDC_ROLE_CLAIM: z.preprocess(
    unset,
    z.string().regex(/^[\x21-\x7e]+$/, { error: 'must be a claim name: printable characters without spaces' }).default('pinline_role'),
  ),
});

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.join('.')} ${issue.message}`).join('; ');
}

/**
 * Builds the configuration from the environment, through one schema. In production every
 * missing required variable is named in one error, and weak secrets are refused; in development
 * missing secrets come from (or are created in) DATA_DIR.
 */
export function loadConfig(env: Env = process.env): Config {
  const nodeEnv = env.NODE_ENV === 'production' ? 'production' : env.NODE_ENV === 'test' ? 'test' : 'development';
  if (nodeEnv === 'production') {
    const missing = REQUIRED_IN_PRODUCTION.filter((name) => !env[name]);
    if (missing.length > 0) {
      throw new ConfigError(`NODE_ENV=production but these variables are missing: ${missing.join(', ')}`);
    }
  }

  const parsed = EnvSchema.safeParse(env);
  const problems: string[] = parsed.success ? [] : [describeIssues(parsed.error)];
  const vars = parsed.success ? parsed.data : null;

  const port = vars?.PORT ?? 3000;
  const dataDir = path.resolve(vars?.DATA_DIR ?? './data');
  const needsGenerated = GENERATED_SECRETS.some((name) => !env[name]);
  const generated = nodeEnv !== 'production' && needsGenerated ? loadOrCreateDevSecrets(dataDir) : null;
  const secret = (name: GeneratedSecret): string => env[name] || generated?.[name] || '';
  const previous = {
    PIN_PEPPER: vars?.PIN_PEPPER_PREVIOUS ?? [],
    SESSION_SECRET: vars?.SESSION_SECRET_PREVIOUS ?? [],
  };
  problems.push(...secretProblems(nodeEnv === 'production' ? 'production' : 'development', secret, previous));

  if (!vars) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
  const hashConcurrency = vars.HASH_CONCURRENCY;
  // Each admitted hashing turn holds a connection; the rest serve menu lookups and /readyz.
  const dbPoolSize = vars.DB_POOL_SIZE ?? Math.max(20, hashConcurrency + 10);
  if (dbPoolSize < hashConcurrency + 2) {
    problems.push(
      `DB_POOL_SIZE (${dbPoolSize}) must be at least HASH_CONCURRENCY + 2 (${hashConcurrency + 2}): each hashing turn holds a connection`,
    );
  }
  const metricsToken = vars.METRICS_TOKEN ?? null;
  if (nodeEnv === 'production' && metricsToken !== null && metricsToken.length < MIN_METRICS_TOKEN_LENGTH) {
    problems.push(`METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN_LENGTH} characters`);
  }
  problems.push(...pairProblems(vars), ...oidcProblems(vars));
  if (problems.length > 0) throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);

  return Object.freeze({
    nodeEnv,
    port,
    databaseUrl: vars.DATABASE_URL ?? null,
    migrationsDatabaseUrl: vars.MIGRATIONS_DATABASE_URL ?? null,
    dataDir,
    publicBaseUrl: (vars.PUBLIC_BASE_URL ?? `http://localhost:${port}`).replace(/\/+$/, ''),
    twilioAuthToken: secret('TWILIO_AUTH_TOKEN'),
    pinPepper: secret('PIN_PEPPER'),
    pinPepperPrevious: vars.PIN_PEPPER_PREVIOUS,
    sessionSecret: secret('SESSION_SECRET'),
    sessionSecretPrevious: vars.SESSION_SECRET_PREVIOUS,
    defaultLocale: vars.DEFAULT_LOCALE,
    logLevel: vars.LOG_LEVEL,
    voices: vars.VOICES,
    hashConcurrency,
    hashQueueTimeoutMs: vars.HASH_QUEUE_TIMEOUT_MS,
    hashQueueLimit: vars.HASH_QUEUE_LIMIT,
    dbPoolSize,
    trustProxy: vars.TRUST_PROXY,
    metricsToken,
    sms:
      vars.TWILIO_ACCOUNT_SID && vars.TWILIO_SMS_FROM
        ? Object.freeze({ accountSid: vars.TWILIO_ACCOUNT_SID, from: vars.TWILIO_SMS_FROM, apiUrl: vars.TWILIO_API_URL.replace(/\/+$/, '') })
        : null,
    email: vars.SMTP_URL && vars.MAIL_FROM ? Object.freeze({ smtpUrl: vars.SMTP_URL, from: vars.MAIL_FROM }) : null,
    events:
      vars.EVENTS_WEBHOOK_URL && vars.EVENTS_WEBHOOK_SECRET
        ? Object.freeze({ url: vars.EVENTS_WEBHOOK_URL, secret: vars.EVENTS_WEBHOOK_SECRET })
        : null,
    oidc: vars.OIDC_ISSUER
      ? Object.freeze({
          issuer: vars.OIDC_ISSUER,
          clientId: vars.OIDC_CLIENT_ID ?? '',
          clientSecret: vars.OIDC_CLIENT_SECRET ?? null,
          roleClaim: vars.OIDC_ROLE_CLAIM,
        })
      : null,
  });
}

/** Single sign-on needs its client id; a client id or secret without an issuer would be silently unused. */
function oidcProblems(vars: z.output<typeof EnvSchema>): string[] {
  if (vars.OIDC_ISSUER) return vars.OIDC_CLIENT_ID ? [] : ['OIDC_CLIENT_ID is needed with OIDC_ISSUER'];
  return (['OIDC_CLIENT_ID', 'OIDC_CLIENT_SECRET'] as const)
    .filter((name) => vars[name] !== undefined)
    .map((name) => `OIDC_ISSUER is needed with ${name}`);
}

/** Settings that only work together: half of a pair is a mistake, not a wish to leave it off. */
function pairProblems(vars: z.output<typeof EnvSchema>): string[] {
  const pairs: ReadonlyArray<[string, unknown, string, unknown]> = [
    ['TWILIO_ACCOUNT_SID', vars.TWILIO_ACCOUNT_SID, 'TWILIO_SMS_FROM', vars.TWILIO_SMS_FROM],
    ['SMTP_URL', vars.SMTP_URL, 'MAIL_FROM', vars.MAIL_FROM],
    ['EVENTS_WEBHOOK_URL', vars.EVENTS_WEBHOOK_URL, 'EVENTS_WEBHOOK_SECRET', vars.EVENTS_WEBHOOK_SECRET],
  ];
  return pairs
    .filter(([, a, , b]) => (a === undefined) !== (b === undefined))
    .map(([nameA, a, nameB]) => (a === undefined ? `${nameA} is needed with ${nameB}` : `${nameB} is needed with ${nameA}`));
}

/**
 * DESIGN §7: in production the pepper and session secret are long and distinct, and the auth
 * token is Twilio's. The previous secrets of rotation (§10) are held to the same length, and to
 * the same distinctness; each names its variable and place in the list, never its value.
 */
function secretProblems(
  strictness: 'production' | 'development',
  secret: (name: GeneratedSecret) => string,
  previous: Readonly<Record<'PIN_PEPPER' | 'SESSION_SECRET', readonly string[]>>,
): string[] {
  const problems: string[] = [];
  const minLength = MIN_SECRET_LENGTH[strictness];
  for (const name of ['PIN_PEPPER', 'SESSION_SECRET'] as const) {
    if (secret(name).length < minLength) problems.push(`${name} must be at least ${minLength} characters`);
    const list = previous[name];
    list.forEach((older, index) => {
      const which = list.length > 1 ? `${name}_PREVIOUS (entry ${index + 1})` : `${name}_PREVIOUS`;
      if (older.length < minLength) problems.push(`${which} must be at least ${minLength} characters`);
      if (older === secret(name)) problems.push(`${which} repeats ${name}: list only other secrets`);
      else if (list.indexOf(older) < index) problems.push(`${which} repeats an earlier entry`);
    });
  }
  if (strictness === 'production') {
    const peppers = [secret('PIN_PEPPER'), ...previous.PIN_PEPPER];
    const sessionSecrets = new Set([secret('SESSION_SECRET'), ...previous.SESSION_SECRET]);
    if (secret('PIN_PEPPER') === secret('SESSION_SECRET')) problems.push('PIN_PEPPER and SESSION_SECRET must differ');
    else if (peppers.some((pepper) => sessionSecrets.has(pepper))) {
      problems.push('a pepper (PIN_PEPPER, PIN_PEPPER_PREVIOUS) must not also be a session secret (SESSION_SECRET, SESSION_SECRET_PREVIOUS)');
    }
    if (!TWILIO_AUTH_TOKEN_PATTERN.test(secret('TWILIO_AUTH_TOKEN'))) {
      problems.push("TWILIO_AUTH_TOKEN must be the account's auth token (32 hexadecimal characters)");
    }
  }
  return problems;
}
