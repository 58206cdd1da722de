import { describe, expect, it } from 'vitest';
import { simulateCall } from '../../src/cli/simulator.js';
import { createUser, testActor } from '../support/factories.js';
import { actionOf, heardKeys, postWebhook, usePhoneServer } from '../support/phone.js';

const phone = usePhoneServer();

async function credential(userId: number) {
  const { rows } = await phone.services.pool.query('SELECT * FROM pin_credentials WHERE user_id = $1', [userId]);
  return rows[0];
}

async function heard(keys: string[], options: Parameters<typeof phone.call>[1] = {}) {
  const call = await phone.call(keys, options);
  expect(call.error).toBeNull();
  return heardKeys(call, phone.services.catalog);
}

const signIn = (user: { extension: string; pin: string }) => [`${user.extension}#`, `${user.pin}#`];

describe('first-time enrollment', () => {
  it('when a new user signs in, then they must choose a PIN, confirm it, and reach the main menu', async () => {
    const user = await createUser(phone.services, { enroll: true });
    expect(await heard([...signIn(user), '604817#', '604817#', '*'])).toEqual([
      'welcome',
      'signin.enter_id',
      'signin.enter_pin',
      'enroll.welcome',
      'pin.enter_new{min=6,max=20}',
      'pin.confirm',
      'enroll.done',
      'menu.main',
      'goodbye',
    ]);
    expect(await credential(user.userId)).toMatchObject({ enrollment_pending: false, must_change: false });
    const signin = await phone.services.pins.verifySignin({ extension: user.extension, pin: '604817', actor: testActor });
    expect(signin.outcome).toBe('ok');
  });

  it('when the caller hangs up before confirming, then enrollment starts again at the next sign-in', async () => {
    const user = await createUser(phone.services, { enroll: true });
    await heard([...signIn(user), '604817#']);
    expect((await heard([...signIn(user)])).slice(-2)).toEqual(['enroll.welcome', 'pin.enter_new{min=6,max=20}']);
    expect(await credential(user.userId)).toMatchObject({ enrollment_pending: true });
  });

  it('when the caller presses star during enrollment, then it cannot be cancelled', async () => {
    const user = await createUser(phone.services, { enroll: true });
    expect((await heard([...signIn(user), '*'])).slice(-3)).toEqual(['pin.enter_new{min=6,max=20}', 'pin.must_change', 'pin.enter_new{min=6,max=20}']);
  });

  it('when three new PINs are rejected during enrollment, then the caller hears that nothing changed and the call ends', async () => {
    const user = await createUser(phone.services, { enroll: true });
    expect((await heard([...signIn(user), '123#', '111111#', `${user.pin}#`])).slice(-7)).toEqual([
      'pin.enter_new{min=6,max=20}',
      'pin.too_short{min=6}',
      'pin.enter_new{min=6,max=20}',
      'pin.trivial',
      'pin.enter_new{min=6,max=20}',
      'pin.reused',
      'pin.too_many_tries',
    ]);
  });

  it('when the rule allows 4 to 8 digits, then the new-PIN prompt says so', async () => {
    await phone.services.accounts.setRule('short-pins', { minLength: 4, maxLength: 8 }, testActor);
    const user = await createUser(phone.services, { enroll: true, ruleName: 'short-pins' });
    expect((await heard([...signIn(user)])).slice(-1)).toEqual(['pin.enter_new{min=4,max=8}']);
  });

  it('when the new PIN is a common one, or has three keys in a line, then the caller hears which', async () => {
    const user = await createUser(phone.services, { enroll: true });
    const said = await heard([...signIn(user), '520131#', '198705#']);
    expect(said.slice(-4)).toEqual(['pin.common', 'pin.enter_new{min=6,max=20}', 'pin.trivial{keys=9 8 7}', 'pin.enter_new{min=6,max=20}']);
    const call = await phone.call([...signIn(user), '198705#']);
    expect(call.said).toContain(phone.services.catalog.render('en-US', 'pin.trivial', { reason: 'keypad', keys: '9 8 7' }));
  });

  it('when the confirmation differs, then the caller hears the mismatch and enters the new PIN again', async () => {
    const user = await createUser(phone.services, { enroll: true });
    expect((await heard([...signIn(user), '604817#', '604818#'])).slice(-3)).toEqual(['pin.confirm', 'pin.mismatch', 'pin.enter_new{min=6,max=20}']);
  });
});

