import { describe, expect, it } from 'vitest';
import { useWebServer } from '../support/browser.js';
import { createUser, createUserWithWebPassword, testActor } from '../support/factories.js';
import { textOf, WebClient } from '../support/web-client.js';

// The self-service page at the HTTP level; the browser suite drives the same page in Chromium.

const web = useWebServer();
const WEB_PASSWORD = 'my own web password';

const userWithWebPassword = (overrides: Parameters<typeof createUser>[1] = {}) =>
  createUserWithWebPassword(web.services, WEB_PASSWORD, overrides);

async function auditRows(where: string, params: unknown[] = []) {
  const { rows } = await web.services.pool.query(`SELECT event, channel, actor, extension FROM audit_events WHERE ${where} ORDER BY id`, params);
  return rows as Array<{ event: string; channel: string; actor: string; extension: string | null }>;
}

describe('self-service sign-in', () => {
  it('when the extension and web password are right, then the user sees the PIN status and the sign-in is audited on channel web', async () => {
    const user = await userWithWebPassword();
    const client = new WebClient(web.baseUrl);
    const page = await client.signInAsUser(user.extension, WEB_PASSWORD);
    expect(page.status).toBe(200);
    const text = textOf(page.body);
    expect(text).toContain('Your PIN');
    expect(text).toContain('PIN Last Changed');
    expect(text).toMatch(/PIN Expires \d{4}-\d{2}-\d{2} .* \(in 178 days\)/);
    expect(page.body).not.toContain('$argon2');
    expect(await auditRows(`event = 'web.signin_succeeded' AND user_id = $1`, [user.userId])).toEqual([
      { event: 'web.signin_succeeded', channel: 'web', actor: `user:${user.extension}`, extension: user.extension },
    ]);
  });

  it('when the PIN is typed instead of the web password, then sign-in fails: the two credentials are separate', async () => {
    const user = await userWithWebPassword();
    const client = new WebClient(web.baseUrl);
    await client.load('/me');
    const page = await client.post('/me/signin', { extension: user.extension, password: user.pin });
    expect(page.status).toBe(401);
    expect(textOf(page.body)).toContain('Sign-in failed');
    expect(page.body).not.toContain(user.pin);
    expect(await auditRows(`event = 'web.signin_failed' AND user_id = $1`, [user.userId])).toHaveLength(1);
  });

  it('when the sign-in form comes without a CSRF token, then it is refused with 403', async () => {
    const user = await userWithWebPassword();
    const client = new WebClient(web.baseUrl);
    await client.load('/me');
    expect((await client.post('/me/signin', { extension: user.extension, password: WEB_PASSWORD }, { csrf: null })).status).toBe(403);
  });
});

