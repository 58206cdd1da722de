import { Option, type Command } from 'commander';
import {
  RULE_FIELDS,
  describeRange,
  formatRuleValue,
  ruleValueFromText,
  type AuthRule,
  type RuleField,
  type RuleSettings,
} from '../../pin/rules.js';
import { RULE_SUMMARY, ruleJson } from '../../accounts/present.js';
import { InputError } from '../../errors.js';
import { formatPairs, formatTable } from '../io.js';
import type { CliContext } from './context.js';

const ADMIN_UNLOCK_FLAG = 'admin-unlock';

export function registerRuleCommands(rule: Command, ctx: CliContext): void {
  rule
    .command('list')
    .description('list the rules, their key fields and how many users each has')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      await ctx.withRuntime(async ({ accounts }) => {
        const rules = await accounts.listRules();
        if (opts.json) {
          ctx.print(JSON.stringify(rules.map((r) => ruleJson(r, r.userCount)), null, 2));
          return;
        }
        ctx.print(
          ...formatTable(
            ['NAME', 'USERS', ...RULE_SUMMARY.map((column) => column.heading.toUpperCase())],
            rules.map((r) => [r.name, String(r.userCount), ...RULE_SUMMARY.map((column) => column.value(r))]),
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
      await ctx.withRuntime(async ({ accounts }) => {
        const found = await accounts.getRule(name);
        const userCount = await accounts.countUsersWithRule(found);
        ctx.print(...(opts.json ? [JSON.stringify(ruleJson(found, userCount), null, 2)] : rulePairs(found, userCount)));
      });
    });

  const set = rule
    .command('set')
    .description('set fields of a rule, creating it from the defaults if it does not exist')
    .argument('<NAME>', 'rule name');
  for (const option of ruleOptions()) set.addOption(option);
  set.action(async (name: string, _opts: unknown, command: Command) => {
    // Checked before the database is opened: a typo costs nothing and changes nothing.
    const changes = ruleChangesOf(command.opts());
    await ctx.withRuntime(async ({ accounts }) => {
      const { rule: saved, created } = await accounts.setRule(name, changes, ctx.actor);
      ctx.print(created ? `Created rule ${saved.name} from the defaults.` : `Updated rule ${saved.name}.`);
      ctx.print(...rulePairs(saved, await accounts.countUsersWithRule(saved)));
    });
  });
}

function describeField(field: RuleField): string {
  const range = field.kind === 'boolean' ? '' : `${field.min}-${field.max}, `;
  return `${field.label}${field.meaning ? ` (${field.meaning})` : ''}; ${range}default ${formatRuleValue(field, field.default)}`;
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
function ruleChangesOf(opts: Record<string, unknown>): Partial<RuleSettings> {
  const changes: Record<string, number | boolean | null> = {};
  for (const field of RULE_FIELDS) {
    const value = opts[attributeOf(field.flag)];
    if (field.kind === 'boolean') {
      if (typeof value === 'boolean') changes[field.key] = value;
    } else if (field.kind === 'minutes-or-admin' && opts[attributeOf(ADMIN_UNLOCK_FLAG)] === true) {
      changes[field.key] = null;
    } else if (typeof value === 'string') {
      // An empty value is not "no duration" here: that is --admin-unlock.
      if (value.trim() === '') throw new InputError('out_of_range', `--${field.flag} must be ${describeRange(field)}`);
      changes[field.key] = ruleValueFromText(field, value, `--${field.flag}`);
    }
  }
  return changes as Partial<RuleSettings>;
}

function rulePairs(rule: AuthRule, userCount: number): string[] {
  return formatPairs([
    ['Name', rule.name],
    ...RULE_FIELDS.map((field): [string, string] => [field.label, formatRuleValue(field, rule[field.key])]),
    ['Users with this rule', String(userCount)],
  ]);
}
