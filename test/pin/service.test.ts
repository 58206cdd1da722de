import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { Actor } from '../../src/audit/actor.js';
import type { CallTurn } from '../../src/db/audit.js';
import { SecretHasher } from '../../src/pin/hasher.js';
import { createUser, testActor } from '../support/factories.js';
import { useServices } from '../support/services.js';

const fixture = useServices();
const caller: Actor = { channel: 'phone', name: 'caller:test' };
const MINUTE = 60_000;

/** One webhook request; the same arguments make the same fingerprint, as a Twilio retry would. */
function callTurn(callSid: string, turn: number, request = 'the request'): CallTurn {
  return { callSid, turn, requestKey: createHash('sha256').update(`${callSid}/${turn}/${request}`).digest() };
}

async function credential(userId: number) {
  const { rows } = await fixture.pool.query('SELECT * FROM pin_credentials WHERE user_id = $1', [userId]);
  return rows[0];
}

async function version(userId: number): Promise<number> {
  return (await credential(userId)).version as number;
}

async function events(userId: number): Promise<string[]> {
  const { rows } = await fixture.pool.query('SELECT event FROM audit_events WHERE user_id = $1 ORDER BY id', [userId]);
  return rows.map((r) => r.event);
}

describe('sign-in', () => {
  it('when the PIN is right, then the sign-in succeeds, resets the failed count and is audited', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
    const result = await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller });
    expect(result.outcome).toBe('ok');
    expect((await credential(user.userId)).failed_count).toBe(0);
    expect(await events(user.userId)).toEqual(['user.created', 'pin.set', 'signin.failed', 'signin.succeeded']);
  });

  it('when the ID is unknown, then the answer is the same as a wrong PIN and the typed ID is not stored', async () => {
    const result = await fixture.services.pins.verifySignin({ extension: '99999', pin: '123456', actor: caller });
    expect(result).toEqual({ outcome: 'invalid', maxFailedPerCall: 3 });
    const { rows } = await fixture.pool.query("SELECT extension, details FROM audit_events WHERE details->>'reason' = 'unknown_id'");
    expect(rows.at(-1)).toEqual({ extension: null, details: { reason: 'unknown_id' } });
  });

  it('when the rule threshold of wrong PINs is reached, then the account is locked out and further attempts are not checked or counted', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    for (let i = 0; i < 3; i++) {
      expect((await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller })).outcome).toBe('invalid');
    }
    const locked = await credential(user.userId);
    expect(locked.failed_count).toBe(3);
    expect(locked.locked_at).not.toBeNull();
    // Even the right PIN is refused, and the lockout is neither counted nor extended.
    expect((await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller })).outcome).toBe('locked');
    const after = await credential(user.userId);
    expect(after.failed_count).toBe(3);
    expect(after.locked_at).toEqual(locked.locked_at);
    expect(await events(user.userId)).toEqual([
      'user.created',
      'pin.set',
      'signin.failed',
      'signin.failed',
      'signin.failed',
      'pin.locked_out',
      'signin.refused_locked',
    ]);
  });

  it('when the lockout duration has passed, then the right PIN signs in again and the count starts over', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    for (let i = 0; i < 3; i++) await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
    fixture.setNow(new Date(Date.now() + 31 * MINUTE));
    try {
      expect((await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller })).outcome).toBe('ok');
      expect(await credential(user.userId)).toMatchObject({ failed_count: 0, locked_at: null });
    } finally {
      fixture.setNow(new Date());
    }
  });

  it('when the rule says only an administrator unlocks, then the lockout outlasts any time until unlock', async () => {
    const { pins, accounts } = fixture.services;
    await accounts.setRule('admin-unlock', { lockoutMinutes: null, maxFailedSignins: 2 }, testActor);
    const user = await createUser(fixture.services, { ruleName: 'admin-unlock' });
    for (let i = 0; i < 2; i++) await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
    fixture.setNow(new Date(Date.now() + 365 * 24 * 60 * MINUTE));
    try {
      expect((await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller })).outcome).toBe('locked');
      await pins.updateSettings(user.userId, { unlock: true }, testActor);
      expect((await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller })).outcome).toBe('ok');
    } finally {
      fixture.setNow(new Date());
    }
  });

  it('when an administrator locks the account, then the right PIN is refused without being checked', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    await pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    expect((await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller })).outcome).toBe('locked');
    expect((await credential(user.userId)).failed_count).toBe(0);
  });

  it('when failures are older than the reset time, then they no longer count toward lockout', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    for (let i = 0; i < 2; i++) await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
    fixture.setNow(new Date(Date.now() + 31 * MINUTE));
    try {
      await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
      expect(await credential(user.userId)).toMatchObject({ failed_count: 1, locked_at: null });
    } finally {
      fixture.setNow(new Date());
    }
  });

  it('when the rule never locks (0), then failures are counted but the account stays open', async () => {
    const { pins, accounts } = fixture.services;
    await accounts.setRule('never-lock', { maxFailedSignins: 0 }, testActor);
    const user = await createUser(fixture.services, { ruleName: 'never-lock' });
    for (let i = 0; i < 5; i++) await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
    expect(await credential(user.userId)).toMatchObject({ failed_count: 5, locked_at: null });
    expect((await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller })).outcome).toBe('ok');
  });

  it('when many wrong guesses arrive in parallel, then no more than the threshold are checked', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    const results = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        pins.verifySignin({ extension: user.extension, pin: String(100000 + i), actor: caller }),
      ),
    );
    expect(results.filter((r) => r.outcome === 'invalid')).toHaveLength(3);
    expect(results.filter((r) => r.outcome === 'locked')).toHaveLength(9);
    expect((await credential(user.userId)).failed_count).toBe(3);
  });

  it('when a call turn is delivered twice, then the failure is counted once and the same answer comes back', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    const call = callTurn('CAretry0001', 4);
    const first = await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller, call });
    const retried = await Promise.all([
      pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller, call }),
      pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller, call }),
    ]);
    expect(retried).toEqual([first, first]);
    expect((await credential(user.userId)).failed_count).toBe(1);
  });

  it('when the turn that locks the account is delivered twice at once, then both deliveries get the same answer', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    for (let i = 0; i < 2; i++) await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
    const call = callTurn('CAretry0003', 6);
    const deliveries = await Promise.all([
      pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller, call }),
      pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller, call }),
    ]);
    expect(deliveries).toEqual([
      { outcome: 'invalid', maxFailedPerCall: 3 },
      { outcome: 'invalid', maxFailedPerCall: 3 },
    ]);
    expect(await credential(user.userId)).toMatchObject({ failed_count: 3 });
  });

  it('when a successful turn is retried, then it succeeds again without a second audit row', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    const call = callTurn('CAretry0002', 2);
    await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller, call });
    const again = await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller, call });
    expect(again.outcome).toBe('ok');
    expect((await events(user.userId)).filter((e) => e === 'signin.succeeded')).toHaveLength(1);
  });

  it('when a PIN hash was made with older parameters, then a successful sign-in upgrades it', async () => {
    const { pins, hasher } = fixture.services;
    const user = await createUser(fixture.services);
    const weak = new SecretHasher(fixture.services.config.pinPepper, { memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await fixture.pool.query('UPDATE pin_credentials SET pin_hash = $2 WHERE user_id = $1', [user.userId, await weak.hash(user.pin)]);
    expect((await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller })).outcome).toBe('ok');
    const upgraded = (await credential(user.userId)).pin_hash;
    expect(upgraded).toMatch(/^\$argon2id\$v=19\$m=19456,p=1,t=2,data=[A-Za-z0-9+/]+\$/);
    expect(hasher.needsRehash(upgraded)).toBe(false);
  });
});

