import { describe, expect, it } from 'vitest';
import { createAdmin, useWebServer } from '../support/browser.js';
import { createUser, createUserWithWebPassword, testActor } from '../support/factories.js';
import { textOf, WebClient } from '../support/web-client.js';

// DESIGN §7 "Web security": sessions end with the credential or access they stood for, and the
// self-service page follows a lock at once (§3 "Flags take effect at once").

const web = useWebServer();
const WEB_PASSWORD = 'my own web password';

async function userSignedIn(overrides: Parameters<typeof createUser>[1] = {}) {
  const user = await createUserWithWebPassword(web.services, WEB_PASSWORD, overrides);
  const client = new WebClient(web.baseUrl);
  const page = await client.signInAsUser(user.extension, WEB_PASSWORD);
  expect(textOf(page.body)).toContain('Your PIN');
  return { user, client };
}

async function signedIn(client: WebClient): Promise<boolean> {
  return textOf((await client.load('/me')).body).includes('Your PIN');
}

async function adminSignedIn(client: WebClient): Promise<boolean> {
  const page = await client.get('/admin/users');
  return page.status === 200;
}

describe('self-service sessions', () => {
  it("when an administrator resets the user's web password, then the user's sessions end", async () => {
    const { user, client } = await userSignedIn();
    await web.services.webCredentials.setUserPassword(user.userId, 'a brand new web password', { channel: 'admin', name: 'admin:x' }, { mustChange: true });
    expect(await signedIn(client)).toBe(false);
  });

  it('when an administrator resets the web password from the admin page, then the user is signed out there too', async () => {
    const { user, client } = await userSignedIn();
    const admin = new WebClient(web.baseUrl);
    await admin.signInAsAdmin(await createAdmin(web.services));
    await admin.load(`/admin/users/${user.userId}/change-password?target=web`);
    const saved = await admin.submit(`/admin/users/${user.userId}/change-password`, {
      target: 'web',
      password: 'reset by the admin',
      confirm: 'reset by the admin',
      mustChange: 'on',
    });
    expect(textOf(saved.body)).toContain('Updated Password');
    expect(await signedIn(client)).toBe(false);
  });

  it('when an administrator locks the user, then the sessions end and signing in again is refused', async () => {
    const { user, client } = await userSignedIn();
    await web.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    expect(await signedIn(client)).toBe(false);
    const again = new WebClient(web.baseUrl);
    await again.load('/me');
    const refused = await again.post('/me/signin', { extension: user.extension, password: WEB_PASSWORD });
    expect(refused.status).toBe(403);
    expect(textOf(refused.body)).toContain('locked by your administrator');
  });

  it('when the user is deleted, then the sessions end', async () => {
    const { user, client } = await userSignedIn();
    await web.services.accounts.deleteUser(user.userId, testActor);
    expect(await signedIn(client)).toBe(false);
    const { rows } = await web.services.pool.query(`SELECT count(*)::int AS n FROM web_sessions WHERE sess -> 'user' ->> 'id' = $1`, [String(user.userId)]);
    expect(rows[0].n).toBe(0);
  });

  it('when the user changes their own web password, then this session stays and the other sessions end', async () => {
    const { user, client } = await userSignedIn();
    const other = new WebClient(web.baseUrl);
    await other.signInAsUser(user.extension, WEB_PASSWORD);
    expect(await signedIn(other)).toBe(true);
    await client.load('/me/password');
    const changed = await client.submit('/me/password', {
      current: WEB_PASSWORD,
      newPassword: 'my second web password',
      confirmPassword: 'my second web password',
    });
    expect(textOf(changed.body)).toContain('Your web password was changed');
    expect(await signedIn(client)).toBe(true);
    expect(await signedIn(other)).toBe(false);
  });

  it('when the PIN is locked out by intruder detection, then the web session stays but the PIN change is refused', async () => {
    const { user, client } = await userSignedIn();
    for (let i = 0; i < 3; i++) await web.services.pins.verifySignin({ extension: user.extension, pin: '000000', actor: testActor });
    expect(await signedIn(client)).toBe(true);
    const before = await web.services.pool.query('SELECT pin_hash FROM pin_credentials WHERE user_id = $1', [user.userId]);
    const refused = await client.post('/me/pin', { newPin: '604817', confirmPin: '604817' });
    expect(refused.status).toBe(422);
    expect(textOf(refused.body)).toContain('the account is locked');
    const after = await web.services.pool.query('SELECT pin_hash FROM pin_credentials WHERE user_id = $1', [user.userId]);
    expect(after.rows[0].pin_hash).toBe(before.rows[0].pin_hash);
  });
});

describe('administrator sessions', () => {
  it("when an administrator's password is reset, then their sessions end and the new password signs in", async () => {
    const credentials = await createAdmin(web.services);
    const client = new WebClient(web.baseUrl);
    await client.signInAsAdmin(credentials);
    expect(await adminSignedIn(client)).toBe(true);
    await web.services.webCredentials.setAdminPassword(credentials.username, 'a reset admin password', testActor);
    expect(await adminSignedIn(client)).toBe(false);
    const again = new WebClient(web.baseUrl);
    await again.signInAsAdmin({ username: credentials.username, password: 'a reset admin password' });
    expect(await adminSignedIn(again)).toBe(true);
  });
});
