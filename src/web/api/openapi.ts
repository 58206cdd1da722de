import { OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { z } from 'zod';
import type { ApiOperation } from './operations.js';

const BEARER = 'bearer';

/** An operation's request, as the document describes it. */
function requestOf(operation: ApiOperation): RouteConfig['request'] {
  return {
    ...(operation.params ? { params: operation.params as z.ZodObject } : {}),
    query: operation.query as z.ZodObject,
    ...(operation.body
      ? { body: { required: operation.body.required, content: { 'application/json': { schema: operation.body.schema } } } }
      : {}),
  };
}

/** The OpenAPI 3.1 description of /api, generated from the operations and the schemas that validate them; served at /api/openapi.json. */
export function openApiDocument(operations: readonly ApiOperation[]): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', BEARER, { type: 'http', scheme: 'bearer' });
  for (const operation of operations) {
    registry.registerPath({
      method: operation.method,
      path: operation.path,
      operationId: operation.operationId,
      summary: operation.summary,
      ...(operation.description !== undefined ? { description: operation.description } : {}),
      request: requestOf(operation),
      responses: operation.responses,
      security: [{ [BEARER]: [] }],
    });
  }
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'pinline REST API',
      version: '1.0.0',
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Users, their phone PIN credential and authentication rules. Bearer tokens are created and revoked by ' +
        'administrators at /admin/tokens. Every change is audited on channel "api" as "api:<token name>".\n\n' +
        'Provisioning by an identity provider is SCIM 2.0 at /scim/v2, with a SCIM token, outside this document: SCIM describes ' +
        'itself at /scim/v2/Schemas (with /scim/v2/ResourceTypes and /scim/v2/ServiceProviderConfig).\n\n' +
        'This document is exact: a request it allows is never refused for its shape, and one it does not allow gets 400 ' +
        'with `error.field` naming the field. Bodies accept only the fields described (`additionalProperties: false`), and ' +
        'likewise each operation accepts only the query parameters described: any other is refused with 400 naming it. ' +
        'No text may contain a control character (U+0000 to U+001F, U+007F). What needs the data or a policy keeps its own status: ' +
        '422 for a PIN or rule refused by policy, 409 for a conflict, 404 for an unknown id, 403 when the token\'s role may not.\n\n' +
        'Each token has a role, chosen when it is made: `system` may do everything; `helpdesk` reads, resets PINs, unlocks, sets ' +
        'the PIN flags and the rule, and edits phone, e-mail and language; `auditor` only reads. A request its role may not make ' +
        'is refused with 403 (`forbidden`) after its shape is checked, and audited as `access.denied`.\n\n' +
        'Authentication comes first (401), then a method that a path does not have gets 405 with `Allow`. A valid token is ' +
        'never refused because of other requests; requests without a valid token are limited per address (429). ' +
        'When the database is unreachable the answer is 503 with `Retry-After`. ' +
        'Errors are `{ "error": { "code", "message", "field" } }`.',
    },
    // Relative to where the document is served, so it is right behind any host and proxy.
    servers: [{ url: '/api' }],
  });
}
