import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, secretsFile } from '../src/config.js';

const dataDir = () => mkdtempSync(path.join(tmpdir(), 'pinline-config-'));

const STRONG_SECRETS = {
  TWILIO_AUTH_TOKEN: '0123456789abcdef0123456789ABCDEF',
  PIN_PEPPER: 'pepper-0123456789abcdef0123456789abcdef',
  SESSION_SECRET: 'session-0123456789abcdef0123456789abcdef',
};
const PRODUCTION = { NODE_ENV: 'production', DATABASE_URL: 'postgres://db/pinline', PUBLIC_BASE_URL: 'https://pin.example', ...STRONG_SECRETS };

describe('configuration', () => {
  it('when production misses required variables, then the start is refused naming every one', () => {
    expect(() => loadConfig({ NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://pin.example' })).toThrow(
      new ConfigError('NODE_ENV=production but these variables are missing: DATABASE_URL, TWILIO_AUTH_TOKEN, PIN_PEPPER, SESSION_SECRET'),
    );
  });

  it('when production has everything, then the values are used as given and nothing is generated', () => {
    const dir = dataDir();
    const config = loadConfig({
      NODE_ENV: 'production',
      DATABASE_URL: 'postgres://db/pinline',
      PUBLIC_BASE_URL: 'https://pin.example/',
      ...STRONG_SECRETS,
      DATA_DIR: dir,
      PORT: '8080',
    });
    expect(config).toMatchObject({ nodeEnv: 'production', port: 8080, publicBaseUrl: 'https://pin.example', databaseUrl: 'postgres://db/pinline' });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => statSync(secretsFile(dir))).toThrow();
  });

  it.each([
    [{ TWILIO_AUTH_TOKEN: 'x' }, /TWILIO_AUTH_TOKEN must be the account's auth token \(32 hexadecimal characters\)/],
    [{ PIN_PEPPER: 'pepper-0123456789' }, /PIN_PEPPER must be at least 32 characters/],
    [{ SESSION_SECRET: 'session-0123456789' }, /SESSION_SECRET must be at least 32 characters/],
    [{ SESSION_SECRET: STRONG_SECRETS.PIN_PEPPER }, /PIN_PEPPER and SESSION_SECRET must differ/],
  ])('when production is given a weak secret (%j), then the start is refused naming it', (weak, message) => {
    expect(() => loadConfig({ ...PRODUCTION, DATA_DIR: dataDir(), ...weak })).toThrow(message);
  });

  it('when previous secrets are listed, then they are kept newest first, trimmed; unset, there are none', () => {
    const config = loadConfig({
      ...PRODUCTION,
      DATA_DIR: dataDir(),
      PIN_PEPPER_PREVIOUS: ' older-pepper-0123456789abcdef0123456789 , oldest-pepper-0123456789abcdef012345678 ',
      SESSION_SECRET_PREVIOUS: 'older-session-0123456789abcdef0123456789',
    });
    expect(config.pinPepperPrevious).toEqual(['older-pepper-0123456789abcdef0123456789', 'oldest-pepper-0123456789abcdef012345678']);
    expect(config.sessionSecretPrevious).toEqual(['older-session-0123456789abcdef0123456789']);
    expect(loadConfig({ ...PRODUCTION, DATA_DIR: dataDir() })).toMatchObject({ pinPepperPrevious: [], sessionSecretPrevious: [] });
  });

  it.each([
    [{ PIN_PEPPER_PREVIOUS: 'short-old-pepper' }, /PIN_PEPPER_PREVIOUS must be at least 32 characters/],
    [{ SESSION_SECRET_PREVIOUS: `session-old-0123456789abcdef0123456789,short-old-secret` }, /SESSION_SECRET_PREVIOUS \(entry 2\) must be at least 32 characters/],
    [{ PIN_PEPPER_PREVIOUS: STRONG_SECRETS.PIN_PEPPER }, /PIN_PEPPER_PREVIOUS repeats PIN_PEPPER/],
    [{ SESSION_SECRET_PREVIOUS: STRONG_SECRETS.SESSION_SECRET }, /SESSION_SECRET_PREVIOUS repeats SESSION_SECRET/],
    [{ PIN_PEPPER_PREVIOUS: STRONG_SECRETS.SESSION_SECRET }, /a pepper \(PIN_PEPPER, PIN_PEPPER_PREVIOUS\) must not also be a session secret/],
  ])('when production is given a weak or repeated previous secret (%j), then the start is refused naming the variable, never the value', (weak, message) => {
    const refuse = () => loadConfig({ ...PRODUCTION, DATA_DIR: dataDir(), ...weak });
    expect(refuse).toThrow(message);
    for (const value of Object.values(weak).flatMap((list) => list.split(','))) {
      expect(refuse).toThrow(expect.objectContaining({ message: expect.not.stringContaining(value) }));
    }
  });

  it('when a weak secret is refused, then its value is not in the message', () => {
    expect(() => loadConfig({ ...PRODUCTION, DATA_DIR: dataDir(), PIN_PEPPER: 'a-secret-pepper' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('a-secret-pepper') }),
    );
  });

  it('when text messages, e-mail and events are configured, then each is on; when none is, then all are off', () => {
    const on = loadConfig({
      DATA_DIR: dataDir(),
      TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
      TWILIO_SMS_FROM: '+15550001000',
      TWILIO_API_URL: 'http://127.0.0.1:9/',
      SMTP_URL: 'smtp://mail.internal:25',
      MAIL_FROM: 'pinline@example.com',
      EVENTS_WEBHOOK_URL: 'https://hooks.example.com/pinline',
      EVENTS_WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
    });
    expect(on).toMatchObject({
      sms: { accountSid: `AC${'0'.repeat(32)}`, from: '+15550001000', apiUrl: 'http://127.0.0.1:9' },
      email: { smtpUrl: 'smtp://mail.internal:25', from: 'pinline@example.com' },
      events: { url: 'https://hooks.example.com/pinline' },
    });
    expect(loadConfig({ DATA_DIR: dataDir() })).toMatchObject({ sms: null, email: null, events: null });
  });

  it.each([
    [{ TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}` }, /TWILIO_SMS_FROM is needed with TWILIO_ACCOUNT_SID/],
    [{ MAIL_FROM: 'pinline@example.com' }, /SMTP_URL is needed with MAIL_FROM/],
    [{ EVENTS_WEBHOOK_URL: 'https://hooks.example.com' }, /EVENTS_WEBHOOK_SECRET is needed with EVENTS_WEBHOOK_URL/],
    [{ SMTP_URL: 'http://mail', MAIL_FROM: 'a@b.c' }, /SMTP_URL must be an smtp:\/\/ or smtps:\/\/ URL/],
    [{ TWILIO_ACCOUNT_SID: 'AC1', TWILIO_SMS_FROM: '+1555' }, /TWILIO_ACCOUNT_SID must be a Twilio account SID/],
  ])('when a delivery setting is half there or malformed (%j), then the start is refused naming it', (env, message) => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), ...env })).toThrow(message);
  });

  it('when OIDC_ISSUER is set with its client, then single sign-on is on with the default role claim; unset, it is off', () => {
    const on = loadConfig({
      DATA_DIR: dataDir(),
      OIDC_ISSUER: 'https://login.example.com/tenant',
      OIDC_CLIENT_ID: 'pinline',
      OIDC_CLIENT_SECRET: 'a-client-secret',
    });
    expect(on.oidc).toEqual({ issuer: 'https://login.example.com/tenant', clientId: 'pinline', clientSecret: 'a-client-secret', roleClaim: 'pinline_role' });
    const publicClient = loadConfig({ DATA_DIR: dataDir(), OIDC_ISSUER: 'http://127.0.0.1:8080', OIDC_CLIENT_ID: 'pinline', OIDC_ROLE_CLAIM: 'roles' });
    expect(publicClient.oidc).toEqual({ issuer: 'http://127.0.0.1:8080', clientId: 'pinline', clientSecret: null, roleClaim: 'roles' });
    expect(loadConfig({ DATA_DIR: dataDir(), OIDC_ISSUER: 'http://localhost:8080', OIDC_CLIENT_ID: 'pinline' }).oidc).not.toBeNull();
    expect(loadConfig({ DATA_DIR: dataDir() }).oidc).toBeNull();
  });

  it.each([
    [{ OIDC_ISSUER: 'https://login.example.com' }, /OIDC_CLIENT_ID is needed with OIDC_ISSUER/],
    [{ OIDC_CLIENT_ID: 'pinline' }, /OIDC_ISSUER is needed with OIDC_CLIENT_ID/],
    [{ OIDC_CLIENT_SECRET: 'secret' }, /OIDC_ISSUER is needed with OIDC_CLIENT_SECRET/],
    [{ OIDC_ISSUER: 'login.example.com', OIDC_CLIENT_ID: 'pinline' }, /OIDC_ISSUER must be an https:\/\/ URL/],
    [{ OIDC_ISSUER: 'http://login.example.com', OIDC_CLIENT_ID: 'pinline' }, /OIDC_ISSUER must be an https:\/\/ URL \(plain http only on localhost\)/],
    [{ OIDC_ISSUER: 'https://login.example.com', OIDC_CLIENT_ID: 'pin line' }, /OIDC_CLIENT_ID must be printable characters without spaces/],
    [{ OIDC_ISSUER: 'https://login.example.com', OIDC_CLIENT_ID: 'pinline', OIDC_ROLE_CLAIM: 'my role' }, /OIDC_ROLE_CLAIM must be a claim name/],
  ])('when single sign-on is half there or malformed (%j), then the start is refused naming it', (env, message) => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), ...env })).toThrow(message);
  });

  it('when development has no secrets, then they are generated once, kept in DATA_DIR, and reused on restart', () => {
    const dir = dataDir();
    const first = loadConfig({ DATA_DIR: dir });
    const second = loadConfig({ DATA_DIR: dir });
    expect(first.pinPepper).toHaveLength(64);
    expect(second.pinPepper).toBe(first.pinPepper);
    expect(second.sessionSecret).toBe(first.sessionSecret);
    expect(second.twilioAuthToken).toBe(first.twilioAuthToken);
    expect(statSync(secretsFile(dir)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(secretsFile(dir), 'utf8'))).toHaveProperty('PIN_PEPPER', first.pinPepper);
  });

  it('when development runs with defaults, then it listens on 3000 and signs against localhost', () => {
    const config = loadConfig({ DATA_DIR: dataDir() });
    expect(config).toMatchObject({ port: 3000, publicBaseUrl: 'http://localhost:3000', defaultLocale: 'en-US', logLevel: 'info', databaseUrl: null });
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT must be a whole number/],
    [{ PUBLIC_BASE_URL: 'not a url' }, /PUBLIC_BASE_URL is not a valid URL/],
    [{ LOG_LEVEL: 'loud' }, /LOG_LEVEL must be one of/],
    [{ PIN_PEPPER: 'short' }, /PIN_PEPPER must be at least 16 characters/],
    [{ DEFAULT_LOCALE: 'english' }, /DEFAULT_LOCALE must look like en-US/],
    [{ HASH_CONCURRENCY: '16', DB_POOL_SIZE: '10' }, /DB_POOL_SIZE \(10\) must be at least HASH_CONCURRENCY \+ 2 \(18\)/],
  ])('when a variable is invalid (%j), then the error names it', (env, message) => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), ...env })).toThrow(message);
  });

  it('when hashing admits more turns, then the default pool grows with it', () => {
    expect(loadConfig({ DATA_DIR: dataDir(), HASH_CONCURRENCY: '32' }).dbPoolSize).toBe(42);
    expect(loadConfig({ DATA_DIR: dataDir(), HASH_CONCURRENCY: '2' }).dbPoolSize).toBe(20);
  });

  it('when METRICS_TOKEN is unset, then there is no metrics token; when set, it is used as given', () => {
    expect(loadConfig({ DATA_DIR: dataDir() }).metricsToken).toBeNull();
    expect(loadConfig({ DATA_DIR: dataDir(), METRICS_TOKEN: '' }).metricsToken).toBeNull();
    expect(loadConfig({ ...PRODUCTION, DATA_DIR: dataDir(), METRICS_TOKEN: 'scrape-0123456789' }).metricsToken).toBe('scrape-0123456789');
  });

  it('when production is given a METRICS_TOKEN under 16 characters, then the start is refused without echoing it', () => {
    const refuse = () => loadConfig({ ...PRODUCTION, DATA_DIR: dataDir(), METRICS_TOKEN: 'scrape-token' });
    expect(refuse).toThrow(/METRICS_TOKEN must be at least 16 characters/);
    expect(refuse).toThrow(expect.objectContaining({ message: expect.not.stringContaining('scrape-token') }));
    // Development takes a short one, as it takes short secrets.
    expect(loadConfig({ DATA_DIR: dataDir(), METRICS_TOKEN: 'dev' }).metricsToken).toBe('dev');
  });

  it('when METRICS_TOKEN contains a space, then the start is refused: no Authorization header could carry it', () => {
    expect(() => loadConfig({ DATA_DIR: dataDir(), METRICS_TOKEN: 'two words-0123456789' })).toThrow(/METRICS_TOKEN must not contain spaces/);
  });

  it.each([
    [undefined, 'loopback'],
    ['1', 1],
    ['true', true],
    ['10.0.0.0/8, loopback', '10.0.0.0/8, loopback'],
  ])('when TRUST_PROXY is %j, then express is told %j', (raw, expected) => {
    const env: Record<string, string> = { DATA_DIR: dataDir() };
    if (raw !== undefined) env.TRUST_PROXY = raw;
    expect(loadConfig(env).trustProxy).toBe(expected);
  });
});
