import { DEFAULT_RULE_NAME, RULE_FIELDS, type AuthRule, type RuleKey, type RuleSettings } from '../pin/rules.js';
import type { Queryable } from './pool.js';

/** A field's column: its key in snake_case (maxFailedSignins → max_failed_signins). */
function columnOf(key: RuleKey): string {
  return key.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`);
}

/** The SELECT list for a rule aliased `r`, shared by every query that reads one (also a user's rule). */
export const RULE_COLUMNS = `r.id, r.name, ${RULE_FIELDS.map((f) => `r.${columnOf(f.key)}`).join(', ')}`;

/** Each field's key and column, worked out once: every account read (an export's million) reads a rule. */
const RULE_FIELD_COLUMNS = RULE_FIELDS.map((field) => [field.key, columnOf(field.key)] as const);

export function ruleFromRow(row: Record<string, unknown>): AuthRule {
  const rule: Record<string, unknown> = { id: row.id, name: row.name };
  for (const [key, column] of RULE_FIELD_COLUMNS) rule[key] = row[column];
  return rule as unknown as AuthRule;
}

/** Every rule by id: read once by a report or an export, in its snapshot. */
export async function rulesById(db: Queryable): Promise<Map<number, AuthRule>> {
  const { rows } = await db.query(`SELECT ${RULE_COLUMNS} FROM auth_rules r`);
  return new Map(rows.map((row) => [Number(row.id), ruleFromRow(row)]));
}

export async function listRules(db: Queryable): Promise<Array<AuthRule & { userCount: number }>> {
  const { rows } = await db.query(
    `SELECT ${RULE_COLUMNS}, (SELECT count(*) FROM users u WHERE u.rule_id = r.id)::int AS user_count
       FROM auth_rules r ORDER BY r.name = $1::text DESC, r.name`,
    [DEFAULT_RULE_NAME],
  );
  return rows.map((row) => ({ ...ruleFromRow(row), userCount: row.user_count as number }));
}

export async function findRuleByName(db: Queryable, name: string): Promise<AuthRule | null> {
  const { rows } = await db.query(`SELECT ${RULE_COLUMNS} FROM auth_rules r WHERE r.name = $1::text`, [name]);
  return rows[0] ? ruleFromRow(rows[0]) : null;
}

/** Locks the rule's row for the transaction, so two edits of one rule see each other. */
export async function lockRuleByName(db: Queryable, name: string): Promise<AuthRule | null> {
  const { rows } = await db.query(`SELECT ${RULE_COLUMNS} FROM auth_rules r WHERE r.name = $1::text FOR UPDATE`, [name]);
  return rows[0] ? ruleFromRow(rows[0]) : null;
}

export async function countUsersWithRule(db: Queryable, ruleId: number): Promise<number> {
  const { rows } = await db.query('SELECT count(*)::int AS n FROM users WHERE rule_id = $1::bigint', [ruleId]);
  return rows[0].n as number;
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
  const assignments = fields.map((f, i) => `${columnOf(f.key)} = $${i + 2}`);
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
