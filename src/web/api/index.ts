import { presentUser } from '../../accounts/present.js';
import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { z } from 'zod';
import type { ApiToken } from '../../db/api-tokens.js';
import { recordAudit, type Actor } from '../../db/audit.js';
import { listRules, type AuthRule } from '../../db/rules.js';
import { searchAccounts, type Account } from '../../db/users.js';
import { InputError, NotFoundError } from '../../errors.js';
import { HashingBusyError } from '../../pin/hash-gate.js';
import { describeRefusal } from '../../pin/service.js';
import { pinStatus } from '../../pin/status.js';
import type { Services } from '../../runtime.js';
import { routeId } from '../forms.js';
import { openApiDocument } from './openapi.js';
import {
  NewRuleBody,
  NewUserBody,
  PinPutBody,
  RuleSettingsBody,
  UserChangesBody,
  UserListQuery,
  ruleSettingsOf,
} from './schemas.js';
import type { ApiTokenService } from './tokens.js';

/** An API error: always `{ error: { code, message } }`. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function sendError(res: Response, status: number, code: string, message: string): void {
  res.status(status).json({ error: { code, message } });
}

/** Validates at the boundary; the first problem becomes the 400's message (values are never echoed). */
function parse<S extends z.ZodType>(schema: S, input: unknown): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  throw new ApiError(400, 'invalid_request', `${where}${issue?.message ?? 'invalid request'}`);
}


function accountJson(account: Account) {
  return presentUser(account.user, account.rule.name);
}

/** The PIN credential as the API shows it: flags and status, never the hash. */
export function pinCredentialJson(account: Account, now: Date) {
  const { pin, rule } = account;
  const status = pinStatus(pin, rule, now);
  const iso = (d: Date | null) => (d ? d.toISOString() : null);
  return {
    userId: account.user.id,
    extension: account.user.extension,
    rule: rule.name,
    flags: {
      mustChange: pin.mustChange,
      enrollmentPending: pin.enrollmentPending,
      doesNotExpire: pin.doesNotExpire,
      lockedByAdmin: pin.lockedByAdmin,
      cannotChange: pin.cannotChange,
    },
    status: {
      changedAt: pin.changedAt.toISOString(),
      expiresAt: iso(status.expiresAt),
      expired: status.expired,
      daysUntilExpiry: status.daysUntilExpiry,
      failedCount: pin.failedCount,
      lastFailedAt: iso(pin.lastFailedAt),
      lockedAt: iso(pin.lockedAt),
      lockout: status.lockout,
      lockedUntil: iso(status.lockedUntil),
    },
  };
}

function ruleJson(rule: AuthRule & { userCount?: number }) {
  const { id: _id, ...fields } = rule;
  return fields;
}

