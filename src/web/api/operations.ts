import type { RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { Response } from 'express';
import { z } from 'zod';
import { credentialJson, ruleJson, userJson } from '../../accounts/present.js';
import { mayDo, PIN_FLAG_ACTIONS, ROLES, userChangeActions, type RoleAction } from '../../accounts/roles.js';
import type { Actor } from '../../audit/actor.js';
import type { Services } from '../../runtime.js';
import { ErrorView, type ApiSchemas } from './schemas.js';

// Every operation of /api in one table: its method and path, what its request may hold, what it
// answers, and what it does. The router (index.ts) and the OpenAPI document (openapi.ts) are both
// built from this table, so an operation cannot exist in one and not the other.

type ApiMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

/** What a handler works with: the services, the token's actor for the audit log, and the response. */
interface ApiCall {
  services: Services;
  actor: Actor;
  res: Response;
}

interface OperationSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType> {
  method: ApiMethod;
  /** An OpenAPI path template under /api: `/users/{id}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  params?: P;
  /** The query parameters; any other is refused (400). */
  query?: Q;
  body?: { schema: B; required: boolean };
  /**
   * What the token's role must be allowed (DESIGN §11): one action, or the actions a request takes
   * by what it asks for, with the words the document gives them.
   */
  access: RoleAction | { of(input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> }): readonly RoleAction[]; says: string };
  responses: RouteConfig['responses'];
  handle(input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> }, call: ApiCall): Promise<void>;
}

/** An operation with its input types erased: the router hands it input its schemas have parsed. */
export interface ApiOperation extends Omit<OperationSpec<z.ZodType, z.ZodType, z.ZodType>, 'handle' | 'access'> {
  query: z.ZodType;
  /** The actions this request takes, checked by the one check before it is handled. */
  actions(input: { params: unknown; query: unknown; body: unknown }): readonly RoleAction[];
  handle(input: { params: unknown; query: unknown; body: unknown }, call: ApiCall): Promise<void>;
}

/** No query parameters at all: an operation without any still refuses unknown ones. */
const NO_QUERY = z.strictObject({});

function operation<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType>(spec: OperationSpec<P, Q, B>): ApiOperation {
  const { access, ...rest } = spec;
  const actions = typeof access === 'string' ? () => [access] : access.of;
  const forbidden = typeof access === 'string' ? forbiddenFor(access) : { 403: failure(`${FORBIDDEN}: ${access.says}`) };
  return {
    ...rest,
    query: spec.query ?? NO_QUERY,
    actions,
    // 403 is documented wherever some role may be refused.
    responses: { ...spec.responses, ...forbidden },
  } as ApiOperation;
}

const FORBIDDEN = "the token's role may not do this (`forbidden`), audited as `access.denied`";

/** The 403 of an operation with one action, naming the roles that may take it; none when every role may. */
function forbiddenFor(action: RoleAction): RouteConfig['responses'] {
  const allowed = ROLES.filter((role) => mayDo(role, action));
  return allowed.length === ROLES.length ? {} : { 403: failure(`${FORBIDDEN}; allowed to the roles ${allowed.join(', ')}`) };
}

const json = (schema: z.ZodType) => ({ 'application/json': { schema } });
const answer = (description: string, schema?: z.ZodType) => (schema ? { description, content: json(schema) } : { description });
const RETRY_AFTER = { 'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer' as const, minimum: 0 } } };
const failure = (description: string, headers?: typeof RETRY_AFTER) => ({ ...answer(description, ErrorView), ...(headers ? { headers } : {}) });

/** The answers any operation can give. */
const COMMON_FAILURES = {
  400: failure('the request breaks this document: `error.field` names the field (`invalid_request`, `invalid_json`)'),
  401: failure('missing or invalid bearer token (`unauthorized`)'),
  429: failure('too many requests without a valid token from this address (`too_many_requests`); a valid token is never refused', RETRY_AFTER),
  503: failure('the database is unreachable, or PIN hashing is saturated (`busy`); nothing was changed', RETRY_AFTER),
};
const BODY_FAILURES = {
  413: failure('the body is larger than 32 kB (`too_large`)'),
  415: failure('the body is not application/json (`unsupported_media_type`)'),
};
const NO_USER = { 404: failure('no such user (`not_found`)') };
const NO_RULE = { 404: failure('no such rule (`not_found`)') };
const UNMEETABLE = '`rule_unmeetable`: no PIN could meet the rule (its minimum length is too short for the trivial-PIN check)';

