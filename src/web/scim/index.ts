import express, { Router, type ErrorRequestHandler, type RequestHandler, type Response } from 'express';
import { patchBodyValidation, ScimError as PatchError, type ScimPatch } from 'scim-patch';
import { checkScimText, SCIM_PAGE } from '../../accounts/scim.js';
import { scimUserJson } from '../../accounts/present.js';
import type { Actor } from '../../audit/actor.js';
import type { ApiToken } from '../../db/api-tokens.js';
import { describeFailure, InputError, NotFoundError } from '../../errors.js';
import type { Services } from '../../runtime.js';
import { discoveryResources, LIST_RESPONSE } from './discovery.js';

// /scim/v2 (DESIGN §11, RFC 7644): Users and discovery for an identity provider, with a SCIM token.

const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';
const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';

/** pinline's error codes as SCIM's scimType (RFC 7644 §3.12); a 409 is always uniqueness. */
const SCIM_TYPES: Readonly<Record<string, string>> = {
  invalid_filter: 'invalidFilter',
  invalid_syntax: 'invalidSyntax',
  invalid_path: 'invalidPath',
  no_target: 'noTarget',
};

function send(res: Response, status: number, body: unknown): void {
  res.status(status).set('Content-Type', SCIM_CONTENT_TYPE).send(JSON.stringify(body));
}

function sendError(res: Response, status: number, detail: string, scimType?: string): void {
  send(res, status, { schemas: [ERROR_SCHEMA], status: String(status), ...(scimType ? { scimType } : {}), detail });
}

/** A user id in a path: pinline's ids are numbers, so anything else names no user. */
function userIdOf(param: string | undefined): number {
  if (param === undefined || !/^[0-9]{1,15}$/.test(param)) throw new NotFoundError(`user ${JSON.stringify(String(param).slice(0, 40))}`);
  return Number(param);
}

/** A paging parameter (RFC 7644 §3.4.2.4): absent is the default; below the floor counts as the floor. */
function pageNumber(value: unknown, name: string, floor: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !/^-?[0-9]{1,9}$/.test(value)) throw new InputError('invalid_value', `${name} must be an integer`, 400, name);
  return Math.max(floor, Number(value));
}

/** /scim/v2: audited on channel 'scim' as `scim:<token name>`. */
export function scimRouter(services: Services): Router {
  const router = Router();
  const baseUrl = services.config.publicBaseUrl;
  const discovery = discoveryResources(baseUrl);
  const scim = services.scim;

  // Only a SCIM token: an /api token is no token here, as a SCIM token is on /api.
  const authenticate: RequestHandler = async (req, res, next) => {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(req.get('authorization') ?? '');
    const token = match?.[1] ? await services.apiTokens.authenticate(match[1]) : null;
    if (token?.access.kind === 'scim') {
      res.locals.scimToken = token;
      return next();
    }
    res.set('WWW-Authenticate', 'Bearer realm="pinline SCIM"');
    sendError(res, 401, 'a valid SCIM bearer token is required (Authorization: Bearer <token>, made with pinline token create NAME --scim)');
  };
  router.use(authenticate);

  // Identity providers send application/scim+json, and some application/json.
  router.use(express.json({ limit: '64kb', strict: true, type: ['application/scim+json', 'application/json'] }));
  router.use((req, _res, next) => {
    if (['POST', 'PUT', 'PATCH'].includes(req.method) && req.body === undefined) {
      throw new InputError('invalid_syntax', 'send a JSON body as application/scim+json', 400);
    }
    next();
  });

  const actorOf = (res: Response): Actor => ({ channel: 'scim', name: `scim:${(res.locals.scimToken as ApiToken).name}` });

  // Looked up by path, not routed: a schema's path holds colons, which a route would read as parameters.
  router.get(/^\/(ServiceProviderConfig|ResourceTypes|Schemas)(\/|$)/, (req, res, next) => {
    const resource = discovery.get(req.path);
    if (resource === undefined) return next();
    send(res, 200, resource);
  });

  router.get('/Users', async (req, res) => {
    const { filter } = req.query;
    if (filter !== undefined && typeof filter !== 'string') throw new InputError('invalid_filter', 'give one filter', 400);
    if (filter !== undefined) checkScimText(filter, 'filter');
    const startIndex = pageNumber(req.query.startIndex, 'startIndex', 1, 1);
    const count = Math.min(SCIM_PAGE.max, pageNumber(req.query.count, 'count', 0, SCIM_PAGE.default));
    const { total, users } = await scim.list(filter, startIndex, count);
    send(res, 200, {
      schemas: [LIST_RESPONSE],
      totalResults: total,
      startIndex,
      itemsPerPage: users.length,
      Resources: users.map((user) => scimUserJson(user, baseUrl)),
    });
  });

  router.post('/Users', async (req, res) => {
    const userId = await scim.create(req.body, actorOf(res));
    const user = await scim.get(userId, baseUrl);
    res.set('Location', user.meta.location);
    send(res, 201, user);
  });

  router.get('/Users/:id', async (req, res) => {
    send(res, 200, await scim.get(userIdOf(req.params.id), baseUrl));
  });

  router.put('/Users/:id', async (req, res) => {
    const userId = userIdOf(req.params.id);
    await scim.replace(userId, req.body, actorOf(res));
    send(res, 200, await scim.get(userId, baseUrl));
  });

  router.patch('/Users/:id', async (req, res) => {
    const userId = userIdOf(req.params.id);
    const body = req.body as ScimPatch;
    try {
      patchBodyValidation(body);
    } catch (err) {
      if (err instanceof PatchError) throw new InputError('invalid_syntax', err.message, 400);
      throw err;
    }
    await scim.patch(userId, [...body.Operations], baseUrl, actorOf(res));
    send(res, 200, await scim.get(userId, baseUrl));
  });

  router.delete('/Users/:id', async (req, res) => {
    await scim.delete(userIdOf(req.params.id), actorOf(res));
    res.status(204).end();
  });

  router.use((_req, res) => sendError(res, 404, 'no such SCIM resource'));

  const errors: ErrorRequestHandler = (err, req, res, _next) => {
    // express.json's own refusals: a body that is not JSON, or too large.
    const type = (err as { type?: string }).type;
    if (type === 'entity.parse.failed') return sendError(res, 400, 'the body is not valid JSON', 'invalidSyntax');
    if (type === 'entity.too.large') return sendError(res, 413, 'the body is too large');
    const failure = describeFailure(err);
    if (failure) {
      if (failure.retryAfter) res.set('Retry-After', String(failure.retryAfter));
      // SCIM answers a value refused by policy as 400 invalidValue, where /api says 422.
      const status = failure.status === 422 ? 400 : failure.status;
      const scimType = status === 409 ? 'uniqueness' : status === 400 ? (SCIM_TYPES[failure.code] ?? 'invalidValue') : undefined;
      return sendError(res, status, failure.message, scimType);
    }
    services.logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, path: req.path }, 'SCIM request failed');
    sendError(res, 500, 'internal error');
  };
  router.use(errors);

  return router;
}
