import { z } from 'zod';
import { RULE_FIELDS, type RuleField, type RuleSettings } from '../../db/rules.js';

// Request bodies of the REST API. They check shape and types at the boundary; the account and
// PIN services then check meaning (extension format, the PIN rule) and answer with InputError.

const text = (max: number) => z.string().max(max);

export const NewUserBody = z.strictObject({
  extension: text(15).describe('2 to 15 digits; the ID callers key in'),
  firstName: text(100),
  lastName: text(100),
  phone: text(32).nullable().optional().describe('E.164, like +15551230001; calls from it go straight to PIN entry'),
  locale: text(16).optional().describe('defaults to the configured DEFAULT_LOCALE'),
  rule: text(64).optional().describe('authentication rule name; defaults to "default"'),
  pin: text(64).optional().describe('initial PIN; without it a random valid PIN is generated and returned once'),
  enroll: z.boolean().optional().describe('false: the user skips first-time enrollment (default true)'),
});

export const UserChangesBody = z
  .strictObject({
    extension: text(15),
    firstName: text(100),
    lastName: text(100),
    phone: text(32).nullable(),
    locale: text(16),
    rule: text(64),
  })
  .partial();

export const PinFlagsSchema = z
  .strictObject({
    mustChange: z.boolean().describe('must change at next sign-in'),
    enrollmentPending: z.boolean(),
    doesNotExpire: z.boolean(),
    lockedByAdmin: z.boolean(),
    cannotChange: z.boolean().describe('user cannot change'),
  })
  .partial();

export const PinPutBody = z
  .strictObject({
    pin: text(64)
      .optional()
      .describe("a new PIN: the user's rule applies (length, trivial, history), except the minimum time between changes"),
    flags: PinFlagsSchema.optional().describe('with `pin`, `flags.mustChange` (default false) goes with the new PIN'),
    unlock: z.literal(true).optional().describe('clears a lock by an administrator or intruder detection, and the failed count'),
  })
  .refine((body) => body.pin !== undefined || body.flags !== undefined || body.unlock !== undefined, {
    message: 'give at least one of pin, flags, unlock',
  })
  .refine((body) => !(body.unlock && body.flags?.lockedByAdmin === true), {
    message: 'unlock and flags.lockedByAdmin=true contradict each other',
  });

function ruleFieldSchema(field: RuleField): z.ZodType {
  if (field.kind === 'boolean') return z.boolean().describe(`${field.label}; default ${String(field.default)}`);
  const integer = z
    .int()
    .min(field.min ?? 0)
    .max(field.max ?? Number.MAX_SAFE_INTEGER);
  if (field.kind === 'minutes-or-admin') {
    return integer.nullable().describe(`${field.label}; null: only an administrator unlocks; default ${String(field.default)}`);
  }
  return integer.describe(`${field.label}${field.help ? ` (${field.help})` : ''}; default ${String(field.default)}`);
}

/** Every rule field of RULE_FIELDS, all optional: what is left out keeps its current value or default. */
export const RuleSettingsBody = z
  .strictObject(Object.fromEntries(RULE_FIELDS.map((f) => [f.key, ruleFieldSchema(f)])) as Record<string, z.ZodType>)
  .partial();

export const NewRuleBody = RuleSettingsBody.extend({ name: text(64) });

export const UserListQuery = z.object({
  q: text(100).optional(),
  limit: z.coerce.number().int().min(1).max(500).optional(),
  offset: z.coerce.number().int().min(0).max(10_000_000).optional(),
});

/** The validated rule fields, typed (the schema is built from RULE_FIELDS, so this is exactly what it allows). */
export function ruleSettingsOf(body: Record<string, unknown>): Partial<RuleSettings> {
  const settings: Record<string, unknown> = {};
  for (const field of RULE_FIELDS) if (body[field.key] !== undefined) settings[field.key] = body[field.key];
  return settings as Partial<RuleSettings>;
}
