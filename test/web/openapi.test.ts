import { createConfig, lintFromString } from '@redocly/openapi-core';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../support/factories.js';
import { useWebServer } from '../support/browser.js';

// The served OpenAPI document is generated from the zod schemas that validate the API. Here it is
// linted as a client generator would read it, and every real answer of a walk through the API is
// held to the schema the document gives for its operation and status.

const web = useWebServer();
let token = '';
let document: OpenApiDocument;
const ajv = new Ajv2020({ strict: false, allErrors: true });
// Formats checked too: a time sent as anything but ISO 8601 date-time fails the answer.
addFormats.default(ajv);
/** Operations ("get /users/{id} 200") a real answer was checked against. */
const checked = new Set<string>();

interface OpenApiDocument {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }>>;
  components: { schemas: Record<string, unknown> };
}

beforeAll(async () => {
  ({ token } = await web.services.apiTokens.create('openapi tests', { channel: 'admin', name: 'admin:test' }));
  document = (await (await fetch(`${web.baseUrl}/api/openapi.json`)).json()) as OpenApiDocument;
  ajv.addSchema({ $id: 'pinline', components: document.components });
});

/** The response schema with its references pointed at the document's components. */
function withDocumentRefs(schema: unknown): unknown {
  return JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"pinline#/components/'));
}

const validators = new Map<string, ValidateFunction>();

