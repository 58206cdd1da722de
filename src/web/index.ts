import { Router, type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import { describeFailure } from '../errors.js';
import type { Services } from '../runtime.js';
import { adminRouter } from './admin/index.js';
import { IMPORT_UPLOAD_PATHS } from './admin/users/import-routes.js';
import { apiRouter } from './api/index.js';
import { errorPage, STYLESHEET_PATH } from './layout.js';
import { meRouter } from './me/routes.js';
import { DEFAULT_SIGNIN_LIMIT, type SigninLimit } from './rate-limit.js';
import { browserSecurity, pageHeaders, type BrowserSecurity } from './session.js';
import { STYLESHEET } from './style.js';

export interface WebOptions {
  /** Failed sign-ins per client address and window, for /admin and /me each. */
  signinLimit?: SigninLimit;
}

/** A page's heading for each kind of failure the pages can meet. */
function failureTitle(code: string, status: number): string {
  if (code === 'csrf') return 'Form Refused';
  if (code === 'busy') return 'Busy';
  if (code === 'unavailable') return 'Unavailable';
  if (status === 404) return 'Not Found';
  if (code === 'bad_request' || code === 'invalid_json' || code === 'too_large') return 'Bad Request';
  return 'Not Done';
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
    const failure = describeFailure(err);
    if (failure) {
      if (failure.code === 'busy') services.metrics.busyAnswer('web');
      if (failure.retryAfter) res.set('Retry-After', String(failure.retryAfter));
      // A refused form gets no new token: the page that sent it must be reloaded.
      const token = failure.code === 'csrf' ? '' : csrf(req);
      res.status(failure.status).type('html').send(errorPage(area, failureTitle(failure.code, failure.status), failure.message, token));
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
  const security = browserSecurity(services, { uploadPaths: IMPORT_UPLOAD_PATHS });
  const signinLimit = options.signinLimit ?? DEFAULT_SIGNIN_LIMIT;

  router.get(STYLESHEET_PATH, (_req, res) => {
    res.type('text/css').set('Cache-Control', 'public, max-age=3600').send(STYLESHEET);
  });

  router.use('/api', apiRouter(services));

  const admin = Router();
  admin.use(pageHeaders, ...security.middleware);
  admin.use(adminRouter({ services, security }, signinLimit));
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
