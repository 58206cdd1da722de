import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { createUser } from '../support/factories.js';
import { useWebServer } from '../support/browser.js';
import { breaking, valuesOf, type JsonSchema } from '../support/json-schema-arbitrary.js';

// The API against its own document, as an outside fuzzer would test it: for every operation the
// document describes, requests are built from the operation's schemas (most valid, some breaking
// one thing), sent with a real token to the real server and database, and every answer is held
// to the document. Seeded, so a failure replays; bounded in requests and in time.

const SEED = 18_2026;
/** Requests per operation, unless the operation's share of the time left runs out first. */
const RUNS_PER_OPERATION = 60;
/**
 * All operations together stop after about this (each gets at least a second), so the test stays
 * within a minute: on a machine shared with other test runs, fewer requests are sent, not more time taken.
 */
const TIME_LIMIT_MS = 45_000;
const LEAST_TIME_PER_OPERATION_MS = 1_000;

const web = useWebServer();
let token = '';
let document: OpenApiDocument;
const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

interface Parameter {
  name: string;
  in: 'path' | 'query';
  required?: boolean;
  schema: JsonSchema;
}
interface Operation {
  operationId: string;
  parameters?: Parameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: JsonSchema }> };
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
}
interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
}

const resolve = (ref: string): JsonSchema => {
  const name = ref.replace('#/components/schemas/', '');
  const schema = document.components.schemas[name];
  if (!schema) throw new Error(`unknown $ref ${ref}`);
  return schema;
};

const validators = new Map<string, ValidateFunction>();
/** A validator for a schema of the document, its references pointed at the document's components. */
function validatorOf(key: string, schema: JsonSchema): ValidateFunction {
  let validate = validators.get(key);
  if (!validate) {
    validate = ajv.compile(JSON.parse(JSON.stringify(schema).replaceAll('"#/components/', '"pinline#/components/')) as object);
    validators.set(key, validate);
  }
  return validate;
}

/** A parameter's text as a server reads it: an integer parameter is decimal digits, anything else stays text. */
function fromWire(schema: JsonSchema, text: string): unknown {
  return schema.type === 'integer' && /^-?[0-9]+$/.test(text) ? Number(text) : text;
}

/** How a value goes into a URL: JSON Schema values as their plain text. */
const toWire = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value));

type Body = { kind: 'none' } | { kind: 'json'; value: unknown } | { kind: 'text'; text: string; type: string };

interface ApiRequest {
  path: Record<string, string>;
  query: Array<[string, string]>;
  body: Body;
}

/** Existing users and rules, so that requests also reach real records and not only 404s. */
const known = { userIds: [] as number[], rules: ['default'] as string[] };

function pathArbitrary(parameters: Parameter[]): fc.Arbitrary<Record<string, string>> {
  const shape = Object.fromEntries(
    parameters.map((parameter) => {
      const real = parameter.name === 'id' ? fc.constantFrom(...known.userIds.map(String)) : fc.constantFrom(...known.rules);
      const fromSchema = valuesOf(parameter.schema, resolve).map(toWire);
      const bad = breaking(parameter.schema, resolve)
        .map(toWire)
        // A slash or an empty segment would be another path, not a bad parameter of this one.
        .filter((text) => text !== '' && !text.includes('/') && text !== '.' && text !== '..');
      return [parameter.name, fc.oneof({ weight: 5, arbitrary: real }, { weight: 3, arbitrary: fromSchema }, { weight: 1, arbitrary: bad })];
    }),
  );
  return fc.record(shape) as fc.Arbitrary<Record<string, string>>;
}

function queryArbitrary(parameters: Parameter[]): fc.Arbitrary<Array<[string, string]>> {
  const names = parameters.map((parameter) => parameter.name);
  const one = (parameter: Parameter) =>
    fc.oneof(
      { weight: 6, arbitrary: valuesOf(parameter.schema, resolve).map(toWire) },
      { weight: 1, arbitrary: breaking(parameter.schema, resolve).map(toWire) },
    );
  const given = fc.tuple(...parameters.map((parameter) => fc.option(one(parameter), { nil: undefined, freq: 2 })));
  const unknown = fc.string({ minLength: 1, maxLength: 10 }).filter((name) => !names.includes(name));
  /** Now and then: `arbitrary`; mostly: nothing. */
  const rarely = <T>(arbitrary: fc.Arbitrary<T>, weight: number) =>
    fc.oneof({ weight, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary });
  return fc
    .tuple(
      given,
      rarely(fc.tuple(unknown, fc.string({ maxLength: 5 })), 10),
      rarely(fc.constantFrom(...(names.length > 0 ? names : ['x'])), 10),
    )
    .map(([values, extra, repeated]) => {
      const pairs: Array<[string, string]> = [];
      values.forEach((value, i) => {
        if (value !== undefined) pairs.push([names[i] as string, value]);
      });
      if (extra) pairs.push(extra);
      // The same parameter twice.
      if (repeated !== undefined && pairs.some(([name]) => name === repeated)) pairs.push([repeated, '1']);
      return pairs;
    });
}

