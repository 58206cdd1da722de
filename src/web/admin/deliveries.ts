import { Router } from 'express';
import { queryPage } from '../forms.js';
import { html } from '../html.js';
import { formatTime } from '../layout.js';
import { allow, renderAdmin, type AdminDeps } from './context.js';

const PAGE_SIZE = 50;

/** Notifications that could not be delivered after every retry (DESIGN §8), and where each channel goes. */
export function deliveryRoutes(deps: AdminDeps): Router {
  const { services } = deps;
  const router = Router();

  router.get('/deliveries', allow(deps, 'read'), async (req, res) => {
    const page = queryPage(req);
    // One extra row tells whether there is a next page.
    const failures = await services.notifications.failures(PAGE_SIZE + 1, (page - 1) * PAGE_SIZE);
    const more = failures.length > PAGE_SIZE;
    renderAdmin(deps, req, res, { title: 'Deliveries', section: 'deliveries' }, () => html`
<h1>Deliveries</h1>
<p class="lead">Messages to users (a reset PIN, and notices of changes and lockouts) go through a queue that retries for about ten minutes. Those that still could not be delivered are listed here; their text is not kept.</p>
<h2>Channels</h2>
<ul>${services.notifications.notes.map((note) => html`<li>${note}</li>`)}</ul>
<h2>Not delivered</h2>
${
  failures.length === 0
    ? html`<p>Every message was delivered.</p>`
    : html`<table>
  <caption>Newest first</caption>
  <thead><tr><th scope="col">Time</th><th scope="col">User</th><th scope="col">Message</th><th scope="col">Channel</th><th scope="col">To</th><th scope="col" class="num">Attempts</th><th scope="col">Last Error</th></tr></thead>
  <tbody>
  ${failures.slice(0, PAGE_SIZE).map(
    (f) => html`<tr><td>${formatTime(f.at)}</td><td>${f.userId !== null ? html`<a href="/admin/users/${f.userId}">${f.extension ?? ''}</a>` : (f.extension ?? '')}</td><td>${f.kind}</td><td>${f.channel}</td><td>${f.recipient}</td><td class="num">${f.attempts}</td><td>${f.error}</td></tr>`,
  )}
  </tbody>
</table>`
}
${
  page > 1 || more
    ? html`<nav class="pager" aria-label="Pages">
  ${page > 1 ? html`<a href="/admin/deliveries?page=${page - 1}" rel="prev">Newer</a>` : ''}
  <span>Page ${page}</span>
  ${more ? html`<a href="/admin/deliveries?page=${page + 1}" rel="next">Older</a>` : ''}
</nav>`
    : ''
}`);
  });

  return router;
}
