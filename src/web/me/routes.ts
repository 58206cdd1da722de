import { Router, type Request, type RequestHandler, type Response } from 'express';
import { EXTENSION_PATTERN, type Account } from '../../accounts/model.js';
import { checkPassword, plausiblePassword } from '../../accounts/web-credentials.js';
import type { Actor } from '../../audit/actor.js';
import { InputError, NotFoundError } from '../../errors.js';
import { pinStatus } from '../../pin/status.js';
import type { Services } from '../../runtime.js';
import { formText } from '../forms.js';
import type { HtmlValue } from '../html.js';
import { renderPage } from '../layout.js';
import { countAsFailure, credentialLimiter, type SigninLimit } from '../rate-limit.js';
import { refusalText } from '../refusals.js';
import { destroySession, saveSession, takeFlash, type BrowserSecurity } from '../session.js';
import { signinRoutes, type AuditSubject } from '../signin.js';
import { emailPage, passwordPage, pinPage, signinPage } from './views.js';

const ANONYMOUS: AuditSubject = { actor: { channel: 'web', name: 'web:(unknown)' } };

function userActor(extension: string): Actor {
  return { channel: 'web', name: `user:${extension}` };
}

function userSubject(user: { id: number; extension: string }): AuditSubject {
  return { actor: userActor(user.extension), userId: user.id, extension: user.extension };
}

const WEB_SIGNIN_REFUSALS = {
  locked_directory: 'Your account has been deactivated by your organisation’s directory. Ask your administrator.',
  locked_by_admin: 'Your account is locked by your administrator. Ask them to unlock it.',
  locked_inactive: 'Your account is locked because it has not been used for a long time. Ask your administrator to unlock it.',
  gone: 'Sign-in failed: the extension or web password is wrong.',
} as const;

/**
 * /me: a user signs in with extension and web password (a credential separate from the PIN),
 * sees the PIN's status and changes the PIN as a voluntary change: the rule applies in full,
 * history and minimum time between changes included, and no old PIN is asked for.
 */
