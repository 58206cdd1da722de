import type { BrowserContext, Page } from 'playwright-core';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { simulateCall } from '../../src/cli/simulator.js';
import {
  announceBrowserSkip,
  createAdmin,
  hasChromium,
  screenshotAndMeasure,
  seriousAxeViolations,
  signInAsAdmin,
  useBrowser,
  useWebServer,
  VIEWPORTS,
  type AdminCredentials,
} from '../support/browser.js';
import { createUser, testActor } from '../support/factories.js';
import { heardKeys } from '../support/phone.js';

// The admin and self-service pages driven in Debian's Chromium, the way DESIGN §7 tells it.
announceBrowserSkip();

const web = useWebServer();
const chrome = useBrowser();

// A busy machine (two workers, parallel suites) can make Chromium slow; fail on a named step, not the test clock.
describe.skipIf(!hasChromium)('in Chromium', { timeout: 90_000 }, () => {
  let context: BrowserContext;
  let page: Page;
  let admin: AdminCredentials;

  beforeEach(async () => {
    // bypassCSP only so axe-core can be injected; the pages themselves run no script at all.
    context = await chrome.browser.newContext({ bypassCSP: true });
    context.setDefaultTimeout(20_000);
    page = await context.newPage();
    admin = await createAdmin(web.services);
  });

  afterEach(async () => {
    await context?.close();
  });

  /** Steps 2-3 of DESIGN §7: Users, the user, Edit, Change Password. */
  async function openChangePassword(user: { extension: string }): Promise<void> {
    await page.getByRole('link', { name: 'Users', exact: true }).click();
    await page.getByLabel('Search by name or extension').fill(user.extension);
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('link', { name: user.extension, exact: true }).click();
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('link', { name: 'Change Password' }).click();
    await page.getByRole('heading', { level: 1, name: /^Change Password/ }).waitFor();
  }

  it('when an administrator changes a PIN as in DESIGN §7, then "Updated Password" appears, and a call signs in with the new PIN and is asked to change it', async () => {
    const user = await createUser(web.services, { firstName: 'Alice', lastName: 'Smith' });
    await signInAsAdmin(page, web.baseUrl, admin);
    await openChangePassword(user);

    await page.getByLabel('Choose Password').selectOption('Voice Mail');
    await page.getByLabel('Password', { exact: true }).fill('604817');
    await page.getByLabel('Confirm Password').fill('604817');
    expect(await page.getByLabel('User Must Change at Next Sign-In').isChecked()).toBe(true);
    await page.getByRole('button', { name: 'Save' }).click();

    await page.getByText('Updated Password').waitFor();
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');

    // The caller signs in with the new PIN, is told it must be changed, and chooses another.
    const call = await simulateCall({
      baseUrl: web.baseUrl,
      authToken: web.services.config.twilioAuthToken,
      keys: [`${user.extension}#`, '604817#', '739164#', '739164#', '*'],
    });
    expect(call.error).toBeNull();
    expect(heardKeys(call, web.services.catalog)).toEqual([
      'welcome',
      'signin.enter_id',
      'signin.enter_pin',
      'pin.expired',
      'pin.enter_new{min=6,max=20}',
      'pin.confirm',
      'pin.changed',
      'menu.main',
      'goodbye',
    ]);
  });

  it('when the administrator saves a trivial PIN, then the form error says why in a sentence, names the rule, and the fields are empty', async () => {
    const user = await createUser(web.services);
    await signInAsAdmin(page, web.baseUrl, admin);
    await openChangePassword(user);
    await page.getByLabel('Choose Password').selectOption('Voice Mail');
    await page.getByLabel('Password', { exact: true }).fill('123456');
    await page.getByLabel('Confirm Password').fill('123456');
    await page.getByRole('button', { name: 'Save' }).click();

    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toBe('That PIN is too easy to guess: it is an ascending or descending run of digits. Choose another (rule: trivial PIN).');
    expect(await page.getByText('Updated Password').count()).toBe(0);
    expect(await page.getByLabel('Password', { exact: true }).inputValue()).toBe('');
    expect(await page.getByLabel('Password', { exact: true }).getAttribute('aria-invalid')).toBe('true');
  });

  it('when a form is posted without a valid CSRF token, then the server refuses it with 403', async () => {
    const user = await createUser(web.services);
    await signInAsAdmin(page, web.baseUrl, admin);
    await openChangePassword(user);

    // A cross-site style post: the browser's cookies, but no token from the page.
    const forged = await page.request.post(`${web.baseUrl}/admin/users/${user.userId}/change-password`, {
      form: { target: 'voicemail', password: '604817', confirm: '604817', mustChange: 'on' },
      maxRedirects: 0,
    });
    expect(forged.status()).toBe(403);

    // The page's own form with its token tampered with.
    await page.evaluate(`document.querySelectorAll('input[name="_csrf"]').forEach((field) => { field.value = 'forged.token'; })`);
    await page.getByLabel('Password', { exact: true }).fill('604817');
    await page.getByLabel('Confirm Password').fill('604817');
    const answer = page.waitForResponse((r) => r.request().method() === 'POST' && r.url().endsWith('/change-password'));
    await page.getByRole('button', { name: 'Save' }).click();
    expect((await answer).status()).toBe(403);
    await page.getByRole('heading', { name: 'Form Refused' }).waitFor();

    const { rows } = await web.services.pool.query(`SELECT 1 FROM audit_events WHERE event = 'pin.changed' AND user_id = $1`, [user.userId]);
    expect(rows).toHaveLength(0);
  });

  it('when a locked user is unlocked on Password Settings, then the lock and failed count are cleared', async () => {
    const user = await createUser(web.services);
    for (let i = 0; i < 3; i++) {
      await web.services.pins.verifySignin({ extension: user.extension, pin: '000000', actor: { channel: 'phone', name: 'caller:test' } });
    }
    await web.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    await signInAsAdmin(page, web.baseUrl, admin);
    await page.goto(`${web.baseUrl}/admin/users/${user.userId}`);
    await page.getByRole('link', { name: 'Edit', exact: true }).click();
    await page.getByRole('link', { name: 'Password Settings' }).click();

    await page.getByRole('heading', { level: 1, name: /^Password Settings/ }).waitFor();
    expect(await page.getByLabel('Locked by Administrator').isChecked()).toBe(true);
    expect(await page.getByLabel('Failed Sign-In Attempts').textContent()).toBe('3');
    expect(await page.getByLabel('Time Locked by Intruder Detection').textContent()).not.toBe('Never');
    for (const label of ['User Cannot Change', 'User Must Change at Next Sign-In', 'Does Not Expire', 'Authentication Rule', 'Time Last Changed', 'Time of Last Failed Sign-In']) {
      expect(await page.getByLabel(label).isVisible(), label).toBe(true);
    }

    await page.getByRole('button', { name: 'Unlock' }).click();
    await page.getByText('Unlocked', { exact: true }).waitFor();
    expect(await page.getByLabel('Locked by Administrator').isChecked()).toBe(false);
    expect(await page.getByLabel('Failed Sign-In Attempts').textContent()).toBe('0');
    expect(await page.getByLabel('Time Locked by Intruder Detection').textContent()).toBe('Never');
    const signin = await web.services.pins.verifySignin({ extension: user.extension, pin: user.pin, actor: testActor });
    expect(signin.outcome).toBe('ok');
  });

  it('when a user changes their own PIN on the self-service page, then the new PIN works on the phone path', async () => {
    const user = await createUser(web.services);
    await web.services.webCredentials.setUserPassword(user.userId, 'my own web password', testActor);
    await web.services.pool.query(`UPDATE pin_credentials SET changed_at = now() - interval '2 days' WHERE user_id = $1`, [user.userId]);

    await page.goto(`${web.baseUrl}/me`);
    await page.getByLabel('Extension').fill(user.extension);
    await page.getByLabel('Web Password').fill('my own web password');
    await page.getByRole('button', { name: 'Sign In' }).click();
    await page.getByRole('heading', { name: 'Your PIN' }).waitFor();
    expect(await page.getByText('PIN Last Changed').isVisible()).toBe(true);

    await page.getByLabel('New PIN', { exact: true }).fill('135790');
    await page.getByLabel('Confirm PIN').fill('135790');
    await page.getByRole('button', { name: 'Change PIN' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('(rule: trivial PIN)');

    await page.getByLabel('New PIN', { exact: true }).fill('604817');
    await page.getByLabel('Confirm PIN').fill('604817');
    await page.getByRole('button', { name: 'Change PIN' }).click();
    const status = page.getByRole('status');
    await status.waitFor();
    expect(await status.textContent()).toContain('Your PIN was changed');
    const signin = await web.services.pins.verifySignin({ extension: user.extension, pin: '604817', actor: testActor });
    expect(signin.outcome).toBe('ok');
  });

  it('when axe-core checks the main pages, then none has a serious or critical violation', async () => {
    const user = await createUser(web.services, { firstName: 'Axe', lastName: 'Checked' });
    await web.services.webCredentials.setUserPassword(user.userId, 'my own web password', testActor);
    // So that the locked report has a table to check.
    const locked = await createUser(web.services, { firstName: 'Axe', lastName: 'Locked' });
    await web.services.pins.updateSettings(locked.userId, { flags: { lockedByAdmin: true } }, testActor);
    const problems: string[] = [];
    const check = async (what: string) => {
      for (const v of await seriousAxeViolations(page)) problems.push(`${what}: ${v.id} (${v.impact}) ${v.help} at ${JSON.stringify(v.nodes.map((n) => n.target))}`);
    };

    await page.goto(`${web.baseUrl}/`);
    await check('landing page');
    await page.goto(`${web.baseUrl}/no-such-page`);
    await check('404 outside the areas');
    await page.goto(`${web.baseUrl}/admin/signin`);
    await check('admin sign-in');
    await signInAsAdmin(page, web.baseUrl, admin);
    for (const path of [
      '/admin/users',
      `/admin/users/${user.userId}`,
      `/admin/users/${locked.userId}`,
      `/admin/users/${user.userId}/edit`,
      `/admin/users/${user.userId}/password-settings`,
      `/admin/users/${user.userId}/change-password`,
      '/admin/users/new',
      '/admin/users/import',
      '/admin/rules',
      '/admin/rules/default',
      '/admin/rules/new',
      '/admin/reports',
      '/admin/reports/locked',
      '/admin/audit',
      '/admin/deliveries',
      '/admin/tokens',
      '/admin/no-such-page',
    ]) {
      await page.goto(`${web.baseUrl}${path}`);
      await check(path);
    }
    // A page with a form error showing.
    await page.goto(`${web.baseUrl}/admin/users/${user.userId}/change-password`);
    await page.getByLabel('Password', { exact: true }).fill('111111');
    await page.getByLabel('Confirm Password').fill('111111');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByRole('alert').waitFor();
    await check('change password with an error');

    await page.goto(`${web.baseUrl}/me`);
    await check('self-service sign-in');
    await page.getByLabel('Extension').fill(user.extension);
    await page.getByLabel('Web Password').fill('my own web password');
    await page.getByRole('button', { name: 'Sign In' }).click();
    await page.getByRole('heading', { name: 'Your PIN' }).waitFor();
    await check('self-service PIN page');

    expect(problems).toEqual([]);
  });

  it('when every admin page is shown 1280 and 390 px wide, then a screenshot is saved and none scrolls sideways', { timeout: 240_000 }, async () => {
    // Pages with something in every part: a locked user with contact details, audit rows, a failed delivery's table.
    const user = await createUser(web.services, { firstName: 'Wide', lastName: 'Screenshot' });
    await web.services.accounts.updateUser(user.userId, { email: 'wide.screenshot@example.com', phone: '+15557770042' }, testActor);
    await web.services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    await web.services.webCredentials.setUserPassword(user.userId, 'my own web password', testActor);
    await web.services.accounts.setRule('a-rule-with-a-long-name', { minLength: 8, inactiveDays: 90, lockoutMinutes: null }, testActor);

    const pages: ReadonlyArray<readonly [name: string, path: string, prepare?: () => Promise<void>]> = [
      ['users', '/admin/users'],
      ['user', `/admin/users/${user.userId}`],
      ['user-basics', `/admin/users/${user.userId}/edit`],
      ['user-password-settings', `/admin/users/${user.userId}/password-settings`],
      ['user-change-password', `/admin/users/${user.userId}/change-password`],
      [
        'user-change-password-refused',
        `/admin/users/${user.userId}/change-password`,
        async () => {
          await page.getByLabel('Password', { exact: true }).fill('123456');
          await page.getByLabel('Confirm Password').fill('123456');
          await page.getByRole('button', { name: 'Save' }).click();
          await page.getByRole('alert').waitFor();
        },
      ],
      ['user-delete', `/admin/users/${user.userId}/delete`],
      ['user-new', '/admin/users/new'],
      [
        'user-new-refused',
        '/admin/users/new',
        async () => {
          // Filled (the browser checks "required" itself), and wrong in several ways.
          await page.getByLabel('Extension').fill('12a');
          await page.getByLabel('First Name').fill('New');
          await page.getByLabel('Last Name').fill('Person');
          await page.getByLabel('Phone').fill('555-0100');
          await page.getByLabel('Initial PIN').fill('12');
          await page.getByLabel('Confirm PIN').fill('13');
          await page.getByRole('button', { name: 'Save' }).click();
          await page.getByRole('alert').first().waitFor();
        },
      ],
      ['users-import', '/admin/users/import'],
      ['rules', '/admin/rules'],
      ['rule', '/admin/rules/default'],
      ['rule-new', '/admin/rules/new'],
      ['reports', '/admin/reports'],
      ['report-locked', '/admin/reports/locked'],
      ['audit', '/admin/audit'],
      ['deliveries', '/admin/deliveries'],
      ['tokens', '/admin/tokens'],
      ['not-found', '/admin/no-such-page'],
    ];
    const sideways: string[] = [];
    const wrapped: string[] = [];
    const measure = async (name: string) => {
      const width = await screenshotAndMeasure(page, name);
      if (width.scrollWidth > width.viewport) sideways.push(`${name} at ${width.viewport} px: ${width.scrollWidth} px wide (${width.overflowing.join(', ')})`);
    };
    for (const viewport of VIEWPORTS) {
      await page.setViewportSize(viewport);
      for (const [name, path] of [['landing', '/'], ['admin-signin', '/admin/signin']] as const) {
        await page.goto(`${web.baseUrl}${path}`);
        await measure(name);
      }
      await signInAsAdmin(page, web.baseUrl, admin);
      for (const [name, path, prepare] of pages) {
        await page.goto(`${web.baseUrl}${path}`);
        await prepare?.();
        await measure(name);
        // On a laptop, Sign Out stays on the brand's row: one line of header, not a second one for it.
        if (viewport.width === 1280) {
          const brand = await page.locator('header .brand').boundingBox();
          const signOut = await page.getByRole('button', { name: 'Sign Out' }).boundingBox();
          if (!brand || !signOut || Math.abs(brand.y + brand.height / 2 - (signOut.y + signOut.height / 2)) > 4) wrapped.push(name);
        }
      }
      await page.getByRole('button', { name: 'Sign Out' }).click();
      await page.waitForURL(/\/admin\/signin/);
    }
    expect(sideways).toEqual([]);
    expect(wrapped, 'pages whose Sign Out is not beside the brand').toEqual([]);
  });

  // ---- Users > Import Users (DESIGN §9) ----

  /** The text of each row of the results table: line, extension, result, reason. */
  async function tableRows(): Promise<string[][]> {
    const rows = page.locator('table tbody tr');
    const cells: string[][] = [];
    for (let i = 0; i < (await rows.count()); i++) {
      cells.push((await rows.nth(i).locator('td').allTextContents()).map((text) => text.trim()));
    }
    return cells;
  }

  it('when an administrator uploads a file with good and bad rows, then the preview shows the dry run and changes nothing, and Apply creates the users', async () => {
    await createUser(web.services, { extension: '6001', firstName: 'Olga', lastName: 'Old' });
    const csv = [
      'extension,first,last,phone,email',
      '6002,Nina,"Nowak, Jr",+15556000002,nina@example.com',
      '6001,Olivia,,,',
      '6003,Bad,Phone,12345,',
      '6004,,,,',
    ].join('\r\n');

    await signInAsAdmin(page, web.baseUrl, admin);
    await page.getByRole('link', { name: 'Import Users' }).click();
    await page.getByRole('heading', { level: 1, name: 'Import Users' }).waitFor();
    await page.getByLabel('CSV File').setInputFiles({ name: 'staff.csv', mimeType: 'text/csv', buffer: Buffer.from(csv) });
    await page.getByRole('button', { name: 'Preview' }).click();

    await page.getByRole('heading', { level: 1, name: /^Import Preview/ }).waitFor();
    expect(await page.getByRole('status').textContent()).toBe('4 rows: 1 created, 1 updated, 0 unchanged, 2 errors (dry run: nothing was changed).');
    expect(await tableRows()).toEqual([
      ['2', '6002', 'Created', ''],
      ['3', '6001', 'Updated', ''],
      ['4', '6003', 'Error', 'phone number "12345" is not in E.164 form (like +15551230001)'],
      ['5', '6004', 'Error', 'a new user needs a first and a last name'],
    ]);
    expect(await seriousAxeViolations(page)).toEqual([]);
    expect(await web.services.accounts.findAccount({ extension: '6002' })).toBeNull();
    expect((await web.services.accounts.findAccount({ extension: '6001' }))?.user.firstName).toBe('Olga');

    await page.getByRole('button', { name: 'Apply' }).click();
    await page.getByRole('heading', { level: 1, name: /^Import Results/ }).waitFor();
    expect(await page.getByRole('status').textContent()).toBe('4 rows: 1 created, 1 updated, 0 unchanged, 2 errors.');
    expect((await tableRows()).map((row) => row[2])).toEqual(['Created', 'Updated', 'Error', 'Error']);

    await page.getByRole('link', { name: 'Back to Users' }).click();
    await page.getByLabel('Search by name or extension').fill('600');
    await page.getByRole('button', { name: 'Search' }).click();
    const users = page.locator('table tbody tr');
    await users.first().waitFor();
    expect((await users.allTextContents()).map((row) => row.replace(/\s+/g, ' ').trim())).toEqual([
      '6001 Olivia Old default OK',
      '6002 Nina Nowak, Jr +15556000002 default Enrollment pending',
    ]);
  });

  it('when the chosen file is too large, then the import form comes back saying so', async () => {
    await signInAsAdmin(page, web.baseUrl, admin);
    await page.goto(`${web.baseUrl}/admin/users/import`);
    const big = Buffer.alloc(2 * 1024 * 1024 + 1, 'a');
    await page.getByLabel('CSV File').setInputFiles({ name: 'big.csv', mimeType: 'text/csv', buffer: big });
    await page.getByRole('button', { name: 'Preview' }).click();
    const alert = page.getByRole('alert');
    await alert.waitFor();
    expect(await alert.textContent()).toContain('The file is larger than 2 MB.');
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe('Import Users');
  });
});
