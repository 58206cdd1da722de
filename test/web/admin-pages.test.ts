import { describe, expect, it } from 'vitest';
import { createAdmin, useWebServer } from '../support/browser.js';
import { createUser, testActor } from '../support/factories.js';
import { textOf, WebClient } from '../support/web-client.js';

// The admin pages as an administrator reads them (issue 19): words for people, everything said
// where it is needed, and every problem of a form at once. At the HTTP level; the layout at
// 1280 and 390 px is checked in Chromium (browser.test.ts).

const web = useWebServer();

async function signedIn(): Promise<WebClient> {
  const client = new WebClient(web.baseUrl);
  await client.signInAsAdmin(await createAdmin(web.services));
  return client;
}

function occurrences(text: string, part: string): number {
  return text.split(part).length - 1;
}

describe('the admin pages read well', () => {
  it('when the rule form is shown, then each field says its meaning once', async () => {
    const client = await signedIn();
    for (const path of ['/admin/rules/new', '/admin/rules/default']) {
      const page = textOf((await client.load(path)).body);
      expect(occurrences(page, 'lock after this long without a successful sign-in'), path).toBe(1);
      expect(occurrences(page, 'a reset or generated PIN works this long'), path).toBe(1);
      expect(page, path).toContain('0 = never; lock after this long without a successful sign-in; 0 to 3650; default 0');
    }
  });

  it('when the audit log is shown, then the details are words, not JSON', async () => {
    const user = await createUser(web.services);
    await web.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    await web.services.accounts.updateUser(user.userId, { email: 'audit.reader@example.com' }, testActor);
    const client = await signedIn();
    const page = (await client.load(`/admin/audit?extension=${user.extension}`)).body;
    // Each row: time, event, channel, actor, user, details.
    const rows = (page.match(/<tr><td>[\s\S]*?<\/tr>/g) ?? []).map((row) => [...row.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((m) => textOf(m[1] ?? '')));
    expect(rows.map((cells) => `${cells[1]}: ${cells[5]}`)).toEqual([
      'user.updated: e-mail: audit.reader@example.com',
      'pin.locked: Locked by Administrator on',
      'pin.set: a chosen PIN',
      'user.created: rule default; no enrollment',
    ]);
    expect(page).not.toMatch(/\{&quot;|\{"/);
  });

  it("when a user is locked, then the lock is said at the top of the user's page and of each Edit page", async () => {
    const user = await createUser(web.services);
    await web.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    const client = await signedIn();
    for (const path of ['', '/edit', '/password-settings', '/change-password']) {
      const page = (await client.load(`/admin/users/${user.userId}${path}`)).body;
      const notice = page.indexOf('Sign-in is refused:');
      expect(notice, path).toBeGreaterThan(0);
      // Before anything else of the page: the facts, the form.
      expect(notice, path).toBeLessThan(Math.min(...['<dl', '<form method="post" action="/admin/users/'].map((tag) => page.indexOf(tag)).filter((i) => i >= 0)));
      expect(textOf(page), path).toContain('Sign-in is refused: locked by an administrator.');
    }
    const unlocked = await createUser(web.services);
    expect((await client.load(`/admin/users/${unlocked.userId}`)).body).not.toContain('Sign-in is refused');
  });

  it('when a new user is posted with several mistakes, then every one is shown, each at its field', async () => {
    const client = await signedIn();
    await client.load('/admin/users/new');
    const page = await client.submit('/admin/users', {
      extension: '12a',
      firstName: '',
      lastName: 'Person',
      phone: '555-0100',
      email: 'not an address',
      locale: 'en-US',
      rule: 'default',
      responseWait: '99',
      pin: '604817',
      pinConfirm: '604818',
      enroll: 'on',
    });
    expect(page.status).toBe(400);
    const alert = textOf(/<div class="message error" role="alert" id="form-error">([\s\S]*?)<\/div>/.exec(page.body)?.[1] ?? '');
    expect(alert).toBe(
      '6 things need correcting: ' +
        'Extension "12a" must be 2 to 15 digits. ' +
        'First name must be 1 to 100 characters. ' +
        'Phone number "555-0100" is not in E.164 form (like +15551230001). ' +
        'E-mail address "not an address" is not valid (like alice@example.com). ' +
        'Response wait "99" must be a whole number of seconds from 3 to 30. ' +
        'Initial PIN and Confirm PIN do not match.',
    );
    for (const field of ['extension', 'firstName', 'phone', 'email', 'responseWait', 'pinConfirm']) {
      expect(page.body, field).toMatch(new RegExp(`<input id="${field}"[^>]*aria-invalid="true"`));
      expect(page.body, field).toContain(`<a href="#${field}">`);
    }
    expect(page.body).not.toMatch(/<input id="lastName"[^>]*aria-invalid/);
    expect(await web.services.accounts.findAccount({ extension: '12a' })).toBeNull();
  });

  it('when the fields are right but the service refuses (an extension in use), then that one is shown at its field', async () => {
    const taken = await createUser(web.services);
    const client = await signedIn();
    await client.load('/admin/users/new');
    const page = await client.submit('/admin/users', {
      extension: taken.extension,
      firstName: 'Second',
      lastName: 'Person',
      locale: 'en-US',
      rule: 'default',
      responseWait: '5',
      pin: '604817',
      pinConfirm: '604817',
    });
    expect(page.status).toBe(409);
    expect(textOf(/<p class="message error" role="alert" id="form-error">([\s\S]*?)<\/p>/.exec(page.body)?.[1] ?? '')).toBe(
      'That extension is already in use by another user.',
    );
    expect(page.body).toMatch(/<input id="extension"[^>]*aria-invalid="true"/);
  });
});