function bodyArbitrary(operation: Operation): fc.Arbitrary<Body> {
  const requestBody = operation.requestBody;
  const schema = requestBody?.content['application/json']?.schema;
  if (!requestBody || !schema) return fc.constant({ kind: 'none' });
  return fc.oneof(
    { weight: 12, arbitrary: valuesOf(schema, resolve).map((value): Body => ({ kind: 'json', value })) },
    { weight: 4, arbitrary: breaking(schema, resolve).map((value): Body => ({ kind: 'json', value })) },
    { weight: 1, arbitrary: fc.constant<Body>({ kind: 'none' }) },
    { weight: 1, arbitrary: fc.constantFrom<Body>({ kind: 'text', text: '{"a":', type: 'application/json' }, { kind: 'text', text: 'a=1', type: 'text/plain' }) },
  );
}

/**
 * Where a request breaks the document, in the order the server reads it (the media type, the
 * JSON itself, then path, query and body fields); null when it does not.
 */
function breach(operation: Operation, request: ApiRequest): { part: 'media' | 'json' | 'path' | 'query' | 'body'; errors: ErrorObject[] } | null {
  const { body } = request;
  const schema = operation.requestBody?.content['application/json']?.schema;
  if (schema) {
    if (body.kind === 'text') return { part: body.type === 'application/json' ? 'json' : 'media', errors: [] };
    // JSON text that is not an object or an array is read as no JSON body at all.
    if (body.kind === 'json' && (typeof body.value !== 'object' || body.value === null)) return { part: 'json', errors: [] };
    if (body.kind === 'none' && operation.requestBody?.required) return { part: 'json', errors: [] };
  }
  const parameters = operation.parameters ?? [];
  for (const parameter of parameters.filter((p) => p.in === 'path')) {
    const validate = validatorOf(`${operation.operationId} path ${parameter.name}`, parameter.schema);
    if (!validate(fromWire(parameter.schema, request.path[parameter.name] ?? ''))) return { part: 'path', errors: validate.errors ?? [] };
  }
  const queries = parameters.filter((p) => p.in === 'query');
  const names = request.query.map(([name]) => name);
  if (names.some((name, i) => names.indexOf(name) !== i)) return { part: 'query', errors: [] };
  const querySchema: JsonSchema = {
    type: 'object',
    properties: Object.fromEntries(queries.map((p) => [p.name, p.schema])),
    required: queries.filter((p) => p.required).map((p) => p.name),
    // The document says so in words: only the parameters it names are accepted.
    additionalProperties: false,
  };
  const query = Object.fromEntries(request.query.map(([name, text]) => [name, fromWire((querySchema.properties as Record<string, JsonSchema>)[name] ?? {}, text)]));
  const validateQuery = validatorOf(`${operation.operationId} query`, querySchema);
  if (!validateQuery(query)) return { part: 'query', errors: validateQuery.errors ?? [] };
  if (schema && body.kind === 'json') {
    const validate = validatorOf(`${operation.operationId} body`, schema);
    if (!validate(body.value)) return { part: 'body', errors: validate.errors ?? [] };
  }
  return null;
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A breach that names a field, which the answer must then name too. */
function namesAField(found: NonNullable<ReturnType<typeof breach>>, request: ApiRequest): boolean {
  if (found.part === 'path' || found.part === 'query') return true;
  if (found.part !== 'body' || request.body.kind !== 'json' || !isPlainObject(request.body.value)) return false;
  return found.errors.some((error) => !(error.instancePath === '' && error.keyword === 'minProperties'));
}

let sent = 0;
const sentByOperation = new Map<string, number>();

async function send(method: string, template: string, request: ApiRequest): Promise<{ status: number; type: string; text: string }> {
  const path = template.replace(/\{(\w+)\}/g, (_m, name: string) => encodeURIComponent(request.path[name] ?? ''));
  const query = new URLSearchParams(request.query).toString();
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  let body: string | undefined;
  if (request.body.kind === 'json') {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(request.body.value);
  } else if (request.body.kind === 'text') {
    headers['content-type'] = request.body.type;
    body = request.body.text;
  }
  const response = await fetch(`${web.baseUrl}/api${path}${query ? `?${query}` : ''}`, { method: method.toUpperCase(), headers, ...(body !== undefined ? { body } : {}) });
  sent += 1;
  return { status: response.status, type: response.headers.get('content-type') ?? '', text: await response.text() };
}

let madeUsers = 0;
/** Six users that exist, half of them with an e-mail address a reset can go to: those the requests before deleted are made again. */
async function replenishUsers(): Promise<void> {
  const existing = [];
  for (const id of known.userIds) if (await web.services.accounts.findAccount({ userId: id })) existing.push(id);
  known.userIds = existing;
  while (known.userIds.length < 6) {
    madeUsers += 1;
    const created = await createUser(web.services, madeUsers % 2 === 0 ? { email: `known${madeUsers}@example.com` } : {});
    known.userIds.push(created.userId);
  }
}

beforeAll(async () => {
  ({ token } = await web.services.apiTokens.create('property tests', { channel: 'admin', name: 'admin:test' }));
  document = (await (await fetch(`${web.baseUrl}/api/openapi.json`)).json()) as OpenApiDocument;
  ajv.addSchema({ $id: 'pinline', components: document.components });
  for (const name of ['kiosk', 'night shift']) {
    await web.services.accounts.createRule(name, { minLength: 4 }, { channel: 'cli', name: 'test' });
    known.rules.push(name);
  }
});

describe('every operation of the document, with requests built from its schemas', () => {
  it('when requests valid and invalid by the document are sent, then no answer is a 5xx, every answer is the documented one, valid requests are never refused for their shape, and invalid ones are 400 (415 for another media type)', async () => {
    const operations = Object.entries(document.paths).flatMap(([template, methods]) =>
      Object.entries(methods).map(([method, operation]) => ({ template, method, operation })),
    );
    expect(operations.length).toBeGreaterThanOrEqual(13);
    const started = Date.now();
    for (const [index, { template, method, operation }] of operations.entries()) {
      await replenishUsers();
      const parameters = operation.parameters ?? [];
      const requests = fc.record({
        path: pathArbitrary(parameters.filter((p) => p.in === 'path')),
        query: queryArbitrary(parameters.filter((p) => p.in === 'query')),
        body: bodyArbitrary(operation),
      });
      await fc.assert(
        fc.asyncProperty(requests, async (request) => {
          const where = `${method.toUpperCase()} ${template} ${JSON.stringify(request)}`;
          const answer = await send(method, template, request);
          sentByOperation.set(operation.operationId, (sentByOperation.get(operation.operationId) ?? 0) + 1);
          expect(answer.status, `${where} → ${answer.status} ${answer.text}`).toBeLessThan(500);

          const documented = operation.responses[String(answer.status)];
          expect(documented, `${where}: status ${answer.status} is not documented (${answer.text})`).toBeDefined();
          const schema = documented?.content?.['application/json']?.schema;
          if (schema) {
            expect(answer.type, where).toMatch(/^application\/json/);
            const validate = validatorOf(`${operation.operationId} ${answer.status}`, schema);
            const parsed: unknown = JSON.parse(answer.text);
            expect(validate(parsed), `${where} → ${answer.status}: ${JSON.stringify(validate.errors)} in ${answer.text}`).toBe(true);
          } else {
            expect(answer.text, where).toBe('');
          }

          const found = breach(operation, request);
          if (found === null) {
            expect([400, 413, 415], `${where}: valid by the document, refused for its shape: ${answer.text}`).not.toContain(answer.status);
          } else {
            expect(answer.status, `${where}: breaks the document at ${found.part} (${JSON.stringify(found.errors)})`).toBe(found.part === 'media' ? 415 : 400);
            if (answer.status === 400 && namesAField(found, request)) {
              expect((JSON.parse(answer.text) as { error: { field?: string } }).error.field, `${where}: no error.field`).toEqual(expect.any(String));
            }
          }
        }),
        {
          seed: SEED + index,
          numRuns: RUNS_PER_OPERATION,
          // Each operation's share of the time still left: the quick ones leave more for those that hash a PIN.
          interruptAfterTimeLimit: Math.max(LEAST_TIME_PER_OPERATION_MS, (TIME_LIMIT_MS - (Date.now() - started)) / (operations.length - index)),
          markInterruptAsFailure: false,
          endOnFailure: true,
        },
      );
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    console.info(`API property test: ${sent} requests over ${operations.length} operations in ${seconds} s (${JSON.stringify(Object.fromEntries(sentByOperation))})`);
    // Every operation was exercised, not cut short before its first request.
    for (const { operation } of operations) expect(sentByOperation.get(operation.operationId) ?? 0, operation.operationId).toBeGreaterThan(0);
  }, 120_000);
});
