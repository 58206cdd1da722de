import { SCIM_PAGE } from '../../accounts/scim.js';
import { SCIM_USER_SCHEMA } from '../../accounts/present.js';

// What /scim/v2 says about itself (RFC 7644 §4, RFC 7643 §5-7): ServiceProviderConfig,
// ResourceTypes and Schemas, the SCIM counterpart of /api/openapi.json.

const LIST_RESPONSE = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

const meta = (baseUrl: string, resourceType: string, path: string) => ({ resourceType, location: `${baseUrl}/scim/v2/${path}` });

function serviceProviderConfig(baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig'],
    documentationUri: `${baseUrl}/`,
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: SCIM_PAGE.max },
    changePassword: { supported: false },
    sort: { supported: false },
    etag: { supported: false },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Bearer token',
        description: 'A SCIM token made with `pinline token create NAME --scim`, as Authorization: Bearer <token>.',
        primary: true,
      },
    ],
    meta: meta(baseUrl, 'ServiceProviderConfig', 'ServiceProviderConfig'),
  };
}

function userResourceType(baseUrl: string) {
  return {
    schemas: ['urn:ietf:params:scim:schemas:core:2.0:ResourceType'],
    id: 'User',
    name: 'User',
    endpoint: '/Users',
    description: 'A pinline user: userName is the extension.',
    schema: SCIM_USER_SCHEMA,
    meta: meta(baseUrl, 'ResourceType', 'ResourceTypes/User'),
  };
}

const attribute = (name: string, description: string, extra: Record<string, unknown> = {}) => ({
  name,
  type: 'string',
  multiValued: false,
  description,
  required: false,
  caseExact: false,
  mutability: 'readWrite',
  returned: 'default',
  uniqueness: 'none',
  ...extra,
});

const multiValued = (name: string, description: string) =>
  attribute(name, description, {
    type: 'complex',
    multiValued: true,
    subAttributes: [
      attribute('value', `the ${name === 'emails' ? 'e-mail address' : 'phone number, in E.164 form'}`),
      attribute('type', 'a label, such as work'),
      attribute('primary', 'the one pinline keeps: the primary value, else the first', { type: 'boolean' }),
    ],
  });

/** The core User schema (RFC 7643 §4.1) as pinline keeps it: only these attributes are stored. */
function userSchema(baseUrl: string) {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: SCIM_USER_SCHEMA,
    name: 'User',
    description: 'A pinline user. Other attributes are accepted and not kept.',
    attributes: [
      attribute('userName', 'the extension: 2 to 15 digits', { required: true, uniqueness: 'server' }),
      attribute('name', 'the user’s name', {
        type: 'complex',
        required: true,
        subAttributes: [
          attribute('givenName', 'first name', { required: true }),
          attribute('familyName', 'last name', { required: true }),
          attribute('formatted', 'given and family name', { mutability: 'readOnly' }),
        ],
      }),
      attribute('displayName', 'given and family name', { mutability: 'readOnly' }),
      multiValued('emails', 'the e-mail address that resets and notices go to'),
      multiValued('phoneNumbers', 'the phone for caller ID and text messages'),
      attribute('preferredLanguage', 'the language of prompts and messages; one pinline has no prompts for leaves it as it was'),
      attribute('active', 'false: deactivated by the directory, refused like a lock', { type: 'boolean' }),
      attribute('externalId', 'the identity provider’s id, kept as sent', { caseExact: true }),
    ],
    meta: meta(baseUrl, 'Schema', `Schemas/${SCIM_USER_SCHEMA}`),
  };
}

const listOf = (resources: unknown[]) => ({
  schemas: [LIST_RESPONSE],
  totalResults: resources.length,
  startIndex: 1,
  itemsPerPage: resources.length,
  Resources: resources,
});

/** The discovery resources by path under /scim/v2. */
export function discoveryResources(baseUrl: string): ReadonlyMap<string, unknown> {
  return new Map<string, unknown>([
    ['/ServiceProviderConfig', serviceProviderConfig(baseUrl)],
    ['/ResourceTypes', listOf([userResourceType(baseUrl)])],
    ['/ResourceTypes/User', userResourceType(baseUrl)],
    ['/Schemas', listOf([userSchema(baseUrl)])],
    [`/Schemas/${SCIM_USER_SCHEMA}`, userSchema(baseUrl)],
  ]);
}

export { LIST_RESPONSE };
