import { Router, type Request } from 'express';
import { InputError, NotFoundError } from '../../../errors.js';
import { describeRefusal } from '../../../pin/change.js';
import { formChecked, formText, queryPage, queryText, routeId } from '../../forms.js';
import type { Option } from '../../layout.js';
import { adminActor, redirectWith, renderAdmin, type AdminDeps } from '../context.js';
import {
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
  const orForm = async (change: () => Promise<void>, form: (outcome: FormOutcome) => Promise<void> | void) => {
    try {
      await change();
    } catch (err) {
      if (!(err instanceof InputError) || err instanceof NotFoundError) throw err;
      await form({ status: err.status, error: err.message });
    }
  };

  router.get('/users', async (req, res) => {
    const q = queryText(req, 'q').slice(0, 100);
    const page = queryPage(req);
    const { total, accounts: found } = await accounts.search({ query: q, limit: USERS_PAGE_SIZE, offset: (page - 1) * USERS_PAGE_SIZE });
    renderAdmin(deps, req, res, { title: 'Users', section: 'users' }, () => usersList({ q, page, total, accounts: found, now: new Date() }));
  });

  // ---- create ----

  const showNewUserForm = async (req: Request, res: Parameters<typeof renderAdmin>[2], outcome: FormOutcome = {}) => {
    const options = { ...outcome, locales: locales(), rules: await rules(), defaultLocale: accounts.defaultLocale };
    renderAdmin(deps, req, res, { title: 'New User', section: 'users', status: outcome.status ?? 200 }, (csrf) => newUserForm(req, csrf, options));
  };

  router.get('/users/new', (req, res) => showNewUserForm(req, res));

  router.post('/users', async (req, res) => {
    const pin = formText(req, 'pin', { keepSpaces: true });
    if (pin === '') return showNewUserForm(req, res, { status: 422, error: 'Enter an initial PIN.' });
    if (pin !== formText(req, 'pinConfirm', { keepSpaces: true })) {
      return showNewUserForm(req, res, { status: 422, error: 'Initial PIN and Confirm PIN do not match.' });
    }
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
      (outcome) => showNewUserForm(req, res, outcome),
    );
  });

  // ---- the user's page ----

  router.get('/users/:id', async (req, res) => {
    const account = await loadAccount(req);
    renderAdmin(deps, req, res, { title: fullName(account), section: 'users' }, () => userPage(account, new Date()));
  });

  // ---- Edit > User Basics ----

  router.get('/users/:id/edit', async (req, res) => {
    const account = await loadAccount(req);
    renderAdmin(deps, req, res, { title: `User Basics: ${fullName(account)}`, section: 'users' }, (csrf) =>
      basicsForm(req, csrf, account, { locales: locales() }),
    );
  });

  router.post('/users/:id/edit', async (req, res) => {
    const account = await loadAccount(req);
    await orForm(
      async () => {
        await accounts.updateUser(
          account.user.id,
          {
            extension: formText(req, 'extension'),
            firstName: formText(req, 'firstName'),
            lastName: formText(req, 'lastName'),
            phone: formText(req, 'phone') || null,
            email: formText(req, 'email') || null,
            locale: formText(req, 'locale'),
            // Left empty (or not on the form), the default or the current wait stays.
            ...(formText(req, 'responseWait') !== '' ? { responseWait: formText(req, 'responseWait') } : {}),
          },
          adminActor(req),
        );
        await redirectWith(req, res, `/admin/users/${account.user.id}/edit`, 'Saved User Basics');
      },
      (outcome) =>
        renderAdmin(deps, req, res, { title: `User Basics: ${fullName(account)}`, section: 'users', status: outcome.status ?? 200 }, (csrf) =>
          basicsForm(req, csrf, account, { ...outcome, locales: locales() }),
        ),
    );
  });

  // ---- Edit > Password Settings ----

  router.get('/users/:id/password-settings', async (req, res) => {
    const account = await loadAccount(req);
    const ruleOptions = await rules();
    renderAdmin(deps, req, res, { title: `Password Settings: ${fullName(account)}`, section: 'users' }, (csrf) =>
      passwordSettingsPage(csrf, account, new Date(), ruleOptions),
    );
  });

  router.post('/users/:id/password-settings', async (req, res) => {
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

  router.post('/users/:id/unlock', async (req, res) => {
    const account = await loadAccount(req);
    await pins.updateSettings(account.user.id, { unlock: true }, adminActor(req));
    await redirectWith(req, res, `/admin/users/${account.user.id}/password-settings`, 'Unlocked');
  });

  // ---- Edit > Change Password (DESIGN §7) ----

  const showChangePassword = (
    req: Request,
    res: Parameters<typeof renderAdmin>[2],
    account: Awaited<ReturnType<typeof loadAccount>>,
    outcome: FormOutcome & { resetError?: string } = {},
  ) =>
    renderAdmin(deps, req, res, { title: `Change Password: ${fullName(account)}`, section: 'users', status: outcome.status ?? 200 }, (csrf) =>
      changePasswordForm(req, csrf, account, { ...outcome, reachable: services.notifications.reachable(account.user) }),
    );

  router.get('/users/:id/change-password', async (req, res) => showChangePassword(req, res, await loadAccount(req)));

  router.post('/users/:id/change-password', async (req, res) => {
    const account = await loadAccount(req);
    const target = formText(req, 'target') === 'web' ? 'web' : 'voicemail';
    const password = formText(req, 'password', { keepSpaces: true });
    const mustChange = formChecked(req, 'mustChange');
    const again = (error: string, status = 422) => showChangePassword(req, res, account, { status, error });

    if (password === '') return again('Enter the new password in Password and Confirm Password.');
    if (password !== formText(req, 'confirm', { keepSpaces: true })) return again('Password and Confirm Password do not match.');
    const actor = adminActor(req);
    if (target === 'voicemail') {
      // The one PIN change path: the user's rule applies, except the minimum time between changes.
      const result = await pins.changePin({ userId: account.user.id, newPin: password, kind: 'administrative', actor, mustChange });
      if (!result.ok) return again(describeRefusal(result.refusal));
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

  router.post('/users/:id/reset-pin', async (req, res) => {
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
    renderAdmin(deps, req, res, { title: `Reset PIN: ${fullName(account)}`, section: 'users' }, () => resetDone(reset, result));
  });

  // ---- delete ----

  router.get('/users/:id/delete', async (req, res) => {
    const account = await loadAccount(req);
    renderAdmin(deps, req, res, { title: `Delete ${fullName(account)}`, section: 'users' }, (csrf) => deleteConfirmation(csrf, account));
  });

  router.post('/users/:id/delete', async (req, res) => {
    const account = await loadAccount(req);
    await accounts.deleteUser(account.user.id, adminActor(req));
    await redirectWith(req, res, '/admin/users', `Deleted user ${fullName(account)} (${account.user.extension})`);
  });

  return router;
}
