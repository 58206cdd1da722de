import { Router, type Request, type Response } from 'express';
import { isRole, ROLES } from '../../accounts/roles.js';
import type { TokenAccess } from '../../db/api-tokens.js';
import { InputError, NotFoundError } from '../../errors.js';
import { formText, routeId } from '../forms.js';
import { html, type HtmlValue } from '../html.js';
import { csrfField, formatTime, formError, postButton, selectField, textField } from '../layout.js';
import { adminActor, allow, redirectWith, renderAdmin, type AdminDeps } from './context.js';

const ACCESS_OPTIONS = [
  ...ROLES.map((role) => ({ value: role, label: `API, role ${role}` })),
  { value: 'scim', label: 'SCIM provisioning' },
];

/** What a token may do, in words: "API, role helpdesk" or "SCIM provisioning". */
function accessLabel(access: TokenAccess): string {
  return access.kind === 'scim' ? 'SCIM provisioning' : `API, role ${access.role}`;
}

/** The access chosen on the form; a form without the field (from before roles) makes a system token, as it did then. */
function postedAccess(value: string): TokenAccess {
  if (value === '') return { kind: 'api', role: 'system' };
  if (value === 'scim') return { kind: 'scim' };
  if (isRole(value)) return { kind: 'api', role: value };
  throw new InputError('invalid_access', 'choose the token’s access: a role for /api, or SCIM provisioning', 422);
}

/** API tokens: create (the token is shown once, in that one response) and revoke. */
export function tokenRoutes(deps: AdminDeps): Router {
  const tokens = deps.services.apiTokens;
  const router = Router();

  const tokensPage = async (
    req: Request,
    res: Response,
    options: { status?: number; error?: string; created?: { name: string; token: string } } = {},
  ) => {
    const list = await tokens.list();
    const base = deps.services.config.publicBaseUrl;
    const createdNotice: HtmlValue = options.created
      ? html`<section class="message status" role="status" aria-labelledby="new-token-title">
  <h2 id="new-token-title">Token “${options.created.name}” created</h2>
  <p>Copy it now: it is shown only this once, and only its SHA-256 is kept.</p>
  <p class="secret" id="new-token">${options.created.token}</p>
  <p>Use it as <code>Authorization: Bearer …</code>, for example <code>curl -H "Authorization: Bearer $PINLINE_TOKEN" ${base}/api/users</code></p>
</section>`
      : '';
    renderAdmin(deps, req, res, { title: 'API Tokens', section: 'tokens', status: options.status ?? 200 }, (csrf) => html`
<h1>API Tokens</h1>
<p class="lead">Bearer tokens for the REST API at <code>/api</code> (OpenAPI description at <a href="/api/openapi.json">/api/openapi.json</a>). API changes are audited as <code>api:&lt;token name&gt;</code>.</p>
${createdNotice}
${formError(options.error)}
<form method="post" action="/admin/tokens" class="search">
  ${csrfField(csrf)}
  ${textField({ id: 'name', name: 'name', label: 'Token Name', required: true, value: options.error ? formText(req, 'name') : '', help: 'names the client in the audit log, e.g. provisioning' })}
  ${selectField({ id: 'access', name: 'access', label: 'Access', options: ACCESS_OPTIONS, selected: options.error ? formText(req, 'access') : 'system', help: 'an /api token acts with a role; a SCIM token only provisions users at /scim/v2' })}
  <button type="submit">Create Token</button>
</form>
${
  list.length === 0
    ? html`<p>No tokens yet.</p>`
    : html`<table>
  <thead><tr><th scope="col">Name</th><th scope="col">Access</th><th scope="col">Created</th><th scope="col">Created By</th><th scope="col">Last Used</th><th scope="col">State</th><th scope="col"><span class="muted">Action</span></th></tr></thead>
  <tbody>
  ${list.map(
    (t) => html`<tr><td>${t.name}</td><td>${accessLabel(t.access)}</td><td>${formatTime(t.createdAt)}</td><td>${t.createdBy}</td><td>${formatTime(t.lastUsedAt)}</td>
      <td>${t.revokedAt ? html`Revoked ${formatTime(t.revokedAt)}` : 'Active'}</td>
      <td>${t.revokedAt ? '' : postButton(`/admin/tokens/${t.id}/revoke`, csrf, `Revoke ${t.name}`, 'secondary')}</td></tr>`,
  )}
  </tbody>
</table>`
}`);
  };

  router.get('/tokens', allow(deps, 'tokens.manage'), (req, res) => tokensPage(req, res));

  router.post('/tokens', allow(deps, 'tokens.manage'), async (req, res) => {
    try {
      const created = await tokens.create(formText(req, 'name'), adminActor(req), postedAccess(formText(req, 'access')));
      // Rendered in this response, never stored or redirected: the token exists only here.
      await tokensPage(req, res, { created: { name: created.record.name, token: created.token } });
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      await tokensPage(req, res, { status: err.status, error: err.message });
    }
  });

  router.post('/tokens/:id/revoke', allow(deps, 'tokens.manage'), async (req, res) => {
    const id = routeId(req.params.id as string | undefined);
    if (id === null) throw new NotFoundError('API token');
    const revoked = await tokens.revoke(id, adminActor(req));
    await redirectWith(req, res, '/admin/tokens', `Revoked token ${revoked.name}`);
  });

  return router;
}
