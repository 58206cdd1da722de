import { describe, expect, it } from 'vitest';
import { createUser } from '../support/factories.js';
import { createAdmin, useWebServer, type AdminCredentials } from '../support/browser.js';
import { textOf, WebClient } from '../support/web-client.js';

// The admin web at the HTTP level, without a browser: these run everywhere, Chromium or not.

const web = useWebServer();

async function signedInClient(admin?: AdminCredentials): Promise<{ client: WebClient; admin: AdminCredentials }> {
  const credentials = admin ?? (await createAdmin(web.services));
  const client = new WebClient(web.baseUrl);
  const page = await client.signInAsAdmin(credentials);
  expect(page.status).toBe(200);
  return { client, admin: credentials };
}

async function auditRows(where: string, params: unknown[] = []) {
  const { rows } = await web.services.pool.query(
    `SELECT event, channel, actor, extension, details FROM audit_events WHERE ${where} ORDER BY id`,
    params,
  );
  return rows as Array<{ event: string; channel: string; actor: string; extension: string | null; details: Record<string, unknown> }>;
}

async function credential(userId: number) {
  const { rows } = await web.services.pool.query('SELECT * FROM pin_credentials WHERE user_id = $1', [userId]);
  return rows[0];
}

describe('admin sign-in', () => {
  it('when nobody is signed in, then every admin page sends the browser to the sign-in form', async () => {
    const client = new WebClient(web.baseUrl);
    for (const path of ['/admin', '/admin/users', '/admin/rules', '/admin/audit', '/admin/tokens', '/admin/users/1/change-password']) {
      const response = await client.get(path);
      expect(response.status, path).toBe(303);
      expect(response.location, path).toBe('/admin/signin');
    }
    const form = await client.get('/admin/signin');
    expect(form.status).toBe(200);
    expect(form.body).toContain('<label for="username">Username</label>');
    expect(form.body).toContain('<label for="password">Password</label>');
    // Without OIDC_ISSUER there is no single sign-on: no button, and its start is a page behind sign-in like any unknown one.
    expect(form.body).not.toContain('Sign in with your organisation');
    expect((await client.get('/admin/oidc/signin')).location).toBe('/admin/signin');
  });

  it('when the password is right, then the administrator gets a Postgres session with a HttpOnly SameSite=Lax cookie and the sign-in is audited', async () => {
    const admin = await createAdmin(web.services);
    const client = new WebClient(web.baseUrl);
    await client.load('/admin/signin');
    const response = await client.post('/admin/signin', admin);
    expect(response.status).toBe(303);
    expect(response.location).toBe('/admin/users');
    const cookie = response.setCookies.find((c) => c.startsWith('pinline.sid='));
    expect(cookie).toMatch(/HttpOnly/i);
    expect(cookie).toMatch(/SameSite=Lax/i);
    expect(cookie).not.toMatch(/Secure/i);
    const { rows } = await web.services.pool.query(`SELECT sess FROM web_sessions WHERE sess->'admin'->>'username' = $1`, [admin.username]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows[0].sess)).not.toContain(admin.password);
    expect(await auditRows(`event = 'admin.signin_succeeded' AND actor = $1`, [`admin:${admin.username}`])).toMatchObject([
      { channel: 'admin' },
    ]);
    expect((await client.load('/admin/users')).status).toBe(200);
  });

  it('when the request came over https through the proxy, then the session cookie is Secure', async () => {
    const admin = await createAdmin(web.services);
    const client = new WebClient(web.baseUrl, { 'x-forwarded-proto': 'https' });
    await client.load('/admin/signin');
    const response = await client.post('/admin/signin', admin);
    expect(response.status).toBe(303);
    expect(response.setCookies.find((c) => c.startsWith('pinline.sid='))).toMatch(/;\s*Secure/i);
  });

  it('when the password is wrong, then the form says so with 401, the password is not echoed and the attempt is audited', async () => {
    const admin = await createAdmin(web.services);
    const client = new WebClient(web.baseUrl);
    await client.load('/admin/signin');
    const response = await client.post('/admin/signin', { username: admin.username, password: 'wrong password 123' });
    expect(response.status).toBe(401);
    expect(textOf(response.body)).toContain('Sign-in failed');
    expect(response.body).not.toContain('wrong password 123');
    expect(await auditRows(`event = 'admin.signin_failed' AND actor = $1`, [`admin:${admin.username}`])).toHaveLength(1);
  });

  it('when the username is unknown, then the failure is audited without the typed name', async () => {
    const client = new WebClient(web.baseUrl);
    await client.load('/admin/signin');
    await client.post('/admin/signin', { username: 'typed-my-password-here', password: 'whatever 12345' });
    const rows = await auditRows(`event = 'admin.signin_failed'`);
    expect(rows.at(-1)?.actor).toBe('admin:(unknown)');
    expect(JSON.stringify(rows)).not.toContain('typed-my-password-here');
  });

  it('when the sign-in form is posted without a valid CSRF token, then it is refused with 403', async () => {
    const admin = await createAdmin(web.services);
    const client = new WebClient(web.baseUrl);
    await client.load('/admin/signin');
    expect((await client.post('/admin/signin', admin, { csrf: null })).status).toBe(403);
    expect((await client.post('/admin/signin', admin, { csrf: 'forged.token' })).status).toBe(403);
  });

  it('when the administrator signs out, then the session is gone and the pages ask for sign-in again', async () => {
    const { client, admin } = await signedInClient();
    await client.load('/admin/users');
    const out = await client.post('/admin/signout', {});
    expect(out.status).toBe(303);
    expect((await client.get('/admin/users')).location).toBe('/admin/signin');
    expect(await auditRows(`event = 'admin.signed_out' AND actor = $1`, [`admin:${admin.username}`])).toHaveLength(1);
  });
});

