import fc from 'fast-check';

// fast-check arbitraries derived from JSON Schema, for the subset an OpenAPI 3.1 document
// generated from zod uses: $ref, const, enum, anyOf/oneOf, type (one or several), string pattern
// and lengths, integer ranges, booleans, null, arrays, and objects with required properties,
// additionalProperties and minProperties. `valuesOf` aims at values the schema accepts and
// `breaking` at values it refuses; neither is trusted: a validator decides which each one is.

export type JsonSchema = { [keyword: string]: unknown };

/** Resolves a `$ref` of the document. */
export type ResolveRef = (ref: string) => JsonSchema;

const CONTROL_CHARACTERS = [...Array.from({ length: 32 }, (_, code) => String.fromCharCode(code)), '\u007f'];

/** Text well beyond ASCII: accents, other scripts, astral characters and spaces of several kinds. */
const UNICODE_SAMPLE = 'Aé𝒜 b\u00a0ß漢';

function resolved(schema: JsonSchema, resolve: ResolveRef): JsonSchema {
  return typeof schema.$ref === 'string' ? resolved(resolve(schema.$ref), resolve) : schema;
}

function typesOf(schema: JsonSchema): string[] {
  return schema.type === undefined ? [] : ([schema.type].flat() as string[]);
}

const codePoints = (text: string) => [...text].length;

function strings(schema: JsonSchema): fc.Arbitrary<string> {
  const min = typeof schema.minLength === 'number' ? schema.minLength : 0;
  const max = typeof schema.maxLength === 'number' ? schema.maxLength : 200;
  const fits = (text: string) => codePoints(text) >= min && codePoints(text) <= max;
  if (typeof schema.pattern !== 'string') return fc.string({ unit: 'binary', minLength: min, maxLength: Math.min(max, 40) });
  const pattern = new RegExp(schema.pattern, 'u');
  const matching = fc.stringMatching(pattern).filter(fits);
  // A loose pattern (free text) also gets text from all of Unicode, long and short.
  if (!pattern.test(UNICODE_SAMPLE)) return matching;
  const wide = fc.string({ unit: 'binary', minLength: 1, maxLength: Math.min(max, 120) }).filter((text) => pattern.test(text) && fits(text));
  return fc.oneof(matching, wide);
}

function integers(schema: JsonSchema): fc.Arbitrary<number> {
  const min = typeof schema.minimum === 'number' ? schema.minimum : -(2 ** 31);
  const max = typeof schema.maximum === 'number' ? schema.maximum : 2 ** 31;
  return fc.bigInt({ min: BigInt(min), max: BigInt(max) }).map(Number);
}

/** Values meant to satisfy `schema`. */
export function valuesOf(schema: JsonSchema, resolve: ResolveRef): fc.Arbitrary<unknown> {
  const s = resolved(schema, resolve);
  if ('const' in s) return fc.constant(s.const);
  if (Array.isArray(s.enum)) return fc.constantFrom(...(s.enum as unknown[]));
  const alternatives = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (alternatives) return fc.oneof(...alternatives.map((alternative) => valuesOf(alternative, resolve)));
  const types = typesOf(s);
  if (types.length > 1) return fc.oneof(...types.map((type) => valuesOf({ ...s, type }, resolve)));
  switch (types[0]) {
    case 'null':
      return fc.constant(null);
    case 'boolean':
      return fc.boolean();
    case 'integer':
      return integers(s);
    case 'number':
      return fc.double({ noNaN: true, noDefaultInfinity: true });
    case 'string':
      return strings(s);
    case 'array':
      return fc.array(valuesOf((s.items ?? {}) as JsonSchema, resolve), { maxLength: 4 });
    case 'object':
      return objects(s, resolve);
    default:
      return fc.jsonValue();
  }
}

function objects(schema: JsonSchema, resolve: ResolveRef): fc.Arbitrary<Record<string, unknown>> {
  const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
  const required = (schema.required ?? []) as string[];
  const minProperties = typeof schema.minProperties === 'number' ? schema.minProperties : 0;
  const shape = Object.fromEntries(Object.entries(properties).map(([name, property]) => [name, valuesOf(property, resolve)]));
  const requiredOnly = Object.fromEntries(Object.entries(shape).filter(([name]) => required.includes(name)));
  // Now and then only what is required (for a body of optional fields: none), where a server's own rules hide.
  return fc
    .oneof({ weight: 5, arbitrary: fc.record(shape, { requiredKeys: required }) }, { weight: 1, arbitrary: fc.record(requiredOnly) })
    .filter((value) => Object.keys(value).length >= minProperties);
}

