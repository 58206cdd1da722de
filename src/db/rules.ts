import type { Queryable } from './pool.js';

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
}

export type RuleSettings = Omit<AuthRule, 'id' | 'name'>;
export type RuleKey = keyof RuleSettings;

export interface RuleField {
  key: RuleKey;
  column: string;
  /** The `pinline rule set` flag. */
  flag: string;
  label: string;
  kind: 'integer' | 'boolean' | 'minutes-or-admin';
  default: number | boolean | null;
  min?: number;
  max?: number;
  help: string;
}

/**
 * Every rule field, with its defaults (Cisco's "Recommended Voice Mail Authentication Rule"),
 * CLI flag and label. The CLI, the admin web and the API are built from this table; the
 * migration holds the same defaults and ranges as column defaults and CHECK constraints, and
 * a test keeps the two equal.
 */
export const RULE_FIELDS: readonly RuleField[] = [
  { key: 'maxFailedSignins', column: 'max_failed_signins', flag: 'max-failed', label: 'Failed sign-ins before lockout', kind: 'integer', default: 3, min: 0, max: 1000, help: '0 = never lock' },
  { key: 'resetFailedMinutes', column: 'reset_failed_minutes', flag: 'reset-minutes', label: 'Reset failed count after (minutes)', kind: 'integer', default: 30, min: 1, max: 120000, help: 'failures older than this no longer count' },
  { key: 'lockoutMinutes', column: 'lockout_minutes', flag: 'lockout-minutes', label: 'Lockout duration (minutes)', kind: 'minutes-or-admin', default: 30, min: 1, max: 120000, help: 'empty / --admin-unlock: only an administrator unlocks' },
  { key: 'maxFailedPerCall', column: 'max_failed_per_call', flag: 'max-failed-per-call', label: 'Failed sign-ins per call', kind: 'integer', default: 3, min: 1, max: 100, help: 'then hang up' },
  { key: 'minLength', column: 'min_length', flag: 'min-length', label: 'Minimum PIN length', kind: 'integer', default: 6, min: 1, max: 64, help: '' },
  { key: 'maxLength', column: 'max_length', flag: 'max-length', label: 'Maximum PIN length', kind: 'integer', default: 20, min: 1, max: 64, help: '' },
  { key: 'maxDays', column: 'max_days', flag: 'max-days', label: 'PIN expires after (days)', kind: 'integer', default: 180, min: 0, max: 3650, help: '0 = never' },
  { key: 'warningDays', column: 'warning_days', flag: 'warning-days', label: 'Expiry warning (days)', kind: 'integer', default: 15, min: 0, max: 3650, help: '' },
  { key: 'historyCount', column: 'history_count', flag: 'history', label: 'Previous PINs remembered', kind: 'integer', default: 5, min: 0, max: 50, help: 'the current PIN is always refused' },
  { key: 'minChangeMinutes', column: 'min_change_minutes', flag: 'min-change-minutes', label: 'Minimum time between changes (minutes)', kind: 'integer', default: 1440, min: 0, max: 5256000, help: 'voluntary changes only' },
  { key: 'trivialCheck', column: 'trivial_check', flag: 'trivial-check', label: 'Trivial-PIN check', kind: 'boolean', default: true, help: '' },
];

export const DEFAULT_RULE_NAME = 'default';
export const RULE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$/;

/** The SELECT list for a rule aliased `r`, shared by every query that reads one (also a user's rule). */
export const RULE_COLUMNS = `r.id, r.name, ${RULE_FIELDS.map((f) => `r.${f.column}`).join(', ')}`;

export function ruleFromRow(row: Record<string, unknown>): AuthRule {
  const rule: Record<string, unknown> = { id: row.id, name: row.name };
  for (const field of RULE_FIELDS) rule[field.key] = row[field.column];
  return rule as unknown as AuthRule;
}

export async function listRules(db: Queryable): Promise<Array<AuthRule & { userCount: number }>> {
  const { rows } = await db.query(
    `SELECT ${RULE_COLUMNS}, (SELECT count(*) FROM users u WHERE u.rule_id = r.id)::int AS user_count
       FROM auth_rules r ORDER BY r.name = 'default' DESC, r.name`,
  );
  return rows.map((row) => ({ ...ruleFromRow(row), userCount: row.user_count as number }));
}

export async function findRuleByName(db: Queryable, name: string): Promise<AuthRule | null> {
  const { rows } = await db.query(`SELECT ${RULE_COLUMNS} FROM auth_rules r WHERE r.name = $1::text`, [name]);
  return rows[0] ? ruleFromRow(rows[0]) : null;
}

export async function findRuleById(db: Queryable, id: number): Promise<AuthRule | null> {
  const { rows } = await db.query(`SELECT ${RULE_COLUMNS} FROM auth_rules r WHERE r.id = $1::bigint`, [id]);
  return rows[0] ? ruleFromRow(rows[0]) : null;
}

/** Creates the rule from the column defaults when it does not exist; returns whether it was created. */
export async function ensureRule(db: Queryable, name: string): Promise<boolean> {
  const result = await db.query('INSERT INTO auth_rules (name) VALUES ($1::text) ON CONFLICT (name) DO NOTHING', [name]);
  return result.rowCount === 1;
}

/** Sets the given fields; the database's CHECK constraints have the last word on ranges. */
export async function updateRule(db: Queryable, name: string, changes: Partial<RuleSettings>): Promise<AuthRule | null> {
  const fields = RULE_FIELDS.filter((f) => changes[f.key] !== undefined);
  if (fields.length === 0) return findRuleByName(db, name);
  const assignments = fields.map((f, i) => `${f.column} = $${i + 2}`);
  const { rows } = await db.query(
    `UPDATE auth_rules r SET ${assignments.join(', ')}, updated_at = now() WHERE r.name = $1::text RETURNING ${RULE_COLUMNS}`,
    [name, ...fields.map((f) => changes[f.key])],
  );
  return rows[0] ? ruleFromRow(rows[0]) : null;
}

export async function deleteRule(db: Queryable, name: string): Promise<'deleted' | 'not_found' | 'in_use' | 'default'> {
  if (name === DEFAULT_RULE_NAME) return 'default';
  const { rows } = await db.query(
    `DELETE FROM auth_rules r WHERE r.name = $1::text AND NOT EXISTS (SELECT 1 FROM users u WHERE u.rule_id = r.id)
     RETURNING r.id`,
    [name],
  );
  if (rows.length > 0) return 'deleted';
  return (await findRuleByName(db, name)) ? 'in_use' : 'not_found';
}