describe('CSRF', () => {
  it('when a signed-in form is posted without the token or with another session\'s token, then it is refused with 403 and nothing changes', async () => {
    const { client } = await signedInClient();
    const { client: other } = await signedInClient();
    const user = await createUser(web.services);
    await client.load(`/admin/users/${user.userId}/change-password`);
    await other.load('/admin/users');
    const fields = { target: 'voicemail', password: '604817', confirm: '604817', mustChange: 'on' };
    expect((await client.post(`/admin/users/${user.userId}/change-password`, fields, { csrf: null })).status).toBe(403);
    const refused = await client.post(`/admin/users/${user.userId}/change-password`, fields, { csrf: other.csrf() });
    expect(refused.status).toBe(403);
    expect(textOf(refused.body)).toContain('Form Refused');
    expect(await auditRows(`event = 'pin.changed' AND user_id = $1`, [user.userId])).toEqual([]);
  });
});

describe('Users > Edit > Change Password (DESIGN §7)', () => {
  it('when the administrator opens Change Password, then Choose Password offers Voice Mail and Web Application and must-change is ticked', async () => {
    const { client } = await signedInClient();
    const user = await createUser(web.services);
    const page = (await client.load(`/admin/users/${user.userId}/change-password`)).body;
    expect(page).toContain('<label for="target">Choose Password</label>');
    expect(page).toMatch(/<option value="voicemail" selected>Voice Mail<\/option>/);
    expect(page).toContain('<option value="web">Web Application</option>');
    expect(page).toContain('<label for="password">Password</label>');
    expect(page).toContain('<label for="confirm">Confirm Password</label>');
    expect(page).toMatch(/<input type="checkbox" id="mustChange" name="mustChange" value="on" checked>/);
    expect(page).toContain('<label for="mustChange">User Must Change at Next Sign-In</label>');
  });

  it('when a valid PIN is saved for Voice Mail, then "Updated Password" shows, the PIN works and the change is audited naming the administrator', async () => {
    const { client, admin } = await signedInClient();
    const user = await createUser(web.services);
    await client.load(`/admin/users/${user.userId}/change-password`);
    const page = await client.submit(`/admin/users/${user.userId}/change-password`, {
      target: 'voicemail',
      password: '604817',
      confirm: '604817',
      mustChange: 'on',
    });
    expect(page.status).toBe(200);
    expect(page.body).toContain('<p class="message status" role="status">Updated Password</p>');
    expect(page.body).not.toContain('604817');
    expect(await credential(user.userId)).toMatchObject({ must_change: true });
    const signin = await web.services.pins.verifySignin({ extension: user.extension, pin: '604817', actor: { channel: 'cli', name: 'test' } });
    expect(signin.outcome).toBe('ok');
    expect(await auditRows(`event = 'pin.changed' AND user_id = $1`, [user.userId])).toMatchObject([
      { channel: 'admin', actor: `admin:${admin.username}`, details: { kind: 'administrative', mustChange: true } },
    ]);
  });

  it('when must-change is unticked, then the new PIN is saved without forcing a change', async () => {
    const { client } = await signedInClient();
    const user = await createUser(web.services);
    await client.load(`/admin/users/${user.userId}/change-password`);
    await client.submit(`/admin/users/${user.userId}/change-password`, { target: 'voicemail', password: '604817', confirm: '604817' });
    expect(await credential(user.userId)).toMatchObject({ must_change: false });
  });

  it.each([
    ['a trivial PIN', '123456', 'That PIN is too easy to guess: it is an ascending or descending run of digits. Choose another (rule: trivial PIN).'],
    ['a too short PIN', '12', 'The PIN must have at least 6 digits, and only the keys 0 to 9 (rule: minimum length).'],
    ['the current PIN', '860472', 'That PIN was used before: it is the current PIN or one of the last 5. Choose another (rule: PIN history).'],
  ])('when %s is saved, then the form error names the rule and the PIN is neither changed nor shown', async (_what, pin, rule) => {
    const { client } = await signedInClient();
    const user = await createUser(web.services);
    await client.load(`/admin/users/${user.userId}/change-password`);
    const before = await credential(user.userId);
    const page = await client.post(`/admin/users/${user.userId}/change-password`, { target: 'voicemail', password: pin, confirm: pin, mustChange: 'on' });
    expect(page.status).toBe(422);
    expect(textOf(/<p class="message error" role="alert" id="form-error">(.*?)<\/p>/.exec(page.body)?.[1] ?? '')).toBe(rule);
    expect(page.body).not.toContain(`value="${pin}"`);
    expect((await credential(user.userId)).pin_hash).toBe(before.pin_hash);
  });

  it('when Password and Confirm Password differ, then the form says so and nothing changes', async () => {
    const { client } = await signedInClient();
    const user = await createUser(web.services);
    await client.load(`/admin/users/${user.userId}/change-password`);
    const page = await client.post(`/admin/users/${user.userId}/change-password`, { target: 'voicemail', password: '604817', confirm: '604818' });
    expect(page.status).toBe(422);
    expect(textOf(page.body)).toContain('Password and Confirm Password do not match');
    expect(page.body).not.toContain('60481');
  });

  it('when Web Application is chosen, then the web password is set, the PIN is untouched and the user must change it at next sign-in', async () => {
    const { client, admin } = await signedInClient();
    const user = await createUser(web.services);
    const before = await credential(user.userId);
    await client.load(`/admin/users/${user.userId}/change-password`);
    const page = await client.submit(`/admin/users/${user.userId}/change-password`, {
      target: 'web',
      password: 'a long web password',
      confirm: 'a long web password',
      mustChange: 'on',
    });
    expect(page.body).toContain('Updated Password');
    expect(page.body).toMatch(/<option value="web" selected>/);
    expect(await web.services.webCredentials.verifyUserPassword(user.extension, 'a long web password')).toBe(user.userId);
    expect((await credential(user.userId)).pin_hash).toBe(before.pin_hash);
    const { rows } = await web.services.pool.query('SELECT must_change FROM web_passwords WHERE user_id = $1', [user.userId]);
    expect(rows[0].must_change).toBe(true);
    expect(await auditRows(`event = 'web_password.changed' AND user_id = $1`, [user.userId])).toMatchObject([
      { channel: 'admin', actor: `admin:${admin.username}` },
    ]);
  });

  it('when the web password is too short, then the form error says how long it must be', async () => {
    const { client } = await signedInClient();
    const user = await createUser(web.services);
    await client.load(`/admin/users/${user.userId}/change-password`);
    const page = await client.post(`/admin/users/${user.userId}/change-password`, { target: 'web', password: 'short', confirm: 'short' });
    expect(page.status).toBe(422);
    expect(textOf(page.body)).toContain('password must be at least 10 characters');
  });
});

