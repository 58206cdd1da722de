import { beforeAll, describe, expect, it } from 'vitest';
import { createUser, createUserWithWebPassword, testActor } from '../support/factories.js';
import { textOf, WebClient } from '../support/web-client.js';
import { createAdmin, useWebServer } from '../support/browser.js';
import { WebhookCaller } from '../support/phone.js';
import { validateScimError, validateScimList, validateScimUser } from '../support/scim-schemas.js';

// Provisioning with SCIM 2.0 (DESIGN §11) against the real server: what an identity provider
// does, and "deactivated by the directory" as a state of its own.

const web = useWebServer();
let token = '';
let apiToken = '';
let sequence = 0;

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';
const PATCH_OP = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

beforeAll(async () => {
  ({ token } = await web.services.apiTokens.create('okta', { channel: 'admin', name: 'admin:test' }, { kind: 'scim' }));
  ({ token: apiToken } = await web.services.apiTokens.create('scripts', { channel: 'admin', name: 'admin:test' }));
});

type Json = Record<string, unknown>;

interface ScimAnswer {
  status: number;
  body: Json;
  headers: Headers;
}

/** Fails the test when an answer breaks RFC 7643/7644: every User against the core User schema. */
function expectValid(answer: ScimAnswer, path: string): void {
  if (answer.status === 204) return;
  expect(answer.headers.get('content-type')).toMatch(/^application\/scim\+json/);
  const check = (validate: typeof validateScimUser, value: unknown, what: string) => {
    expect(validate(value), `${what} of ${path}: ${JSON.stringify(validate.errors)}`).toBe(true);
  };
  if (answer.status >= 400) return check(validateScimError, answer.body, 'the error');
  const schemas = answer.body.schemas as string[];
  if (schemas.includes('urn:ietf:params:scim:api:messages:2.0:ListResponse')) {
    check(validateScimList, answer.body, 'the list');
    if (path.startsWith('/Users')) for (const user of answer.body.Resources as unknown[]) check(validateScimUser, user, 'a listed User');
  } else if (path.startsWith('/Users')) {
    check(validateScimUser, answer.body, 'the User');
  }
}

