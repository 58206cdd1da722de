import { Router } from 'express';
import { AUDIT_EVENTS } from '../../audit/events.js';
import { presentAuditDetails } from '../../audit/present.js';
import { queryPage, queryText } from '../forms.js';
import { html } from '../html.js';
import { formatTime, phraseHtml, selectField, tableRegion, textField } from '../layout.js';
import { allow, renderAdmin, type AdminDeps } from './context.js';

const AUDIT_PAGE_SIZE = 50;

/** The filter's choices: every event pinline writes, and each family ('pin' for every 'pin.*'). */
const EVENT_CHOICES = [...new Set(AUDIT_EVENTS.flatMap((event) => [event.split('.')[0] as string, event]))].sort();

/** The audit log, newest first, filtered by user (extension) and event type. */
export function auditRoutes(deps: AdminDeps): Router {
  const { services } = deps;
  const router = Router();

  router.get('/audit', allow(deps, 'read'), async (req, res) => {
    const extension = queryText(req, 'extension').slice(0, 15);
    const event = queryText(req, 'event').slice(0, 100);
    const page = queryPage(req);
    // One extra row tells whether there is a next page.
    const events = await services.audit.list({
      ...(extension ? { extension } : {}),
      ...(event ? { event } : {}),
      limit: AUDIT_PAGE_SIZE + 1,
      offset: (page - 1) * AUDIT_PAGE_SIZE,
    });
    const more = events.length > AUDIT_PAGE_SIZE;
    const shown = events.slice(0, AUDIT_PAGE_SIZE);
    const pageLink = (n: number) =>
      `/admin/audit?${new URLSearchParams({ ...(extension ? { extension } : {}), ...(event ? { event } : {}), page: String(n) }).toString()}`;
    const eventOptions = [{ value: '', label: 'All events' }, ...EVENT_CHOICES.map((t) => ({ value: t, label: t }))];
    if (event && !EVENT_CHOICES.includes(event)) eventOptions.push({ value: event, label: event });

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
    : tableRegion(
        'Audit events',
        html`<table>
  <caption>Newest first</caption>
  <thead><tr><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Channel</th><th scope="col">Actor</th><th scope="col">User</th><th scope="col">Details</th></tr></thead>
  <tbody>
  ${shown.map(
    (e) => html`<tr><td>${formatTime(e.at)}</td><td>${e.event}</td><td>${e.channel}</td><td>${e.actor}</td><td>${e.extension ?? ''}</td><td>${phraseHtml(presentAuditDetails(e.event, e.details))}</td></tr>`,
  )}
  </tbody>
</table>`,
      )
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
