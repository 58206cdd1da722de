import type { Request } from 'express';
import { RESPONSE_WAIT, type Account } from '../../../accounts/model.js';
import type { DeliveryChannel } from '../../../notify/notices.js';
import { presentPinStatus } from '../../../accounts/present.js';
import { formChecked, formText, queryText } from '../../forms.js';
import { html, type SafeHtml } from '../../html.js';
import {
  checkboxField,
  csrfField,
  formatTime,
  formError,
  formErrors,
  pager,
  phraseHtml,
  postButton,
  readonlyField,
  selectField,
  tableRegion,
  textField,
  type FieldError,
  type Option,
} from '../../layout.js';

// The HTML of the Users pages. The routes (routes.ts) load and change; these only render.

export const USERS_PAGE_SIZE = 25;
/** Users counted past a page: beyond that the page says "10,000+", as counting a million users costs more than the page. */
export const USERS_COUNTED = 10_000;

/** The three pages of a user's Edit menu, as in Cisco Unity Connection. */
type EditPage = 'basics' | 'password-settings' | 'change-password';

const CHOOSE_PASSWORD = [
  { value: 'voicemail', label: 'Voice Mail' },
  { value: 'web', label: 'Web Application' },
] as const;

export interface FormOutcome {
  status?: number;
  error?: string;
  /** Every problem found at once, each naming its field when it has one (the New User form). */
  errors?: readonly FieldError[];
}

export function fullName(account: Account): string {
  return `${account.user.firstName} ${account.user.lastName}`;
}

export function localeLabel(code: string): string {
  try {
    return `${new Intl.DisplayNames(['en'], { type: 'language' }).of(code) ?? code} (${code})`;
  } catch {
    return code;
  }
}

export function usersList(options: { q: string; page: number; total: number; capped: boolean; accounts: Account[]; now: Date }): SafeHtml {
  const { q, page, total, capped, accounts, now } = options;
  const pages = Math.max(1, Math.ceil(total / USERS_PAGE_SIZE));
  const pageLink = (n: number) => `/admin/users?${new URLSearchParams({ ...(q ? { q } : {}), page: String(n) }).toString()}`;
  const first = total === 0 ? 0 : (page - 1) * USERS_PAGE_SIZE + 1;
  const last = Math.min(total, page * USERS_PAGE_SIZE);
  return html`
<h1>Users</h1>
<form method="get" action="/admin/users" class="search" role="search">
  ${textField({ id: 'q', name: 'q', label: 'Search by name or extension', type: 'search', value: q })}
  <button type="submit">Search</button>
</form>
<p class="actions"><a class="button secondary" href="/admin/users/new">New User</a> <a class="button secondary" href="/admin/users/import">Import Users</a></p>
${
  accounts.length === 0
    ? html`<p>${q ? html`No user matches “${q}”.` : 'There are no users yet.'}</p>`
    : tableRegion(
        'Users found',
        html`<table>
  <caption>${first}–${last} of ${capped ? `${total.toLocaleString('en-US')}+` : total}${q ? html`, matching “${q}”` : ''}</caption>
  <thead><tr><th scope="col">Extension</th><th scope="col">Name</th><th scope="col">Phone</th><th scope="col">Authentication Rule</th><th scope="col">PIN Status</th></tr></thead>
  <tbody>
  ${accounts.map(
    (a) => html`<tr>
    <td><a href="/admin/users/${a.user.id}">${a.user.extension}</a></td>
    <td><a href="/admin/users/${a.user.id}">${fullName(a)}</a></td>
    <td>${a.user.phone ?? ''}</td>
    <td>${a.rule.name}</td>
    <td>${presentPinStatus(a, now).summary}</td>
  </tr>`,
  )}
  </tbody>
</table>`,
      )
}
${pager(page, pages, pageLink)}`;
}

