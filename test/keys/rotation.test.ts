import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import argon2 from 'argon2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCall } from '../../src/cli/simulator.js';
import type { Config } from '../../src/config.js';
import { pepperId, sessionSecretId } from '../../src/keys.js';
import { DEFAULT_HASH_PARAMETERS, pepperIdOf } from '../../src/pin/hasher.js';
import { createAdmin } from '../support/browser.js';
import { cliEnvFor, runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createUser, createUserWithWebPassword, testActor } from '../support/factories.js';
import { heardKeys, startPhoneServer, WebhookCaller, type PhoneServer } from '../support/phone.js';
import { WebClient } from '../support/web-client.js';

// DESIGN §10 "Secrets rotate without a mass reset": instances of one database with the pepper or
// the session secret at each step of a rollout.

const OLD_PEPPER = 'rotation-old-pepper-0123456789abcdef';
const NEW_PEPPER = 'rotation-new-pepper-0123456789abcdef';
const OLD_SECRET = 'rotation-old-session-secret-0123456789';
const NEW_SECRET = 'rotation-new-session-secret-0123456789';

let database: TestDatabase;
/** Before the rotation: only the old pepper (so, to it, the new one is unknown). */
let before: PhoneServer;
/** After it: the new pepper current, the old one previous. */
let after: PhoneServer;
const started: PhoneServer[] = [];

async function instance(overrides: Partial<Config>): Promise<PhoneServer> {
  const server = await startPhoneServer(database.url, overrides);
  started.push(server);
  return server;
}

beforeAll(async () => {
  database = await createTestDatabase();
  before = await instance({ pinPepper: OLD_PEPPER });
  after = await instance({ pinPepper: NEW_PEPPER, pinPepperPrevious: [OLD_PEPPER] });
});

afterAll(async () => {
  for (const server of started) await server.close();
  await database?.drop();
});

interface KeysStatus {
  peppers: Array<{ id: string | null; role: string; pinHashes: number; historyHashes: number; webPasswords: number }>;
  sessionSecrets: Array<{ id: string | null; role: string; queuedMessages: number }>;
}

/** `pinline keys status --json` as an instance with these secrets would run it. */
async function keysStatus(env: Record<string, string>): Promise<KeysStatus> {
  const run = await runCli(['keys', 'status', '--json'], { ...cliEnvFor(database.url, mkdtempSync(path.join(tmpdir(), 'pinline-keys-'))), ...env });
  expect(run.stderr).toBe('');
  expect(run.code).toBe(0);
  return JSON.parse(run.stdout) as KeysStatus;
}

const AFTER_ENV = { PIN_PEPPER: NEW_PEPPER, PIN_PEPPER_PREVIOUS: OLD_PEPPER };
const pepperRow = (status: KeysStatus, pepper: string) => status.peppers.find((row) => row.id === pepperId(pepper));

async function credential(server: PhoneServer, userId: number) {
  const { rows } = await server.services.pool.query(
    `SELECT pin_hash, changed_at, must_change, enrollment_pending, failed_count, temporary_since FROM pin_credentials WHERE user_id = $1`,
    [userId],
  );
  return rows[0] as { pin_hash: string; changed_at: Date; must_change: boolean; enrollment_pending: boolean; failed_count: number; temporary_since: Date | null };
}

async function auditOf(server: PhoneServer, userId: number): Promise<Array<{ event: string; details: Record<string, unknown> }>> {
  const { rows } = await server.services.pool.query('SELECT event, details FROM audit_events WHERE user_id = $1 ORDER BY id', [userId]);
  return rows as Array<{ event: string; details: Record<string, unknown> }>;
}

async function call(server: PhoneServer, keys: string[]): Promise<string[]> {
  const transcript = await simulateCall({ baseUrl: server.baseUrl, authToken: server.services.config.twilioAuthToken, keys });
  expect(transcript.error).toBeNull();
  return heardKeys(transcript, server.services.catalog);
}

