import { once } from 'node:events';
import { Router, type Request } from 'express';
import { PIN_FLAG_ACTIONS, userChangeActions, type UserField } from '../../../accounts/roles.js';
import { checkUserFields, type UserFieldsInput } from '../../../accounts/user-fields.js';
import { InputError, NotFoundError } from '../../../errors.js';
import { PinRefusedError } from '../../../pin/change.js';
import { exportUsersCsv } from '../../../accounts/export.js';
import { formChecked, formText, queryPage, queryText, routeId } from '../../forms.js';
import type { FieldError, Option } from '../../layout.js';
import { refusalText } from '../../refusals.js';
import { adminActor, allow, can, redirectWith, renderAdmin, type AdminDeps } from '../context.js';
import {
  USERS_COUNTED,
  USERS_PAGE_SIZE,
  basicsForm,
  changePasswordForm,
  deleteConfirmation,
  fullName,
  localeLabel,
  newUserForm,
  passwordSettingsPage,
  resetDone,
  userPage,
  usersList,
  type FormOutcome,
} from './views.js';

/** Users: search and paging, create, the user's page, Edit (User Basics, Password Settings, Change Password), delete. */
export function userRoutes(deps: AdminDeps): Router {
  const { services } = deps;
  const { accounts, pins } = services;
  const router = Router();

  const loadAccount = async (req: Request) => {
    const id = routeId(req.params.id as string | undefined);
    if (id === null) throw new NotFoundError('user');
    return accounts.getAccount({ userId: id });
  };
  const locales = (): Option[] => services.catalog.localeNames.map((code) => ({ value: code, label: localeLabel(code) }));
  const rules = async (): Promise<Option[]> => (await accounts.listRules()).map((r) => ({ value: r.name, label: r.name }));
  /** Runs a change; an InputError shows the form again with the message, anything else fails the page. */
  const orForm = async (change: () => Promise<void>, form: (outcome: FormOutcome & { code: string }) => Promise<void> | void) => {
    try {
      await change();
    } catch (err) {
      if (!(err instanceof InputError) || err instanceof NotFoundError) throw err;
      await form({ status: err.status, error: err instanceof PinRefusedError ? refusalText(err.refusal) : err.message, code: err.code });
    }
  };

  router.get('/users', allow(deps, 'read'), async (req, res) => {
    const q = queryText(req, 'q').slice(0, 100);
    const page = queryPage(req);
    const offset = (page - 1) * USERS_PAGE_SIZE;
    const { total, capped, accounts: found } = await accounts.search({ query: q, limit: USERS_PAGE_SIZE, offset, countLimit: offset + USERS_COUNTED });
    renderAdmin(deps, req, res, { title: 'Users', section: 'users' }, () => usersList({ q, page, total, capped, accounts: found, now: new Date(), can: can(res) }));
  });

  // ---- create ----

  const showNewUserForm = async (req: Request, res: Parameters<typeof renderAdmin>[2], outcome: FormOutcome = {}) => {
    const options = { ...outcome, locales: locales(), rules: await rules(), defaultLocale: accounts.defaultLocale };
    renderAdmin(deps, req, res, { title: 'New User', section: 'users', status: outcome.status ?? 200 }, (csrf) => newUserForm(req, csrf, options));
  };

  router.get('/users/new', allow(deps, 'user.create'), (req, res) => showNewUserForm(req, res));

  router.post('/users', allow(deps, 'user.create'), async (req, res) => {
    const pin = formText(req, 'pin', { keepSpaces: true });
    const problems = newUserProblems(req, pin, services.catalog.localeNames);
    if (problems.length > 0) return showNewUserForm(req, res, { status: problems[0]?.status ?? 422, errors: problems });
    await orForm(
      async () => {
        const { user } = await accounts.createUser(
          {
            extension: formText(req, 'extension'),
            firstName: formText(req, 'firstName'),
            lastName: formText(req, 'lastName'),
            phone: formText(req, 'phone') || null,
            email: formText(req, 'email') || null,
            locale: formText(req, 'locale') || accounts.defaultLocale,
            ruleName: formText(req, 'rule') || 'default',
            // Left empty (or not on the form), the default or the current wait stays.
            ...(formText(req, 'responseWait') !== '' ? { responseWait: formText(req, 'responseWait') } : {}),
            pin,
            enroll: formChecked(req, 'enroll'),
          },
          adminActor(req),
        );
        await redirectWith(req, res, `/admin/users/${user.id}`, `Created user ${user.firstName} ${user.lastName} (${user.extension})`);
      },
      // What only the database or the rule can tell (a taken extension, a refused PIN), named by its field.
      (outcome) => showNewUserForm(req, res, { status: outcome.status ?? 422, errors: [{ field: fieldOfCode(outcome.code), message: outcome.error ?? '' }] }),
    );
  });

  // ---- the user's page ----

  // Before /users/:id, whose id "export.csv" is not.
  router.get('/users/export.csv', allow(deps, 'users.export'), async (_req, res) => {
    res.set('Content-Type', 'text/csv; charset=utf-8').attachment(`pinline-users-${new Date().toISOString().slice(0, 10)}.csv`);
    await exportUsersCsv(accounts, async (text) => {
      // A slow download holds the next page back rather than piling it up in memory.
      // A browser that went away gets nothing more; the remaining pages are read and dropped.
      if (res.destroyed) return;
      if (!res.write(text)) await Promise.race([once(res, 'drain'), once(res, 'close')]);
    });
    res.end();
  });

  router.get('/users/:id', allow(deps, 'read'), async (req, res) => {
    const account = await loadAccount(req);
    renderAdmin(deps, req, res, { title: fullName(account), section: 'users' }, () => userPage(account, new Date(), can(res)));
  });

  // ---- Edit > User Basics ----

  router.get('/users/:id/edit', allow(deps, 'read'), async (req, res) => {
    const account = await loadAccount(req);
    renderAdmin(deps, req, res, { title: `User Basics: ${fullName(account)}`, section: 'users' }, (csrf) =>
      basicsForm(req, csrf, account, { locales: locales(), can: can(res) }),
    );
  });

  // The fields posted say what the change takes: the helpdesk's form has only the contact fields.
  router.post('/users/:id/edit', allow(deps, (req) => userChangeActions(postedBasics(req))), async (req, res) => {
    const account = await loadAccount(req);
    const posted = new Set(postedBasics(req));
    const field = (name: UserField) => (posted.has(name) ? formText(req, name) : undefined);
    await orForm(
      async () => {
        await accounts.updateUser(
          account.user.id,
          {
            extension: field('extension'),
            firstName: field('firstName'),
            lastName: field('lastName'),
            phone: posted.has('phone') ? formText(req, 'phone') || null : undefined,
            email: posted.has('email') ? formText(req, 'email') || null : undefined,
            locale: field('locale'),
            // Left empty (or not on the form), the default or the current wait stays.
            ...(formText(req, 'responseWait') !== '' ? { responseWait: formText(req, 'responseWait') } : {}),
          },
          adminActor(req),
        );
        await redirectWith(req, res, `/admin/users/${account.user.id}/edit`, 'Saved User Basics');
      },
      (outcome) =>
        renderAdmin(deps, req, res, { title: `User Basics: ${fullName(account)}`, section: 'users', status: outcome.status ?? 200 }, (csrf) =>
          basicsForm(req, csrf, account, { ...outcome, locales: locales(), can: can(res) }),
        ),
    );
  });

  // ---- Edit > Password Settings ----

  router.get('/users/:id/password-settings', allow(deps, 'read'), async (req, res) => {
    const account = await loadAccount(req);
    const ruleOptions = await rules();
    renderAdmin(deps, req, res, { title: `Password Settings: ${fullName(account)}`, section: 'users' }, (csrf) =>
      passwordSettingsPage(csrf, account, new Date(), ruleOptions, can(res)),
    );
  });

  // The form sets every flag and the rule at once (an unticked box is not sent), so it takes all of their actions.
  router.post('/users/:id/password-settings', allow(deps, PASSWORD_SETTINGS_ACTIONS), async (req, res) => {
    const account = await loadAccount(req);
    await accounts.updatePinSettings(
      account.user.id,
      {
        ...(formText(req, 'rule') ? { ruleName: formText(req, 'rule') } : {}),
        flags: {
          lockedByAdmin: formChecked(req, 'lockedByAdmin'),
          cannotChange: formChecked(req, 'cannotChange'),
          mustChange: formChecked(req, 'mustChange'),
          doesNotExpire: formChecked(req, 'doesNotExpire'),
        },
      },
      adminActor(req),
    );
    await redirectWith(req, res, `/admin/users/${account.user.id}/password-settings`, 'Saved Password Settings');
  });

  router.post('/users/:id/unlock', allow(deps, 'user.unlock'), async (req, res) => {
    const account = await loadAccount(req);
    await pins.updateSettings(account.user.id, { unlock: true }, adminActor(req));
    await redirectWith(req, res, `/admin/users/${account.user.id}/password-settings`, 'Unlocked');
  });

  // Ends "deactivated by the directory" (DESIGN §11): the action 'user.reactivate', a system administrator's only.
  router.post('/users/:id/reactivate', allow(deps, 'user.reactivate'), async (req, res) => {
    const account = await loadAccount(req);
    await services.scim.reactivate(account.user.id, adminActor(req));
    await redirectWith(req, res, `/admin/users/${account.user.id}/password-settings`, 'Reactivated');
  });

  // ---- Edit > Change Password (DESIGN §7) ----

  const showChangePassword = (
    req: Request,
    res: Parameters<typeof renderAdmin>[2],
    account: Awaited<ReturnType<typeof loadAccount>>,
    outcome: FormOutcome & { resetError?: string } = {},
  ) =>
    renderAdmin(deps, req, res, { title: `Change Password: ${fullName(account)}`, section: 'users', status: outcome.status ?? 200 }, (csrf) =>
      changePasswordForm(req, csrf, account, { ...outcome, reachable: services.notifications.reachable(account.user), can: can(res) }),
    );

  router.get('/users/:id/change-password', allow(deps, { anyOf: CHANGE_PASSWORD_ACTIONS }), async (req, res) =>
    showChangePassword(req, res, await loadAccount(req)),
  );

  // Choosing a phone PIN is the system's; setting a web password, the helpdesk's too.
  router.post('/users/:id/change-password', allow(deps, (req) => [passwordTarget(req) === 'web' ? 'user.reset_web_password' : 'pin.choose']), async (req, res) => {
    const account = await loadAccount(req);
    const target = passwordTarget(req);
    const password = formText(req, 'password', { keepSpaces: true });
    const mustChange = formChecked(req, 'mustChange');
    const again = (error: string, status = 422) => showChangePassword(req, res, account, { status, error });

    if (password === '') return again('Enter the new password in Password and Confirm Password.');
    if (password !== formText(req, 'confirm', { keepSpaces: true })) return again('Password and Confirm Password do not match.');
    const actor = adminActor(req);
    if (target === 'voicemail') {
      // The one PIN change path: the user's rule applies, except the minimum time between changes.
      const result = await pins.changePin({ userId: account.user.id, newPin: password, kind: 'administrative', actor, mustChange });
      if (!result.ok) return again(refusalText(result.refusal));
    } else {
      let failed: FormOutcome | null = null;
      await orForm(
        async () => {
          await services.webCredentials.setUserPassword(account.user.id, password, actor, { mustChange });
        },
        (outcome) => {
          failed = outcome;
        },
      );
      if (failed !== null) return showChangePassword(req, res, account, failed);
    }
    await redirectWith(
      req,
      res,
      `/admin/users/${account.user.id}/change-password${target === 'web' ? '?target=web' : ''}`,
      'Updated Password',
    );
  });

  // ---- Edit > Change Password > Reset PIN (DESIGN §8) ----

  router.post('/users/:id/reset-pin', allow(deps, 'pin.reset'), async (req, res) => {
    const account = await loadAccount(req);
    let result;
    try {
      result = await pins.resetPin(account.user.id, adminActor(req), { showOnce: formChecked(req, 'show') });
    } catch (err) {
      if (!(err instanceof InputError) || err instanceof NotFoundError) throw err;
      return showChangePassword(req, res, account, { status: err.status, resetError: err.message });
    }
    // Answered here, not redirected: a shown PIN must live in this one response, never in the session.
    const reset = await accounts.getAccount({ userId: account.user.id });
    renderAdmin(deps, req, res, { title: `Reset PIN: ${fullName(account)}`, section: 'users' }, () => resetDone(reset, result, can(res)));
  });

  // ---- delete ----

  router.get('/users/:id/delete', allow(deps, 'user.delete'), async (req, res) => {
    const account = await loadAccount(req);
    renderAdmin(deps, req, res, { title: `Delete ${fullName(account)}`, section: 'users' }, (csrf) => deleteConfirmation(csrf, account));
  });

  router.post('/users/:id/delete', allow(deps, 'user.delete'), async (req, res) => {
    const account = await loadAccount(req);
    await accounts.deleteUser(account.user.id, adminActor(req));
    await redirectWith(req, res, '/admin/users', `Deleted user ${fullName(account)} (${account.user.extension})`);
  });

  return router;
}

