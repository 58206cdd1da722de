import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

// RFC 7643's core User schema (§4.1, with the common attributes of §3.1 and the multi-valued
// sub-attributes of §2.4) written as JSON Schema, and RFC 7644's ListResponse and Error
// messages: every /scim/v2 answer in the tests is held to them.

const CORE_USER = 'urn:ietf:params:scim:schemas:core:2.0:User';

const text = { type: 'string' };
const multiValued = (value: object = text) => ({
  type: 'array',
  items: {
    type: 'object',
    properties: { value, display: text, type: text, primary: { type: 'boolean' }, $ref: text },
    additionalProperties: false,
  },
});

/** The core User resource: only RFC 7643's attributes, each with its type; id and meta are the server's. */
const SCIM_CORE_USER_SCHEMA = {
  $id: 'scim-core-user',
  type: 'object',
  required: ['schemas', 'id', 'userName', 'meta'],
  properties: {
    schemas: { type: 'array', items: text, contains: { const: CORE_USER }, minItems: 1 },
    id: { type: 'string', minLength: 1, not: { const: 'bulkId' } },
    externalId: text,
    meta: {
      type: 'object',
      required: ['resourceType', 'location'],
      properties: {
        resourceType: { const: 'User' },
        created: { type: 'string', format: 'date-time' },
        lastModified: { type: 'string', format: 'date-time' },
        location: { type: 'string', format: 'uri' },
        version: text,
      },
      additionalProperties: false,
    },
    userName: { type: 'string', minLength: 1 },
    name: {
      type: 'object',
      properties: { formatted: text, familyName: text, givenName: text, middleName: text, honorificPrefix: text, honorificSuffix: text },
      additionalProperties: false,
    },
    displayName: text,
    nickName: text,
    profileUrl: { type: 'string', format: 'uri' },
    title: text,
    userType: text,
    preferredLanguage: { type: 'string', pattern: '^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$' },
    locale: text,
    timezone: text,
    active: { type: 'boolean' },
    emails: multiValued({ type: 'string', format: 'email' }),
    phoneNumbers: multiValued(),
    ims: multiValued(),
    photos: multiValued(),
    addresses: { type: 'array', items: { type: 'object' } },
    groups: multiValued(),
    entitlements: multiValued(),
    roles: multiValued(),
    x509Certificates: multiValued(),
  },
  // password is writeOnly (returned never): an answer must not carry it.
  not: { required: ['password'] },
  additionalProperties: false,
} as const;

const SCIM_LIST_SCHEMA = {
  type: 'object',
  required: ['schemas', 'totalResults'],
  properties: {
    schemas: { type: 'array', contains: { const: 'urn:ietf:params:scim:api:messages:2.0:ListResponse' } },
    totalResults: { type: 'integer', minimum: 0 },
    startIndex: { type: 'integer', minimum: 1 },
    itemsPerPage: { type: 'integer', minimum: 0 },
    Resources: { type: 'array' },
  },
  additionalProperties: false,
} as const;

const SCIM_ERROR_SCHEMA = {
  type: 'object',
  required: ['schemas', 'status'],
  properties: {
    schemas: { type: 'array', contains: { const: 'urn:ietf:params:scim:api:messages:2.0:Error' } },
    status: { type: 'string', pattern: '^[45][0-9]{2}$' },
    scimType: {
      enum: ['invalidFilter', 'tooMany', 'uniqueness', 'mutability', 'invalidSyntax', 'invalidPath', 'noTarget', 'invalidValue', 'invalidVers', 'sensitive'],
    },
    detail: text,
  },
  additionalProperties: false,
} as const;

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);

export const validateScimUser: ValidateFunction = ajv.compile(SCIM_CORE_USER_SCHEMA);
export const validateScimList: ValidateFunction = ajv.compile(SCIM_LIST_SCHEMA);
export const validateScimError: ValidateFunction = ajv.compile(SCIM_ERROR_SCHEMA);
