import { request as httpRequest } from 'node:http';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../support/factories.js';
import { useWebServer } from '../support/browser.js';

const web = useWebServer();
let token = '';

beforeAll(async () => {
  ({ token } = await web.services.apiTokens.create('api tests', { channel: 'admin', name: 'admin:test' }));
});

interface ApiAnswer {
  status: number;
  body: Record<string, unknown>;
  headers: Headers;
}

async function api(method: string, path: string, body?: unknown, auth: string | null = `Bearer ${token}`): Promise<ApiAnswer> {
  if (method === 'TRACE') return traced(path, auth);
  const response = await fetch(`${web.baseUrl}/api${path}`, {
    method,
    headers: {
      ...(auth !== null ? { authorization: auth } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: response.headers };
}

/** fetch() will not send TRACE; node:http will. */
function traced(path: string, auth: string | null): Promise<ApiAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${web.baseUrl}/api${path}`, { method: 'TRACE', headers: auth !== null ? { authorization: auth } : {} }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(response.headers)) if (typeof value === 'string') headers.set(name, value);
        resolve({ status: response.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers });
      });
    });
    request.on('error', reject);
    request.end();
  });
}

async function auditRows(where: string, params: unknown[] = []) {
  const { rows } = await web.services.pool.query(`SELECT event, channel, actor FROM audit_events WHERE ${where} ORDER BY id`, params);
  return rows as Array<{ event: string; channel: string; actor: string }>;
}

describe('authentication', () => {
  it('when there is no token or a wrong one, then every route answers 401 with the error shape and a Bearer challenge', async () => {
    for (const auth of [null, 'Bearer pinline_not-a-real-token', `Basic ${Buffer.from('a:b').toString('base64')}`, token]) {
      const answer = await api('GET', '/users', undefined, auth);
      expect(answer.status, String(auth)).toBe(401);
      expect(answer.body).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    }
    expect((await api('DELETE', '/users/1', undefined, null)).status).toBe(401);
    expect(await auditRows(`event = 'api.auth_failed'`)).not.toHaveLength(0);
  });

  it('when the OpenAPI document is fetched, then it is served without a token and describes every route', async () => {
    const answer = await api('GET', '/openapi.json', undefined, null);
    expect(answer.status).toBe(200);
    expect(answer.body.openapi).toBe('3.1.0');
    const paths = answer.body.paths as Record<string, Record<string, unknown>>;
    expect(Object.keys(paths).sort()).toEqual(['/rules', '/rules/{name}', '/users', '/users/{id}', '/users/{id}/credential/pin', '/users/{id}/credential/pin/reset']);
    expect(Object.keys(paths['/users/{id}/credential/pin'] ?? {})).toEqual(expect.arrayContaining(['get', 'put']));
    const schemas = (answer.body.components as { schemas: Record<string, { properties?: Record<string, unknown> }> }).schemas;
    expect(Object.keys(schemas.NewRule?.properties ?? {})).toEqual(expect.arrayContaining(['name', 'minLength', 'lockoutMinutes', 'trivialCheck']));
  });
});

describe('guessing tokens', () => {
  it('when one address keeps sending bad tokens, then after 30 it gets 429 with the error shape, and no more are audited', async () => {
    const send = () =>
      fetch(`${web.baseUrl}/api/users`, { headers: { authorization: 'Bearer pinline_guess', 'x-forwarded-for': '203.0.113.77' } });
    const before = (await auditRows(`event = 'api.auth_failed' AND details->>'ip' = '203.0.113.77'`)).length;
    for (let i = 0; i < 30; i++) expect((await send()).status).toBe(401);
    const limited = await send();
    expect(limited.status).toBe(429);
    expect(await limited.json()).toEqual({ error: { code: 'too_many_requests', message: expect.any(String) } });
    expect((await auditRows(`event = 'api.auth_failed' AND details->>'ip' = '203.0.113.77'`)).length - before).toBe(30);
  });
});

describe('users', () => {
  it('when a user is created, read, changed, listed and deleted, then each answer is right and each change is audited as the token', async () => {
    const created = await api('POST', '/users', { extension: '5201', firstName: 'Grace', lastName: 'Hopper', pin: '604817', enroll: false });
    expect(created.status).toBe(201);
    const user = created.body.user as { id: number; extension: string; rule: string };
    expect(user).toMatchObject({ extension: '5201', firstName: 'Grace', lastName: 'Hopper', rule: 'default', phone: null, locale: 'en-US' });
    expect(created.body.generatedPin).toBeUndefined();
    expect(created.headers.get('location')).toBe(`/api/users/${user.id}`);

    expect((await api('GET', `/users/${user.id}`)).body).toMatchObject({ id: user.id, extension: '5201' });
    const changed = await api('PATCH', `/users/${user.id}`, { lastName: 'Murray Hopper', phone: '+15552010001' });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ lastName: 'Murray Hopper', phone: '+15552010001', responseWait: 5 });
    expect((await api('PATCH', `/users/${user.id}`, { responseWait: 15 })).body).toMatchObject({ responseWait: 15 });
    expect(await api('PATCH', `/users/${user.id}`, { responseWait: 31 })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request', field: 'responseWait', message: expect.stringContaining('<=30') } },
    });

    const search = await api('GET', '/users?q=murray');
    expect(search.body).toMatchObject({ total: 1, users: [{ id: user.id }] });
    const byExtension = await api('GET', '/users?q=5201&limit=5');
    expect(byExtension.body).toMatchObject({ total: 1, limit: 5, offset: 0 });

    expect((await api('DELETE', `/users/${user.id}`)).status).toBe(204);
    expect((await api('GET', `/users/${user.id}`)).status).toBe(404);
    expect((await auditRows(`extension = '5201'`)).map((r) => [r.event, r.channel, r.actor])).toEqual([
      ['user.created', 'api', 'api:api tests'],
      ['pin.set', 'api', 'api:api tests'],
      ['user.updated', 'api', 'api:api tests'],
      ['user.updated', 'api', 'api:api tests'],
      ['user.deleted', 'api', 'api:api tests'],
    ]);
  });

  it('when no PIN is given, then a valid one is generated and returned in that one answer only', async () => {
    const created = await api('POST', '/users', { extension: '5202', firstName: 'Alan', lastName: 'Turing' });
    expect(created.status).toBe(201);
    const pin = created.body.generatedPin as string;
    expect(pin).toMatch(/^[0-9]{6,}$/);
    const id = (created.body.user as { id: number }).id;
    expect(JSON.stringify((await api('GET', `/users/${id}`)).body)).not.toContain(pin);
  });

  it.each([
    ['a missing field', { firstName: 'No', lastName: 'Extension' }, 400, 'invalid_request', /extension/, 'extension'],
    ['a wrong type', { extension: 5203, firstName: 'A', lastName: 'B' }, 400, 'invalid_request', /extension/, 'extension'],
    ['an unknown field', { extension: '5203', firstName: 'A', lastName: 'B', admin: true }, 400, 'invalid_request', /admin: unknown field/, 'admin'],
    ['a malformed extension', { extension: '12a', firstName: 'A', lastName: 'B' }, 400, 'invalid_request', /2 to 15 digits/, 'extension'],
    ['an unknown rule', { extension: '5203', firstName: 'A', lastName: 'B', rule: 'nope' }, 422, 'unknown_rule', /nope/, 'rule'],
    ['a trivial initial PIN', { extension: '5203', firstName: 'A', lastName: 'B', pin: '123456' }, 422, 'pin_trivial', /trivial PIN/, undefined],
  ])('when the new user has %s, then the answer is a 4xx with the error shape', async (_what, body, status, code, message, field) => {
    const answer = await api('POST', '/users', body);
    expect(answer.status).toBe(status);
    expect(answer.body).toEqual({ error: { code, message: expect.stringMatching(message), ...(field !== undefined ? { field } : {}) } });
    expect(JSON.stringify(answer.body)).not.toContain('123456');
  });

  it('when the body is not JSON or not sent as JSON, then the answer is 400 or 415 with the error shape', async () => {
    expect(await api('POST', '/users', '{"extension":')).toMatchObject({ status: 400, body: { error: { code: 'invalid_json' } } });
    const form = await fetch(`${web.baseUrl}/api/users`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'extension=5204',
    });
    expect(form.status).toBe(415);
    expect(await form.json()).toMatchObject({ error: { code: 'unsupported_media_type' } });
  });

  it('when the extension is taken or the user does not exist, then the answer is 409 or 404', async () => {
    const existing = await createUser(web.services);
    expect(await api('POST', '/users', { extension: existing.extension, firstName: 'A', lastName: 'B' })).toMatchObject({
      status: 409,
      body: { error: { code: 'extension_taken' } },
    });
    expect(await api('PATCH', '/users/999999', { firstName: 'X' })).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
    expect(await api('GET', '/users/abc')).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', field: 'id' } } });
    expect(await api('GET', '/nothing')).toMatchObject({ status: 404, body: { error: { code: 'not_found' } } });
  });
});

describe('the PIN credential', () => {
  it('when it is read, then flags and status come back and never a hash', async () => {
    const user = await createUser(web.services);
    const answer = await api('GET', `/users/${user.userId}/credential/pin`);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({
      userId: user.userId,
      extension: user.extension,
      rule: 'default',
      flags: { mustChange: false, enrollmentPending: false, doesNotExpire: false, lockedByAdmin: false, cannotChange: false },
      status: { failedCount: 0, lastFailedAt: null, lockedAt: null, lockout: null, expired: false },
    });
    const text = JSON.stringify(answer.body);
    expect(text).not.toMatch(/argon2|hash/i);
  });

  it('when a PIN is put with must-change, then it is saved through the one change path and audited as the token', async () => {
    const user = await createUser(web.services);
    const answer = await api('PUT', `/users/${user.userId}/credential/pin`, { pin: '604817', flags: { mustChange: true } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ flags: { mustChange: true } });
    expect(JSON.stringify(answer.body)).not.toContain('604817');
    const signin = await web.services.pins.verifySignin({ extension: user.extension, pin: '604817', actor: { channel: 'cli', name: 'test' } });
    expect(signin.outcome).toBe('ok');
    expect(await auditRows(`event = 'pin.changed' AND user_id = $1`, [user.userId])).toEqual([
      { event: 'pin.changed', channel: 'api', actor: 'api:api tests' },
    ]);
  });

  it.each([
    ['trivial', '258012', 'pin_trivial', "rule 'trivial PIN'"],
    ['too short', '12', 'pin_too_short', "rule 'minimum length'"],
    ['the current PIN', '860472', 'pin_reused', "rule 'PIN history'"],
  ])('when the PIN put is %s, then the answer is 422 naming the rule, without the PIN', async (_what, pin, code, rule) => {
    const user = await createUser(web.services);
    const answer = await api('PUT', `/users/${user.userId}/credential/pin`, { pin });
    expect(answer.status).toBe(422);
    expect(answer.body).toEqual({ error: { code, message: expect.stringContaining(rule) } });
    expect(JSON.stringify(answer.body)).not.toContain(pin);
  });

  it('when a refused PIN comes with flags and unlock, then nothing of the request is applied', async () => {
    const user = await createUser(web.services, { flags: { lockedByAdmin: true } });
    const answer = await api('PUT', `/users/${user.userId}/credential/pin`, { pin: '258012', unlock: true, flags: { doesNotExpire: true } });
    expect(answer.status).toBe(422);
    const account = await web.services.accounts.getAccount({ userId: user.userId });
    expect(account.pin).toMatchObject({ lockedByAdmin: true, doesNotExpire: false });
  });

  it('when a PIN comes with flags and unlock, then all of it is applied together', async () => {
    const user = await createUser(web.services, { flags: { lockedByAdmin: true } });
    const answer = await api('PUT', `/users/${user.userId}/credential/pin`, { pin: '604817', unlock: true, flags: { doesNotExpire: true, mustChange: true } });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ flags: { lockedByAdmin: false, doesNotExpire: true, mustChange: true } });
  });

  it('when flags are put, or unlock, then they are applied and audited', async () => {
    const user = await createUser(web.services);
    for (let i = 0; i < 3; i++) {
      await web.services.pins.verifySignin({ extension: user.extension, pin: '000000', actor: { channel: 'phone', name: 'caller:test' } });
    }
    expect((await api('GET', `/users/${user.userId}/credential/pin`)).body).toMatchObject({ status: { lockout: 'intruder', failedCount: 3 } });
    const unlocked = await api('PUT', `/users/${user.userId}/credential/pin`, { unlock: true, flags: { doesNotExpire: true, cannotChange: true } });
    expect(unlocked.status).toBe(200);
    expect(unlocked.body).toMatchObject({
      flags: { doesNotExpire: true, cannotChange: true },
      status: { lockout: null, failedCount: 0, lockedAt: null, expiresAt: null },
    });
    const locked = await api('PUT', `/users/${user.userId}/credential/pin`, { flags: { lockedByAdmin: true } });
    expect(locked.body).toMatchObject({ flags: { lockedByAdmin: true }, status: { lockout: 'admin' } });
    expect((await auditRows(`user_id = $1 AND channel = 'api'`, [user.userId])).map((r) => r.event)).toEqual([
      'pin.unlocked',
      'pin.flags_changed',
      'pin.locked',
    ]);
  });

  it('when the body is empty or contradicts itself, then the answer is 400', async () => {
    const user = await createUser(web.services);
    expect(await api('PUT', `/users/${user.userId}/credential/pin`, {})).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(await api('PUT', `/users/${user.userId}/credential/pin`, { unlock: true, flags: { lockedByAdmin: true } })).toMatchObject({
      status: 400,
    });
    expect(await api('PUT', `/users/${user.userId}/credential/pin`, { pin: 604817 })).toMatchObject({ status: 400 });
  });
});

describe('authentication rules', () => {
  it('when a rule is created, read, changed, listed and deleted, then each answer is right and each change is audited', async () => {
    const created = await api('POST', '/rules', { name: 'kiosk', minLength: 8, lockoutMinutes: null });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'kiosk', minLength: 8, maxLength: 20, lockoutMinutes: null, historyCount: 5, trivialCheck: true });
    expect((await api('GET', '/rules/kiosk')).body).toMatchObject({ name: 'kiosk', minLength: 8 });
    expect((await api('PATCH', '/rules/kiosk', { trivialCheck: false, maxDays: 0 })).body).toMatchObject({ trivialCheck: false, maxDays: 0 });
    const list = (await api('GET', '/rules')).body.rules as Array<{ name: string }>;
    expect(list.map((r) => r.name)).toEqual(expect.arrayContaining(['default', 'kiosk']));
    expect((await api('DELETE', '/rules/kiosk')).status).toBe(204);
    expect((await api('GET', '/rules/kiosk')).status).toBe(404);
    expect((await auditRows(`event LIKE 'rule.%' AND details->>'rule' = 'kiosk'`)).map((r) => [r.event, r.actor])).toEqual([
      ['rule.created', 'api:api tests'],
      ['rule.updated', 'api:api tests'],
      ['rule.deleted', 'api:api tests'],
    ]);
  });

  it('when rule input is invalid, then the answer is a 4xx with the error shape', async () => {
    expect(await api('POST', '/rules', { name: 'bad', historyCount: 51 })).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request', message: expect.stringContaining('historyCount') } },
    });
    expect(await api('POST', '/rules', { name: 'crossed', minLength: 10, maxLength: 8 })).toMatchObject({
      status: 422,
      body: { error: { code: 'invalid_rule', message: 'rule "crossed": the minimum PIN length (10) must not be greater than the maximum PIN length (8)' } },
    });
    expect(await api('POST', '/rules', { name: 'default' })).toMatchObject({ status: 409, body: { error: { code: 'rule_exists' } } });
    expect(await api('DELETE', '/rules/default')).toMatchObject({ status: 409, body: { error: { code: 'rule_protected' } } });
    await api('POST', '/rules', { name: 'in-use' });
    await createUser(web.services, { ruleName: 'in-use' });
    expect(await api('DELETE', '/rules/in-use')).toMatchObject({ status: 409, body: { error: { code: 'rule_in_use' } } });
    expect(await api('PATCH', '/rules/nope', { minLength: 7 })).toMatchObject({ status: 404 });
  });
});

// Issue 18: what an OpenAPI fuzzer found, each as it was reported.

describe('control characters (issue 18, item 1)', () => {
  it('when a query or path parameter holds a NUL, then the answer is 400 naming it, not 500', async () => {
    expect(await api('GET', '/users?q=%00')).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request', field: 'q', message: expect.stringContaining('control character (U+0000)') } },
    });
    expect(await api('GET', '/rules/a%00b')).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', field: 'name' } } });
  });

  it.each(['\u0000', '\u0001', '\t', '\n', '\r', '\u001b', '\u001f', '\u007f'])(
    'when a name or an e-mail address holds U+%s, then creating or changing the user is 400 naming the field, and nothing is stored',
    async (char) => {
      const code = `U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
      const base = { extension: '5301', firstName: 'Ada', lastName: 'Byron' };
      for (const [field, body] of [
        ['firstName', { ...base, firstName: `A${char}` }],
        ['lastName', { ...base, lastName: `${char}Byron` }],
        ['email', { ...base, email: `a${char}@example.com` }],
      ] as const) {
        const answer = await api('POST', '/users', body);
        expect(answer, field).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', field, message: expect.stringContaining(code) } } });
      }
      expect(await web.services.accounts.findAccount({ extension: '5301' })).toBeNull();
      const user = await createUser(web.services);
      expect(await api('PATCH', `/users/${user.userId}`, { firstName: `Ada${char}` })).toMatchObject({ status: 400, body: { error: { field: 'firstName' } } });
      expect(await api('POST', '/rules', { name: `r${char}` })).toMatchObject({ status: 400, body: { error: { field: 'name' } } });
    },
  );

  it('when the domain is handed a control character by any channel, then it refuses it before the database with the field named', async () => {
    await expect(
      web.services.accounts.createUser({ extension: '5302', firstName: 'A\u0000', lastName: 'B' }, { channel: 'cli', name: 'test' }),
    ).rejects.toMatchObject({ code: 'control_character', message: 'first name contains a control character (U+0000); remove it' });
    await expect(web.services.accounts.getRule('a\u0000b')).rejects.toMatchObject({ code: 'control_character', status: 400 });
  });
});

