import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createUser, createUserWithWebPassword, testActor } from '../support/factories.js';
import { startPhoneServer, WebhookCaller, type PhoneServer } from '../support/phone.js';
import { textOf, WebClient } from '../support/web-client.js';

// DESIGN §9: the inactivity lock (a rule's --inactive-days) and the per-user response wait, as a
// caller, a self-service user and an administrator meet them.

const DAY = 24 * 60 * 60_000;
const WEB_PASSWORD = 'my own web password';

let database: TestDatabase;
let phone: PhoneServer;
let now: Date;

beforeAll(async () => {
  database = await createTestDatabase();
  phone = await startPhoneServer(database.url, {}, { services: { clock: () => now } });
  await phone.services.accounts.setRule('idle-30', { inactiveDays: 30 }, testActor);
});
afterAll(async () => {
  await phone?.close();
  await database?.drop();
});
beforeEach(() => {
  now = new Date();
});

let callSequence = 0;
function caller(): WebhookCaller {
  callSequence += 1;
  return new WebhookCaller(phone, `CA${String(callSequence).padStart(32, '0')}`);
}

/** Signs in by phone with ID and PIN; returns the answer to the PIN. */
async function signIn(extension: string, pin: string) {
  const call = caller();
  const welcome = await call.incoming();
  const idAnswer = await call.press(welcome.action, extension);
  return call.press(idAnswer.action, pin);
}

async function credential(userId: number) {
  const { rows } = await phone.services.pool.query(
    'SELECT last_signin_at, activity_since, inactive_locked_at FROM pin_credentials WHERE user_id = $1',
    [userId],
  );
  return rows[0] as { last_signin_at: Date | null; activity_since: Date; inactive_locked_at: Date | null };
}

async function setActivity(userId: number, values: { lastSigninAt?: Date | null; activitySince?: Date }): Promise<void> {
  await phone.services.pool.query(
    `UPDATE pin_credentials SET last_signin_at = CASE WHEN $2::boolean THEN $3::timestamptz ELSE last_signin_at END,
            activity_since = COALESCE($4::timestamptz, activity_since) WHERE user_id = $1`,
    [userId, values.lastSigninAt !== undefined, values.lastSigninAt ?? null, values.activitySince ?? null],
  );
}

async function eventsOf(userId: number): Promise<string[]> {
  const { rows } = await phone.services.pool.query('SELECT event FROM audit_events WHERE user_id = $1 ORDER BY id', [userId]);
  return rows.map((row) => row.event as string);
}

