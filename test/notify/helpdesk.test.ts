import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEventDispatcher } from '../../src/events/dispatcher.js';
import { REDACT_PATHS } from '../../src/logger.js';
import { silentLogger } from '../support/services.js';
import { withTransaction } from '../../src/db/pool.js';
import { createAdmin } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { FakeTwilio } from '../support/fake-twilio.js';
import { createUser, createUserWithWebPassword, testActor } from '../support/factories.js';
import { heardKeys, startPhoneServer, WebhookCaller, type PhoneServer } from '../support/phone.js';
import { TestSmtpServer } from '../support/smtp.js';
import { textOf, WebClient } from '../support/web-client.js';
import { simulateCall } from '../../src/cli/simulator.js';

// DESIGN §8 end to end: a helpdesk reset delivered by text message (a fake Twilio API) and e-mail
// (a local SMTP server) through the queue, then used on the phone; notifications of every change.

let database: TestDatabase;
let twilio: FakeTwilio;
let smtp: TestSmtpServer;
let phone: PhoneServer;
const admin = { channel: 'admin', name: 'admin:helpdesk' } as const;
/** Quick retries, so a failing transport is tried again within the test. */
const RETRY = { limit: 3, delaySeconds: 1, backoff: false };

async function startInstance(): Promise<PhoneServer> {
  const server = await startPhoneServer(
    database.url,
    {
      twilioAuthToken: twilio.authToken,
      sms: { accountSid: twilio.accountSid, from: '+15550009999', apiUrl: twilio.url },
      email: { smtpUrl: smtp.url, from: 'pinline@example.com' },
    },
    { services: { notificationRetry: RETRY } },
  );
  await server.services.notifications.startWorker();
  return server;
}

beforeAll(async () => {
  database = await createTestDatabase();
  twilio = await FakeTwilio.start();
  smtp = await TestSmtpServer.start();
  phone = await startInstance();
});

afterAll(async () => {
  await phone?.close();
  await twilio?.stop();
  await smtp?.stop();
  await database?.drop();
});

let phoneSequence = 0;
/** A user both channels reach. */
async function reachableUser(overrides: Parameters<typeof createUser>[1] = {}) {
  phoneSequence += 1;
  const number = `+1555700${String(phoneSequence).padStart(4, '0')}`;
  const address = `user${phoneSequence}@example.com`;
  const user = await createUser(phone.services, { phone: number, email: address, ...overrides });
  return { ...user, number, address };
}