describe('Password Settings', () => {
  it('when the page opens, then every flag and status field of DESIGN §7 is there, with an Unlock button', async () => {
    const { client } = await signedInClient();
    const user = await createUser(web.services);
    const page = (await client.load(`/admin/users/${user.userId}/password-settings`)).body;
    for (const label of [
      'Locked by Administrator',
      'User Cannot Change',
      'User Must Change at Next Sign-In',
      'Does Not Expire',
      'Authentication Rule',
      'Time Last Changed',
      'Failed Sign-In Attempts',
      'Time of Last Failed Sign-In',
      'Time Locked by Intruder Detection',
    ]) {
      expect(page, label).toMatch(new RegExp(`<label for="[A-Za-z]+">${label}</label>`));
    }
    expect(page).toContain('<button type="submit">Unlock</button>');
    expect(page).not.toContain('$argon2');
  });

  it('when flags and the rule are saved, then they are stored and each change is audited naming the administrator', async () => {
    const { client, admin } = await signedInClient();
    await web.services.accounts.setRule('strict', { minLength: 8 }, { channel: 'cli', name: 'test' });
    const user = await createUser(web.services);
    await client.load(`/admin/users/${user.userId}/password-settings`);
    const page = await client.submit(`/admin/users/${user.userId}/password-settings`, {
      lockedByAdmin: 'on',
      doesNotExpire: 'on',
      rule: 'strict',
    });
    expect(page.body).toContain('Saved Password Settings');
    expect(await credential(user.userId)).toMatchObject({ locked_by_admin: true, does_not_expire: true, cannot_change: false, must_change: false });
    expect((await web.services.accounts.getAccount({ userId: user.userId })).rule.name).toBe('strict');
    const events = await auditRows(`user_id = $1 AND event NOT IN ('user.created', 'pin.set')`, [user.userId]);
    expect(events.map((e) => e.event).sort()).toEqual(['pin.locked', 'user.updated']);
    expect(events.every((e) => e.actor === `admin:${admin.username}` && e.channel === 'admin')).toBe(true);
  });

  it('when a user locked by intruder detection is unlocked, then the lock and failed count are cleared and the unlock is audited', async () => {
    const { client, admin } = await signedInClient();
    const user = await createUser(web.services);
    for (let i = 0; i < 3; i++) {
      await web.services.pins.verifySignin({ extension: user.extension, pin: '000000', actor: { channel: 'phone', name: 'caller:test' } });
    }
    const locked = await client.load(`/admin/users/${user.userId}/password-settings`);
    expect(locked.body).toMatch(/<output id="failedCount">3<\/output>/);
    expect(locked.body).toMatch(/<output id="lockedAt"><time/);
    const page = await client.submit(`/admin/users/${user.userId}/unlock`, {});
    expect(page.body).toContain('Unlocked');
    expect(page.body).toMatch(/<output id="failedCount">0<\/output>/);
    expect(page.body).toMatch(/<output id="lockedAt">Never<\/output>/);
    expect(await credential(user.userId)).toMatchObject({ failed_count: 0, locked_at: null });
    expect(await auditRows(`event = 'pin.unlocked' AND user_id = $1`, [user.userId])).toMatchObject([{ actor: `admin:${admin.username}` }]);
  });
});

