import { Option, type Command } from 'commander';
import { RULE_FIELDS, findRuleByName, listRules, type AuthRule, type RuleField, type RuleKey, type RuleSettings } from '../../db/rules.js';
import type { Pool } from '../../db/pool.js';
import { InputError } from '../../errors.js';
import { formatPairs, formatTable } from '../io.js';
import type { CliContext } from './context.js';

const ADMIN_UNLOCK_FLAG = 'admin-unlock';
const WHOLE_NUMBER = /^[0-9]+$/;

export function registerRuleCommands(program: Command, ctx: CliContext): void {
  const rule = program.command('rule').description('manage authentication rules: lockout, PIN length, expiry, history');

  rule
    .command('list')
    .description('list the rules, their key fields and how many users each has')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await ctx.withRuntime(async ({ pool }) => {
        const rules = await listRules(pool);
        if (opts.json) {
          ctx.print(JSON.stringify(rules.map((r) => ({ ...ruleJson(r), userCount: r.userCount })), null, 2));
          return;
        }
        ctx.print(
          ...formatTable(
            ['NAME', 'USERS', 'LOCK AFTER', 'LOCKOUT', 'LENGTH', 'EXPIRES', 'HISTORY', 'TRIVIAL CHECK'],
            rules.map((r) => [
              r.name,
              String(r.userCount),
              r.maxFailedSignins === 0 ? 'never' : `${r.maxFailedSignins} failed`,
              r.lockoutMinutes === null ? 'admin unlock' : `${r.lockoutMinutes} min`,
              `${r.minLength}-${r.maxLength}`,
              r.maxDays === 0 ? 'never' : `${r.maxDays} days`,
              String(r.historyCount),
              r.trivialCheck ? 'on' : 'off',
            ]),
          ),
        );
      });
    });

  rule
    .command('show')
    .description('show every field of a rule')
    .argument('<NAME>', 'rule name')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      await ctx.withRuntime(async ({ accounts, pool }) => {
        const found = await accounts.getRule(name);
        const userCount = await countUsers(pool, found);
        ctx.print(...(opts.json ? [JSON.stringify({ ...ruleJson(found), userCount }, null, 2)] : rulePairs(found, userCount)));
      });
    });

  const set = rule
    .command('set')
    .description('set fields of a rule, creating it from the defaults if it does not exist')
    .argument('<NAME>', 'rule name');
  for (const option of ruleOptions()) set.addOption(option);
  set.action(async (name: string, _opts: unknown, command: Command) => {
    // Checked before the database is opened: a typo costs nothing and changes nothing.
    const changes = parseRuleChanges(command.opts());
    await ctx.withRuntime(async ({ accounts, pool }) => {
      checkLengthOrder(changes, await findRuleByName(pool, name));
      const { rule: saved, created } = await accounts.setRule(name, changes, ctx.actor);
      ctx.print(created ? `Created rule ${saved.name} from the defaults.` : `Updated rule ${saved.name}.`);
      ctx.print(...rulePairs(saved, await countUsers(pool, saved)));
    });
  });
}

function describeField(field: RuleField): string {
  const range = field.min !== undefined && field.max !== undefined ? `${field.min}-${field.max}, ` : '';
  const shownDefault = field.kind === 'boolean' ? (field.default ? 'on' : 'off') : String(field.default);
  return `${field.label}${field.help ? ` (${field.help})` : ''}; ${range}default ${shownDefault}`;
}

/** One option per RULE_FIELDS entry, so a new rule field reaches the CLI without touching it. */
function ruleOptions(): Option[] {
  return RULE_FIELDS.flatMap((field) => {
    switch (field.kind) {
      case 'integer':
        return [new Option(`--${field.flag} <N>`, describeField(field))];
      case 'minutes-or-admin':
        return [
          new Option(`--${field.flag} <N>`, describeField(field)),
          new Option(`--${ADMIN_UNLOCK_FLAG}`, 'no lockout duration: only an administrator unlocks').conflicts(attributeOf(field.flag)),
        ];
      case 'boolean':
        return [new Option(`--${field.flag}`, `turn on: ${describeField(field)}`), new Option(`--no-${field.flag}`, 'turn off')];
    }
  });
}

