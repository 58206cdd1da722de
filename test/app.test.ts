import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool } from '../src/db/pool.js';
import { ensureDemoUser, DEMO_EXTENSION } from '../src/demo.js';
import { freePort } from '../src/net.js';
import { createServices } from '../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './support/db.js';
import { startPhoneServer } from './support/phone.js';
import { silentLogger, testConfig } from './support/services.js';
import { proxyFor } from './support/tcp-proxy.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
let database: TestDatabase;

beforeAll(async () => {
  database = await createTestDatabase();
  if (!existsSync(`${ROOT}dist/main.js`)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT });
});
afterAll(async () => {
  await database.drop();
});

describe('health endpoints', () => {
  it('when the database goes away, then /healthz stays 200 and /readyz answers 503 until it is back', async () => {
    const { proxy, through } = proxyFor(database.url);
    const server = await startPhoneServer(through(await proxy.start()));
    try {
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
      await proxy.cut();
      expect((await fetch(`${server.baseUrl}/healthz`)).status).toBe(200);
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(503);
      await proxy.restore();
      expect((await fetch(`${server.baseUrl}/readyz`)).status).toBe(200);
    } finally {
      await server.close();
      await proxy.cut();
    }
  });
});

describe('demo user', () => {
  it('when the database is brand new, then a demo user is created once and its PIN printed once', async () => {
    const pool = createPool(database.url, silentLogger, 2);
    const server = await startPhoneServer(database.url, {}, { pool });
    try {
      let printed = '';
      const out = { write: (text: string) => (printed += text) };
      await ensureDemoUser(server.services, out);
      const pin = /initial PIN (\d+)/.exec(printed)?.[1];
      expect(pin).toMatch(/^\d{6}$/);
      expect(printed).toContain(`npx pinline call --url ${server.baseUrl}`);
      const signin = await server.services.pins.verifySignin({ extension: DEMO_EXTENSION, pin: pin as string, actor: { channel: 'cli', name: 't' } });
      expect(signin.outcome).toBe('ok');

      printed = '';
      await ensureDemoUser(server.services, out);
      expect(printed).toBe('');
    } finally {
      await server.close();
      await pool.end();
    }
  });
});

function runMain(env: Record<string, string>): { exited: Promise<{ code: number | null; output: string }>; kill: (s: NodeJS.Signals) => void; output: () => string } {
  const child = spawn(process.execPath, ['dist/main.js'], { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...env } });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) => child.on('exit', (code) => resolve({ code, output })));
  return { exited, kill: (s) => child.kill(s), output: () => output };
}

/** A complete production environment on this file's database, listening on `port`. */
function productionEnv(port: number): Record<string, string> {
  return {
    NODE_ENV: 'production',
    DATABASE_URL: database.url,
    PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
    TWILIO_AUTH_TOKEN: '0123456789abcdef0123456789abcdef',
    PIN_PEPPER: 'pepper-0123456789abcdef0123456789abcdef',
    SESSION_SECRET: 'session-0123456789abcdef0123456789abcdef',
    PORT: String(port),
  };
}

describe('the server process', () => {
  it('when production is missing secrets, then it refuses to start and names each missing variable', async () => {
    const { exited } = runMain({ NODE_ENV: 'production', PUBLIC_BASE_URL: 'https://pin.example' });
    const { code, output } = await exited;
    expect(code).toBe(1);
    expect(output).toContain('missing: DATABASE_URL, TWILIO_AUTH_TOKEN, PIN_PEPPER, SESSION_SECRET');
  });

  it('when a stored rule can be met by no PIN, then the start names it in the log and leaves it as it is', async () => {
    const pool = createPool(database.url, silentLogger, 1);
    try {
      await pool.query(`INSERT INTO auth_rules (name, min_length, max_length) VALUES ('legacy tiny', 1, 2)`);
    } finally {
      await pool.end();
    }
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = runMain(productionEnv(port));
    // Said before the server listens; waited for generously, as a loaded machine starts slowly.
    for (let i = 0; i < 600 && !server.output().includes('pinline listening'); i++) await new Promise((r) => setTimeout(r, 100));
    server.kill('SIGTERM');
    const { output } = await server.exited;
    const warning = output.split('\n').find((line) => line.includes('"rule":"legacy tiny"'));
    expect(JSON.parse(warning ?? '{}')).toMatchObject({
      level: 40,
      msg: expect.stringContaining('authentication rule "legacy tiny" cannot be met: no PIN of 1 digit passes the trivial-PIN check'),
    });
    const check = createPool(database.url, silentLogger, 1);
    try {
      const { rows } = await check.query(`SELECT min_length, max_length, trivial_check FROM auth_rules WHERE name = 'legacy tiny'`);
      expect(rows).toEqual([{ min_length: 1, max_length: 2, trivial_check: true }]);
      await check.query(`DELETE FROM auth_rules WHERE name = 'legacy tiny'`);
    } finally {
      await check.end();
    }
  }, 90_000);

  it('when it gets SIGTERM, then it stops accepting, closes the database and exits 0', async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = runMain(productionEnv(port));
    let ready = false;
    for (let i = 0; i < 100 && !ready; i++) {
      ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (!ready) await new Promise((r) => setTimeout(r, 100));
    }
    expect(ready).toBe(true);
    server.kill('SIGTERM');
    const { code, output } = await server.exited;
    expect(code).toBe(0);
    expect(output).toContain('"msg":"stopped"');
  });
});

describe('the start output', () => {
  /** Starts the server, waits until its log has said `until` (and `settleMs` more), stops it, and returns the log. */
  async function startOutput(until: RegExp, settleMs = 0): Promise<string> {
    const server = runMain(productionEnv(await freePort()));
    for (let i = 0; i < 300 && !until.test(server.output()); i++) await new Promise((r) => setTimeout(r, 100));
    expect(server.output()).toMatch(until);
    await new Promise((r) => setTimeout(r, settleMs));
    server.kill('SIGTERM');
    return (await server.exited).output;
  }

  it('when there is no administrator, then it says how to create the first one and where to sign in, and each notification note once', async () => {
    const output = await startOutput(/no administrator yet/);
    expect(output).toMatch(/no administrator yet: create the first with `npx pinline admin add USERNAME` in the project folder, then sign in at http:\/\/127\.0\.0\.1:\d+\/admin/);
    for (const note of ['text messages: not configured', 'e-mail: not configured']) expect(output.split(note).length - 1, note).toBe(1);
  });

  it('when an administrator exists, then it says nothing about creating one', async () => {
    const pool = createPool(database.url, silentLogger, 1);
    try {
      await createServices(testConfig(), silentLogger, pool).webCredentials.createAdmin('first', 'correct horse battery', { channel: 'cli', name: 'test' });
    } finally {
      await pool.end();
    }
    // The note would come just after "listening": give it the moment it would take.
    expect(await startOutput(/"msg":"pinline listening"/, 1000)).not.toContain('no administrator yet');
  });
});
