import type { Phrase } from '../accounts/present.js';
import { mayDo, type Role, type RoleAction } from '../accounts/roles.js';
import type { SecretField } from '../secret-fields.js';
import { html, type HtmlValue, type SafeHtml } from './html.js';
import type { Flash } from './session.js';

export const STYLESHEET_PATH = '/admin/style.css';

export type AdminSection = 'users' | 'rules' | 'reports' | 'audit' | 'deliveries' | 'tokens';

/** The parts of the site: the administrators' pages, the users' page, and the landing page and 404s. */
export type Area = 'admin' | 'me' | 'site';

const AREAS: Readonly<Record<Area, { home: string; brand: string }>> = {
  admin: { home: '/admin', brand: 'pinline Administration' },
  me: { home: '/me', brand: 'pinline Self-Service' },
  site: { home: '/', brand: 'pinline' },
};

export interface PageFrame {
  title: string;
  csrf: string;
  area: Area;
  /** Who is signed in, shown next to Sign Out; null on the sign-in pages. */
  signedInAs?: string | null;
  /** The signed-in administrator's role: the navigation shows only the sections it may open. */
  role?: Role | null;
  section?: AdminSection;
  flash?: Flash | null;
}

/** The sections, each with the action its page needs (DESIGN §11). */
const ADMIN_NAV: ReadonlyArray<[AdminSection, string, string, RoleAction]> = [
  ['users', 'Users', '/admin/users', 'read'],
  ['rules', 'Authentication Rules', '/admin/rules', 'read'],
  ['reports', 'Reports', '/admin/reports', 'read'],
  ['audit', 'Audit Log', '/admin/audit', 'read'],
  ['deliveries', 'Deliveries', '/admin/deliveries', 'read'],
  ['tokens', 'API Tokens', '/admin/tokens', 'tokens.manage'],
];

export function csrfField(token: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${token}">`;
}

function flashMessage(flash: Flash | null | undefined): SafeHtml {
  if (!flash) return html``;
  return flash.kind === 'status'
    ? html`<p class="message status" role="status">${flash.text}</p>`
    : html`<p class="message error" role="alert">${flash.text}</p>`;
}

/** A form-level error: announced at once, and what the fields point at with aria-describedby. */
export function formError(message: string | null | undefined): SafeHtml {
  return message ? html`<p class="message error" role="alert" id="form-error">${message}</p>` : html``;
}

/** One problem of a posted form, and the id of the field it is about when there is one. */
export interface FieldError {
  readonly field?: string;
  readonly message: string;
}

/** A message as a sentence: capital first letter, full stop. */
function sentence(message: string): string {
  const text = message.trim();
  return text.charAt(0).toUpperCase() + text.slice(1) + (/[.!?]$/.test(text) ? '' : '.');
}

/** Every problem of a posted form at once, each linked to its field, announced as one alert. */
export function formErrors(errors: readonly FieldError[]): SafeHtml {
  const [only] = errors;
  if (only === undefined) return html``;
  if (errors.length === 1) return formError(sentence(only.message));
  return html`<div class="message error" role="alert" id="form-error"><p>${errors.length} things need correcting:</p>
<ul>${errors.map((e) => html`<li>${e.field ? html`<a href="#${e.field}">${sentence(e.message)}</a>` : sentence(e.message)}</li>`)}</ul></div>`;
}

