import { z } from 'zod';
import { NewRuleBody, NewUserBody, PinPutBody, RuleSettingsBody, UserChangesBody } from './schemas.js';

/** A request schema as OpenAPI 3.1 (JSON Schema 2020-12), straight from the zod schema that validates it. */
function jsonSchema(schema: z.ZodType): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: unknown) => ({ 'application/json': { schema } });
const errorResponse = (description: string) => ({ description, content: json(ref('Error')) });

const idParameter = { name: 'id', in: 'path', required: true, schema: { type: 'integer', minimum: 1 } };
const nameParameter = { name: 'name', in: 'path', required: true, schema: { type: 'string' } };

const common = {
  '400': errorResponse('invalid request body or query (`invalid_request`, `invalid_json`)'),
  '401': errorResponse('missing or invalid bearer token (`unauthorized`)'),
};

const nullableString = { type: ['string', 'null'] };
const nullableDate = { type: ['string', 'null'], format: 'date-time' };

/** The OpenAPI description of /api, served at /api/openapi.json. */
export function openApiDocument(publicBaseUrl: string): Record<string, unknown> {
  return {
    openapi: '3.1.0',
    info: {
      title: 'pinline REST API',
      version: '1.0.0',
      description:
        'Users, their phone PIN credential and authentication rules. Bearer tokens are created and revoked by ' +
        'administrators at /admin/tokens. Every change is audited on channel "api" as "api:<token name>". ' +
        'Errors are `{ "error": { "code", "message" } }` with a 4xx status.',
    },
    servers: [{ url: `${publicBaseUrl}/api` }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', examples: ['invalid_request', 'not_found', 'pin_trivial', 'extension_taken'] },
                message: { type: 'string', description: 'one line naming the problem; never contains a PIN' },
              },
            },
          },
        },
        User: {
          type: 'object',
          properties: {
            id: { type: 'integer' },
            extension: { type: 'string' },
            firstName: { type: 'string' },
            lastName: { type: 'string' },
            phone: nullableString,
            locale: { type: 'string' },
            rule: { type: 'string' },
            createdAt: { type: 'string', format: 'date-time' },
          },
        },
        UserList: {
          type: 'object',
          properties: {
            total: { type: 'integer' },
            limit: { type: 'integer' },
            offset: { type: 'integer' },
            users: { type: 'array', items: ref('User') },
          },
        },
        PinCredential: {
          type: 'object',
          description: 'Flags and status of the phone PIN. Never contains the PIN or its hash.',
          properties: {
            userId: { type: 'integer' },
            extension: { type: 'string' },
            rule: { type: 'string' },
            flags: {
              type: 'object',
              properties: {
                mustChange: { type: 'boolean' },
                enrollmentPending: { type: 'boolean' },
                doesNotExpire: { type: 'boolean' },
                lockedByAdmin: { type: 'boolean' },
                cannotChange: { type: 'boolean' },
              },
            },
            status: {
              type: 'object',
              properties: {
                changedAt: { type: 'string', format: 'date-time' },
                expiresAt: nullableDate,
                expired: { type: 'boolean' },
                daysUntilExpiry: { type: ['integer', 'null'] },
                failedCount: { type: 'integer' },
                lastFailedAt: nullableDate,
                lockedAt: { ...nullableDate, description: 'time locked by intruder detection' },
                lockout: { enum: ['admin', 'intruder', null] },
                lockedUntil: nullableDate,
              },
            },
          },
        },
        Rule: { ...jsonSchema(NewRuleBody), description: 'An authentication rule (every field of DESIGN §2).' },
        NewUser: jsonSchema(NewUserBody),
        UserChanges: jsonSchema(UserChangesBody),
        PinUpdate: jsonSchema(PinPutBody),
        NewRule: jsonSchema(NewRuleBody),
        RuleChanges: jsonSchema(RuleSettingsBody),
      },
    },
    paths: {
      '/users': {
        get: {
          summary: 'List and search users',
          parameters: [
            { name: 'q', in: 'query', schema: { type: 'string' }, description: 'name or extension (prefix) to search for' },
            { name: 'limit', in: 'query', schema: { type: 'integer', minimum: 1, maximum: 500, default: 50 } },
            { name: 'offset', in: 'query', schema: { type: 'integer', minimum: 0, default: 0 } },
          ],
          responses: { '200': { description: 'users, by extension', content: json(ref('UserList')) }, ...common },
        },
        post: {
          summary: 'Create a user',
          requestBody: { required: true, content: json(ref('NewUser')) },
          responses: {
            '201': {
              description: 'created; `generatedPin` only when no `pin` was given (shown this once)',
              content: json({ type: 'object', properties: { user: ref('User'), generatedPin: { type: 'string' } } }),
            },
            ...common,
            '409': errorResponse('extension or phone already in use'),
            '422': errorResponse('the initial PIN breaks the rule (`pin_*`), or unknown rule'),
          },
        },
      },
      '/users/{id}': {
        parameters: [idParameter],
        get: { summary: 'Read a user', responses: { '200': { description: 'the user', content: json(ref('User')) }, ...common, '404': errorResponse('no such user') } },
        patch: {
          summary: 'Change a user',
          requestBody: { required: true, content: json(ref('UserChanges')) },
          responses: { '200': { description: 'the changed user', content: json(ref('User')) }, ...common, '404': errorResponse('no such user'), '409': errorResponse('extension or phone already in use') },
        },
        delete: { summary: 'Delete a user', responses: { '204': { description: 'deleted' }, ...common, '404': errorResponse('no such user') } },
      },
      '/users/{id}/credential/pin': {
        parameters: [idParameter],
        get: {
          summary: "The user's PIN flags and status (never a hash)",
          responses: { '200': { description: 'flags and status', content: json(ref('PinCredential')) }, ...common, '404': errorResponse('no such user') },
        },
        put: {
          summary: 'Set a PIN and/or flags, or unlock',
          description:
            'A new PIN goes through the one PIN change path as an administrative change: the rule applies (length, trivial PINs, history) ' +
            'except the minimum time between changes. A refused PIN answers 422 with a message naming the rule.',
          requestBody: { required: true, content: json(ref('PinUpdate')) },
          responses: {
            '200': { description: 'the credential after the change', content: json(ref('PinCredential')) },
            ...common,
            '404': errorResponse('no such user'),
            '422': errorResponse('the PIN breaks a rule: code `pin_too_short`, `pin_too_long`, `pin_trivial` or `pin_reused`'),
          },
        },
      },
      '/rules': {
        get: {
          summary: 'List authentication rules',
          responses: { '200': { description: 'rules', content: json({ type: 'object', properties: { rules: { type: 'array', items: ref('Rule') } } }) }, ...common },
        },
        post: {
          summary: 'Create a rule; fields left out take the defaults',
          requestBody: { required: true, content: json(ref('NewRule')) },
          responses: { '201': { description: 'created', content: json(ref('Rule')) }, ...common, '409': errorResponse('a rule with that name exists'), '422': errorResponse('a value is out of range') },
        },
      },
      '/rules/{name}': {
        parameters: [nameParameter],
        get: { summary: 'Read a rule', responses: { '200': { description: 'the rule', content: json(ref('Rule')) }, ...common, '404': errorResponse('no such rule') } },
        patch: {
          summary: 'Change some fields of a rule',
          requestBody: { required: true, content: json(ref('RuleChanges')) },
          responses: { '200': { description: 'the changed rule', content: json(ref('Rule')) }, ...common, '404': errorResponse('no such rule'), '422': errorResponse('a value is out of range') },
        },
        delete: {
          summary: 'Delete a rule no user follows',
          responses: { '204': { description: 'deleted' }, ...common, '404': errorResponse('no such rule'), '409': errorResponse('the default rule, or a rule still in use') },
        },
      },
    },
  };
}
