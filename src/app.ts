import express, { type ErrorRequestHandler, type Express } from 'express';
import { ping } from './db/pool.js';
import { describeFailure } from './errors.js';
import { isMetricsBearer } from './metrics.js';
import type { Services } from './runtime.js';
import { createWebRouter } from './web/index.js';
import { createVoiceRouter } from './voice/router.js';

/** Builds the HTTP app without listening: main.ts and the tests each bring their own services. */
export function createApp(services: Services): Express {
  const app = express();
  app.disable('x-powered-by');
  // Behind a load balancer or tunnel, req.protocol and req.ip must come from the proxy's headers
  // (Secure cookies, rate limits, audit); TRUST_PROXY says which proxies to believe.
  app.set('trust proxy', services.config.trustProxy);

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });

  app.get('/readyz', async (_req, res) => {
    try {
      await ping(services.pool);
      res.json({ status: 'ready' });
    } catch {
      res.status(503).json({ status: 'database unreachable' });
    }
  });

  const { metricsToken } = services.config;
  if (metricsToken !== null) {
    app.get('/metrics', async (req, res, next) => {
      // Without the token the route is not there: the same 404 as any unknown path.
      if (!isMetricsBearer(req.get('authorization'), metricsToken)) return next();
      const text = await services.metrics.exposition();
      res.status(200).set('Cache-Control', 'no-store').type(services.metrics.contentType).send(text);
    });
  }

  app.use(createVoiceRouter(services));

  app.use(createWebRouter(services));

  const fallbackErrorHandler: ErrorRequestHandler = (err, req, res, _next) => {
    const failure = describeFailure(err);
    if (!failure) services.logger.error({ err: { message: err?.message, stack: err?.stack }, path: req.path }, 'request failed');
    // Failed after the answer went out (a session saved as the database went away): nothing more to say.
    if (res.headersSent) return void res.end();
    res
      .status(failure?.status ?? 500)
      .type('text/plain')
      .send(failure?.message ?? 'internal error');
  };
  app.use(fallbackErrorHandler);
  return app;
}