/** /api: JSON REST with bearer tokens. Audited on channel 'api' as `api:<token name>`. */
export function apiRouter(services: Services, tokens: ApiTokenService): Router {
  const router = Router();
  const { accounts, pins } = services;

  router.get('/openapi.json', (_req, res) => {
    res.json(openApiDocument(services.config.publicBaseUrl));
  });

  // Tokens are 256 random bits, so this only keeps a broken or hostile client from flooding the audit log.
  const authFailures = rateLimit({
    windowMs: 15 * 60_000,
    limit: 30,
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
    const token = match?.[1] ? await tokens.authenticate(match[1]) : null;
    if (!token) {
      await recordAudit(services.pool, {
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
    const id = routeId(req.params.id as string | undefined);
    if (id === null) throw new NotFoundError('user');
    return id;
  };

  // ---- users ----

  router.get('/users', async (req, res) => {
    const query = parse(UserListQuery, req.query);
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    const { total, accounts: found } = await searchAccounts(services.pool, { query: query.q ?? '', limit, offset });
    res.json({ total, limit, offset, users: found.map(accountJson) });
  });

  router.post('/users', async (req, res) => {
    const body = parse(NewUserBody, req.body);
    const { user, generatedPin } = await accounts.createUser(
      {
        extension: body.extension,
        firstName: body.firstName,
        lastName: body.lastName,
        phone: body.phone ?? null,
        ...(body.locale !== undefined ? { locale: body.locale } : {}),
        ...(body.rule !== undefined ? { ruleName: body.rule } : {}),
        ...(body.pin !== undefined ? { pin: body.pin } : {}),
        ...(body.enroll !== undefined ? { enroll: body.enroll } : {}),
      },
      actor(res),
    );
    const account = await accounts.getAccount({ userId: user.id });
    res
      .status(201)
      .location(`/api/users/${user.id}`)
      // The generated PIN is in this one response only, for the caller to hand over; it is never stored.
      .json({ user: accountJson(account), ...(generatedPin !== null ? { generatedPin } : {}) });
  });

  router.get('/users/:id', async (req, res) => {
    res.json(accountJson(await accounts.getAccount({ userId: userIdOf(req) })));
  });

  router.patch('/users/:id', async (req, res) => {
    const userId = userIdOf(req);
    const body = parse(UserChangesBody, req.body);
    await accounts.getAccount({ userId });
    await accounts.updateUser(
      userId,
      {
        ...(body.extension !== undefined ? { extension: body.extension } : {}),
        ...(body.firstName !== undefined ? { firstName: body.firstName } : {}),
        ...(body.lastName !== undefined ? { lastName: body.lastName } : {}),
        ...(body.phone !== undefined ? { phone: body.phone } : {}),
        ...(body.locale !== undefined ? { locale: body.locale } : {}),
        ...(body.rule !== undefined ? { ruleName: body.rule } : {}),
      },
      actor(res),
    );
    res.json(accountJson(await accounts.getAccount({ userId })));
  });

  router.delete('/users/:id', async (req, res) => {
    await accounts.deleteUser(userIdOf(req), actor(res));
    res.status(204).end();
  });

  // ---- the user's PIN credential ----

  router.get('/users/:id/credential/pin', async (req, res) => {
    res.json(pinCredentialJson(await accounts.getAccount({ userId: userIdOf(req) }), new Date()));
  });

  router.put('/users/:id/credential/pin', async (req, res) => {
    const userId = userIdOf(req);
    const body = parse(PinPutBody, req.body);
    const who = actor(res);
    const { mustChange, ...otherFlags } = body.flags ?? {};
    if (body.pin !== undefined) {
      // The one PIN change path, as an administrative change; flags and unlock in the same transaction.
      const result = await pins.changePin({
        userId,
        newPin: body.pin,
        kind: 'administrative',
        actor: who,
        mustChange: mustChange ?? false,
        flags: otherFlags,
        unlock: body.unlock === true,
      });
      if (!result.ok) {
        throw new InputError(`pin_${result.refusal.rule}`, describeRefusal(result.refusal), 422);
      }
    } else {
      await pins.setFlags(userId, body.flags ?? {}, who, { unlock: body.unlock === true });
    }
    res.json(pinCredentialJson(await accounts.getAccount({ userId }), new Date()));
  });

  // ---- authentication rules ----

  const ruleName = (req: Request): string => String(req.params.name ?? '');

  router.get('/rules', async (_req, res) => {
    res.json({ rules: (await listRules(services.pool)).map(ruleJson) });
  });

  router.post('/rules', async (req, res) => {
    const body = parse(NewRuleBody, req.body);
    const name = String(body.name);
    const rule = await accounts.createRule(name, ruleSettingsOf(body), actor(res));
    res.status(201).location(`/api/rules/${encodeURIComponent(name)}`).json(ruleJson(rule));
  });

  router.get('/rules/:name', async (req, res) => {
    res.json(ruleJson(await accounts.getRule(ruleName(req))));
  });

  router.patch('/rules/:name', async (req, res) => {
    const rule = await accounts.getRule(ruleName(req));
    const body = parse(RuleSettingsBody, req.body);
    const updated = await accounts.setRule(rule.name, ruleSettingsOf(body), actor(res));
    res.json(ruleJson(updated.rule));
  });

  router.delete('/rules/:name', async (req, res) => {
    await accounts.deleteRule(ruleName(req), actor(res));
    res.status(204).end();
  });

  router.use((_req, res) => sendError(res, 404, 'not_found', 'no such API route'));

  const errors: ErrorRequestHandler = (err, req, res, _next) => {
    if (err instanceof ApiError) return sendError(res, err.status, err.code, err.message);
    if (err instanceof InputError) return sendError(res, err.status, err.code, err.message);
    if (err instanceof HashingBusyError) {
      res.set('Retry-After', '5');
      return sendError(res, 503, 'busy', 'PIN hashing is saturated; nothing was changed, try again in a few seconds');
    }
    const type = (err as { type?: unknown } | null)?.type;
    if (type === 'entity.parse.failed') return sendError(res, 400, 'invalid_json', 'the body is not valid JSON');
    if (type === 'entity.too.large') return sendError(res, 413, 'too_large', 'the body is too large');
    const status = (err as { status?: unknown } | null)?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      return sendError(res, status, 'bad_request', 'the request could not be read');
    }
    services.logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, path: req.path }, 'API request failed');
    sendError(res, 500, 'internal', 'internal error');
  };
  router.use(errors);

  return router;
}
