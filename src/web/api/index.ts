import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { z } from 'zod';
import type { ApiToken } from '../../db/api-tokens.js';
import type { Actor } from '../../audit/actor.js';
import { credentialJson, ruleJson, userJson } from '../../accounts/present.js';
import { describeFailure, InputError } from '../../errors.js';
import type { Services } from '../../runtime.js';
import { PostgresRateLimitStore } from '../rate-limit.js';
import { openApiDocument } from './openapi.js';
import { NewRuleBody, NewUserBody, PinResetBody, PinUpdateBody, RuleChangesBody, RuleNameParams, UserChangesBody, UserIdParams, UserListQuery } from './schemas.js';

function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** Validates at the boundary; the first problem becomes the 400's message (values are never echoed). */
function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new InputError('invalid_request', `${where}${issue?.message ?? 'invalid request'}`);
}

/** /api: JSON REST with bearer tokens. Audited on channel 'api' as `api:<token name>`. */
export function apiRouter(services: Services): Router {
  const router = Router();
  const { accounts, pins } = services;
  const document = openApiDocument();

  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });

  // Tokens are 256 random bits, so this only keeps a broken or hostile client from flooding the audit log.
  const authFailures = rateLimit({
    windowMs: 15 * 60_000,
    limit: 30,
    store: new PostgresRateLimitStore(services.pool, 'api-auth:'),
    skipSuccessfulRequests: true,
    // Only refused credentials count, not an authenticated client's 4xx answers.
    requestWasSuccessful: (_req, res) => res.statusCode !== 401,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => sendError(res, 429, 'too_many_requests', 'too many requests without a valid token; try again later'),
  });

  const authenticate: RequestHandler = async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    const token = match?.[1] ? await services.apiTokens.authenticate(match[1]) : null;
    if (!token) {
      await services.audit.record({
        event: 'api.auth_failed',
        actor: { channel: 'api', name: 'api:(unknown)' },
        details: { ip: req.ip ?? null, reason: header ? 'invalid_token' : 'no_token' },
      });
      res.set('WWW-Authenticate', 'Bearer realm="pinline"');
      return sendError(res, 401, 'unauthorized', 'a valid bearer token is required (Authorization: Bearer <token>)');
    }
    res.locals.apiToken = token;
    next();
  };

  router.use(authFailures, authenticate);

  const requireJson: RequestHandler = (req, res, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(req.method) && !req.is('application/json')) {
      return sendError(res, 415, 'unsupported_media_type', 'send the body as application/json');
    }
    next();
  };
  router.use(requireJson, express.json({ limit: '32kb', strict: true }));

  const actor = (res: Response): Actor => ({ channel: 'api', name: `api:${(res.locals.apiToken as ApiToken).name}` });
  const userIdOf = (req: Request): number => {
    const params = UserIdParams.safeParse(req.params);
    if (!params.success) throw new InputError('not_found', 'user not found', 404);
    return params.data.id;
  };
  const ruleNameOf = (req: Request): string => parse(RuleNameParams, req.params).name;
  const userAnswer = async (userId: number) => userJson(await accounts.getAccount({ userId }), new Date());

  // ---- users

  router.get('/users', async (req, res) => {
    const query = parse(UserListQuery, req.query);
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    const { total, accounts: found } = await accounts.search({ query: query.q ?? '', limit, offset });
    const now = new Date();
    res.json({ total, limit, offset, users: found.map((account) => userJson(account, now)) });
  });

  router.post('/users', async (req, res) => {
    const body = parse(NewUserBody, req.body);
    const { user, generatedPin } = await accounts.createUser(
      {
        extension: body.extension,
        firstName: body.firstName,
        lastName: body.lastName,
        phone: body.phone ?? null,
        email: body.email ?? null,
        locale: body.locale,
        ruleName: body.rule,
        responseWait: body.responseWait,
        pin: body.pin,
        enroll: body.enroll,
      },
      actor(res),
    );
    res
      .status(201)
      .location(`/api/users/${user.id}`)
      .set('Cache-Control', 'no-store')
      // The generated PIN is in this one response only, for the caller to hand over; it is never stored.
      .json({ user: await userAnswer(user.id), ...(generatedPin !== null ? { generatedPin } : {}) });
  });

  router.get('/users/:id', async (req, res) => {
    res.json(await userAnswer(userIdOf(req)));
  });

  router.patch('/users/:id', async (req, res) => {
    const userId = userIdOf(req);
    const body = parse(UserChangesBody, req.body);
    await accounts.getAccount({ userId });
    await accounts.updateUser(
      userId,
      {
        extension: body.extension,
        firstName: body.firstName,
        lastName: body.lastName,
        phone: body.phone,
        email: body.email,
        locale: body.locale,
        ruleName: body.rule,
        responseWait: body.responseWait,
      },
      actor(res),
    );
    res.json(await userAnswer(userId));
  });

  router.delete('/users/:id', async (req, res) => {
    await accounts.deleteUser(userIdOf(req), actor(res));
    res.status(204).end();
  });

  // ---- the user's PIN credential

  router.get('/users/:id/credential/pin', async (req, res) => {
    res.json(credentialJson(await accounts.getAccount({ userId: userIdOf(req) }), new Date()));
  });

  router.put('/users/:id/credential/pin', async (req, res) => {
    const userId = userIdOf(req);
    const body = parse(PinUpdateBody, req.body);
    const { mustChange, ...otherFlags } = body.flags ?? {};
    if (body.pin !== undefined) {
      // The one PIN change path, as an administrative change; flags and unlock in the same transaction.
      await pins.changePinOrThrow({
        userId,
        newPin: body.pin,
        kind: 'administrative',
        actor: actor(res),
        mustChange: mustChange ?? false,
        settings: { flags: otherFlags, unlock: body.unlock === true },
      });
    } else {
      await pins.updateSettings(userId, { flags: body.flags ?? {}, unlock: body.unlock === true }, actor(res));
    }
    res.json(credentialJson(await accounts.getAccount({ userId }), new Date()));
  });

  router.post('/users/:id/credential/pin/reset', async (req, res) => {
    const body = parse(PinResetBody, req.body ?? {});
    const result = await pins.resetPin(userIdOf(req), actor(res), { showOnce: body.show === true });
    // The PIN is in this one answer only when asked for; it is never stored, nor cached.
    res.set('Cache-Control', 'no-store').json({ channels: result.channels, ...(result.pin !== null ? { pin: result.pin } : {}) });
  });

  // ---- authentication rules

  router.get('/rules', async (_req, res) => {
    res.json({ rules: (await accounts.listRules()).map((rule) => ruleJson(rule, rule.userCount)) });
  });

  router.post('/rules', async (req, res) => {
    const { name, ...settings } = parse(NewRuleBody, req.body);
    const rule = await accounts.createRule(name, settings, actor(res));
    res.status(201).location(`/api/rules/${encodeURIComponent(name)}`).json(ruleJson(rule));
  });

  router.get('/rules/:name', async (req, res) => {
    res.json(ruleJson(await accounts.getRule(ruleNameOf(req))));
  });

  router.patch('/rules/:name', async (req, res) => {
    const rule = await accounts.getRule(ruleNameOf(req));
    const updated = await accounts.setRule(rule.name, parse(RuleChangesBody, req.body), actor(res));
    res.json(ruleJson(updated.rule));
  });

  router.delete('/rules/:name', async (req, res) => {
    await accounts.deleteRule(ruleNameOf(req), actor(res));
    res.status(204).end();
  });

  router.use((_req, res) => sendError(res, 404, 'not_found', 'no such API route'));

  const errors: ErrorRequestHandler = (err, req, res, _next) => {
    const failure = describeFailure(err);
    if (failure) {
      if (failure.code === 'busy') services.metrics.busyAnswer('api');
      if (failure.retryAfter) res.set('Retry-After', String(failure.retryAfter));
      return sendError(res, failure.status, failure.code, failure.message);
    }
    services.logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, path: req.path }, 'API request failed');
    sendError(res, 500, 'internal', 'internal error');
  };
  router.use(errors);

  return router;
}