describe('users', () => {
  it('when users are searched by name or extension, then the list shows the matches, paged', async () => {
    const { client } = await signedInClient();
    const created = [];
    for (let i = 0; i < 27; i++) {
      created.push(await createUser(web.services, { extension: String(730000 + i), firstName: 'Pagina', lastName: `Zeta${String(i).padStart(2, '0')}` }));
    }
    const first = await client.load('/admin/users?q=Pagina');
    expect(textOf(first.body)).toContain('1–25 of 27');
    expect(first.body).toContain('rel="next"');
    const second = await client.load('/admin/users?q=Pagina&page=2');
    expect(textOf(second.body)).toContain('26–27 of 27');
    expect(second.body).toContain('Zeta26');
    const byExtension = await client.load('/admin/users?q=730013');
    expect(textOf(byExtension.body)).toContain('Pagina Zeta13');
    expect(textOf(byExtension.body)).toContain('1–1 of 1');
  });

  it('when users are searched, then the search matches what begins with the text: extension, last name or "first last", in any case', async () => {
    const { client } = await signedInClient();
    await createUser(web.services, { extension: '7410001', firstName: 'Grace', lastName: 'Murray-Hopper' });
    await createUser(web.services, { extension: '7410002', firstName: 'Ada', lastName: 'Lovelace' });
    await createUser(web.services, { extension: '7410003', firstName: 'Percy_%', lastName: 'Graceful' });
    const found = async (q: string) => {
      const page = textOf((await client.load(`/admin/users?${new URLSearchParams({ q }).toString()}`)).body);
      return ['Murray-Hopper', 'Lovelace', 'Graceful'].filter((last) => page.includes(last));
    };
    expect(await found('741000')).toEqual(['Murray-Hopper', 'Lovelace', 'Graceful']);
    expect(await found('murray')).toEqual(['Murray-Hopper']);
    expect(await found('GRACE')).toEqual(['Murray-Hopper', 'Graceful']);
    expect(await found('grace murray-h')).toEqual(['Murray-Hopper']);
    expect(await found('ada lovelace')).toEqual(['Lovelace']);
    // Not "contains": the middle of a name, or the last name before the first, finds nobody.
    expect(await found('hopper')).toEqual([]);
    expect(await found('velace')).toEqual([]);
    expect(await found('lovelace ada')).toEqual([]);
    // LIKE's wildcards are plain characters.
    expect(await found('percy_%')).toEqual(['Graceful']);
    expect(await found('per%')).toEqual([]);
    expect(await found('_')).toEqual([]);
  });

  it('when a user is created, edited and deleted, then each step is stored and audited naming the administrator', async () => {
    const { client, admin } = await signedInClient();
    await client.load('/admin/users/new');
    const created = await client.post('/admin/users', {
      extension: '7401',
      firstName: 'Ada',
      lastName: 'Byron',
      phone: '+15557400001',
      locale: 'en-US',
      rule: 'default',
      pin: '604817',
      pinConfirm: '604817',
      enroll: 'on',
    });
    expect(created.status).toBe(303);
    const account = await web.services.accounts.getAccount({ extension: '7401' });
    expect(account.pin.enrollmentPending).toBe(true);
    expect(created.location).toBe(`/admin/users/${account.user.id}`);
    expect(textOf((await client.load(created.location ?? '')).body)).toContain('Created user Ada Byron (7401)');

    await client.load(`/admin/users/${account.user.id}/edit`);
    const edited = await client.submit(`/admin/users/${account.user.id}/edit`, {
      extension: '7402',
      firstName: 'Ada',
      lastName: 'Lovelace',
      phone: '',
      locale: 'es-US',
      responseWait: '14',
    });
    expect(edited.body).toContain('Saved User Basics');
    expect((await web.services.accounts.getAccount({ userId: account.user.id })).user).toMatchObject({
      extension: '7402',
      lastName: 'Lovelace',
      phone: null,
      locale: 'es-US',
      responseWait: 14,
    });
    const badWait = await client.submit(`/admin/users/${account.user.id}/edit`, { extension: '7402', firstName: 'Ada', lastName: 'Lovelace', locale: 'es-US', responseWait: '60' });
    expect(badWait.status).toBe(400);
    expect(textOf(badWait.body)).toContain('response wait "60" must be a whole number of seconds from 3 to 30');

    await client.load(`/admin/users/${account.user.id}/delete`);
    const deleted = await client.submit(`/admin/users/${account.user.id}/delete`, {});
    expect(deleted.body).toContain('Deleted user Ada Lovelace (7402)');
    expect((await client.get(`/admin/users/${account.user.id}`)).status).toBe(404);

    const events = await auditRows(`extension IN ('7401', '7402')`);
    expect(events.map((e) => e.event)).toEqual(['user.created', 'pin.set', 'user.updated', 'user.deleted']);
    expect(events.every((e) => e.actor === `admin:${admin.username}` && e.channel === 'admin')).toBe(true);
  });

  it('when a field holds a control character, then the form says which, keeps the rest, and nothing is stored', async () => {
    const { client } = await signedInClient();
    await client.load('/admin/users/new');
    const page = await client.post('/admin/users', {
      extension: '7481',
      firstName: 'Ada\u0000',
      lastName: 'Byron',
      locale: 'en-US',
      rule: 'default',
      pin: '604817',
      pinConfirm: '604817',
    });
    expect(page.status).toBe(400);
    expect(textOf(page.body)).toContain('First name contains a control character (U+0000); remove it.');
    expect(page.body).toContain('value="Byron"');
    expect(await web.services.accounts.findAccount({ extension: '7481' })).toBeNull();

    const user = await createUser(web.services);
    await client.load(`/admin/users/${user.userId}/edit`);
    const edited = await client.post(`/admin/users/${user.userId}/edit`, {
      extension: user.extension,
      firstName: 'Test',
      lastName: 'Person',
      email: 'a\u000b@example.com',
      locale: 'en-US',
    });
    expect(edited.status).toBe(400);
    expect(textOf(edited.body)).toContain('e-mail address contains a control character (U+000B); remove it');

    const search = await client.get('/admin/users?q=%00');
    expect(search.status).toBe(400);
    expect(textOf(search.body)).toContain('contains a control character (U+0000)');
    expect((await client.get('/admin/audit?event=%00')).status).toBe(400);
  });

  it('when the new user is invalid, then the form keeps what was typed except the PIN and names the problem', async () => {
    const { client } = await signedInClient();
    await client.load('/admin/users/new');
    const taken = await createUser(web.services);
    const page = await client.post('/admin/users', {
      extension: taken.extension,
      firstName: 'Dup',
      lastName: 'Licate',
      locale: 'en-US',
      rule: 'default',
      pin: '604817',
      pinConfirm: '604817',
    });
    expect(page.status).toBe(409);
    expect(textOf(page.body)).toContain('That extension is already in use by another user.');
    expect(page.body).toContain('value="Licate"');
    expect(page.body).not.toContain('604817');

    const trivial = await client.post('/admin/users', {
      extension: '7499',
      firstName: 'Tri',
      lastName: 'Vial',
      locale: 'en-US',
      rule: 'default',
      pin: '111111',
      pinConfirm: '111111',
    });
    expect(trivial.status).toBe(422);
    expect(textOf(trivial.body)).toContain('That PIN is too easy to guess: it uses only one or two different digits');
  });

  it('when names contain markup, then the pages show it as text', async () => {
    const { client } = await signedInClient();
    const user = await createUser(web.services, { firstName: '<script>alert(1)</script>', lastName: 'O"Brien & <b>' });
    const page = (await client.load(`/admin/users/${user.userId}`)).body;
    expect(page).not.toContain('<script>alert(1)');
    expect(page).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page).toContain('O&quot;Brien &amp; &lt;b&gt;');
  });
});

