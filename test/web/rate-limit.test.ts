import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWebRouter } from '../../src/web/index.js';
import { createAdmin } from '../support/browser.js';
import { createUser, testActor } from '../support/factories.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createServices, type Services } from '../../src/runtime.js';
import { silentLogger, testConfig, useServices } from '../support/services.js';
import { WebClient } from '../support/web-client.js';

// The web router alone with a small sign-in limit, so the limit is reached in a few requests.
// Two instances on the one database, as behind a load balancer: the counters are in Postgres.

const fixture = useServices();
let server: Server;
let baseUrl = '';
let otherServer: Server;
let otherBaseUrl = '';
let otherPool: Pool;

async function listen(services: Services): Promise<[Server, string]> {
  const app = express();
  app.set('trust proxy', 'loopback');
  app.use(createWebRouter(services, { signinLimit: { limit: 3, windowMs: 60_000 } }));
  const listening = app.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => listening.once('listening', () => resolve()));
  return [listening, `http://127.0.0.1:${(listening.address() as AddressInfo).port}`];
}

beforeAll(async () => {
  [server, baseUrl] = await listen(fixture.services);
  otherPool = createPool(fixture.database.url, silentLogger, 4);
  [otherServer, otherBaseUrl] = await listen(createServices(testConfig(), silentLogger, otherPool));
});

afterAll(async () => {
  for (const s of [server, otherServer]) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
  await otherPool.end();
});

async function events(name: string): Promise<number> {
  const { rows } = await fixture.pool.query('SELECT count(*)::int AS n FROM audit_events WHERE event = $1', [name]);
  return rows[0].n as number;
}

describe('sign-in rate limit', () => {
  it('when an address keeps failing the admin sign-in, then it is refused with 429 even with the right password, and that is audited', async () => {
    const admin = await createAdmin(fixture.services);
    const client = new WebClient(baseUrl, { 'x-forwarded-for': '203.0.113.7' });
    await client.load('/admin/signin');
    for (let i = 0; i < 3; i++) {
      expect((await client.post('/admin/signin', { username: admin.username, password: `wrong password ${i}` })).status).toBe(401);
    }
    const limited = await client.post('/admin/signin', admin);
    expect(limited.status).toBe(429);
    expect(limited.body).toContain('Too many failed sign-ins');
    expect(await events('admin.signin_failed')).toBe(3);
    expect(await events('admin.signin_throttled')).toBe(1);

    // Another address is not affected, and successes do not count.
    const other = new WebClient(baseUrl, { 'x-forwarded-for': '203.0.113.8' });
    for (let i = 0; i < 4; i++) {
      await other.load('/admin/signin');
      expect((await other.post('/admin/signin', admin)).status).toBe(303);
      await other.load('/admin/users');
      await other.post('/admin/signout', {});
    }
  });

  it('when an address keeps failing the self-service sign-in, then it is refused with 429 and that is audited', async () => {
    const user = await createUser(fixture.services);
    await fixture.services.webCredentials.setUserPassword(user.userId, 'a web password', testActor);
    const client = new WebClient(baseUrl, { 'x-forwarded-for': '203.0.113.9' });
    await client.load('/me');
    for (let i = 0; i < 3; i++) {
      expect((await client.post('/me/signin', { extension: user.extension, password: `wrong ${i}` })).status).toBe(401);
    }
    expect((await client.post('/me/signin', { extension: user.extension, password: 'a web password' })).status).toBe(429);
    expect(await events('web.signin_throttled')).toBe(1);
  });

  it('when a limited address keeps trying, then the refusals are not written to the audit table again', async () => {
    const client = new WebClient(baseUrl, { 'x-forwarded-for': '203.0.113.10' });
    await client.load('/admin/signin');
    const before = await events('admin.signin_throttled');
    for (let i = 0; i < 3; i++) await client.post('/admin/signin', { username: 'nobody', password: `guess ${i}` });
    for (let i = 0; i < 20; i++) {
      expect((await client.post('/admin/signin', { username: 'nobody', password: `guess more ${i}` })).status).toBe(429);
    }
    expect(await events('admin.signin_throttled')).toBe(before + 1);
  });

  it('when IPv6 addresses of one /56 share the guesses, then they share one limit', async () => {
    const at = (n: number) => new WebClient(baseUrl, { 'x-forwarded-for': `2001:db8:0:${n}::1` });
    for (let n = 0; n < 3; n++) {
      const client = at(n);
      await client.load('/admin/signin');
      expect((await client.post('/admin/signin', { username: 'nobody', password: 'guess' })).status).toBe(401);
    }
    const client = at(5);
    await client.load('/admin/signin');
    expect((await client.post('/admin/signin', { username: 'nobody', password: 'guess' })).status).toBe(429);
  });
});

describe('limits shared by every instance', () => {
  it('when one address spreads its failures over two instances, then the limit holds for the total, and the refusal is audited once', async () => {
    const admin = await createAdmin(fixture.services);
    const onA = new WebClient(baseUrl, { 'x-forwarded-for': '198.51.100.40' });
    const onB = new WebClient(otherBaseUrl, { 'x-forwarded-for': '198.51.100.40' });
    await onA.load('/admin/signin');
    await onB.load('/admin/signin');
    expect((await onA.post('/admin/signin', { username: admin.username, password: 'wrong 1' })).status).toBe(401);
    expect((await onB.post('/admin/signin', { username: admin.username, password: 'wrong 2' })).status).toBe(401);
    expect((await onA.post('/admin/signin', { username: admin.username, password: 'wrong 3' })).status).toBe(401);
    // The fourth failure in all: refused on either instance, even with the right password.
    expect((await onB.post('/admin/signin', admin)).status).toBe(429);
    expect((await onA.post('/admin/signin', admin)).status).toBe(429);
    const { rows } = await fixture.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE event = 'admin.signin_throttled' AND details->>'ip' = '198.51.100.40'`);
    expect(rows[0].n).toBe(1);
  });
});

describe('self-service web password change', () => {
  it('when the current password is guessed wrong, then each guess is audited and the guesses are limited', async () => {
    const user = await createUser(fixture.services);
    await fixture.services.webCredentials.setUserPassword(user.userId, 'a web password', testActor);
    const client = new WebClient(baseUrl, { 'x-forwarded-for': '203.0.113.20' });
    await client.signInAsUser(user.extension, 'a web password');
    await client.load('/me/password');
    const change = (current: string) =>
      client.post('/me/password', { current, newPassword: 'a new web password', confirmPassword: 'a new web password' });
    for (let i = 0; i < 3; i++) expect((await change(`wrong guess ${i}`)).status).toBe(422);
    const limited = await change('a web password');
    expect(limited.status).toBe(429);
    expect(limited.body).toContain('Too many wrong current passwords');
    for (let i = 0; i < 5; i++) expect((await change(`wrong again ${i}`)).status).toBe(429);
    const { rows } = await fixture.pool.query(
      `SELECT event, count(*)::int AS n FROM audit_events WHERE user_id = $1 AND event LIKE 'web.password_check%' GROUP BY event ORDER BY event`,
      [user.userId],
    );
    expect(rows).toEqual([
      { event: 'web.password_check_failed', n: 3 },
      { event: 'web.password_check_throttled', n: 1 },
    ]);
  });
});
