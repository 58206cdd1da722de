import { Router, type Request, type Response } from 'express';
import { listRules } from '../../db/rules.js';
import { searchAccounts, type Account } from '../../db/users.js';
import { InputError, NotFoundError } from '../../errors.js';
import { describeRefusal } from '../../pin/service.js';
import { pinStatus } from '../../pin/status.js';
import { formChecked, formText, queryPage, queryText, routeId } from '../forms.js';
import { html, type SafeHtml } from '../html.js';
import {
  checkboxField,
  csrfField,
  formatTime,
  formError,
  postButton,
  readonlyField,
  selectField,
  textField,
} from '../layout.js';
import { adminActor, redirectWith, renderAdmin, type AdminDeps } from './context.js';

export const USERS_PAGE_SIZE = 25;

/** The three pages of a user's Edit menu, as in Cisco Unity Connection. */
type EditPage = 'basics' | 'password-settings' | 'change-password';

const CHOOSE_PASSWORD = [
  { value: 'voicemail', label: 'Voice Mail' },
  { value: 'web', label: 'Web Application' },
] as const;

function fullName(account: Account): string {
  return `${account.user.firstName} ${account.user.lastName}`;
}

function localeLabel(code: string): string {
  try {
    return `${new Intl.DisplayNames(['en'], { type: 'language' }).of(code) ?? code} (${code})`;
  } catch {
    return code;
  }
}

/** The user's PIN state in a few words, for the list and the user's page. */
function pinSummary(account: Account, now: Date): string {
  const status = pinStatus(account.pin, account.rule, now);
  const parts: string[] = [];
  if (status.lockout === 'admin') parts.push('Locked (administrator)');
  if (status.lockout === 'intruder') parts.push('Locked (intruder detection)');
  if (account.pin.enrollmentPending) parts.push('Enrollment pending');
  if (status.expired) parts.push('PIN expired');
  else if (account.pin.mustChange) parts.push('Must change PIN');
  return parts.length > 0 ? parts.join(', ') : 'OK';
}