/** Waits until `read` gives something (the queue polls, so deliveries take a moment). */
async function until<T>(what: string, read: () => T | undefined | null | false | Promise<T | undefined | null | false>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function jobsOf(userId: number): Promise<number> {
  const { rows } = await phone.services.pool.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE data->>'userId' = $1`, [String(userId)]);
  return rows[0].n as number;
}

const smsTo = (number: string) => twilio.messages.filter((m) => m.to === number);
const mailTo = (address: string) => smtp.mails.filter((m) => m.envelopeTo.includes(address));
const pinIn = (text: string) => /new PIN is ([0-9]+)/.exec(text)?.[1] ?? null;

async function call(keys: string[]) {
  const transcript = await simulateCall({ baseUrl: phone.baseUrl, authToken: phone.services.config.twilioAuthToken, keys });
  expect(transcript.error).toBeNull();
  return heardKeys(transcript, phone.services.catalog);
}

async function tableDump(): Promise<string> {
  const { rows } = await phone.services.pool.query(
    `SELECT table_schema || '.' || table_name AS name FROM information_schema.tables
      WHERE table_schema IN ('public', 'pgboss') AND table_type = 'BASE TABLE'`,
  );
  const parts: string[] = [];
  for (const { name } of rows as Array<{ name: string }>) {
    const { rows: data } = await phone.services.pool.query(`SELECT coalesce(string_agg(t::text, '\n'), '') AS dump FROM ${name} t`);
    parts.push(data[0].dump as string);
  }
  return parts.join('\n');
}

describe('helpdesk reset', () => {
  it('when a PIN is reset, then the user gets it by text message and e-mail, and the next call signs in with it and must change it', async () => {
    const user = await reachableUser();
    const result = await phone.services.pins.resetPin(user.userId, admin);
    expect(result).toEqual({ channels: ['sms', 'email'], pin: null });

    const sms = await until('the text message', () => smsTo(user.number)[0]);
    const mail = await until('the e-mail', () => mailTo(user.address)[0]);
    const pin = pinIn(sms.body);
    expect(pin).toMatch(/^[0-9]{6}$/);
    expect(pinIn(mail.text)).toBe(pin);
    expect(sms.from).toBe('+15550009999');
    expect(mail.header('subject')).toBe('Your new PIN');
    expect(mail.header('from')).toContain('pinline@example.com');

    expect((await call([`${user.extension}#`, `${pin}#`])).slice(-2)).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
    const { rows } = await phone.services.pool.query(`SELECT event, details FROM audit_events WHERE user_id = $1 AND event = 'pin.reset'`, [user.userId]);
    expect(rows).toEqual([{ event: 'pin.reset', details: { channels: ['sms', 'email'], shownOnce: false } }]);

    // Delivered: no job is left, and the PIN is nowhere in the database, sealed or not.
    await until('the jobs to be deleted', async () => (await jobsOf(user.userId)) === 0);
    expect(await tableDump()).not.toContain(pin as string);
  });

  it('when a reset PIN outlives the rule’s temporary lifetime, then the right PIN hears [pin.temp_expired] and is not counted, and a wrong one is invalid', async () => {
    const user = await reachableUser();
    const { pin } = await phone.services.pins.resetPin(user.userId, admin, { showOnce: true });
    await phone.services.pool.query(`UPDATE pin_credentials SET temporary_since = now() - interval '73 hours' WHERE user_id = $1`, [user.userId]);
    expect((await call([`${user.extension}#`, `${pin}#`])).slice(-1)).toEqual(['pin.temp_expired']);
    expect((await call([`${user.extension}#`, '000000#'])).slice(-2)).toEqual(['signin.invalid', 'signin.enter_id']);
    const { rows } = await phone.services.pool.query('SELECT failed_count FROM pin_credentials WHERE user_id = $1', [user.userId]);
    expect(rows[0].failed_count).toBe(1);
    const events = await phone.services.pool.query(`SELECT event FROM audit_events WHERE user_id = $1 AND event LIKE 'signin.%' ORDER BY id`, [user.userId]);
    expect(events.rows.map((r) => r.event)).toEqual(['signin.temp_expired', 'signin.failed']);
  });

  it('when the temporary lifetime is 0, then a reset PIN keeps working', async () => {
    await phone.services.accounts.setRule('no-limit', { tempPinHours: 0 }, testActor);
    const user = await reachableUser({ ruleName: 'no-limit' });
    const { pin } = await phone.services.pins.resetPin(user.userId, admin, { showOnce: true });
    await phone.services.pool.query(`UPDATE pin_credentials SET temporary_since = now() - interval '1000 hours' WHERE user_id = $1`, [user.userId]);
    expect((await call([`${user.extension}#`, `${pin}#`])).slice(-2)).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
  });

  it('when a new user still enrolling is reset, then enrollment stays pending and an intruder lockout is cleared', async () => {
    const user = await reachableUser({ enroll: true });
    for (let i = 0; i < 3; i++) await phone.services.pins.verifySignin({ extension: user.extension, pin: '000000', actor: testActor });
    const { pin } = await phone.services.pins.resetPin(user.userId, admin, { showOnce: true });
    const { rows } = await phone.services.pool.query('SELECT enrollment_pending, must_change, locked_at, failed_count FROM pin_credentials WHERE user_id = $1', [user.userId]);
    expect(rows[0]).toEqual({ enrollment_pending: true, must_change: true, locked_at: null, failed_count: 0 });
    expect((await call([`${user.extension}#`, `${pin}#`])).slice(-2)).toEqual(['enroll.welcome', 'pin.enter_new{min=6,max=20}']);
  });

  it('when no configured channel reaches the user, then the reset is refused and nothing changes; shown once, it goes ahead', async () => {
    const user = await createUser(phone.services);
    const before = await phone.services.pool.query('SELECT pin_hash FROM pin_credentials WHERE user_id = $1', [user.userId]);
    await expect(phone.services.pins.resetPin(user.userId, admin)).rejects.toThrow(/no phone or e-mail that a configured channel reaches/);
    const after = await phone.services.pool.query('SELECT pin_hash FROM pin_credentials WHERE user_id = $1', [user.userId]);
    expect(after.rows[0].pin_hash).toBe(before.rows[0].pin_hash);
    const shown = await phone.services.pins.resetPin(user.userId, admin, { showOnce: true });
    expect(shown).toMatchObject({ channels: [], pin: expect.stringMatching(/^[0-9]{6}$/) });
    const { rows } = await phone.services.pool.query(`SELECT details FROM audit_events WHERE user_id = $1 AND event = 'pin.reset'`, [user.userId]);
    expect(rows).toEqual([{ details: { channels: [], shownOnce: true } }]);
    expect(JSON.stringify(rows)).not.toContain(shown.pin as string);
  });

  it('when an administrator resets on the web without asking to see it, then the page says where it went and never shows it', async () => {
    const user = await reachableUser();
    const client = new WebClient(phone.baseUrl);
    await client.signInAsAdmin(await createAdmin(phone.services));
    await client.load(`/admin/users/${user.userId}/change-password`);
    const page = await client.post(`/admin/users/${user.userId}/reset-pin`, {});
    expect(page.status).toBe(200);
    expect(textOf(page.body)).toContain(`The PIN was reset and sent by a text message to ${user.number} and an e-mail to ${user.address}`);
    const pin = pinIn((await until('the text message', () => smsTo(user.number)[0])).body) as string;
    expect(page.body).not.toContain(pin);
    // Shown once when asked, in that answer only: the session stores nothing of it.
    await client.load(`/admin/users/${user.userId}/change-password`);
    const shown = await client.post(`/admin/users/${user.userId}/reset-pin`, { show: 'on' });
    const shownPin = /<p class="secret">([0-9]+)<\/p>/.exec(shown.body)?.[1] ?? '';
    expect(shownPin).toMatch(/^[0-9]{6}$/);
    const sessions = await phone.services.pool.query('SELECT sess::text AS s FROM web_sessions');
    expect(sessions.rows.map((r) => r.s).join('')).not.toContain(shownPin);
  });
});