describe('forced change', () => {
  it('when "must change at next sign-in" is set, then the caller must choose a new PIN first', async () => {
    const user = await createUser(phone.services, { flags: { mustChange: true } });
    expect(await heard([...signIn(user), '*', '604817#', '604817#', '2', '*'])).toEqual([
      'welcome',
      'signin.enter_id',
      'signin.enter_pin',
      'pin.expired',
      'pin.enter_new{min=6,max=20}',
      'pin.must_change',
      'pin.enter_new{min=6,max=20}',
      'pin.confirm',
      'pin.changed',
      'menu.main',
      'pin.status{days=180}',
      'menu.main',
      'goodbye',
    ]);
    expect(await credential(user.userId)).toMatchObject({ must_change: false });
  });

  it('when the PIN has expired by time, then the caller must change it, and a hang-up leaves it expired', async () => {
    const user = await createUser(phone.services);
    await phone.services.pool.query(`UPDATE pin_credentials SET changed_at = now() - interval '181 days' WHERE user_id = $1`, [user.userId]);
    expect((await heard(signIn(user))).slice(-2)).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
    expect((await heard(signIn(user))).slice(-2)).toEqual(['pin.expired', 'pin.enter_new{min=6,max=20}']);
  });
});

describe('expiry warning and status', () => {
  it('when the PIN expires within the warning days, then the caller hears how many days are left', async () => {
    const user = await createUser(phone.services);
    await phone.services.pool.query(`UPDATE pin_credentials SET changed_at = now() - interval '170 days' WHERE user_id = $1`, [user.userId]);
    expect((await heard([...signIn(user), '*'])).slice(-3)).toEqual(['pin.expiry_warning{days=10}', 'menu.main', 'goodbye']);
  });

  it('when the PIN does not expire, then the status says so', async () => {
    const user = await createUser(phone.services, { flags: { doesNotExpire: true } });
    expect((await heard([...signIn(user), '2', '*'])).slice(-4)).toEqual(['menu.main', 'pin.status_never', 'menu.main', 'goodbye']);
  });
});

