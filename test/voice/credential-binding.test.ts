import { beforeAll, describe, expect, it } from 'vitest';
import { createUser, testActor } from '../support/factories.js';
import { usePhoneServer, WebhookCaller, type Answer } from '../support/phone.js';

// DESIGN §3 "A sign-in is bound to the credential it proved": a reset, a change or a new owner of
// the extension takes the account back from every request and call that proved the old one.

const phone = usePhoneServer();
let sequence = 0;
const newCall = () => new WebhookCaller(phone.phone, `CAbound${String(++sequence).padStart(4, '0')}`);

beforeAll(async () => {
  // Voluntary changes right after sign-in: no minimum time between changes.
  await phone.services.accounts.setRule('quick', { minChangeMinutes: 0 }, testActor);
});

async function pinHash(userId: number): Promise<string> {
  const { rows } = await phone.services.pool.query('SELECT pin_hash FROM pin_credentials WHERE user_id = $1', [userId]);
  return rows[0].pin_hash as string;
}

async function countEvents(userId: number, event: string): Promise<number> {
  const { rows } = await phone.services.pool.query('SELECT count(*)::int AS n FROM audit_events WHERE user_id = $1 AND event = $2', [userId, event]);
  return rows[0].n as number;
}

/** A call signed in as `user`: the PIN prompt's action (to replay the sign-in) and what the sign-in answered. */
async function signedIn(user: { extension: string; pin: string }) {
  const call = newCall();
  const pinPrompt = (await call.press((await call.incoming()).action, user.extension)).action;
  const answer = await call.press(pinPrompt, user.pin);
  return { call, pinPrompt, answer };
}

/** Heard nothing past the sign-in: not the menu, not a new-PIN dialog, and no state that carries a signed-in caller. */
function expectRefusedSignin(answer: Answer): void {
  expect(answer.said[0]).toBe('signin.invalid');
  for (const key of ['menu.main', 'enroll.welcome', 'pin.expired', 'pin.enter_new{min=6,max=20}']) expect(answer.said.join(' ')).not.toContain(key);
}

/** The account-changed ending: [signin.reauth] and a hang-up. */
function expectReauth(answer: Answer): void {
  expect(answer.said).toEqual(['signin.reauth']);
  expect(answer.action).toBeNull();
}

describe('an old sign-in replayed', () => {
  it('when the helpdesk has reset the PIN (shown once), then the replayed sign-in is checked in full and the old PIN fails', async () => {
    const user = await createUser(phone.services);
    const { call, pinPrompt, answer } = await signedIn(user);
    expect(answer.said.at(-1)).toBe('menu.main');
    const { pin: resetPin } = await phone.services.pins.resetPin(user.userId, testActor, { showOnce: true });
    const helpdeskHash = await pinHash(user.userId);

    expectRefusedSignin(await call.press(pinPrompt, user.pin));
    expect(await pinHash(user.userId)).toBe(helpdeskHash);
    // The helpdesk's PIN is still the one that signs in, into the forced change.
    const next = await signedIn({ extension: user.extension, pin: resetPin as string });
    expect(next.answer.said).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
  });

  it('when the user has changed their own PIN since, then the replayed sign-in fails', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const { call, pinPrompt } = await signedIn(user);
    const other = await signedIn(user);
    const confirm = await other.call.press((await other.call.press(other.answer.action, '1')).action, '604817');
    expect((await other.call.press(confirm.action, '604817')).said).toEqual(['pin.changed', 'menu.main']);

    expectRefusedSignin(await call.press(pinPrompt, user.pin));
  });

  it('when the extension was deleted and given to a new user, then the old owner’s sign-in does not open the new user’s enrollment', async () => {
    const old = await createUser(phone.services, { extension: '44001' });
    const { call, pinPrompt } = await signedIn(old);
    await phone.services.accounts.deleteUser(old.userId, testActor);
    const recycled = await createUser(phone.services, { extension: '44001', pin: '730496', enroll: true });
    const before = await pinHash(recycled.userId);

    const replayed = await call.press(pinPrompt, old.pin);
    expectRefusedSignin(replayed);
    expect(await pinHash(recycled.userId)).toBe(before);
    expect(await countEvents(recycled.userId, 'signin.succeeded')).toBe(0);
  });

  it('when the extension was deleted and not given again, then the replay sounds like any unknown ID', async () => {
    const user = await createUser(phone.services);
    const { call, pinPrompt } = await signedIn(user);
    await phone.services.accounts.deleteUser(user.userId, testActor);
    expect((await call.press(pinPrompt, user.pin)).said).toEqual(['signin.invalid', 'signin.enter_id']);
  });

  it('when nothing changed, then an exact retry of the sign-in is answered as the first was, without a second audit row', async () => {
    const user = await createUser(phone.services);
    const { call, pinPrompt, answer } = await signedIn(user);
    const retried = await call.press(pinPrompt, user.pin);
    expect(retried.said).toEqual(answer.said);
    expect(await countEvents(user.userId, 'signin.succeeded')).toBe(1);
  });
});