describe('rotating PIN_PEPPER', () => {
  it('when a PIN hashed under the old pepper signs in after the rotation, then it is re-hashed under the new one in that sign-in, nothing else moves, and keys status counts it under the new one', async () => {
    const user = await createUser(before.services);
    const made = await credential(after, user.userId);
    expect(pepperIdOf(made.pin_hash)).toBe(pepperId(OLD_PEPPER));
    const counted = await keysStatus(AFTER_ENV);
    expect(pepperRow(counted, OLD_PEPPER)).toMatchObject({ role: 'previous', pinHashes: expect.any(Number) });
    expect(pepperRow(counted, NEW_PEPPER)).toMatchObject({ role: 'current' });

    // A wrong PIN is still a wrong PIN, counted as ever.
    expect((await call(after, [`${user.extension}#`, '000000#'])).slice(-2)).toEqual(['signin.invalid', 'signin.enter_id']);
    expect((await credential(after, user.userId)).failed_count).toBe(1);

    expect((await call(after, [`${user.extension}#`, `${user.pin}#`, '*'])).slice(-2)).toEqual(['menu.main', 'goodbye']);
    const rehashed = await credential(after, user.userId);
    expect(pepperIdOf(rehashed.pin_hash)).toBe(pepperId(NEW_PEPPER));
    expect({ ...rehashed, pin_hash: null }).toEqual({ ...made, pin_hash: null });
    expect((await auditOf(after, user.userId)).filter((row) => row.event === 'signin.succeeded')).toEqual([{ event: 'signin.succeeded', details: { rehashed: true } }]);

    const moved = await keysStatus(AFTER_ENV);
    expect(pepperRow(moved, OLD_PEPPER)?.pinHashes).toBe((pepperRow(counted, OLD_PEPPER)?.pinHashes ?? 0) - 1);
    expect(pepperRow(moved, NEW_PEPPER)?.pinHashes).toBe((pepperRow(counted, NEW_PEPPER)?.pinHashes ?? 0) + 1);

    // Signed in again under the new pepper: nothing more to do.
    await call(after, [`${user.extension}#`, `${user.pin}#`, '*']);
    expect((await credential(after, user.userId)).pin_hash).toBe(rehashed.pin_hash);
  });

  it('when a PIN hash from before hashes recorded their pepper signs in, then it is tried under each pepper held, and re-hashed under the current one', async () => {
    const user = await createUser(before.services);
    const unlabelled = await argon2.hash(user.pin, { type: argon2.argon2id, secret: Buffer.from(OLD_PEPPER), ...DEFAULT_HASH_PARAMETERS });
    await after.services.pool.query('UPDATE pin_credentials SET pin_hash = $2 WHERE user_id = $1', [user.userId, unlabelled]);
    expect((await keysStatus(AFTER_ENV)).peppers.find((row) => row.id === null)).toMatchObject({ role: 'unlabelled', pinHashes: 1 });
    expect((await call(after, [`${user.extension}#`, `${user.pin}#`, '*'])).slice(-2)).toEqual(['menu.main', 'goodbye']);
    expect(pepperIdOf((await credential(after, user.userId)).pin_hash)).toBe(pepperId(NEW_PEPPER));
    expect((await keysStatus(AFTER_ENV)).peppers.find((row) => row.id === null)).toBeUndefined();
  });

  it('when a hash names a pepper an instance does not hold, then its caller hears [error.unavailable] with the right PIN or a wrong one, and nothing is counted', async () => {
    const user = await createUser(after.services);
    expect(pepperIdOf((await credential(after, user.userId)).pin_hash)).toBe(pepperId(NEW_PEPPER));
    for (const pin of [user.pin, '000000']) {
      expect((await call(before, [`${user.extension}#`, `${pin}#`])).slice(-1)).toEqual(['error.unavailable']);
    }
    expect((await credential(after, user.userId)).failed_count).toBe(0);
    expect((await auditOf(after, user.userId)).map((row) => row.event)).not.toContain('signin.failed');
    // The instance that holds the pepper signs the caller in.
    expect((await call(after, [`${user.extension}#`, `${user.pin}#`, '*'])).slice(-2)).toEqual(['menu.main', 'goodbye']);

    const lagging = await keysStatus({ PIN_PEPPER: OLD_PEPPER });
    expect(pepperRow(lagging, NEW_PEPPER)).toMatchObject({ role: 'unknown', pinHashes: expect.any(Number) });
    expect(lagging.peppers[0]).toMatchObject({ id: pepperId(OLD_PEPPER), role: 'current' });
  });

  it('when the PIN history was hashed under the old pepper, then a PIN in it is still refused after the rotation, and keys status counts the history', async () => {
    await before.services.accounts.setRule('rotation-history', { minChangeMinutes: 0, historyCount: 5 }, testActor);
    const user = await createUser(before.services, { ruleName: 'rotation-history', pin: '604817' });
    await before.services.pins.changePinOrThrow({ userId: user.userId, newPin: '730496', kind: 'administrative', actor: testActor });
    expect(pepperRow(await keysStatus(AFTER_ENV), OLD_PEPPER)?.historyHashes).toBeGreaterThanOrEqual(1);

    for (const reused of ['604817', '730496']) {
      const refused = await after.services.pins.changePin({ userId: user.userId, newPin: reused, kind: 'voluntary', actor: testActor });
      expect(refused).toEqual({ ok: false, refusal: { rule: 'reused', history: 5 } });
    }
    const saved = await after.services.pins.changePin({ userId: user.userId, newPin: '591736', kind: 'voluntary', actor: testActor });
    expect(saved.ok).toBe(true);
    expect(pepperIdOf((await credential(after, user.userId)).pin_hash)).toBe(pepperId(NEW_PEPPER));
  });

  it('when the old pepper is dropped with hashes still under it, then a helpdesk reset still works: the hashes it cannot read never block a new PIN', async () => {
    const user = await createUser(before.services, { pin: '604817' });
    const dropped = await instance({ pinPepper: NEW_PEPPER });
    const { pin } = await dropped.services.pins.resetPin(user.userId, testActor, { showOnce: true });
    expect((await call(dropped, [`${user.extension}#`, `${pin}#`])).slice(-2)).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
  });

  it('when web passwords made under the old pepper sign in after the rotation, then they are re-hashed under the new one and their sessions are not ended', async () => {
    const user = await createUserWithWebPassword(before.services, 'my own web password');
    const admin = await createAdmin(before.services);
    const passwords = async () => {
      const web = await after.services.pool.query('SELECT password_hash, changed_at FROM web_passwords WHERE user_id = $1', [user.userId]);
      const adm = await after.services.pool.query('SELECT password_hash, password_changed_at FROM admins WHERE username = $1', [admin.username]);
      return { web: web.rows[0], admin: adm.rows[0] } as { web: { password_hash: string; changed_at: Date }; admin: { password_hash: string; password_changed_at: Date } };
    };
    const made = await passwords();
    expect([pepperIdOf(made.web.password_hash), pepperIdOf(made.admin.password_hash)]).toEqual([pepperId(OLD_PEPPER), pepperId(OLD_PEPPER)]);

    const userClient = new WebClient(after.baseUrl);
    expect((await userClient.signInAsUser(user.extension, 'my own web password')).status).toBe(200);
    const adminClient = new WebClient(after.baseUrl);
    expect((await adminClient.signInAsAdmin(admin)).status).toBe(200);

    const rehashed = await passwords();
    expect([pepperIdOf(rehashed.web.password_hash), pepperIdOf(rehashed.admin.password_hash)]).toEqual([pepperId(NEW_PEPPER), pepperId(NEW_PEPPER)]);
    expect(rehashed.web.changed_at).toEqual(made.web.changed_at);
    expect(rehashed.admin.password_changed_at).toEqual(made.admin.password_changed_at);
    // Still signed in: a password change would have ended these sessions.
    expect((await userClient.get('/me')).status).toBe(200);
    expect((await adminClient.get('/admin/users')).status).toBe(200);

    // To an instance without the new pepper the password is unreadable: "try again", not "wrong password".
    const lagging = new WebClient(before.baseUrl);
    await lagging.load('/me');
    const refused = await lagging.post('/me/signin', { extension: user.extension, password: 'my own web password' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('60');
    expect(refused.body).toContain('try again in a minute');
    expect((await auditOf(after, user.userId)).map((row) => row.event)).not.toContain('web.signin_failed');
  });
});

describe('keys status', () => {
  it('when run without --json, then it prints a table of peppers and one of session secrets, and exits 0', async () => {
    const run = await runCli(['keys', 'status'], {
      ...cliEnvFor(database.url, mkdtempSync(path.join(tmpdir(), 'pinline-keys-'))),
      ...AFTER_ENV,
      SESSION_SECRET: NEW_SECRET,
      SESSION_SECRET_PREVIOUS: OLD_SECRET,
    });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const lines = run.stdout.split('\n');
    expect(lines[0]).toMatch(/^PEPPER\s+ROLE\s+PIN HASHES\s+HISTORY HASHES\s+WEB PASSWORDS$/);
    expect(lines[1]).toMatch(new RegExp(`^${pepperId(NEW_PEPPER)}\\s+current\\s+\\d+\\s+\\d+\\s+\\d+$`));
    expect(lines[2]).toMatch(new RegExp(`^${pepperId(OLD_PEPPER)}\\s+previous\\s+`));
    const secrets = lines.indexOf('SESSION SECRET  ROLE      QUEUED MESSAGES');
    expect(secrets).toBeGreaterThan(2);
    expect(lines[secrets + 1]).toMatch(new RegExp(`^${sessionSecretId(NEW_SECRET)}\\s+current\\s+0$`));
    expect(lines[secrets + 2]).toMatch(new RegExp(`^${sessionSecretId(OLD_SECRET)}\\s+previous\\s+0$`));
    for (const secret of [NEW_PEPPER, OLD_PEPPER, NEW_SECRET, OLD_SECRET]) expect(run.stdout).not.toContain(secret);
  });
});

describe('rotating SESSION_SECRET', () => {
  const publicBaseUrl = 'http://pinline.rotation.example';

  it('when the turns of a call alternate between an instance at each step of the rollout, then the call goes on to the end', async () => {
    // Step 1: the new secret accepted, the old still current. Step 2: the new current, the old accepted.
    const stepOne = await instance({ publicBaseUrl, sessionSecret: OLD_SECRET, sessionSecretPrevious: [NEW_SECRET] });
    const stepTwo = await instance({ publicBaseUrl, sessionSecret: NEW_SECRET, sessionSecretPrevious: [OLD_SECRET] });
    const user = await createUser(stepOne.services, { enroll: true });
    const ports = [stepOne, stepTwo].map((s) => (s.server.address() as { port: number }).port);
    let turn = 0;
    const transcript = await simulateCall({
      baseUrl: publicBaseUrl,
      authToken: stepOne.services.config.twilioAuthToken,
      keys: [`${user.extension}#`, `${user.pin}#`, '604817#', '604817#', '2', '*'],
      transport: (url) => url.replace(publicBaseUrl, `http://127.0.0.1:${ports[turn++ % 2] as number}`),
    });
    expect(transcript.error).toBeNull();
    expect(heardKeys(transcript, stepOne.services.catalog).slice(-4)).toEqual(['menu.main', 'pin.status{days=180}', 'menu.main', 'goodbye']);
  });

  it('when a call started under the old secret goes on at an instance where the new one is current, then it signs in, and a retry of that turn at either instance is answered once', async () => {
    const old = await instance({ sessionSecret: OLD_SECRET });
    const rotated = await instance({ sessionSecret: NEW_SECRET, sessionSecretPrevious: [OLD_SECRET] });
    const user = await createUser(old.services);
    const callSid = 'CArotation0000000000000000000001';
    const onOld = new WebhookCaller(old, callSid);
    const onRotated = new WebhookCaller(rotated, callSid);
    const pinPrompt = (await onOld.press((await onOld.incoming()).action, user.extension)).action;
    // Sealed under the old secret, delivered at the rotated instance, then retried at the old one.
    const first = await onRotated.press(pinPrompt, user.pin);
    const retried = await onOld.press(pinPrompt, user.pin);
    expect(first.said.slice(-1)).toEqual(['menu.main']);
    expect(retried.said).toEqual(first.said);
    expect((await auditOf(old, user.userId)).filter((row) => row.event === 'signin.succeeded')).toHaveLength(1);
    // The next turn, sealed under the new secret, goes on at the rotated instance.
    expect((await onRotated.press(first.action, '*')).said).toEqual(['goodbye']);
  });

  it('when the new secret becomes current, then a web session and a form loaded under the old one still work; once the old one is dropped, they do not', async () => {
    const old = await instance({ sessionSecret: OLD_SECRET });
    const rotated = await instance({ sessionSecret: NEW_SECRET, sessionSecretPrevious: [OLD_SECRET] });
    const dropped = await instance({ sessionSecret: NEW_SECRET });
    const admin = await createAdmin(old.services);
    const browser = new WebClient(old.baseUrl);
    await browser.signInAsAdmin(admin);
    await browser.load('/admin/tokens');
    const formToken = browser.csrf();
    const moved = (server: PhoneServer) => {
      const client = new WebClient(server.baseUrl);
      for (const [name, value] of browser.cookies) client.cookies.set(name, value);
      return client;
    };

    const atRotated = moved(rotated);
    const created = await atRotated.post('/admin/tokens', { name: 'rotation-token' }, { csrf: formToken });
    expect(created.status).toBe(200);
    expect(created.body).toContain('id="new-token"');

    const atDropped = moved(dropped);
    expect((await atDropped.get('/admin/tokens')).location).toBe('/admin/signin');
    expect((await atDropped.post('/admin/tokens', { name: 'rotation-token-2' }, { csrf: formToken })).status).toBe(403);
  });

  it('when a reset is queued under the old secret, then an instance where the new one is current delivers it, and keys status counts it until then', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pinline-keys-outbox-'));
    const old = await instance({ sessionSecret: OLD_SECRET, dataDir });
    const user = await createUser(old.services, { email: 'rotation@example.com' });
    const { pin } = await old.services.pins.resetPin(user.userId, testActor, { showOnce: true });
    const queued = await keysStatus({ SESSION_SECRET: NEW_SECRET, SESSION_SECRET_PREVIOUS: OLD_SECRET });
    expect(queued.sessionSecrets).toEqual([
      { id: sessionSecretId(NEW_SECRET), role: 'current', queuedMessages: 0 },
      { id: sessionSecretId(OLD_SECRET), role: 'previous', queuedMessages: 1 },
    ]);

    const rotated = await instance({ sessionSecret: NEW_SECRET, sessionSecretPrevious: [OLD_SECRET], dataDir });
    await rotated.services.notifications.startWorker();
    const { readdir, readFile } = await import('node:fs/promises');
    const outbox = path.join(dataDir, 'outbox');
    const deadline = Date.now() + 15_000;
    let files: string[] = [];
    while (files.length === 0 && Date.now() < deadline) {
      files = await readdir(outbox).catch(() => []);
      if (files.length === 0) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(files).toHaveLength(1);
    expect(await readFile(path.join(outbox, files[0] as string), 'utf8')).toContain(`Your new PIN is ${pin}`);
    const delivered = await keysStatus({ SESSION_SECRET: NEW_SECRET, SESSION_SECRET_PREVIOUS: OLD_SECRET });
    expect(delivered.sessionSecrets.map((row) => row.queuedMessages)).toEqual([0, 0]);
  });
});
