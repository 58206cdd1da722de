import type { Request } from 'express';
import { RESPONSE_WAIT, type Account } from '../../../accounts/model.js';
import type { DeliveryChannel } from '../../../notify/notices.js';
import { presentPinStatus } from '../../../accounts/present.js';
import { formChecked, formText, queryText } from '../../forms.js';
import type { Can } from '../context.js';
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

export function usersList(options: { q: string; page: number; total: number; capped: boolean; accounts: Account[]; now: Date; can: Can }): SafeHtml {
  const { q, page, total, capped, accounts, now, can } = options;
  const pages = Math.max(1, Math.ceil(total / USERS_PAGE_SIZE));
  const pageLink = (n: number) => `/admin/users?${new URLSearchParams({ ...(q ? { q } : {}), page: String(n) }).toString()}`;
  const first = total === 0 ? 0 : (page - 1) * USERS_PAGE_SIZE + 1;
  const last = Math.min(total, page * USERS_PAGE_SIZE);
  return html`
<h1>Users</h1>
<form method="get" action="/admin/users" class="search" role="search">
  ${textField({ id: 'q', name: 'q', label: 'Search by name or extension (begins with)', type: 'search', value: q })}
  <button type="submit">Search</button>
</form>
${actionLinks([
  can('user.create') ? html`<a class="button secondary" href="/admin/users/new">New User</a>` : null,
  can('users.import') ? html`<a class="button secondary" href="/admin/users/import">Import Users</a>` : null,
  can('users.export') ? html`<a class="button secondary" href="/admin/users/export.csv" download>Export Users (CSV)</a>` : null,
])}
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
function lockNotice(account: Account, now: Date, onPasswordSettings: boolean, can: Can): SafeHtml {
  const view = presentPinStatus(account, now);
  if (view.status.lockout === null) return html``;
  // The directory's deactivation is ended by Reactivate; an unlock leaves it.
  const [anchor, action, needed] = view.status.lockout === 'directory' ? (['reactivate', 'Reactivate', 'user.reactivate'] as const) : (['unlock', 'Unlock', 'user.unlock'] as const);
  const unlock = !can(needed)
    ? ''
    : onPasswordSettings
      ? html`<a href="#${anchor}">${action} below</a>`
      : html`<a href="/admin/users/${account.user.id}/password-settings#${anchor}">Go to ${action}</a>`;
  return html`<div class="message error lock"><p><strong>Sign-in is refused:</strong> ${phraseHtml(view.lockout)}. ${unlock}</p></div>`;
}

export function userPage(account: Account, now: Date, can: Can): SafeHtml {
  const { user } = account;
  const view = presentPinStatus(account, now);
  return html`
<h1>${fullName(account)} <span class="muted">(${user.extension})</span></h1>
${lockNotice(account, now, false, can)}
${actionLinks([
  // Whoever may change nothing still reads the Edit pages (Password Settings' status).
  html`<a class="button" href="/admin/users/${user.id}/edit">${can('user.edit_contact') ? 'Edit' : 'Settings'}</a>`,
  can('user.delete') ? html`<a class="button secondary" href="/admin/users/${user.id}/delete">Delete</a>` : null,
])}
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
function editMenu(account: Account, current: EditPage, can: Can, now = new Date()): SafeHtml {
  const items: ReadonlyArray<[EditPage, string, string]> = [
    ['basics', 'User Basics', 'edit'],
    ['password-settings', 'Password Settings', 'password-settings'],
    ...(canChangePassword(can) ? [['change-password', 'Change Password', 'change-password'] as [EditPage, string, string]] : []),
  ];
  return html`<nav class="edit-menu" aria-label="Edit menu"><span class="label">Edit:</span>
  ${items.map(
    ([key, label, path]) =>
      html`<a href="/admin/users/${account.user.id}/${path}"${key === current ? html` aria-current="page"` : ''}>${label}</a>`,
  )}
  <a href="/admin/users/${account.user.id}">Back to ${fullName(account)}</a>
</nav>
${lockNotice(account, now, current === 'password-settings', can)}`;
}

/** Change Password offers a form when the role may set a PIN or web password, or reset a PIN. */
function canChangePassword(can: Can): boolean {
  return can('pin.choose') || can('user.reset_web_password') || can('pin.reset');
}

/** A row of action buttons, or nothing when the role may take none of them. */
function actionLinks(links: ReadonlyArray<SafeHtml | null>): SafeHtml {
  const shown = links.filter((link): link is SafeHtml => link !== null);
  return shown.length === 0 ? html`` : html`<p class="actions">${shown.map((link, i) => html`${i > 0 ? ' ' : ''}${link}`)}</p>`;
}

/**
 * User Basics: the fields the role may change as a form, the others as read-only values (the
 * helpdesk edits e-mail, phone and language only; the auditor reads them all).
 */
export function basicsForm(req: Request, csrf: string, account: Account, options: FormOutcome & { locales: readonly Option[]; can: Can }): SafeHtml {
  const { user } = account;
  const { can } = options;
  const posted = req.method === 'POST';
  const value = (name: string, current: string) => (posted ? formText(req, name) : current);
  const names = can('user.edit');
  const contact = can('user.edit_contact');
  // Each field as a form field when the role may change it, else as a read-only value above the form.
  const fields: ReadonlyArray<{ editable: boolean; input: () => SafeHtml; label: string; id: string; shown: string }> = [
    { editable: names, id: 'extension', label: 'Extension', shown: user.extension, input: () => textField({ id: 'extension', name: 'extension', label: 'Extension', value: value('extension', user.extension), required: true, inputmode: 'numeric' }) },
    { editable: names, id: 'firstName', label: 'First Name', shown: user.firstName, input: () => textField({ id: 'firstName', name: 'firstName', label: 'First Name', value: value('firstName', user.firstName), required: true }) },
    { editable: names, id: 'lastName', label: 'Last Name', shown: user.lastName, input: () => textField({ id: 'lastName', name: 'lastName', label: 'Last Name', value: value('lastName', user.lastName), required: true }) },
    { editable: contact, id: 'phone', label: 'Phone', shown: user.phone ?? 'None', input: () => textField({ id: 'phone', name: 'phone', label: 'Phone', value: value('phone', user.phone ?? ''), inputmode: 'tel', help: 'optional, E.164 like +15551230001' }) },
    { editable: contact, id: 'email', label: 'E-mail', shown: user.email ?? 'None', input: () => textField({ id: 'email', name: 'email', label: 'E-mail', value: value('email', user.email ?? ''), autocomplete: 'off', help: 'optional; the old address is told when it changes' }) },
    { editable: contact, id: 'locale', label: 'Language', shown: localeLabel(user.locale), input: () => selectField({ id: 'locale', name: 'locale', label: 'Language', options: options.locales, selected: value('locale', user.locale) }) },
    { editable: names, id: 'responseWait', label: 'Response Wait (seconds)', shown: String(user.responseWait), input: () => responseWaitField(value('responseWait', String(user.responseWait))) },
  ];
  const readonly = fields.filter((f) => !f.editable);
  const editable = fields.filter((f) => f.editable);
  return html`
<h1>User Basics <span class="muted">${fullName(account)} (${user.extension})</span></h1>
${editMenu(account, 'basics', can)}
${formError(options.error)}
${readonly.length > 0 ? html`<div class="readonly">${readonly.map((f) => readonlyField(f.id, f.label, f.shown))}</div>` : ''}
${
  editable.length > 0
    ? html`<form method="post" action="/admin/users/${user.id}/edit" class="stacked">
  ${csrfField(csrf)}
  ${editable.map((f) => f.input())}
  <button type="submit">Save</button>
</form>`
    : ''
}`;
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

export function passwordSettingsPage(csrf: string, account: Account, now: Date, rules: readonly Option[], can: Can): SafeHtml {
  const { user, pin } = account;
  const view = presentPinStatus(account, now);
  const editable = can('user.lock') && can('user.flags') && can('user.must_change') && can('user.assign_rule');
  return html`
<h1>Password Settings <span class="muted">${fullName(account)} (${user.extension})</span></h1>
${editMenu(account, 'password-settings', can, now)}
<p class="lead">These settings apply to the phone PIN.</p>
${
  editable
    ? html`<form method="post" action="/admin/users/${user.id}/password-settings" class="stacked">
  ${csrfField(csrf)}
  ${checkboxField({ id: 'lockedByAdmin', name: 'lockedByAdmin', label: 'Locked by Administrator', checked: pin.lockedByAdmin })}
  ${checkboxField({ id: 'cannotChange', name: 'cannotChange', label: 'User Cannot Change', checked: pin.cannotChange })}
  ${checkboxField({ id: 'mustChange', name: 'mustChange', label: 'User Must Change at Next Sign-In', checked: pin.mustChange })}
  ${checkboxField({ id: 'doesNotExpire', name: 'doesNotExpire', label: 'Does Not Expire', checked: pin.doesNotExpire })}
  ${selectField({ id: 'rule', name: 'rule', label: 'Authentication Rule', options: rules, selected: account.rule.name })}
  <button type="submit">Save</button>
</form>`
    : html`<div class="readonly">
  ${readonlyField('lockedByAdmin', 'Locked by Administrator', yesNo(pin.lockedByAdmin))}
  ${readonlyField('cannotChange', 'User Cannot Change', yesNo(pin.cannotChange))}
  ${readonlyField('mustChange', 'User Must Change at Next Sign-In', yesNo(pin.mustChange))}
  ${readonlyField('doesNotExpire', 'Does Not Expire', yesNo(pin.doesNotExpire))}
  ${readonlyField('rule', 'Authentication Rule', account.rule.name)}
</div>`
}
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
${
  can('user.unlock')
    ? html`<div class="actions" id="unlock">${postButton(`/admin/users/${user.id}/unlock`, csrf, 'Unlock')}
  <span class="muted">Clears a lock by an administrator, by intruder detection or for inactivity (its clock starts again), and the failed sign-in count.</span></div>`
    : ''
}
${
  pin.deactivatedAt !== null && can('user.reactivate')
    ? html`<div class="actions" id="reactivate">${postButton(`/admin/users/${user.id}/reactivate`, csrf, 'Reactivate')}
  <span class="muted">Ends the directory’s deactivation (SCIM active: false), which an unlock leaves; the directory may deactivate them again.</span></div>`
    : ''
}`;
}

function yesNo(on: boolean): string {
  return on ? 'Yes' : 'No';
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
  options: FormOutcome & { reachable: readonly DeliveryChannel[]; resetError?: string; can: Can },
): SafeHtml {
  const { can } = options;
  // Only the passwords the role may set: the helpdesk sets a web password, never a chosen PIN.
  const choices = CHOOSE_PASSWORD.filter((choice) => can(choice.value === 'web' ? 'user.reset_web_password' : 'pin.choose'));
  // Only this form's own post fills it back in (a refused Reset PIN posts no target).
  const posted = req.method === 'POST' && formText(req, 'target') !== '';
  const asked = (posted ? formText(req, 'target') : queryText(req, 'target')) === 'web' ? 'web' : 'voicemail';
  const target = choices.some((choice) => choice.value === asked) ? asked : choices[0]?.value;
  // Ticked by default; after a refused attempt, as the administrator left it.
  const mustChange = posted ? formChecked(req, 'mustChange') : true;
  const { user } = account;
  return html`
<h1>Change Password <span class="muted">${fullName(account)} (${user.extension})</span></h1>
${editMenu(account, 'change-password', can)}
${formError(options.error)}
${
  choices.length > 0
    ? html`<form method="post" action="/admin/users/${user.id}/change-password" class="stacked">
  ${csrfField(csrf)}
  ${selectField({ id: 'target', name: 'target', label: 'Choose Password', options: choices, selected: target ?? null, help: 'The phone PIN and the self-service web password are separate; this sets one of them.' })}
  ${textField({ id: 'password', name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'new-password', invalid: Boolean(options.error) })}
  ${textField({ id: 'confirm', name: 'confirm', label: 'Confirm Password', type: 'password', required: true, autocomplete: 'new-password', invalid: Boolean(options.error) })}
  ${checkboxField({ id: 'mustChange', name: 'mustChange', label: 'User Must Change at Next Sign-In', checked: mustChange })}
  <button type="submit">Save</button>
</form>`
    : ''
}
${can('pin.reset') ? resetSection(csrf, account, options) : ''}`;
}

function resetSection(csrf: string, account: Account, options: { reachable: readonly DeliveryChannel[]; resetError?: string }): SafeHtml {
  const { user } = account;
  return html`<h2 id="reset-pin">Reset PIN</h2>
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
export function resetDone(account: Account, result: { channels: readonly DeliveryChannel[]; pin: string | null }, can: Can): SafeHtml {
  const sent = reachText(account, result.channels);
  return html`
<h1>Reset PIN <span class="muted">${fullName(account)} (${account.user.extension})</span></h1>
${editMenu(account, 'change-password', can)}
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
