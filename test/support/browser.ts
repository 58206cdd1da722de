import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll } from 'vitest';
import type { Role } from '../../src/accounts/roles.js';
import type { Config } from '../../src/config.js';
import type { Services } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from './db.js';
import { startPhoneServer, type PhoneServer } from './phone.js';

import { CHROMIUM_PATH, CHROMIUM_SKIP_REASON, hasChromium } from './chromium.js';

export { hasChromium };

/** Says once, in the test output, why a browser suite is reported as skipped. */
export function announceBrowserSkip(): void {
  if (!hasChromium) console.warn(CHROMIUM_SKIP_REASON);
}

function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export interface WebFixture {
  database: TestDatabase;
  server: PhoneServer;
  services: Services;
  /** http://127.0.0.1:<port>, also the PUBLIC_BASE_URL, so a simulated call can follow on the same server. */
  baseUrl: string;
}

/**
 * The real app (createApp) on a fresh test database, listening on an ephemeral port, for the
 * calling test file.
 */
export function useWebServer(overrides: Partial<Config> = {}): WebFixture {
  const fixture = {} as WebFixture;
  beforeAll(async () => {
    fixture.database = await createTestDatabase();
    fixture.server = await startPhoneServer(fixture.database.url, overrides);
    fixture.services = fixture.server.services;
    fixture.baseUrl = fixture.server.baseUrl;
  });
  afterAll(async () => {
    await fixture.server?.close();
    await fixture.database?.drop();
  });
  return fixture;
}

/** One Chromium for the calling test file; nothing is launched when Chromium is missing. */
export function useBrowser(): { browser: Browser } {
  const holder = {} as { browser: Browser };
  beforeAll(async () => {
    if (hasChromium) holder.browser = await launchChromium();
  });
  afterAll(async () => {
    await holder.browser?.close();
  });
  return holder;
}

// A type alias, not an interface, so it can be posted as form fields (Record<string, string>).
export type AdminCredentials = { username: string; password: string };

let adminSequence = 0;

/** An administrator account (as `pinline admin add` makes one). */
export async function createAdmin(services: Services, username?: string, role: Role = 'system'): Promise<AdminCredentials> {
  adminSequence += 1;
  const credentials = { username: username ?? `admin${adminSequence}`, password: `correct horse battery ${adminSequence}` };
  await services.webCredentials.createAdmin(credentials.username, credentials.password, { channel: 'cli', name: 'test' }, role);
  return credentials;
}

/** Step 1 of DESIGN §7: sign in at /admin. */
export async function signInAsAdmin(page: Page, baseUrl: string, admin: AdminCredentials): Promise<void> {
  await page.goto(`${baseUrl}/admin`);
  await page.getByLabel('Username').fill(admin.username);
  await page.getByLabel('Password', { exact: true }).fill(admin.password);
  await page.getByRole('button', { name: 'Sign In' }).click();
  await page.waitForURL(/\/admin\/users/);
}

export interface AxeViolation {
  id: string;
  impact: 'minor' | 'moderate' | 'serious' | 'critical' | null;
  help: string;
  nodes: Array<{ target: unknown[] }>;
}

const AXE_SCRIPT = createRequire(import.meta.url).resolve('axe-core/axe.min.js');

/**
 * Runs axe-core on the page and returns its serious and critical violations. The page's CSP
 * forbids injected scripts, so the context must be made with `bypassCSP: true`.
 */
export async function seriousAxeViolations(page: Page): Promise<AxeViolation[]> {
  await page.addScriptTag({ path: AXE_SCRIPT });
  // A string expression: the tests are compiled without DOM types, and axe is a page global.
  const result = (await page.evaluate(
    `axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact ?? null, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target })) })))`,
  )) as AxeViolation[];
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical');
}

/** Where the browser suite leaves its screenshots (git-ignored): one folder per viewport width. */
const SCREENSHOTS_DIR = fileURLToPath(new URL('../../test-output/screenshots/', import.meta.url));

/** The widths every admin page is looked at: a laptop, and a phone held upright. */
export const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 390, height: 844 },
] as const;

export interface PageWidth {
  /** How wide the page's content is; more than the viewport means the page scrolls sideways. */
  scrollWidth: number;
  viewport: number;
  /** The widest elements that stick out past the viewport, for the failure message. */
  overflowing: string[];
}

/**
 * Saves a full-page screenshot of what the page shows now as SCREENSHOTS_DIR/<width>/<name>.png,
 * and measures whether the page scrolls sideways.
 */
export async function screenshotAndMeasure(page: Page, name: string): Promise<PageWidth> {
  const viewport = page.viewportSize()?.width ?? 0;
  const dir = path.join(SCREENSHOTS_DIR, String(viewport));
  mkdirSync(dir, { recursive: true });
  await page.screenshot({ path: path.join(dir, `${name}.png`), fullPage: true });
  // A string expression: the tests are compiled without DOM types.
  return (await page.evaluate(`(() => {
    const width = document.documentElement.clientWidth;
    const overflowing = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > width + 0.5)
      .slice(0, 5)
      .map((el) => el.tagName.toLowerCase() + (el.className ? '.' + String(el.className).split(' ').join('.') : '') + ' ' + Math.round(el.getBoundingClientRect().right) + 'px');
    return { scrollWidth: document.scrollingElement.scrollWidth, viewport: window.innerWidth, overflowing };
  })()`)) as PageWidth;
}