describe('inactivity lock', () => {
  it('when a user signs in by phone, then the sign-in is recorded as their last activity', async () => {
    const user = await createUser(phone.services, { ruleName: 'idle-30' });
    expect((await credential(user.userId)).last_signin_at).toBeNull();
    expect((await signIn(user.extension, user.pin)).said).toContain('menu.main');
    expect((await credential(user.userId)).last_signin_at).toEqual(now);
  });

  it('when exactly 30 days have passed since the last sign-in, then the user still signs in; a second more and the sign-in is refused as locked', async () => {
    const user = await createUser(phone.services, { ruleName: 'idle-30' });
    const lastSignin = new Date(Date.now() - 40 * DAY);
    await setActivity(user.userId, { lastSigninAt: lastSignin, activitySince: new Date(Date.now() - 100 * DAY) });

    now = new Date(lastSignin.getTime() + 30 * DAY);
    expect((await signIn(user.extension, user.pin)).said).toContain('menu.main');

    // That sign-in restarted the clock; a full 30 days and a second later it is locked.
    now = new Date(now.getTime() + 30 * DAY + 1000);
    const refused = await signIn(user.extension, user.pin);
    expect(refused.said).toEqual(['signin.locked']);
    expect(refused.action).toBeNull();
    expect((await eventsOf(user.userId)).slice(-2)).toEqual(['pin.locked_inactive', 'signin.refused_locked']);
  });

  it('when the lock refuses again, then only the first refusal is audited as pin.locked_inactive, and a wrong PIN is not counted', async () => {
    const user = await createUser(phone.services, { ruleName: 'idle-30' });
    await setActivity(user.userId, { activitySince: new Date(Date.now() - 31 * DAY) });
    await signIn(user.extension, user.pin);
    await signIn(user.extension, '000000');
    await signIn(user.extension, user.pin);
    const events = await eventsOf(user.userId);
    expect(events.filter((event) => event === 'pin.locked_inactive')).toHaveLength(1);
    expect(events.filter((event) => event === 'signin.refused_locked')).toHaveLength(3);
    expect(events).not.toContain('signin.failed');
  });

  it('when a user never signed in, then the clock starts at the latest of creation, PIN set and unlock', async () => {
    const user = await createUser(phone.services, { ruleName: 'idle-30' });
    const created = (await credential(user.userId)).activity_since;
    expect(Math.abs(created.getTime() - Date.now())).toBeLessThan(60_000);

    now = new Date(created.getTime() + 30 * DAY - 1000);
    expect((await signIn(user.extension, '000000')).said).toContain('signin.invalid');
    now = new Date(created.getTime() + 31 * DAY);
    expect((await signIn(user.extension, user.pin)).said).toEqual(['signin.locked']);
  });

  it('when an administrator unlocks an inactive user, then the clock starts again and the user signs in', async () => {
    const user = await createUser(phone.services, { ruleName: 'idle-30' });
    await setActivity(user.userId, { lastSigninAt: new Date(Date.now() - 60 * DAY), activitySince: new Date(Date.now() - 90 * DAY) });
    expect((await signIn(user.extension, user.pin)).said).toEqual(['signin.locked']);
    expect((await phone.services.accounts.getAccount({ userId: user.userId })).pin.inactiveLockedAt).not.toBeNull();

    await phone.services.pins.updateSettings(user.userId, { unlock: true }, testActor);
    const after = await credential(user.userId);
    expect(after.inactive_locked_at).toBeNull();
    expect(Math.abs(after.activity_since.getTime() - Date.now())).toBeLessThan(60_000);
    expect((await signIn(user.extension, user.pin)).said).toContain('menu.main');
  });

  it('when an inactive user’s PIN is reset, then the clock starts again and the reset PIN signs in', async () => {
    const user = await createUser(phone.services, { ruleName: 'idle-30' });
    await setActivity(user.userId, { activitySince: new Date(Date.now() - 45 * DAY) });
    expect((await signIn(user.extension, user.pin)).said).toEqual(['signin.locked']);

    const reset = await phone.services.pins.resetPin(user.userId, testActor, { showOnce: true });
    expect((await credential(user.userId)).inactive_locked_at).toBeNull();
    // The reset PIN must be changed: the caller goes to the forced change, not the lock.
    expect((await signIn(user.extension, reset.pin as string)).said).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
  });

  it('when the rule has no inactivity lock, then a user idle for years still signs in', async () => {
    const user = await createUser(phone.services);
    await setActivity(user.userId, { lastSigninAt: new Date(Date.now() - 3000 * DAY), activitySince: new Date(Date.now() - 3000 * DAY) });
    expect((await signIn(user.extension, user.pin)).said).toContain('menu.main');
  });

  it('when an inactive user signs in on /me, then the sign-in is refused as locked and audited once; after an unlock it is admitted and recorded', async () => {
    const user = await createUserWithWebPassword(phone.services, WEB_PASSWORD, { ruleName: 'idle-30' });
    await setActivity(user.userId, { lastSigninAt: new Date(Date.now() - 31 * DAY), activitySince: new Date(Date.now() - 31 * DAY) });
    const client = new WebClient(phone.baseUrl);
    const refused = await client.signInAsUser(user.extension, WEB_PASSWORD);
    expect(refused.status).toBe(403);
    expect(textOf(refused.body)).toContain('Your account is locked because it has not been used for a long time');
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    expect((await eventsOf(user.userId)).filter((event) => event === 'pin.locked_inactive')).toHaveLength(1);

    await phone.services.pins.updateSettings(user.userId, { unlock: true }, testActor);
    const admitted = await client.signInAsUser(user.extension, WEB_PASSWORD);
    expect(admitted.status).toBe(200);
    expect(textOf(admitted.body)).toContain('Your PIN');
    expect((await credential(user.userId)).last_signin_at).toEqual(now);
  });

  it('when a user signs in on /me, then that counts as activity for the phone as well', async () => {
    const user = await createUserWithWebPassword(phone.services, WEB_PASSWORD, { ruleName: 'idle-30' });
    await setActivity(user.userId, { lastSigninAt: new Date(Date.now() - 29 * DAY), activitySince: new Date(Date.now() - 29 * DAY) });
    await new WebClient(phone.baseUrl).signInAsUser(user.extension, WEB_PASSWORD);
    now = new Date(Date.now() + 20 * DAY);
    expect((await signIn(user.extension, user.pin)).said).toContain('menu.main');
  });

  it('when the user show is asked for, then the inactivity lock is named with the last activity', async () => {
    const user = await createUser(phone.services, { ruleName: 'idle-30' });
    const lastActivity = new Date(Date.now() - 31 * DAY);
    await setActivity(user.userId, { lastSigninAt: lastActivity, activitySince: lastActivity });
    const account = await phone.services.accounts.getAccount({ userId: user.userId });
    const { presentPinStatus, userJson } = await import('../../src/accounts/present.js');
    const view = presentPinStatus(account, now);
    expect(view.summary).toBe('Locked (inactivity)');
    expect(view.lockout).toEqual(['locked for inactivity (no sign-in for more than 30 days since ', lastActivity, '), until an administrator unlocks']);
    expect(userJson(account, now).pin.status).toMatchObject({ lockout: 'inactive', lastSigninAt: lastActivity.toISOString() });
  });
});

