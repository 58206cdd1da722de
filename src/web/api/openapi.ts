import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import {
  CreatedUserView,
  ErrorView,
  NewRuleBody,
  NewUserBody,
  PinCredentialView,
  PinResetBody,
  PinResetView,
  PinUpdateBody,
  RuleChangesBody,
  RuleListView,
  RuleNameParams,
  RuleView,
  UserChangesBody,
  UserIdParams,
  UserListQuery,
  UserListView,
  UserView,
} from './schemas.js';

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
const answer = (description: string, schema?: z.ZodType) => (schema ? { description, content: json(schema) } : { description });
const failure = (description: string) => answer(description, ErrorView);

/** The answers any authenticated route can give. */
const COMMON_FAILURES = {
  400: failure('invalid request: the message names the field (`invalid_request`, `invalid_json`)'),
  401: failure('missing or invalid bearer token (`unauthorized`)'),
  429: failure('too many requests without a valid token (`too_many_requests`)'),
};
const WRITE_FAILURES = {
  415: failure('the body is not application/json (`unsupported_media_type`)'),
  503: failure('PIN hashing is saturated; nothing was changed (`busy`), see Retry-After'),
};
const NO_USER = { 404: failure('no such user (`not_found`)') };
const NO_RULE = { 404: failure('no such rule (`not_found`)') };

const body = (schema: z.ZodType) => ({ body: { required: true, content: json(schema) } });

