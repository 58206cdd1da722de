import { z } from 'zod';
import {
  E164_PATTERN,
  EMAIL_ADDRESS,
  EMAIL_MAX_LENGTH,
  EXTENSION_PATTERN,
  NAME_MAX_LENGTH,
  NAME_PATTERN,
  PLAIN_TEXT,
  RESPONSE_WAIT,
  controlCharacterProblem,
  textLength,
} from '../../accounts/model.js';
import { RULE_FIELDS, RULE_NAME_PATTERN, RuleSettingsSchema } from '../../pin/rules.js';

// Every request and response of the REST API as zod schemas. They validate requests at the
// boundary and generate the OpenAPI document, so the two cannot disagree; and every constraint the
// domain puts on a field's shape is here, built from the domain's own patterns and ranges, so a
// request the document accepts is never refused for its shape. What needs the database or a
// policy (an unknown rule, a trivial PIN, a taken extension) stays with the services.

/** The message for a value that breaks `pattern`: a control character is named as such. */
function patternError(message: string) {
  return (issue: { input?: unknown }) => (typeof issue.input === 'string' ? controlCharacterProblem(issue.input) : null) ?? message;
}

/**
 * A string of at most `max` characters, counted as code points as JSON Schema (and Postgres)
 * count them; the length is checked first, so no pattern ever runs on a long input.
 */
function text(max: number, pattern: RegExp, message: string) {
  return z
    .string()
    .refine((value) => textLength(value) <= max, { error: `must be at most ${max} characters`, abort: true })
    .regex(pattern, { error: patternError(message) })
    .meta({ maxLength: max });
}

/** A whole number in a query string or path: decimal digits only, then the range. */
function decimalInteger(min: number, max: number) {
  const number = (value: unknown) => (typeof value === 'string' && /^-?[0-9]{1,16}$/.test(value) ? Number(value) : value);
  return z.preprocess(number, z.int({ error: 'must be a whole number' }).min(min).max(max));
}

/** Some field must be given: an empty body would change nothing, yet be audited as a change. */
function atLeastOneField<S extends z.ZodObject>(schema: S) {
  return schema.refine((body) => Object.keys(body).length > 0, { error: 'give at least one field' }).meta({ minProperties: 1 });
}

const ruleField = (key: string) => {
  const field = RULE_FIELDS.find((f) => f.key === key);
  if (field?.kind !== 'integer') throw new Error(`no integer rule field ${key}`);
  return field;
};

// ---- fields, from the domain's patterns and ranges

const Extension = z.string().regex(EXTENSION_PATTERN, { error: patternError('must be 2 to 15 digits') });
const PersonName = text(NAME_MAX_LENGTH, NAME_PATTERN, 'must have a character other than spaces');
const Phone = z.string().regex(E164_PATTERN, { error: patternError('must be an E.164 number, like +15551230001') });
const Email = text(EMAIL_MAX_LENGTH, EMAIL_ADDRESS, 'must be an e-mail address, like alice@example.com');
const RuleName = z.string().regex(RULE_NAME_PATTERN, {
  error: patternError("must be 1 to 64 letters, digits, spaces, '.', '_' or '-', starting with a letter or digit"),
});
const ResponseWait = z.int().min(RESPONSE_WAIT.min).max(RESPONSE_WAIT.max);
const PIN_DIGITS = { min: ruleField('minLength').min, max: ruleField('maxLength').max };
const Pin = z.string().regex(new RegExp(`^[0-9]{${PIN_DIGITS.min},${PIN_DIGITS.max}}$`), {
  error: patternError(`must be ${PIN_DIGITS.min} to ${PIN_DIGITS.max} digits`),
});
/** The largest id a client can send and read back exactly (ids are bigint in Postgres). */
const USER_ID_MAX = Number.MAX_SAFE_INTEGER;

const PinFlags = z.strictObject({
  mustChange: z.boolean().describe('must change at next sign-in'),
  enrollmentPending: z.boolean(),
  doesNotExpire: z.boolean(),
  lockedByAdmin: z.boolean(),
  cannotChange: z.boolean().describe('user cannot change'),
});

