import type { Account } from '../../accounts/model.js';
import { presentPinStatus } from '../../accounts/present.js';
import { html, type SafeHtml } from '../html.js';
import { csrfField, formatTime, formError, phraseHtml, textField } from '../layout.js';
import type { SigninFormOptions } from '../signin.js';

// The HTML of the self-service pages. The routes (routes.ts) load and change; these only render.

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function minutesText(minutes: number): string {
  if (minutes % 1440 === 0) return plural(minutes / 1440, 'day');
  if (minutes % 60 === 0) return plural(minutes / 60, 'hour');
  return plural(minutes, 'minute');
}

export function signinPage(csrf: string, options: SigninFormOptions): SafeHtml {
  return html`
<h1>Sign In</h1>
<p class="lead">Sign in with your extension and your web password to see and change your phone PIN.</p>
${formError(options.error)}
<form method="post" action="/me/signin" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'extension', name: 'extension', label: 'Extension', value: options.identifier ?? '', required: true, inputmode: 'numeric', autocomplete: 'username', invalid: Boolean(options.error) })}
  ${textField({ id: 'password', name: 'password', label: 'Web Password', type: 'password', required: true, autocomplete: 'current-password', invalid: Boolean(options.error) })}
  <button type="submit">Sign In</button>
</form>
<p class="muted">Your web password is not your PIN. If you have none, ask your administrator to set one.</p>`;
}

export function pinPage(csrf: string, account: Account, now: Date, error?: string): SafeHtml {
  const { user, pin, rule } = account;
  const view = presentPinStatus(account, now);
  const ruleLines = [
    `${rule.minLength === rule.maxLength ? rule.minLength : `${rule.minLength} to ${rule.maxLength}`} digits`,
    rule.trivialCheck ? 'not easy to guess (no repeats, runs, keypad lines, your extension or name)' : null,
    rule.historyCount > 0 ? `not your current PIN or one of your last ${rule.historyCount}` : 'not your current PIN',
    rule.minChangeMinutes > 0 ? `at most one change every ${minutesText(rule.minChangeMinutes)}` : null,
  ].filter((line): line is string => line !== null);
  return html`
<h1>Your PIN</h1>
<p class="lead">${user.firstName} ${user.lastName}, extension ${user.extension}</p>
<dl class="facts">
  <dt>PIN Last Changed</dt><dd>${formatTime(pin.changedAt)}</dd>
  <dt>PIN Expires</dt><dd>${phraseHtml(view.expiry)}</dd>
  ${view.status.requiredChange === 'forced' ? html`<dt>Note</dt><dd>You will be asked for a new PIN at your next phone sign-in.</dd>` : ''}
  ${pin.enrollmentPending ? html`<dt>Note</dt><dd>Your first phone sign-in will take you through enrollment.</dd>` : ''}
  ${view.status.lockout ? html`<dt>Phone Sign-In</dt><dd>${phraseHtml(view.lockout)}</dd>` : ''}
</dl>
<h2>Change PIN</h2>
${formError(error)}
${
  pin.cannotChange
    ? html`<p>Your administrator has set your PIN so that you cannot change it.</p>`
    : html`<p>Your new PIN must be: ${ruleLines.join('; ')}.</p>
<form method="post" action="/me/pin" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'newPin', name: 'newPin', label: 'New PIN', type: 'password', required: true, inputmode: 'numeric', autocomplete: 'new-password', invalid: Boolean(error) })}
  ${textField({ id: 'confirmPin', name: 'confirmPin', label: 'Confirm PIN', type: 'password', required: true, inputmode: 'numeric', autocomplete: 'new-password', invalid: Boolean(error) })}
  <button type="submit">Change PIN</button>
</form>`
}
<h2>Contact</h2>
<dl class="facts">
  <dt>Phone</dt><dd>${user.phone ?? 'None'}</dd>
  <dt>E-mail</dt><dd>${user.email ?? 'None'}</dd>
</dl>
<p class="muted">You are told by text message and e-mail when your PIN or web password changes, or your PIN is locked.</p>
<p><a href="/me/email">Change your e-mail address</a> · <a href="/me/password">Change your web password</a></p>`;
}

export function emailPage(csrf: string, current: string | null, error?: string): SafeHtml {
  return html`
<h1>Change E-mail</h1>
<p class="lead">Messages about your PIN go to this address${current ? html`, now ${current}` : ''}. The old address is told of the change.</p>
${formError(error)}
<form method="post" action="/me/email" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'email', name: 'email', label: 'New E-mail', value: '', autocomplete: 'email', help: 'leave empty to have no e-mail address' })}
  ${textField({ id: 'current', name: 'current', label: 'Current Web Password', type: 'password', required: true, autocomplete: 'current-password', invalid: Boolean(error) })}
  <button type="submit">Save</button>
</form>
<p><a href="/me">Back to your PIN</a></p>`;
}

/** `forced`: an administrator set the password with "must change", so no current password is asked for. */
export function passwordPage(csrf: string, forced: boolean, error?: string): SafeHtml {
  return html`
<h1>Change Web Password</h1>
${forced ? html`<p class="lead">Your administrator asks you to choose a new web password before you go on.</p>` : ''}
${formError(error)}
<form method="post" action="/me/password" class="stacked">
  ${csrfField(csrf)}
  ${forced ? '' : textField({ id: 'current', name: 'current', label: 'Current Web Password', type: 'password', required: true, autocomplete: 'current-password' })}
  ${textField({ id: 'newPassword', name: 'newPassword', label: 'New Web Password', type: 'password', required: true, autocomplete: 'new-password', help: 'at least 10 characters; this does not change your PIN' })}
  ${textField({ id: 'confirmPassword', name: 'confirmPassword', label: 'Confirm Web Password', type: 'password', required: true, autocomplete: 'new-password' })}
  <button type="submit">Save</button>
</form>
${forced ? '' : html`<p><a href="/me">Back to your PIN</a></p>`}`;
}