const PASSWORD_SETTINGS_ACTIONS = [...new Set(Object.values(PIN_FLAG_ACTIONS)), 'user.assign_rule'] as const;
const CHANGE_PASSWORD_ACTIONS = ['pin.choose', 'user.reset_web_password', 'pin.reset'] as const;

/** The User Basics fields a posted form carries. */
const BASICS_FIELDS: readonly UserField[] = ['extension', 'firstName', 'lastName', 'phone', 'email', 'locale', 'responseWait'];

function postedBasics(req: Request): UserField[] {
  const body = (req.body ?? {}) as Record<string, unknown>;
  return BASICS_FIELDS.filter((field) => field in body);
}

function passwordTarget(req: Request): 'web' | 'voicemail' {
  return formText(req, 'target') === 'web' ? 'web' : 'voicemail';
}

/**
 * Every problem of the New User form that its fields show by themselves, all at once: each field
 * checked alone by the service's own checkUserFields. The rest (a taken extension, a PIN the rule
 * refuses) only the service can tell.
 */
function newUserProblems(req: Request, pin: string, locales: readonly string[]): Array<FieldError & { status: number }> {
  const fields: ReadonlyArray<readonly [field: string, input: UserFieldsInput]> = [
    ['extension', { extension: formText(req, 'extension') }],
    ['firstName', { firstName: formText(req, 'firstName') }],
    ['lastName', { lastName: formText(req, 'lastName') }],
    ['phone', { phone: formText(req, 'phone') || null }],
    ['email', { email: formText(req, 'email') || null }],
    ['responseWait', formText(req, 'responseWait') === '' ? {} : { responseWait: formText(req, 'responseWait') }],
  ];
  // The page answers with the status of the first problem (400 for a control character, 422 for a bad value).
  const problems: Array<FieldError & { status: number }> = [];
  for (const [field, input] of fields) {
    try {
      checkUserFields(input, locales);
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      problems.push({ field, message: err.message, status: err.status });
    }
  }
  if (pin === '') problems.push({ field: 'pin', message: 'Enter an initial PIN.', status: 422 });
  else if (pin !== formText(req, 'pinConfirm', { keepSpaces: true })) {
    problems.push({ field: 'pinConfirm', message: 'Initial PIN and Confirm PIN do not match.', status: 422 });
  }
  return problems;
}

const FIELD_OF_CODE: Readonly<Record<string, string>> = { extension_taken: 'extension', phone_taken: 'phone', unknown_rule: 'rule', invalid_locale: 'locale' };

/** The New User field a refusal from the service is about. */
function fieldOfCode(code: string): string | undefined {
  return code.startsWith('pin_') ? 'pin' : FIELD_OF_CODE[code];
}