function attributeOf(flag: string): string {
  return new Option(`--${flag}`).attributeName();
}

/** Turns the given flags into rule changes, naming each flag whose value is not allowed. */
export function parseRuleChanges(opts: Record<string, unknown>): Partial<RuleSettings> {
  const changes: Partial<Record<RuleKey, number | boolean | null>> = {};
  const problems: string[] = [];
  for (const field of RULE_FIELDS) {
    const value = opts[attributeOf(field.flag)];
    if (field.kind === 'boolean') {
      if (typeof value === 'boolean') changes[field.key] = value;
      continue;
    }
    if (field.kind === 'minutes-or-admin' && opts[attributeOf(ADMIN_UNLOCK_FLAG)] === true) {
      changes[field.key] = null;
      continue;
    }
    if (typeof value !== 'string') continue;
    const min = field.min ?? 0;
    const max = field.max ?? Number.MAX_SAFE_INTEGER;
    const number = Number(value);
    if (!WHOLE_NUMBER.test(value) || number < min || number > max) {
      problems.push(`--${field.flag} must be a whole number from ${min} to ${max}`);
    } else {
      changes[field.key] = number;
    }
  }
  if (problems.length > 0) throw new InputError('invalid_rule_field', problems.join('; '));
  const settings = changes as Partial<RuleSettings>;
  if (settings.minLength !== undefined && settings.maxLength !== undefined && settings.minLength > settings.maxLength) {
    throw new InputError(
      'invalid_rule_field',
      `--min-length (${settings.minLength}) must not be greater than --max-length (${settings.maxLength})`,
    );
  }
  return settings;
}

function defaultOf(key: RuleKey): number {
  const value = RULE_FIELDS.find((f) => f.key === key)?.default;
  return typeof value === 'number' ? value : 0;
}

/** min ≤ max once the changes meet the stored rule (or the defaults, for a rule about to be created). */
function checkLengthOrder(changes: Partial<RuleSettings>, stored: AuthRule | null): void {
  const storedMin = stored?.minLength ?? defaultOf('minLength');
  const storedMax = stored?.maxLength ?? defaultOf('maxLength');
  if (changes.minLength !== undefined && changes.maxLength === undefined && changes.minLength > storedMax) {
    throw new InputError(
      'invalid_rule_field',
      `--min-length (${changes.minLength}) must not be greater than the rule's maximum PIN length (${storedMax}); set --max-length too`,
    );
  }
  if (changes.maxLength !== undefined && changes.minLength === undefined && changes.maxLength < storedMin) {
    throw new InputError(
      'invalid_rule_field',
      `--max-length (${changes.maxLength}) must not be less than the rule's minimum PIN length (${storedMin}); set --min-length too`,
    );
  }
}

async function countUsers(pool: Pool, rule: AuthRule): Promise<number> {
  const { rows } = await pool.query('SELECT count(*)::int AS n FROM users WHERE rule_id = $1::bigint', [rule.id]);
  return (rows[0]?.n as number | undefined) ?? 0;
}

function formatRuleValue(field: RuleField, value: AuthRule[RuleKey]): string {
  if (value === null) return 'until an administrator unlocks';
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  // "0 = never lock" in the table becomes "0 (never lock)".
  if (value === 0 && field.help.startsWith('0 = ')) return `0 (${field.help.slice(4)})`;
  return String(value);
}

function rulePairs(rule: AuthRule, userCount: number): string[] {
  return formatPairs([
    ['Name', rule.name],
    ...RULE_FIELDS.map((field): [string, string] => [field.label, formatRuleValue(field, rule[field.key])]),
    ['Users with this rule', String(userCount)],
  ]);
}

function ruleJson(rule: AuthRule): Record<string, unknown> {
  return { name: rule.name, ...Object.fromEntries(RULE_FIELDS.map((f) => [f.key, rule[f.key]])) };
}
