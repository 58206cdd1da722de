import { Router, type Request, type RequestHandler, type Response } from 'express';
import { checkPassword, plausiblePassword } from '../accounts/web-credentials.js';
import { recordAudit, type Actor } from '../db/audit.js';
import { EXTENSION_PATTERN, findAccount, type Account } from '../db/users.js';
import { InputError, NotFoundError } from '../errors.js';
import { describeRefusal } from '../pin/service.js';
import { pinStatus } from '../pin/status.js';
import type { Services } from '../runtime.js';
import { formText } from './forms.js';
import { html, type HtmlValue } from './html.js';
import { csrfField, formatTime, formError, renderPage, textField } from './layout.js';
import { countAsFailure, credentialLimiter, type SigninLimit } from './rate-limit.js';
import { destroySession, saveSession, takeFlash, type BrowserSecurity } from './session.js';
import { signinRoutes, type AuditSubject, type SigninFormOptions } from './signin.js';

const ANONYMOUS: AuditSubject = { actor: { channel: 'web', name: 'web:(unknown)' } };

function userActor(extension: string): Actor {
  return { channel: 'web', name: `user:${extension}` };
}

function userSubject(user: { id: number; extension: string }): AuditSubject {
  return { actor: userActor(user.extension), userId: user.id, extension: user.extension };
}