describe('rules that no PIN can meet (issue 18, item 2)', () => {
  it('when a rule is created whose minimum length no PIN can pass the trivial-PIN check at, then it is 422 naming the fields and not stored', async () => {
    const answer = await api('POST', '/rules', { name: 'tiny', minLength: 1, maxLength: 2 });
    expect(answer).toMatchObject({
      status: 422,
      body: {
        error: {
          code: 'rule_unmeetable',
          field: 'minLength',
          message:
            'rule "tiny": no PIN of 1 digit passes the trivial-PIN check, so no PIN could be chosen or generated; ' +
            'raise the minimum PIN length to 3 or more (and the maximum with it), or turn the trivial-PIN check off',
        },
      },
    });
    expect((await api('GET', '/rules/tiny')).status).toBe(404);
    expect((await api('POST', '/rules', { name: 'tiny-unchecked', minLength: 1, maxLength: 2, trivialCheck: false })).status).toBe(201);
  });

  it('when the default rule is changed to min = max = 1, then it is 422 and the rule is as it was', async () => {
    const before = (await api('GET', '/rules/default')).body;
    expect(await api('PATCH', '/rules/default', { minLength: 1, maxLength: 1 })).toMatchObject({ status: 422, body: { error: { code: 'rule_unmeetable' } } });
    expect(await api('PATCH', '/rules/default', { maxLength: 2, minLength: 2 })).toMatchObject({ status: 422 });
    expect((await api('GET', '/rules/default')).body).toEqual(before);
  });

  it('when a rule with 3-digit PINs is made, then it is accepted and a user under it gets a generated 3-digit PIN', async () => {
    expect((await api('POST', '/rules', { name: 'three', minLength: 3, maxLength: 3 })).status).toBe(201);
    const created = await api('POST', '/users', { extension: '5311', firstName: 'Tri', lastName: 'Digit', rule: 'three' });
    expect(created.status).toBe(201);
    expect(created.body.generatedPin).toMatch(/^[0-9]{3}$/);
  });

  it('when an impossible rule was stored before, then creating or resetting a user under it is 422 (not 500), and it is reported, unchanged', async () => {
    expect((await api('POST', '/rules', { name: 'legacy-tiny', trivialCheck: false, minLength: 1, maxLength: 2 })).status).toBe(201);
    const user = await createUser(web.services, { ruleName: 'legacy-tiny', pin: '58' });
    // As a rule made before the check would be: trivial PINs checked, and no PIN of 1 or 2 digits passes.
    await web.services.pool.query(`UPDATE auth_rules SET trivial_check = true WHERE name = 'legacy-tiny'`);
    expect(await api('POST', '/users', { extension: '5321', firstName: 'Under', lastName: 'Legacy', rule: 'legacy-tiny' })).toMatchObject({
      status: 422,
      body: { error: { code: 'rule_unmeetable' } },
    });
    expect(await api('POST', `/users/${user.userId}/credential/pin/reset`, { show: true })).toMatchObject({
      status: 422,
      body: { error: { code: 'rule_unmeetable' } },
    });
    expect(await web.services.accounts.unmeetableRules()).toEqual([
      { rule: 'legacy-tiny', problem: expect.stringContaining('no PIN of 1 digit passes the trivial-PIN check') },
    ]);
    expect((await api('GET', '/rules/legacy-tiny')).body).toMatchObject({ minLength: 1, maxLength: 2, trivialCheck: true });
  });
});