/** A JSON value of any type but the ones given. */
function otherType(types: string[]): fc.Arbitrary<unknown> {
  const all: Array<[string, fc.Arbitrary<unknown>]> = [
    ['null', fc.constant(null)],
    ['boolean', fc.boolean()],
    ['integer', fc.integer()],
    ['number', fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).filter((n) => !Number.isInteger(n))],
    ['string', fc.string({ maxLength: 8 })],
    ['array', fc.array(fc.integer(), { maxLength: 2 })],
    ['object', fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 2 })],
  ];
  const others = all.filter(([type]) => !types.includes(type) && !(type === 'number' && types.includes('integer')));
  return fc.oneof(...others.map(([, arbitrary]) => arbitrary));
}

/** `text` with a control character put somewhere in it. */
function withControlCharacter(text: fc.Arbitrary<string>): fc.Arbitrary<string> {
  return fc
    .tuple(text, fc.constantFrom(...CONTROL_CHARACTERS), fc.nat())
    .map(([value, control, at]) => {
      const chars = [...value];
      const i = chars.length === 0 ? 0 : at % (chars.length + 1);
      return [...chars.slice(0, i), control, ...chars.slice(i)].join('');
    });
}

/** Values meant to break `schema`, each one change away from a good value. */
export function breaking(schema: JsonSchema, resolve: ResolveRef): fc.Arbitrary<unknown> {
  const s = resolved(schema, resolve);
  const alternatives = (s.anyOf ?? s.oneOf) as JsonSchema[] | undefined;
  if (alternatives) return fc.oneof(...alternatives.map((alternative) => breaking(alternative, resolve)));
  const types = typesOf(s);
  const options: fc.Arbitrary<unknown>[] = [otherType(types)];
  if (Array.isArray(s.enum) || 'const' in s) {
    const allowed = Array.isArray(s.enum) ? (s.enum as unknown[]) : [s.const];
    options.push(fc.string({ maxLength: 8 }).filter((text) => !allowed.includes(text)));
  } else if (types.includes('string')) {
    options.push(withControlCharacter(strings(s)));
    if (typeof s.maxLength === 'number') options.push(fc.constant('x'.repeat(s.maxLength + 1)));
    if (typeof s.pattern === 'string') options.push(fc.constantFrom('', ' ', 'x!', '١٢٣', '12345678901234567890'));
  } else if (types.includes('integer')) {
    if (typeof s.minimum === 'number') options.push(fc.constant(s.minimum - 1));
    if (typeof s.maximum === 'number') options.push(fc.constant(s.maximum + 1));
  } else if (types.includes('object')) {
    const properties = (s.properties ?? {}) as Record<string, JsonSchema>;
    const names = Object.keys(properties);
    const good = objects(s, resolve);
    options.push(
      // A field the schema does not have.
      fc.tuple(good, fc.string({ minLength: 1, maxLength: 12 }).filter((name) => !names.includes(name)), fc.jsonValue({ maxDepth: 1 })).map(
        ([value, name, extra]) => ({ ...value, [name]: extra }),
      ),
    );
    if (names.length > 0) {
      // One field broken.
      options.push(
        fc
          .constantFrom(...names)
          .chain((name) => fc.tuple(good, fc.constant(name), breaking(properties[name] as JsonSchema, resolve)))
          .map(([value, name, bad]) => ({ ...value, [name]: bad })),
      );
    }
    const required = (s.required ?? []) as string[];
    if (required.length > 0) {
      // A required field left out.
      options.push(
        fc.tuple(good, fc.constantFrom(...required)).map(([value, name]) => Object.fromEntries(Object.entries(value).filter(([key]) => key !== name))),
      );
    }
    if (typeof s.minProperties === 'number' && s.minProperties > 0) options.push(fc.constant({}));
  }
  return fc.oneof(...options);
}