/** Users: search and paging, create, the user's page, Edit (User Basics, Password Settings, Change Password), delete. */
export function userRoutes(deps: AdminDeps): Router {
  const { services } = deps;
  const router = Router();

  const loadAccount = async (req: Request) => {
    const id = routeId(req.params.id as string | undefined);
    if (id === null) throw new NotFoundError('user');
    return services.accounts.getAccount({ userId: id });
  };

  const localeOptions = () => services.catalog.localeNames.map((code) => ({ value: code, label: localeLabel(code) }));
  const ruleOptions = async () => (await listRules(services.pool)).map((r) => ({ value: r.name, label: r.name }));

  // ---- list and search ----

  router.get('/users', async (req, res) => {
    const q = queryText(req, 'q').slice(0, 100);
    const page = queryPage(req);
    const { total, accounts } = await searchAccounts(services.pool, {
      query: q,
      limit: USERS_PAGE_SIZE,
      offset: (page - 1) * USERS_PAGE_SIZE,
    });
    const pages = Math.max(1, Math.ceil(total / USERS_PAGE_SIZE));
    const pageLink = (n: number) => `/admin/users?${new URLSearchParams({ ...(q ? { q } : {}), page: String(n) }).toString()}`;
    const first = total === 0 ? 0 : (page - 1) * USERS_PAGE_SIZE + 1;
    const last = Math.min(total, page * USERS_PAGE_SIZE);
    const now = new Date();
    renderAdmin(deps, req, res, { title: 'Users', section: 'users' }, () => html`
<h1>Users</h1>
<form method="get" action="/admin/users" class="search" role="search">
  ${textField({ id: 'q', name: 'q', label: 'Search by name or extension', type: 'search', value: q })}
  <button type="submit">Search</button>
</form>
<p class="actions"><a class="button secondary" href="/admin/users/new">New User</a></p>
${
  accounts.length === 0
    ? html`<p>${q ? html`No user matches “${q}”.` : 'There are no users yet.'}</p>`
    : html`<table>
  <caption>${first}–${last} of ${total}${q ? html`, matching “${q}”` : ''}</caption>
  <thead><tr><th scope="col">Extension</th><th scope="col">Name</th><th scope="col">Phone</th><th scope="col">Authentication Rule</th><th scope="col">PIN Status</th></tr></thead>
  <tbody>
  ${accounts.map(
    (a) => html`<tr>
    <td><a href="/admin/users/${a.user.id}">${a.user.extension}</a></td>
    <td><a href="/admin/users/${a.user.id}">${fullName(a)}</a></td>
    <td>${a.user.phone ?? ''}</td>
    <td>${a.rule.name}</td>
    <td>${pinSummary(a, now)}</td>
  </tr>`,
  )}
  </tbody>
</table>`
}
${
  pages > 1
    ? html`<nav class="pager" aria-label="Pages">
  ${page > 1 ? html`<a href="${pageLink(page - 1)}" rel="prev">Previous page</a>` : ''}
  <span>Page ${page} of ${pages}</span>
  ${page < pages ? html`<a href="${pageLink(page + 1)}" rel="next">Next page</a>` : ''}
</nav>`
    : ''
}`);
  });

  // ---- create ----

  const newUserForm = async (req: Request, res: Response, options: { status?: number; error?: string } = {}) => {
    const rules = await ruleOptions();
    const value = (name: string) => (req.method === 'POST' ? formText(req, name) : '');
    const enroll = req.method === 'POST' ? formChecked(req, 'enroll') : true;
    renderAdmin(deps, req, res, { title: 'New User', section: 'users', status: options.status ?? 200 }, (csrf) => html`
<h1>New User</h1>
${formError(options.error)}
<form method="post" action="/admin/users" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'extension', name: 'extension', label: 'Extension', value: value('extension'), required: true, inputmode: 'numeric', help: '2 to 15 digits; the ID callers key in' })}
  ${textField({ id: 'firstName', name: 'firstName', label: 'First Name', value: value('firstName'), required: true })}
  ${textField({ id: 'lastName', name: 'lastName', label: 'Last Name', value: value('lastName'), required: true })}
  ${textField({ id: 'phone', name: 'phone', label: 'Phone', value: value('phone'), inputmode: 'tel', help: 'optional, E.164 like +15551230001; calls from it go straight to PIN entry' })}
  ${selectField({ id: 'locale', name: 'locale', label: 'Language', options: localeOptions(), selected: value('locale') || services.accounts.defaultLocale })}
  ${selectField({ id: 'rule', name: 'rule', label: 'Authentication Rule', options: rules, selected: value('rule') || 'default' })}
  ${textField({ id: 'pin', name: 'pin', label: 'Initial PIN', type: 'password', required: true, autocomplete: 'new-password', inputmode: 'numeric', help: 'digits only; the user’s rule applies' })}
  ${textField({ id: 'pinConfirm', name: 'pinConfirm', label: 'Confirm PIN', type: 'password', required: true, autocomplete: 'new-password', inputmode: 'numeric' })}
  ${checkboxField({ id: 'enroll', name: 'enroll', label: 'Enrollment at First Sign-In', checked: enroll, help: 'the user chooses a new PIN at the first call' })}
  <button type="submit">Save</button>
</form>`);
  };

  router.get('/users/new', (req, res) => newUserForm(req, res));

  router.post('/users', async (req, res) => {
    const pin = formText(req, 'pin', { keepSpaces: true });
    if (pin === '') return newUserForm(req, res, { status: 422, error: 'Enter an initial PIN.' });
    if (pin !== formText(req, 'pinConfirm', { keepSpaces: true })) {
      return newUserForm(req, res, { status: 422, error: 'Initial PIN and Confirm PIN do not match.' });
    }
    try {
      const { user } = await services.accounts.createUser(
        {
          extension: formText(req, 'extension'),
          firstName: formText(req, 'firstName'),
          lastName: formText(req, 'lastName'),
          phone: formText(req, 'phone') || null,
          locale: formText(req, 'locale') || services.accounts.defaultLocale,
          ruleName: formText(req, 'rule') || 'default',
          pin,
          enroll: formChecked(req, 'enroll'),
        },
        adminActor(req),
      );
      await redirectWith(req, res, `/admin/users/${user.id}`, `Created user ${user.firstName} ${user.lastName} (${user.extension})`);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      await newUserForm(req, res, { status: err.status, error: err.message });
    }
  });

  // ---- the user's page ----

  router.get('/users/:id', async (req, res) => {
    const account = await loadAccount(req);
    const { user } = account;
    const status = pinStatus(account.pin, account.rule, new Date());
    renderAdmin(deps, req, res, { title: fullName(account), section: 'users' }, () => html`
<h1>${fullName(account)} <span class="muted">(${user.extension})</span></h1>
<p class="actions"><a class="button" href="/admin/users/${user.id}/edit">Edit</a> <a class="button secondary" href="/admin/users/${user.id}/delete">Delete</a></p>
<dl class="facts">
  <dt>Extension</dt><dd>${user.extension}</dd>
  <dt>First Name</dt><dd>${user.firstName}</dd>
  <dt>Last Name</dt><dd>${user.lastName}</dd>
  <dt>Phone</dt><dd>${user.phone ?? 'None'}</dd>
  <dt>Language</dt><dd>${localeLabel(user.locale)}</dd>
  <dt>Authentication Rule</dt><dd>${account.rule.name}</dd>
  <dt>PIN Status</dt><dd>${pinSummary(account, new Date())}</dd>
  <dt>PIN Last Changed</dt><dd>${formatTime(account.pin.changedAt)}</dd>
  <dt>PIN Expires</dt><dd>${status.expiresAt ? formatTime(status.expiresAt) : 'Never'}</dd>
  <dt>Created</dt><dd>${formatTime(user.createdAt)}</dd>
</dl>
<p><a href="/admin/audit?${new URLSearchParams({ extension: user.extension }).toString()}">Events for this user</a></p>`);
  });

  // ---- Edit: the menu shared by its three pages ----

  const editMenu = (account: Account, current: EditPage): SafeHtml => {
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
</nav>`;
  };

  // ---- Edit > User Basics ----

  const basicsForm = (req: Request, res: Response, account: Account, options: { status?: number; error?: string } = {}) => {
    const { user } = account;
    const posted = req.method === 'POST';
    const value = (name: string, current: string) => (posted ? formText(req, name) : current);
    renderAdmin(deps, req, res, { title: `User Basics: ${fullName(account)}`, section: 'users', status: options.status ?? 200 }, (csrf) => html`
<h1>User Basics <span class="muted">${fullName(account)} (${user.extension})</span></h1>
${editMenu(account, 'basics')}
${formError(options.error)}
<form method="post" action="/admin/users/${user.id}/edit" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'extension', name: 'extension', label: 'Extension', value: value('extension', user.extension), required: true, inputmode: 'numeric' })}
  ${textField({ id: 'firstName', name: 'firstName', label: 'First Name', value: value('firstName', user.firstName), required: true })}
  ${textField({ id: 'lastName', name: 'lastName', label: 'Last Name', value: value('lastName', user.lastName), required: true })}
  ${textField({ id: 'phone', name: 'phone', label: 'Phone', value: value('phone', user.phone ?? ''), inputmode: 'tel', help: 'optional, E.164 like +15551230001' })}
  ${selectField({ id: 'locale', name: 'locale', label: 'Language', options: localeOptions(), selected: value('locale', user.locale) })}
  <button type="submit">Save</button>