describe('self-service PIN change', () => {
  it('when a valid new PIN is confirmed, then it is saved as a voluntary change without the old PIN, and audited', async () => {
    const user = await userWithWebPassword();
    await web.services.pins.updateSettings(user.userId, { flags: { mustChange: true } }, testActor);
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    const page = await client.submit('/me/pin', { newPin: '604817', confirmPin: '604817' });
    expect(textOf(page.body)).toContain('Your PIN was changed');
    expect(page.body).not.toContain('604817');
    const signin = await web.services.pins.verifySignin({ extension: user.extension, pin: '604817', actor: testActor });
    expect(signin.outcome).toBe('ok');
    const { rows } = await web.services.pool.query('SELECT must_change FROM pin_credentials WHERE user_id = $1', [user.userId]);
    expect(rows[0].must_change).toBe(false);
    expect(await auditRows(`event = 'pin.changed' AND user_id = $1`, [user.userId])).toEqual([
      { event: 'pin.changed', channel: 'web', actor: `user:${user.extension}`, extension: user.extension },
    ]);
  });

  it.each([
    ['trivial', '135790', '(rule: trivial PIN)'],
    ['the current PIN', '860472', '(rule: PIN history)'],
    ['too short', '1234', '(rule: minimum length)'],
  ])('when the new PIN is %s, then the form error names the rule', async (_what, pin, rule) => {
    const user = await userWithWebPassword();
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    const page = await client.post('/me/pin', { newPin: pin, confirmPin: pin });
    expect(page.status).toBe(422);
    expect(textOf(page.body)).toContain(rule);
    expect(page.body).not.toContain(`value="${pin}"`);
  });

  it('when the PIN was changed less than the minimum time ago, then the change is refused naming that rule', async () => {
    const user = await userWithWebPassword();
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    await client.submit('/me/pin', { newPin: '604817', confirmPin: '604817' });
    const again = await client.post('/me/pin', { newPin: '739164', confirmPin: '739164' });
    expect(again.status).toBe(422);
    expect(textOf(again.body)).toContain('(rule: minimum time between changes)');
  });

  it('when an administrator has just reset the PIN with "must change", then the user may change it at once', async () => {
    const user = await userWithWebPassword();
    await web.services.pins.changePin({ userId: user.userId, newPin: '604817', kind: 'administrative', actor: testActor, mustChange: true });
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    const done = await client.submit('/me/pin', { newPin: '739164', confirmPin: '739164' });
    expect(textOf(done.body)).toContain('Your PIN was changed');
    const account = await web.services.accounts.getAccount({ userId: user.userId });
    expect(account.pin.mustChange).toBe(false);
  });

  it('when a new user still has enrollment pending, then the first PIN change is not held back by the minimum time', async () => {
    const user = await createUser(web.services, { enroll: true });
    await web.services.webCredentials.setUserPassword(user.userId, WEB_PASSWORD, testActor);
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    const done = await client.submit('/me/pin', { newPin: '739164', confirmPin: '739164' });
    expect(textOf(done.body)).toContain('Your PIN was changed');
    expect((await web.services.accounts.getAccount({ userId: user.userId })).pin.enrollmentPending).toBe(false);
  });

  it('when a PIN from the history is chosen, then it is refused', async () => {
    const user = await userWithWebPassword();
    await web.services.pins.changePin({ userId: user.userId, newPin: '604817', kind: 'administrative', actor: testActor });
    await web.services.pool.query(`UPDATE pin_credentials SET changed_at = now() - interval '2 days' WHERE user_id = $1`, [user.userId]);
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    const page = await client.post('/me/pin', { newPin: user.pin, confirmPin: user.pin });
    expect(textOf(page.body)).toContain('(rule: PIN history)');
  });

  it('when the two entries differ, then the form says so', async () => {
    const user = await userWithWebPassword();
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    const page = await client.post('/me/pin', { newPin: '604817', confirmPin: '604871' });
    expect(textOf(page.body)).toContain('New PIN and Confirm PIN do not match');
  });

  it('when the user cannot change the PIN, then no change form is offered and a post is refused naming the flag', async () => {
    const user = await userWithWebPassword();
    await web.services.pins.updateSettings(user.userId, { flags: { cannotChange: true } }, testActor);
    const client = new WebClient(web.baseUrl);
    const page = await client.signInAsUser(user.extension, WEB_PASSWORD);
    expect(page.body).not.toContain('action="/me/pin"');
    const refused = await client.post('/me/pin', { newPin: '604817', confirmPin: '604817' });
    expect(textOf(refused.body)).toContain('User Cannot Change is set');
  });

  it('when nobody is signed in, then a PIN post goes back to the sign-in form', async () => {
    const client = new WebClient(web.baseUrl);
    await client.load('/me');
    const response = await client.post('/me/pin', { newPin: '604817', confirmPin: '604817' });
    expect(response.status).toBe(303);
    expect(response.location).toBe('/me');
  });
});

describe('web password', () => {
  it('when the administrator required a new web password, then the user must choose one before seeing anything else', async () => {
    const user = await userWithWebPassword();
    await web.services.webCredentials.setUserPassword(user.userId, WEB_PASSWORD, testActor, { mustChange: true });
    const client = new WebClient(web.baseUrl);
    const forced = await client.signInAsUser(user.extension, WEB_PASSWORD);
    expect(textOf(forced.body)).toContain('choose a new web password');
    expect((await client.get('/me')).location).toBe('/me/password');
    await client.load('/me/password');
    const done = await client.submit('/me/password', { newPassword: 'a brand new password', confirmPassword: 'a brand new password' });
    expect(textOf(done.body)).toContain('Your web password was changed');
    expect(await web.services.webCredentials.verifyUserPassword(user.extension, 'a brand new password')).toBe(user.userId);
    const { rows } = await web.services.pool.query('SELECT must_change FROM web_passwords WHERE user_id = $1', [user.userId]);
    expect(rows[0].must_change).toBe(false);
  });

  it('when the user changes the web password, then the current one is required', async () => {
    const user = await userWithWebPassword();
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    await client.load('/me/password');
    const wrong = await client.post('/me/password', { current: 'not it at all', newPassword: 'another password 1', confirmPassword: 'another password 1' });
    expect(wrong.status).toBe(422);
    expect(textOf(wrong.body)).toContain('The current web password is wrong');
    const ok = await client.submit('/me/password', { current: WEB_PASSWORD, newPassword: 'another password 1', confirmPassword: 'another password 1' });
    expect(textOf(ok.body)).toContain('Your web password was changed');
  });

  it('when the user signs out, then the session ends and the sign-out is audited', async () => {
    const user = await userWithWebPassword();
    const client = new WebClient(web.baseUrl);
    await client.signInAsUser(user.extension, WEB_PASSWORD);
    const out = await client.post('/me/signout', {});
    expect(out.status).toBe(303);
    expect(textOf((await client.load('/me')).body)).toContain('Sign In');
    expect(await auditRows(`event = 'web.signed_out' AND user_id = $1`, [user.userId])).toHaveLength(1);
  });
});