describe('the shapes the document promises (issue 18, items 3, 4 and 7)', () => {
  it.each([
    ['PATCH', 'an empty extension', { extension: '' }, 'extension'],
    ['PATCH', 'a blank first name', { firstName: '   ' }, 'firstName'],
    ['PATCH', 'a response wait of 0', { responseWait: 0 }, 'responseWait'],
    ['PATCH', 'an unknown locale', { locale: 'xx-XX' }, 'locale'],
    ['PATCH', 'a phone number with spaces', { phone: '+1 555 123 0001' }, 'phone'],
    ['PATCH', 'a rule name with a slash', { rule: 'a/b' }, 'rule'],
    ['PATCH', 'no field at all', {}, undefined],
  ])('when a user is changed (%s) with %s, then the answer is 400 naming the field', async (method, _what, body, field) => {
    const user = await createUser(web.services);
    const answer = await api(method, `/users/${user.userId}`, body);
    expect(answer.status).toBe(400);
    expect(answer.body).toEqual({ error: { code: 'invalid_request', message: expect.any(String), ...(field !== undefined ? { field } : {}) } });
  });

  it('when a user, a rule or a PIN body breaks the document, then each is 400 naming the field', async () => {
    const user = await createUser(web.services);
    expect(await api('POST', '/rules', { name: '' })).toMatchObject({ status: 400, body: { error: { field: 'name' } } });
    expect(await api('POST', '/users', { extension: '5331', firstName: '', lastName: '' })).toMatchObject({ status: 400, body: { error: { field: 'firstName' } } });
    expect(await api('PUT', `/users/${user.userId}/credential/pin`, {})).toMatchObject({ status: 400, body: { error: { code: 'invalid_request' } } });
    expect(await api('PUT', `/users/${user.userId}/credential/pin`, { pin: '60481a' })).toMatchObject({ status: 400, body: { error: { field: 'pin' } } });
    expect(await api('PUT', `/users/${user.userId}/credential/pin`, { unlock: false })).toMatchObject({ status: 400, body: { error: { field: 'unlock' } } });
    expect(await api('PATCH', '/rules/default', {})).toMatchObject({ status: 400 });
    expect(await api('PUT', `/users/${user.userId}/credential/pin`)).toMatchObject({ status: 400, body: { error: { message: 'a JSON body is required' } } });
  });

  it('when offset or limit is null, a fraction or out of range, then the answer is 400 naming it; a whole number is accepted', async () => {
    for (const query of ['offset=null', 'offset=1.5', 'offset=-1', 'offset=', 'limit=0', 'limit=501', 'limit=1e2', 'limit=5&limit=6']) {
      const field = query.split('=')[0];
      expect(await api('GET', `/users?${query}`), query).toMatchObject({ status: 400, body: { error: { code: 'invalid_request', field } } });
    }
    expect(await api('GET', '/users?offset=0&limit=500')).toMatchObject({ status: 200, body: { offset: 0, limit: 500 } });
  });

  it('when a query parameter is unknown, then it is refused with 400 naming it, as an unknown body field is', async () => {
    expect(await api('GET', '/users?q=a&sort=name')).toMatchObject({
      status: 400,
      body: { error: { code: 'invalid_request', field: 'sort', message: expect.stringContaining('unknown query parameter') } },
    });
    expect(await api('GET', '/rules?verbose=1')).toMatchObject({ status: 400, body: { error: { field: 'verbose' } } });
    expect(await api('POST', '/rules?dryRun=true', { name: 'never-made' })).toMatchObject({ status: 400, body: { error: { field: 'dryRun' } } });
    expect((await api('GET', '/rules/never-made')).status).toBe(404);
    expect(await api('POST', '/rules', { name: 'x', colour: 'red' })).toMatchObject({ status: 400, body: { error: { field: 'colour' } } });
  });
});