</form>`);
  };

  router.get('/users/:id/edit', async (req, res) => basicsForm(req, res, await loadAccount(req)));

  router.post('/users/:id/edit', async (req, res) => {
    const account = await loadAccount(req);
    try {
      await services.accounts.updateUser(
        account.user.id,
        {
          extension: formText(req, 'extension'),
          firstName: formText(req, 'firstName'),
          lastName: formText(req, 'lastName'),
          phone: formText(req, 'phone') || null,
          locale: formText(req, 'locale'),
        },
        adminActor(req),
      );
      await redirectWith(req, res, `/admin/users/${account.user.id}/edit`, 'Saved User Basics');
    } catch (err) {
      if (!(err instanceof InputError) || err instanceof NotFoundError) throw err;
      basicsForm(req, res, account, { status: err.status, error: err.message });
    }
  });

  // ---- Edit > Password Settings ----

  router.get('/users/:id/password-settings', async (req, res) => {
    const account = await loadAccount(req);
    const rules = await ruleOptions();
    const { user, pin } = account;
    const status = pinStatus(pin, account.rule, new Date());
    const lockout =
      status.lockout === 'admin'
        ? html`Yes, by an administrator`
        : status.lockout === 'intruder'
          ? status.lockedUntil
            ? html`Yes, by intruder detection, until ${formatTime(status.lockedUntil)}`
            : html`Yes, by intruder detection, until an administrator unlocks`
          : html`No`;
    renderAdmin(deps, req, res, { title: `Password Settings: ${fullName(account)}`, section: 'users' }, (csrf) => html`
<h1>Password Settings <span class="muted">${fullName(account)} (${user.extension})</span></h1>
${editMenu(account, 'password-settings')}
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
  ${readonlyField('lockout', 'Locked Now', lockout)}
  ${readonlyField('expires', 'PIN Expires', status.expiresAt ? formatTime(status.expiresAt) : 'Never')}
  ${readonlyField('enrollment', 'Enrollment Pending', pin.enrollmentPending ? 'Yes' : 'No')}
