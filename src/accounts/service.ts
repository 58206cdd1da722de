import { recordAudit, type Actor } from '../db/audit.js';
import { isUniqueViolation, withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import {
  DEFAULT_RULE_NAME,
  RULE_NAME_PATTERN,
  deleteRule,
  ensureRule,
  findRuleByName,
  updateRule,
  type AuthRule,
  type RuleSettings,
} from '../db/rules.js';
import {
  E164_PATTERN,
  EXTENSION_PATTERN,
  deleteUser,
  findAccount,
  insertPinCredential,
  insertUser,
  updateUser,
  type Account,
  type AccountKey,
  type PinFlags,
  type User,
  type UserChanges,
} from '../db/users.js';
import { endUserSessions } from '../db/web-sessions.js';
import { InputError, NotFoundError } from '../errors.js';
import { describeRejection } from '../pin/policy.js';
import type { PinService } from '../pin/service.js';

export { E164_PATTERN, EXTENSION_PATTERN } from '../db/users.js';

export interface NewUserInput {
  extension: string;
  firstName: string;
  lastName: string;
  phone?: string | null;
  locale?: string;
  ruleName?: string;
  /** Without it a random valid PIN is generated and returned once. */
  pin?: string;
  /** false: the user skips first-time enrollment. */
  enroll?: boolean;
  flags?: Partial<Omit<PinFlags, 'enrollmentPending'>>;
}

export interface UserUpdateInput {
  extension?: string;
  firstName?: string;
  lastName?: string;
  phone?: string | null;
  locale?: string;
  ruleName?: string;
}

/** Users and authentication rules, as every channel manages them; PIN work goes to PinService. */
export class AccountService {
  constructor(
    private readonly pool: Pool,
    private readonly pins: PinService,
    private readonly locales: readonly string[],
    readonly defaultLocale: string,
  ) {}

  async getAccount(key: AccountKey): Promise<Account> {
    const account = await findAccount(this.pool, key);
    if (!account) throw new NotFoundError('extension' in key ? `user with extension ${key.extension}` : `user ${key.userId}`);
    return account;
  }

  async createUser(input: NewUserInput, actor: Actor): Promise<{ user: User; generatedPin: string | null }> {
    const extension = this.checkExtension(input.extension);
    const firstName = this.checkName('first name', input.firstName);
    const lastName = this.checkName('last name', input.lastName);
    const phone = this.checkPhone(input.phone ?? null);
    const locale = this.checkLocale(input.locale ?? this.defaultLocale);
    const rule = await this.mustFindRule(input.ruleName ?? DEFAULT_RULE_NAME);
    const owner = { extension, firstName, lastName };

    let generatedPin: string | null = null;
    let pin = input.pin;
    if (pin === undefined) {
      pin = generatedPin = this.pins.generatePinFor(rule, owner);
    } else {
      const refusal = this.pins.policyRefusal(pin, rule, owner);
      if (refusal) throw new InputError(`pin_${refusal.rule}`, describeRejection(refusal), 422);
    }
    const pinHash = await this.pins.hashPin(pin);

    const user = await this.write(async (client) => {
      const created = await insertUser(client, { extension, firstName, lastName, phone, locale, ruleId: rule.id });
      await insertPinCredential(client, created.id, pinHash, { ...input.flags, enrollmentPending: input.enroll ?? true });
      await recordAudit(client, {
        event: 'user.created',
        actor,
        userId: created.id,
        extension,
        details: { rule: rule.name, enrollmentPending: input.enroll ?? true, pinGenerated: generatedPin !== null },
      });
      return created;
    });
    return { user, generatedPin };
  }

  async updateUser(userId: number, input: UserUpdateInput, actor: Actor): Promise<User> {
    const changes: UserChanges = {};
    if (input.extension !== undefined) changes.extension = this.checkExtension(input.extension);
    if (input.firstName !== undefined) changes.firstName = this.checkName('first name', input.firstName);
    if (input.lastName !== undefined) changes.lastName = this.checkName('last name', input.lastName);
    if (input.phone !== undefined) changes.phone = this.checkPhone(input.phone);
    if (input.locale !== undefined) changes.locale = this.checkLocale(input.locale);
    if (input.ruleName !== undefined) changes.ruleId = (await this.mustFindRule(input.ruleName)).id;
    return this.write(async (client) => {
      const user = await updateUser(client, userId, changes);
      if (!user) throw new NotFoundError(`user ${userId}`);
      const details: Record<string, unknown> = { ...changes };
      if (input.ruleName !== undefined) details.rule = input.ruleName;
      delete details.ruleId;
      await recordAudit(client, { event: 'user.updated', actor, userId, extension: user.extension, details });
      return user;
    });
  }

  async deleteUser(userId: number, actor: Actor): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      const account = await findAccount(client, { userId });
      if (!account) throw new NotFoundError(`user ${userId}`);
      await recordAudit(client, { event: 'user.deleted', actor, userId, extension: account.user.extension });
      await endUserSessions(client, userId);
      await deleteUser(client, userId);
    });
  }

  /** The rule by name; an unknown name is a NotFoundError ("… not found"), for lookups by name. */
  async getRule(name: string): Promise<AuthRule> {
    const rule = await findRuleByName(this.pool, name);
    if (!rule) throw new NotFoundError(`authentication rule "${name}"`);
    return rule;
  }

  /** Creates a rule from the defaults plus the given fields; refuses a name already taken. */
  async createRule(name: string, values: Partial<RuleSettings>, actor: Actor): Promise<AuthRule> {
    this.checkRuleName(name);
    return this.write(async (client) => {
      if (!(await ensureRule(client, name))) {
        throw new InputError('rule_exists', `a rule named "${name}" already exists`, 409);
      }
      const rule = await updateRule(client, name, values);
      if (!rule) throw new NotFoundError(`authentication rule "${name}"`);
      await recordAudit(client, { event: 'rule.created', actor, details: { rule: name, changes: values } });
      return rule;
    });
  }

  /** Creates the rule from the defaults when it does not exist, then sets the given fields. */
  async setRule(name: string, changes: Partial<RuleSettings>, actor: Actor): Promise<{ rule: AuthRule; created: boolean }> {
    this.checkRuleName(name);
    return this.write(async (client) => {
      const created = await ensureRule(client, name);
      const rule = await updateRule(client, name, changes);
      if (!rule) throw new NotFoundError(`rule "${name}"`);
      await recordAudit(client, {
        event: created ? 'rule.created' : 'rule.updated',
        actor,
        details: { rule: name, changes },
      });
      return { rule, created };
    });
  }

  async deleteRule(name: string, actor: Actor): Promise<void> {
    await withTransaction(this.pool, async (client) => {
      const outcome = await deleteRule(client, name);
      if (outcome === 'not_found') throw new NotFoundError(`rule "${name}"`);
      if (outcome === 'default') throw new InputError('rule_protected', 'the default rule cannot be deleted', 409);
      if (outcome === 'in_use') throw new InputError('rule_in_use', `rule "${name}" is still assigned to users`, 409);
      await recordAudit(client, { event: 'rule.deleted', actor, details: { rule: name } });
    });
  }

  /** Runs a write, turning the database's constraint violations into one-line input errors. */
  private async write<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    try {
      return await withTransaction(this.pool, fn);
    } catch (err) {
      throw translateConstraintError(err);
    }
  }

  private async mustFindRule(name: string): Promise<AuthRule> {
    const rule = await findRuleByName(this.pool, name);
    if (!rule) throw new InputError('unknown_rule', `unknown authentication rule "${name}"`, 422);
    return rule;
  }

  private checkRuleName(name: string): void {
    if (!RULE_NAME_PATTERN.test(name)) {
      throw new InputError('invalid_rule_name', `rule name "${name}" must be 1-64 letters, digits, spaces, '.', '_' or '-'`);
    }
  }

  private checkExtension(extension: string): string {
    const value = extension.trim();
    if (!EXTENSION_PATTERN.test(value)) {
      throw new InputError('invalid_extension', `extension "${value}" must be 2 to 15 digits`);
    }
    return value;
  }

  private checkName(what: string, name: string): string {
    const value = name.trim();
    if (value.length < 1 || value.length > 100) throw new InputError('invalid_name', `${what} must be 1 to 100 characters`);
    return value;
  }

  private checkPhone(phone: string | null): string | null {
    if (phone === null || phone.trim() === '') return null;
    const value = phone.replace(/[\s().-]/g, '');
    if (!E164_PATTERN.test(value)) {
      throw new InputError('invalid_phone', `phone number "${phone}" is not in E.164 form (like +15551230001)`);
    }
    return value;
  }

  private checkLocale(locale: string): string {
    if (!this.locales.includes(locale)) {
      throw new InputError('invalid_locale', `locale "${locale}" is not one of ${this.locales.join(', ')}`);
    }
    return locale;
  }
}

export function translateConstraintError(err: unknown): unknown {
  if (isUniqueViolation(err, 'users_extension_key')) {
    return new InputError('extension_taken', 'that extension is already in use by another user', 409);
  }
  if (isUniqueViolation(err, 'users_phone_key')) {
    return new InputError('phone_taken', 'that phone number is already registered to another user', 409);
  }
  const code = (err as { code?: string } | null)?.code;
  if (code === '23514') {
    const constraint = (err as { constraint?: string }).constraint ?? 'a check';
    return new InputError('out_of_range', `value out of range (constraint ${constraint})`, 422);
  }
  return err;
}
