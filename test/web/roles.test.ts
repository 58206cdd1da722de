import type { Router } from 'express';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/accounts/roles.js';
import type { AdminGuard } from '../../src/web/admin/context.js';
import { adminRouter } from '../../src/web/admin/index.js';
import { IMPORT_UPLOAD_PATHS } from '../../src/web/admin/users/import-routes.js';
import { apiOperations } from '../../src/web/api/operations.js';
import { apiSchemas } from '../../src/web/api/schemas.js';
import { DEFAULT_SIGNIN_LIMIT } from '../../src/web/rate-limit.js';
import { browserSecurity } from '../../src/web/session.js';
import { createAdmin, useWebServer } from '../support/browser.js';
import { createUser } from '../support/factories.js';
import { textOf, WebClient, type WebResponse } from '../support/web-client.js';

// DESIGN §11: who may do what, as a table of (role, action, channel) → allowed or 403, over every
// admin route (read off the router, so a new route without a row fails here) and every API
// operation (read off the operations table). The expectations are written out by hand, from the
// contract's table, not computed from src/accounts/roles.ts.

const web = useWebServer();
const ROLE_LIST: readonly Role[] = ['system', 'helpdesk', 'auditor'];
const ALL: readonly Role[] = ROLE_LIST;
const SYSTEM: readonly Role[] = ['system'];
const HELPDESK: readonly Role[] = ['system', 'helpdesk'];
const EXPORT: readonly Role[] = ['system', 'auditor'];

let sequence = 0;
const next = () => (sequence += 1);

async function lastAudit(event: string): Promise<{ actor: string; channel: string; details: Record<string, unknown> } | undefined> {
  const { rows } = await web.services.pool.query('SELECT actor, channel, details FROM audit_events WHERE event = $1 ORDER BY id DESC LIMIT 1', [event]);
  return rows[0];
}

async function countAudit(event: string): Promise<number> {
  const { rows } = await web.services.pool.query('SELECT count(*)::int AS n FROM audit_events WHERE event = $1', [event]);
  return rows[0].n as number;
}

// ---- the admin web ----

/** What a row's request works on: a fresh user, a fresh rule, a fresh token. */
interface Target {
  userId: number;
  extension: string;
  rule: string;
  tokenId: number;
}

interface WebRow {
  /** The route as the router names it. */
  route: `${'GET' | 'POST'} ${string}`;
  /** What the row asks, when a route has more than one row. */
  variant?: string;
  allowed: readonly Role[];
  send(client: WebClient, t: Target): Promise<WebResponse>;
  /** What the target needs before the row's request (a user deactivated by the directory). */
  prepare?: (t: Target) => Promise<void>;
  /** A page the control lives on, and what of it is shown only to the roles allowed. */
  control?: (t: Target) => { page: string; marker: string };
}

const csv = (extension: string) => `extension,first,last\n${extension},Imp,Orted\n`;

/** Loads a page first, so a post carries that page's CSRF token as a browser's would. */
async function postFrom(client: WebClient, path: string, fields: Record<string, string>): Promise<WebResponse> {
  await client.load('/admin/users');
  return client.post(path, fields);
}