describe('a new user', () => {
  it('when a user is created with a chosen PIN, then the user and the PIN set are audited in one transaction, the PIN never', async () => {
    const user = await createUser(fixture.services, { enroll: true });
    const { rows } = await fixture.pool.query('SELECT event, details FROM audit_events WHERE user_id = $1 ORDER BY id', [user.userId]);
    expect(rows).toEqual([
      { event: 'user.created', details: { rule: 'default', enrollmentPending: true } },
      { event: 'pin.set', details: { generated: false, enrollmentPending: true } },
    ]);
  });

  it('when the chosen initial PIN breaks the rule, then nothing is created and the refusal names the rule', async () => {
    await expect(createUser(fixture.services, { extension: '66601', pin: '123456' })).rejects.toThrow(/PIN rejected by rule 'trivial PIN'/);
    expect(await fixture.services.accounts.findAccount({ extension: '66601' })).toBeNull();
  });
});

describe('PIN change', () => {
  it('when a valid new PIN is saved, then the hash, history, flags, failed count and audit all change in one step', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services, { enroll: true, flags: { mustChange: true } });
    await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
    const before = await credential(user.userId);
    const result = await pins.changePin({ userId: user.userId, newPin: '730496', kind: 'enrollment', actor: caller });
    expect(result).toMatchObject({ ok: true });
    const after = await credential(user.userId);
    expect(after.pin_hash).not.toBe(before.pin_hash);
    expect(after).toMatchObject({ must_change: false, enrollment_pending: false, failed_count: 0 });
    expect(after.changed_at.getTime()).toBeGreaterThanOrEqual(before.changed_at.getTime());
    const history = await fixture.pool.query('SELECT pin_hash FROM pin_history WHERE user_id = $1', [user.userId]);
    expect(history.rows).toEqual([{ pin_hash: before.pin_hash }]);
    expect((await events(user.userId)).at(-1)).toBe('pin.changed');
  });

  it.each([
    ['12345', { rule: 'too_short', min: 6 }],
    ['12a456', { rule: 'too_short', min: 6 }],
    ['730496730496730496730', { rule: 'too_long', max: 20 }],
    ['147963', { rule: 'trivial', reason: 'keypad', keys: '147' }],
  ])('when the new PIN is %s, then the change is refused naming the rule', async (newPin, refusal) => {
    const user = await createUser(fixture.services);
    const result = await fixture.services.pins.changePin({ userId: user.userId, newPin, kind: 'administrative', actor: testActor });
    expect(result).toEqual({ ok: false, refusal });
  });

  it('when the new PIN is the current one or in the remembered history, then it is refused as reused', async () => {
    const { pins, accounts } = fixture.services;
    await accounts.setRule('short-history', { historyCount: 2, minChangeMinutes: 0 }, testActor);
    const user = await createUser(fixture.services, { ruleName: 'short-history', pin: '730496' });
    const change = (newPin: string) => pins.changePin({ userId: user.userId, newPin, kind: 'voluntary', actor: caller });
    expect(await change('730496')).toEqual({ ok: false, refusal: { rule: 'reused', history: 2 } });
    expect(await change('604817')).toMatchObject({ ok: true });
    expect(await change('520739')).toMatchObject({ ok: true });
    expect(await change('730496')).toEqual({ ok: false, refusal: { rule: 'reused', history: 2 } });
    expect(await change('940716')).toMatchObject({ ok: true });
    // Three changes later the first PIN has left the two-entry history.
    expect(await change('730496')).toMatchObject({ ok: true });
    const { rows } = await fixture.pool.query('SELECT count(*)::int AS n FROM pin_history WHERE user_id = $1', [user.userId]);
    expect(rows[0].n).toBe(2);
  });

  it('when a voluntary change comes before the minimum time, then it is refused, but an administrator may change it', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    expect(await pins.changePin({ userId: user.userId, newPin: '604817', kind: 'voluntary', actor: caller })).toEqual({
      ok: false,
      refusal: { rule: 'too_soon', minutes: 1440 },
    });
    expect(await pins.changePin({ userId: user.userId, newPin: '604817', kind: 'administrative', actor: testActor, mustChange: true })).toMatchObject({ ok: true });
    expect(await credential(user.userId)).toMatchObject({ must_change: true });
  });

  it('when the user cannot change the PIN, then a voluntary change is refused but a forced one is not', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services, { flags: { cannotChange: true } });
    expect(await pins.changePin({ userId: user.userId, newPin: '604817', kind: 'voluntary', actor: caller })).toEqual({
      ok: false,
      refusal: { rule: 'cannot_change' },
    });
    expect(await pins.changePin({ userId: user.userId, newPin: '604817', kind: 'forced', actor: caller })).toMatchObject({ ok: true });
  });

  it('when a save turn is delivered twice, then the PIN is saved once', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    const call = callTurn('CAsave0001', 9);
    const prepared = await pins.preparePin({ userId: user.userId, provedVersion: await version(user.userId), newPin: '604817', kind: 'forced' });
    expect(prepared.ok).toBe(true);
    if (!prepared.ok) return;
    const save = () =>
      pins.confirmPin({ userId: user.userId, provedVersion: 1, confirmation: '604817', pendingPinHash: prepared.pendingPinHash, kind: 'forced', actor: caller, call });
    expect(await save()).toMatchObject({ ok: true });
    expect(await save()).toMatchObject({ ok: true });
    expect((await events(user.userId)).filter((e) => e === 'pin.changed')).toHaveLength(1);
  });

  it('when a save turn is delivered twice at the same moment, then both answers say saved', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    const call = callTurn('CAsave0002', 5);
    const prepared = await pins.preparePin({ userId: user.userId, provedVersion: await version(user.userId), newPin: '604817', kind: 'forced' });
    if (!prepared.ok) throw new Error('expected the PIN to be accepted');
    const save = () =>
      pins.confirmPin({ userId: user.userId, provedVersion: 1, confirmation: '604817', pendingPinHash: prepared.pendingPinHash, kind: 'forced', actor: caller, call });
    const [first, second] = await Promise.all([save(), save()]);
    expect(first).toMatchObject({ ok: true });
    expect(second).toMatchObject({ ok: true });
    expect((await events(user.userId)).filter((e) => e === 'pin.changed')).toHaveLength(1);
  });

  it('when the confirmation differs from the pending PIN, then nothing is saved', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    const before = await credential(user.userId);
    const prepared = await pins.preparePin({ userId: user.userId, provedVersion: await version(user.userId), newPin: '604817', kind: 'forced' });
    if (!prepared.ok) throw new Error('expected the PIN to be accepted');
    expect(prepared.pendingPinHash).toMatch(/^\$argon2id\$/);
    const result = await pins.confirmPin({ userId: user.userId, provedVersion: 1, confirmation: '604818', pendingPinHash: prepared.pendingPinHash, kind: 'forced', actor: caller });
    expect(result).toEqual({ ok: false, mismatch: true });
    expect((await credential(user.userId)).pin_hash).toBe(before.pin_hash);
  });

  it('when PINs have been set and changed, then the database holds only argon2id hashes', async () => {
    const { rows } = await fixture.pool.query(
      `SELECT pin_hash AS h FROM pin_credentials UNION ALL SELECT pin_hash FROM pin_history`,
    );
    expect(rows.length).toBeGreaterThan(5);
    for (const row of rows) expect(row.h).toMatch(/^\$argon2id\$v=19\$m=\d+,p=\d+,t=\d+,data=[A-Za-z0-9+/]+\$/);
    const dump = await fixture.pool.query(`SELECT row_to_json(a)::text AS j FROM audit_events a`);
    for (const row of dump.rows) expect(row.j).not.toMatch(/604817|730496|860472/);
  });
});