describe('voluntary change', () => {
  async function oldEnoughUser(overrides: Parameters<typeof createUser>[1] = {}) {
    const user = await createUser(phone.services, overrides);
    await phone.services.pool.query(`UPDATE pin_credentials SET changed_at = now() - interval '2 days' WHERE user_id = $1`, [user.userId]);
    return user;
  }

  it('when the caller changes the PIN from the menu, then the new PIN works and the old one is refused', async () => {
    const user = await oldEnoughUser();
    expect((await heard([...signIn(user), '1', '604817#', '604817#', '*'])).slice(3)).toEqual([
      'menu.main',
      'pin.enter_new{min=6,max=20}',
      'pin.cancel_hint',
      'pin.confirm',
      'pin.changed',
      'menu.main',
      'goodbye',
    ]);
    expect((await heard([`${user.extension}#`, `${user.pin}#`])).at(-2)).toBe('signin.invalid');
    expect((await heard([`${user.extension}#`, '604817#', '*'])).slice(-2)).toEqual(['menu.main', 'goodbye']);
  });

  it('when the caller presses star at the new PIN, then the change is cancelled and the PIN is unchanged', async () => {
    const user = await oldEnoughUser();
    const before = await credential(user.userId);
    expect((await heard([...signIn(user), '1', '*', '*'])).slice(-4)).toEqual(['pin.enter_new{min=6,max=20}', 'pin.cancel_hint', 'menu.main', 'goodbye']);
    expect((await credential(user.userId)).pin_hash).toBe(before.pin_hash);
  });

  it('when the new PIN is in the history, then it is refused as reused', async () => {
    const user = await oldEnoughUser();
    await phone.services.pins.changePin({ userId: user.userId, newPin: '520739', kind: 'administrative', actor: testActor });
    await phone.services.pool.query(`UPDATE pin_credentials SET changed_at = now() - interval '2 days' WHERE user_id = $1`, [user.userId]);
    expect((await heard([`${user.extension}#`, '520739#', '1', `${user.pin}#`])).slice(-3)).toEqual([
      'pin.reused',
      'pin.enter_new{min=6,max=20}',
      'pin.cancel_hint',
    ]);
  });

  it('when the last change was too recent, then the caller hears [pin.too_soon] and stays in the menu', async () => {
    const user = await createUser(phone.services);
    expect((await heard([...signIn(user), '1', '*'])).slice(-4)).toEqual(['menu.main', 'pin.too_soon', 'menu.main', 'goodbye']);
  });

  it('when the user cannot change the PIN, then the caller hears [pin.cant_change]', async () => {
    const user = await oldEnoughUser({ flags: { cannotChange: true } });
    expect((await heard([...signIn(user), '1', '*'])).slice(-3)).toEqual(['pin.cant_change', 'menu.main', 'goodbye']);
  });

  it('when three new PINs are rejected in a voluntary change, then the caller is back at the menu', async () => {
    const user = await oldEnoughUser();
    expect((await heard([...signIn(user), '1', '1#', '2#', '3#', '*'])).slice(-3)).toEqual(['pin.too_short{min=6}', 'menu.main', 'goodbye']);
  });
});

