import { scimPatch, ScimError as PatchError, type ScimPatchOperation, type ScimResource } from 'scim-patch';
import { parse as parseFilter, type Filter } from 'scim2-parse-filter';
import { z } from 'zod';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../db/audit.js';
import { constraintError } from '../db/constraints.js';
import { isPinUntold, setDeactivated } from '../db/pin-credentials.js';
import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { findScimExtras, scimPage, writeScimExtras, type ScimExtras, type ScimFilterAttribute } from '../db/scim.js';
import { findAccountsById, lockAccount } from '../db/users.js';
import { endUserSessions } from '../db/web-sessions.js';
import { InputError, NotFoundError } from '../errors.js';
import type { Notifier } from '../notify/notices.js';
import type { PinService } from '../pin/service.js';
import { EXTENSION_PATTERN, controlCharacterProblem, type Account, type User, type UserChanges } from './model.js';
import { scimUserJson, type ScimUserJson } from './present.js';
import type { AccountService } from './service.js';

// Provisioning with SCIM 2.0 (DESIGN §11, RFC 7643/7644): a SCIM User mapped onto a pinline user,
// and "deactivated by the directory", the state of its own that `active: false` sets.

/** A user as SCIM sees them: the account, and what SCIM keeps beside it. */
export interface ScimAccount extends ScimExtras {
  account: Account;
}

/** SCIM's page sizes: the default and the most one list answers (ServiceProviderConfig's maxResults). */
export const SCIM_PAGE = { default: 100, max: 200 } as const;

const SCIM_FILTER_ATTRIBUTES: Record<string, ScimFilterAttribute> = { username: 'userName', externalid: 'externalId', id: 'id' };
const CORE_USER_PREFIX = 'urn:ietf:params:scim:schemas:core:2.0:user:';

/** An invalid filter (RFC 7644 §3.4.2.2): 400 with scimType invalidFilter. */
function invalidFilter(message: string): InputError {
  return new InputError('invalid_filter', message, 400, 'filter');
}

function invalidValue(message: string, field?: string): InputError {
  return new InputError('invalid_value', message, 400, field);
}

/**
 * The filter of a list, parsed by scim2-parse-filter: pinline answers `eq` on userName,
 * externalId or id (what identity providers send to find a user); anything else is invalidFilter.
 */
function parseScimFilter(text: string): { attribute: ScimFilterAttribute; value: string } {
  let filter: Filter;
  try {
    filter = parseFilter(text);
  } catch {
    throw invalidFilter('the filter is not valid SCIM filter syntax (RFC 7644 §3.4.2.2)');
  }
  const path = 'attrPath' in filter ? filter.attrPath.toLowerCase().replace(CORE_USER_PREFIX, '') : '';
  const attribute = SCIM_FILTER_ATTRIBUTES[path];
  if (filter.op !== 'eq' || attribute === undefined || !('compValue' in filter) || typeof filter.compValue !== 'string') {
    throw invalidFilter('only a filter of the form userName eq "…" (or externalId or id) is supported');
  }
  return { attribute, value: filter.compValue };
}

/** A boolean as identity providers send it: Entra ID sends "True" and "False" in PATCH. */
const scimBoolean = z.union([z.boolean(), z.enum(['true', 'false', 'True', 'False'])]).transform((v) => v === true || v === 'true' || v === 'True');
const multiValued = z
  .array(z.looseObject({ value: z.string().nullish(), type: z.string().nullish(), primary: scimBoolean.nullish() }))
  .nullish();

/** The attributes of a SCIM User that pinline keeps; any others are accepted and ignored. */
const scimUserInput = z.looseObject({
  userName: z.string({ error: 'userName is required: the user’s extension' }),
  externalId: z.string().max(255).nullish(),
  name: z.looseObject({ givenName: z.string().nullish(), familyName: z.string().nullish() }).nullish(),
  emails: multiValued,
  phoneNumbers: multiValued,
  preferredLanguage: z.string().nullish(),
  active: scimBoolean.nullish(),
});

type ScimUserInput = z.output<typeof scimUserInput>;

/** A multi-valued attribute's primary value, else its first (pinline keeps one of each). */
function primaryValue(values: ScimUserInput['emails']): string | null {
  const chosen = values?.find((v) => v.primary === true && v.value) ?? values?.find((v) => v.value);
  return chosen?.value ?? null;
}

/** A phone number, also as a tel: URI (RFC 3966); the user-field check takes it from there (E.164, separators dropped). */
function phoneOf(value: string | null): string | null {
  return value === null ? null : value.replace(/^tel:/i, '');
}

/**
 * Refuses a control character anywhere in a SCIM body or filter before anything else reads it
 * (DESIGN §4), naming the attribute: invalidValue.
 */
