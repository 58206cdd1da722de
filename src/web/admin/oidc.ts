import { Router, type Request, type Response } from 'express';
import { describeOidcRefusal, OidcRefusal, type OidcIdentity, type SingleSignOn } from '../../accounts/single-sign-on.js';
import { html } from '../html.js';
import { countAsFailure, credentialLimiter, type SigninLimit } from '../rate-limit.js';
import { regenerateSession, saveSession } from '../session.js';
import { renderAdmin, type AdminDeps } from './context.js';

/** Where the sign-in form's "Sign in with your organisation" leads. */
export const OIDC_SIGNIN_PATH = '/admin/oidc/signin';
/** Where an administrator who came through the provider lands after signing out here. */
export const OIDC_SIGNED_OUT_PATH = '/admin/oidc/signed-out';

/**
 * Single sign-on's pages (DESIGN §11), before sign-in: the start (to the provider), the
 * callback (back from it: checked, then signed in or refused with a page that says why) and the
 * page after signing out, which offers the provider's own logout.
 */
export function oidcRoutes(deps: AdminDeps, sso: SingleSignOn, limit: SigninLimit): Router {
  const router = Router();
  // Refused answers count against the address like wrong passwords: each writes an audit row.
  const limiter = credentialLimiter(deps.services.pool, 'admin-oidc', limit, async (req, res, refusal) => {
    if (refusal.firstInWindow) {
      await deps.services.audit.record({
        event: 'admin.signin_throttled',
        actor: { channel: 'admin', name: 'admin:(unknown)' },
        details: { ip: req.ip ?? null, method: 'oidc' },
      });
    }
    refusalPage(deps, req, res, 429, `Too many refused sign-ins from this address. Try again in ${refusal.retryAfterMinutes} minutes.`);
  });

  router.get('/oidc/signin', async (req, res) => {
    const { url, pending } = await sso.begin();
    req.session.oidcPending = pending;
    await saveSession(req);
    res.redirect(303, url);
  });

  router.get('/oidc/callback', limiter, async (req, res) => {
    const pending = req.session.oidcPending ?? null;
    delete req.session.oidcPending;
    const ip = req.ip ?? null;
    const queryAt = req.originalUrl.indexOf('?');
    const query = queryAt === -1 ? '' : req.originalUrl.slice(queryAt);
    let identity: OidcIdentity | null = null;
    try {
      identity = await sso.finish(query, pending);
      const { admin } = await sso.admit(identity, ip);
      await regenerateSession(req);
      req.session.admin = { id: admin.id, username: admin.username, passwordChangedAt: admin.passwordChangedAt.getTime(), source: 'oidc' };
      await saveSession(req);
      res.redirect(303, '/admin/users');
    } catch (err) {
      if (!(err instanceof OidcRefusal)) throw err;
      countAsFailure(res);
      await sso.recordRefusal(err, identity, ip);
      refusalPage(deps, req, res, 403, describeOidcRefusal(err, sso.config.roleClaim));
    }
  });

  router.get('/oidc/signed-out', async (req, res) => {
    // The provider is asked only for its logout address; if it cannot be reached, the page says less.
    const providerLogout = await sso.endSessionUrl().catch(() => null);
    renderAdmin(deps, req, res, { title: 'Signed Out' }, () => html`
<h1>Signed Out</h1>
<p class="lead">You are signed out of pinline.</p>
${
  providerLogout
    ? html`<p>Your organisation may still have you signed in, in this browser. <a class="button secondary" href="${providerLogout}">Sign out of your organisation too</a></p>`
    : ''
}
<p><a href="/admin/signin">Sign in again</a></p>`);
  });

  return router;
}

function refusalPage(deps: AdminDeps, req: Request, res: Response, status: 403 | 429, message: string): void {
  renderAdmin(deps, req, res, { title: 'Sign-In Refused', status }, () => html`
<h1>Sign-In Refused</h1>
<div class="message error" role="alert"><p>${message}</p></div>
<p><a href="/admin/signin">Back to sign-in</a></p>`);
}