describe('authentication rules', () => {
  it('when a new rule form opens, then every field of RULE_FIELDS is there with its default', async () => {
    const { client } = await signedInClient();
    const page = (await client.load('/admin/rules/new')).body;
    for (const [label, value] of [
      ['Failed sign-ins before lockout', '3'],
      ['Reset failed count after (minutes)', '30'],
      ['Lockout duration (minutes)', '30'],
      ['Failed sign-ins per call', '3'],
      ['Minimum PIN length', '6'],
      ['Maximum PIN length', '20'],
      ['PIN expires after (days)', '180'],
      ['Expiry warning (days)', '15'],
      ['Previous PINs remembered', '5'],
      ['Minimum time between changes (minutes)', '1440'],
    ]) {
      expect(page, label).toContain(`>${label}</label>`);
      expect(textOf(page), label).toContain(`default ${value}`);
    }
    expect(page).toMatch(/id="trivialCheck" name="trivialCheck" value="on" checked/);
  });

  it('when a rule is created and edited, then it is stored, listed and audited; admin-only unlock is an empty lockout duration', async () => {
    const { client, admin } = await signedInClient();
    await client.load('/admin/rules/new');
    const fields = {
      name: 'Front Desk',
      maxFailedSignins: '5',
      resetFailedMinutes: '30',
      lockoutMinutes: '',
      maxFailedPerCall: '3',
      minLength: '8',
      maxLength: '12',
      maxDays: '90',
      warningDays: '10',
      historyCount: '3',
      minChangeMinutes: '0',
      tempPinHours: '24',
    };
    const created = await client.submit('/admin/rules', fields);
    expect(created.body).toContain('Created rule Front Desk');
    expect(await web.services.accounts.getRule('Front Desk')).toMatchObject({
      maxFailedSignins: 5,
      lockoutMinutes: null,
      minLength: 8,
      maxLength: 12,
      trivialCheck: false,
      tempPinHours: 24,
    });
    const edited = await client.submit('/admin/rules/Front%20Desk', { ...fields, minLength: '7', trivialCheck: 'on', lockoutMinutes: '45' });
    expect(edited.body).toContain('Saved rule Front Desk');
    expect(await web.services.accounts.getRule('Front Desk')).toMatchObject({ minLength: 7, lockoutMinutes: 45, trivialCheck: true });
    const list = textOf((await client.load('/admin/rules')).body);
    expect(list).toContain('Front Desk');
    const events = await auditRows(`event LIKE 'rule.%' AND details->>'rule' = 'Front Desk'`);
    expect(events.map((e) => e.event)).toEqual(['rule.created', 'rule.updated']);
    expect(events.every((e) => e.actor === `admin:${admin.username}`)).toBe(true);
  });

  it('when a field is out of range or the lengths are crossed, then the form names the field and nothing is stored', async () => {
    const { client } = await signedInClient();
    await client.load('/admin/rules/new');
    const base = {
      name: 'broken',
      maxFailedSignins: '3',
      resetFailedMinutes: '30',
      lockoutMinutes: '30',
      maxFailedPerCall: '3',
      minLength: '6',
      maxLength: '20',
      maxDays: '180',
      warningDays: '15',
      historyCount: '5',
      minChangeMinutes: '1440',
      tempPinHours: '72',
    };
    const range = await client.post('/admin/rules', { ...base, historyCount: '51' });
    expect(range.status).toBe(422);
    expect(textOf(range.body)).toContain('Previous PINs remembered must be a whole number from 0 to 50');
    const crossed = await client.post('/admin/rules', { ...base, minLength: '9', maxLength: '8' });
    expect(textOf(crossed.body)).toContain('rule "broken": the minimum PIN length (9) must not be greater than the maximum PIN length (8)');
    const unmeetable = await client.post('/admin/rules', { ...base, minLength: '2', maxLength: '2', trivialCheck: 'on' });
    expect(unmeetable.status).toBe(422);
    expect(textOf(unmeetable.body)).toContain('rule "broken": no PIN of 2 digits passes the trivial-PIN check');
    const control = await client.post('/admin/rules', { ...base, historyCount: '5\u0000' });
    expect(control.status).toBe(400);
    expect(textOf(control.body)).toContain('Previous PINs remembered contains a control character (U+0000)');
    const exists = await client.post('/admin/rules', { ...base, name: 'default' });
    expect(exists.status).toBe(409);
    expect(await web.services.accounts.getRule('broken').catch(() => null)).toBeNull();
  });
});