async function scim(method: string, path: string, body?: unknown, auth: string | null = `Bearer ${token}`): Promise<ScimAnswer> {
  const response = await fetch(`${web.baseUrl}/scim/v2${path}`, {
    method,
    headers: {
      ...(auth !== null ? { authorization: auth } : {}),
      ...(body !== undefined ? { 'content-type': 'application/scim+json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  const answer = { status: response.status, body: text ? (JSON.parse(text) as Json) : {}, headers: response.headers };
  expectValid(answer, path);
  return answer;
}

const filterFor = (userName: string) => `/Users?filter=${encodeURIComponent(`userName eq "${userName}"`)}`;

function nextExtension(): string {
  sequence += 1;
  return String(81000 + sequence);
}

/** A SCIM User as Okta or Entra ID sends it. */
function scimUser(userName: string, extra: Json = {}): Json {
  return { schemas: [CORE_USER], userName, name: { givenName: 'Ada', familyName: 'Lovelace' }, active: true, ...extra };
}

const patch = (...Operations: Json[]) => ({ schemas: [PATCH_OP], Operations });

async function createScimUser(extra: Json = {}): Promise<{ id: string; userName: string }> {
  const userName = nextExtension();
  const created = await scim('POST', '/Users', scimUser(userName, extra));
  expect(created.status).toBe(201);
  return { id: created.body.id as string, userName };
}

async function auditEvents(userId: number | string): Promise<Array<{ event: string; channel: string; actor: string }>> {
  const { rows } = await web.services.pool.query('SELECT event, channel, actor FROM audit_events WHERE user_id = $1 ORDER BY id', [Number(userId)]);
  return rows as Array<{ event: string; channel: string; actor: string }>;
}

let callSequence = 0;

/** A call as far as the PIN: what the caller hears after it, and the call to go on with. */
async function signIn(user: { extension: string; pin: string }) {
  const call = new WebhookCaller(web.server, `CAscim${String(++callSequence).padStart(4, '0')}`);
  const pinPrompt = (await call.press((await call.incoming()).action, user.extension)).action;
  return { call, answer: await call.press(pinPrompt, user.pin) };
}

/** Sets a PIN as the helpdesk would, so the user can sign in by phone. */
async function givePin(userId: number, pin = '860472'): Promise<string> {
  await web.services.pins.changePinOrThrow({ userId, newPin: pin, kind: 'administrative', actor: testActor });
  return pin;
}

describe('authentication', () => {
  it('when there is no token, an /api token or a wrong one, then /scim/v2 answers 401 in the SCIM error schema', async () => {
    for (const auth of [null, `Bearer ${apiToken}`, 'Bearer pinline_not-a-real-token']) {
      const answer = await scim('GET', '/Users', undefined, auth);
      expect(answer.status, String(auth)).toBe(401);
      expect(answer.body).toMatchObject({ schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '401' });
    }
  });

  it('when a SCIM token is used on /api, then it is no token there', async () => {
    const response = await fetch(`${web.baseUrl}/api/users`, { headers: { authorization: `Bearer ${token}` } });
    expect(response.status).toBe(401);
  });
});

describe('discovery', () => {
  it('when the identity provider reads ServiceProviderConfig, ResourceTypes and Schemas, then they describe Users with filter and PATCH', async () => {
    const config = await scim('GET', '/ServiceProviderConfig');
    expect(config.body).toMatchObject({ patch: { supported: true }, filter: { supported: true }, bulk: { supported: false } });
    const types = await scim('GET', '/ResourceTypes');
    expect((types.body.Resources as Json[]).map((t) => t.endpoint)).toEqual(['/Users']);
    const schemas = await scim('GET', '/Schemas');
    const user = (schemas.body.Resources as Json[])[0] as { id: string; attributes: Array<{ name: string }> };
    expect(user.id).toBe(CORE_USER);
    expect(user.attributes.map((a) => a.name)).toEqual(expect.arrayContaining(['userName', 'name', 'emails', 'phoneNumbers', 'active', 'preferredLanguage']));
    expect((await scim('GET', `/Schemas/${CORE_USER}`)).status).toBe(200);
  });

  it('when the OpenAPI document is read, then it says where SCIM describes itself', async () => {
    const document = (await (await fetch(`${web.baseUrl}/api/openapi.json`)).json()) as { info: { description: string } };
    expect(document.info.description).toContain('/scim/v2/Schemas');
  });
});

describe('the provisioning sequence an identity provider runs', () => {
  it('when it looks up, creates, reads, deactivates, reactivates, replaces and deletes a user, then pinline follows each step', async () => {
    const userName = nextExtension();
    // 1. Look up by userName: nobody yet.
    const none = await scim('GET', filterFor(userName));
    expect(none.body).toMatchObject({ totalResults: 0, Resources: [] });

    // 2. Create, with externalId and a phone number as Entra ID writes it.
    const created = await scim(
      'POST',
      '/Users',
      scimUser(userName, { externalId: 'entra-7f3a', phoneNumbers: [{ value: '+1 555 010 2000', type: 'mobile', primary: true }], preferredLanguage: 'es' }),
    );
    expect(created.status).toBe(201);
    const id = created.body.id as string;
    expect(created.headers.get('location')).toBe(`${web.baseUrl}/scim/v2/Users/${id}`);
    expect(created.body).toMatchObject({
      userName,
      externalId: 'entra-7f3a',
      name: { givenName: 'Ada', familyName: 'Lovelace' },
      phoneNumbers: [{ value: '+15550102000' }],
      preferredLanguage: 'es-US',
      active: true,
    });
    const account = await web.services.accounts.getAccount({ userId: Number(id) });
    expect(account.user.extension).toBe(userName);
    expect(account.pin.enrollmentPending).toBe(true);

    // 3. Get, and find by the filter.
    expect((await scim('GET', `/Users/${id}`)).body).toMatchObject({ id, userName });
    const found = await scim('GET', filterFor(userName));
    expect(found.body).toMatchObject({ totalResults: 1, Resources: [{ id, userName }] });

    // 4. Deactivate, as Entra ID does (a string "False"): the user can no longer sign in by phone.
    const pin = await givePin(Number(id));
    expect((await signIn({ extension: userName, pin })).answer.said.at(-1)).not.toBe('signin.locked');
    const deactivated = await scim('PATCH', `/Users/${id}`, patch({ op: 'Replace', path: 'active', value: 'False' }));
    expect(deactivated.status).toBe(200);
    expect(deactivated.body.active).toBe(false);
    expect((await signIn({ extension: userName, pin })).answer.said).toEqual(['signin.locked']);

    // 5. Reactivate, as Okta does (a value object): the PIN signs in again.
    const reactivated = await scim('PATCH', `/Users/${id}`, patch({ op: 'replace', value: { active: true } }));
    expect(reactivated.body.active).toBe(true);
    expect((await signIn({ extension: userName, pin })).answer.said).not.toContain('signin.locked');

    // 6. Replace: the names and e-mail change, the phone (absent) is cleared, externalId as sent.
    const replaced = await scim('PUT', `/Users/${id}`, {
      schemas: [CORE_USER],
      userName,
      externalId: 'entra-7f3a',
      name: { givenName: 'Augusta', familyName: 'King' },
      emails: [{ value: 'augusta@example.com', type: 'work', primary: true }],
      active: true,
    });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ name: { givenName: 'Augusta', familyName: 'King' }, emails: [{ value: 'augusta@example.com' }] });
    expect(replaced.body.phoneNumbers).toBeUndefined();

    // 7. Delete: gone for SCIM and for pinline.
    expect((await scim('DELETE', `/Users/${id}`)).status).toBe(204);
    expect((await scim('GET', `/Users/${id}`)).status).toBe(404);
    expect(await web.services.accounts.findAccount({ userId: Number(id) })).toBeNull();

    // Audited on channel scim, as the token (the rows outlive the user, by extension).
    const { rows: events } = await web.services.pool.query<{ event: string; channel: string; actor: string }>(
      'SELECT event, channel, actor FROM audit_events WHERE extension = $1 ORDER BY id',
      [userName],
    );
    expect(events.map((e) => e.event)).toEqual(expect.arrayContaining(['user.created', 'user.deactivated', 'user.reactivated', 'user.updated', 'user.deleted']));
    for (const event of events.filter((e) => e.event.startsWith('user.'))) expect(event).toMatchObject({ channel: 'scim', actor: 'scim:okta' });
  });
});

describe('lists', () => {
  it('when the identity provider pages with startIndex and count, then each page holds its share and the total counts all', async () => {
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await createScimUser()).id);
    const all = await scim('GET', '/Users?count=200');
    const total = all.body.totalResults as number;
    expect(total).toBeGreaterThanOrEqual(5);
    const seen: string[] = [];
    for (let start = 1; start <= total; start += 2) {
      const page = await scim('GET', `/Users?startIndex=${start}&count=2`);
      expect(page.body).toMatchObject({ totalResults: total, startIndex: start });
      expect((page.body.Resources as Json[]).length).toBe(Math.min(2, total - start + 1));
      expect(page.body.itemsPerPage).toBe((page.body.Resources as Json[]).length);
      seen.push(...(page.body.Resources as Json[]).map((u) => u.id as string));
    }
    expect(seen).toEqual((all.body.Resources as Json[]).map((u) => u.id));
    expect(seen).toEqual(expect.arrayContaining(ids));
    // count=0 asks for the total only; a startIndex below 1 counts as 1.
    expect(await scim('GET', '/Users?count=0')).toMatchObject({ body: { totalResults: total, itemsPerPage: 0, Resources: [] } });
    expect((await scim('GET', '/Users?startIndex=0&count=1')).body.startIndex).toBe(1);
  });

  it('when the filter is malformed or asks what pinline cannot answer, then it is 400 invalidFilter', async () => {
    for (const filter of ['userName eq', 'userName xx "1"', '(userName eq "1"', 'displayName co "Ada"', 'userName eq 12', 'userName pr']) {
      const answer = await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`);
      expect(answer.status, filter).toBe(400);
      expect(answer.body.scimType, filter).toBe('invalidFilter');
    }
  });

  it('when a client spells attribute names in another case, then they are read all the same (RFC 7643 §2.1)', async () => {
    const userName = nextExtension();
    const created = await scim('POST', '/Users', {
      schemas: [CORE_USER],
      USERNAME: userName,
      Name: { GivenName: 'Edsger', familyname: 'Dijkstra' },
      Emails: [{ Value: 'ewd@example.com', Primary: true }],
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ userName, name: { givenName: 'Edsger', familyName: 'Dijkstra' }, emails: [{ value: 'ewd@example.com' }] });
  });

  it('when the filter names externalId, id or the attribute in full, then it finds the user', async () => {
    const { id, userName } = await createScimUser({ externalId: 'okta-00u1' });
    for (const filter of ['externalId eq "okta-00u1"', `id eq "${id}"`, `urn:ietf:params:scim:schemas:core:2.0:User:userName eq "${userName}"`]) {
      expect((await scim('GET', `/Users?filter=${encodeURIComponent(filter)}`)).body, filter).toMatchObject({ totalResults: 1, Resources: [{ id }] });
    }
    expect((await scim('GET', `/Users?filter=${encodeURIComponent('id eq "not-a-number"')}`)).body.totalResults).toBe(0);
  });
});

describe('refusals', () => {
  it('when a userName is taken, then the create is 409 with scimType uniqueness', async () => {
    const { userName } = await createScimUser();
    const again = await scim('POST', '/Users', scimUser(userName));
    expect(again.status).toBe(409);
    expect(again.body.scimType).toBe('uniqueness');
  });

  it('when an attribute holds a control character, then it is 400 invalidValue and nothing is written', async () => {
    const userName = nextExtension();
    const answer = await scim('POST', '/Users', scimUser(userName, { name: { givenName: 'Ada\u0007', familyName: 'Lovelace' } }));
    expect(answer.status).toBe(400);
    expect(answer.body.scimType).toBe('invalidValue');
    expect(answer.body.detail).toContain('U+0007');
    expect(await web.services.accounts.findAccount({ extension: userName })).toBeNull();
    const filter = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "1\u0001"')}`);
    expect(filter).toMatchObject({ status: 400, body: { scimType: 'invalidValue' } });
  });

  it('when the userName is not an extension, the e-mail is malformed or the phone is not E.164, then it is 400 invalidValue', async () => {
    for (const body of [
      scimUser('ada@example.com'),
      scimUser(nextExtension(), { emails: [{ value: 'not an address', primary: true }] }),
      scimUser(nextExtension(), { phoneNumbers: [{ value: '555-0100' }] }),
      scimUser(nextExtension(), { name: { givenName: 'Ada' } }),
    ]) {
      const answer = await scim('POST', '/Users', body);
      expect(answer.status, JSON.stringify(body)).toBe(400);
      expect(answer.body.scimType).toBe('invalidValue');
    }
  });

  it('when the body is not JSON, the PATCH is not a PatchOp, or the user is unknown, then the answer is in the SCIM error schema', async () => {
    expect(await scim('POST', '/Users', '{"userName":')).toMatchObject({ status: 400, body: { scimType: 'invalidSyntax' } });
    const plain = await fetch(`${web.baseUrl}/scim/v2/Users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'x' });
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as Json).scimType).toBe('invalidSyntax');
    const { id } = await createScimUser();
    expect(await scim('PATCH', `/Users/${id}`, { Operations: [] })).toMatchObject({ status: 400, body: { scimType: 'invalidSyntax' } });
    expect((await scim('GET', '/Users/999999999')).status).toBe(404);
    expect((await scim('GET', '/Users/abc')).status).toBe(404);
    expect((await scim('DELETE', '/Users/999999999')).status).toBe(404);
  });
});

describe('deactivated by the directory', () => {
  it('when an administrator unlocks a deactivated user, then they stay deactivated; a system administrator’s reactivate ends it', async () => {
    const { id } = await createScimUser();
    const userId = Number(id);
    await scim('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'active', value: false }));
    await web.services.pins.updateSettings(userId, { unlock: true }, testActor);
    expect((await scim('GET', `/Users/${id}`)).body.active).toBe(false);
    const account = await web.services.accounts.getAccount({ userId });
    expect(account.pin.deactivatedAt).not.toBeNull();

    await web.services.scim.reactivate(userId, { channel: 'admin', name: 'admin:root' });
    expect((await scim('GET', `/Users/${id}`)).body.active).toBe(true);
    expect((await auditEvents(id)).at(-1)).toMatchObject({ event: 'user.reactivated', channel: 'admin' });
  });

  it('when an administrator presses Reactivate on the user’s page, then the deactivation ends; Unlock alone does not end it', async () => {
    const user = await createUser(web.services);
    await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: false }));
    const admin = new WebClient(web.baseUrl);
    await admin.signInAsAdmin(await createAdmin(web.services));
    const page = await admin.load(`/admin/users/${user.userId}/password-settings`);
    expect(textOf(page.body)).toContain('deactivated by the directory');
    await admin.submit(`/admin/users/${user.userId}/unlock`, {});
    expect((await scim('GET', `/Users/${user.userId}`)).body.active).toBe(false);
    await admin.load(`/admin/users/${user.userId}/password-settings`);
    const done = await admin.submit(`/admin/users/${user.userId}/reactivate`, {});
    expect(textOf(done.body)).toContain('Reactivated');
    expect(done.body).not.toContain('/reactivate');
    expect((await scim('GET', `/Users/${user.userId}`)).body.active).toBe(true);
  });

  it('when a user signed in on /me is deactivated, then their session ends and a new sign-in is refused as deactivated', async () => {
    const user = await createUserWithWebPassword(web.services, 'correct horse battery');
    const client = new WebClient(web.baseUrl);
    expect(textOf((await client.signInAsUser(user.extension, 'correct horse battery')).body)).toContain('Your PIN');
    await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: false }));
    // The next page is the sign-in form again.
    const after = await client.get('/me');
    expect(after.body).toContain('name="extension"');
    expect(textOf(after.body)).not.toContain('PIN Last Changed');
    const refused = await new WebClient(web.baseUrl).signInAsUser(user.extension, 'correct horse battery');
    expect(textOf(refused.body)).toContain('deactivated by your organisation’s directory');
  });

  it('when an administrator has locked the user, then active:true leaves the lock, and active reports only the directory', async () => {
    const user = await createUser(web.services);
    await web.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    const seen = await scim('GET', `/Users/${user.userId}`);
    expect(seen.body.active).toBe(true);
    await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: false }));
    await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: true }));
    const account = await web.services.accounts.getAccount({ userId: user.userId });
    expect(account.pin.lockedByAdmin).toBe(true);
    expect((await signIn(user)).answer.said).toEqual(['signin.locked']);
  });

  it('when a user is deactivated, then the locked report, the API and the status say directory', async () => {
    const user = await createUser(web.services);
    await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: false }));
    const report = await web.services.reports.run('locked');
    const row = report.rows.find((r) => r.extension === user.extension);
    expect(row?.fact.join('')).toContain('deactivated by the directory');
    const api = (await (await fetch(`${web.baseUrl}/api/users/${user.userId}`, { headers: { authorization: `Bearer ${apiToken}` } })).json()) as {
      pin: { status: { lockout: string } };
    };
    expect(api.pin.status.lockout).toBe('directory');
  });

  it('when a call is signed in and the user is deactivated, then its next database turn hears [signin.locked], and after reactivation [signin.reauth]', async () => {
    await web.services.accounts.setRule('quick', { minChangeMinutes: 0 }, testActor);
    const user = await createUser(web.services, { ruleName: 'quick' });
    const first = await signIn(user);
    expect(first.answer.said.at(-1)).toBe('menu.main');
    const newPin = await first.call.press(first.answer.action, '1');
    await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: false }));
    const refused = await first.call.press(newPin.action, '604817');
    expect(refused.said).toEqual(['signin.locked']);
    expect(refused.action).toBeNull();

    const second = await signIn(user);
    expect(second.answer.said).toEqual(['signin.locked']);
    // A call signed in before a deactivation does not get its authority back with a reactivation.
    const before = await signInBeforeDeactivation(user);
    await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: true }));
    expect((await before.call.press(before.newPin, '604817')).said).toEqual(['signin.reauth']);
  });

  it('when a signed-in user is deleted through SCIM, then the call’s next database turn hears [signin.locked] and ends', async () => {
    await web.services.accounts.setRule('quick', { minChangeMinutes: 0 }, testActor);
    const user = await createUser(web.services, { ruleName: 'quick' });
    const { call, answer } = await signIn(user);
    expect(answer.said.at(-1)).toBe('menu.main');
    const newPin = await call.press(answer.action, '1');
    expect((await scim('DELETE', `/Users/${user.userId}`)).status).toBe(204);
    const refused = await call.press(newPin.action, '604817');
    expect(refused.said).toEqual(['signin.locked']);
    expect(refused.action).toBeNull();
  });
});

/**
 * A call signed in and at the new-PIN prompt while the user was active; the user is then
 * deactivated (by SCIM), so the caller can go on only once reactivated.
 */
async function signInBeforeDeactivation(user: { userId: number; extension: string; pin: string }) {
  await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: true }));
  const { call, answer } = await signIn(user);
  expect(answer.said.at(-1)).toBe('menu.main');
  const newPin = (await call.press(answer.action, '1')).action;
  await scim('PATCH', `/Users/${user.userId}`, patch({ op: 'replace', path: 'active', value: false }));
  return { call, newPin };
}

describe('the first PIN', () => {
  it('when a user is created with an e-mail, then the §8 reset goes to them at once', async () => {
    const { id } = await createScimUser({ emails: [{ value: 'grace@example.com', type: 'work', primary: true }] });
    const resets = (await auditEvents(id)).filter((e) => e.event === 'pin.reset');
    expect(resets).toEqual([{ event: 'pin.reset', channel: 'scim', actor: 'scim:okta' }]);
    const account = await web.services.accounts.getAccount({ userId: Number(id) });
    expect(account.pin).toMatchObject({ enrollmentPending: true, mustChange: true });
  });

  it('when a user is created without a channel, then no one is told a PIN until a change gives them their first one', async () => {
    const { id } = await createScimUser();
    expect((await auditEvents(id)).map((e) => e.event)).not.toContain('pin.reset');
    const { rows } = await web.services.pool.query('SELECT untold FROM pin_credentials WHERE user_id = $1', [Number(id)]);
    expect(rows[0].untold).toBe(true);

    // As Entra ID adds an address: by a filtered path.
    await scim('PATCH', `/Users/${id}`, patch({ op: 'Add', path: 'emails[type eq "work"].value', value: 'hopper@example.com' }));
    expect((await auditEvents(id)).filter((e) => e.event === 'pin.reset')).toHaveLength(1);
    // A later change of the address sends nothing more: the user is no longer waiting.
    await scim('PATCH', `/Users/${id}`, patch({ op: 'replace', path: 'emails[type eq "work"].value', value: 'grace.hopper@example.com' }));
    expect((await auditEvents(id)).filter((e) => e.event === 'pin.reset')).toHaveLength(1);
    expect((await scim('GET', `/Users/${id}`)).body.emails).toEqual([{ value: 'grace.hopper@example.com', type: 'work', primary: true }]);
    expect((await web.services.accounts.getAccount({ userId: Number(id) })).user.email).toBe('grace.hopper@example.com');
  });
});
