import type { ImportReport, ImportResult } from '../../../accounts/import.js';
import { importSummary, USER_CSV_FIELDS } from '../../../accounts/present.js';
import { html, type SafeHtml } from '../../html.js';
import { checkboxField, csrfField, formError } from '../../layout.js';
import { UPLOAD_LIMIT_BYTES } from '../../uploads.js';

// The HTML of Users > Import Users: the upload form, the preview (a dry run) and the results.

export const IMPORT_PATH = '/admin/users/import';
export const APPLY_PATH = '/admin/users/import/apply';

const RESULT_LABELS: Readonly<Record<ImportResult, string>> = {
  created: 'Created',
  updated: 'Updated',
  unchanged: 'Unchanged',
  error: 'Error',
};

const RESET_PINS_HELP = 'sent by text message or e-mail; a new user that neither reaches is a bad row';

export function importForm(csrf: string, options: { error?: string; resetPins: boolean }): SafeHtml {
  return html`
<h1>Import Users</h1>
<p class="lead">Create and update users from a CSV file, matched by extension. Nothing changes until you apply the preview.</p>
<p>The first line is a header with <code>extension</code> and any of ${USER_CSV_FIELDS.slice(1).map((name, i) => html`${i > 0 ? ', ' : ''}<code>${name}</code>`)}.
A new user needs <code>first</code> and <code>last</code>; for a user who exists, an empty cell leaves that field as it is. A file from <code>pinline user export</code> imports as it is.</p>
${formError(options.error)}
<form method="post" action="${IMPORT_PATH}" enctype="multipart/form-data" class="stacked">
  ${csrfField(csrf)}
  <div class="field">
    <label for="file">CSV File</label>
    <input id="file" name="file" type="file" accept=".csv,text/csv" required aria-describedby="file-help${options.error ? ' form-error' : ''}"${options.error ? html` aria-invalid="true"` : ''}>
    <span class="help" id="file-help">UTF-8, at most ${UPLOAD_LIMIT_BYTES / (1024 * 1024)} MB</span>
  </div>
  ${checkboxField({ id: 'resetPins', name: 'resetPins', label: 'Reset the PIN of each created user', checked: options.resetPins, help: RESET_PINS_HELP })}
  <button type="submit">Preview</button>
</form>
<p><a href="/admin/users">Back to Users</a></p>`;
}

/** Rows past those listed, counted by result, so a large file's page stays small. */
function unlistedRows(report: ImportReport): SafeHtml {
  const more = report.total - report.rows.length;
  if (more <= 0) return html``;
  const errors = report.counts.error - report.rows.filter((row) => row.result === 'error').length;
  return html`<p class="help">The first ${report.rows.length} rows are listed; ${more} more are not${errors > 0 ? html`, ${errors} of them errors` : ''}. <code>pinline user import --dry-run</code> lists every row.</p>`;
}

function resultsTable(report: ImportReport, caption: string): SafeHtml {
  if (report.total === 0) return html`<p>The file has no data rows.</p>`;
  return html`${unlistedRows(report)}<table class="import-results">
  <caption>${caption}</caption>
  <thead><tr><th scope="col">Line</th><th scope="col">Extension</th><th scope="col">Result</th><th scope="col">Reason</th></tr></thead>
  <tbody>
  ${report.rows.map(
    (row) => html`<tr${row.result === 'error' ? html` class="error"` : ''}>
    <td>${row.line}</td>
    <td>${row.extension}</td>
    <td>${RESULT_LABELS[row.result]}</td>
    <td>${row.reason ?? ''}</td>
  </tr>`,
  )}
  </tbody>
</table>`;
}

/** The dry run's rows, and Apply: the same file goes back, as base64 in a hidden field, to be imported for real. */
export function importPreview(csrf: string, report: ImportReport, file: { base64: string; name: string; resetPins: boolean; mac: string }): SafeHtml {
  const changes = report.counts.created + report.counts.updated;
  return html`
<h1>Import Preview <span class="muted">${file.name}</span></h1>
<p class="message status" role="status">${importSummary(report)}.</p>
${report.counts.error > 0 ? html`<p>Rows marked Error will be left out; the others apply. Or correct the file and preview it again.</p>` : ''}
${file.resetPins ? html`<p>Each created user’s PIN will be reset and sent to them.</p>` : html`<p>Created users get a PIN no one knows: they can sign in by phone once an administrator sets or resets one.</p>`}
${
  changes > 0
    ? html`<form method="post" action="${APPLY_PATH}" enctype="multipart/form-data" class="actions">
  ${csrfField(csrf)}
  <input type="hidden" name="csv" value="${file.base64}">
  <input type="hidden" name="name" value="${file.name}">
  <input type="hidden" name="mac" value="${file.mac}">
  ${file.resetPins ? html`<input type="hidden" name="resetPins" value="on">` : ''}
  <button type="submit">Apply</button>
  <a href="${IMPORT_PATH}">Choose another file</a>
</form>`
    : html`<p class="actions">Nothing to apply. <a href="${IMPORT_PATH}">Choose another file</a></p>`
}
${resultsTable(report, `What the import would do with ${file.name}`)}`;
}

export function importResults(report: ImportReport, name: string): SafeHtml {
  return html`
<h1>Import Results <span class="muted">${name}</span></h1>
<p class="message status" role="status">${importSummary(report)}.</p>
<p class="actions"><a class="button secondary" href="/admin/users">Back to Users</a> <a href="${IMPORT_PATH}">Import another file</a></p>
${resultsTable(report, `What the import did with ${name}`)}`;
}