const WEB_ROWS: readonly WebRow[] = [
  { route: 'GET /', allowed: ALL, send: (c) => c.get('/admin/') },
  { route: 'GET /users', allowed: ALL, send: (c) => c.get('/admin/users') },
  { route: 'GET /users/new', allowed: SYSTEM, send: (c) => c.get('/admin/users/new'), control: () => ({ page: '/admin/users', marker: 'href="/admin/users/new"' }) },
  {
    route: 'POST /users',
    allowed: SYSTEM,
    send: (c) => postFrom(c, '/admin/users', { extension: String(61000 + next()), firstName: 'New', lastName: 'Person', locale: 'en-US', rule: 'default', pin: '860472', pinConfirm: '860472' }),
  },
  {
    route: 'GET /users/export.csv',
    allowed: EXPORT,
    send: (c) => c.get('/admin/users/export.csv'),
    control: () => ({ page: '/admin/users', marker: 'href="/admin/users/export.csv"' }),
  },
  { route: 'GET /users/:id', allowed: ALL, send: (c, t) => c.get(`/admin/users/${t.userId}`) },
  { route: 'GET /users/:id/edit', allowed: ALL, send: (c, t) => c.get(`/admin/users/${t.userId}/edit`) },
  {
    route: 'POST /users/:id/edit',
    variant: 'e-mail, phone and language',
    allowed: HELPDESK,
    send: (c, t) => postFrom(c, `/admin/users/${t.userId}/edit`, { email: `u${t.extension}@example.com`, phone: '', locale: 'es-US' }),
    control: (t) => ({ page: `/admin/users/${t.userId}/edit`, marker: 'name="email"' }),
  },
  {
    route: 'POST /users/:id/edit',
    variant: 'names and extension',
    allowed: SYSTEM,
    send: (c, t) => postFrom(c, `/admin/users/${t.userId}/edit`, { extension: t.extension, firstName: 'Renamed', lastName: 'Person', email: '', phone: '', locale: 'en-US' }),
    control: (t) => ({ page: `/admin/users/${t.userId}/edit`, marker: 'name="firstName"' }),
  },
  { route: 'GET /users/:id/password-settings', allowed: ALL, send: (c, t) => c.get(`/admin/users/${t.userId}/password-settings`) },
  {
    route: 'POST /users/:id/password-settings',
    allowed: HELPDESK,
    send: (c, t) => postFrom(c, `/admin/users/${t.userId}/password-settings`, { lockedByAdmin: 'on', mustChange: 'on', doesNotExpire: 'on', rule: 'default' }),
    control: (t) => ({ page: `/admin/users/${t.userId}/password-settings`, marker: `action="/admin/users/${t.userId}/password-settings"` }),
  },
  {
    route: 'POST /users/:id/unlock',
    allowed: HELPDESK,
    send: (c, t) => postFrom(c, `/admin/users/${t.userId}/unlock`, {}),
    control: (t) => ({ page: `/admin/users/${t.userId}/password-settings`, marker: `action="/admin/users/${t.userId}/unlock"` }),
  },
  {
    route: 'POST /users/:id/reactivate',
    allowed: SYSTEM,
    prepare: (t) => web.services.scim.patch(t.userId, [{ op: 'replace', path: 'active', value: false }], web.baseUrl, { channel: 'scim', name: 'scim:test' }),
    send: (c, t) => postFrom(c, `/admin/users/${t.userId}/reactivate`, {}),
    control: (t) => ({ page: `/admin/users/${t.userId}/password-settings`, marker: `action="/admin/users/${t.userId}/reactivate"` }),
  },
  {
    route: 'GET /users/:id/change-password',
    allowed: HELPDESK,
    send: (c, t) => c.get(`/admin/users/${t.userId}/change-password`),
    control: (t) => ({ page: `/admin/users/${t.userId}/edit`, marker: `href="/admin/users/${t.userId}/change-password"` }),
  },
  {
    route: 'POST /users/:id/change-password',
    variant: 'choose a phone PIN',
    allowed: SYSTEM,
    send: (c, t) => postFrom(c, `/admin/users/${t.userId}/change-password`, { target: 'voicemail', password: '305817', confirm: '305817', mustChange: 'on' }),
    control: (t) => ({ page: `/admin/users/${t.userId}/change-password`, marker: '<option value="voicemail"' }),
  },
  {
    route: 'POST /users/:id/change-password',
    variant: 'reset the web password',
    allowed: HELPDESK,
    send: (c, t) => postFrom(c, `/admin/users/${t.userId}/change-password`, { target: 'web', password: 'a web password 123', confirm: 'a web password 123' }),
    control: (t) => ({ page: `/admin/users/${t.userId}/change-password`, marker: '<option value="web"' }),
  },
  {
    route: 'POST /users/:id/reset-pin',
    allowed: HELPDESK,
    send: (c, t) => postFrom(c, `/admin/users/${t.userId}/reset-pin`, { show: 'on' }),
    control: (t) => ({ page: `/admin/users/${t.userId}/change-password`, marker: `action="/admin/users/${t.userId}/reset-pin"` }),
  },
  {
    route: 'GET /users/:id/delete',
    allowed: SYSTEM,
    send: (c, t) => c.get(`/admin/users/${t.userId}/delete`),
    control: (t) => ({ page: `/admin/users/${t.userId}`, marker: `href="/admin/users/${t.userId}/delete"` }),
  },
  { route: 'POST /users/:id/delete', allowed: SYSTEM, send: (c, t) => postFrom(c, `/admin/users/${t.userId}/delete`, {}) },
  { route: 'GET /users/import', allowed: SYSTEM, send: (c) => c.get('/admin/users/import'), control: () => ({ page: '/admin/users', marker: 'href="/admin/users/import"' }) },
  {
    route: 'POST /users/import',
    allowed: SYSTEM,
    send: async (c) => {
      await c.load('/admin/users');
      return c.postMultipart('/admin/users/import', {}, { field: 'file', name: 'users.csv', content: csv(String(62000 + next())) });
    },
  },
  {
    route: 'POST /users/import/apply',
    allowed: SYSTEM,
    send: async (c) => {
      // Previewed by the system administrator (Apply is bound to the preview's session, which
      // matters only to them: any other role is refused before that is looked at).
      const content = csv(String(62000 + next()));
      const system = clients.system.client;
      await system.load('/admin/users');
      expect((await system.postMultipart('/admin/users/import', {}, { field: 'file', name: 'users.csv', content })).status).toBe(200);
      const mac = system.hiddenField('mac');
      await c.load('/admin/users');
      return c.postMultipart('/admin/users/import/apply', { csv: Buffer.from(content).toString('base64'), name: 'users.csv', mac }, null);
    },
  },
  { route: 'GET /rules', allowed: ALL, send: (c) => c.get('/admin/rules') },
  { route: 'GET /rules/new', allowed: SYSTEM, send: (c) => c.get('/admin/rules/new'), control: () => ({ page: '/admin/rules', marker: 'href="/admin/rules/new"' }) },
  { route: 'POST /rules', allowed: SYSTEM, send: (c) => postFrom(c, '/admin/rules', { name: `made ${next()}` }) },
  { route: 'GET /rules/:name', allowed: ALL, send: (c, t) => c.get(`/admin/rules/${encodeURIComponent(t.rule)}`) },
  {
    route: 'POST /rules/:name',
    allowed: SYSTEM,
    send: (c, t) => postFrom(c, `/admin/rules/${encodeURIComponent(t.rule)}`, { minLength: '7' }),
    control: (t) => ({ page: `/admin/rules/${encodeURIComponent(t.rule)}`, marker: `action="/admin/rules/${encodeURIComponent(t.rule)}"` }),
  },
  {
    route: 'POST /rules/:name/delete',
    allowed: SYSTEM,
    send: (c, t) => postFrom(c, `/admin/rules/${encodeURIComponent(t.rule)}/delete`, {}),
    control: (t) => ({ page: `/admin/rules/${encodeURIComponent(t.rule)}`, marker: `action="/admin/rules/${encodeURIComponent(t.rule)}/delete"` }),
  },
  { route: 'GET /reports', allowed: ALL, send: (c) => c.get('/admin/reports') },
  { route: 'GET /reports/:name', allowed: ALL, send: (c) => c.get('/admin/reports/locked') },
  { route: 'GET /reports/:name.csv', allowed: ALL, send: (c) => c.get('/admin/reports/locked.csv') },
  { route: 'GET /audit', allowed: ALL, send: (c) => c.get('/admin/audit') },
  { route: 'GET /deliveries', allowed: ALL, send: (c) => c.get('/admin/deliveries') },
  { route: 'GET /tokens', allowed: SYSTEM, send: (c) => c.get('/admin/tokens'), control: () => ({ page: '/admin/users', marker: 'href="/admin/tokens"' }) },
  { route: 'POST /tokens', allowed: SYSTEM, send: (c) => postFrom(c, '/admin/tokens', { name: `web token ${next()}`, access: 'auditor' }) },
  { route: 'POST /tokens/:id/revoke', allowed: SYSTEM, send: (c, t) => postFrom(c, `/admin/tokens/${t.tokenId}/revoke`, {}) },
];

