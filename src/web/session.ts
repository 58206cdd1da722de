import { randomBytes } from 'node:crypto';
import connectPgSimple from 'connect-pg-simple';
import cookieParser from 'cookie-parser';
import { doubleCsrf } from 'csrf-csrf';
import express, { type Request, type RequestHandler, type Response } from 'express';
import session from 'express-session';
import type { PendingSignin } from '../accounts/single-sign-on.js';
import type { Services } from '../runtime.js';
import { multipartUploads } from './uploads.js';

declare module 'express-session' {
  interface SessionData {
    /** `passwordChangedAt` (ms) as it was at sign-in: a reset since then ends the session. */
    admin: { id: number; username: string; passwordChangedAt: number; source?: 'oidc' };
    /** A sign-in sent to the identity provider and not back yet: what its answer is checked against. */
    oidcPending: PendingSignin;
    /** `passwordChangedAt` (ms) as at sign-in or the user's own last change: any other change ends the session. */
    user: { id: number; extension: string; mustChangePassword: boolean; passwordChangedAt: number | null };
    /** A one-line status or error to show on the next page; never holds a PIN or password. */
    flash: Flash;
  }
}

export interface Flash {
  kind: 'status' | 'error';
  text: string;
}

export const SESSION_COOKIE = 'pinline.sid';
const CSRF_COOKIE = 'pinline.csrf';
/** Identifies a browser before it signs in, so the sign-in form's CSRF token has something to bind to. */
const PRE_AUTH_COOKIE = 'pinline.pre';
/** Signed-in pages time out after this long without a request. */
const SESSION_IDLE_MS = 30 * 60_000;

export interface BrowserSecurity {
  /** Cookies, form bodies, the Postgres session, file uploads and CSRF checking, in that order. */
  middleware: RequestHandler[];
  /** The token for the hidden `_csrf` field of every form on the page being rendered. */
  csrfToken(req: Request, res: Response): string;
}

/**
 * Pages for people (admin and self-service) share one session cookie and one CSRF scheme:
 * csrf-csrf's signed double-submit token, bound to the session (or, before sign-in, to a
 * random per-browser cookie), sent back in a hidden field. `uploadPaths`: where an
 * administrator's multipart posts (file uploads) are read, so that their token is checked too.
 */
export function browserSecurity(services: Services, options: { uploadPaths?: readonly string[] } = {}): BrowserSecurity {
  // The public URL is the truth about the scheme: behind a TLS proxy that TRUST_PROXY does not
  // cover, req.secure is false, and express-session would send no Secure cookie at all.
  const publicHttps = new URL(services.config.publicBaseUrl).protocol === 'https:';
  const markSecure: RequestHandler = (req, _res, next) => {
    if (publicHttps && !req.secure) Object.defineProperty(req, 'secure', { value: true, configurable: true });
    next();
  };

  // SESSION_SECRET signs cookies and CSRF tokens; SESSION_SECRET_PREVIOUS still opens them (DESIGN §10).
  const secrets = services.sessionKeys.all;
  const PgStore = connectPgSimple(session);
  const store = new PgStore({
    pool: services.pool,
    tableName: 'web_sessions',
    createTableIfMissing: false,
    errorLog: (...args: unknown[]) => services.logger.warn({ detail: args.map(String).join(' ') }, 'session store error'),
  });

  const sessions = session({
    name: SESSION_COOKIE,
    // express-session signs with the first and accepts any; rolling, so a session moves to the current one.
    secret: secrets.map((secret) => secret.key('pinline web session').toString('hex')),
    store,
    resave: false,
    // No row for visitors who never sign in.
    saveUninitialized: false,
    rolling: true,
    unset: 'destroy',
    cookie: { httpOnly: true, sameSite: 'lax', secure: publicHttps ? true : 'auto', maxAge: SESSION_IDLE_MS, path: '/' },
  });

  const preAuthId: RequestHandler = (req, res, next) => {
    const cookies = req.cookies as Record<string, string | undefined>;
    if (!cookies[PRE_AUTH_COOKIE]) {
      const id = randomBytes(16).toString('hex');
      res.cookie(PRE_AUTH_COOKIE, id, { httpOnly: true, sameSite: 'lax', secure: req.secure, path: '/' });
      cookies[PRE_AUTH_COOKIE] = id;
    }
    next();
  };

  // csrf-csrf likewise makes new tokens with the first and accepts any.
  const csrfSecrets = secrets.map((secret) => secret.key('pinline csrf').toString('hex'));
  const { doubleCsrfProtection, generateCsrfToken } = doubleCsrf({
    getSecret: () => csrfSecrets,
    getSessionIdentifier: (req) =>
      req.session?.admin || req.session?.user
        ? req.sessionID
        : `pre:${(req.cookies as Record<string, string | undefined>)[PRE_AUTH_COOKIE] ?? ''}`,
    cookieName: CSRF_COOKIE,
    // Not __Host-: local development runs over plain http. Secure is set per request below.
    cookieOptions: { httpOnly: true, sameSite: 'strict', secure: false, path: '/' },
    getCsrfTokenFromRequest: (req) => {
      const token = (req.body as Record<string, unknown> | undefined)?._csrf;
      return typeof token === 'string' ? token : null;
    },
  });

  return {
    middleware: [
      markSecure,
      cookieParser(),
      express.urlencoded({ extended: false, limit: '16kb', parameterLimit: 100 }),
      sessions,
      preAuthId,
      // Multipart bodies are read here, after the session (only an administrator's are read) and
      // before the CSRF check, which needs their _csrf field.
      multipartUploads(options.uploadPaths ?? []),
      doubleCsrfProtection,
    ],
    csrfToken: (req, res) => generateCsrfToken(req, res, { cookieOptions: { secure: req.secure } }),
  };
}

/** A fresh session id at sign-in, so an id planted before sign-in is worth nothing after it. */
export function regenerateSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.regenerate((err: unknown) => (err ? reject(err) : resolve())));
}

export function saveSession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.save((err: unknown) => (err ? reject(err) : resolve())));
}

export function destroySession(req: Request): Promise<void> {
  return new Promise((resolve, reject) => req.session.destroy((err: unknown) => (err ? reject(err) : resolve())));
}

/** Takes the one-shot message left by the previous request. */
export function takeFlash(req: Request): Flash | null {
  const flash = req.session?.flash ?? null;
  if (flash) delete req.session.flash;
  return flash;
}


/** Headers for every HTML page: no framing, no inline script, no caching of personal data. */
export const pageHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'Content-Security-Policy':
      "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
    'Cache-Control': 'no-store',
  });
  next();
};