/** Every schema of the API; `locales` are the prompt catalogs loaded, the only ones a user may have. */
export function apiSchemas(locales: readonly string[]) {
  const [first, ...rest] = locales;
  if (first === undefined) throw new Error('no locales');
  const Locale = z.enum([first, ...rest]);

  // ---- requests

  const NewUserBody = z
    .strictObject({
      extension: Extension.describe('2 to 15 digits; the ID callers key in'),
      firstName: PersonName,
      lastName: PersonName,
      phone: Phone.nullable().optional().describe('E.164, like +15551230001; calls from it go straight to PIN entry, and text messages go to it'),
      email: Email.nullable().optional().describe('where e-mail notifications and a reset PIN go'),
      locale: Locale.optional().describe('the language of prompts and messages; defaults to the configured DEFAULT_LOCALE'),
      rule: RuleName.optional().describe('authentication rule name; defaults to "default" (an unknown rule is 422)'),
      responseWait: ResponseWait.optional().describe(`seconds the phone waits for keys once the PIN is verified (default ${RESPONSE_WAIT.default})`),
      pin: Pin.optional().describe("initial PIN; the rule decides its length and whether it is trivial (422). Without it a random valid PIN is generated and returned once"),
      enroll: z.boolean().optional().describe('false: the user skips first-time enrollment (default true)'),
    })
    .meta({ id: 'NewUser' });

  const UserChangesBody = atLeastOneField(
    z.strictObject({
      extension: Extension,
      firstName: PersonName,
      lastName: PersonName,
      phone: Phone.nullable().describe('null clears it'),
      email: Email.nullable().describe('null clears it'),
      locale: Locale,
      rule: RuleName.describe('an unknown rule is 422'),
      responseWait: ResponseWait.describe('applies from the next call'),
    }).partial(),
  ).meta({ id: 'UserChanges' });

  const PinUpdateBody = atLeastOneField(
    z.strictObject({
      pin: Pin.optional().describe("a new PIN: the user's rule applies (length, trivial, history; 422), except the minimum time between changes"),
      flags: PinFlags.partial().optional().describe('with `pin`, `flags.mustChange` (default false) goes with the new PIN'),
      unlock: z.literal(true).optional().describe('clears a lock by an administrator or intruder detection, and the failed count; not with flags.lockedByAdmin true'),
    }),
  )
    .refine((body) => !(body.unlock === true && body.flags?.lockedByAdmin === true), {
      error: 'unlock and flags.lockedByAdmin=true contradict each other',
      path: ['unlock'],
    })
    .meta({
      id: 'PinUpdate',
      // The refinement above, for the document.
      not: {
        required: ['unlock', 'flags'],
        properties: { unlock: { const: true }, flags: { required: ['lockedByAdmin'], properties: { lockedByAdmin: { const: true } } } },
      },
    });

  const PinResetBody = z
    .strictObject({
      show: z
        .boolean()
        .optional()
        .describe('true: the PIN is also returned in this one answer (audited as shown); needed when no channel reaches the user'),
    })
    .meta({ id: 'PinReset' });

  const RuleChangesBody = atLeastOneField(RuleSettingsSchema).meta({ id: 'RuleChanges' });
  const NewRuleBody = RuleSettingsSchema.extend({ name: RuleName }).meta({ id: 'NewRule' });

  const UserListQuery = z.strictObject({
    q: text(100, PLAIN_TEXT, 'must not contain control characters').optional().describe('finds users whose extension, last name, or "first last" begins with this, in any case'),
    limit: decimalInteger(1, 500).optional().describe('default 50'),
    offset: decimalInteger(0, 10_000_000).optional().describe('default 0'),
  });

  const UserIdParams = z.strictObject({ id: decimalInteger(1, USER_ID_MAX).describe("the user's id") });
  const RuleNameParams = z.strictObject({ name: RuleName.describe('the rule name') });

  // ---- responses (the shapes of accounts/present.ts)

  const timestamp = z.iso.datetime();
  const nullableTimestamp = timestamp.nullable();

  const PinView = z
    .object({
      flags: PinFlags,
      status: z.object({
        changedAt: timestamp,
        expiresAt: nullableTimestamp,
        expired: z.boolean(),
        daysUntilExpiry: z.int().nullable(),
        failedCount: z.int(),
        lastFailedAt: nullableTimestamp,
        lockedAt: nullableTimestamp.describe('time locked by intruder detection'),
        lockout: z.enum(['directory', 'admin', 'intruder', 'inactive']).nullable().describe('which lock refuses sign-in: directory is the SCIM deactivation (DESIGN §11)'),
        lockedUntil: nullableTimestamp,
        lastSigninAt: nullableTimestamp.describe('the last successful sign-in, by phone or on /me'),
        lastActivityAt: timestamp.describe(
          'the later of the last sign-in and the latest of creation, PIN set or reset, and unlock: the inactivity lock counts from here',
        ),
      }),
    })
    .describe('Flags and status of the phone PIN. Never contains the PIN or its hash.');

  const UserView = z
    .object({
      id: z.int(),
      extension: z.string(),
      firstName: z.string(),
      lastName: z.string(),
      phone: z.string().nullable(),
      email: z.string().nullable(),
      locale: z.string(),
      rule: z.string(),
      responseWait: z.int().describe('seconds the phone waits for keys after sign-in'),
      createdAt: timestamp,
      pin: PinView,
    })
    .meta({ id: 'User' });

  const UserListView = z
    .object({ total: z.int(), limit: z.int(), offset: z.int(), users: z.array(UserView) })
    .meta({ id: 'UserList' });

  const CreatedUserView = z
    .object({
      user: UserView,
      generatedPin: z.string().optional().describe('only when no `pin` was given: shown in this one answer, never stored'),
    })
    .meta({ id: 'CreatedUser' });

  const PinCredentialView = PinView.extend({ userId: z.int(), extension: z.string(), rule: z.string() }).meta({ id: 'PinCredential' });

  const PinResetView = z
    .object({
      channels: z.array(z.enum(['sms', 'email'])).describe('where the message with the PIN was queued'),
      pin: z.string().optional().describe('only with "show": true; never stored'),
    })
    .meta({ id: 'PinResetResult' });

  const RuleView = NewRuleBody.required()
    .extend({ userCount: z.int().optional() })
    .meta({ id: 'Rule', description: 'An authentication rule: every field, and how many users follow it.' });

  const RuleListView = z.object({ rules: z.array(RuleView) }).meta({ id: 'RuleList' });

  return {
    NewUserBody,
    UserChangesBody,
    PinUpdateBody,
    PinResetBody,
    RuleChangesBody,
    NewRuleBody,
    UserListQuery,
    UserIdParams,
    RuleNameParams,
    UserView,
    UserListView,
    CreatedUserView,
    PinCredentialView,
    PinResetView,
    RuleView,
    RuleListView,
  };
}

export type ApiSchemas = ReturnType<typeof apiSchemas>;

export const ErrorView = z
  .object({
    error: z.object({
      code: z.string().describe('stable, e.g. invalid_request, not_found, pin_trivial, extension_taken'),
      message: z.string().describe('one line naming the problem; never contains a PIN'),
      field: z
        .string()
        .optional()
        .describe('the field at fault, when one is: a body field (`flags.mustChange`), a query parameter or a path parameter'),
    }),
  })
  .meta({ id: 'Error' });