const LOCKED_BY_ADMIN = 'Your account is locked by your administrator. Ask them to unlock it.';

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function minutesText(minutes: number): string {
  if (minutes % 1440 === 0) return plural(minutes / 1440, 'day');
  if (minutes % 60 === 0) return plural(minutes / 60, 'hour');
  return plural(minutes, 'minute');
}

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

  const signinForm = (req: Request, res: Response, options: SigninFormOptions) =>
    render(req, res, 'Sign In', options.status ?? 200, (csrf) => html`
<h1>Sign In</h1>
<p class="lead">Sign in with your extension and your web password to see and change your phone PIN.</p>
${formError(options.error)}
<form method="post" action="/me/signin" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'extension', name: 'extension', label: 'Extension', value: options.identifier ?? '', required: true, inputmode: 'numeric', autocomplete: 'username', invalid: Boolean(options.error) })}
  ${textField({ id: 'password', name: 'password', label: 'Web Password', type: 'password', required: true, autocomplete: 'current-password', invalid: Boolean(options.error) })}
  <button type="submit">Sign In</button>
</form>
<p class="muted">Your web password is not your PIN. If you have none, ask your administrator to set one.</p>`);

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
        refusal: async (user) => {
          const account = await findAccount(services.pool, { userId: user.id });
          return account?.pin.lockedByAdmin ? LOCKED_BY_ADMIN : null;
        },
        attemptSubject: async (extension) => {
          const known = EXTENSION_PATTERN.test(extension) ? await findAccount(services.pool, { extension }) : null;
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
   * The signed-in user's account. The session ends when the user is deleted or locked by an
   * administrator, or when their web password was set by anyone but this session since.
   */
  const signedInAccount = async (req: Request): Promise<Account | null> => {
    const user = req.session?.user;
    if (!user) return null;
    const [account, password] = await Promise.all([
      findAccount(services.pool, { userId: user.id }),
      services.webCredentials.userPasswordState(user.id),
    ]);
    if (account && !account.pin.lockedByAdmin && password && password.changedAt.getTime() === user.passwordChangedAt) {
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

  const statusPage = (req: Request, res: Response, account: Account, options: { status?: number; error?: string } = {}) => {
    const { user, pin, rule } = account;
    const status = pinStatus(pin, rule, new Date());
    const lockout =
      status.lockout === 'admin'
        ? 'Locked by your administrator: phone sign-in is refused until they unlock it.'
        : status.lockout === 'intruder'
          ? status.lockedUntil
            ? html`Locked after too many wrong PINs, until ${formatTime(status.lockedUntil)}.`
            : 'Locked after too many wrong PINs, until your administrator unlocks it.'
          : null;
    const ruleLines = [
      `${rule.minLength === rule.maxLength ? rule.minLength : `${rule.minLength} to ${rule.maxLength}`} digits`,
      rule.trivialCheck ? 'not easy to guess (no repeats, runs, keypad lines, your extension or name)' : null,
      rule.historyCount > 0 ? `not your current PIN or one of your last ${rule.historyCount}` : 'not your current PIN',
      rule.minChangeMinutes > 0 ? `at most one change every ${minutesText(rule.minChangeMinutes)}` : null,
    ].filter((line): line is string => line !== null);
    render(req, res, 'Your PIN', options.status ?? 200, (csrf) => html`
<h1>Your PIN</h1>
<p class="lead">${user.firstName} ${user.lastName}, extension ${user.extension}</p>
<dl class="facts">
  <dt>PIN Last Changed</dt><dd>${formatTime(pin.changedAt)}</dd>
  <dt>PIN Expires</dt><dd>${
    status.expiresAt
      ? html`${formatTime(status.expiresAt)}${status.expired ? ' (expired: choose a new PIN)' : ` (in ${plural(status.daysUntilExpiry ?? 0, 'day')})`}`
      : 'Never'
  }</dd>
  ${pin.mustChange ? html`<dt>Note</dt><dd>You will be asked for a new PIN at your next phone sign-in.</dd>` : ''}
  ${pin.enrollmentPending ? html`<dt>Note</dt><dd>Your first phone sign-in will take you through enrollment.</dd>` : ''}
  ${lockout ? html`<dt>Phone Sign-In</dt><dd>${lockout}</dd>` : ''}
</dl>
<h2>Change PIN</h2>
${formError(options.error)}
${
  pin.cannotChange
    ? html`<p>Your administrator has set your PIN so that you cannot change it.</p>`
    : html`<p>Your new PIN must be: ${ruleLines.join('; ')}.</p>
<form method="post" action="/me/pin" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'newPin', name: 'newPin', label: 'New PIN', type: 'password', required: true, inputmode: 'numeric', autocomplete: 'new-password', invalid: Boolean(options.error) })}
  ${textField({ id: 'confirmPin', name: 'confirmPin', label: 'Confirm PIN', type: 'password', required: true, inputmode: 'numeric', autocomplete: 'new-password', invalid: Boolean(options.error) })}
  <button type="submit">Change PIN</button>
</form>`
}
<p><a href="/me/password">Change your web password</a></p>`);
  };

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
    const status = pinStatus(account.pin, account.rule, new Date());
    const kind = account.pin.enrollmentPending ? 'enrollment' : status.mustChangeNow ? 'forced' : 'voluntary';
    const result = await services.pins.changePin({
      userId: account.user.id,
      newPin,
      kind,
      actor: userActor(account.user.extension),
    });
    if (!result.ok) return again(describeRefusal(result.refusal));
    req.session.flash = { kind: 'status', text: 'Your PIN was changed. Use the new PIN at your next phone sign-in.' };
    // Saved before the 303 leaves, so the next page surely sees the message.
    await saveSession(req);
    res.redirect(303, '/me');
  });

  const passwordPage = (req: Request, res: Response, options: { status?: number; error?: string } = {}) => {
    const forced = req.session.user?.mustChangePassword === true;
    render(req, res, 'Change Web Password', options.status ?? 200, (csrf) => html`
<h1>Change Web Password</h1>
${forced ? html`<p class="lead">Your administrator asks you to choose a new web password before you go on.</p>` : ''}
${formError(options.error)}
<form method="post" action="/me/password" class="stacked">
  ${csrfField(csrf)}
  ${forced ? '' : textField({ id: 'current', name: 'current', label: 'Current Web Password', type: 'password', required: true, autocomplete: 'current-password' })}
  ${textField({ id: 'newPassword', name: 'newPassword', label: 'New Web Password', type: 'password', required: true, autocomplete: 'new-password', help: 'at least 10 characters; this does not change your PIN' })}
  ${textField({ id: 'confirmPassword', name: 'confirmPassword', label: 'Confirm Web Password', type: 'password', required: true, autocomplete: 'new-password' })}
  <button type="submit">Save</button>
</form>
${forced ? '' : html`<p><a href="/me">Back to your PIN</a></p>`}`);
  };

  router.get('/password', requireUser, (req, res) => passwordPage(req, res));

  // Guesses of the current password are throttled per user, like sign-ins per address: the
  // session may be someone else's left open, and each guess costs a hash.
  const passwordGuesses = credentialLimiter(
    signinLimit,
    async (req, res, refusal) => {
      const user = req.session.user;
      if (refusal.firstInWindow && user) {
        await recordAudit(services.pool, {
          event: 'web.password_check_throttled',
          ...userSubject(user),
          details: { ip: req.ip ?? null },
        });
      }
      passwordPage(req, res, {
        status: 429,
        error: `Too many wrong current passwords. Try again in ${refusal.retryAfterMinutes} minutes.`,
      });
    },
    { key: (req) => `me-password:${req.session.user?.id ?? 0}` },
  );

  router.post('/password', requireUser, passwordGuesses, async (req, res) => {
    const account = accountOf(res);
    const forced = req.session.user?.mustChangePassword === true;
    const newPassword = formText(req, 'newPassword', { keepSpaces: true });
    if (newPassword !== formText(req, 'confirmPassword', { keepSpaces: true })) {
      return passwordPage(req, res, { status: 422, error: 'New Web Password and Confirm Web Password do not match.' });
    }
    try {
      // Checked before the current password, so a form that cannot succeed costs no hash.
      checkPassword(newPassword);
      if (!forced) {
        const current = formText(req, 'current', { keepSpaces: true });
        const ok =
          plausiblePassword(current) &&
          (await services.webCredentials.verifyUserPassword(account.user.extension, current)) === account.user.id;
        if (!ok) {
          countAsFailure(res);
          await recordAudit(services.pool, {
            event: 'web.password_check_failed',
            ...userSubject(account.user),
            details: { ip: req.ip ?? null },
          });
          return passwordPage(req, res, { status: 422, error: 'The current web password is wrong.' });
        }
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
      return passwordPage(req, res, { status: err.status, error: err.message });
    }
    req.session.flash = { kind: 'status', text: 'Your web password was changed.' };
    await saveSession(req);
    res.redirect(303, '/me');
  });

  return router;
}
