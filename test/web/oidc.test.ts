import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SingleSignOn } from '../../src/accounts/single-sign-on.js';
import { listAdmins } from '../../src/db/admins.js';
import { describeFailure, IdentityProviderUnavailableError } from '../../src/errors.js';
import { createAdmin } from '../support/browser.js';
import { cliEnvFor, runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { signingKey, TEST_CLIENT, TestIdentityProvider, type AccountClaims } from '../support/identity-provider.js';
import { startPhoneServer, type PhoneServer } from '../support/phone.js';
import { silentLogger } from '../support/services.js';
import { textOf, WebClient, type WebResponse } from '../support/web-client.js';

// Single sign-on (DESIGN §11) against a real OpenID Connect provider in this process, driven the
// way a browser goes: plain HTTP requests following each redirect, with one cookie jar.

let provider: TestIdentityProvider;
/** A second issuer with the same signing key: its tokens verify, but name another issuer. */
let otherIssuer: TestIdentityProvider;
let pinline: PhoneServer;
let database: TestDatabase;

beforeAll(async () => {
  provider = await TestIdentityProvider.listen();
  otherIssuer = await TestIdentityProvider.listen();
  database = await createTestDatabase();
  pinline = await startPhoneServer(database.url, {
    oidc: { issuer: provider.issuer, clientId: TEST_CLIENT.clientId, clientSecret: TEST_CLIENT.clientSecret, roleClaim: 'pinline_role' },
  });
  const key = signingKey();
  provider.start(`${pinline.baseUrl}/admin/oidc/callback`, key);
  otherIssuer.start(`${pinline.baseUrl}/admin/oidc/callback`, key);
});

afterAll(async () => {
  await pinline?.close();
  await provider?.close();
  await otherIssuer?.close();
  await database?.drop();
});

let accountSequence = 0;

/** A new account at the provider (and the same at the other issuer), with a name, an e-mail and `claims`. */
function account(claims: AccountClaims = {}): { id: string; name: string } {
  accountSequence += 1;
  const id = `subject-${accountSequence}-${Date.now()}`;
  const name = `sso${accountSequence}`;
  const all = { preferred_username: name, email: `${name}@example.com`, ...claims };
  provider.accounts.set(id, all);
  otherIssuer.accounts.set(id, all);
  return { id, name };
}

/**
 * Clicks "Sign in with your organisation" in a fresh browser and follows every redirect: to the
 * provider, its login (as `accountId`), back to pinline's callback, and on. `rewrite` may change
 * each URL before it is followed, as an attacker in the middle would.
 */
async function signInThroughProvider(
  accountId: string,
  rewrite: (url: URL) => void = () => {},
): Promise<{ client: WebClient; page: WebResponse; url: URL }> {
  provider.nextAccount = accountId;
  otherIssuer.nextAccount = accountId;
  const client = new WebClient(pinline.baseUrl);
  const form = await client.get('/admin/signin');
  const link = /<a class="button secondary" href="([^"]+)">Sign in with your organisation<\/a>/.exec(form.body)?.[1];
  expect(link, 'the sign-in form offers single sign-on').toBeDefined();
  let url = new URL(link ?? '', pinline.baseUrl);
  let page = await client.get(url.href);
  for (let hops = 0; page.location && hops < 12; hops++) {
    url = new URL(page.location, url);
    rewrite(url);
    page = await client.get(url.href);
  }
  return { client, page, url };
}

async function adminRow(username: string) {
  const { rows } = await pinline.services.pool.query('SELECT id, role, source, oidc_issuer, oidc_subject, password_hash FROM admins WHERE username = $1', [username]);
  return rows[0] as { id: number; role: string; source: string; oidc_issuer: string; oidc_subject: string; password_hash: string | null } | undefined;
}

async function lastAudit(event: string) {
  const { rows } = await pinline.services.pool.query(
    'SELECT event, channel, actor, details FROM audit_events WHERE event = $1 ORDER BY id DESC LIMIT 1',
    [event],
  );
  return rows[0] as { event: string; channel: string; actor: string; details: Record<string, unknown> } | undefined;
}

