import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { createServices } from '../../src/runtime.js';
import { createAdmin } from '../support/browser.js';
import { silentLogger, testConfig, useServices } from '../support/services.js';
import { WebClient } from '../support/web-client.js';

// DESIGN §7: cookies are Secure whenever PUBLIC_BASE_URL is https, whatever TRUST_PROXY says.
// Here the TLS proxy (played by the test) is not trusted: its X-Forwarded-Proto is ignored.

const fixture = useServices();
let server: Server;
let baseUrl = '';

beforeAll(async () => {
  const services = createServices(testConfig({ publicBaseUrl: 'https://pin.example.test', trustProxy: false }), silentLogger, fixture.pool);
  server = createApp(services).listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', () => resolve()));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('cookies behind a TLS proxy that TRUST_PROXY does not cover', () => {
  it('when PUBLIC_BASE_URL is https, then every cookie, the session cookie included, is sent and marked Secure', async () => {
    const admin = await createAdmin(fixture.services);
    const client = new WebClient(baseUrl, { 'x-forwarded-proto': 'https' });
    const form = await client.get('/admin/signin');
    const signedIn = await client.post('/admin/signin', admin);
    expect(signedIn.status).toBe(303);
    const cookies = [...form.setCookies, ...signedIn.setCookies];
    const session = cookies.find((c) => c.startsWith('pinline.sid='));
    expect(session).toBeDefined();
    for (const cookie of cookies) expect(cookie).toMatch(/;\s*Secure/i);
    expect((await client.get('/admin/users')).status).toBe(200);
  });
});