export function checkScimText(value: unknown, path = ''): void {
  if (typeof value === 'string') {
    const problem = controlCharacterProblem(value);
    if (problem !== null) throw invalidValue(`${path || 'the request'} ${problem}`, path || undefined);
  } else if (Array.isArray(value)) {
    value.forEach((item, index) => checkScimText(item, `${path}[${index}]`));
  } else if (typeof value === 'object' && value !== null) {
    for (const [key, item] of Object.entries(value)) {
      checkScimText(key, path);
      checkScimText(item, path ? `${path}.${key}` : key);
    }
  }
}

/** The attribute names pinline reads, by their lower case: SCIM's names are case-insensitive (RFC 7643 §2.1). */
const CANONICAL_NAMES = new Map(
  ['userName', 'externalId', 'name', 'givenName', 'familyName', 'emails', 'phoneNumbers', 'preferredLanguage', 'active', 'value', 'type', 'primary'].map(
    (name) => [name.toLowerCase(), name],
  ),
);

/** The body with the names pinline reads spelled as it spells them, at every depth. */
function canonicalNames(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalNames);
  if (typeof value !== 'object' || value === null) return value;
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [CANONICAL_NAMES.get(key.toLowerCase()) ?? key, canonicalNames(item)]));
}

function readUser(body: unknown): ScimUserInput {
  checkScimText(body);
  const result = scimUserInput.safeParse(canonicalNames(body));
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') || undefined;
  throw invalidValue(field ? `${field}: ${issue?.message ?? 'invalid'}` : (issue?.message ?? 'not a SCIM User'), field);
}

/** Provisions users for an identity provider at /scim/v2, on the same checks as every channel. */
export class ScimService {
  constructor(
    private readonly deps: {
      pool: Pool;
      accounts: AccountService;
      pins: PinService;
      notifier: Notifier;
      locales: readonly string[];
    },
  ) {}

  /** A SCIM User resource: the body of a GET, and of every write's answer. */
  async get(userId: number, baseUrl: string): Promise<ScimUserJson> {
    const [account, extras] = await Promise.all([this.deps.accounts.findAccount({ userId }), findScimExtras(this.deps.pool, userId)]);
    if (!account || !extras) throw new NotFoundError(`user ${userId}`);
    return scimUserJson({ account, ...extras }, baseUrl);
  }

  /** A page of users, by id, with the count of all that match (startIndex counts from 1). */
  async list(filterText: string | undefined, startIndex: number, count: number): Promise<{ total: number; users: ScimAccount[] }> {
    const filter = filterText === undefined ? null : parseScimFilter(filterText);
    // An id that is not a number names no user, and must not reach a bigint cast.
    if (filter?.attribute === 'id' && !/^[0-9]{1,15}$/.test(filter.value)) return { total: 0, users: [] };
    const page = await scimPage(this.deps.pool, filter, startIndex - 1, count);
    const accounts = page.entries.length > 0 ? await findAccountsById(this.deps.pool, page.entries.map((e) => e.userId)) : new Map<number, Account>();
    const users = page.entries.flatMap((entry) => {
      const account = accounts.get(entry.userId);
      return account ? [{ account, externalId: entry.externalId, lastModified: entry.lastModified }] : [];
    });
    return { total: page.total, users };
  }

  /**
   * Creates a user from a SCIM User, enrollment-pending with a PIN no one is told (DESIGN §9); the
   * §8 reset goes out at once when a configured channel reaches them and they are active.
   */
  async create(body: unknown, actor: Actor): Promise<number> {
    const input = readUser(body);
    const fields = this.fieldsOf(input, null);
    const checked = await this.deps.accounts.checkNewUser(fields);
    const initial = await this.deps.pins.untoldInitialPin();
    return this.write(async (client) => {
      const user = await this.deps.accounts.insertUserIn(client, checked, initial, { enrollmentPending: true }, actor);
      await writeScimExtras(client, user.id, input.externalId ?? null);
      if (input.active === false) await this.setActiveIn(client, user, false, actor);
      await this.resetIfNowReachable(client, null, user, input.active !== false, actor);
      return user.id;
    });
  }

  /** PUT: the user's attributes replaced by the body's; those absent are cleared (the language stays). */
  async replace(userId: number, body: unknown, actor: Actor): Promise<void> {
    const input = readUser(body);
    await this.write(async (client) => {
      const before = await lockAccount(client, { userId });
      if (!before) throw new NotFoundError(`user ${userId}`);
      await this.applyIn(client, before, input, actor);
    });
  }

  /** PATCH (RFC 7644 §3.5.2), applied by scim-patch to the user as SCIM sees them, then saved as a replace. */
  async patch(userId: number, operations: ScimPatchOperation[], baseUrl: string, actor: Actor): Promise<void> {
    checkScimText(operations, 'Operations');
    await this.write(async (client) => {
      const before = await lockAccount(client, { userId });
      const extras = await findScimExtras(client, userId);
      if (!before || !extras) throw new NotFoundError(`user ${userId}`);
      let patched: ScimUserJson;
      try {
        patched = scimPatch(scimUserJson({ account: before, ...extras }, baseUrl) as ScimUserJson & ScimResource, operations, {
          mutateDocument: false,
          treatMissingAsAdd: true,
        });
      } catch (err) {
        if (err instanceof PatchError) throw new InputError(PATCH_CODES[err.scimCode ?? ''] ?? 'invalid_value', err.message, 400);
        throw err;
      }
      await this.applyIn(client, before, readUser(patched), actor);
    });
  }