describe('single sign-on with OpenID Connect', () => {
  // Every request here comes from 127.0.0.1: each test starts with no refusals counted against it.
  beforeEach(async () => {
    await pinline.services.pool.query('DELETE FROM rate_limit_counters');
  });

  it.each(['system', 'helpdesk', 'auditor'])(
    'when the provider gives the role %s as a string, then the administrator is signed in with it, made with source oidc, and audited',
    async (role) => {
      const { id, name } = account({ pinline_role: role });
      const { client, page, url } = await signInThroughProvider(id);
      expect(url.pathname).toBe('/admin/users');
      expect(page.status).toBe(200);
      expect(textOf(page.body)).toContain(`Signed in as ${name}`);
      expect(await adminRow(name)).toMatchObject({ role, source: 'oidc', oidc_issuer: provider.issuer, oidc_subject: id, password_hash: null });
      expect(await lastAudit('admin.signin_succeeded')).toMatchObject({
        channel: 'admin',
        actor: `admin:${name}`,
        details: { method: 'oidc', role },
      });
      expect((await client.get('/admin/audit')).status).toBe(200);
    },
  );

  it('when the role claim is an array, then the most privileged known role in it wins and unknown values are ignored', async () => {
    const { id, name } = account({ pinline_role: ['viewer', 'auditor', 'helpdesk'] });
    const { url } = await signInThroughProvider(id);
    expect(url.pathname).toBe('/admin/users');
    expect(await adminRow(name)).toMatchObject({ role: 'helpdesk' });
  });

  it('when the provider changes the role, then the next sign-in updates it and the audit says what it was', async () => {
    const { id, name } = account({ pinline_role: 'system' });
    await signInThroughProvider(id);
    provider.accounts.set(id, { preferred_username: name, pinline_role: 'auditor' });
    const { url } = await signInThroughProvider(id);
    expect(url.pathname).toBe('/admin/users');
    expect(await adminRow(name)).toMatchObject({ role: 'auditor' });
    expect(await lastAudit('admin.signin_succeeded')).toMatchObject({ details: { role: 'auditor', previousRole: 'system' } });
    const { rows } = await pinline.services.pool.query(`SELECT count(*)::int AS n FROM admins WHERE oidc_subject = $1`, [id]);
    expect(rows[0].n).toBe(1);
    const created = await pinline.services.pool.query(`SELECT actor, details FROM audit_events WHERE event = 'admin.created' AND actor = $1`, [`admin:${name}`]);
    expect(created.rows).toEqual([{ actor: `admin:${name}`, details: { username: name, source: 'oidc', role: 'system' } }]);
  });

  it.each([
    ['missing', {}],
    ['unknown', { pinline_role: 'superuser' }],
    ['an array of unknown roles', { pinline_role: ['guest', 'Viewer'] }],
  ])('when the role claim is %s, then the sign-in is refused with a 403 page that says so and links back, and audited', async (_case, claims) => {
    const { id, name } = account(claims);
    const { client, page, url } = await signInThroughProvider(id);
    expect(url.pathname).toBe('/admin/oidc/callback');
    expect(page.status).toBe(403);
    expect(textOf(page.body)).toContain('gave you no pinline role');
    expect(page.body).toContain('<a href="/admin/signin">Back to sign-in</a>');
    expect(await adminRow(name)).toBeUndefined();
    expect(await lastAudit('admin.signin_refused')).toMatchObject({
      channel: 'admin',
      details: { method: 'oidc', reason: 'no_role', subject: id, name },
    });
    expect((await client.get('/admin/users')).location).toBe('/admin/signin');
  });

  it('when the state coming back is not the one sent, then nothing is signed in and the refusal is audited', async () => {
    const { id, name } = account({ pinline_role: 'system' });
    const { client, page } = await signInThroughProvider(id, (url) => {
      if (url.searchParams.has('state') && url.origin === provider.issuer) url.searchParams.set('state', 'forged-state');
    });
    expect(page.status).toBe(403);
    expect(textOf(page.body)).toContain('could not be verified');
    expect(await adminRow(name)).toBeUndefined();
    expect(await lastAudit('admin.signin_refused')).toMatchObject({ details: { reason: 'invalid_response', detail: expect.stringMatching(/unexpected "state" response parameter/) } });
    expect((await client.get('/admin/users')).location).toBe('/admin/signin');
  });

  it('when the ID token carries another nonce than the one sent, then nothing is signed in and the refusal is audited', async () => {
    const { id, name } = account({ pinline_role: 'system' });
    const { page } = await signInThroughProvider(id, (url) => {
      if (url.searchParams.has('nonce') && url.origin === provider.issuer) url.searchParams.set('nonce', 'replayed-nonce');
    });
    expect(page.status).toBe(403);
    expect(await adminRow(name)).toBeUndefined();
    expect(await lastAudit('admin.signin_refused')).toMatchObject({ details: { reason: 'invalid_response', detail: expect.stringMatching(/unexpected ID Token "nonce" claim/) } });
  });

  it('when the ID token was issued by another issuer (signed with a key pinline trusts), then nothing is signed in', async () => {
    const { id, name } = account({ pinline_role: 'system' });
    // The browser is sent to the other issuer instead, and its answer made to look like the right
    // one's; the token endpoint is answered by the other issuer too.
    provider.tokensFrom = otherIssuer;
    try {
      const { page } = await signInThroughProvider(id, (url) => {
        if (url.origin === provider.issuer && url.pathname === '/auth') {
          const moved = new URL(url.pathname + url.search, otherIssuer.issuer);
          url.href = moved.href;
        }
        if (url.pathname === '/admin/oidc/callback' && url.searchParams.get('iss') === otherIssuer.issuer) url.searchParams.set('iss', provider.issuer);
      });
      expect(page.status).toBe(403);
    } finally {
      provider.tokensFrom = null;
    }
    expect(await adminRow(name)).toBeUndefined();
    expect(await lastAudit('admin.signin_refused')).toMatchObject({ details: { reason: 'invalid_response', detail: expect.stringMatching(/unexpected JWT "iss" \(issuer\) claim/) } });
  });

  it("when the ID token is signed with a key that is not in the issuer's published key set, then nothing is signed in", async () => {
    const { id, name } = account({ pinline_role: 'system' });
    provider.forgeSignatures = true;
    try {
      const { page } = await signInThroughProvider(id);
      expect(page.status).toBe(403);
    } finally {
      provider.forgeSignatures = false;
    }
    expect(await adminRow(name)).toBeUndefined();
    expect(await lastAudit('admin.signin_refused')).toMatchObject({ details: { reason: 'invalid_response' } });
  });

  it('when the provider answers with an error (the person cancelled), then the page says the organisation did not sign them in', async () => {
    const { id, name } = account({ pinline_role: 'system' });
    const { page } = await signInThroughProvider(id, (url) => {
      if (url.pathname !== '/admin/oidc/callback') return;
      url.searchParams.delete('code');
      url.searchParams.set('error', 'access_denied');
      url.searchParams.set('error_description', 'the person cancelled');
    });
    expect(page.status).toBe(403);
    expect(textOf(page.body)).toContain('Your organisation did not sign you in (access_denied: the person cancelled).');
    expect(await adminRow(name)).toBeUndefined();
    expect(await lastAudit('admin.signin_refused')).toMatchObject({ details: { reason: 'provider_refused', detail: 'access_denied: the person cancelled' } });
  });

  it('when the callback comes to a browser that started no sign-in, then it is refused', async () => {
    const client = new WebClient(pinline.baseUrl);
    const page = await client.get('/admin/oidc/callback?code=stolen&state=whatever');
    expect(page.status).toBe(403);
    expect(textOf(page.body)).toContain('not started from this browser');
    expect(await lastAudit('admin.signin_refused')).toMatchObject({ details: { reason: 'no_pending_signin' } });
  });

  it('when an address has had too many refused answers, then the callback is refused with 429 and audited once', async () => {
    const client = new WebClient(pinline.baseUrl);
    for (let i = 0; i < 10; i++) expect((await client.get('/admin/oidc/callback?code=x&state=y')).status).toBe(403);
    const throttled = await client.get('/admin/oidc/callback?code=x&state=y');
    expect(throttled.status).toBe(429);
    expect(textOf(throttled.body)).toContain('Too many refused sign-ins from this address');
    await client.get('/admin/oidc/callback?code=x&state=y');
    const { rows } = await pinline.services.pool.query(`SELECT details FROM audit_events WHERE event = 'admin.signin_throttled'`);
    expect(rows).toEqual([{ details: { ip: '127.0.0.1', method: 'oidc' } }]);
  });

  it('when another administrator already has the name, then the sign-in is refused and that administrator is untouched', async () => {
    const local = await createAdmin(pinline.services);
    const { id } = account({ preferred_username: local.username, pinline_role: 'system' });
    const { page } = await signInThroughProvider(id);
    expect(page.status).toBe(403);
    expect(textOf(page.body)).toContain(`already has the name "${local.username}"`);
    expect(await adminRow(local.username)).toMatchObject({ source: 'local', oidc_subject: null });
  });

  it('when preferred_username is not usable as a name, then the e-mail address is', async () => {
    const { id, name } = account({ preferred_username: 'Ann Example', pinline_role: 'auditor' });
    const { url } = await signInThroughProvider(id);
    expect(url.pathname).toBe('/admin/users');
    expect(await adminRow(`${name}@example.com`)).toMatchObject({ role: 'auditor', source: 'oidc' });
  });

  it('when administrators signed in through the provider, then the admins list shows them with source oidc beside the local ones', async () => {
    const local = await createAdmin(pinline.services);
    const { id, name } = account({ pinline_role: 'helpdesk' });
    await signInThroughProvider(id);
    const listed = await listAdmins(pinline.services.pool);
    expect(listed).toContainEqual({ username: name, role: 'helpdesk', source: 'oidc', createdAt: expect.any(Date) });
    expect(listed).toContainEqual({ username: local.username, role: 'system', source: 'local', createdAt: expect.any(Date) });

    // And `pinline admin list`, the operator's view, says the same.
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pinline-oidc-cli-'));
    try {
      const run = await runCli(['admin', 'list'], cliEnvFor(database.url, dataDir));
      expect(run.code).toBe(0);
      const rows = run.stdout.trimEnd().split('\n').map((row) => row.split(/\s+/));
      expect(rows).toContainEqual([name, 'helpdesk', 'oidc', expect.stringMatching(/^\d{4}-\d\d-\d\dT/)]);
      expect(rows).toContainEqual([local.username, 'system', 'local', expect.stringMatching(/^\d{4}-\d\d-\d\dT/)]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('when someone sets a password for an administrator from the provider, then it is refused: they have none here', async () => {
    const { id, name } = account({ pinline_role: 'system' });
    await signInThroughProvider(id);
    await expect(pinline.services.webCredentials.setAdminPassword(name, 'a long enough password', { channel: 'cli', name: 'cli' })).rejects.toThrow(
      `administrator "${name}" signs in through the identity provider and has no password here`,
    );
    expect(await adminRow(name)).toMatchObject({ source: 'oidc', password_hash: null });
  });

  it('when an administrator from the provider is removed, then their session ends at the next page', async () => {
    const { id, name } = account({ pinline_role: 'system' });
    const { client } = await signInThroughProvider(id);
    expect((await client.get('/admin/users')).status).toBe(200);
    await pinline.services.pool.query('DELETE FROM admins WHERE username = $1', [name]);
    expect((await client.get('/admin/users')).location).toBe('/admin/signin');
  });

  it("when an administrator from the provider signs out, then the session ends here and the page offers the provider's logout", async () => {
    const { id } = account({ pinline_role: 'system' });
    const { client } = await signInThroughProvider(id);
    await client.load('/admin/users');
    const signedOut = await client.post('/admin/signout', {});
    expect(signedOut.location).toBe('/admin/oidc/signed-out');
    const page = await client.load('/admin/oidc/signed-out');
    expect(textOf(page.body)).toContain('You are signed out of pinline');
    const logout = /href="([^"]+)">Sign out of your organisation too/.exec(page.body)?.[1]?.replace(/&amp;/g, '&');
    expect(logout).toBeDefined();
    const logoutUrl = new URL(logout ?? '');
    expect(logoutUrl.origin).toBe(provider.issuer);
    expect(logoutUrl.searchParams.get('client_id')).toBe(TEST_CLIENT.clientId);
    expect((await client.get('/admin/users')).location).toBe('/admin/signin');
  });

  it('when a local administrator signs in beside single sign-on, then the password form still works and sign-out goes to the form', async () => {
    const local = await createAdmin(pinline.services);
    const client = new WebClient(pinline.baseUrl);
    const page = await client.signInAsAdmin(local);
    expect(page.status).toBe(200);
    expect(textOf(page.body)).toContain(`Signed in as ${local.username}`);
    expect((await client.post('/admin/signout', {})).location).toBe('/admin/signin');
  });

  it('when a row would mix the two sources, then the database refuses it: a password only for local administrators, an issuer and subject only for oidc', async () => {
    const insert = (source: string, hash: string | null, issuer: string | null, subject: string | null) =>
      pinline.services.pool.query('INSERT INTO admins (username, source, password_hash, oidc_issuer, oidc_subject) VALUES ($1, $2, $3, $4, $5)', [
        `mixed${++accountSequence}`,
        source,
        hash,
        issuer,
        subject,
      ]);
    await expect(insert('oidc', '$argon2id$v=19$x', provider.issuer, 'someone')).rejects.toMatchObject({ constraint: 'admins_source_credentials' });
    await expect(insert('oidc', null, null, 'someone')).rejects.toMatchObject({ constraint: 'admins_source_credentials' });
    await expect(insert('local', null, null, null)).rejects.toMatchObject({ constraint: 'admins_source_credentials' });
    await expect(insert('local', '$argon2id$v=19$x', provider.issuer, 'someone')).rejects.toMatchObject({ constraint: 'admins_source_credentials' });
    await insert('oidc', null, provider.issuer, 'same-subject');
    await expect(insert('oidc', null, provider.issuer, 'same-subject')).rejects.toMatchObject({ constraint: 'admins_oidc_identity' });
  });

  it('when the provider cannot be reached, then starting a sign-in fails as unavailable (a 502 page that says so), not as a refusal', async () => {
    const unreachable = new SingleSignOn(
      { issuer: 'http://127.0.0.1:9', clientId: 'pinline', clientSecret: null, roleClaim: 'pinline_role' },
      pinline.baseUrl,
      pinline.services.pool,
      silentLogger,
    );
    const failure = await unreachable.begin().catch((err: unknown) => err);
    expect(failure).toBeInstanceOf(IdentityProviderUnavailableError);
    expect(describeFailure(failure)).toMatchObject({ status: 502, message: expect.stringContaining("organisation's sign-in cannot be reached") });
  });
});
