import type { Request, RequestHandler, Response } from 'express';
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
 * every page, so a password reset since sign-in (or a removed administrator) ends the session.
 */
export function requireAdmin(services: Services): RequestHandler {
  return async (req, res, next) => {
    const signedIn = req.session?.admin;
    if (signedIn) {
      const admin = await services.webCredentials.findAdmin(signedIn.id);
      if (admin && admin.passwordChangedAt.getTime() === signedIn.passwordChangedAt) return next();
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
