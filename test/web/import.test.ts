import { describe, expect, it } from 'vitest';
import { UPLOAD_LIMIT_BYTES } from '../../src/web/uploads.js';
import { createAdmin, useWebServer } from '../support/browser.js';
import { createUser, createUserWithWebPassword } from '../support/factories.js';
import { WebhookCaller } from '../support/phone.js';
import { textOf, WebClient, type WebResponse } from '../support/web-client.js';

// Users > Import Users at the HTTP level (DESIGN §9): the upload, the CSRF check of multipart
// posts, the size limit, the preview and Apply. The browser test drives the same in Chromium.

const web = useWebServer();

const HEADER = 'extension,first,last,phone,email,locale,rule,response_wait';

async function signedInClient(): Promise<WebClient> {
  const client = new WebClient(web.baseUrl);
  expect((await client.signInAsAdmin(await createAdmin(web.services))).status).toBe(200);
  await client.load('/admin/users/import');
  return client;
}

function upload(client: WebClient, csv: string | Uint8Array, options: { csrf?: string | null; resetPins?: boolean } = {}): Promise<WebResponse> {
  return client.postMultipart(
    '/admin/users/import',
    options.resetPins ? { resetPins: 'on' } : {},
    { field: 'file', name: 'users.csv', content: csv },
    options.csrf === undefined ? {} : { csrf: options.csrf },
  );
}

/** Apply on the preview page just loaded: its own hidden fields and token. */
function apply(
  client: WebClient,
  options: { csrf?: string | null; resetPins?: boolean; fields?: Record<string, string> } = {},
): Promise<WebResponse> {
  const given = options.fields ?? {};
  const names = ['csv', 'name', 'mac', ...(options.resetPins ? ['resetPins'] : [])].filter((name) => !(name in given));
  const fields = { ...Object.fromEntries(names.map((name) => [name, client.hiddenField(name)])), ...given };
  return client.postMultipart('/admin/users/import/apply', fields, null, options.csrf === undefined ? {} : { csrf: options.csrf });
}

async function counts(): Promise<{ users: number; audit: number }> {
  const { rows } = await web.services.pool.query('SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM audit_events) AS audit');
  return rows[0] as { users: number; audit: number };
}

const account = (extension: string) => web.services.accounts.findAccount({ extension });