const ROUTES: RouteConfig[] = [
  {
    method: 'get',
    path: '/users',
    operationId: 'listUsers',
    summary: 'List and search users',
    request: { query: UserListQuery },
    responses: { 200: answer('users, by extension', UserListView), ...COMMON_FAILURES },
  },
  {
    method: 'post',
    path: '/users',
    operationId: 'createUser',
    summary: 'Create a user and their first PIN',
    request: body(NewUserBody),
    responses: {
      201: answer('created; `generatedPin` only when no `pin` was given (shown this once)', CreatedUserView),
      ...COMMON_FAILURES,
      ...WRITE_FAILURES,
      409: failure('extension or phone already in use'),
      422: failure('the initial PIN breaks the rule (`pin_*`), or an unknown rule or locale'),
    },
  },
  {
    method: 'get',
    path: '/users/{id}',
    operationId: 'getUser',
    summary: 'Read a user, with their PIN flags and status',
    request: { params: UserIdParams },
    responses: { 200: answer('the user', UserView), ...COMMON_FAILURES, ...NO_USER },
  },
  {
    method: 'patch',
    path: '/users/{id}',
    operationId: 'updateUser',
    summary: 'Change a user',
    request: { params: UserIdParams, ...body(UserChangesBody) },
    responses: {
      200: answer('the changed user', UserView),
      ...COMMON_FAILURES,
      ...WRITE_FAILURES,
      ...NO_USER,
      409: failure('extension or phone already in use'),
      422: failure('an unknown rule or locale'),
    },
  },
  {
    method: 'delete',
    path: '/users/{id}',
    operationId: 'deleteUser',
    summary: 'Delete a user',
    request: { params: UserIdParams },
    responses: { 204: answer('deleted'), ...COMMON_FAILURES, ...NO_USER },
  },
  {
    method: 'get',
    path: '/users/{id}/credential/pin',
    operationId: 'getPinCredential',
    summary: "The user's PIN flags and status (never a hash)",
    request: { params: UserIdParams },
    responses: { 200: answer('flags and status', PinCredentialView), ...COMMON_FAILURES, ...NO_USER },
  },
  {
    method: 'put',
    path: '/users/{id}/credential/pin',
    operationId: 'updatePinCredential',
    summary: 'Set a PIN and/or flags, or unlock',
    description:
      'A new PIN goes through the one PIN change path as an administrative change: the rule applies (length, trivial PINs, history) ' +
      'except the minimum time between changes. Flags and unlock land in the same transaction.',
    request: { params: UserIdParams, ...body(PinUpdateBody) },
    responses: {
      200: answer('the credential after the change', PinCredentialView),
      ...COMMON_FAILURES,
      ...WRITE_FAILURES,
      ...NO_USER,
      422: failure('the PIN breaks a rule: `pin_too_short`, `pin_too_long`, `pin_trivial` or `pin_reused`'),
    },
  },
  {
    method: 'post',
    path: '/users/{id}/credential/pin/reset',
    operationId: 'resetPin',
    summary: 'Reset a forgotten PIN (helpdesk)',
    description:
      "A random PIN that the user's rule accepts, sent to the user by text message and e-mail (each they have and that is configured), " +
      'with "must change at next sign-in" set and an intruder lockout cleared. It works for the rule\'s temporary PIN lifetime. ' +
      'It is never shown unless "show" is true. With no channel that reaches the user and no "show", nothing changes (409).',
    request: { params: UserIdParams, ...body(PinResetBody) },
    responses: {
      200: answer('queued; the PIN only with "show": true', PinResetView),
      ...COMMON_FAILURES,
      ...WRITE_FAILURES,
      ...NO_USER,
      409: failure('no configured channel reaches the user, and "show" was not asked for (`unreachable`)'),
    },
  },
  {
    method: 'get',
    path: '/rules',
    operationId: 'listRules',
    summary: 'List authentication rules',
    responses: { 200: answer('rules, the default first', RuleListView), ...COMMON_FAILURES },
  },
  {
    method: 'post',
    path: '/rules',
    operationId: 'createRule',
    summary: 'Create a rule; fields left out take the defaults',
    request: body(NewRuleBody),
    responses: {
      201: answer('created', RuleView),
      ...COMMON_FAILURES,
      ...WRITE_FAILURES,
      409: failure('a rule with that name exists (`rule_exists`)'),
      422: failure('the fields disagree, e.g. the minimum length above the maximum (`invalid_rule`)'),
    },
  },
  {
    method: 'get',
    path: '/rules/{name}',
    operationId: 'getRule',
    summary: 'Read a rule',
    request: { params: RuleNameParams },
    responses: { 200: answer('the rule', RuleView), ...COMMON_FAILURES, ...NO_RULE },
  },
  {
    method: 'patch',
    path: '/rules/{name}',
    operationId: 'updateRule',
    summary: 'Change some fields of a rule',
    request: { params: RuleNameParams, ...body(RuleChangesBody) },
    responses: {
      200: answer('the changed rule', RuleView),
      ...COMMON_FAILURES,
      ...WRITE_FAILURES,
      ...NO_RULE,
      422: failure('the fields disagree, e.g. the minimum length above the maximum (`invalid_rule`)'),
    },
  },
  {
    method: 'delete',
    path: '/rules/{name}',
    operationId: 'deleteRule',
    summary: 'Delete a rule no user follows',
    request: { params: RuleNameParams },
    responses: {
      204: answer('deleted'),
      ...COMMON_FAILURES,
      ...NO_RULE,
      409: failure('the default rule (`rule_protected`), or a rule still in use (`rule_in_use`)'),
    },
  },
];

const BEARER = 'bearer';

/** The OpenAPI 3.1 description of /api, generated from the schemas that validate it; served at /api/openapi.json. */
export function openApiDocument(): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER, { type: 'http', scheme: 'bearer' });
  for (const route of ROUTES) registry.registerPath({ ...route, security: [{ [BEARER]: [] }] });
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'pinline REST API',
      version: '1.0.0',
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Users, their phone PIN credential and authentication rules. Bearer tokens are created and revoked by ' +
        'administrators at /admin/tokens. Every change is audited on channel "api" as "api:<token name>". ' +
        'Errors are `{ "error": { "code", "message" } }` with a 4xx status.',
    },
    // Relative to where the document is served, so it is right behind any host and proxy.
    servers: [{ url: '/api' }],
  });
}