/** Routes before the sign-in check, which every visitor may use. */
const OPEN_ROUTES = new Set(['GET /signin', 'POST /signin', 'POST /signout']);

interface RouteLayer {
  route?: { path: string; methods: Record<string, boolean>; stack: Array<{ handle: Partial<AdminGuard> }> };
  handle: { stack?: RouteLayer[] };
}

/** Every route of the admin router, with the need its first handler (the guard) declares, if any. */
function adminRoutes(): Array<{ route: string; guarded: boolean }> {
  const router = adminRouter({ services: web.services, security: browserSecurity(web.services, { uploadPaths: IMPORT_UPLOAD_PATHS }) }, DEFAULT_SIGNIN_LIMIT);
  const found: Array<{ route: string; guarded: boolean }> = [];
  const walk = (layers: RouteLayer[]) => {
    for (const layer of layers) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods)) {
          found.push({ route: `${method.toUpperCase()} ${layer.route.path}`, guarded: layer.route.stack[0]?.handle.need !== undefined });
        }
      } else if (layer.handle.stack) walk(layer.handle.stack);
    }
  };
  walk((router as unknown as { stack: RouteLayer[] }).stack);
  return found;
}

const clients = {} as Record<Role, { client: WebClient; username: string }>;

beforeAll(async () => {
  for (const role of ROLE_LIST) {
    const admin = await createAdmin(web.services, `${role}-admin`, role);
    const client = new WebClient(web.baseUrl);
    expect((await client.signInAsAdmin(admin)).status).toBe(200);
    clients[role] = { client, username: admin.username };
  }
});