describe('admin import', () => {
  it('when the administrator opens Users, then there is a link to Import Users with a file upload form', async () => {
    const client = await signedInClient();
    expect((await client.load('/admin/users')).body).toContain('<a class="button secondary" href="/admin/users/import">Import Users</a>');
    const form = await client.load('/admin/users/import');
    expect(form.status).toBe(200);
    expect(form.body).toContain('enctype="multipart/form-data"');
    expect(form.body).toContain('<input id="file" name="file" type="file"');
  });

  it('when a file is uploaded, then the preview is the dry run as a table and nothing changes; Apply imports it and shows the results', async () => {
    await createUser(web.services, { extension: '5001', firstName: 'Old', lastName: 'Name' });
    const client = await signedInClient();
    const before = await counts();
    const csv = `${HEADER}\r\n5002,Ann,Bell,+15555000002,,,,\r\n5001,New,,,,,,\r\n5003,Cy,Dow,not-a-phone,,,,\r\n`;
    const preview = await upload(client, csv);
    expect(preview.status).toBe(200);
    const text = textOf(preview.body);
    expect(text).toContain('3 rows: 1 created, 1 updated, 0 unchanged, 1 error (dry run: nothing was changed).');
    expect(text).toContain('Line Extension Result Reason 2 5002 Created 3 5001 Updated 4 5003 Error phone number "not-a-phone" is not in E.164 form (like +15551230001)');
    expect(await counts()).toEqual(before);
    expect(await account('5002')).toBeNull();

    const results = await apply(client);
    expect(results.status).toBe(200);
    expect(textOf(results.body)).toContain('3 rows: 1 created, 1 updated, 0 unchanged, 1 error.');
    expect((await account('5002'))?.user).toMatchObject({ firstName: 'Ann', lastName: 'Bell', phone: '+15555000002' });
    expect((await account('5001'))?.user.firstName).toBe('New');
    expect(await account('5003')).toBeNull();
    const { rows } = await web.services.pool.query(`SELECT event, channel, actor FROM audit_events WHERE extension = '5002' ORDER BY id`);
    expect(rows).toEqual([
      { event: 'user.created', channel: 'admin', actor: expect.stringMatching(/^admin:/) },
      { event: 'pin.set', channel: 'admin', actor: expect.stringMatching(/^admin:/) },
    ]);
  });

  it('when a multipart post has no token or a forged one, then it is refused with 403 and nothing is imported', async () => {
    const client = await signedInClient();
    const before = await counts();
    const csv = `${HEADER}\n5101,Eve,Fay,,,,,\n`;
    expect((await upload(client, csv, { csrf: null })).status).toBe(403);
    expect((await upload(client, csv, { csrf: 'forged.token' })).status).toBe(403);

    // Apply, the second post, is checked the same way.
    await client.load('/admin/users/import');
    expect((await upload(client, csv)).status).toBe(200);
    const forged = await apply(client, { csrf: null });
    expect(forged.status).toBe(403);
    expect(textOf(forged.body)).toContain('Form Refused');
    expect(await counts()).toEqual(before);
    expect(await account('5101')).toBeNull();
  });

  describe('Apply is bound to the preview (security finding 7)', () => {
    const csv = `${HEADER}\n5401,Gil,Hay,,,,,\n`;
    const refusal = 'That file was not previewed in this session, or it changed since. Preview it again, then apply.';

    it('when a file that was never previewed is posted to Apply, then it is refused with a form error and nothing is imported', async () => {
      const client = await signedInClient();
      const before = await counts();
      const forged = await apply(client, { fields: { csv: Buffer.from(csv).toString('base64'), name: 'users.csv', mac: '' } });
      expect(forged.status).toBe(422);
      expect(textOf(forged.body)).toContain(refusal);
      expect(await counts()).toEqual(before);
    });

    it('when the previewed bytes or the reset-PINs choice are changed before Apply, then it is refused and nothing is imported', async () => {
      const client = await signedInClient();
      expect((await upload(client, csv)).status).toBe(200);
      const before = await counts();
      const previewed = { csv: client.hiddenField('csv'), name: client.hiddenField('name'), mac: client.hiddenField('mac') };
      const other = Buffer.from(`${HEADER}\n5402,Ida,Ivy,,,,,\n`).toString('base64');
      expect((await apply(client, { fields: { ...previewed, csv: other } })).status).toBe(422);
      expect((await apply(client, { fields: { ...previewed, resetPins: 'on' } })).status).toBe(422);
      expect(await counts()).toEqual(before);
      expect(await account('5402')).toBeNull();
    });

    it('when another administrator’s session posts a preview’s fields, then it is refused', async () => {
      const first = await signedInClient();
      expect((await upload(first, csv)).status).toBe(200);
      const second = await signedInClient();
      const fields = { csv: first.hiddenField('csv'), name: first.hiddenField('name'), mac: first.hiddenField('mac') };
      const stolen = await apply(second, { fields });
      expect(stolen.status).toBe(422);
      expect(textOf(stolen.body)).toContain(refusal);
      expect(await account('5401')).toBeNull();
      // The preview still applies in its own session.
      expect((await apply(first)).status).toBe(200);
      expect(await account('5401')).not.toBeNull();
    });
  });

  it('when someone not signed in as an administrator posts a file, then it is refused with 403 and the file is not read', async () => {
    const stranger = new WebClient(web.baseUrl);
    await stranger.load('/admin/signin');
    const csv = `${HEADER}\n5201,Gus,Hale,,,,,\n`;
    expect((await upload(stranger, csv)).status).toBe(403);

    // A user of the self-service pages is no administrator either.
    const user = await createUserWithWebPassword(web.services, 'self service password 1');
    const selfService = new WebClient(web.baseUrl);
    await selfService.signInAsUser(user.extension, 'self service password 1');
    expect((await upload(selfService, csv)).status).toBe(403);
    expect(await account('5201')).toBeNull();
  });

  it('when the file is larger than the limit, then the form says so with 413, and the next upload works', async () => {
    const client = await signedInClient();
    const big = `${HEADER}\n${'5301,A,B,,,,,\n'.repeat(Math.ceil(UPLOAD_LIMIT_BYTES / 14) + 10)}`;
    const refused = await upload(client, big);
    expect(refused.status).toBe(413);
    expect(textOf(refused.body)).toContain('The file is larger than 2 MB.');
    expect(refused.body).toContain('role="alert"');
    expect(await account('5301')).toBeNull();
    expect((await upload(client, `${HEADER}\n5302,Ida,Jay,,,,,\n`)).status).toBe(200);
  });

  it.each([
    ['a misspelt column', 'extension,frist\n5401,A\n', 422, 'The file cannot be imported: line 1: unknown column "frist" in the header'],
    ['nothing in it', '', 422, 'The file cannot be imported: the file is empty'],
  ])('when the file has %s, then the form shows the error', async (_what, csv, status, message) => {
    const client = await signedInClient();
    const answer = await upload(client, csv);
    expect(answer.status).toBe(status);
    expect(textOf(answer.body)).toContain(message);
  });

  it('when the form is sent without a file, then it asks for one', async () => {
    const client = await signedInClient();
    const answer = await client.postMultipart('/admin/users/import', { resetPins: 'on' }, null);
    expect(answer.status).toBe(422);
    expect(textOf(answer.body)).toContain('Choose a CSV file to import.');
    // The tick stays as it was.
    expect(answer.body).toMatch(/id="resetPins" name="resetPins" value="on" checked/);
  });

  it('when cells hold markup, then the preview shows it as text', async () => {
    const client = await signedInClient();
    const preview = await upload(client, `${HEADER}\n"<b>55</b>",A,B,,,,,\n5501,A,B,"<img src=x onerror=alert(1)>",,,,\n`);
    expect(preview.status).toBe(200);
    expect(preview.body).not.toContain('<b>55</b>');
    expect(preview.body).not.toContain('<img');
    expect(preview.body).toContain('&lt;b&gt;55&lt;/b&gt;');
    expect(preview.body).toContain('&lt;img src=x onerror=alert(1)&gt;');
  });

  it('when every row is bad or unchanged, then the preview offers nothing to apply', async () => {
    await createUser(web.services, { extension: '5601', firstName: 'Same', lastName: 'Person' });
    const client = await signedInClient();
    const preview = await upload(client, `${HEADER}\n5601,Same,Person,,,,,\n5602,,,,,,,\n`);
    expect(textOf(preview.body)).toContain('Nothing to apply.');
    expect(preview.body).not.toContain('/admin/users/import/apply');
  });

  it('when Reset PINs is ticked, then a new user no channel reaches is an error row in the preview', async () => {
    const client = await signedInClient();
    const preview = await upload(client, `${HEADER}\n5701,Kai,Lum,,kai@example.com,,,\n5702,Lee,Moe,,,,,\n`, { resetPins: true });
    expect(textOf(preview.body)).toContain(
      '2 5701 Created 3 5702 Error no phone or e-mail that a configured channel reaches, so a reset PIN cannot be sent to this new user',
    );
    expect(preview.body).toContain('<input type="hidden" name="resetPins" value="on">');
    expect((await apply(client, { resetPins: true })).status).toBe(200);
    // The apply kept the choice: the created user's PIN was reset.
    const { rows } = await web.services.pool.query(`SELECT event FROM audit_events WHERE extension = '5701' ORDER BY id`);
    expect(rows.map((r) => r.event)).toEqual(['user.created', 'pin.set', 'pin.reset']);
  });

  it('when a file has more rows than a page lists, then the preview lists the first 500 and counts the rest (issue 16 item 6)', async () => {
    const client = await signedInClient();
    const rows = Array.from({ length: 1200 }, (_, i) => (i < 2 ? `${5801 + i},Pat,Kim,,,,,` : `58x${i},,,,,,,`));
    const preview = await upload(client, `${HEADER}\n${rows.join('\n')}\n`);
    expect(preview.status).toBe(200);
    const text = textOf(preview.body);
    expect(text).toContain('1200 rows: 2 created, 0 updated, 0 unchanged, 1198 errors (dry run: nothing was changed).');
    expect(text).toContain('The first 500 rows are listed; 700 more are not, 700 of them errors.');
    expect(preview.body.match(/<tr class="error">/g)).toHaveLength(498);
  });

  it(
    'when the largest allowed file of one-cell rows is previewed, then a sign-in turn meanwhile answers within 2 s, memory stays bounded and the page stays small (issue 16 item 6)',
    async () => {
      const caller = await createUser(web.services);
      const client = await signedInClient();
      // The review's file: the upload limit's worth of one-cell rows, each one an error row.
      const rows = Math.floor((UPLOAD_LIMIT_BYTES - 100) / 2);
      const csv = `extension\n${'9\n'.repeat(rows)}`;
      const rssBefore = process.memoryUsage().rss;
      let rssPeak = rssBefore;
      const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, process.memoryUsage().rss)), 20);
      try {
        const previewing = upload(client, csv);
        // Once the import is under way, a caller signs in.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const call = new WebhookCaller(web.server, 'CApreview0001');
        const pinPrompt = (await call.press((await call.incoming()).action, caller.extension)).action;
        const started = performance.now();
        const signedIn = await call.press(pinPrompt, caller.pin);
        const signinMs = performance.now() - started;
        const preview = await previewing;

        expect(signedIn.said.at(-1)).toBe('menu.main');
        expect(signinMs).toBeLessThan(2000);
        expect(preview.status).toBe(200);
        expect(textOf(preview.body)).toContain(`${rows} rows: 0 created, 0 updated, 0 unchanged, ${rows} errors (dry run: nothing was changed).`);
        expect(preview.body.length).toBeLessThan(1024 * 1024);
        // The review saw about 700 MB, and once a bad row was three objects, 152 to 210 MB (this
        // process's whole growth, the test's own client included). With a bad row one object and a
        // repeated reason shared, runs here add 57 to 58 MB: the aim, 200 MB, holds with margin.
        expect(rssPeak - rssBefore).toBeLessThan(200 * 1024 * 1024);
      } finally {
        clearInterval(sampler);
      }
    },
    180_000,
  );
});