describe('the credential version', () => {
  it('when the PIN is changed, reset, or "must change" set and cleared, then the version moves each time', async () => {
    const { pins, accounts } = fixture.services;
    await accounts.setRule('any-time', { minChangeMinutes: 0 }, testActor);
    const user = await createUser(fixture.services, { ruleName: 'any-time' });
    const seen = [await version(user.userId)];
    const moved = async () => {
      const now = await version(user.userId);
      expect(now).toBeGreaterThan(seen.at(-1) as number);
      seen.push(now);
    };
    await pins.changePin({ userId: user.userId, newPin: '604817', kind: 'voluntary', actor: caller });
    await moved();
    await pins.changePin({ userId: user.userId, newPin: '520739', kind: 'administrative', actor: testActor });
    await moved();
    await pins.resetPin(user.userId, testActor, { showOnce: true });
    await moved();
    await pins.updateSettings(user.userId, { flags: { mustChange: false } }, testActor);
    await moved();
    await pins.updateSettings(user.userId, { flags: { mustChange: true } }, testActor);
    await moved();
  });

  it('when failures lock the account, an administrator locks and unlocks it, or other flags change, then the version stays', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    const before = await version(user.userId);
    for (let i = 0; i < 3; i++) await pins.verifySignin({ extension: user.extension, pin: '000000', actor: caller });
    await pins.updateSettings(user.userId, { unlock: true }, testActor);
    await pins.updateSettings(user.userId, { flags: { lockedByAdmin: true, cannotChange: true, doesNotExpire: true } }, testActor);
    await pins.updateSettings(user.userId, { flags: { lockedByAdmin: false, mustChange: false } }, testActor);
    expect(await version(user.userId)).toBe(before);
  });

  it('when a sign-in re-hashes the same PIN with newer parameters, then the version stays and the signed-in call goes on', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services, { flags: { mustChange: true } });
    const weak = new SecretHasher(fixture.services.config.pinPepper, { memoryCost: 8192, timeCost: 1, parallelism: 1 });
    await fixture.pool.query('UPDATE pin_credentials SET pin_hash = $2 WHERE user_id = $1', [user.userId, await weak.hash(user.pin)]);
    const before = await version(user.userId);
    const signedIn = await pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller });
    expect(signedIn).toMatchObject({ outcome: 'ok', credentialVersion: before });
    expect((await credential(user.userId)).pin_hash).not.toMatch(/m=8192/);
    expect(await version(user.userId)).toBe(before);
    const prepared = await pins.preparePin({ userId: user.userId, provedVersion: before, newPin: '604817', kind: 'forced' });
    expect(prepared.ok).toBe(true);
  });

  it('when a change proves an older version, then it is refused as reauth and nothing is saved', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services, { flags: { mustChange: true } });
    const proved = await version(user.userId);
    const prepared = await pins.preparePin({ userId: user.userId, provedVersion: proved, newPin: '604817', kind: 'forced' });
    if (!prepared.ok) throw new Error('expected the PIN to be accepted');
    await pins.resetPin(user.userId, testActor, { showOnce: true });
    const reset = await credential(user.userId);
    expect(await pins.preparePin({ userId: user.userId, provedVersion: proved, newPin: '520739', kind: 'forced' })).toEqual({ ok: false, refusal: { rule: 'reauth' } });
    expect(
      await pins.confirmPin({ userId: user.userId, provedVersion: proved, confirmation: '604817', pendingPinHash: prepared.pendingPinHash, kind: 'forced', actor: caller }),
    ).toEqual({ ok: false, refusal: { rule: 'reauth' } });
    expect((await credential(user.userId)).pin_hash).toBe(reset.pin_hash);
  });

  it('when a call state carries no version (sealed before the binding), then its change proves nothing and is refused as reauth', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services, { flags: { mustChange: true } });
    const unproved = JSON.parse('{}').version as number;
    expect(await pins.preparePin({ userId: user.userId, provedVersion: unproved, newPin: '604817', kind: 'forced' })).toEqual({ ok: false, refusal: { rule: 'reauth' } });
    const prepared = await pins.preparePin({ userId: user.userId, provedVersion: await version(user.userId), newPin: '604817', kind: 'forced' });
    if (!prepared.ok) throw new Error('expected the PIN to be accepted');
    expect(
      await pins.confirmPin({ userId: user.userId, provedVersion: unproved, confirmation: '604817', pendingPinHash: prepared.pendingPinHash, kind: 'forced', actor: caller }),
    ).toEqual({ ok: false, refusal: { rule: 'reauth' } });
  });
});