async function freshTarget(): Promise<Target> {
  const user = await createUser(web.services);
  const rule = `rule ${next()}`;
  await web.services.accounts.createRule(rule, {}, { channel: 'cli', name: 'test' });
  const token = await web.services.apiTokens.create(`target ${next()}`, { channel: 'cli', name: 'test' });
  return { userId: user.userId, extension: user.extension, rule, tokenId: token.record.id };
}

describe('roles on the admin web (DESIGN §11)', () => {
  it('when the router is read, then every admin route past sign-in names what it needs, and has a row in this table', () => {
    const routes = adminRoutes().filter((r) => !OPEN_ROUTES.has(r.route));
    expect(routes.filter((r) => !r.guarded).map((r) => r.route)).toEqual([]);
    expect(new Set(routes.map((r) => r.route))).toEqual(new Set(WEB_ROWS.map((row) => row.route)));
  });

  for (const row of WEB_ROWS) {
    for (const role of ROLE_LIST) {
      const allowed = row.allowed.includes(role);
      it(`when a ${role} administrator asks ${row.route}${row.variant ? ` (${row.variant})` : ''}, then it is ${allowed ? 'allowed' : '403, audited as access.denied'}`, async () => {
        const { client, username } = clients[role];
        const target = await freshTarget();
        await row.prepare?.(target);
        const denials = await countAudit('access.denied');
        const response = await row.send(client, target);
        if (allowed) {
          expect([200, 303], textOf(response.body).slice(0, 300)).toContain(response.status);
          expect(await countAudit('access.denied')).toBe(denials);
        } else {
          expect(response.status).toBe(403);
          // A page with the navigation, which says why.
          expect(response.body).toContain('<nav aria-label="Main">');
          expect(textOf(response.body)).toContain(`Not Allowed the ${role} role may not do this`);
          expect(await lastAudit('access.denied')).toMatchObject({ channel: 'admin', actor: `admin:${username}`, details: { role } });
          expect(await countAudit('access.denied')).toBe(denials + 1);
        }
      });
    }
  }

  for (const row of WEB_ROWS.filter((r) => r.control)) {
    it(`when each role opens the page of ${row.route}${row.variant ? ` (${row.variant})` : ''}, then only the roles allowed see its control`, async () => {
      const target = await freshTarget();
      await row.prepare?.(target);
      for (const role of ROLE_LIST) {
        const { page, marker } = row.control?.(target) ?? { page: '', marker: '' };
        const shown = await clients[role].client.get(page);
        // A page the role may not open at all shows it nothing.
        expect([200, 403], `${role} ${page}`).toContain(shown.status);
        expect(shown.status === 200 && shown.body.includes(marker), `${role} sees ${marker} on ${page}`).toBe(row.allowed.includes(role));
      }
    });
  }

  it('when an auditor exports users, then the CSV is the one `pinline user export` gives, with every user', async () => {
    const target = await freshTarget();
    const response = await clients.auditor.client.get('/admin/users/export.csv');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/csv/);
    const [header, ...rows] = response.body.trimEnd().split('\r\n');
    expect(header?.startsWith('extension,first,last,')).toBe(true);
    expect(rows.some((row) => row.startsWith(`${target.extension},Test,Person,`))).toBe(true);
  });

  it('when a forbidden action is audited, then the details name the action and the role', async () => {
    const target = await freshTarget();
    await clients.auditor.client.get(`/admin/users/${target.userId}/delete`);
    expect(await lastAudit('access.denied')).toMatchObject({ details: { action: 'user.delete', role: 'auditor', where: `GET /admin/users/${target.userId}/delete` } });
  });

  it('when a helpdesk administrator posts names with the contact fields, then nothing is saved', async () => {
    const target = await freshTarget();
    const response = await postFrom(clients.helpdesk.client, `/admin/users/${target.userId}/edit`, { firstName: 'Sneaky', email: 'x@example.com' });
    expect(response.status).toBe(403);
    const account = await web.services.accounts.getAccount({ userId: target.userId });
    expect(account.user).toMatchObject({ firstName: 'Test', email: null });
  });

  it('when an administrator is given another role, then it applies from their next page', async () => {
    const admin = await createAdmin(web.services, undefined, 'auditor');
    const client = new WebClient(web.baseUrl);
    await client.signInAsAdmin(admin);
    expect((await client.get('/admin/users/new')).status).toBe(403);
    await web.services.webCredentials.setAdminRole(admin.username, 'system', { channel: 'cli', name: 'test' });
    expect((await client.get('/admin/users/new')).status).toBe(200);
    const page = await client.get('/admin/users');
    expect(textOf(page.body)).toContain(`Signed in as ${admin.username} (system)`);
  });

  it('when a token is made on /admin/tokens, then the role or SCIM access chosen is the one it gets', async () => {
    const { client } = clients.system;
    await client.load('/admin/tokens');
    expect((await client.post('/admin/tokens', { name: 'helpdesk script', access: 'helpdesk' })).status).toBe(200);
    await client.load('/admin/tokens');
    const scim = await client.post('/admin/tokens', { name: 'directory', access: 'scim' });
    expect(textOf(scim.body)).toContain('SCIM provisioning');
    const tokens = await web.services.apiTokens.list();
    expect(tokens.find((t) => t.name === 'helpdesk script')?.access).toEqual({ kind: 'api', role: 'helpdesk' });
    expect(tokens.find((t) => t.name === 'directory')?.access).toEqual({ kind: 'scim' });
  });
});