/** The actions a PUT of the PIN credential takes: a chosen PIN, each flag given, an unlock. */
function pinUpdateActions(body: { pin?: string | undefined; flags?: Partial<Record<keyof typeof PIN_FLAG_ACTIONS, boolean | undefined>> | undefined; unlock?: true | undefined }): RoleAction[] {
  const actions: RoleAction[] = [
    ...(body.pin !== undefined ? ['pin.choose' as const] : []),
    ...Object.keys(body.flags ?? {}).flatMap((flag) => (flag in PIN_FLAG_ACTIONS ? [PIN_FLAG_ACTIONS[flag as keyof typeof PIN_FLAG_ACTIONS]] : [])),
    ...(body.unlock === true ? ['user.unlock' as const] : []),
  ];
  // `flags: {}` changes nothing, but still needs the least a change of flags does.
  return actions.length > 0 ? [...new Set(actions)] : ['user.flags'];
}

/** Every operation of /api. */
export function apiOperations(s: ApiSchemas): ApiOperation[] {
  const userAnswer = async (services: Services, userId: number) => userJson(await services.accounts.getAccount({ userId }), new Date());
  const credentialAnswer = async (services: Services, userId: number) =>
    credentialJson(await services.accounts.getAccount({ userId }), new Date());

  return [
    // ---- users

    operation({
      method: 'get',
      path: '/users',
      operationId: 'listUsers',
      summary: 'List and search users',
      access: 'read',
      description: 'Only the query parameters below are accepted; any other is refused with 400 naming it.',
      query: s.UserListQuery,
      responses: { 200: answer('users, by extension', s.UserListView), ...COMMON_FAILURES },
      async handle({ query }, { services, res }) {
        const limit = query.limit ?? 50;
        const offset = query.offset ?? 0;
        const { total, accounts } = await services.accounts.search({ query: query.q ?? '', limit, offset });
        const now = new Date();
        res.json({ total, limit, offset, users: accounts.map((account) => userJson(account, now)) });
      },
    }),

    operation({
      method: 'post',
      path: '/users',
      operationId: 'createUser',
      summary: 'Create a user and their first PIN',
      access: 'user.create',
      body: { schema: s.NewUserBody, required: true },
      responses: {
        201: answer('created; `generatedPin` only when no `pin` was given (shown this once)', s.CreatedUserView),
        ...COMMON_FAILURES,
        ...BODY_FAILURES,
        409: failure('extension or phone already in use (`extension_taken`, `phone_taken`)'),
        422: failure(`the initial PIN breaks the rule (\`pin_*\`), the rule is unknown (\`unknown_rule\`), or ${UNMEETABLE}`),
      },
      async handle({ body }, { services, actor, res }) {
        const { user, generatedPin } = await services.accounts.createUser(
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
          actor,
        );
        res
          .status(201)
          .location(`/api/users/${user.id}`)
          .set('Cache-Control', 'no-store')
          // The generated PIN is in this one response only, for the caller to hand over; it is never stored.
          .json({ user: await userAnswer(services, user.id), ...(generatedPin !== null ? { generatedPin } : {}) });
      },
    }),

    operation({
      method: 'get',
      path: '/users/{id}',
      operationId: 'getUser',
      summary: 'Read a user, with their PIN flags and status',
      access: 'read',
      params: s.UserIdParams,
      responses: { 200: answer('the user', s.UserView), ...COMMON_FAILURES, ...NO_USER },
      async handle({ params }, { services, res }) {
        res.json(await userAnswer(services, params.id));
      },
    }),

    operation({
      method: 'patch',
      path: '/users/{id}',
      operationId: 'updateUser',
      summary: 'Change a user',
      access: {
        of: ({ body }) => userChangeActions(Object.keys(body)),
        says: 'changing the extension, names or response wait needs a system token; phone, e-mail, language or rule, a system or helpdesk one',
      },
      params: s.UserIdParams,
      body: { schema: s.UserChangesBody, required: true },
      responses: {
        200: answer('the changed user', s.UserView),
        ...COMMON_FAILURES,
        ...BODY_FAILURES,
        ...NO_USER,
        409: failure('extension or phone already in use (`extension_taken`, `phone_taken`)'),
        422: failure('the rule is unknown (`unknown_rule`)'),
      },
      async handle({ params, body }, { services, actor, res }) {
        await services.accounts.getAccount({ userId: params.id });
        await services.accounts.updateUser(
          params.id,
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
          actor,
        );
        res.json(await userAnswer(services, params.id));
      },
    }),

    operation({
      method: 'delete',
      path: '/users/{id}',
      operationId: 'deleteUser',
      summary: 'Delete a user',
      access: 'user.delete',
      params: s.UserIdParams,
      responses: { 204: answer('deleted'), ...COMMON_FAILURES, ...NO_USER },
      async handle({ params }, { services, actor, res }) {
        await services.accounts.deleteUser(params.id, actor);
        res.status(204).end();
      },
    }),

    // ---- the user's PIN credential

    operation({
      method: 'get',
      path: '/users/{id}/credential/pin',
      operationId: 'getPinCredential',
      summary: "The user's PIN flags and status (never a hash)",
      access: 'read',
      params: s.UserIdParams,
      responses: { 200: answer('flags and status', s.PinCredentialView), ...COMMON_FAILURES, ...NO_USER },
      async handle({ params }, { services, res }) {
        res.json(await credentialAnswer(services, params.id));
      },
    }),

    operation({
      method: 'put',
      path: '/users/{id}/credential/pin',
      operationId: 'updatePinCredential',
      summary: 'Set a PIN and/or flags, or unlock',
      access: {
        of: ({ body }) => pinUpdateActions(body),
        says: 'a new PIN needs a system token; flags and unlock a system or helpdesk one',
      },
      description:
        'A new PIN goes through the one PIN change path as an administrative change: the rule applies (length, trivial PINs, history) ' +
        'except the minimum time between changes. Flags and unlock land in the same transaction.',
      params: s.UserIdParams,
      body: { schema: s.PinUpdateBody, required: true },
      responses: {
        200: answer('the credential after the change', s.PinCredentialView),
        ...COMMON_FAILURES,
        ...BODY_FAILURES,
        ...NO_USER,
        422: failure('the PIN breaks a rule: `pin_too_short`, `pin_too_long`, `pin_trivial` or `pin_reused`'),
      },
      async handle({ params, body }, { services, actor, res }) {
        const userId = params.id;
        const { mustChange, ...otherFlags } = body.flags ?? {};
        if (body.pin !== undefined) {
          // The one PIN change path, as an administrative change; flags and unlock in the same transaction.
          await services.pins.changePinOrThrow({
            userId,
            newPin: body.pin,
            kind: 'administrative',
            actor,
            mustChange: mustChange ?? false,
            settings: { flags: otherFlags, unlock: body.unlock === true },
          });
        } else {
          await services.pins.updateSettings(userId, { flags: body.flags ?? {}, unlock: body.unlock === true }, actor);
        }
        res.json(await credentialAnswer(services, userId));
      },
    }),

    operation({
      method: 'post',
      path: '/users/{id}/credential/pin/reset',
      operationId: 'resetPin',
      summary: 'Reset a forgotten PIN (helpdesk)',
      access: 'pin.reset',
      description:
        "A random PIN that the user's rule accepts, sent to the user by text message and e-mail (each they have and that is configured), " +
        'with "must change at next sign-in" set and an intruder lockout cleared. It works for the rule\'s temporary PIN lifetime. ' +
        'It is never shown unless "show" is true. With no channel that reaches the user and no "show", nothing changes (409). ' +
        'The body may be left out.',
      params: s.UserIdParams,
      body: { schema: s.PinResetBody, required: false },
      responses: {
        200: answer('queued; the PIN only with "show": true', s.PinResetView),
        ...COMMON_FAILURES,
        ...BODY_FAILURES,
        ...NO_USER,
        409: failure('no configured channel reaches the user, and "show" was not asked for (`unreachable`)'),
        422: failure(UNMEETABLE),
      },
      async handle({ params, body }, { services, actor, res }) {
        const result = await services.pins.resetPin(params.id, actor, { showOnce: body.show === true });
        // The PIN is in this one answer only when asked for; it is never stored, nor cached.
        res.set('Cache-Control', 'no-store').json({ channels: result.channels, ...(result.pin !== null ? { pin: result.pin } : {}) });
      },
    }),

    // ---- authentication rules

    operation({
      method: 'get',
      path: '/rules',
      operationId: 'listRules',
      summary: 'List authentication rules',
      access: 'read',
      responses: { 200: answer('rules, the default first', s.RuleListView), ...COMMON_FAILURES },
      async handle(_input, { services, res }) {
        res.json({ rules: (await services.accounts.listRules()).map((rule) => ruleJson(rule, rule.userCount)) });
      },
    }),

    operation({
      method: 'post',
      path: '/rules',
      operationId: 'createRule',
      summary: 'Create a rule; fields left out take the defaults',
      access: 'rules.change',
      body: { schema: s.NewRuleBody, required: true },
      responses: {
        201: answer('created', s.RuleView),
        ...COMMON_FAILURES,
        ...BODY_FAILURES,
        409: failure('a rule with that name exists (`rule_exists`)'),
        422: failure(`the minimum PIN length is above the maximum (\`invalid_rule\`), or ${UNMEETABLE}; \`error.field\` names the minimum length`),
      },
      async handle({ body }, { services, actor, res }) {
        const { name, ...settings } = body;
        const rule = await services.accounts.createRule(name, settings, actor);
        res.status(201).location(`/api/rules/${encodeURIComponent(name)}`).json(ruleJson(rule));
      },
    }),

    operation({
      method: 'get',
      path: '/rules/{name}',
      operationId: 'getRule',
      summary: 'Read a rule',
      access: 'read',
      params: s.RuleNameParams,
      responses: { 200: answer('the rule', s.RuleView), ...COMMON_FAILURES, ...NO_RULE },
      async handle({ params }, { services, res }) {
        res.json(ruleJson(await services.accounts.getRule(params.name)));
      },
    }),

    operation({
      method: 'patch',
      path: '/rules/{name}',
      operationId: 'updateRule',
      summary: 'Change some fields of a rule',
      access: 'rules.change',
      params: s.RuleNameParams,
      body: { schema: s.RuleChangesBody, required: true },
      responses: {
        200: answer('the changed rule', s.RuleView),
        ...COMMON_FAILURES,
        ...BODY_FAILURES,
        ...NO_RULE,
        422: failure(`the minimum PIN length is above the maximum (\`invalid_rule\`), or ${UNMEETABLE}; \`error.field\` names the minimum length`),
      },
      async handle({ params, body }, { services, actor, res }) {
        const rule = await services.accounts.getRule(params.name);
        const updated = await services.accounts.setRule(rule.name, body, actor);
        res.json(ruleJson(updated.rule));
      },
    }),

    operation({
      method: 'delete',
      path: '/rules/{name}',
      operationId: 'deleteRule',
      summary: 'Delete a rule no user follows',
      access: 'rules.change',
      params: s.RuleNameParams,
      responses: {
        204: answer('deleted'),
        ...COMMON_FAILURES,
        ...NO_RULE,
        409: failure('the default rule (`rule_protected`), or a rule still in use (`rule_in_use`)'),
      },
      async handle({ params }, { services, actor, res }) {
        await services.accounts.deleteRule(params.name, actor);
        res.status(204).end();
      },
    }),
  ];
}