export function meRouter(services: Services, security: BrowserSecurity, signinLimit: SigninLimit): Router {
  const router = Router();

  const render = (req: Request, res: Response, title: string, status: number, content: (csrf: string) => HtmlValue) => {
    const csrf = security.csrfToken(req, res);
    const user = req.session?.user;
    res
      .status(status)
      .type('html')
      .send(renderPage({ title, csrf, area: 'me', signedInAs: user ? `extension ${user.extension}` : null, flash: takeFlash(req) }, content(csrf)));
  };

  const signinForm = (req: Request, res: Response, options: { status?: number; error?: string; identifier?: string }) =>
    render(req, res, 'Sign In', options.status ?? 200, (csrf) => signinPage(csrf, options));

  router.use(
    signinRoutes<{ id: number; extension: string }>(
      services,
      {
        home: '/me',
        signedOut: '/me',
        failureMessage: 'Sign-in failed: the extension or web password is wrong.',
        auditPrefix: 'web',
        identifierField: 'extension',
        plausibleIdentifier: (extension) => EXTENSION_PATTERN.test(extension),
        verify: async (extension, password) => {
          const id = await services.webCredentials.verifyUserPassword(extension, password);
          return id === null ? null : { id, extension };
        },
        // Admitted: the sign-in counts as the user's activity (DESIGN §9).
        refusal: async (user) => {
          const admitted = await services.pins.admitWebSignin(user.id, userActor(user.extension));
          return admitted === 'ok' ? null : WEB_SIGNIN_REFUSALS[admitted];
        },
        attemptSubject: async (extension) => {
          const known = EXTENSION_PATTERN.test(extension) ? await services.accounts.findAccount({ extension }) : null;
          return known ? userSubject({ id: known.user.id, extension }) : ANONYMOUS;
        },
        principalSubject: userSubject,
        establish: async (req, user) => {
          const password = await services.webCredentials.userPasswordState(user.id);
          req.session.user = {
            id: user.id,
            extension: user.extension,
            mustChangePassword: password?.mustChange === true,
            passwordChangedAt: password?.changedAt.getTime() ?? null,
          };
        },
        sessionSubject: (req) => (req.session?.user ? userSubject(req.session.user) : null),
        renderForm: signinForm,
      },
      signinLimit,
    ),
  );

  /**
   * The signed-in user's account. The session ends when the user is deleted, locked by an
   * administrator or deactivated by the directory, or when their web password was set by anyone but this session since.
   */
  const signedInAccount = async (req: Request): Promise<Account | null> => {
    const user = req.session?.user;
    if (!user) return null;
    const [account, password] = await Promise.all([
      services.accounts.findAccount({ userId: user.id }),
      services.webCredentials.userPasswordState(user.id),
    ]);
    if (account && !account.pin.lockedByAdmin && account.pin.deactivatedAt === null && password && password.changedAt.getTime() === user.passwordChangedAt) {
      return account;
    }
    await destroySession(req);
    return null;
  };

  const requireUser: RequestHandler = async (req, res, next) => {
    const account = await signedInAccount(req);
    if (!account) return res.redirect(303, '/me');
    res.locals.account = account;
    // An administrator's "must change at next sign-in" for the web password comes first.
    if (req.session.user?.mustChangePassword && req.path !== '/password') return res.redirect(303, '/me/password');
    next();
  };

  const accountOf = (res: Response): Account => res.locals.account as Account;

  const statusPage = (req: Request, res: Response, account: Account, options: { status?: number; error?: string } = {}) =>
    render(req, res, 'Your PIN', options.status ?? 200, (csrf) => pinPage(csrf, account, new Date(), options.error));

  router.get('/', async (req, res) => {
    const account = await signedInAccount(req);
    if (!account) return signinForm(req, res, {});
    if (req.session.user?.mustChangePassword) return res.redirect(303, '/me/password');
    statusPage(req, res, account);
  });

  router.post('/pin', requireUser, async (req, res) => {
    const account = accountOf(res);
    const newPin = formText(req, 'newPin', { keepSpaces: true });
    const again = (error: string) => statusPage(req, res, account, { status: 422, error });
    if (newPin === '') return again('Enter your new PIN in New PIN and Confirm PIN.');
    if (newPin !== formText(req, 'confirmPin', { keepSpaces: true })) return again('New PIN and Confirm PIN do not match.');
    // A user who must change the PIN (enrollment, expiry, or an administrator's reset) may do
    // so here at once: the minimum time between changes is for voluntary changes only (DESIGN §1).
    const kind = pinStatus(account.pin, account.rule, new Date()).requiredChange ?? 'voluntary';
    const result = await services.pins.changePin({
      userId: account.user.id,
      newPin,
      kind,
      actor: userActor(account.user.extension),
    });
    if (!result.ok) return again(refusalText(result.refusal));
    req.session.flash = { kind: 'status', text: 'Your PIN was changed. Use the new PIN at your next phone sign-in.' };
    // Saved before the 303 leaves, so the next page surely sees the message.
    await saveSession(req);
    res.redirect(303, '/me');
  });

  const showPasswordPage = (req: Request, res: Response, options: { status?: number; error?: string } = {}) =>
    render(req, res, 'Change Web Password', options.status ?? 200, (csrf) =>
      passwordPage(csrf, req.session.user?.mustChangePassword === true, options.error),
    );

  router.get('/password', requireUser, (req, res) => showPasswordPage(req, res));

  const showEmailPage = (req: Request, res: Response, account: Account, options: { status?: number; error?: string } = {}) =>
    render(req, res, 'Change E-mail', options.status ?? 200, (csrf) => emailPage(csrf, account.user.email, options.error));

  router.get('/email', requireUser, (req, res) => showEmailPage(req, res, accountOf(res)));

  // Guesses of the current password are throttled per user, like sign-ins per address: the
  // session may be someone else's left open, and each guess costs a hash.
  const passwordGuesses = credentialLimiter(
    services.pool,
    'web-password',
    signinLimit,
    async (req, res, refusal) => {
      const user = req.session.user;
      if (refusal.firstInWindow && user) {
        await services.audit.record({
          event: 'web.password_check_throttled',
          ...userSubject(user),
          details: { ip: req.ip ?? null },
        });
      }
      const refused = { status: 429, error: `Too many wrong current passwords. Try again in ${refusal.retryAfterMinutes} minutes.` };
      if (req.path === '/email') showEmailPage(req, res, accountOf(res), refused);
      else showPasswordPage(req, res, refused);
    },
    { key: (req) => `user:${req.session.user?.id ?? 0}` },
  );

  /** The current web password, typed to confirm a change: a wrong one is audited and counts toward the limit. */
  const currentPasswordIsRight = async (req: Request, res: Response, account: Account): Promise<boolean> => {
    const current = formText(req, 'current', { keepSpaces: true });
    const ok =
      plausiblePassword(current) && (await services.webCredentials.verifyUserPassword(account.user.extension, current)) === account.user.id;
    if (!ok) {
      countAsFailure(res);
      await services.audit.record({ event: 'web.password_check_failed', ...userSubject(account.user), details: { ip: req.ip ?? null } });
    }
    return ok;
  };

  router.post('/password', requireUser, passwordGuesses, async (req, res) => {
    const account = accountOf(res);
    const forced = req.session.user?.mustChangePassword === true;
    const newPassword = formText(req, 'newPassword', { keepSpaces: true });
    if (newPassword !== formText(req, 'confirmPassword', { keepSpaces: true })) {
      return showPasswordPage(req, res, { status: 422, error: 'New Web Password and Confirm Web Password do not match.' });
    }
    try {
      // Checked before the current password, so a form that cannot succeed costs no hash.
      checkPassword(newPassword);
      if (!forced && !(await currentPasswordIsRight(req, res, account))) {
        return showPasswordPage(req, res, { status: 422, error: 'The current web password is wrong.' });
      }
      // This session stays signed in; the user's other sessions end.
      const changedAt = await services.webCredentials.setUserPassword(account.user.id, newPassword, userActor(account.user.extension), {
        mustChange: false,
        keepSid: req.sessionID,
      });
      if (req.session.user) {
        req.session.user.mustChangePassword = false;
        req.session.user.passwordChangedAt = changedAt.getTime();
      }
    } catch (err) {
      if (!(err instanceof InputError) || err instanceof NotFoundError) throw err;
      return showPasswordPage(req, res, { status: err.status, error: err.message });
    }
    req.session.flash = { kind: 'status', text: 'Your web password was changed.' };
    await saveSession(req);
    res.redirect(303, '/me');
  });

  // DESIGN §8: changing one's e-mail asks for the current web password, and the old address is told.
  router.post('/email', requireUser, passwordGuesses, async (req, res) => {
    const account = accountOf(res);
    if (!(await currentPasswordIsRight(req, res, account))) {
      return showEmailPage(req, res, account, { status: 422, error: 'The current web password is wrong.' });
    }
    try {
      await services.accounts.updateUser(account.user.id, { email: formText(req, 'email') || null }, userActor(account.user.extension));
    } catch (err) {
      if (!(err instanceof InputError) || err instanceof NotFoundError) throw err;
      return showEmailPage(req, res, account, { status: err.status, error: err.message });
    }
    req.session.flash = { kind: 'status', text: 'Your e-mail address was changed.' };
    await saveSession(req);
    res.redirect(303, '/me');
  });

  return router;
}