// ---- the API ----

interface ApiRow {
  operationId: string;
  variant?: string;
  allowed: readonly Role[];
  request(t: Target): { path: string; body?: unknown };
}

const API_ROWS: readonly ApiRow[] = [
  { operationId: 'listUsers', allowed: ALL, request: () => ({ path: '/users' }) },
  { operationId: 'createUser', allowed: SYSTEM, request: () => ({ path: '/users', body: { extension: String(63000 + next()), firstName: 'Api', lastName: 'Made' } }) },
  { operationId: 'getUser', allowed: ALL, request: (t) => ({ path: `/users/${t.userId}` }) },
  { operationId: 'updateUser', variant: 'e-mail', allowed: HELPDESK, request: (t) => ({ path: `/users/${t.userId}`, body: { email: `api${t.extension}@example.com` } }) },
  { operationId: 'updateUser', variant: 'phone and language', allowed: HELPDESK, request: (t) => ({ path: `/users/${t.userId}`, body: { phone: null, locale: 'es-US' } }) },
  { operationId: 'updateUser', variant: 'rule', allowed: HELPDESK, request: (t) => ({ path: `/users/${t.userId}`, body: { rule: t.rule } }) },
  { operationId: 'updateUser', variant: 'first name', allowed: SYSTEM, request: (t) => ({ path: `/users/${t.userId}`, body: { firstName: 'Renamed' } }) },
  { operationId: 'updateUser', variant: 'extension', allowed: SYSTEM, request: (t) => ({ path: `/users/${t.userId}`, body: { extension: String(64000 + next()) } }) },
  { operationId: 'updateUser', variant: 'response wait', allowed: SYSTEM, request: (t) => ({ path: `/users/${t.userId}`, body: { responseWait: 9 } }) },
  { operationId: 'updateUser', variant: 'e-mail and last name', allowed: SYSTEM, request: (t) => ({ path: `/users/${t.userId}`, body: { email: null, lastName: 'Other' } }) },
  { operationId: 'deleteUser', allowed: SYSTEM, request: (t) => ({ path: `/users/${t.userId}` }) },
  { operationId: 'getPinCredential', allowed: ALL, request: (t) => ({ path: `/users/${t.userId}/credential/pin` }) },
  { operationId: 'updatePinCredential', variant: 'a chosen PIN', allowed: SYSTEM, request: (t) => ({ path: `/users/${t.userId}/credential/pin`, body: { pin: '305817' } }) },
  { operationId: 'updatePinCredential', variant: 'must change', allowed: HELPDESK, request: (t) => ({ path: `/users/${t.userId}/credential/pin`, body: { flags: { mustChange: true } } }) },
  { operationId: 'updatePinCredential', variant: 'lock', allowed: HELPDESK, request: (t) => ({ path: `/users/${t.userId}/credential/pin`, body: { flags: { lockedByAdmin: true } } }) },
  {
    operationId: 'updatePinCredential',
    variant: 'cannot change and does not expire',
    allowed: HELPDESK,
    request: (t) => ({ path: `/users/${t.userId}/credential/pin`, body: { flags: { cannotChange: true, doesNotExpire: true } } }),
  },
  { operationId: 'updatePinCredential', variant: 'unlock', allowed: HELPDESK, request: (t) => ({ path: `/users/${t.userId}/credential/pin`, body: { unlock: true } }) },
  { operationId: 'updatePinCredential', variant: 'a PIN and unlock', allowed: SYSTEM, request: (t) => ({ path: `/users/${t.userId}/credential/pin`, body: { pin: '305817', unlock: true } }) },
  { operationId: 'resetPin', allowed: HELPDESK, request: (t) => ({ path: `/users/${t.userId}/credential/pin/reset`, body: { show: true } }) },
  { operationId: 'listRules', allowed: ALL, request: () => ({ path: '/rules' }) },
  { operationId: 'createRule', allowed: SYSTEM, request: () => ({ path: '/rules', body: { name: `api rule ${next()}` } }) },
  { operationId: 'getRule', allowed: ALL, request: (t) => ({ path: `/rules/${encodeURIComponent(t.rule)}` }) },
  { operationId: 'updateRule', allowed: SYSTEM, request: (t) => ({ path: `/rules/${encodeURIComponent(t.rule)}`, body: { minLength: 7 } }) },
  { operationId: 'deleteRule', allowed: SYSTEM, request: (t) => ({ path: `/rules/${encodeURIComponent(t.rule)}` }) },
];