describe('sign-in', () => {
  it('when the caller ID is the registered phone of one user, then the dialog asks for the PIN straight away', async () => {
    const user = await createUser(phone.services, { phone: '+15557770001' });
    expect(await heard([`${user.pin}#`, '*'], { from: '+15557770001' })).toEqual(['welcome', 'signin.enter_pin', 'menu.main', 'goodbye']);
  });

  it('when the caller presses star at the caller-ID PIN prompt, then they can enter another ID', async () => {
    const user = await createUser(phone.services, { phone: '+15557770002' });
    const other = await createUser(phone.services);
    expect(await heard(['*', ...signIn(other), '*'], { from: '+15557770002' })).toEqual([
      'welcome',
      'signin.enter_pin',
      'signin.enter_id',
      'signin.enter_pin',
      'menu.main',
      'goodbye',
    ]);
    expect(user.extension).not.toBe(other.extension);
  });

  it('when a Spanish-speaking user signs in, then the prompts after sign-in are in Spanish', async () => {
    const user = await createUser(phone.services, { locale: 'es-US' });
    const call = await phone.call([...signIn(user), '*']);
    const spanish = (key: 'menu.main' | 'goodbye') => phone.services.catalog.render('es-US', key);
    expect(call.said.slice(-2)).toEqual([spanish('menu.main'), spanish('goodbye')]);
    expect(call.lines.filter((l) => l.kind === 'say').at(-1)).toMatchObject({ language: 'es-US', voice: 'Polly.Lupe' });
  });

  it('when the ID is unknown or the PIN wrong, then both get the same prompt, and three failures end the call', async () => {
    const user = await createUser(phone.services);
    expect(await heard(['99999#', '604817#', `${user.extension}#`, '000000#', `${user.extension}#`, '111111#'])).toEqual([
      'welcome',
      'signin.enter_id',
      'signin.enter_pin',
      'signin.invalid',
      'signin.enter_id',
      'signin.enter_pin',
      'signin.invalid',
      'signin.enter_id',
      'signin.enter_pin',
      'signin.invalid',
      'goodbye',
    ]);
  });

  it('when wrong PINs across calls reach the threshold, then the account is locked out even for the right PIN', async () => {
    const user = await createUser(phone.services);
    await heard([`${user.extension}#`, '000000#', `${user.extension}#`, '000001#']);
    await heard([`${user.extension}#`, '000002#']);
    // The rule locks for 30 minutes, and the caller is told how long.
    expect((await heard(signIn(user))).slice(-1)).toEqual(['signin.locked_for{minutes=30}']);
    expect((await credential(user.userId)).failed_count).toBe(3);
  });

  it('when the rule locks until an administrator unlocks, then the locked-out caller hears [signin.locked], with no time', async () => {
    await phone.services.accounts.setRule('admin-unlock', { lockoutMinutes: null, maxFailedSignins: 1 }, testActor);
    const user = await createUser(phone.services, { ruleName: 'admin-unlock' });
    await heard([`${user.extension}#`, '000000#']);
    expect((await heard(signIn(user))).slice(-1)).toEqual(['signin.locked']);
  });

  it('when an administrator has locked the account, then the caller hears [signin.locked]', async () => {
    const user = await createUser(phone.services, { flags: { lockedByAdmin: true } });
    expect(await heard(signIn(user))).toEqual(['welcome', 'signin.enter_id', 'signin.enter_pin', 'signin.locked']);
  });

  it('when many calls guess one PIN in parallel, then no more guesses are checked than the threshold', async () => {
    const user = await createUser(phone.services);
    const calls = await Promise.all(
      Array.from({ length: 8 }, (_, i) => phone.call([`${user.extension}#`, `${700100 + i}#`])),
    );
    const outcomes = calls.map((c) => heardKeys(c, phone.services.catalog).at(-2) === 'signin.invalid' ? 'invalid' : heardKeys(c, phone.services.catalog).at(-1));
    expect(outcomes.filter((o) => o === 'invalid')).toHaveLength(3);
    expect(outcomes.filter((o) => o === 'signin.locked_for{minutes=30}')).toHaveLength(5);
    expect((await credential(user.userId)).failed_count).toBe(3);
  });
});

describe('keys and silence', () => {
  it('when the menu gets an invalid key, then the caller hears [menu.invalid] and the menu again', async () => {
    const user = await createUser(phone.services);
    expect((await heard([...signIn(user), '9', '#', '*'])).slice(-6)).toEqual([
      'menu.main',
      'menu.invalid',
      'menu.main',
      'menu.invalid',
      'menu.main',
      'goodbye',
    ]);
  });

  it('when the caller stays silent three times in a row, then the call ends', async () => {
    expect(await heard(['', '', ''])).toEqual([
      'welcome',
      'signin.enter_id',
      'no_input',
      'signin.enter_id',
      'no_input',
      'signin.enter_id',
      'goodbye',
    ]);
  });

  it('when the caller presses the finish key first, then it counts as no input', async () => {
    expect((await heard(['#'])).slice(-2)).toEqual(['no_input', 'signin.enter_id']);
  });
});

