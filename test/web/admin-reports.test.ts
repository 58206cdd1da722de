import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAdmin } from '../support/browser.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createUser, testActor } from '../support/factories.js';
import { startPhoneServer, type PhoneServer } from '../support/phone.js';
import { textOf, WebClient } from '../support/web-client.js';

// The admin pages of the reports (DESIGN §9): the list with counts, one report, its CSV download.

const DAY = 24 * 60 * 60_000;
const NOW = new Date('2027-03-15T12:00:00.000Z');
const NAMES = ['expired', 'expiring', 'locked', 'enrollment-pending', 'inactive', 'failed-signins'];

let database: TestDatabase;
let server: PhoneServer;
let client: WebClient;
let evil: { userId: number; extension: string };

beforeAll(async () => {
  database = await createTestDatabase();
  server = await startPhoneServer(database.url, {}, { services: { clock: () => NOW } });
  const { services } = server;
  // Two expired PINs, one of them a name that is markup and a formula; one administrator lock.
  evil = await createUser(services, { extension: '4001', firstName: '<b>Eve</b>', lastName: '=HYPERLINK("x")' });
  const plain = await createUser(services, { extension: '4002', firstName: 'Ann', lastName: 'Lee' });
  const locked = await createUser(services, { extension: '4003', firstName: 'Bo', lastName: 'Locke' });
  await server.services.pool.query(
    'UPDATE pin_credentials SET changed_at = $2, last_signin_at = $3 WHERE user_id = ANY($1)',
    [[evil.userId, plain.userId], new Date(NOW.getTime() - 181 * DAY), new Date(NOW.getTime() - DAY)],
  );
  await server.services.pool.query('UPDATE pin_credentials SET changed_at = $2, last_signin_at = $2 WHERE user_id = $1', [
    locked.userId,
    new Date(NOW.getTime() - DAY),
  ]);
  await services.pins.updateSettings(locked.userId, { flags: { lockedByAdmin: true } }, testActor);
  client = new WebClient(server.baseUrl);
  expect((await client.signInAsAdmin(await createAdmin(services))).status).toBe(200);
});

afterAll(async () => {
  await server?.close();
  await database?.drop();
});

describe('admin reports', () => {
  it('when nobody is signed in, then the report pages and downloads send the browser to the sign-in form', async () => {
    const anonymous = new WebClient(server.baseUrl);
    for (const path of ['/admin/reports', '/admin/reports/expired', '/admin/reports/expired.csv', '/admin/reports/nope']) {
      const response = await anonymous.get(path);
      expect(response.status, path).toBe(303);
      expect(response.location, path).toBe('/admin/signin');
    }
  });

  it('when the reports are opened, then each is listed with its description, a link and the count the report has now', async () => {
    const page = await client.get('/admin/reports');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<a href="/admin/reports" aria-current="page">Reports</a>');
    for (const name of NAMES) {
      const { report, rows } = await server.services.reports.run(name);
      const row = new RegExp(`<tr><td><a href="/admin/reports/${name}">[^<]+</a></td><td>[^<]+</td><td class="num">(\\d+)</td></tr>`).exec(page.body);
      expect(row?.[1], name).toBe(String(rows.length));
      expect(textOf(page.body)).toContain(`${report.title} ${report.description}`);
    }
    const text = textOf(page.body);
    expect(text).toMatch(/Expired PINs .* 2 /);
    expect(text).toMatch(/Locked Users .* 1 /);
  });

  it('when a report is opened, then its users are listed by extension with the fact, every name escaped, and a CSV link', async () => {
    const page = await client.get('/admin/reports/expired');
    expect(page.status).toBe(200);
    expect(page.body).toContain('<h1>Expired PINs</h1>');
    expect(page.body).toContain('href="/admin/reports/expired.csv"');
    expect(page.body).toContain('Download CSV');
    expect(page.body).not.toContain('<b>Eve</b>');
    expect(page.body).toContain('&lt;b&gt;Eve&lt;/b&gt;');
    expect(page.body).toContain(`<a href="/admin/users/${evil.userId}">4001</a>`);
    const text = textOf(page.body);
    expect(text).toContain('2 users as of 2027-03-15 12:00:00 UTC');
    expect(text).toContain('4001 <b>Eve</b> =HYPERLINK("x") 2027-03-14 12:00:00 UTC');
    expect(text.indexOf('4001 ')).toBeLessThan(text.indexOf('4002 '));
  });

  it('when a report is downloaded, then it is a CSV attachment named after the report and the day, with formulas escaped', async () => {
    const response = await client.get('/admin/reports/expired.csv');
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(response.headers.get('content-disposition')).toBe('attachment; filename=pinline-expired-2027-03-15.csv');
    expect(response.body).toBe(
      'extension,first,last,expired_at\r\n' +
        `4001,<b>Eve</b>,"'=HYPERLINK(""x"")",2027-03-14T12:00:00.000Z\r\n` +
        '4002,Ann,Lee,2027-03-14T12:00:00.000Z\r\n',
    );
    const locked = await client.get('/admin/reports/locked.csv');
    expect(locked.body).toBe('extension,first,last,lock\r\n4003,Bo,Locke,locked by an administrator\r\n');
  });

  it('when the report does not exist, then the page and the download are the admin 404 page', async () => {
    for (const path of ['/admin/reports/nope', '/admin/reports/nope.csv', '/admin/reports/%3Cscript%3E']) {
      const response = await client.get(path);
      expect(response.status, path).toBe(404);
      expect(response.headers.get('content-type'), path).toMatch(/^text\/html/);
      expect(response.body, path).toContain('<h1>Not Found</h1>');
      expect(response.body, path).not.toContain('<script>');
    }
  });
});
