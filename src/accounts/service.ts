import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../db/audit.js';
import { constraintError } from '../db/constraints.js';
import { withSnapshot, withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import {
  countUsersWithRule,
  deleteRule,
  ensureRule,
  findRuleByName,
  listRules,
  rulesById,
  lockRuleByName,
  updateRule,
} from '../db/rules.js';
import {
  deleteUser,
  findAccount,
  findUserByPhone,
  insertUser,
  isPristine,
  searchAccounts,
  updateUser,
  type UserSearch,
} from '../db/users.js';
import { declareExportCursor, fetchExportPage, type ExportPage } from '../db/user-export.js';
import { endUserSessions } from '../db/web-sessions.js';
import { InputError, NotFoundError } from '../errors.js';
import type { CommonPinList } from '../pin/common-pins.js';
import {
  DEFAULT_RULE_NAME,
  checkRuleCanBeMet,
  checkRuleConsistency,
  checkRuleName,
  ruleSettingsOf,
  unmeetableRuleProblem,
  type AuthRule,
  type RuleSettings,
} from '../pin/rules.js';
import type { InitialPin, PinService, PinSettings } from '../pin/service.js';
import { RESPONSE_WAIT, describeAccountKey, type Account, type AccountKey, type NewUser, type PinFlags, type User, type UserChanges } from './model.js';
import type { Notifier } from '../notify/notices.js';
import { checkUserFields, type CheckedUserFields, type UserFieldsInput } from './user-fields.js';

export interface NewUserInput {
  extension: string;
  firstName: string;
  lastName: string;
  phone?: string | null;
  email?: string | null;
  locale?: string;
  ruleName?: string;
  /** Seconds; typed as text on the forms, the CLI and in CSV. */
  responseWait?: number | string;
  /** Without it a random valid PIN is generated and returned once. */
  pin?: string;
  /** false: the user skips first-time enrollment. */
  enroll?: boolean;
  flags?: Partial<Omit<PinFlags, 'enrollmentPending'>>;
}

/** Users per page of an export: a few thousand rows in memory at a time, and few round trips (issue 21). */
const EXPORT_PAGE_SIZE = 5000;

/** A new user's fields as they are stored, and their rule. */
export interface CheckedNewUser {
  user: NewUser;
  rule: AuthRule;
}

/** A new user's checked fields with their rule. */
export function withRule(fields: Omit<NewUser, 'ruleId'>, rule: AuthRule): CheckedNewUser {
  const { extension, firstName, lastName, phone, email, locale, responseWait } = fields;
  return { user: { extension, firstName, lastName, phone, email, locale, ruleId: rule.id, responseWait }, rule };
}

/** A rule by name; an unknown name is an InputError ("unknown authentication rule"). */
export type RuleLookup = (name: string) => Promise<AuthRule>;

/** A `user.updated` audit row's details: the changed fields as stored, the rule by name. */
export function userUpdatedDetails(changes: UserChanges, ruleName: string | undefined): Record<string, unknown> {
  const { ruleId: _ruleId, ...details } = changes;
  return { ...details, ...(ruleName !== undefined ? { rule: ruleName } : {}) };
}

/** The fields of a user to change, as typed; those left undefined stay as they are. */
export type UserUpdateInput = UserFieldsInput;

/** Users and authentication rules, as every channel manages them; PIN work goes to PinService. */
export class AccountService {
  constructor(
    private readonly pool: Pool,
    private readonly pins: PinService,
    private readonly notifier: Notifier,
    private readonly locales: readonly string[],
    readonly defaultLocale: string,
    /** For refusing a rule that no PIN could meet. */
    private readonly commonPins: CommonPinList,
  ) {}

  async getAccount(key: AccountKey): Promise<Account> {
    const account = await findAccount(this.pool, key);
    if (!account) throw new NotFoundError(describeAccountKey(key));
    return account;
  }

  /** The account, or null when there is none (for checks that expect it may be gone). */
  findAccount(key: AccountKey): Promise<Account | null> {
    return findAccount(this.pool, key);
  }

  search(search: UserSearch): Promise<{ total: number; capped: boolean; accounts: Account[] }> {
    return searchAccounts(this.pool, search);
  }

  /** The one user whose registered phone is `phone`, for caller-ID sign-in; null when none or several. */
  findCaller(phone: string): Promise<User | null> {
    return findUserByPhone(this.pool, phone);
  }

  /** True on a brand-new database, where the development demo user may be made. */
  isPristine(): Promise<boolean> {
    return isPristine(this.pool);
  }

  /** Creates the user and their first PIN in one transaction, audited as the user created and the PIN set. */
  async createUser(input: NewUserInput, actor: Actor): Promise<{ user: User; generatedPin: string | null }> {
    const checked = await this.checkNewUser(input);
    const initial = await this.pins.prepareInitialPin(checked.rule, checked.user, input.pin);
    const flags = { ...input.flags, enrollmentPending: input.enroll ?? true };
    const user = await this.write((client) => this.insertUserIn(client, checked, initial, flags, actor));
    return { user, generatedPin: initial.generatedPin };
  }

  /** A new user's fields as typed, checked into the values stored (nothing is written). */
  async checkNewUser(input: Omit<NewUserInput, 'pin' | 'enroll' | 'flags'>, findRule: RuleLookup = (name) => this.mustFindRule(name)): Promise<CheckedNewUser> {
    const { fields, ruleName } = this.checkNewUserFields(input);
    return withRule(fields, await findRule(ruleName));
  }

  /** checkNewUser without the rule's lookup: the fields with their defaults, and the rule's name (for a bulk import, which looks rules up once). */
  checkNewUserFields(input: Omit<NewUserInput, 'pin' | 'enroll' | 'flags'>): { fields: Omit<NewUser, 'ruleId'>; ruleName: string } {
    const { ruleName, ...fields } = checkUserFields(
      {
        ...input,
        phone: input.phone ?? null,
        email: input.email ?? null,
        locale: input.locale ?? this.defaultLocale,
        ruleName: input.ruleName ?? DEFAULT_RULE_NAME,
        responseWait: input.responseWait ?? RESPONSE_WAIT.default,
      },
      this.locales,
    );
    // Every field was given, so every one came back checked.
    const { extension, firstName, lastName, phone, email, locale, responseWait } = fields as Required<typeof fields>;
    return { fields: { extension, firstName, lastName, phone, email, locale, responseWait }, ruleName: ruleName ?? DEFAULT_RULE_NAME };
  }

  /** Writes a checked new user and their first PIN in the caller's transaction, audited as the user created and the PIN set. */
  async insertUserIn(client: PoolClient, checked: CheckedNewUser, initial: InitialPin, flags: Partial<PinFlags>, actor: Actor): Promise<User> {
    const created = await insertUser(client, checked.user);
    await recordAudit(client, {
      event: 'user.created',
      actor,
      userId: created.id,
      extension: created.extension,
      details: { rule: checked.rule.name, enrollmentPending: flags.enrollmentPending ?? true },
    });
    await this.pins.insertInitialPin(client, created, initial, flags, actor);
    return created;
  }

  async updateUser(userId: number, input: UserUpdateInput, actor: Actor): Promise<User> {
    const changes = await this.checkUserChanges(input);
    return this.write(async (client) => this.updateUserIn(client, userId, changes, input.ruleName, actor));
  }

  /**
   * Password Settings in one transaction: the user's rule, their PIN flags and an unlock, as an
   * administrator saves them together.
   */
  async updatePinSettings(userId: number, input: PinSettings & { ruleName?: string }, actor: Actor): Promise<void> {
    const changes = await this.checkUserChanges({ ...(input.ruleName !== undefined ? { ruleName: input.ruleName } : {}) });
    await this.write(async (client) => {
      const account = await findAccount(client, { userId });
      if (!account) throw new NotFoundError(`user ${userId}`);
      if (changes.ruleId !== undefined && changes.ruleId !== account.rule.id) {
        await this.updateUserIn(client, userId, changes, input.ruleName, actor);
      }
      await this.pins.updateSettingsIn(client, userId, input, actor);
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

  /**
   * Every account, a page at a time in extension order, all from one snapshot of the database:
   * memory stays bounded however many users there are, and no user is missed or repeated while
   * others change. `onPage` may take its time (a slow reader of the output).
   */
  async exportAccounts(onPage: (accounts: Account[]) => Promise<void>, pageSize = EXPORT_PAGE_SIZE): Promise<void> {
    await this.exportPages((page) => onPage(Array.from({ length: page.length }, (_, i) => page.account(i))), pageSize);
  }

  /** exportAccounts with each page's accounts made one at a time, as they are written: `user export`. */
  async exportPages(onPage: (page: ExportPage) => Promise<void>, pageSize = EXPORT_PAGE_SIZE): Promise<void> {
    await withSnapshot(this.pool, async (client) => {
      const rules = await rulesById(client);
      await declareExportCursor(client);
      const fetchPage = () => {
        const fetched = fetchExportPage(client, rules, pageSize);
        // Should onPage fail first, the page fetched meanwhile is dropped, and so is its own failure.
        fetched.catch(() => {});
        return fetched;
      };
      // The next page is fetched while this one is written: Postgres and the writing overlap.
      let next = fetchPage();
      for (;;) {
        const page = await next;
        const last = page.length < pageSize;
        if (!last) next = fetchPage();
        if (page.length > 0) await onPage(page);
        if (last) return;
      }
    });
  }

  listRules(): Promise<Array<AuthRule & { userCount: number }>> {
    return listRules(this.pool);
  }

  /** The rule by name; an unknown name is a NotFoundError ("… not found"), for lookups by name. */
  async getRule(name: string): Promise<AuthRule> {
    const rule = await findRuleByName(this.pool, checkRuleName(name));
    if (!rule) throw new NotFoundError(`authentication rule "${name}"`);
    return rule;
  }

  countUsersWithRule(rule: AuthRule): Promise<number> {
    return countUsersWithRule(this.pool, rule.id);
  }

  /** Creates a rule from the defaults plus the given fields; refuses a name already taken. */
  async createRule(name: string, values: Partial<RuleSettings>, actor: Actor): Promise<AuthRule> {
    checkRuleName(name);
    return this.write(async (client) => {
      if (!(await ensureRule(client, name))) {
        throw new InputError('rule_exists', `a rule named "${name}" already exists`, 409);
      }
      const rule = await this.saveRule(client, name, values);
      await recordAudit(client, { event: 'rule.created', actor, details: { rule: name, changes: values } });
      return rule;
    });
  }

  /** Creates the rule from the defaults when it does not exist, then sets the given fields. */
  async setRule(name: string, changes: Partial<RuleSettings>, actor: Actor): Promise<{ rule: AuthRule; created: boolean }> {
    checkRuleName(name);
    return this.write(async (client) => {
      const created = await ensureRule(client, name);
      const rule = await this.saveRule(client, name, changes);
      await recordAudit(client, { event: created ? 'rule.created' : 'rule.updated', actor, details: { rule: name, changes } });
      return { rule, created };
    });
  }

  async deleteRule(name: string, actor: Actor): Promise<void> {
    checkRuleName(name);
    await withTransaction(this.pool, async (client) => {
      const outcome = await deleteRule(client, name);
      if (outcome === 'not_found') throw new NotFoundError(`authentication rule "${name}"`);
      if (outcome === 'default') throw new InputError('rule_protected', 'the default rule cannot be deleted', 409);
      if (outcome === 'in_use') throw new InputError('rule_in_use', `rule "${name}" is still assigned to users`, 409);
      await recordAudit(client, { event: 'rule.deleted', actor, details: { rule: name } });
    });
  }

  /** Applies changes to a rule whose row this transaction holds, once they agree with what is stored. */
  private async saveRule(client: PoolClient, name: string, changes: Partial<RuleSettings>): Promise<AuthRule> {
    const stored = await lockRuleByName(client, name);
    if (!stored) throw new NotFoundError(`authentication rule "${name}"`);
    const settings = { ...ruleSettingsOf(stored), ...changes };
    checkRuleConsistency(name, settings);
    checkRuleCanBeMet(name, settings, this.commonPins);
    const rule = await updateRule(client, name, changes);
    if (!rule) throw new NotFoundError(`authentication rule "${name}"`);
    return rule;
  }

  /** The fields given, checked into the values stored (nothing is written). */
  async checkUserChanges(input: UserUpdateInput, findRule: RuleLookup = (name) => this.mustFindRule(name)): Promise<UserChanges> {
    const { ruleName, ...changes } = this.checkUserFields(input);
    return ruleName !== undefined ? { ...changes, ruleId: (await findRule(ruleName)).id } : changes;
  }

  /** checkUserChanges without the rule's lookup: the rule stays a name (for a bulk import, which looks rules up once). */
  checkUserFields(input: UserUpdateInput): CheckedUserFields {
    return checkUserFields(input, this.locales);
  }

  /** Each stored rule that no PIN could meet (made before such rules were refused), with why: reported at start, never changed. */
  async unmeetableRules(): Promise<Array<{ rule: string; problem: string }>> {
    return (await listRules(this.pool)).flatMap((rule) => {
      const problem = unmeetableRuleProblem(rule, this.commonPins);
      return problem === null ? [] : [{ rule: rule.name, problem }];
    });
  }

  /** Applies checked changes in the caller's transaction, audited; a changed e-mail address is told to the old one. */
  async updateUserIn(
    client: PoolClient,
    userId: number,
    changes: UserChanges,
    ruleName: string | undefined,
    actor: Actor,
  ): Promise<User> {
    const before = changes.email !== undefined ? await findAccount(client, { userId }) : null;
    const user = await updateUser(client, userId, changes);
    if (!user) throw new NotFoundError(`user ${userId}`);
    // The old address is told, so a change the user did not make does not go unnoticed.
    const previousAddress = before?.user.email ?? null;
    if (previousAddress !== null && previousAddress !== user.email) {
      await this.notifier.queue(client, user, { kind: 'email_changed', previousAddress }, { channel: 'email', address: previousAddress });
    }
    await recordAudit(client, { event: 'user.updated', actor, userId, extension: user.extension, details: userUpdatedDetails(changes, ruleName) });
    return user;
  }

  /** Runs a write, turning the database's constraint violations into one-line input errors. */
  private async write<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    try {
      return await withTransaction(this.pool, fn);
    } catch (err) {
      throw constraintError(err);
    }
  }

  /** Looks each rule up once: for a bulk import, where rows name the same few rules again and again. */
  cachedRuleLookup(): RuleLookup {
    const found = new Map<string, Promise<AuthRule>>();
    return (name) => {
      let rule = found.get(name);
      if (!rule) {
        rule = this.mustFindRule(name);
        found.set(name, rule);
      }
      return rule;
    };
  }

  private async mustFindRule(name: string): Promise<AuthRule> {
    const rule = await findRuleByName(this.pool, name);
    if (!rule) throw new InputError('unknown_rule', `unknown authentication rule "${name}"`, 422, 'rule');
    return rule;
  }
}