describe('webhook safety', () => {
  const params = (callSid: string) => ({ CallSid: callSid, From: '+15550001111', To: '+15550002222', AccountSid: 'AC1' });

  it('when the signature is missing or wrong, then the answer is 403 with no TwiML', async () => {
    const { baseUrl, services } = phone.phone;
    for (const signature of [null, 'bogus', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=']) {
      const response = await postWebhook(baseUrl, services.config.twilioAuthToken, '/voice/incoming', params('CAsig1'), signature);
      expect(response.status).toBe(403);
      expect(response.body).not.toContain('<Response');
    }
    const signedWithOtherToken = await postWebhook(baseUrl, 'another-token', '/voice/incoming', params('CAsig1'));
    expect(signedWithOtherToken.status).toBe(403);
  });

  it('when a PIN turn arrives with a bad signature, then nothing is counted', async () => {
    const user = await createUser(phone.services);
    const { baseUrl, services } = phone.phone;
    const token = services.config.twilioAuthToken;
    const start = await postWebhook(baseUrl, token, '/voice/incoming', params('CAsig2'));
    const idTurn = await postWebhook(baseUrl, token, actionOf(start.body), { ...params('CAsig2'), Digits: user.extension });
    const forged = await postWebhook(baseUrl, token, actionOf(idTurn.body), { ...params('CAsig2'), Digits: '000000' }, 'forged');
    expect(forged.status).toBe(403);
    expect((await credential(user.userId)).failed_count).toBe(0);
  });

  it('when the sealed state is tampered with or replayed on another call, then the caller hears [error.unavailable]', async () => {
    const { baseUrl, services } = phone.phone;
    const token = services.config.twilioAuthToken;
    const unavailable = services.catalog.render('en-US', 'error.unavailable');
    const start = await postWebhook(baseUrl, token, '/voice/incoming', params('CAseal1'));
    const action = actionOf(start.body);
    const tampered = action.replace(/s=(.)/, (_m, c: string) => `s=${c === 'A' ? 'B' : 'A'}`);
    for (const [path, sid] of [
      [tampered, 'CAseal1'],
      [action, 'CAseal2'],
      ['/voice/turn?s=', 'CAseal1'],
    ] as const) {
      const response = await postWebhook(baseUrl, token, path, { ...params(sid), Digits: '1' });
      expect(response.status).toBe(200);
      expect(response.body).toContain(unavailable);
      expect(response.body).toContain('<Hangup/>');
    }
  });

  it('when Twilio retries a turn, then the answer is the same and the failure is counted once', async () => {
    const user = await createUser(phone.services);
    const { baseUrl, services } = phone.phone;
    const token = services.config.twilioAuthToken;
    const start = await postWebhook(baseUrl, token, '/voice/incoming', params('CAretry1'));
    const idTurn = await postWebhook(baseUrl, token, actionOf(start.body), { ...params('CAretry1'), Digits: user.extension });
    const pinTurn = actionOf(idTurn.body);
    const first = await postWebhook(baseUrl, token, pinTurn, { ...params('CAretry1'), Digits: '000000' });
    const retry = await postWebhook(baseUrl, token, pinTurn, { ...params('CAretry1'), Digits: '000000' });
    const strip = (xml: string) => xml.replace(/s=[A-Za-z0-9_-]+/g, 's=…');
    expect(strip(retry.body)).toBe(strip(first.body));
    expect((await credential(user.userId)).failed_count).toBe(1);
  });

  it('when the status callback arrives, then it is answered 204', async () => {
    const { baseUrl, services } = phone.phone;
    const response = await postWebhook(baseUrl, services.config.twilioAuthToken, '/voice/status', { ...params('CAstatus'), CallStatus: 'completed' });
    expect(response.status).toBe(204);
  });

  it('when a webhook has no CallSid, then it still answers in TwiML', async () => {
    const { baseUrl, services } = phone.phone;
    const response = await postWebhook(baseUrl, services.config.twilioAuthToken, '/voice/incoming', { From: '+1555' });
    expect(response.status).toBe(200);
    expect(response.body).toContain('<Hangup/>');
  });
});

describe('the simulator against the service', () => {
  it('when keys run out, then the simulator hangs up as the caller', async () => {
    const call = await simulateCall({ baseUrl: phone.phone.baseUrl, authToken: phone.services.config.twilioAuthToken, keys: [] });
    expect(call.endedBy).toBe('caller');
    expect(call.error).toBeNull();
  });

  it('when the token is wrong, then the simulator reports the misbehaviour', async () => {
    const call = await simulateCall({ baseUrl: phone.phone.baseUrl, authToken: 'wrong', keys: [] });
    expect(call.endedBy).toBe('error');
    expect(call.error).toMatch(/HTTP 403/);
  });
});