  async delete(userId: number, actor: Actor): Promise<void> {
    await this.deps.accounts.deleteUser(userId, actor);
  }

  /** A system administrator's Reactivate (DESIGN §11): ends "deactivated by the directory". */
  async reactivate(userId: number, actor: Actor): Promise<void> {
    await withTransaction(this.deps.pool, async (client) => {
      const account = await lockAccount(client, { userId });
      if (!account) throw new NotFoundError(`user ${userId}`);
      await this.setActiveIn(client, account.user, true, actor);
      await this.resetIfNowReachable(client, { user: account.user, active: false }, account.user, true, actor);
    });
  }

  /** A SCIM User's attributes as the user fields every channel checks. */
  private fieldsOf(input: ScimUserInput, before: User | null) {
    if (!EXTENSION_PATTERN.test(input.userName)) {
      throw invalidValue('userName must be the user’s extension: 2 to 15 digits', 'userName');
    }
    const firstName = input.name?.givenName ?? before?.firstName;
    const lastName = input.name?.familyName ?? before?.lastName;
    if (!firstName || !lastName) throw invalidValue('name.givenName and name.familyName are required', 'name');
    return {
      extension: input.userName,
      firstName,
      lastName,
      email: primaryValue(input.emails),
      phone: phoneOf(primaryValue(input.phoneNumbers)),
      locale: this.localeOf(input.preferredLanguage) ?? before?.locale ?? this.deps.accounts.defaultLocale,
    };
  }

  /** preferredLanguage as one of pinline's locales (en-US, or en for the first en-…); one pinline has no prompts for is left as it was. */
  private localeOf(language: string | null | undefined): string | null {
    if (!language) return null;
    const wanted = language.replace(/_/g, '-').toLowerCase();
    const { locales } = this.deps;
    return locales.find((l) => l.toLowerCase() === wanted) ?? locales.find((l) => l.toLowerCase().split('-')[0] === wanted.split('-')[0]) ?? null;
  }

  /** Saves a replace or a patch on the locked account: the changed fields, externalId, active, and the reset a first channel brings. */
  private async applyIn(client: PoolClient, before: Account, input: ScimUserInput, actor: Actor): Promise<void> {
    const userId = before.user.id;
    const checked = await this.deps.accounts.checkUserChanges(this.fieldsOf(input, before.user));
    const changes = Object.fromEntries(
      Object.entries(checked).filter(([key, value]) => before.user[key as keyof UserChanges] !== value),
    ) as UserChanges;
    const user = Object.keys(changes).length > 0 ? await this.deps.accounts.updateUserIn(client, userId, changes, undefined, actor) : before.user;
    await writeScimExtras(client, userId, input.externalId ?? null);
    const wasActive = before.pin.deactivatedAt === null;
    const active = input.active ?? wasActive;
    if (active !== wasActive) await this.setActiveIn(client, user, active, actor);
    await this.resetIfNowReachable(client, { user: before.user, active: wasActive }, user, active, actor);
  }

  /**
   * Sets or ends "deactivated by the directory", audited. Deactivating ends the user's web
   * sessions, and moves the credential version so calls lose their authority (DESIGN §3).
   */
  private async setActiveIn(client: PoolClient, user: User, active: boolean, actor: Actor): Promise<void> {
    if (!(await setDeactivated(client, user.id, !active))) return;
    if (!active) await endUserSessions(client, user.id);
    await recordAudit(client, { event: active ? 'user.reactivated' : 'user.deactivated', actor, userId: user.id, extension: user.extension });
  }

  /**
   * The §8 reset of a user still waiting for a PIN (the one they have is untold), once a
   * configured channel reaches them and they are active, when that was not so before.
   */
  private async resetIfNowReachable(
    client: PoolClient,
    before: { user: User; active: boolean } | null,
    user: User,
    active: boolean,
    actor: Actor,
  ): Promise<void> {
    const reachable = (u: User) => this.deps.notifier.reachable(u).length > 0;
    if (!active || !reachable(user)) return;
    if (before && before.active && reachable(before.user)) return;
    if (!(await isPinUntold(client, user.id))) return;
    await this.deps.pins.resetPinIn(client, user.id, actor);
  }

  /** Runs a write, turning the database's constraint violations into one-line input errors. */
  private async write<T>(fn: (client: PoolClient) => Promise<T>): Promise<T> {
    try {
      return await withTransaction(this.deps.pool, fn);
    } catch (err) {
      throw constraintError(err);
    }
  }
}

/** scim-patch's error codes as pinline's InputError codes (each a scimType, RFC 7644 §3.12). */
const PATCH_CODES: Record<string, string> = { invalidPath: 'invalid_path', noTarget: 'no_target', invalidSyntax: 'invalid_syntax', invalidValue: 'invalid_value' };