describe('response wait', () => {
  const timeoutOf = (twiml: string) => Number(/timeout="(\d+)"/.exec(twiml)?.[1]);

  it('when a user with a 12 s wait signs in, then prompts before the PIN wait 5 s and every prompt after it waits 12 s', async () => {
    const user = await createUser(phone.services, { responseWait: 12 });
    const call = caller();
    const welcome = await call.incoming();
    expect(timeoutOf(welcome.body)).toBe(5);
    const pinPrompt = await call.press(welcome.action, user.extension);
    expect(timeoutOf(pinPrompt.body)).toBe(5);
    const menu = await call.press(pinPrompt.action, user.pin);
    expect(menu.said).toContain('menu.main');
    expect(timeoutOf(menu.body)).toBe(12);
    const newPin = await call.press(menu.action, '1');
    expect(timeoutOf(newPin.body)).toBe(12);
  });

  it('when an unknown ID or a wrong PIN is entered, then the wait stays 5 s, so it hints nothing about the ID', async () => {
    const user = await createUser(phone.services, { responseWait: 30 });
    const call = caller();
    const welcome = await call.incoming();
    const pinPrompt = await call.press(welcome.action, user.extension);
    const wrong = await call.press(pinPrompt.action, '000000');
    expect(wrong.said).toContain('signin.invalid');
    expect(timeoutOf(wrong.body)).toBe(5);
    const unknown = await call.press((await call.press(wrong.action, '99999')).action, '000000');
    expect(timeoutOf(unknown.body)).toBe(5);
  });

  it('when the wait changes during a call, then that call keeps the old wait and the next call has the new one', async () => {
    const user = await createUser(phone.services, { responseWait: 7 });
    const call = caller();
    const welcome = await call.incoming();
    const menu = await call.press((await call.press(welcome.action, user.extension)).action, user.pin);
    expect(timeoutOf(menu.body)).toBe(7);
    await phone.services.accounts.updateUser(user.userId, { responseWait: 20 }, testActor);
    expect(timeoutOf((await call.press(menu.action, '2')).body)).toBe(7);
    expect(timeoutOf((await signIn(user.extension, user.pin)).body)).toBe(20);
  });

  it('when a wait outside 3 to 30 s or not a whole number is given, then it is refused with a one-line reason and nothing changes', async () => {
    const user = await createUser(phone.services);
    for (const wait of ['2', '31', '5.5', 'five', '']) {
      await expect(phone.services.accounts.updateUser(user.userId, { responseWait: wait }, testActor)).rejects.toThrow(
        /response wait ".*" must be a whole number of seconds from 3 to 30/,
      );
    }
    expect((await phone.services.accounts.getAccount({ userId: user.userId })).user.responseWait).toBe(5);
  });
});