describe('delivery', () => {
  it('when a change rolls back, then nothing is sent', async () => {
    const user = await reachableUser();
    await expect(
      withTransaction(phone.services.pool, async (client) => {
        const account = await phone.services.accounts.getAccount({ userId: user.userId });
        await phone.services.notifications.queue(client, account.user, { kind: 'lockout' });
        throw new Error('rolled back');
      }),
    ).rejects.toThrow('rolled back');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(smsTo(user.number)).toEqual([]);
    expect(mailTo(user.address)).toEqual([]);
  });

  it('when the transport fails twice and then works, then the message is delivered exactly once', async () => {
    const user = await reachableUser({ email: null });
    twilio.failNext(2);
    await phone.services.pins.resetPin(user.userId, admin);
    await until('the text message', () => smsTo(user.number)[0]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(smsTo(user.number)).toHaveLength(1);
    const sent = await phone.services.metrics.exposition();
    expect(sent).toMatch(/pinline_notification_deliveries_total\{channel="sms",result="failed"\} [1-9]/);
  });

  it('when every attempt fails, then the failure is listed for administrators without the message, and nothing of it stays queued', async () => {
    const user = await reachableUser({ phone: null });
    smtp.failNext(RETRY.limit + 1, { stage: 'rcpt', code: 451, message: '4.3.0 mailbox busy' });
    await phone.services.pins.resetPin(user.userId, admin);
    const listed = await until('the failure to be recorded', async () => (await phone.services.notifications.failures(10, 0)).find((r) => r.userId === user.userId));
    expect(listed).toMatchObject({ kind: 'pin_reset', channel: 'email', recipient: user.address, attempts: RETRY.limit + 1 });
    expect(listed.error).toMatch(/451|busy/);
    expect(await jobsOf(user.userId)).toBe(0);
    const client = new WebClient(phone.baseUrl);
    await client.signInAsAdmin(await createAdmin(phone.services));
    expect(textOf((await client.load('/admin/deliveries')).body)).toContain(user.address);
  });

  it('when the instance stops with messages queued, then another instance delivers them after', async () => {
    const user = await reachableUser({ email: null });
    await phone.services.notifications.stop();
    await phone.services.pins.resetPin(user.userId, admin);
    await new Promise((resolve) => setTimeout(resolve, 1200));
    expect(smsTo(user.number)).toEqual([]);
    const other = await startInstance();
    try {
      await until('the text message', () => smsTo(user.number)[0]);
    } finally {
      await other.close();
      await phone.services.notifications.startWorker();
    }
  });
});

describe('notices of changes', () => {
  it('when the user changes their PIN by phone, then they are told it was changed by phone, without the PIN', async () => {
    await phone.services.accounts.setRule('quick', { minChangeMinutes: 0 }, testActor);
    const user = await reachableUser({ ruleName: 'quick' });
    await call([`${user.extension}#`, `${user.pin}#`, '1', '604817#', '604817#', '*']);
    const sms = await until('the notice', () => smsTo(user.number)[0]);
    expect(sms.body).toContain('Your PIN was changed by phone.');
    expect(sms.body).not.toContain('604817');
    const mail = await until('the e-mail', () => mailTo(user.address)[0]);
    expect(mail.header('subject')).toBe('Your PIN was changed');
  });

  it('when an administrator changes the PIN, then the user is told it was an administrator', async () => {
    const user = await reachableUser({ locale: 'es-US' });
    await phone.services.pins.changePinOrThrow({ userId: user.userId, newPin: '604817', kind: 'administrative', actor: admin });
    expect((await until('the notice', () => smsTo(user.number)[0])).body).toContain('Su PIN fue cambiado por un administrador.');
  });

  it('when intruder detection locks the account twice within an hour, then the user is told once', async () => {
    const user = await reachableUser({ email: null });
    const guess = () => phone.services.pins.verifySignin({ extension: user.extension, pin: '000000', actor: testActor });
    for (let i = 0; i < 3; i++) await guess();
    await phone.services.pins.updateSettings(user.userId, { unlock: true }, admin);
    for (let i = 0; i < 3; i++) await guess();
    await until('the lockout notice', () => smsTo(user.number)[0]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(smsTo(user.number).filter((m) => m.body.includes('locked'))).toHaveLength(1);
  });

  it('when the e-mail address changes, then the old address is told and the new one gets what follows', async () => {
    const user = await reachableUser({ phone: null });
    await phone.services.accounts.updateUser(user.userId, { email: 'moved@example.com' }, admin);
    const told = await until('the notice to the old address', () => mailTo(user.address)[0]);
    expect(told.header('subject')).toBe('Your e-mail address was changed');
    expect(told.text).toContain(user.address);
    expect(told.text).not.toContain('moved@example.com');
  });

  it('when the web password is changed, then the user is told, and by whom', async () => {
    const user = await reachableUser({ email: null });
    await phone.services.webCredentials.setUserPassword(user.userId, 'a brand new web password', admin);
    expect((await until('the notice', () => smsTo(user.number)[0])).body).toContain('changed by an administrator');
  });
});

describe('on the phone, retried', () => {
  it('when the turn that locks the account is delivered twice, then the lockout notice is queued once', async () => {
    const user = await reachableUser({ email: null });
    for (let i = 0; i < 2; i++) await phone.services.pins.verifySignin({ extension: user.extension, pin: '000000', actor: testActor });
    const caller = new WebhookCaller(phone, 'CAhelpdesk0001');
    const pinPrompt = (await caller.press((await caller.incoming()).action, user.extension)).action;
    await Promise.all([caller.press(pinPrompt, '000000'), caller.press(pinPrompt, '000000')]);
    await until('the lockout notice', () => smsTo(user.number)[0]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(smsTo(user.number)).toHaveLength(1);
  });
});

describe('secrets', () => {
  it('when a reset is made, delivered and used with logging at its most detailed, then no log line holds the PIN', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'trace', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, { write: (line: string) => lines.push(line) });
    const server = await startPhoneServer(
      database.url,
      {
        twilioAuthToken: twilio.authToken,
        sms: { accountSid: twilio.accountSid, from: '+15550009999', apiUrl: twilio.url },
        email: { smtpUrl: smtp.url, from: 'pinline@example.com' },
      },
      { logger, services: { notificationRetry: RETRY } },
    );
    try {
      await phone.services.notifications.stop();
      await server.services.notifications.startWorker();
      const user = await reachableUser();
      twilio.failNext(1);
      await server.services.pins.resetPin(user.userId, admin);
      const pin = pinIn((await until('the text message', () => smsTo(user.number)[0])).body) as string;
      await until('the e-mail', () => mailTo(user.address)[0]);
      const transcript = await simulateCall({ baseUrl: server.baseUrl, authToken: twilio.authToken, keys: [`${user.extension}#`, `${pin}#`, '730496#', '730496#', '*'] });
      expect(transcript.error).toBeNull();
      expect(lines.length).toBeGreaterThan(5);
      for (const line of lines) {
        expect(line).not.toContain(pin);
        expect(line).not.toContain('730496');
      }
    } finally {
      await server.close();
      await phone.services.notifications.startWorker();
    }
  });

  it('when events go to the operators’ webhook, then no event of a reset, its delivery and its use holds the PIN', async () => {
    const received: string[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (chunk: Buffer) => (body += chunk.toString()));
      req.on('end', () => {
        received.push(body);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    const dispatcher = startEventDispatcher({
      pool: phone.services.pool,
      config: { url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/events`, secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
      logger: silentLogger,
      pollIntervalMs: 100,
    });
    try {
      await dispatcher.tick();
      const user = await reachableUser();
      await phone.services.pins.resetPin(user.userId, admin);
      const pin = pinIn((await until('the text message', () => smsTo(user.number)[0])).body) as string;
      await call([`${user.extension}#`, `${pin}#`, '730496#', '730496#', '*']);
      const events = await until('the reset and the change to be sent', () => {
        const all = received.join('\n');
        return all.includes('"pin.reset"') && all.includes('"pin.changed"') ? all : null;
      });
      expect(events).not.toContain(pin);
      expect(events).not.toContain('730496');
      expect(events).not.toContain('$argon2');
    } finally {
      await dispatcher.stop();
      receiver.closeAllConnections();
      await new Promise<void>((resolve) => receiver.close(() => resolve()));
    }
  });

  it('when no channel is configured in production, then a reset without show-once is refused', async () => {
    const production = await startPhoneServer(database.url, { nodeEnv: 'production' });
    try {
      const user = await createUser(production.services, { phone: '+15557999999', email: 'nobody@example.com' });
      expect(production.services.notifications.reachable({ phone: '+15557999999', email: 'nobody@example.com' })).toEqual([]);
      await expect(production.services.pins.resetPin(user.userId, admin)).rejects.toThrow(/no phone or e-mail that a configured channel reaches/);
    } finally {
      await production.close();
    }
  });
});

describe('the web password and e-mail on /me', () => {
  it('when the user changes their e-mail with the right current password, then it is saved and the old address told; a wrong one changes nothing', async () => {
    const user = await createUserWithWebPassword(phone.services, 'my own web password', { email: 'old@example.com' });
    const client = new WebClient(phone.baseUrl);
    await client.signInAsUser(user.extension, 'my own web password');
    await client.load('/me/email');
    const wrong = await client.post('/me/email', { email: 'new@example.com', current: 'not my password' });
    expect(wrong.status).toBe(422);
    expect((await phone.services.accounts.getAccount({ userId: user.userId })).user.email).toBe('old@example.com');
    const control = await client.post('/me/email', { email: 'new\u0000@example.com', current: 'my own web password' });
    expect(control.status).toBe(400);
    expect(textOf(control.body)).toContain('e-mail address contains a control character (U+0000); remove it');
    const saved = await client.submit('/me/email', { email: 'new@example.com', current: 'my own web password' });
    expect(textOf(saved.body)).toContain('Your e-mail address was changed');
    expect((await phone.services.accounts.getAccount({ userId: user.userId })).user.email).toBe('new@example.com');
    await until('the notice to the old address', () => mailTo('old@example.com').find((m) => m.header('subject') === 'Your e-mail address was changed'));
  });
});

describe('a provider that quotes what it refused', () => {
  const echoes: Array<[string, (text: string) => string]> = [
    ['all of the message', (text) => `4.7.1 Held for review: ${text.replace(/\s+/g, ' ')}`],
    ['part of it', (text) => `4.7.1 Held for review: "${/new PIN is [0-9]+/.exec(text)?.[0] ?? ''}" ref 20261130`],
    ['none of it', () => '4.7.1 Held for review'],
  ];

  it.each(echoes)('when the server quotes %s in every refusal, then the retries, the log, the failure kept and its page hold the reply code but never the PIN', async (_case, echo) => {
    const lines: string[] = [];
    const logger = pino({ level: 'info', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, { write: (line: string) => lines.push(line) });
    const server = await startPhoneServer(
      database.url,
      { twilioAuthToken: twilio.authToken, email: { smtpUrl: smtp.url, from: 'pinline@example.com' } },
      { logger, services: { notificationRetry: RETRY } },
    );
    await phone.services.notifications.stop();
    try {
      const user = await reachableUser({ phone: null });
      smtp.failNext(RETRY.limit + 1, { stage: 'data', code: 451, message: echo });
      await server.services.notifications.startWorker();
      const { pin } = await server.services.pins.resetPin(user.userId, admin, { showOnce: true });
      const outputs: string[] = [];
      const listed = await until('the failure to be recorded', async () => {
        const { rows } = await server.services.pool.query(`SELECT output::text AS output FROM pgboss.job WHERE data->>'userId' = $1 AND output IS NOT NULL`, [
          String(user.userId),
        ]);
        outputs.push(...rows.map((r) => r.output as string));
        return (await server.services.notifications.failures(10, 0)).find((r) => r.userId === user.userId);
      });
      expect(listed.error).toMatch(/^SMTP 451 \(DATA\): the server asks to try again later; it said "4\.7\.1 Held for review/);
      expect(listed.error).not.toContain(pin as string);
      expect(outputs.length).toBeGreaterThan(0);
      expect(outputs.join('\n')).toContain('SMTP 451');
      const warned = lines.filter((line) => line.includes('notification not delivered'));
      expect(warned).toHaveLength(RETRY.limit + 1);
      const client = new WebClient(server.baseUrl);
      await client.signInAsAdmin(await createAdmin(server.services));
      const page = await client.load('/admin/deliveries');
      expect(textOf(page.body)).toContain('SMTP 451 (DATA)');
      for (const text of [...outputs, ...warned, page.body, await tableDump()]) expect(text).not.toContain(pin as string);
    } finally {
      await server.close();
      await phone.services.notifications.startWorker();
    }
  });
});

describe('a newer PIN', () => {
  it('when two resets are queued while delivery is stopped, then only the newer PIN is delivered', async () => {
    const user = await reachableUser({ email: null });
    await phone.services.notifications.stop();
    let pins: Array<string | null> = [];
    try {
      pins = [
        (await phone.services.pins.resetPin(user.userId, admin, { showOnce: true })).pin,
        (await phone.services.pins.resetPin(user.userId, admin, { showOnce: true })).pin,
      ];
      expect(await jobsOf(user.userId)).toBe(1);
    } finally {
      await phone.services.notifications.startWorker();
    }
    const sms = await until('the text message', () => smsTo(user.number)[0]);
    expect(pinIn(sms.body)).toBe(pins[1]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(smsTo(user.number)).toHaveLength(1);
  });

  it('when a reset’s message waits for a retry and the PIN is reset again, then the older message is deleted, never sent, and only the newer arrives', async () => {
    // A retry far off, so the first message is surely still waiting when the second reset comes.
    const server = await startPhoneServer(
      database.url,
      { twilioAuthToken: twilio.authToken, sms: { accountSid: twilio.accountSid, from: '+15550009999', apiUrl: twilio.url } },
      { services: { notificationRetry: { limit: 3, delaySeconds: 600, backoff: false } } },
    );
    await phone.services.notifications.stop();
    try {
      await server.services.notifications.startWorker();
      const user = await reachableUser({ email: null });
      twilio.failNext(1);
      const first = await server.services.pins.resetPin(user.userId, admin, { showOnce: true });
      await until('the first attempt to fail', async () => {
        const { rows } = await server.services.pool.query(`SELECT state FROM pgboss.job WHERE data->>'userId' = $1`, [String(user.userId)]);
        return rows[0]?.state === 'retry';
      });
      const second = await server.services.pins.resetPin(user.userId, admin, { showOnce: true });
      const sms = await until('the text message', () => smsTo(user.number)[0]);
      expect(pinIn(sms.body)).toBe(second.pin);
      expect(first.pin).not.toBe(second.pin);
      // Nothing is left to send: the first message went with the second reset, the second once delivered.
      await until('the jobs to be deleted', async () => (await jobsOf(user.userId)) === 0);
      expect(smsTo(user.number).map((m) => pinIn(m.body))).toEqual([second.pin]);
    } finally {
      await server.close();
      await phone.services.notifications.startWorker();
    }
  });

  it('when an administrator sets the PIN while a reset’s message waits, then the reset PIN is never sent: only the notice of the change', async () => {
    const user = await reachableUser({ email: null });
    await phone.services.notifications.stop();
    try {
      await phone.services.pins.resetPin(user.userId, admin);
      await phone.services.pins.changePinOrThrow({ userId: user.userId, newPin: '604817', kind: 'administrative', actor: admin });
    } finally {
      await phone.services.notifications.startWorker();
    }
    await until('the notice', () => smsTo(user.number)[0]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(smsTo(user.number).map((m) => (pinIn(m.body) ? 'reset' : 'notice'))).toEqual(['notice']);
  });
});