export function newUserForm(
  req: Request,
  csrf: string,
  options: FormOutcome & { locales: readonly Option[]; rules: readonly Option[]; defaultLocale: string },
): SafeHtml {
  const value = (name: string) => (req.method === 'POST' ? formText(req, name) : '');
  const enroll = req.method === 'POST' ? formChecked(req, 'enroll') : true;
  const errors = options.errors ?? (options.error ? [{ message: options.error }] : []);
  const invalid = (field: string) => errors.some((e) => e.field === field);
  return html`
<h1>New User</h1>
${formErrors(errors)}
<form method="post" action="/admin/users" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'extension', name: 'extension', label: 'Extension', value: value('extension'), required: true, inputmode: 'numeric', help: '2 to 15 digits; the ID callers key in', invalid: invalid('extension') })}
  ${textField({ id: 'firstName', name: 'firstName', label: 'First Name', value: value('firstName'), required: true, invalid: invalid('firstName') })}
  ${textField({ id: 'lastName', name: 'lastName', label: 'Last Name', value: value('lastName'), required: true, invalid: invalid('lastName') })}
  ${textField({ id: 'phone', name: 'phone', label: 'Phone', value: value('phone'), inputmode: 'tel', help: 'optional, E.164 like +15551230001; calls from it go straight to PIN entry, and text messages go to it', invalid: invalid('phone') })}
  ${textField({ id: 'email', name: 'email', label: 'E-mail', value: value('email'), autocomplete: 'off', help: 'optional; notifications and a reset PIN go to it', invalid: invalid('email') })}
  ${selectField({ id: 'locale', name: 'locale', label: 'Language', options: options.locales, selected: value('locale') || options.defaultLocale })}
  ${selectField({ id: 'rule', name: 'rule', label: 'Authentication Rule', options: options.rules, selected: value('rule') || 'default' })}
  ${responseWaitField(req.method === 'POST' ? formText(req, 'responseWait') : String(RESPONSE_WAIT.default), invalid('responseWait'))}
  ${textField({ id: 'pin', name: 'pin', label: 'Initial PIN', type: 'password', required: true, autocomplete: 'new-password', inputmode: 'numeric', help: 'digits only; the user’s rule applies', invalid: invalid('pin') })}
  ${textField({ id: 'pinConfirm', name: 'pinConfirm', label: 'Confirm PIN', type: 'password', required: true, autocomplete: 'new-password', inputmode: 'numeric', invalid: invalid('pinConfirm') })}
  ${checkboxField({ id: 'enroll', name: 'enroll', label: 'Enrollment at First Sign-In', checked: enroll, help: 'the user chooses a new PIN at the first call' })}
  <button type="submit">Save</button>
</form>`;
}

/**
 * A locked user's lock, said at the top of each of the user's pages (not only under Status on
 * Password Settings), with the way to the Unlock button.
 */
function lockNotice(account: Account, now: Date, onPasswordSettings: boolean): SafeHtml {
  const view = presentPinStatus(account, now);
  if (view.status.lockout === null) return html``;
  const unlock = onPasswordSettings ? html`<a href="#unlock">Unlock below</a>` : html`<a href="/admin/users/${account.user.id}/password-settings#unlock">Go to Unlock</a>`;
  return html`<div class="message error lock"><p><strong>Sign-in is refused:</strong> ${phraseHtml(view.lockout)}. ${unlock}</p></div>`;
}

export function userPage(account: Account, now: Date): SafeHtml {
  const { user } = account;
  const view = presentPinStatus(account, now);
  return html`
<h1>${fullName(account)} <span class="muted">(${user.extension})</span></h1>
${lockNotice(account, now, false)}
<p class="actions"><a class="button" href="/admin/users/${user.id}/edit">Edit</a> <a class="button secondary" href="/admin/users/${user.id}/delete">Delete</a></p>
<dl class="facts">
  <dt>Extension</dt><dd>${user.extension}</dd>
  <dt>First Name</dt><dd>${user.firstName}</dd>
  <dt>Last Name</dt><dd>${user.lastName}</dd>
  <dt>Phone</dt><dd>${user.phone ?? 'None'}</dd>
  <dt>E-mail</dt><dd>${user.email ?? 'None'}</dd>
  <dt>Language</dt><dd>${localeLabel(user.locale)}</dd>
  <dt>Authentication Rule</dt><dd>${account.rule.name}</dd>
  <dt>Response Wait</dt><dd>${user.responseWait} seconds</dd>
  <dt>Last Sign-In</dt><dd>${formatTime(account.pin.lastSigninAt)}</dd>
  <dt>PIN Status</dt><dd>${view.summary}</dd>
  <dt>PIN Last Changed</dt><dd>${formatTime(account.pin.changedAt)}</dd>
  <dt>PIN Expires</dt><dd>${phraseHtml(view.expiry)}</dd>
  <dt>Created</dt><dd>${formatTime(user.createdAt)}</dd>
</dl>
<p><a href="/admin/audit?${new URLSearchParams({ extension: user.extension }).toString()}">Events for this user</a></p>`;
}

/** The menu shared by the three Edit pages, and the user's lock when there is one. */
function editMenu(account: Account, current: EditPage, now = new Date()): SafeHtml {
  const items: ReadonlyArray<[EditPage, string, string]> = [
    ['basics', 'User Basics', 'edit'],
    ['password-settings', 'Password Settings', 'password-settings'],
    ['change-password', 'Change Password', 'change-password'],
  ];
  return html`<nav class="edit-menu" aria-label="Edit menu"><span class="label">Edit:</span>
  ${items.map(
    ([key, label, path]) =>
      html`<a href="/admin/users/${account.user.id}/${path}"${key === current ? html` aria-current="page"` : ''}>${label}</a>`,
  )}
  <a href="/admin/users/${account.user.id}">Back to ${fullName(account)}</a>
</nav>
${lockNotice(account, now, current === 'password-settings')}`;
}