describe('a request checked again', () => {
  it('when a replayed sign-in is checked again after changes left the same PIN current, then it signs in, and its own retry is applied once', async () => {
    const { pins, accounts } = fixture.services;
    await accounts.setRule('no-history', { historyCount: 0, minChangeMinutes: 0 }, testActor);
    const user = await createUser(fixture.services, { ruleName: 'no-history' });
    const call = callTurn('CArecheck01', 3);
    const signin = () => pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller, call });
    expect((await signin()).outcome).toBe('ok');
    await pins.changePin({ userId: user.userId, newPin: '604817', kind: 'administrative', actor: testActor });
    await pins.changePin({ userId: user.userId, newPin: user.pin, kind: 'administrative', actor: testActor });

    // The recorded success stood for an older version: checked in full under a key of its own.
    const rechecked = await signin();
    expect(rechecked).toMatchObject({ outcome: 'ok', credentialVersion: await version(user.userId) });
    expect(await Promise.all([signin(), signin()])).toEqual([rechecked, rechecked]);
    expect((await events(user.userId)).filter((e) => e === 'signin.succeeded')).toHaveLength(2);
  });

  it('when a replayed sign-in fails its new check, then its retries count that failure once', async () => {
    const { pins } = fixture.services;
    const user = await createUser(fixture.services);
    const call = callTurn('CArecheck02', 3);
    const signin = () => pins.verifySignin({ extension: user.extension, pin: user.pin, actor: caller, call });
    expect((await signin()).outcome).toBe('ok');
    await pins.resetPin(user.userId, testActor, { showOnce: true });
    expect(await signin()).toEqual({ outcome: 'invalid', maxFailedPerCall: 3 });
    expect(await signin()).toEqual({ outcome: 'invalid', maxFailedPerCall: 3 });
    expect((await credential(user.userId)).failed_count).toBe(1);
  });

  it('when a save request’s key holds only the call’s own note, then the save is checked in full, not answered as saved', async () => {
    const { pins, audit } = fixture.services;
    const user = await createUser(fixture.services);
    const call = callTurn('CAnote0001', 8);
    const proved = await version(user.userId);
    const prepared = await pins.preparePin({ userId: user.userId, provedVersion: proved, newPin: '604817', kind: 'forced' });
    if (!prepared.ok) throw new Error('expected the PIN to be accepted');
    // The dialog's own note under the same request, as after a third refused entry.
    await audit.recordCallEvent('call.pin_entry_limit', caller, call);
    await pins.changePin({ userId: user.userId, newPin: '604817', kind: 'administrative', actor: testActor });
    const save = await pins.confirmPin({ userId: user.userId, provedVersion: proved, confirmation: '604817', pendingPinHash: prepared.pendingPinHash, kind: 'forced', actor: caller, call });
    expect(save).toEqual({ ok: false, refusal: { rule: 'reauth' } });
  });
});