describe('roles on the API (DESIGN §11)', () => {
  const operations = apiOperations(apiSchemas(['en-US', 'es-US']));
  const tokens = {} as Record<Role, { token: string; name: string }>;
  let scimToken = '';

  beforeAll(async () => {
    for (const role of ROLE_LIST) {
      const name = `${role} token`;
      const { token } = await web.services.apiTokens.create(name, { channel: 'cli', name: 'test' }, { kind: 'api', role });
      tokens[role] = { token, name };
    }
    ({ token: scimToken } = await web.services.apiTokens.create('scim token', { channel: 'cli', name: 'test' }, { kind: 'scim' }));
  });

  const send = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${web.baseUrl}/api${path}`, {
      method: method.toUpperCase(),
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });

  it('when the operations table is read, then every operation has a row here', () => {
    expect(new Set(API_ROWS.map((row) => row.operationId))).toEqual(new Set(operations.map((op) => op.operationId)));
  });

  it('when the OpenAPI document is read, then each operation some role may be refused documents 403', async () => {
    const document = (await (await fetch(`${web.baseUrl}/api/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string; responses: Record<string, unknown> }>> };
    const documented = new Map(Object.values(document.paths).flatMap((ops) => Object.values(ops).map((op) => [op.operationId, '403' in op.responses] as const)));
    for (const operationId of new Set(API_ROWS.map((row) => row.operationId))) {
      const refusable = API_ROWS.some((row) => row.operationId === operationId && row.allowed.length < ROLE_LIST.length);
      expect(documented.get(operationId), operationId).toBe(refusable);
    }
  });

  for (const row of API_ROWS) {
    for (const role of ROLE_LIST) {
      const allowed = row.allowed.includes(role);
      it(`when a ${role} token calls ${row.operationId}${row.variant ? ` (${row.variant})` : ''}, then it is ${allowed ? 'allowed' : '403, audited as access.denied'}`, async () => {
        const operation = operations.find((op) => op.operationId === row.operationId);
        if (!operation) throw new Error(`no operation ${row.operationId}`);
        const { path, body } = row.request(await freshTarget());
        const denials = await countAudit('access.denied');
        const response = await send(tokens[role].token, operation.method, path, body);
        const text = await response.text();
        if (allowed) {
          expect(response.status, text).toBeLessThan(300);
          expect(await countAudit('access.denied')).toBe(denials);
        } else {
          expect(response.status, text).toBe(403);
          expect(JSON.parse(text)).toMatchObject({ error: { code: 'forbidden' } });
          expect(await lastAudit('access.denied')).toMatchObject({ channel: 'api', actor: `api:${tokens[role].name}`, details: { role } });
          expect(await countAudit('access.denied')).toBe(denials + 1);
        }
      });
    }
  }

  it('when a helpdesk token is refused a change, then nothing of it is saved', async () => {
    const target = await freshTarget();
    const response = await send(tokens.helpdesk.token, 'patch', `/users/${target.userId}`, { email: 'both@example.com', firstName: 'Both' });
    expect(response.status).toBe(403);
    expect((await web.services.accounts.getAccount({ userId: target.userId })).user).toMatchObject({ email: null, firstName: 'Test' });
    expect(await lastAudit('access.denied')).toMatchObject({ details: { action: 'user.edit', role: 'helpdesk', where: 'PATCH /api/users/{id}' } });
  });

  it('when a SCIM token calls /api, then it is refused like no token', async () => {
    expect((await send(scimToken, 'get', '/users')).status).toBe(401);
  });
});
