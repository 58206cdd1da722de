import { describe, expect, it } from 'vitest';
import { createAdmin, useWebServer } from '../support/browser.js';
import { textOf, WebClient } from '../support/web-client.js';

// The way in for a new operator (DESIGN §4): the landing page, 404s, and /admin before anyone can sign in.

const web = useWebServer();

/** The links of the main navigation, when a page has it. */
function navLinks(page: string): string[] {
  const nav = /<nav aria-label="Main">([\s\S]*?)<\/nav>/.exec(page)?.[1] ?? '';
  return [...nav.matchAll(/href="([^"]+)"/g)].map((m) => m[1] as string);
}

describe('the way in', () => {
  it('when / is opened, then a page links to /admin and /me and says how to create the first administrator', async () => {
    const response = await fetch(`${web.baseUrl}/`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(response.headers.get('content-security-policy')).toContain("default-src 'none'");
    const page = await response.text();
    expect(page).toContain('href="/admin"');
    expect(page).toContain('href="/me"');
    expect(textOf(page)).toContain('npx pinline admin add USERNAME');
    // It reads nothing: no session cookie is handed out.
    expect(response.headers.getSetCookie()).toEqual([]);
  });

  it('when a path nobody serves is opened, then a 404 page says so and leads back to /, not express’s bare "Cannot GET"', async () => {
    for (const path of ['/nope', '/admin.php', '/voicemail']) {
      const response = await fetch(`${web.baseUrl}${path}`);
      expect(response.status, path).toBe(404);
      const page = await response.text();
      expect(textOf(page), path).toContain('Not Found There is no such page.');
      expect(page, path).toContain('<a href="/">Back to the start page</a>');
      expect(page, path).not.toContain('Cannot GET');
    }
    // The API keeps its own JSON answer.
    const api = await fetch(`${web.baseUrl}/api/nope`);
    expect(api.headers.get('content-type')).toMatch(/^application\/json/);
  });

  it('when no administrator exists, then /admin says how to create the first one; once one exists, it does not', async () => {
    const client = new WebClient(web.baseUrl);
    const before = await client.load('/admin');
    expect(textOf(before.body)).toContain('There is no administrator yet. Create the first one on the server, in the project folder, then sign in here: npx pinline admin add USERNAME');
    const admin = await createAdmin(web.services);
    const after = await client.load('/admin');
    expect(textOf(after.body)).not.toContain('no administrator yet');
    expect((await client.signInAsAdmin(admin)).status).toBe(200);
  });

  it('when a signed-in administrator opens a page that is not there, then the 404 keeps the navigation and Sign Out', async () => {
    const client = new WebClient(web.baseUrl);
    await client.signInAsAdmin(await createAdmin(web.services));
    const signedIn = await client.load('/admin/users');
    for (const path of ['/admin/nope', '/admin/users/999999']) {
      const missing = await client.load(path);
      expect(missing.status, path).toBe(404);
      expect(navLinks(missing.body), path).toEqual(navLinks(signedIn.body));
      expect(navLinks(missing.body).length, path).toBeGreaterThan(3);
      expect(textOf(missing.body), path).toContain('Sign Out');
    }
  });
});
