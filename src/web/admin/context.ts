import type { Request, RequestHandler, Response } from 'express';
import { authorize } from '../../accounts/access.js';
import { mayDo, type Role, type RoleAction } from '../../accounts/roles.js';
import type { Admin } from '../../accounts/web-credentials.js';
import type { Actor } from '../../audit/actor.js';
import type { Services } from '../../runtime.js';
import type { HtmlValue } from '../html.js';
import { renderPage, type AdminSection } from '../layout.js';
import { destroySession, saveSession, takeFlash, type BrowserSecurity } from '../session.js';

/** What every admin page handler works with. */
export interface AdminDeps {
  services: Services;
  security: BrowserSecurity;
}

/**
 * Pages past sign-in: anyone else is sent to the sign-in form. The administrator is looked up on
 * every page, so a password reset since sign-in (or a removed administrator) ends the session, and
 * their role is the one stored now.
 */
export function requireAdmin(services: Services): RequestHandler {
  return async (req, res, next) => {
    const signedIn = req.session?.admin;
    if (signedIn) {
      const admin = await services.webCredentials.findAdmin(signedIn.id);
      if (admin && admin.passwordChangedAt.getTime() === signedIn.passwordChangedAt) {
        // The role as stored now: a change of role applies from the next page.
        res.locals.admin = admin;
        return next();
      }
      await destroySession(req);
    }
    res.redirect(303, '/admin/signin');
  };
}

function signedInAdmin(req: Request): { id: number; username: string } {
  const admin = req.session.admin;
  if (!admin) throw new Error('admin page reached without a signed-in administrator');
  return admin;
}

/** The audit actor for the signed-in administrator: every admin action names them. */
export function adminActor(req: Request): Actor {
  return { channel: 'admin', name: `admin:${signedInAdmin(req).username}` };
}

/** The signed-in administrator's role, as requireAdmin read it for this request; null on the sign-in pages. */
function adminRole(res: Response): Role | null {
  return (res.locals.admin as Admin | undefined)?.role ?? null;
}

/** What the page may offer: true for each action the signed-in administrator's role may take. */
export type Can = (action: RoleAction) => boolean;

export function can(res: Response): Can {
  const role = adminRole(res);
  return (action) => role !== null && mayDo(role, action);
}

/**
 * What a page or form needs: one action, all of several, the actions a posted form asks for, or
 * any one of several (a page of forms, shown when the role may use at least one of them).
 */
export type AdminNeed = RoleAction | readonly RoleAction[] | ((req: Request) => readonly RoleAction[]) | { anyOf: readonly RoleAction[] };

/** A route's guard, with what it needs (so a test can read every route's need off the router). */
export type AdminGuard = RequestHandler & { readonly need: AdminNeed };

/**
 * Every admin route names what it needs with this guard, the first handler after its path: the
 * role is checked by the one check (`authorize`), and a refusal is a 403 page with the navigation.
 */
export function allow(deps: AdminDeps, need: AdminNeed): AdminGuard {
  const guard: RequestHandler = async (req, res, next) => {
    const role = adminRole(res);
    if (role === null) throw new Error('admin route reached without a signed-in administrator');
    const actions = neededActions(need, req, role);
    await authorize(deps.services.audit, { role, actor: adminActor(req) }, actions, `${req.method} ${req.baseUrl}${req.path}`);
    next();
  };
  return Object.assign(guard, { need });
}

function neededActions(need: AdminNeed, req: Request, role: Role): readonly RoleAction[] {
  if (typeof need === 'string') return [need];
  if (typeof need === 'function') return need(req);
  if ('anyOf' in need) {
    const first = need.anyOf.find((action) => mayDo(role, action)) ?? need.anyOf[0];
    return first === undefined ? [] : [first];
  }
  return need;
}

export function renderAdmin(
  deps: AdminDeps,
  req: Request,
  res: Response,
  page: { title: string; section?: AdminSection; status?: number },
  content: (csrf: string) => HtmlValue,
): void {
  const csrf = deps.security.csrfToken(req, res);
  const frame = {
    title: page.title,
    csrf,
    area: 'admin' as const,
    signedInAs: req.session?.admin?.username ?? null,
    role: adminRole(res),
    flash: takeFlash(req),
    ...(page.section ? { section: page.section } : {}),
  };
  res.status(page.status ?? 200).type('html').send(renderPage(frame, content(csrf)));
}

/**
 * Leaves a one-line message for the page the browser is redirected to (Post/Redirect/Get).
 * The session is saved first: express-session would otherwise send the 303 before its own save
 * finishes, and a quick browser could load the next page without the message.
 */
export async function redirectWith(
  req: Request,
  res: Response,
  location: string,
  text: string,
  kind: 'status' | 'error' = 'status',
): Promise<void> {
  req.session.flash = { kind, text };
  await saveSession(req);
  res.redirect(303, location);
}