export function basicsForm(req: Request, csrf: string, account: Account, options: FormOutcome & { locales: readonly Option[] }): SafeHtml {
  const { user } = account;
  const posted = req.method === 'POST';
  const value = (name: string, current: string) => (posted ? formText(req, name) : current);
  return html`
<h1>User Basics <span class="muted">${fullName(account)} (${user.extension})</span></h1>
${editMenu(account, 'basics')}
${formError(options.error)}
<form method="post" action="/admin/users/${user.id}/edit" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'extension', name: 'extension', label: 'Extension', value: value('extension', user.extension), required: true, inputmode: 'numeric' })}
  ${textField({ id: 'firstName', name: 'firstName', label: 'First Name', value: value('firstName', user.firstName), required: true })}
  ${textField({ id: 'lastName', name: 'lastName', label: 'Last Name', value: value('lastName', user.lastName), required: true })}
  ${textField({ id: 'phone', name: 'phone', label: 'Phone', value: value('phone', user.phone ?? ''), inputmode: 'tel', help: 'optional, E.164 like +15551230001' })}
  ${textField({ id: 'email', name: 'email', label: 'E-mail', value: value('email', user.email ?? ''), autocomplete: 'off', help: 'optional; the old address is told when it changes' })}
  ${selectField({ id: 'locale', name: 'locale', label: 'Language', options: options.locales, selected: value('locale', user.locale) })}
  ${responseWaitField(value('responseWait', String(user.responseWait)))}
  <button type="submit">Save</button>
</form>`;
}

function responseWaitField(value: string, invalid = false): SafeHtml {
  return textField({
    invalid,
    id: 'responseWait',
    name: 'responseWait',
    label: 'Response Wait (seconds)',
    value,
    type: 'number',
    min: RESPONSE_WAIT.min,
    max: RESPONSE_WAIT.max,
    required: true,
    help: `${RESPONSE_WAIT.min} to ${RESPONSE_WAIT.max}; how long the phone waits for keys once the PIN is verified, from the next call`,
  });
}

export function passwordSettingsPage(csrf: string, account: Account, now: Date, rules: readonly Option[]): SafeHtml {
  const { user, pin } = account;
  const view = presentPinStatus(account, now);
  return html`
<h1>Password Settings <span class="muted">${fullName(account)} (${user.extension})</span></h1>
${editMenu(account, 'password-settings', now)}
<p class="lead">These settings apply to the phone PIN.</p>
<form method="post" action="/admin/users/${user.id}/password-settings" class="stacked">
  ${csrfField(csrf)}
  ${checkboxField({ id: 'lockedByAdmin', name: 'lockedByAdmin', label: 'Locked by Administrator', checked: pin.lockedByAdmin })}
  ${checkboxField({ id: 'cannotChange', name: 'cannotChange', label: 'User Cannot Change', checked: pin.cannotChange })}
  ${checkboxField({ id: 'mustChange', name: 'mustChange', label: 'User Must Change at Next Sign-In', checked: pin.mustChange })}
  ${checkboxField({ id: 'doesNotExpire', name: 'doesNotExpire', label: 'Does Not Expire', checked: pin.doesNotExpire })}
  ${selectField({ id: 'rule', name: 'rule', label: 'Authentication Rule', options: rules, selected: account.rule.name })}
  <button type="submit">Save</button>
</form>
<h2>Status</h2>
<div class="readonly">
  ${readonlyField('changedAt', 'Time Last Changed', formatTime(pin.changedAt))}
  ${readonlyField('failedCount', 'Failed Sign-In Attempts', pin.failedCount)}
  ${readonlyField('lastFailedAt', 'Time of Last Failed Sign-In', formatTime(pin.lastFailedAt))}
  ${readonlyField('lockedAt', 'Time Locked by Intruder Detection', formatTime(pin.lockedAt))}
  ${readonlyField('lastSigninAt', 'Time of Last Sign-In', formatTime(pin.lastSigninAt))}
  ${readonlyField('lockout', 'Locked Now', phraseHtml(view.lockout))}
  ${readonlyField('expires', 'PIN Expires', phraseHtml(view.expiry))}
  ${readonlyField('enrollment', 'Enrollment Pending', pin.enrollmentPending ? 'Yes' : 'No')}
</div>
<div class="actions" id="unlock">${postButton(`/admin/users/${user.id}/unlock`, csrf, 'Unlock')}
  <span class="muted">Clears a lock by an administrator, by intruder detection or for inactivity (its clock starts again), and the failed sign-in count.</span></div>`;
}

