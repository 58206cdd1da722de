import { z } from 'zod';
import { checkPlainText } from '../accounts/model.js';
import { InputError } from '../errors.js';
import type { CommonPinList } from './common-pins.js';
import { unmeetableRule } from './policy.js';

/** An authentication rule (DESIGN §2). */
export interface AuthRule {
  id: number;
  name: string;
  maxFailedSignins: number;
  resetFailedMinutes: number;
  /** null: only an administrator unlocks. */
  lockoutMinutes: number | null;
  maxFailedPerCall: number;
  minLength: number;
  maxLength: number;
  maxDays: number;
  warningDays: number;
  historyCount: number;
  minChangeMinutes: number;
  trivialCheck: boolean;
  /** How long a PIN nobody chose (a reset, a generated one) works; 0 = no limit. */
  tempPinHours: number;
  /** Lock after this many days without a successful sign-in; 0 = never. */
  inactiveDays: number;
}

export type RuleSettings = Omit<AuthRule, 'id' | 'name'>;
export type RuleKey = keyof RuleSettings;

interface FieldBase<K extends RuleKey> {
  key: K;
  /** The `pinline rule set` flag (DESIGN §2), without the dashes. */
  flag: string;
  /** The field's name on the admin page and in `rule show`. */
  label: string;
  /** What a special value means, shown beside the field ("0 = never lock"). */
  meaning: string;
}

export type RuleField =
  | (FieldBase<RuleKey> & { kind: 'integer'; default: number; min: number; max: number })
  | (FieldBase<'lockoutMinutes'> & { kind: 'minutes-or-admin'; default: number; min: number; max: number })
  | (FieldBase<'trivialCheck'> & { kind: 'boolean'; default: boolean });

/**
 * Every rule field, with its defaults (Cisco's "Recommended Voice Mail Authentication Rule"),
 * range, CLI flag and label: the one table the CLI, the admin web and the API are built from.
 * The migration holds the same defaults and ranges as column defaults and CHECK constraints, and
 * a test keeps the two equal.
 */
export const RULE_FIELDS: readonly RuleField[] = [
  { key: 'maxFailedSignins', flag: 'max-failed', label: 'Failed sign-ins before lockout', kind: 'integer', default: 3, min: 0, max: 1000, meaning: '0 = never lock' },
  { key: 'resetFailedMinutes', flag: 'reset-minutes', label: 'Reset failed count after (minutes)', kind: 'integer', default: 30, min: 1, max: 120000, meaning: 'failures older than this no longer count' },
  { key: 'lockoutMinutes', flag: 'lockout-minutes', label: 'Lockout duration (minutes)', kind: 'minutes-or-admin', default: 30, min: 1, max: 120000, meaning: 'no duration: only an administrator unlocks' },
  { key: 'maxFailedPerCall', flag: 'max-failed-per-call', label: 'Failed sign-ins per call', kind: 'integer', default: 3, min: 1, max: 100, meaning: 'then hang up' },
  { key: 'minLength', flag: 'min-length', label: 'Minimum PIN length', kind: 'integer', default: 6, min: 1, max: 64, meaning: '' },
  { key: 'maxLength', flag: 'max-length', label: 'Maximum PIN length', kind: 'integer', default: 20, min: 1, max: 64, meaning: '' },
  { key: 'maxDays', flag: 'max-days', label: 'PIN expires after (days)', kind: 'integer', default: 180, min: 0, max: 3650, meaning: '0 = never' },
  { key: 'warningDays', flag: 'warning-days', label: 'Expiry warning (days)', kind: 'integer', default: 15, min: 0, max: 3650, meaning: '' },
  { key: 'historyCount', flag: 'history', label: 'Previous PINs remembered', kind: 'integer', default: 5, min: 0, max: 50, meaning: 'the current PIN is always refused' },
  { key: 'minChangeMinutes', flag: 'min-change-minutes', label: 'Minimum time between changes (minutes)', kind: 'integer', default: 1440, min: 0, max: 5256000, meaning: 'voluntary changes only' },
  { key: 'trivialCheck', flag: 'trivial-check', label: 'Trivial-PIN check', kind: 'boolean', default: true, meaning: '' },
  { key: 'tempPinHours', flag: 'temp-pin-hours', label: 'Temporary PIN lifetime (hours)', kind: 'integer', default: 72, min: 0, max: 8760, meaning: '0 = no limit; a reset or generated PIN works this long' },
  { key: 'inactiveDays', flag: 'inactive-days', label: 'Inactivity lock (days)', kind: 'integer', default: 0, min: 0, max: 3650, meaning: '0 = never; lock after this long without a successful sign-in' },
];

export const DEFAULT_RULE_NAME = 'default';
/** The shape of a rule's name (the auth_rules CHECK), so also of the API's rule fields and paths. */
export const RULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;

export function checkRuleName(name: string): string {
  checkPlainText('rule name', name);
  if (!RULE_NAME_PATTERN.test(name)) {
    throw new InputError('invalid_rule_name', `rule name "${name}" must be 1-64 letters, digits, spaces, '.', '_' or '-'`);
  }
  return name;
}

