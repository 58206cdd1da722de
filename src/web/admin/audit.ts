import { Router } from 'express';
import { listAudit } from '../../db/audit.js';
import type { Queryable } from '../../db/pool.js';
import { queryPage, queryText } from '../forms.js';
import { html } from '../html.js';
import { formatTime, selectField, textField } from '../layout.js';
import { renderAdmin, type AdminDeps } from './context.js';

export const AUDIT_PAGE_SIZE = 50;

/** The event types seen so far, for the filter's choices. */
async function eventTypes(db: Queryable): Promise<string[]> {
  const { rows } = await db.query('SELECT DISTINCT event FROM audit_events ORDER BY event');
  return rows.map((r) => r.event as string);
}

function detailsText(details: Record<string, unknown>): string {
  const text = JSON.stringify(details);
  return text === '{}' ? '' : text;
}

/** The audit log, newest first, filtered by user (extension) and event type. */
export function auditRoutes(deps: AdminDeps): Router {
  const { services } = deps;
  const router = Router();

  router.get('/audit', async (req, res) => {
    const extension = queryText(req, 'extension').slice(0, 15);
    const event = queryText(req, 'event').slice(0, 100);
    const page = queryPage(req);
    const [events, types] = await Promise.all([
      // One extra row tells whether there is a next page.
      listAudit(services.pool, {
        ...(extension ? { extension } : {}),
        ...(event ? { event } : {}),
        limit: AUDIT_PAGE_SIZE + 1,
        offset: (page - 1) * AUDIT_PAGE_SIZE,
      }),
      eventTypes(services.pool),
    ]);
    const more = events.length > AUDIT_PAGE_SIZE;
    const shown = events.slice(0, AUDIT_PAGE_SIZE);
    const pageLink = (n: number) =>
      `/admin/audit?${new URLSearchParams({ ...(extension ? { extension } : {}), ...(event ? { event } : {}), page: String(n) }).toString()}`;
    const eventOptions = [{ value: '', label: 'All events' }, ...types.map((t) => ({ value: t, label: t }))];
    if (event && !types.includes(event)) eventOptions.push({ value: event, label: event });

    renderAdmin(deps, req, res, { title: 'Audit Log', section: 'audit' }, () => html`
<h1>Audit Log</h1>
<form method="get" action="/admin/audit" class="search" aria-label="Filter events">
  ${textField({ id: 'extension', name: 'extension', label: 'User (extension)', value: extension, inputmode: 'numeric' })}
  ${selectField({ id: 'event', name: 'event', label: 'Event Type', options: eventOptions, selected: event })}
  <button type="submit">Filter</button>
</form>
${
  shown.length === 0
    ? html`<p>No events match.</p>`
    : html`<table>
  <caption>Newest first</caption>
  <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Channel</th><th scope="col">Actor</th><th scope="col">User</th><th scope="col">Details</th></tr></thead>
  <tbody>
  ${shown.map(
    (e) => html`<tr><td>${formatTime(e.at)}</td><td>${e.event}</td><td>${e.channel}</td><td>${e.actor}</td><td>${e.extension ?? ''}</td><td><code>${detailsText(e.details)}</code></td></tr>`,
  )}
  </tbody>
</table>`
}
${
  page > 1 || more
    ? html`<nav class="pager" aria-label="Pages">
  ${page > 1 ? html`<a href="${pageLink(page - 1)}" rel="prev">Newer events</a>` : ''}
  <span>Page ${page}</span>
  ${more ? html`<a href="${pageLink(page + 1)}" rel="next">Older events</a>` : ''}
</nav>`
    : ''
}`);
  });

  return router;
}