/** Where a reset PIN would go, in words, for the Reset PIN section. */
function reachText(account: Account, channels: readonly DeliveryChannel[]): string {
  const parts = channels.map((channel) => (channel === 'sms' ? `a text message to ${account.user.phone}` : `an e-mail to ${account.user.email}`));
  return parts.length > 0 ? parts.join(' and ') : '';
}

export function changePasswordForm(
  req: Request,
  csrf: string,
  account: Account,
  options: FormOutcome & { reachable: readonly DeliveryChannel[]; resetError?: string },
): SafeHtml {
  // Only this form's own post fills it back in (a refused Reset PIN posts no target).
  const posted = req.method === 'POST' && formText(req, 'target') !== '';
  const target = (posted ? formText(req, 'target') : queryText(req, 'target')) === 'web' ? 'web' : 'voicemail';
  // Ticked by default; after a refused attempt, as the administrator left it.
  const mustChange = posted ? formChecked(req, 'mustChange') : true;
  const { user } = account;
  return html`
<h1>Change Password <span class="muted">${fullName(account)} (${user.extension})</span></h1>
${editMenu(account, 'change-password')}
${formError(options.error)}
<form method="post" action="/admin/users/${user.id}/change-password" class="stacked">
  ${csrfField(csrf)}
  ${selectField({ id: 'target', name: 'target', label: 'Choose Password', options: CHOOSE_PASSWORD, selected: target, help: 'The phone PIN and the self-service web password are separate; this sets one of them.' })}
  ${textField({ id: 'password', name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password', invalid: Boolean(options.error) })}
  ${textField({ id: 'confirm', name: 'confirm', label: 'Confirm Password', type: 'password', required: true, autocomplete: 'new-password', invalid: Boolean(options.error) })}
  ${checkboxField({ id: 'mustChange', name: 'mustChange', label: 'User Must Change at Next Sign-In', checked: mustChange })}
  <button type="submit">Save</button>
</form>
<h2 id="reset-pin">Reset PIN</h2>
<p>For a forgotten PIN: a random PIN that the user’s rule accepts is sent to the user, who must change it at the next sign-in. It is not shown here.
${options.reachable.length > 0 ? html`It goes by ${reachText(account, options.reachable)}.` : html`<strong>No configured channel reaches this user</strong>: add a phone or e-mail under User Basics, or tick the box to see the PIN once.`}</p>
${formError(options.resetError)}
<form method="post" action="/admin/users/${user.id}/reset-pin" class="stacked">
  ${csrfField(csrf)}
  ${checkboxField({ id: 'show', name: 'show', label: 'Show the PIN to me once', checked: false, help: 'recorded in the audit log; for reading it to the user yourself' })}
  <button type="submit">Reset PIN</button>
</form>`;
}

/** The answer to a reset: where the PIN went, and the PIN itself only when asked to see it once (this page only, never stored). */
export function resetDone(account: Account, result: { channels: readonly DeliveryChannel[]; pin: string | null }): SafeHtml {
  const sent = reachText(account, result.channels);
  return html`
<h1>Reset PIN <span class="muted">${fullName(account)} (${account.user.extension})</span></h1>
${editMenu(account, 'change-password')}
<p class="message status" role="status">The PIN was reset${sent ? html` and sent by ${sent}` : ''}. The user must choose a new PIN at the next sign-in${account.rule.tempPinHours > 0 ? html`, and the reset PIN works for ${account.rule.tempPinHours} hours` : ''}.</p>
${
  result.pin !== null
    ? html`<section aria-labelledby="shown-pin"><h2 id="shown-pin">The new PIN</h2><p class="secret">${result.pin}</p>
<p class="muted">Shown this once and never again: it is not stored anywhere. Leaving this page forgets it.</p></section>`
    : ''
}
<p><a href="/admin/users/${account.user.id}">Back to ${fullName(account)}</a></p>`;
}

export function deleteConfirmation(csrf: string, account: Account): SafeHtml {
  return html`
<h1>Delete ${fullName(account)} <span class="muted">(${account.user.extension})</span>?</h1>
<p>The user, their PIN and PIN history and their web password are removed. The audit trail keeps the user’s events.</p>
<div class="actions">${postButton(`/admin/users/${account.user.id}/delete`, csrf, 'Delete User', 'danger')}
  <a href="/admin/users/${account.user.id}">Cancel</a></div>`;
}