/** Sends a request and checks the answer against the document; returns the parsed body. */
async function call(method: string, template: string, params: Record<string, string | number>, body?: unknown): Promise<{ status: number; body: unknown }> {
  const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(String(params[name])));
  const response = await fetch(`${web.baseUrl}/api${path}`, {
    method: method.toUpperCase(),
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  const parsed: unknown = text ? JSON.parse(text) : undefined;
  const operation = document.paths[template.replace(/\?.*$/, '')]?.[method];
  expect(operation, `${method} ${template} is in the document`).toBeDefined();
  const documented = operation?.responses[String(response.status)];
  expect(documented, `${method} ${template} documents status ${response.status}`).toBeDefined();
  const schema = documented?.content?.['application/json']?.schema;
  if (schema === undefined) {
    expect(parsed).toBeUndefined();
  } else {
    const key = `${method} ${template} ${response.status}`;
    let validate = validators.get(key);
    if (!validate) {
      validate = ajv.compile(withDocumentRefs(schema) as object);
      validators.set(key, validate);
    }
    expect(validate(parsed), `${key}: ${JSON.stringify(validate.errors)}`).toBe(true);
  }
  checked.add(`${method} ${template.replace(/\?.*$/, '')}`);
  return { status: response.status, body: parsed };
}

describe('the OpenAPI document', () => {
  it('when it is linted with the recommended rules, then there is no error and no warning', async () => {
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lintFromString({ source: JSON.stringify(document), absoluteRef: 'openapi.json', config });
    expect(problems.map((p) => `${p.severity} ${p.ruleId}: ${p.message}`)).toEqual([]);
  });

  it('when every operation is called, then each real answer matches the schema documented for its status', async () => {
    const existing = await createUser(web.services);
    const created = await call('post', '/users', {}, { extension: '5901', firstName: 'Ada', lastName: 'Lovelace', phone: '+15550005901' });
    expect(created.status).toBe(201);
    const id = (created.body as { user: { id: number } }).user.id;
    expect((await call('post', '/users', {}, { extension: '5901', firstName: 'Ada', lastName: 'Again' })).status).toBe(409);
    expect((await call('post', '/users', {}, { extension: '5902', firstName: 'Bad', lastName: 'Pin', pin: '123456' })).status).toBe(422);
    expect((await call('post', '/users', {}, { extension: 5903 })).status).toBe(400);
    await call('get', '/users?q=59&limit=5', {});
    await call('get', '/users/{id}', { id });
    expect((await call('get', '/users/{id}', { id: 999999 })).status).toBe(404);
    await call('patch', '/users/{id}', { id }, { firstName: 'Augusta', locale: 'es-US' });
    expect((await call('patch', '/users/{id}', { id }, { locale: 'xx-XX' })).status).toBe(400);
    await call('get', '/users/{id}/credential/pin', { id });
    await call('put', '/users/{id}/credential/pin', { id }, { pin: '604817', flags: { mustChange: true, doesNotExpire: true } });
    expect((await call('put', '/users/{id}/credential/pin', { id }, { pin: '111111' })).status).toBe(422);
    await call('put', '/users/{id}/credential/pin', { id: existing.userId }, { unlock: true });
    const reset = await call('post', '/users/{id}/credential/pin/reset', { id }, { show: true });
    expect(reset.body).toMatchObject({ channels: ['sms'], pin: expect.stringMatching(/^[0-9]{6}$/) });
    expect((await call('post', '/users/{id}/credential/pin/reset', { id: existing.userId }, { show: false })).status).toBe(409);

    await call('get', '/rules', {});
    expect((await call('post', '/rules', {}, { name: 'contract', minLength: 8, lockoutMinutes: null })).status).toBe(201);
    expect((await call('post', '/rules', {}, { name: 'contract' })).status).toBe(409);
    expect((await call('post', '/rules', {}, { name: 'crossed', minLength: 9, maxLength: 8 })).status).toBe(422);
    await call('get', '/rules/{name}', { name: 'contract' });
    expect((await call('get', '/rules/{name}', { name: 'nosuch' })).status).toBe(404);
    await call('patch', '/rules/{name}', { name: 'contract' }, { historyCount: 2 });
    expect((await call('delete', '/rules/{name}', { name: 'default' })).status).toBe(409);
    expect((await call('delete', '/rules/{name}', { name: 'contract' })).status).toBe(204);
    expect((await call('delete', '/users/{id}', { id })).status).toBe(204);
  });

  it('when the requests the fuzzer saw refused for their shape are held to the document, then the document refuses each one too', () => {
    const bodyOf = (path: string, method: string) =>
      (document.paths[path]?.[method] as unknown as { requestBody: { content: Record<string, { schema: unknown }> } }).requestBody.content['application/json']
        ?.schema;
    const accepts = (path: string, method: string, body: unknown) => ajv.validate(withDocumentRefs(bodyOf(path, method)) as object, body);
    expect(accepts('/users/{id}', 'patch', { extension: '' })).toBe(false);
    expect(accepts('/users/{id}', 'patch', { responseWait: 0 })).toBe(false);
    expect(accepts('/users/{id}', 'patch', { locale: 'xx-XX' })).toBe(false);
    expect(accepts('/users/{id}', 'patch', { firstName: 'A\u0000' })).toBe(false);
    expect(accepts('/users', 'post', { extension: '5301', firstName: '', lastName: ' ' })).toBe(false);
    expect(accepts('/rules', 'post', { name: '' })).toBe(false);
    expect(accepts('/users/{id}/credential/pin', 'put', {})).toBe(false);
    expect(accepts('/users/{id}/credential/pin', 'put', { unlock: true, flags: { lockedByAdmin: true } })).toBe(false);
    // And what the server takes, the document takes.
    expect(accepts('/users/{id}', 'patch', { firstName: ' Ada ', phone: null, locale: 'es-US' })).toBe(true);
    expect(accepts('/users/{id}/credential/pin', 'put', { unlock: true, flags: { lockedByAdmin: false } })).toBe(true);
  });

  it('when its parameters and answers are read, then offset is a plain integer, unknown query parameters are said to be refused, and every operation declares 503 with Retry-After', () => {
    const list = document.paths['/users']?.get as unknown as { description: string; parameters: Array<{ name: string; schema: Record<string, unknown> }> };
    expect(list.parameters.find((p) => p.name === 'offset')?.schema).toMatchObject({ type: 'integer', minimum: 0 });
    expect(list.description).toContain('any other is refused with 400');
    for (const [path, operations] of Object.entries(document.paths)) {
      for (const [method, operation] of Object.entries(operations)) {
        const unavailable = operation.responses['503'] as { headers?: Record<string, unknown> } | undefined;
        expect(unavailable?.headers?.['Retry-After'], `${method} ${path}`).toBeDefined();
      }
    }
    const schemas = document.components.schemas as Record<string, { additionalProperties?: unknown }>;
    for (const name of ['NewUser', 'UserChanges', 'PinUpdate', 'PinReset', 'NewRule', 'RuleChanges']) expect(schemas[name]?.additionalProperties, name).toBe(false);
  });

  it('when the walk above is done, then it has called every operation the document describes', () => {
    const documented = Object.entries(document.paths).flatMap(([path, operations]) => Object.keys(operations).map((method) => `${method} ${path}`));
    expect([...checked].sort()).toEqual(documented.sort());
  });
});
