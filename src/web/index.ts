import { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { FIRST_ADMIN_COMMAND } from '../accounts/web-credentials.js';
import { describeFailure } from '../errors.js';
import type { Services } from '../runtime.js';
import { renderAdmin } from './admin/context.js';
import { adminRouter } from './admin/index.js';
import { IMPORT_UPLOAD_PATHS } from './admin/users/import-routes.js';
import { apiRouter } from './api/index.js';
import { html } from './html.js';
import { errorContent, errorPage, renderPage, STYLESHEET_PATH, type Area } from './layout.js';
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
  if (code === 'unavailable' || code === 'identity_provider_unavailable') return 'Unavailable';
  if (status === 404) return 'Not Found';
  if (code === 'bad_request' || code === 'invalid_json' || code === 'too_large') return 'Bad Request';
  return 'Not Done';
}

/** GET /: where the pages are, and how the first administrator is made (DESIGN §4). Static: it reads nothing. */
function landingPage(): string {
  return renderPage(
    { title: 'Welcome', csrf: '', area: 'site' },
    html`<h1>pinline</h1>
<p class="lead">The telephone PIN service is running.</p>
<ul class="ways">
  <li><a href="/admin">Administration</a>: users and their PINs, authentication rules, reports and the audit log.</li>
  <li><a href="/me">Self-Service</a>: users sign in with their extension and web password to change their own phone PIN.</li>
</ul>
<h2>The first administrator</h2>
<p>On the server, in the project folder, create one; it asks for a password of 10 characters or more. Then sign in at <a href="/admin">Administration</a>.</p>
<pre><code>${FIRST_ADMIN_COMMAND}</code></pre>
<p class="muted">Callers reach the service through Twilio, at <code>/voice/incoming</code>. Scripts use the REST API under <code>/api</code>, described at <a href="/api/openapi.json">/api/openapi.json</a>.</p>`,
  );
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
      const title = failureTitle(failure.code, failure.status);
      // A refused form gets no new token: the page that sent it must be reloaded.
      if (failure.code === 'csrf') return void res.status(failure.status).type('html').send(errorPage(area, title, failure.message));
      if (area === 'admin' && req.session?.admin) return adminError(req, res, failure.status, title, failure.message);
      res.status(failure.status).type('html').send(errorPage(area, title, failure.message, csrf(req)));
      return;
    }
    services.logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, path: req.path }, 'page failed');
    res.status(500).type('html').send(errorPage(area, 'Something Went Wrong', 'The page could not be shown. Try again in a moment.'));
  };

  /** A signed-in administrator keeps the navigation on an error page, as on every other. */
  function adminError(req: Request, res: Response, status: number, title: string, message: string): void {
    renderAdmin({ services, security }, req, res, { title, status }, () => errorContent('admin', title, message));
  }
}

const NOT_FOUND = { title: 'Not Found', message: 'There is no such page.' } as const;

/** A 404 page for a path nobody serves; under /admin, with the navigation for a signed-in administrator. */
function notFound(services: Services, security: BrowserSecurity, area: Area): RequestHandler {
  return (req, res) => {
    if (area === 'admin' && req.session?.admin) {
      renderAdmin({ services, security }, req, res, { title: NOT_FOUND.title, status: 404 }, () => errorContent('admin', NOT_FOUND.title, NOT_FOUND.message));
      return;
    }
    res.status(404).type('html').send(errorPage(area, NOT_FOUND.title, NOT_FOUND.message));
  };
}

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

  router.get('/', pageHeaders, (_req, res) => {
    res.type('html').send(landingPage());
  });

  router.use('/api', apiRouter(services));

  const admin = Router();
  admin.use(pageHeaders, ...security.middleware);
  admin.use(adminRouter({ services, security }, signinLimit));
  admin.use(notFound(services, security, 'admin'));
  admin.use(pageErrors(services, security, 'admin'));
  router.use('/admin', admin);

  const me = Router();
  me.use(pageHeaders, ...security.middleware);
  me.use(meRouter(services, security, signinLimit));
  me.use(notFound(services, security, 'me'));
  me.use(pageErrors(services, security, 'me'));
  router.use('/me', me);

  // Any other path: a page that says so and leads back, not express's bare "Cannot GET".
  router.use(pageHeaders, notFound(services, security, 'site'));

  return router;
}