export function defaultRuleSettings(): RuleSettings {
  return Object.fromEntries(RULE_FIELDS.map((f) => [f.key, f.default])) as unknown as RuleSettings;
}

export function ruleSettingsOf(rule: AuthRule): RuleSettings {
  return Object.fromEntries(RULE_FIELDS.map((f) => [f.key, rule[f.key]])) as unknown as RuleSettings;
}

// ---- validation: one zod schema per field, for the API body, the admin form and the CLI flags

function describeField(field: RuleField): string {
  return `${field.label}${field.meaning ? ` (${field.meaning})` : ''}; default ${formatRuleValue(field, field.default)}`;
}

/** The values a field accepts, with its range. */
function ruleValueSchema(field: RuleField): z.ZodType<number | boolean | null> {
  if (field.kind === 'boolean') return z.boolean().describe(describeField(field));
  const range = z.int().min(field.min).max(field.max);
  return field.kind === 'minutes-or-admin' ? range.nullable().describe(describeField(field)) : range.describe(describeField(field));
}

type RuleSettingsShape = { [K in RuleKey]: z.ZodOptional<z.ZodType<RuleSettings[K]>> };

/** Any subset of the rule fields: what is left out keeps its value (or the default, for a new rule). */
export const RuleSettingsSchema = z.strictObject(
  Object.fromEntries(RULE_FIELDS.map((f) => [f.key, ruleValueSchema(f).optional()])) as unknown as RuleSettingsShape,
);

/** The range of a field in words, for messages: "a whole number from 0 to 50". */
export function describeRange(field: RuleField): string {
  return field.kind === 'boolean' ? 'on or off' : `a whole number from ${field.min} to ${field.max}`;
}

/**
 * Reads a number field typed as text (an admin form field, a CLI flag). An empty text means "no
 * duration" for the lockout. `name` is how the channel calls the field in its error message.
 */
export function ruleValueFromText(field: RuleField, raw: string, name: string): number | null {
  if (field.kind === 'boolean') throw new Error(`${field.key} is not a number field`);
  const text = checkPlainText(name, raw).trim();
  if (text === '' && field.kind === 'minutes-or-admin') return null;
  const parsed = z
    .string()
    .regex(/^[0-9]{1,9}$/)
    .transform(Number)
    .pipe(z.int().min(field.min).max(field.max))
    .safeParse(text);
  if (parsed.success) return parsed.data;
  throw new InputError(
    'out_of_range',
    `${name} must be ${describeRange(field)}${field.kind === 'minutes-or-admin' && name === field.label ? ', or empty for administrator unlock' : ''}`,
    422,
  );
}

/** What no single field can check: the minimum PIN length may not exceed the maximum. */
export function checkRuleConsistency(name: string, settings: Pick<RuleSettings, 'minLength' | 'maxLength'>): void {
  if (settings.minLength > settings.maxLength) {
    throw new InputError(
      'invalid_rule',
      `rule "${name}": the minimum PIN length (${settings.minLength}) must not be greater than the maximum PIN length (${settings.maxLength})`,
      422,
      'minLength',
    );
  }
}

const MAX_LENGTH_FIELD = RULE_FIELDS.find((f) => f.key === 'maxLength');

/**
 * Why no PIN could ever meet the rule (so none could be chosen, generated or reset), or null: some
 * PIN of its minimum length must pass all its checks, found by the search generatePin makes.
 */
export function unmeetableRuleProblem(settings: Pick<RuleSettings, 'minLength' | 'maxLength' | 'trivialCheck'>, commonPins: CommonPinList): string | null {
  const unmet = unmeetableRule(settings, commonPins, MAX_LENGTH_FIELD?.kind === 'integer' ? MAX_LENGTH_FIELD.max : settings.maxLength);
  if (unmet === null) return null;
  const advice =
    unmet.shortestPossible === null
      ? 'turn the trivial-PIN check off'
      : `raise the minimum PIN length to ${unmet.shortestPossible} or more${settings.maxLength < unmet.shortestPossible ? ' (and the maximum with it)' : ''}, or turn the trivial-PIN check off`;
  return `no PIN of ${unmet.digits} digit${unmet.digits === 1 ? '' : 's'} passes the trivial-PIN check, so no PIN could be chosen or generated; ${advice}`;
}

/** Refuses a rule no PIN can meet (422, naming the minimum length and the trivial-PIN check). */
export function checkRuleCanBeMet(name: string, settings: Pick<RuleSettings, 'minLength' | 'maxLength' | 'trivialCheck'>, commonPins: CommonPinList): void {
  const problem = unmeetableRuleProblem(settings, commonPins);
  if (problem !== null) throw new InputError('rule_unmeetable', `rule "${name}": ${problem}`, 422, 'minLength');
}

/** A field's value in words, the same on every channel: "30", "on", "0 (never lock)". */
export function formatRuleValue(field: RuleField, value: number | boolean | null): string {
  if (value === null) return 'until an administrator unlocks';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (value === 0 && field.meaning.startsWith('0 = ')) return `0 (${field.meaning.slice(4)})`;
  return String(value);
}