/** The Event column of the audit table, top to bottom. */
function eventColumn(page: string): string[] {
  return [...page.matchAll(/<tr><td><time[^>]*>[^<]*<\/time><\/td><td>([^<]+)<\/td>/g)].map((m) => m[1] ?? '');
}

describe('audit log', () => {
  it('when filtered by extension and event type, then only those events show, newest first', async () => {
    const { client } = await signedInClient();
    const user = await createUser(web.services);
    await web.services.pins.updateSettings(user.userId, { flags: { doesNotExpire: true } }, { channel: 'cli', name: 'test' });
    await web.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, { channel: 'cli', name: 'test' });
    const all = eventColumn((await client.load(`/admin/audit?extension=${user.extension}`)).body);
    expect(all).toEqual(['pin.locked', 'pin.flags_changed', 'pin.set', 'user.created']);
    const filtered = eventColumn((await client.load(`/admin/audit?extension=${user.extension}&event=pin.locked`)).body);
    expect(filtered).toEqual(['pin.locked']);
  });
});

describe('API tokens', () => {
  it('when a token is created, then it is shown once, only its SHA-256 is stored, and it can be revoked', async () => {
    const { client, admin } = await signedInClient();
    await client.load('/admin/tokens');
    const created = await client.post('/admin/tokens', { name: 'provisioning' });
    expect(created.status).toBe(200);
    const token = /id="new-token">(pinline_[A-Za-z0-9_-]+)</.exec(created.body)?.[1];
    expect(token).toBeDefined();
    const { rows } = await web.services.pool.query(
      `SELECT encode(token_sha256, 'hex') AS sha, row_to_json(t)::text AS everything FROM api_tokens t WHERE name = 'provisioning'`,
    );
    const { createHash } = await import('node:crypto');
    expect(rows[0].sha).toBe(createHash('sha256').update(token ?? '').digest('hex'));
    expect(rows[0].everything).not.toContain(token);
    const again = await client.load('/admin/tokens');
    expect(again.body).not.toContain(token);
    expect(textOf(again.body)).toContain('provisioning');

    const api = () => fetch(`${web.baseUrl}/api/users`, { headers: { authorization: `Bearer ${token}` } });
    expect((await api()).status).toBe(200);
    const id = /action="\/admin\/tokens\/(\d+)\/revoke"/.exec(again.body)?.[1];
    const revoked = await client.submit(`/admin/tokens/${id}/revoke`, {});
    expect(textOf(revoked.body)).toContain('Revoked token provisioning');
    expect((await api()).status).toBe(401);
    expect((await auditRows(`event LIKE 'api_token.%' AND details->>'name' = 'provisioning'`)).map((e) => [e.event, e.actor])).toEqual([
      ['api_token.created', `admin:${admin.username}`],
      ['api_token.revoked', `admin:${admin.username}`],
    ]);
  });
});

describe('pages', () => {
  it('when an admin page is served, then it has the headers that keep it out of frames, caches and script injection', async () => {
    const { client } = await signedInClient();
    const page = await client.load('/admin/users');
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(page.headers.get('cache-control')).toBe('no-store');
    expect(page.body).toContain('<link rel="stylesheet" href="/admin/style.css">');
    const css = await fetch(`${web.baseUrl}/admin/style.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get('content-type')).toMatch(/text\/css/);
  });

  it('when a page does not exist or a user id is not a number, then the answer is a 404 page', async () => {
    const { client } = await signedInClient();
    expect((await client.get('/admin/nothing-here')).status).toBe(404);
    expect((await client.get('/admin/users/abc')).status).toBe(404);
    expect((await client.get('/admin/users/999999')).status).toBe(404);
    expect((await client.get('/admin/rules/no-such-rule')).status).toBe(404);
  });
});