</div>
<div class="actions">${postButton(`/admin/users/${user.id}/unlock`, csrf, 'Unlock')}
  <span class="muted">Clears a lock by an administrator or by intruder detection, and the failed sign-in count.</span></div>`);
  });

  router.post('/users/:id/password-settings', async (req, res) => {
    const account = await loadAccount(req);
    const actor = adminActor(req);
    const ruleName = formText(req, 'rule');
    if (ruleName && ruleName !== account.rule.name) {
      await services.accounts.updateUser(account.user.id, { ruleName }, actor);
    }
    await services.pins.setFlags(
      account.user.id,
      {
        lockedByAdmin: formChecked(req, 'lockedByAdmin'),
        cannotChange: formChecked(req, 'cannotChange'),
        mustChange: formChecked(req, 'mustChange'),
        doesNotExpire: formChecked(req, 'doesNotExpire'),
      },
      actor,
    );
    await redirectWith(req, res, `/admin/users/${account.user.id}/password-settings`, 'Saved Password Settings');
  });

  router.post('/users/:id/unlock', async (req, res) => {
    const account = await loadAccount(req);
    await services.pins.unlock(account.user.id, adminActor(req));
    await redirectWith(req, res, `/admin/users/${account.user.id}/password-settings`, 'Unlocked');
  });

  // ---- Edit > Change Password (DESIGN §7) ----

  const changePasswordForm = (
    req: Request,
    res: Response,
    account: Account,
    options: { status?: number; error?: string } = {},
  ) => {
    const posted = req.method === 'POST';
    const target = (posted ? formText(req, 'target') : queryText(req, 'target')) === 'web' ? 'web' : 'voicemail';
    // Ticked by default; after a refused attempt, as the administrator left it.
    const mustChange = posted ? formChecked(req, 'mustChange') : true;
    const { user } = account;
    renderAdmin(deps, req, res, { title: `Change Password: ${fullName(account)}`, section: 'users', status: options.status ?? 200 }, (csrf) => html`
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
</form>`);
  };

  router.get('/users/:id/change-password', async (req, res) => changePasswordForm(req, res, await loadAccount(req)));

  router.post('/users/:id/change-password', async (req, res) => {
    const account = await loadAccount(req);
    const target = formText(req, 'target') === 'web' ? 'web' : 'voicemail';
    const password = formText(req, 'password', { keepSpaces: true });
    const mustChange = formChecked(req, 'mustChange');
    const again = (status: number, error: string) => changePasswordForm(req, res, account, { status, error });

    if (password === '') return again(422, 'Enter the new password in Password and Confirm Password.');
    if (password !== formText(req, 'confirm', { keepSpaces: true })) {
      return again(422, 'Password and Confirm Password do not match.');
    }
    const actor = adminActor(req);
    if (target === 'voicemail') {
      // The one PIN change path: the user's rule applies, except the minimum time between changes.
      const result = await services.pins.changePin({ userId: account.user.id, newPin: password, kind: 'administrative', actor, mustChange });
      if (!result.ok) return again(422, describeRefusal(result.refusal));
    } else {
      try {
        await services.webCredentials.setUserPassword(account.user.id, password, actor, { mustChange });
      } catch (err) {
        if (!(err instanceof InputError) || err instanceof NotFoundError) throw err;
        return again(err.status, err.message);
      }
    }
    await redirectWith(
      req,
      res,
      `/admin/users/${account.user.id}/change-password${target === 'web' ? '?target=web' : ''}`,
      'Updated Password',
    );
  });

  // ---- delete ----

  router.get('/users/:id/delete', async (req, res) => {
    const account = await loadAccount(req);
    renderAdmin(deps, req, res, { title: `Delete ${fullName(account)}`, section: 'users' }, (csrf) => html`
<h1>Delete ${fullName(account)} <span class="muted">(${account.user.extension})</span>?</h1>
<p>The user, their PIN and PIN history and their web password are removed. The audit trail keeps the user’s events.</p>
<div class="actions">${postButton(`/admin/users/${account.user.id}/delete`, csrf, 'Delete User', 'danger')}
  <a href="/admin/users/${account.user.id}">Cancel</a></div>`);
  });

  router.post('/users/:id/delete', async (req, res) => {
    const account = await loadAccount(req);
    await services.accounts.deleteUser(account.user.id, adminActor(req));
    await redirectWith(req, res, '/admin/users', `Deleted user ${fullName(account)} (${account.user.extension})`);
  });

  return router;
}
