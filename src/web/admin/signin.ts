import { Router, type Request, type Response } from 'express';
import { recordAudit, type Actor } from '../../db/audit.js';
import { MAX_PASSWORD_LENGTH, USERNAME_PATTERN } from '../../accounts/web-credentials.js';
import { formText } from '../forms.js';
import { html } from '../html.js';
import { csrfField, formError, textField } from '../layout.js';
import { signinLimiter, type SigninLimit } from '../rate-limit.js';
import { destroySession, regenerateSession, saveSession, SESSION_COOKIE } from '../session.js';
import { renderAdmin, type AdminDeps } from './context.js';

const UNKNOWN_ADMIN = 'admin:(unknown)';

/** Sign-in and sign-out of administrators; every attempt is audited on channel 'admin'. */
export function signinRoutes(deps: AdminDeps, limit: SigninLimit): Router {
  const { services } = deps;
  const router = Router();

  const form = (req: Request, res: Response, options: { status?: number; error?: string; username?: string } = {}) =>
    renderAdmin(deps, req, res, { title: 'Sign In', status: options.status ?? 200 }, (csrf) => html`
<h1>Sign In</h1>
<p class="lead">Administrators of pinline sign in here.</p>
${formError(options.error)}
<form method="post" action="/admin/signin" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'username', name: 'username', label: 'Username', value: options.username ?? '', required: true, autocomplete: 'username', invalid: Boolean(options.error) })}
  ${textField({ id: 'password', name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password', invalid: Boolean(options.error) })}
  <button type="submit">Sign In</button>
</form>`);

  /** The actor of an attempt: the typed name only when it is a real administrator (it might be a mistyped password). */
  const attemptActor = async (username: string): Promise<Actor> => {
    if (!USERNAME_PATTERN.test(username)) return { channel: 'admin', name: UNKNOWN_ADMIN };
    const { rows } = await services.pool.query('SELECT 1 FROM admins WHERE username = $1::text', [username]);
    return { channel: 'admin', name: rows.length > 0 ? `admin:${username}` : UNKNOWN_ADMIN };
  };

  router.get('/signin', (req, res) => {
    if (req.session.admin) return res.redirect(303, '/admin/users');
    form(req, res);
  });

  const limiter = signinLimiter(limit, async (req, res, minutes) => {
    await recordAudit(services.pool, {
      event: 'admin.signin_throttled',
      actor: await attemptActor(formText(req, 'username')),
      details: { ip: req.ip ?? null },
    });
    form(req, res, { status: 429, error: `Too many failed sign-ins from this address. Try again in ${minutes} minutes.` });
  });

  router.post('/signin', limiter, async (req, res) => {
    const username = formText(req, 'username');
    const password = formText(req, 'password', { keepSpaces: true });
    const plausible = username.length > 0 && username.length <= 64 && password.length > 0 && password.length <= MAX_PASSWORD_LENGTH;
    const admin = plausible ? await services.webCredentials.verifyAdmin(username, password) : null;
    if (!admin) {
      await recordAudit(services.pool, {
        event: 'admin.signin_failed',
        actor: await attemptActor(username),
        details: { ip: req.ip ?? null },
      });
      return form(req, res, {
        status: 401,
        error: 'Sign-in failed: the username or password is wrong.',
        username: username.length <= 64 ? username : '',
      });
    }
    await regenerateSession(req);
    req.session.admin = { id: admin.id, username: admin.username };
    await saveSession(req);
    await recordAudit(services.pool, {
      event: 'admin.signin_succeeded',
      actor: { channel: 'admin', name: `admin:${admin.username}` },
      details: { ip: req.ip ?? null },
    });
    res.redirect(303, '/admin/users');
  });

  router.post('/signout', async (req, res) => {
    const admin = req.session.admin;
    if (admin) {
      await recordAudit(services.pool, { event: 'admin.signed_out', actor: { channel: 'admin', name: `admin:${admin.username}` } });
    }
    await destroySession(req);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, '/admin/signin');
  });

  return router;
}
