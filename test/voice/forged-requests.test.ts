import { beforeAll, describe, expect, it } from 'vitest';
import { createUser, testActor } from '../support/factories.js';
import { usePhoneServer, WebhookCaller } from '../support/phone.js';

// DESIGN §3 "Idempotent turns, bound to the exact request" and "The auth token is not a PIN":
// whoever can sign webhooks still cannot sign in without the PIN, whatever they post again.

const phone = usePhoneServer();
let sequence = 0;
const newCall = () => new WebhookCaller(phone.phone, `CAforged${String(++sequence).padStart(4, '0')}`);

beforeAll(async () => {
  // Voluntary changes right after the user is made: no minimum time between changes.
  await phone.services.accounts.setRule('quick', { minChangeMinutes: 0 }, testActor);
});

async function pinHash(userId: number): Promise<string> {
  const { rows } = await phone.services.pool.query('SELECT pin_hash FROM pin_credentials WHERE user_id = $1', [userId]);
  return rows[0].pin_hash as string;
}

async function signinEvents(userId: number): Promise<string[]> {
  const { rows } = await phone.services.pool.query(
    `SELECT event FROM audit_events WHERE user_id = $1 AND event LIKE 'signin.%' ORDER BY id`,
    [userId],
  );
  return rows.map((r) => r.event as string);
}

describe('a forked sealed state', () => {
  it('when one ID-prompt state is posted twice with two extensions, then the second branch is checked with its own PIN', async () => {
    const attacker = await createUser(phone.services);
    const victim = await createUser(phone.services, { pin: '604817' });
    const call = newCall();
    const idPrompt = (await call.incoming()).action;
    const attackerPin = await call.press(idPrompt, attacker.extension);
    const victimPin = await call.press(idPrompt, victim.extension);

    expect((await call.press(attackerPin.action, attacker.pin)).said).toContain('menu.main');
    const forged = await call.press(victimPin.action, '000000');
    expect(forged.said).toEqual(['signin.invalid', 'signin.enter_id']);
    expect(await signinEvents(victim.userId)).toEqual(['signin.failed']);
  });

  it('when the forked branch names a new user, then it neither enrolls nor saves a PIN without that user’s PIN', async () => {
    const attacker = await createUser(phone.services);
    const victim = await createUser(phone.services, { pin: '604817', enroll: true });
    const before = await pinHash(victim.userId);
    const call = newCall();
    const idPrompt = (await call.incoming()).action;
    const attackerPin = await call.press(idPrompt, attacker.extension);
    const victimPin = await call.press(idPrompt, victim.extension);
    await call.press(attackerPin.action, attacker.pin);

    const forged = await call.press(victimPin.action, '111222');
    expect(forged.said).not.toContain('enroll.welcome');
    expect(forged.said[0]).toBe('signin.invalid');
    expect(await pinHash(victim.userId)).toBe(before);
  });

  it('when the forked branch names a user locked by an administrator, then it hears [signin.locked]', async () => {
    const attacker = await createUser(phone.services);
    const victim = await createUser(phone.services, { pin: '604817' });
    await phone.services.pins.updateSettings(victim.userId, { flags: { lockedByAdmin: true } }, testActor);
    const call = newCall();
    const idPrompt = (await call.incoming()).action;
    const attackerPin = await call.press(idPrompt, attacker.extension);
    const victimPin = await call.press(idPrompt, victim.extension);
    await call.press(attackerPin.action, attacker.pin);

    const forged = await call.press(victimPin.action, attacker.pin);
    expect(forged.said).toEqual(['signin.locked']);
    expect(forged.action).toBeNull();
  });

  it('when the same PIN-prompt state is posted again with another PIN, then that PIN is checked too', async () => {
    const user = await createUser(phone.services);
    const call = newCall();
    const pinPrompt = (await call.press((await call.incoming()).action, user.extension)).action;
    expect((await call.press(pinPrompt, '000000')).said[0]).toBe('signin.invalid');
    expect((await call.press(pinPrompt, user.pin)).said).toContain('menu.main');
    expect(await signinEvents(user.userId)).toEqual(['signin.failed', 'signin.succeeded']);
  });
});

