import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net.js';
import { simulateCall } from '../../src/cli/simulator.js';
import { createAdmin } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createUser, testActor } from '../support/factories.js';
import { hasPgBouncer, PGBOUNCER_SKIP_REASON, startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import { heardKeys, startPhoneServer, WebhookCaller, type PhoneServer } from '../support/phone.js';
import { textOf, WebClient } from '../support/web-client.js';

// DESIGN §10: pinline works behind PgBouncer in transaction mode with PgBouncer's default
// settings: no startup parameters, no session state between transactions, transaction-scoped
// locks only. The end-to-end calls run here with every statement going through PgBouncer.

if (!hasPgBouncer) console.warn(PGBOUNCER_SKIP_REASON);
const suite = hasPgBouncer ? describe : describe.skip;

let database: TestDatabase;
let bouncer: PgBouncer;
let phone: PhoneServer;
const publicBaseUrl = 'http://pinline.example';
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

beforeAll(async () => {
  if (!hasPgBouncer) return;
  database = await createTestDatabase();
  bouncer = await startPgBouncer(database.url);
  phone = await startPhoneServer(bouncer.url(database.url));
});

afterAll(async () => {
  await phone?.close();
  await bouncer?.stop();
  await database?.drop();
});

/** A call on this file's instance, or with its turns on `servers` in turn, as Twilio would place it. */
function call(keys: string[], servers?: PhoneServer[]) {
  if (!servers) return simulateCall({ baseUrl: phone.baseUrl, authToken: phone.services.config.twilioAuthToken, keys });
  let turn = 0;
  const ports = servers.map((s) => (s.server.address() as { port: number }).port);
  return simulateCall({
    baseUrl: publicBaseUrl,
    authToken: phone.services.config.twilioAuthToken,
    keys,
    transport: (url) => url.replace(publicBaseUrl, `http://127.0.0.1:${ports[turn++ % ports.length] as number}`),
  });
}

const heard = async (keys: string[], servers?: PhoneServer[]) => {
  const transcript = await call(keys, servers);
  expect(transcript.error).toBeNull();
  return heardKeys(transcript, phone.services.catalog);
};

async function credential(userId: number) {
  const { rows } = await phone.services.pool.query('SELECT failed_count, locked_at, enrollment_pending FROM pin_credentials WHERE user_id = $1', [userId]);
  return rows[0] as { failed_count: number; locked_at: Date | null; enrollment_pending: boolean };
}

suite('behind PgBouncer in transaction mode (default settings)', () => {
  it('when the server starts with DATABASE_URL through PgBouncer and MIGRATIONS_DATABASE_URL direct, then it migrates an empty database and serves', async () => {
    const empty = await createTestDatabase();
    const direct = new pg.Client({ connectionString: empty.url });
    await direct.connect();
    await direct.query('DROP SCHEMA public CASCADE; DROP SCHEMA IF EXISTS pgboss CASCADE; CREATE SCHEMA public');
    await direct.end();
    const port = await freePort();
    const server = spawn(process.execPath, ['dist/main.js'], {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? '',
        NODE_ENV: 'production',
        DATABASE_URL: bouncer.url(empty.url),
        MIGRATIONS_DATABASE_URL: empty.url,
        PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
        PORT: String(port),
        TWILIO_AUTH_TOKEN: '0123456789abcdef0123456789abcdef',
        PIN_PEPPER: 'pgbouncer-test-pepper-0123456789abcdef',
        SESSION_SECRET: 'pgbouncer-test-session-0123456789abcdef',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    server.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      let ready = false;
      for (let i = 0; i < 100 && !ready && server.exitCode === null; i++) {
        ready = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
        if (!ready) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(ready, stderr).toBe(true);
      const migrated = new pg.Client({ connectionString: empty.url });
      await migrated.connect();
      const { rows } = await migrated.query(`SELECT count(*)::int AS n FROM auth_rules WHERE name = 'default'`);
      await migrated.end();
      expect(rows[0].n).toBe(1);
    } finally {
      server.kill('SIGTERM');
      await new Promise((resolve) => server.once('exit', resolve));
      await empty.drop();
    }
  });

  it('when an address fails sign-ins on two instances through PgBouncer, then the shared limit holds', async () => {
    const admin = await createAdmin(phone.services);
    const other = await startPhoneServer(bouncer.url(database.url));
    try {
      const address = { 'x-forwarded-for': '198.51.100.60' };
      const clients = [new WebClient(phone.baseUrl, address), new WebClient(other.baseUrl, address)];
      for (const client of clients) await client.load('/admin/signin');
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        const client = clients[i % 2] as WebClient;
        statuses.push((await client.post('/admin/signin', { username: admin.username, password: `wrong ${i}` })).status);
      }
      expect(statuses.slice(0, 10)).toEqual(Array<number>(10).fill(401));
      expect(statuses.slice(10)).toEqual([429, 429]);
    } finally {
      await other.close();
    }
  });

  it('when a new user enrolls and signs in again, then both calls go through as they do directly', async () => {
    const user = await createUser(phone.services, { enroll: true });
    expect((await heard([`${user.extension}#`, `${user.pin}#`, '604817#', '604817#', '2', '*'])).slice(-6)).toEqual([
      'pin.confirm',
      'enroll.done',
      'menu.main',
      'pin.status{days=180}',
      'menu.main',
      'goodbye',
    ]);
    expect(await credential(user.userId)).toMatchObject({ enrollment_pending: false });
    expect((await heard([`${user.extension}#`, '604817#', '*'])).slice(-2)).toEqual(['menu.main', 'goodbye']);
  });

  it('when many calls guess one PIN at once, then the row lock still lets no more through than the threshold', async () => {
    const user = await createUser(phone.services);
    const outcomes = await Promise.all(
      Array.from({ length: 8 }, async (_, i) => (await heard([`${user.extension}#`, `${700100 + i}#`])).find((k) => k === 'signin.invalid' || k.startsWith('signin.locked'))),
    );
    expect(outcomes.filter((o) => o === 'signin.invalid')).toHaveLength(3);
    expect(outcomes.filter((o) => o?.startsWith('signin.locked'))).toHaveLength(5);
    expect((await credential(user.userId)).failed_count).toBe(3);
  });

  it('when a turn is delivered twice, at once and again, then the failure is counted once (transaction-scoped advisory lock)', async () => {
    const user = await createUser(phone.services);
    const caller = new WebhookCaller(phone, 'CApgbouncer0001');
    const pinPrompt = (await caller.press((await caller.incoming()).action, user.extension)).action;
    const [first, second] = await Promise.all([caller.press(pinPrompt, '000000'), caller.press(pinPrompt, '000000')]);
    const third = await caller.press(pinPrompt, '000000');
    expect(first.said).toEqual(['signin.invalid', 'signin.enter_id']);
    expect(second.said).toEqual(first.said);
    expect(third.said).toEqual(first.said);
    expect((await credential(user.userId)).failed_count).toBe(1);
  });

  it('when the turns of one call alternate between two instances, then the call goes on as if on one', async () => {
    const instances = [
      await startPhoneServer(bouncer.url(database.url), { publicBaseUrl }),
      await startPhoneServer(bouncer.url(database.url), { publicBaseUrl }),
    ];
    try {
      const user = await createUser(phone.services, { enroll: true });
      expect((await heard([`${user.extension}#`, `${user.pin}#`, '730496#', '730496#', '*'], instances)).slice(-3)).toEqual([
        'enroll.done',
        'menu.main',
        'goodbye',
      ]);
    } finally {
      for (const instance of instances) await instance.close();
    }
  });

  it('when an administrator signs in and changes a PIN on the web, then sessions and the change work through PgBouncer', async () => {
    const admin = await createAdmin(phone.services);
    const user = await createUser(phone.services);
    const client = new WebClient(phone.baseUrl);
    await client.signInAsAdmin(admin);
    await client.load(`/admin/users/${user.userId}/change-password`);
    const saved = await client.submit(`/admin/users/${user.userId}/change-password`, {
      target: 'voicemail',
      password: '604817',
      confirm: '604817',
      mustChange: 'on',
    });
    expect(textOf(saved.body)).toContain('Updated Password');
    expect((await heard([`${user.extension}#`, '604817#'])).slice(-2)).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
  });

  it('when users are imported, as a dry run and for real, and exported in pages, then savepoints and the read-only snapshot work through PgBouncer', async () => {
    const csv = Buffer.from('extension,first,last,phone\n8801,Ada,Byron,+15558800001\n8802,Bob,Cole,+15558800001\n8803,Cy,Dale,\n');
    const actor = { channel: 'cli', name: 'cli' } as const;
    const expected = ['created', 'error', 'created'];
    const dry = await phone.services.userImport.run(csv, { dryRun: true, resetPins: false }, actor);
    expect(dry.rows.map((row) => row.result)).toEqual(expected);
    expect(await phone.services.accounts.findAccount({ extension: '8801' })).toBeNull();
    const real = await phone.services.userImport.run(csv, { dryRun: false, resetPins: false }, actor);
    expect(real.rows.map((row) => row.result)).toEqual(expected);

    const exported: string[] = [];
    await phone.services.accounts.exportAccounts(async (page) => {
      exported.push(...page.map((account) => account.user.extension));
    }, 2);
    expect(exported).toEqual(expect.arrayContaining(['8801', '8803']));
    expect(exported).toEqual([...exported].sort());
  });

  it('when the reports run through PgBouncer, then their snapshot transaction and cursor work as they do directly', async () => {
    const user = await createUser(phone.services);
    await phone.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    const { counts } = await phone.services.reports.counts();
    expect(counts.map(({ report }) => report.name)).toHaveLength(6);
    expect(counts.find(({ report }) => report.name === 'locked')?.count).toBeGreaterThanOrEqual(1);
    const locked = await phone.services.reports.run('locked');
    expect(locked.rows.map((row) => row.extension)).toContain(user.extension);
  });
});