/** The whole HTML document around a page's content. */
export function renderPage(frame: PageFrame, content: HtmlValue): string {
  const { home, brand } = AREAS[frame.area];
  const nav =
    frame.area === 'admin' && frame.signedInAs
      ? html`<nav aria-label="Main"><ul>${ADMIN_NAV.filter(([, , , action]) => frame.role && mayDo(frame.role, action)).map(
          ([key, label, href]) =>
            html`<li><a href="${href}"${frame.section === key ? html` aria-current="page"` : ''}>${label}</a></li>`,
        )}</ul></nav>`
      : '';
  const who = frame.signedInAs
    ? html`<div class="who"><span>Signed in as ${frame.signedInAs}${frame.role ? ` (${frame.role})` : ''}</span>
        <form method="post" action="${home}/signout">${csrfField(frame.csrf)}<button type="submit">Sign Out</button></form></div>`
    : '';
  // Two rows: who is signed in stays beside the brand, however many sections the navigation has.
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${frame.title} · ${brand}</title>
<link rel="stylesheet" href="${STYLESHEET_PATH}">
</head>
<body>
<a class="skip" href="#main">Skip to content</a>
<header class="site"><div class="bar"><a class="brand" href="${home}">${brand}</a>${who}</div>${nav ? html`<div class="bar sections">${nav}</div>` : ''}</header>
<main id="main">
${flashMessage(frame.flash)}
${content}
</main>
</body>
</html>
`.value;
}

interface FieldOptions {
  id: string;
  label: string;
  value?: string | number | null;
  required?: boolean;
  autocomplete?: string;
  inputmode?: 'numeric' | 'tel' | 'text';
  help?: string;
  min?: number;
  max?: number;
  /** Points assistive technology at the form error when this field caused it. */
  invalid?: boolean;
}

/** A password input may only be named from SECRET_FIELDS, which the log redaction is built from. */
export type TextFieldOptions = FieldOptions &
  ({ type: 'password'; name: SecretField } | { type?: 'text' | 'number' | 'search'; name: string });

export function textField(o: TextFieldOptions): SafeHtml {
  const helpId = o.help ? `${o.id}-help` : null;
  const describedBy = [helpId, o.invalid ? 'form-error' : null].filter(Boolean).join(' ');
  // Password fields are never filled back in: a PIN or password must not travel back to the browser.
  const value = o.type === 'password' ? null : o.value;
  return html`<div class="field">
  <label for="${o.id}">${o.label}</label>
  <input id="${o.id}" name="${o.name}" type="${o.type ?? 'text'}"${value !== null && value !== undefined ? html` value="${String(value)}"` : ''}${
    o.required ? html` required` : ''
  }${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${o.inputmode ? html` inputmode="${o.inputmode}"` : ''}${
    o.min !== undefined ? html` min="${o.min}"` : ''
  }${o.max !== undefined ? html` max="${o.max}"` : ''}${describedBy ? html` aria-describedby="${describedBy}"` : ''}${
    o.invalid ? html` aria-invalid="true"` : ''
  }>
  ${helpId ? html`<span class="help" id="${helpId}">${o.help}</span>` : ''}
</div>`;
}

export function checkboxField(o: { id: string; name: string; label: string; checked: boolean; help?: string }): SafeHtml {
  const helpId = o.help ? `${o.id}-help` : null;
  return html`<div class="check">
  <input type="checkbox" id="${o.id}" name="${o.name}" value="on"${o.checked ? html` checked` : ''}${
    helpId ? html` aria-describedby="${helpId}"` : ''
  }>
  <label for="${o.id}">${o.label}</label>
  ${helpId ? html`<span class="help muted" id="${helpId}">(${o.help})</span>` : ''}
</div>`;
}

/** One choice of a select field. */
export interface Option {
  value: string;
  label: string;
}

export function selectField(o: {
  id: string;
  name: string;
  label: string;
  options: readonly Option[];
  selected?: string | null;
  help?: string;
}): SafeHtml {
  const helpId = o.help ? `${o.id}-help` : null;
  return html`<div class="field">
  <label for="${o.id}">${o.label}</label>
  <select id="${o.id}" name="${o.name}"${helpId ? html` aria-describedby="${helpId}"` : ''}>
    ${o.options.map(
      (opt) => html`<option value="${opt.value}"${opt.value === o.selected ? html` selected` : ''}>${opt.label}</option>`,
    )}
  </select>
  ${helpId ? html`<span class="help" id="${helpId}">${o.help}</span>` : ''}
</div>`;
}

/** A read-only value with a real label (an <output> is labelable), e.g. "Failed Sign-In Attempts". */
export function readonlyField(id: string, label: string, value: HtmlValue): SafeHtml {
  return html`<label for="${id}">${label}</label><output id="${id}">${value}</output>`;
}

/** A time in UTC, machine-readable in `datetime`. */
export function formatTime(at: Date | null, empty = 'Never'): SafeHtml {
  if (!at) return html`${empty}`;
  const iso = at.toISOString();
  return html`<time datetime="${iso}">${iso.slice(0, 10)} ${iso.slice(11, 19)} UTC</time>`;
}

/** A presenter's phrase, its times as <time> elements. */
export function phraseHtml(phrase: Phrase): SafeHtml {
  return html`${phrase.map((part) => (part instanceof Date ? formatTime(part) : part))}`;
}

/**
 * A table too wide for a phone scrolls inside its own box, which keyboard users can focus and
 * screen readers find by `label`, rather than the whole page scrolling sideways.
 */
export function tableRegion(label: string, table: HtmlValue): SafeHtml {
  return html`<div class="table-region" role="region" aria-label="${label}" tabindex="0">${table}</div>`;
}

/** Previous and next links around "Page N of M"; nothing when there is one page. */
export function pager(page: number, pages: number, pageLink: (n: number) => string): SafeHtml {
  if (pages <= 1) return html``;
  return html`<nav class="pager" aria-label="Pages">
  ${page > 1 ? html`<a href="${pageLink(page - 1)}" rel="prev">Previous page</a>` : ''}
  <span>Page ${page} of ${pages}</span>
  ${page < pages ? html`<a href="${pageLink(page + 1)}" rel="next">Next page</a>` : ''}
</nav>`;
}

/** A one-button form that posts to `action` (Unlock, Revoke, Delete). */
export function postButton(action: string, csrf: string, label: string, className = ''): SafeHtml {
  return html`<form method="post" action="${action}">${csrfField(csrf)}<button type="submit"${
    className ? html` class="${className}"` : ''
  }>${label}</button></form>`;
}

/** What an error page says: the heading, the one-line reason, and the way back. */
export function errorContent(area: Area, title: string, message: string): SafeHtml {
  return html`<h1>${title}</h1><p>${message}</p><p><a href="${AREAS[area].home}">Back to the start page</a></p>`;
}

/** A plain error page, for nobody signed in (403 CSRF, 404, 500). */
export function errorPage(area: Area, title: string, message: string, csrf = ''): string {
  return renderPage({ title, csrf, area }, errorContent(area, title, message));
}