describe('a helpdesk reset during a call', () => {
  it('when the caller is in a forced change, then the new PIN is refused with [signin.reauth] and the helpdesk PIN stays', async () => {
    const user = await createUser(phone.services, { flags: { mustChange: true } });
    const { call, answer } = await signedIn(user);
    expect(answer.said).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
    const { pin: resetPin } = await phone.services.pins.resetPin(user.userId, testActor, { showOnce: true });
    const helpdeskHash = await pinHash(user.userId);

    expectReauth(await call.press(answer.action, '604817'));
    expect(await pinHash(user.userId)).toBe(helpdeskHash);
    expect((await signedIn({ extension: user.extension, pin: resetPin as string })).answer.said).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
  });

  it('when the caller of a forced change is at the confirmation, then nothing is saved', async () => {
    const user = await createUser(phone.services, { flags: { mustChange: true } });
    const { call, answer } = await signedIn(user);
    const confirm = await call.press(answer.action, '604817');
    expect(confirm.said).toEqual(['pin.confirm']);
    await phone.services.pins.resetPin(user.userId, testActor, { showOnce: true });
    const helpdeskHash = await pinHash(user.userId);

    expectReauth(await call.press(confirm.action, '604817'));
    expect(await pinHash(user.userId)).toBe(helpdeskHash);
    expect(await countEvents(user.userId, 'pin.changed')).toBe(0);
  });

  it('when the caller is in a voluntary change (no minimum time), then the new PIN is refused with [signin.reauth] and the helpdesk PIN stays', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const { call, answer } = await signedIn(user);
    const confirm = await call.press((await call.press(answer.action, '1')).action, '604817');
    expect(confirm.said).toEqual(['pin.confirm']);
    await phone.services.pins.resetPin(user.userId, testActor, { showOnce: true });
    const helpdeskHash = await pinHash(user.userId);

    expectReauth(await call.press(confirm.action, '604817'));
    expect(await pinHash(user.userId)).toBe(helpdeskHash);
  });

  it('when "must change" is set by an administrator mid-call, then the caller’s next new PIN hears [signin.reauth]', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const { call, answer } = await signedIn(user);
    const newPin = await call.press(answer.action, '1');
    await phone.services.pins.updateSettings(user.userId, { flags: { mustChange: true } }, testActor);
    expectReauth(await call.press(newPin.action, '604817'));
  });
});

describe('a sealed new-PIN state', () => {
  it('when a forced change’s new-PIN state is posted again with other keys after its PIN was saved, then no second PIN is saved', async () => {
    const user = await createUser(phone.services, { flags: { mustChange: true } });
    const { call, answer } = await signedIn(user);
    const newPinState = answer.action;
    const confirm = await call.press(newPinState, '604817');
    expect((await call.press(confirm.action, '604817')).said).toEqual(['pin.changed', 'menu.main']);
    const saved = await pinHash(user.userId);

    for (const other of ['520739', '940716', user.pin]) {
      const fork = await call.press(newPinState, other);
      expectReauth(fork);
    }
    expect(await pinHash(user.userId)).toBe(saved);
    expect(await countEvents(user.userId, 'pin.changed')).toBe(1);
  });

  it('when its confirmation state is posted with other keys, then nothing is saved', async () => {
    const user = await createUser(phone.services, { flags: { mustChange: true } });
    const { call, answer } = await signedIn(user);
    const confirm = await call.press(answer.action, '604817');
    await call.press(confirm.action, '604817');
    const saved = await pinHash(user.userId);
    expect((await call.press(confirm.action, '520739')).said[0]).toBe('pin.mismatch');
    expect(await pinHash(user.userId)).toBe(saved);
  });

  it('when the call saved its own PIN, then the same call goes on to the menu and may change it again', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick', flags: { mustChange: true } });
    const { call, answer } = await signedIn(user);
    const menu = await call.press((await call.press(answer.action, '604817')).action, '604817');
    expect(menu.said).toEqual(['pin.changed', 'menu.main']);
    const confirm = await call.press((await call.press(menu.action, '1')).action, '520739');
    expect(confirm.said).toEqual(['pin.confirm']);
    expect((await call.press(confirm.action, '520739')).said).toEqual(['pin.changed', 'menu.main']);
    expect(await countEvents(user.userId, 'pin.changed')).toBe(2);
  });

  it('when a save is delivered again (a Twilio retry), then it is answered as the first and the call goes on with the new PIN', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const { call, answer } = await signedIn(user);
    const confirm = await call.press((await call.press(answer.action, '1')).action, '604817');
    const saved = await call.press(confirm.action, '604817');
    const retried = await call.press(confirm.action, '604817');
    expect(retried.said).toEqual(saved.said);
    expect(await countEvents(user.userId, 'pin.changed')).toBe(1);
    // The retry's state carries the version its own save made, so the call can change again.
    const again = await call.press((await call.press(retried.action, '1')).action, '520739');
    expect(again.said).toEqual(['pin.confirm']);
  });

  it('when a save is delivered again after a helpdesk reset, then it hears [signin.reauth] and the helpdesk PIN stays', async () => {
    const user = await createUser(phone.services, { ruleName: 'quick' });
    const { call, answer } = await signedIn(user);
    const confirm = await call.press((await call.press(answer.action, '1')).action, '604817');
    expect((await call.press(confirm.action, '604817')).said).toEqual(['pin.changed', 'menu.main']);
    await phone.services.pins.resetPin(user.userId, testActor, { showOnce: true });
    const helpdeskHash = await pinHash(user.userId);

    expectReauth(await call.press(confirm.action, '604817'));
    expect(await pinHash(user.userId)).toBe(helpdeskHash);
    expect(await countEvents(user.userId, 'pin.changed')).toBe(1);
  });
});
