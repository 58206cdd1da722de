import { once } from 'node:events';
import { Router } from 'express';
import type { ReportPage } from '../../accounts/reports.js';
import { queryPage } from '../forms.js';
import { html } from '../html.js';
import { formatTime, pager, phraseHtml } from '../layout.js';
import { allow, renderAdmin, type AdminDeps } from './context.js';

/** Rows on one page of a report; the CSV always has them all. */
const PAGE_SIZE = 500;

function userCount(count: number): string {
  return count === 1 ? '1 user' : `${count.toLocaleString('en-US')} users`;
}

/** Reports of DESIGN §9: the list with each count, one report's users, and its CSV download. */
export function reportRoutes(deps: AdminDeps): Router {
  const { services } = deps;
  const router = Router();

  router.get('/reports', allow(deps, 'read'), async (req, res) => {
    const { now, counts } = await services.reports.counts();
    renderAdmin(deps, req, res, { title: 'Reports', section: 'reports' }, () => html`
<h1>Reports</h1>
<p class="lead">Each report is worked out when the page is loaded, with the same rules as a user's PIN status.</p>
<table>
  <caption>As of ${formatTime(now)}</caption>
  <thead><tr><th scope="col">Report</th><th scope="col">Who is in it</th><th scope="col" class="num">Users</th></tr></thead>
  <tbody>
  ${counts.map(
    ({ report, count }) =>
      html`<tr><td><a href="/admin/reports/${report.name}">${report.title}</a></td><td>${report.description}</td><td class="num">${count}</td></tr>`,
  )}
  </tbody>
</table>`);
  });

  // The CSV route first: `expired.csv` is not a report's name. It streams as the rows are read;
  // an unknown name is refused (404) before anything is sent.
  router.get('/reports/:name.csv', allow(deps, 'read'), async (req, res) => {
    await services.reports.csv(String(req.params.name), async (piece, { report, now }) => {
      if (!res.headersSent) {
        res.set('Content-Type', 'text/csv; charset=utf-8').attachment(`pinline-${report.name}-${now.toISOString().slice(0, 10)}.csv`);
      }
      // As the users' export does: a slow download holds the next batch back; a browser gone gets nothing more.
      if (res.destroyed) return;
      if (!res.write(piece)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    });
    res.end();
  });

  router.get('/reports/:name', allow(deps, 'read'), async (req, res) => {
    const result = await services.reports.page(String(req.params.name), queryPage(req), PAGE_SIZE);
    renderAdmin(deps, req, res, { title: result.report.title, section: 'reports' }, () => reportPage(result, queryPage(req)));
  });

  return router;
}

function reportPage(result: ReportPage, page: number) {
  const { report, rows: shown, total, now } = result;
  const first = (page - 1) * PAGE_SIZE;
  const pages = Math.max(1, Math.ceil(total / PAGE_SIZE));
  const pageLink = (n: number) => `/admin/reports/${report.name}?page=${n}`;
  return html`
<h1>${report.title}</h1>
<p class="lead">${report.description}</p>
<p class="actions"><a class="button secondary" href="/admin/reports/${report.name}.csv" download>Download CSV</a> <a href="/admin/reports">All reports</a></p>
${
  total === 0
    ? html`<p>No users, as of ${formatTime(now)}.</p>`
    : html`<table>
  <caption>${userCount(total)} as of ${formatTime(now)}${pages > 1 ? html`, ${first + 1}–${first + shown.length} shown` : ''}</caption>
  <thead><tr><th scope="col">Extension</th><th scope="col">First Name</th><th scope="col">Last Name</th><th scope="col">${report.factLabel}</th></tr></thead>
  <tbody>
  ${shown.map(
    (row) =>
      html`<tr><td><a href="/admin/users/${row.userId}">${row.extension}</a></td><td>${row.firstName}</td><td>${row.lastName}</td><td>${phraseHtml(row.fact)}</td></tr>`,
  )}
  </tbody>
</table>`
}
${pager(page, pages, pageLink)}`;
}
