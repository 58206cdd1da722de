import { Router } from 'express';
import { SingleSignOn } from '../../accounts/single-sign-on.js';
import type { SigninLimit } from '../rate-limit.js';
import { auditRoutes } from './audit.js';
import { deliveryRoutes } from './deliveries.js';
import { requireAdmin, type AdminDeps } from './context.js';
import { oidcRoutes } from './oidc.js';
import { reportRoutes } from './reports.js';
import { ruleRoutes } from './rules.js';
import { adminSigninRoutes } from './signin.js';
import { tokenRoutes } from './tokens.js';
import { importRoutes } from './users/import-routes.js';
import { userRoutes } from './users/routes.js';

/** /admin: the administrators' pages (DESIGN §7). Mounted behind the browser security middleware. */
export function adminRouter(deps: AdminDeps, signinLimit: SigninLimit): Router {
  const router = Router();
  router.use(adminSigninRoutes(deps, signinLimit));
  const { oidc } = deps.services.config;
  if (oidc) router.use(oidcRoutes(deps, new SingleSignOn(oidc, deps.services.config.publicBaseUrl, deps.services.pool, deps.services.logger), signinLimit));
  router.use(requireAdmin(deps.services));
  router.get('/', (_req, res) => res.redirect(303, '/admin/users'));
  // Before the user routes, whose /users/:id would take "import" for an id.
  router.use(importRoutes(deps));
  router.use(userRoutes(deps));
  router.use(ruleRoutes(deps));
  router.use(reportRoutes(deps));
  router.use(auditRoutes(deps));
  router.use(deliveryRoutes(deps));
  router.use(tokenRoutes(deps));
  return router;
}
