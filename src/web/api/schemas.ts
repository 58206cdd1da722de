import { z } from 'zod';
import { RuleSettingsSchema } from '../../pin/rules.js';

// Every request and response body of the REST API as zod schemas: they validate requests at the
// boundary and generate the OpenAPI document (openapi.ts), whose response schemas the tests hold
// real answers to. The services then check meaning (an extension's format, the PIN rule).

const text = (max: number) => z.string().max(max);
const timestamp = z.iso.datetime();
const nullableTimestamp = timestamp.nullable();

// ---- requests

export const NewUserBody = z
  .strictObject({
    extension: text(15).describe('2 to 15 digits; the ID callers key in'),
    firstName: text(100),
    lastName: text(100),
    phone: text(32).nullable().optional().describe('E.164, like +15551230001; calls from it go straight to PIN entry, and text messages go to it'),
    email: text(254).nullable().optional().describe('where e-mail notifications and a reset PIN go'),
    locale: text(16).optional().describe('defaults to the configured DEFAULT_LOCALE'),
    rule: text(64).optional().describe('authentication rule name; defaults to "default"'),
    responseWait: z.int().optional().describe('seconds the phone waits for keys once the PIN is verified, 3 to 30 (default 5)'),
    pin: text(64).optional().describe('initial PIN; without it a random valid PIN is generated and returned once'),
    enroll: z.boolean().optional().describe('false: the user skips first-time enrollment (default true)'),
  })
  .meta({ id: 'NewUser' });

export const UserChangesBody = z
  .strictObject({
    extension: text(15),
    firstName: text(100),
    lastName: text(100),
    phone: text(32).nullable(),
    email: text(254).nullable(),
    locale: text(16),
    rule: text(64),
    responseWait: z.int().describe('3 to 30 seconds; applies from the next call'),
  })
  .partial()
  .meta({ id: 'UserChanges' });

const PinFlags = z.strictObject({
  mustChange: z.boolean().describe('must change at next sign-in'),
  enrollmentPending: z.boolean(),
  doesNotExpire: z.boolean(),
  lockedByAdmin: z.boolean(),
  cannotChange: z.boolean().describe('user cannot change'),
});

export const PinUpdateBody = z
  .strictObject({
    pin: text(64)
      .optional()
      .describe("a new PIN: the user's rule applies (length, trivial, history), except the minimum time between changes"),
    flags: PinFlags.partial().optional().describe('with `pin`, `flags.mustChange` (default false) goes with the new PIN'),
    unlock: z.literal(true).optional().describe('clears a lock by an administrator or intruder detection, and the failed count'),
  })
  .refine((body) => body.pin !== undefined || body.flags !== undefined || body.unlock !== undefined, {
    message: 'give at least one of pin, flags, unlock',
  })
  .refine((body) => !(body.unlock && body.flags?.lockedByAdmin === true), {
    message: 'unlock and flags.lockedByAdmin=true contradict each other',
  })
  .meta({ id: 'PinUpdate' });

export const PinResetBody = z
  .strictObject({
    show: z
      .boolean()
      .optional()
      .describe('true: the PIN is also returned in this one answer (audited as shown); needed when no channel reaches the user'),
  })
  .meta({ id: 'PinReset' });

export const PinResetView = z
  .object({
    channels: z.array(z.enum(['sms', 'email'])).describe('where the message with the PIN was queued'),
    pin: z.string().optional().describe('only with "show": true; never stored'),
  })
  .meta({ id: 'PinResetResult' });

export const RuleChangesBody = RuleSettingsSchema.meta({ id: 'RuleChanges' });

export const NewRuleBody = RuleSettingsSchema.extend({ name: text(64) }).meta({ id: 'NewRule' });

export const UserListQuery = z.object({
  q: text(100).optional().describe('name or extension (prefix) to search for'),
  limit: z.coerce.number().int().min(1).max(500).optional().describe('default 50'),
  offset: z.coerce.number().int().min(0).max(10_000_000).optional().describe('default 0'),
});

export const UserIdParams = z.object({ id: z.coerce.number().int().min(1).describe("the user's id") });
export const RuleNameParams = z.object({ name: text(64).describe('the rule name') });

// ---- responses (the shapes of accounts/present.ts)

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
      lockout: z.enum(['admin', 'intruder', 'inactive']).nullable(),
      lockedUntil: nullableTimestamp,
      lastSigninAt: nullableTimestamp.describe('the last successful sign-in, by phone or on /me'),
      lastActivityAt: timestamp.describe('the later of the last sign-in and the latest of creation, PIN set or reset, and unlock: the inactivity lock counts from here'),
    }),
  })
  .describe('Flags and status of the phone PIN. Never contains the PIN or its hash.');

export const UserView = z
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

export const UserListView = z
  .object({ total: z.int(), limit: z.int(), offset: z.int(), users: z.array(UserView) })
  .meta({ id: 'UserList' });

export const CreatedUserView = z
  .object({
    user: UserView,
    generatedPin: z.string().optional().describe('only when no `pin` was given: shown in this one answer, never stored'),
  })
  .meta({ id: 'CreatedUser' });

export const PinCredentialView = PinView.extend({ userId: z.int(), extension: z.string(), rule: z.string() }).meta({ id: 'PinCredential' });

export const RuleView = NewRuleBody.required()
  .extend({ userCount: z.int().optional() })
  .meta({ id: 'Rule', description: 'An authentication rule: every field, and how many users follow it.' });

export const RuleListView = z.object({ rules: z.array(RuleView) }).meta({ id: 'RuleList' });

export const ErrorView = z
  .object({
    error: z.object({
      code: z.string().describe('stable, e.g. invalid_request, not_found, pin_trivial, extension_taken'),
      message: z.string().describe('one line naming the problem; never contains a PIN'),
    }),
  })
  .meta({ id: 'Error' });
