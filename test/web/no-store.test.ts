import { beforeAll, describe, expect, it } from 'vitest';
import { createAdmin, useWebServer } from '../support/browser.js';
import { createUser } from '../support/factories.js';
import { WebClient } from '../support/web-client.js';

// Every answer that shows a secret once is kept by no cache: a browser's, a proxy's or a client's.

const web = useWebServer();
let token = '';

beforeAll(async () => {
  ({ token } = await web.services.apiTokens.create('no-store tests', { channel: 'admin', name: 'admin:test' }));
});

async function api(path: string, body: unknown): Promise<{ status: number; cacheControl: string | null; json: Record<string, unknown> }> {
  const response = await fetch(`${web.baseUrl}/api${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, cacheControl: response.headers.get('cache-control'), json: (await response.json()) as Record<string, unknown> };
}

describe('answers that show a secret once', () => {
  it('when the API creates a user with a generated PIN, then the answer is not to be stored', async () => {
    const created = await api('/users', { extension: '81001', firstName: 'Ada', lastName: 'Lovelace' });
    expect(created.status).toBe(201);
    expect(created.json.generatedPin).toMatch(/^[0-9]+$/);
    expect(created.cacheControl).toBe('no-store');
  });

  it('when the API resets a PIN and shows it, then the answer is not to be stored', async () => {
    const user = await createUser(web.services);
    const reset = await api(`/users/${user.userId}/credential/pin/reset`, { show: true });
    expect(reset.status).toBe(200);
    expect(reset.json.pin).toMatch(/^[0-9]+$/);
    expect(reset.cacheControl).toBe('no-store');
  });

  it('when an administrator resets a PIN on the web and asks to see it, then the page is not to be stored', async () => {
    const user = await createUser(web.services);
    const client = new WebClient(web.baseUrl);
    await client.signInAsAdmin(await createAdmin(web.services));
    await client.load(`/admin/users/${user.userId}/change-password`);
    const shown = await client.post(`/admin/users/${user.userId}/reset-pin`, { show: 'on' });
    expect(shown.status).toBe(200);
    expect(shown.body).toMatch(/<p class="secret">[0-9]+<\/p>/);
    expect(shown.headers.get('cache-control')).toBe('no-store');
  });

  it('when an administrator creates an API token on the web, then the page that shows it is not to be stored', async () => {
    const client = new WebClient(web.baseUrl);
    await client.signInAsAdmin(await createAdmin(web.services));
    await client.load('/admin/tokens');
    const created = await client.post('/admin/tokens', { name: 'shown-once' });
    expect(created.status).toBe(200);
    expect(created.body).toContain('id="new-token"');
    expect(created.headers.get('cache-control')).toBe('no-store');
  });
});