describe('a CallSid used again', () => {
  it('when a new call reuses a finished call’s CallSid, then its sign-in is checked in full', async () => {
    const attacker = await createUser(phone.services);
    const victim = await createUser(phone.services, { pin: '604817' });
    const first = newCall();
    const pinPrompt = (await first.press((await first.incoming()).action, attacker.extension)).action;
    expect((await first.press(pinPrompt, attacker.pin)).said).toContain('menu.main');

    const again = new WebhookCaller(phone.phone, first.callSid);
    const victimPin = (await again.press((await again.incoming()).action, victim.extension)).action;
    const forged = await again.press(victimPin, '000000');
    expect(forged.said).toEqual(['signin.invalid', 'signin.enter_id']);
    expect(await signinEvents(victim.userId)).toEqual(['signin.failed']);
  });
});

describe('flags that take effect mid-call', () => {
  /** A call signed in as `user`, at the main menu; returns the menu's action. */
  async function atMenu(user: { extension: string; pin: string }) {
    const call = newCall();
    const pinPrompt = (await call.press((await call.incoming()).action, user.extension)).action;
    const menu = await call.press(pinPrompt, user.pin);
    expect(menu.said.at(-1)).toBe('menu.main');
    return { call, menu: menu.action };
  }

  it('when an administrator locks the user after sign-in, then the new PIN is refused with [signin.locked]', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const before = await pinHash(user.userId);
    const { call, menu } = await atMenu(user);
    const newPin = await call.press(menu, '1');
    await phone.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    const refused = await call.press(newPin.action, '604817');
    expect(refused.said).toEqual(['signin.locked']);
    expect(refused.action).toBeNull();
    expect(await pinHash(user.userId)).toBe(before);
  });

  it('when an administrator locks the user between the new PIN and its confirmation, then nothing is saved', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const before = await pinHash(user.userId);
    const { call, menu } = await atMenu(user);
    const confirm = await call.press((await call.press(menu, '1')).action, '604817');
    expect(confirm.said).toEqual(['pin.confirm']);
    await phone.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    const refused = await call.press(confirm.action, '604817');
    expect(refused.said).toEqual(['signin.locked']);
    expect(await pinHash(user.userId)).toBe(before);
  });

  it('when "user cannot change" is set after sign-in, then the change is refused with [pin.cant_change]', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const before = await pinHash(user.userId);
    const { call, menu } = await atMenu(user);
    const confirm = await call.press((await call.press(menu, '1')).action, '604817');
    await phone.services.pins.updateSettings(user.userId, { flags: { cannotChange: true } }, testActor);
    const refused = await call.press(confirm.action, '604817');
    expect(refused.said).toEqual(['pin.cant_change', 'menu.main']);
    expect(await pinHash(user.userId)).toBe(before);
  });

  it('when the user is deleted after sign-in, then the caller hears [signin.locked] and the call ends', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const { call, menu } = await atMenu(user);
    const newPin = await call.press(menu, '1');
    await phone.services.accounts.deleteUser(user.userId, testActor);
    const refused = await call.press(newPin.action, '604817');
    expect(refused.said).toEqual(['signin.locked']);
    expect(refused.action).toBeNull();
  });

  it('when a user in enrollment is locked out by intruder detection meanwhile, then the enrollment PIN is not saved', async () => {
    const user = await createUser(phone.services, { enroll: true });
    const before = await pinHash(user.userId);
    const call = newCall();
    const pinPrompt = (await call.press((await call.incoming()).action, user.extension)).action;
    const enroll = await call.press(pinPrompt, user.pin);
    expect(enroll.said).toEqual(['enroll.welcome', 'pin.enter_new{min=6,max=20}']);
    for (let i = 0; i < 3; i++) await phone.services.pins.verifySignin({ extension: user.extension, pin: '000000', actor: testActor });
    const refused = await call.press(enroll.action, '604817');
    expect(refused.said).toEqual(['signin.locked']);
    expect(await pinHash(user.userId)).toBe(before);
  });
});

describe('a true retry', () => {
  it('when the save request is delivered again, then it answers as saved and the PIN is changed once', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const call = newCall();
    const pinPrompt = (await call.press((await call.incoming()).action, user.extension)).action;
    const menu = (await call.press(pinPrompt, user.pin)).action;
    const confirm = (await call.press((await call.press(menu, '1')).action, '604817')).action;
    const saved = await call.press(confirm, '604817');
    const retried = await call.press(confirm, '604817');
    expect(saved.said).toEqual(['pin.changed', 'menu.main']);
    expect(retried.said).toEqual(saved.said);
    const { rows } = await phone.services.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE user_id = $1 AND event = 'pin.changed'`, [user.userId]);
    expect(rows[0].n).toBe(1);
  });
});
