import { RULE_FIELDS, type AuthRule, type RuleField, type RuleSettings } from '../db/rules.js';
import { InputError } from '../errors.js';

/** The rule settings as a plain record, in RULE_FIELDS order. */
export type RuleValues = { [K in keyof RuleSettings]: RuleSettings[K] };

export function defaultRuleValues(): RuleValues {
  return Object.fromEntries(RULE_FIELDS.map((f) => [f.key, f.default])) as RuleValues;
}

export function ruleValues(rule: AuthRule): RuleValues {
  return Object.fromEntries(RULE_FIELDS.map((f) => [f.key, rule[f.key]])) as RuleValues;
}

/** "Default: 30", "Default: on", as shown beside every field. */
export function describeDefault(field: RuleField): string {
  if (field.kind === 'boolean') return field.default ? 'on' : 'off';
  if (field.default === null) return 'administrator unlocks';
  return String(field.default);
}

/** The help line of a field on the web: its meaning and its default. */
export function webHelp(field: RuleField): string {
  const meaning = field.kind === 'minutes-or-admin' ? 'leave empty: only an administrator unlocks' : field.help;
  const range = field.kind === 'boolean' ? '' : `${field.min ?? 0} to ${field.max ?? ''}`;
  return [meaning, range, `default ${describeDefault(field)}`].filter(Boolean).join('; ');
}

function rangeError(field: RuleField): InputError {
  return new InputError(
    'out_of_range',
    `${field.label} must be a whole number from ${field.min ?? 0} to ${field.max ?? ''}` +
      (field.kind === 'minutes-or-admin' ? ', or empty for administrator unlock' : ''),
    422,
  );
}

/** Reads one integer field typed in a form: whole number within the field's range. */
export function parseRuleInteger(field: RuleField, raw: string): number | null {
  const text = raw.trim();
  if (text === '' && field.kind === 'minutes-or-admin') return null;
  if (!/^[0-9]{1,9}$/.test(text)) throw rangeError(field);
  const value = Number(text);
  if ((field.min !== undefined && value < field.min) || (field.max !== undefined && value > field.max)) throw rangeError(field);
  return value;
}

/** Checks what no single field can: the minimum length may not exceed the maximum. */
export function checkRuleConsistency(values: Pick<RuleValues, 'minLength' | 'maxLength'>): void {
  if (values.minLength > values.maxLength) {
    throw new InputError('out_of_range', 'Minimum PIN length must not be more than Maximum PIN length', 422);
  }
}
