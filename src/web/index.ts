import { Router, type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { InputError, NotFoundError } from '../errors.js';
import { HashingBusyError } from '../pin/hash-gate.js';
import type { Services } from '../runtime.js';
import { adminRouter } from './admin/index.js';
import { apiRouter } from './api/index.js';
import { ApiTokenService } from './api/tokens.js';
import { errorPage, STYLESHEET_PATH } from './layout.js';
import { meRouter } from './me.js';
import { DEFAULT_SIGNIN_LIMIT, type SigninLimit } from './rate-limit.js';
import { browserSecurity, isCsrfError, pageHeaders, type BrowserSecurity } from './session.js';
import { STYLESHEET } from './style.js';

export interface WebOptions {
  /** Failed sign-ins per client address and window, for /admin and /me each. */
  signinLimit?: SigninLimit;
}

/** The last handler of a browser area: plain HTML error pages, never a stack trace. */
function pageErrors(services: Services, security: BrowserSecurity, area: 'admin' | 'me'): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const csrf = (request: Request) => {
      try {
        return security.csrfToken(request, res);
      } catch {
        return '';
      }
    };
    if (isCsrfError(err)) {
      res
        .status(403)
        .type('html')
        .send(errorPage(area, 'Form Refused', 'The form was not sent from this site or has expired. Go back, reload the page and try again.'));
      return;
    }
    if (err instanceof NotFoundError) {
      res.status(404).type('html').send(errorPage(area, 'Not Found', err.message, csrf(req)));
      return;
    }
    if (err instanceof InputError) {
      res.status(err.status).type('html').send(errorPage(area, 'Not Done', err.message, csrf(req)));
      return;
    }
    if (err instanceof HashingBusyError) {
      // Overload is not a fault: say so, and nothing was changed.
      res.status(503).set('Retry-After', '5').type('html').send(errorPage(area, 'Busy', 'The system is busy right now. Nothing was changed; try again in a few seconds.'));
      return;
    }
    const status = (err as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).type('html').send(errorPage(area, 'Bad Request', 'The request could not be read.'));
      return;
    }
    services.logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, path: req.path }, 'page failed');
    res.status(500).type('html').send(errorPage(area, 'Something Went Wrong', 'The page could not be shown. Try again in a moment.'));
  };
}

const notFound =
  (area: 'admin' | 'me'): RequestHandler =>
  (_req, res) => {
    res.status(404).type('html').send(errorPage(area, 'Not Found', 'There is no such page.'));
  };

/**
 * /admin, /me and /api (DESIGN §4). The two browser areas share sessions in Postgres and CSRF
 * protection; the API uses bearer tokens and neither cookies nor CSRF.
 */
export function createWebRouter(services: Services, options: WebOptions = {}): Router {
  const router = Router();
  const security = browserSecurity(services);
  const tokens = new ApiTokenService(services.pool);
  const signinLimit = options.signinLimit ?? DEFAULT_SIGNIN_LIMIT;

  router.get(STYLESHEET_PATH, (_req, res) => {
    res.type('text/css').set('Cache-Control', 'public, max-age=3600').send(STYLESHEET);
  });

  router.use('/api', apiRouter(services, tokens));

  const admin = Router();
  admin.use(pageHeaders, ...security.middleware);
  admin.use(adminRouter({ services, security }, tokens, signinLimit));
  admin.use(notFound('admin'));
  admin.use(pageErrors(services, security, 'admin'));
  router.use('/admin', admin);

  const me = Router();
  me.use(pageHeaders, ...security.middleware);
  me.use(meRouter(services, security, signinLimit));
  me.use(notFound('me'));
  me.use(pageErrors(services, security, 'me'));
  router.use('/me', me);

  return router;
}
