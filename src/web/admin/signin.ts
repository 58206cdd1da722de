import type { Request, Response, Router } from 'express';
import { FIRST_ADMIN_COMMAND, USERNAME_PATTERN, type Admin } from '../../accounts/web-credentials.js';
import { html } from '../html.js';
import { csrfField, formError, textField } from '../layout.js';
import type { SigninLimit } from '../rate-limit.js';
import { signinRoutes, type AuditSubject, type SigninFormOptions } from '../signin.js';
import { renderAdmin, type AdminDeps } from './context.js';
import { OIDC_SIGNED_OUT_PATH, OIDC_SIGNIN_PATH } from './oidc.js';

const UNKNOWN_ADMIN: AuditSubject = { actor: { channel: 'admin', name: 'admin:(unknown)' } };

function adminSubject(username: string): AuditSubject {
  return { actor: { channel: 'admin', name: `admin:${username}` } };
}

/** Sign-in and sign-out of administrators; every attempt is audited on channel 'admin'. */
export function adminSigninRoutes(deps: AdminDeps, limit: SigninLimit): Router {
  const { services } = deps;
  const form = async (req: Request, res: Response, options: SigninFormOptions) => {
    // A new installation has nobody to sign in yet: say how the first administrator is made.
    const firstAdmin = !(await services.webCredentials.hasAdmins());
    renderAdmin(deps, req, res, { title: 'Sign In', status: options.status ?? 200 }, (csrf) => html`
<h1>Sign In</h1>
<p class="lead">Administrators of pinline sign in here.</p>
${
  firstAdmin
    ? html`<div class="message status" role="status"><p>There is no administrator yet. Create the first one on the server, in the project folder, then sign in here:</p>
<pre><code>${FIRST_ADMIN_COMMAND}</code></pre></div>`
    : ''
}
${formError(options.error)}
<form method="post" action="/admin/signin" class="stacked">
  ${csrfField(csrf)}
  ${textField({ id: 'username', name: 'username', label: 'Username', value: options.identifier ?? '', required: true, autocomplete: 'username', invalid: Boolean(options.error) })}
  ${textField({ id: 'password', name: 'password', label: 'Password', type: 'password', required: true, autocomplete: 'current-password', invalid: Boolean(options.error) })}
  <button type="submit">Sign In</button>
</form>
${
  services.config.oidc
    ? html`<div class="single-sign-on"><p>Or, with your organisation's account:</p>
<p><a class="button secondary" href="${OIDC_SIGNIN_PATH}">Sign in with your organisation</a></p></div>`
    : ''
}`);
  };

  return signinRoutes<Admin>(
    services,
    {
      home: '/admin/users',
      signedOut: '/admin/signin',
      signedOutFor: (req) => (req.session?.admin?.source === 'oidc' && services.config.oidc ? OIDC_SIGNED_OUT_PATH : null),
      failureMessage: 'Sign-in failed: the username or password is wrong.',
      auditPrefix: 'admin',
      identifierField: 'username',
      plausibleIdentifier: (username) => USERNAME_PATTERN.test(username),
      verify: (username, password) => services.webCredentials.verifyAdmin(username, password),
      attemptSubject: async (username) =>
        (await services.webCredentials.adminExists(username)) ? adminSubject(username) : UNKNOWN_ADMIN,
      principalSubject: (admin) => adminSubject(admin.username),
      establish: async (req, admin) => {
        req.session.admin = { id: admin.id, username: admin.username, passwordChangedAt: admin.passwordChangedAt.getTime() };
      },
      sessionSubject: (req) => (req.session?.admin ? adminSubject(req.session.admin.username) : null),
      renderForm: form,
    },
    limit,
  );
}
