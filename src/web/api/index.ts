import express, { Router, type ErrorRequestHandler, type Request, type RequestHandler, type Response } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { z } from 'zod';
import { authorize } from '../../accounts/access.js';
import type { ApiToken } from '../../db/api-tokens.js';
import { describeFailure, InputError } from '../../errors.js';
import type { Services } from '../../runtime.js';
import { PostgresRateLimitStore } from '../rate-limit.js';
import { openApiDocument } from './openapi.js';
import { apiOperations, type ApiOperation } from './operations.js';
import { apiSchemas } from './schemas.js';

function sendError(res: Response, status: number, code: string, message: string, field?: string): void {
  res.status(status).json({ error: { code, message, ...(field !== undefined ? { field } : {}) } });
}

/** A field's name as a client sent it, safe in a one-line message (control characters escaped, bounded). */
function shownName(name: string): string {
  return JSON.stringify(name.slice(0, 100)).slice(1, -1);
}

/**
 * Validates one part of a request with its schema; the first problem becomes a 400 naming the
 * field (the value itself is never echoed).
 */
function parse<S extends z.ZodType>(schema: S, input: unknown, part: 'path' | 'query' | 'body'): z.output<S> {
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  let path = (issue?.path ?? []).map(String);
  let message = issue?.message ?? 'invalid request';
  if (issue?.code === 'unrecognized_keys') {
    path = [...path, String(issue.keys[0])];
    message = part === 'query' ? 'unknown query parameter: only the documented ones are accepted' : 'unknown field';
  }
  const field = path.length > 0 ? path.join('.').slice(0, 100) : undefined;
  throw new InputError('invalid_request', field !== undefined ? `${shownName(field)}: ${message}` : message, 400, field);
}

/** `/users/{id}` as express writes it: `/users/:id`. */
function expressPath(template: string): string {
  return template.replace(/\{(\w+)\}/g, ':$1');
}

/** The operations by path, in the table's order. */
function byPath(operations: readonly ApiOperation[]): Map<string, ApiOperation[]> {
  const paths = new Map<string, ApiOperation[]>();
  for (const operation of operations) paths.set(operation.path, [...(paths.get(operation.path) ?? []), operation]);
  return paths;
}

/** The Allow header of a path: its methods, and HEAD wherever GET is (express answers it from GET). */
function allowOf(methods: readonly string[]): string {
  const upper = methods.map((method) => method.toUpperCase());
  return (upper.includes('GET') ? [...upper, 'HEAD'] : upper).join(', ');
}

const methodNotAllowed =
  (allow: string): RequestHandler =>
  (req, res) => {
    res.set('Allow', allow);
    sendError(res, 405, 'method_not_allowed', `${req.method} is not allowed on this path; it allows ${allow}`);
  };

const BODY_LIMIT = '32kb';
const parseJson = express.json({ limit: BODY_LIMIT, strict: true });

/** True when the request carries body bytes (an empty body, `Content-Length: 0`, is none). */
function hasContent(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/** A JSON body, when the operation takes one: any other media type is 415; none at all is 400 if one is required. */
function jsonBody(operation: ApiOperation): RequestHandler[] {
  if (!operation.body) return [];
  const { required } = operation.body;
  return [
    (req, res, next) => {
      if (hasContent(req) && !req.is('application/json')) return sendError(res, 415, 'unsupported_media_type', 'send the body as application/json');
      next();
    },
    parseJson,
    (req, _res, next) => {
      if (req.body === undefined) {
        if (required) throw new InputError('invalid_request', 'a JSON body is required');
        req.body = {};
      }
      next();
    },
  ];
}

/** /api: JSON REST with bearer tokens. Audited on channel 'api' as `api:<token name>`. */
export function apiRouter(services: Services): Router {
  const router = Router();
  const operations = apiOperations(apiSchemas(services.catalog.localeNames));
  const document = openApiDocument(operations);

  router.get('/openapi.json', (_req, res) => {
    res.json(document);
  });

  // Only requests without a valid token are counted, per address, and a valid token is looked up
  // before the count is: so one client's bad tokens never lock out another behind the same address.
  const badTokens = rateLimit({
    windowMs: 15 * 60_000,
    limit: 30,
    store: new PostgresRateLimitStore(services.pool, 'api-auth:'),
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, res) => sendError(res, 429, 'too_many_requests', 'too many requests without a valid token; try again later'),
  });

  const authenticate: RequestHandler = async (req, res, next) => {
    const header = req.get('authorization') ?? '';
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(header);
    const token = match?.[1] ? await services.apiTokens.authenticate(match[1]) : null;
    // A SCIM token provisions users at /scim/v2 only (DESIGN §11): here it is no token at all.
    if (token?.access.kind === 'api') {
      res.locals.apiToken = token;
      return next();
    }
    let counted = false;
    let storeFailure: unknown = null;
    await badTokens(req, res, (err?: unknown) => {
      if (err) storeFailure = err;
      else counted = true;
    });
    if (storeFailure !== null) throw storeFailure;
    // Not counted: the limiter has answered 429, and the flood is not audited.
    if (!counted) return;
    await services.audit.record({
      event: 'api.auth_failed',
      actor: { channel: 'api', name: 'api:(unknown)' },
      details: { ip: req.ip ?? null, reason: header ? 'invalid_token' : 'no_token' },
    });
    res.set('WWW-Authenticate', 'Bearer realm="pinline"');
    sendError(res, 401, 'unauthorized', 'a valid bearer token is required (Authorization: Bearer <token>)');
  };
  router.use(authenticate);

  router.all('/openapi.json', methodNotAllowed(allowOf(['get'])));

  for (const [path, pathOperations] of byPath(operations)) {
    const route = router.route(expressPath(path));
    for (const operation of pathOperations) {
      const run: RequestHandler = async (req, res) => {
        const params = operation.params ? parse(operation.params, req.params, 'path') : {};
        const query = parse(operation.query, req.query, 'query');
        const body = operation.body ? parse(operation.body.schema, req.body, 'body') : undefined;
        const token = res.locals.apiToken as ApiToken & { access: { kind: 'api' } };
        const actor = { channel: 'api' as const, name: `api:${token.name}` };
        // The one check of DESIGN §11, after the request's shape: its actions come from what it asks.
        const input = { params, query, body };
        await authorize(services.audit, { role: token.access.role, actor }, operation.actions(input), `${operation.method.toUpperCase()} /api${operation.path}`);
        await operation.handle(input, { services, actor, res });
      };
      route[operation.method](...jsonBody(operation), run);
    }
    route.all(methodNotAllowed(allowOf(pathOperations.map((operation) => operation.method))));
  }

  router.use((_req, res) => sendError(res, 404, 'not_found', 'no such API route'));

  const errors: ErrorRequestHandler = (err, req, res, _next) => {
    const failure = describeFailure(err);
    if (failure) {
      if (failure.code === 'busy') services.metrics.busyAnswer('api');
      if (failure.retryAfter) res.set('Retry-After', String(failure.retryAfter));
      return sendError(res, failure.status, failure.code, failure.message, failure.field);
    }
    services.logger.error({ err: { message: (err as Error)?.message, stack: (err as Error)?.stack }, path: req.path }, 'API request failed');
    sendError(res, 500, 'internal', 'internal error');
  };
  router.use(errors);

  return router;
}
