import { Router, type Request, type Response } from 'express';
import { plausiblePassword } from '../accounts/web-credentials.js';
import type { Actor } from '../audit/actor.js';
import type { Services } from '../runtime.js';
import { formText } from './forms.js';
import { countAsFailure, credentialLimiter, type SigninLimit } from './rate-limit.js';
import { destroySession, regenerateSession, saveSession, SESSION_COOKIE } from './session.js';

type SigninEvent = 'signin_failed' | 'signin_throttled' | 'signin_succeeded' | 'signin_refused' | 'signed_out';

/** Who an audit row is about: the actor, and the user when the attempt names one. */
export interface AuditSubject {
  actor: Actor;
  userId?: number | null;
  extension?: string | null;
}

export interface SigninFormOptions {
  status?: number;
  error?: string;
  /** What was typed in the identifier field, when it is safe to show again. */
  identifier?: string;
}

/** What differs between the administrators' and the users' sign-in; the flow itself is shared. */
export interface SigninArea<Principal> {
  /** Where a signed-in browser goes, and where one goes after signing out. */
  home: string;
  signedOut: string;
  /** Another place to go after signing out, for this session (one that came through single sign-on); null: `signedOut`. */
  signedOutFor?(req: Request): string | null;
  /** The form error after a wrong identifier or password: it never says which was wrong. */
  failureMessage: string;
  /** Prefix of the audit events: `${prefix}.signin_failed`, `.signin_throttled`, `.signin_succeeded`, `.signin_refused`, `.signed_out`. */
  auditPrefix: 'admin' | 'web';
  identifierField: string;
  /** Identifiers worth a hash at all (others fail without one, in the same answer). */
  plausibleIdentifier(identifier: string): boolean;
  verify(identifier: string, password: string): Promise<Principal | null>;
  /** A reason to refuse a principal whose password was right (a lock), or null. */
  refusal?(principal: Principal): Promise<string | null>;
  /** The audit subject of an attempt: the typed name only when it is real (it might be a mistyped password). */
  attemptSubject(identifier: string): Promise<AuditSubject>;
  principalSubject(principal: Principal): AuditSubject;
  /** Puts the principal into the fresh session. */
  establish(req: Request, principal: Principal): Promise<void>;
  /** The signed-in subject of this session, for the sign-out audit row; null when none. */
  sessionSubject(req: Request): AuditSubject | null;
  renderForm(req: Request, res: Response, options: SigninFormOptions): void | Promise<void>;
}

/**
 * The one web sign-in flow, for /admin and /me: rate-limited by client address, every attempt
 * audited (a throttled one once per address and window), a fresh session id at sign-in.
 */
export function signinRoutes<Principal>(services: Services, area: SigninArea<Principal>, limit: SigninLimit): Router {
  const router = Router();
  const audit = (event: SigninEvent, subject: AuditSubject, details: Record<string, unknown> = {}) =>
    services.audit.record({
      event: `${area.auditPrefix}.${event}`,
      actor: subject.actor,
      userId: subject.userId ?? null,
      extension: subject.extension ?? null,
      details,
    });

  router.get('/signin', async (req, res) => {
    if (area.sessionSubject(req)) return res.redirect(303, area.home);
    await area.renderForm(req, res, {});
  });

  const limiter = credentialLimiter(services.pool, `${area.auditPrefix}-signin`, limit, async (req, res, refusal) => {
    if (refusal.firstInWindow) {
      await audit('signin_throttled', await area.attemptSubject(formText(req, area.identifierField)), { ip: req.ip ?? null });
    }
    await area.renderForm(req, res, {
      status: 429,
      error: `Too many failed sign-ins from this address. Try again in ${refusal.retryAfterMinutes} minutes.`,
    });
  });

  router.post('/signin', limiter, async (req, res) => {
    const identifier = formText(req, area.identifierField);
    const password = formText(req, 'password', { keepSpaces: true });
    const plausible = area.plausibleIdentifier(identifier) && plausiblePassword(password);
    const principal = plausible ? await area.verify(identifier, password) : null;
    if (principal === null) {
      countAsFailure(res);
      await audit('signin_failed', await area.attemptSubject(identifier), { ip: req.ip ?? null });
      return area.renderForm(req, res, {
        status: 401,
        error: area.failureMessage,
        identifier: area.plausibleIdentifier(identifier) ? identifier : '',
      });
    }
    const refused = (await area.refusal?.(principal)) ?? null;
    if (refused !== null) {
      await audit('signin_refused', area.principalSubject(principal), { ip: req.ip ?? null, reason: refused });
      return area.renderForm(req, res, { status: 403, error: refused, identifier });
    }
    await regenerateSession(req);
    await area.establish(req, principal);
    await saveSession(req);
    await audit('signin_succeeded', area.principalSubject(principal), { ip: req.ip ?? null });
    res.redirect(303, area.home);
  });

  router.post('/signout', async (req, res) => {
    const subject = area.sessionSubject(req);
    const location = area.signedOutFor?.(req) ?? area.signedOut;
    if (subject) await audit('signed_out', subject);
    await destroySession(req);
    res.clearCookie(SESSION_COOKIE, { path: '/' });
    res.redirect(303, location);
  });

  return router;
}