describe('methods a path lacks (issue 18, item 5)', () => {
  it('when a method a path does not have is sent with a token, then the answer is 405 with Allow, whatever the body', async () => {
    for (const [method, path, body, allow] of [
      ['PUT', '/rules/default', undefined, 'GET, PATCH, DELETE, HEAD'],
      ['PUT', '/rules/default', { minLength: 6 }, 'GET, PATCH, DELETE, HEAD'],
      ['TRACE', '/rules', undefined, 'GET, POST, HEAD'],
      ['DELETE', '/users', undefined, 'GET, POST, HEAD'],
      ['POST', '/users/1', { firstName: 'A' }, 'GET, PATCH, DELETE, HEAD'],
      ['GET', '/users/1/credential/pin/reset', undefined, 'POST'],
      ['PATCH', '/users/abc/credential/pin', {}, 'GET, PUT, HEAD'],
      ['POST', '/openapi.json', undefined, 'GET, HEAD'],
    ] as const) {
      const answer = await api(method, path, body);
      expect(answer.status, `${method} ${path}`).toBe(405);
      expect(answer.headers.get('allow'), `${method} ${path}`).toBe(allow);
      expect(answer.body).toEqual({ error: { code: 'method_not_allowed', message: expect.stringContaining(allow) } });
    }
  });

  it('when the method is wrong and there is no token, then authentication answers first (401)', async () => {
    expect((await api('PUT', '/rules/default', undefined, null)).status).toBe(401);
    expect((await api('TRACE', '/rules', undefined, null)).status).toBe(401);
  });
});

describe('bad tokens and good ones (issue 18, item 6)', () => {
  it('when one address has sent 30 bad tokens, then a valid token from that address is still served, and bad ones still get 429', async () => {
    const from = { 'x-forwarded-for': '203.0.113.88' };
    const send = (authorization: string | null) =>
      fetch(`${web.baseUrl}/api/rules`, { headers: { ...from, ...(authorization !== null ? { authorization } : {}) } });
    for (let i = 0; i < 30; i++) expect((await send(i % 2 === 0 ? null : 'Bearer pinline_guess')).status).toBe(401);
    expect((await send('Bearer pinline_guess')).status).toBe(429);
    const good = await send(`Bearer ${token}`);
    expect(good.status).toBe(200);
    expect(good.headers.get('retry-after')).toBeNull();
    expect((await send(null)).status).toBe(429);
  });
});
