import { randomBytes, randomInt } from 'node:crypto';
import { EXTENSION_PATTERN, type Account, type AccountWithHash, type PinFlags, type User } from '../accounts/model.js';
import type { Actor, Channel } from '../audit/actor.js';
import type { AuditEventName } from '../audit/events.js';
import { lockRequest, recordAudit, type CallTurn } from '../db/audit.js';
import {
  clearLocks,
  insertPinCredential,
  markInactiveLock,
  pinHistory,
  recordSigninFailure,
  recordSigninSuccess,
  recordWebSignin,
  replacePinHash,
  updatePinFlags,
} from '../db/pin-credentials.js';
import { withTransaction, type Pool, type PoolClient, type Queryable } from '../db/pool.js';
import { findRuleByName } from '../db/rules.js';
import { findAccount, findAccountWithHash, lockAccount } from '../db/users.js';
import { endUserSessions } from '../db/web-sessions.js';
import { HashingBusyError, NotFoundError } from '../errors.js';
import { InputError } from '../errors.js';
import { changedBy, type DeliveryChannel, type Notifier } from '../notify/notices.js';
import { claimLockoutNotice } from '../db/notifications.js';
import { refusalError, type ChangeKind, type OwnChangeKind, type PinRefusal } from './change.js';
import type { CommonPinList } from './common-pins.js';
import type { HashGate } from './hash-gate.js';
import type { SecretHasher } from './hasher.js';
import { checkPinPolicy, generatePin, type PinOwner } from './policy.js';
import { DEFAULT_RULE_NAME, type AuthRule } from './rules.js';
import { pinStatus, type PinStatus } from './status.js';

export type SigninResult =
  | { outcome: 'ok'; account: Account }
  | { outcome: 'invalid'; maxFailedPerCall: number }
  | { outcome: 'locked' }
  | { outcome: 'temp_expired' };

/** What a sign-in came to, as counted: the result's outcome, or busy when no hashing slot freed up in time. */
export type SigninOutcome = SigninResult['outcome'] | 'busy';

/**
 * Told what this service did, after the transaction committed and once per request (a replayed
 * Twilio retry is not told again). The metrics module implements it, so the domain stays free of it.
 */
export interface PinObserver {
  signin(outcome: SigninOutcome): void;
  /** Intruder detection locked an account. */
  lockout(): void;
  pinChanged(channel: Channel): void;
}

const UNOBSERVED: PinObserver = { signin() {}, lockout() {}, pinChanged() {} };

/** A saved change comes back with the account as it is now (new expiry, flags). */
export type ChangeResult = { ok: true; account: Account } | { ok: false; refusal: PinRefusal };

export interface PinServiceDeps {
  pool: Pool;
  hasher: SecretHasher;
  gate: HashGate;
  commonPins: CommonPinList;
  clock?: () => Date;
  observer?: PinObserver;
  /** Tells users of changes to their credentials, in the change's own transaction. */
  notifier: Notifier;
}

/** What an administrator may set besides a PIN: flags, and an unlock. */
export interface PinSettings {
  flags?: Partial<PinFlags>;
  unlock?: boolean;
}

export interface ChangePinRequest {
  userId: number;
  newPin: string;
  kind: ChangeKind;
  actor: Actor;
  /** Administrative changes only: set "must change at next sign-in". */
  mustChange?: boolean;
  /** Administrative changes only: other settings, applied in the same transaction. */
  settings?: PinSettings;
  /** Administrative changes only: the PIN was generated, not chosen, so it is temporary. */
  generated?: boolean;
  /** Resets only: the administrator sees the PIN once (audited as such). */
  showOnce?: boolean;
  call?: CallTurn;
}

/** What a reset did: the channels its message went by, and the PIN only when it was asked for once. */
export interface ResetResult {
  channels: DeliveryChannel[];
  pin: string | null;
}

/** A random PIN can land on one in the history; a few more draws always find another. */
const RESET_DRAWS = 20;

/** A new user's first PIN, checked and hashed before the user's transaction begins. */
export interface InitialPin {
  pinHash: string;
  /** The PIN when it was generated, to hand over once; null when the administrator chose it, or no one is told it. */
  generatedPin: string | null;
  /** A random secret that no one is told (a bulk import's): the user signs in once an administrator sets or resets a PIN. */
  untold?: true;
}

function ownerOf(account: Account): PinOwner {
  return { extension: account.user.extension, firstName: account.user.firstName, lastName: account.user.lastName };
}

/**
 * The one implementation of checking a PIN at sign-in and of changing a PIN, for every channel
 * (DESIGN §3). All argon2 work runs inside a HashGate slot, one slot per request.
 */
export class PinService {
  private readonly clock: () => Date;
  private readonly observer: PinObserver;

  constructor(private readonly deps: PinServiceDeps) {
    this.clock = deps.clock ?? (() => new Date());
    this.observer = deps.observer ?? UNOBSERVED;
  }

  /**
   * Checks a sign-in. The credential row is locked for the whole check, so parallel guesses on
   * one account are counted one after another and cannot get past the lockout threshold.
   * Unknown extensions are verified against a dummy hash so they cost the same time.
   * With `call`, a retried request replays its first outcome instead of counting again.
   */
  verifySignin(request: { extension: string; pin: string; actor: Actor; call?: CallTurn }): Promise<SigninResult> {
    const { hasher, gate } = this.deps;
    // Set by a first delivery only, and reported once its transaction has committed.
    let applied = false;
    let lockedOut = false;
    const checked = gate.run(() =>
      this.idempotent<SigninResult>(
        request.call,
        async (client) => {
          applied = true;
          const now = this.clock();
          const account = EXTENSION_PATTERN.test(request.extension)
            ? await lockAccount(client, { extension: request.extension })
            : null;
          const auditOf = (event: AuditEventName, target: Account | null, details: Record<string, unknown> = {}) => ({
            event,
            actor: request.actor,
            userId: target?.user.id ?? null,
            extension: target?.user.extension ?? null,
            details,
            call: request.call ?? null,
          });
          const audit = (...args: Parameters<typeof auditOf>) => recordAudit(client, auditOf(...args));

          if (!account) {
            await hasher.verifyDummy(request.pin);
            // The typed ID is not recorded: callers sometimes key their PIN at the ID prompt.
            await audit('signin.failed', null, { reason: 'unknown_id' });
            return { outcome: 'invalid', maxFailedPerCall: await this.defaultMaxFailedPerCall(client) };
          }

          const status = pinStatus(account.pin, account.rule, now);
          if (status.lockout) {
            // Not checked, not counted, not extended.
            await this.auditInactiveLock(client, account, status, now, request.actor, request.call);
            await audit('signin.refused_locked', account, { lockout: status.lockout });
            return { outcome: 'locked' };
          }

          if (await hasher.verify(account.pinHash, request.pin)) {
            // The right PIN, past its temporary lifetime: refused, but not a failure to count.
            if (status.temporaryExpired) {
              await audit('signin.temp_expired', account, { temporarySince: account.pin.temporarySince?.toISOString() });
              return { outcome: 'temp_expired' };
            }
            const upgraded = hasher.needsRehash(account.pinHash) ? await hasher.hash(request.pin) : null;
            // Always written: the last sign-in is what the inactivity lock and report count from.
            await recordSigninSuccess(client, {
              userId: account.user.id,
              at: now,
              upgradedHash: upgraded,
              audit: auditOf('signin.succeeded', account, upgraded ? { rehashed: true } : {}),
            });
            const pin = { ...account.pin, failedCount: 0, lockedAt: null, lastSigninAt: now, inactiveLockedAt: null };
            return { outcome: 'ok', account: { ...account, pin } };
          }

          const failedCount = status.effectiveFailedCount + 1;
          const lockNow = account.rule.maxFailedSignins > 0 && failedCount >= account.rule.maxFailedSignins;
          await recordSigninFailure(client, account.user.id, failedCount, now, lockNow);
          await audit('signin.failed', account, { reason: 'wrong_pin', failedCount });
          if (lockNow) {
            await audit('pin.locked_out', account, { by: 'intruder_detection', failedCount });
            // The user is told, at most once an hour: a lockout is also how guessing shows.
            if (await claimLockoutNotice(client, account.user.id)) await this.deps.notifier.queue(client, account.user, { kind: 'lockout' });
          }
          lockedOut = lockNow;
          return { outcome: 'invalid', maxFailedPerCall: account.rule.maxFailedPerCall };
        },
        async (events, client) => {
          // A retry of a request already applied: answer as the first delivery did, unless the
          // account has been locked or deleted since (flags take effect at once).
          if (events.includes('signin.succeeded')) {
            const account = await findAccount(client, { extension: request.extension });
            if (!account || pinStatus(account.pin, account.rule, this.clock()).lockout) return { outcome: 'locked' };
            return { outcome: 'ok', account };
          }
          if (events.includes('signin.refused_locked')) return { outcome: 'locked' };
          if (events.includes('signin.temp_expired')) return { outcome: 'temp_expired' };
          const account = await findAccount(client, { extension: request.extension });
          return {
            outcome: 'invalid',
            maxFailedPerCall: account?.rule.maxFailedPerCall ?? (await this.defaultMaxFailedPerCall(client)),
          };
        },
      ),
    );
    return checked.then(
      (result) => {
        if (applied) {
          this.observer.signin(result.outcome);
          if (lockedOut) this.observer.lockout();
        }
        return result;
      },
      (err: unknown) => {
        if (err instanceof HashingBusyError) this.observer.signin('busy');
        throw err;
      },
    );
  }

  /**
   * A self-service sign-in whose web password was right: refused while an administrator's lock
   * or an inactivity lock applies (DESIGN §7, §9), else recorded as the user's last activity.
   * An intruder lockout of the phone PIN does not stop the web (DESIGN §7).
   */
  async admitWebSignin(userId: number, actor: Actor): Promise<'ok' | 'locked_by_admin' | 'locked_inactive' | 'gone'> {
    return withTransaction(this.deps.pool, async (client) => {
      const account = await lockAccount(client, { userId });
      if (!account) return 'gone';
      const now = this.clock();
      const status = pinStatus(account.pin, account.rule, now);
      if (account.pin.lockedByAdmin) return 'locked_by_admin';
      if (status.lockout === 'inactive') {
        await this.auditInactiveLock(client, account, status, now, actor);
        return 'locked_inactive';
      }
      await recordWebSignin(client, userId, now);
      return 'ok';
    });
  }

  /** An inactivity lock's first refusal, on any channel, is audited once as `pin.locked_inactive`. */
  private async auditInactiveLock(client: PoolClient, account: Account, status: PinStatus, now: Date, actor: Actor, call?: CallTurn): Promise<void> {
    if (status.lockout !== 'inactive' || account.pin.inactiveLockedAt !== null) return;
    if (!(await markInactiveLock(client, account.user.id, now))) return;
    await recordAudit(client, {
      event: 'pin.locked_inactive',
      actor,
      userId: account.user.id,
      extension: account.user.extension,
      details: { inactiveDays: account.rule.inactiveDays, lastActivityAt: status.lastActivityAt.toISOString() },
      call: call ?? null,
    });
  }

  /**
   * Checks a proposed new PIN without saving it: the first half of the phone's new-PIN dialog.
   * Accepted, it comes back as a hash to hold until the caller confirms it.
   */
  preparePin(request: { userId: number; newPin: string; kind: OwnChangeKind }): Promise<
    { ok: true; pendingPinHash: string } | { ok: false; refusal: PinRefusal }
  > {
    return this.deps.gate.run(async () => {
      // A plain read: the save checks everything again under the row lock.
      const account = await findAccountWithHash(this.deps.pool, { userId: request.userId });
      if (!account) return { ok: false, refusal: { rule: 'locked' } };
      const refusal = await this.refusalFor(this.deps.pool, account, request.newPin, request.kind);
      if (refusal) return { ok: false, refusal };
      return { ok: true, pendingPinHash: await this.deps.hasher.hash(request.newPin) };
    });
  }

  /**
   * The phone's confirmation step: the second entry must match the pending hash, then the PIN
   * is changed through the one change path.
   */
  confirmPin(request: {
    userId: number;
    confirmation: string;
    pendingPinHash: string;
    kind: OwnChangeKind;
    actor: Actor;
    call?: CallTurn;
  }): Promise<ChangeResult | { ok: false; mismatch: true }> {
    return this.deps.gate.run(async () => {
      if (!(await this.deps.hasher.verify(request.pendingPinHash, request.confirmation))) {
        return { ok: false as const, mismatch: true as const };
      }
      return this.changeInSlot({ ...request, newPin: request.confirmation });
    });
  }

  /**
   * The one path for every PIN change (phone, admin web, self-service, API, CLI). In one
   * transaction: checks the rule, trivial PINs and history; hashes; keeps the history; sets the
   * flags; audits.
   */
  changePin(request: ChangePinRequest): Promise<ChangeResult> {
    return this.deps.gate.run(() => this.changeInSlot(request));
  }

  /** changePin for callers that answer a refusal with an error (the API, the CLI). */
  async changePinOrThrow(request: ChangePinRequest): Promise<Account> {
    const result = await this.changePin(request);
    if (!result.ok) throw refusalError(result.refusal);
    return result.account;
  }

  /**
   * The helpdesk's reset (DESIGN §8): a random PIN the user's rule accepts (length, trivial PINs,
   * history), through the one change path, with "must change" set and an intruder lockout
   * cleared. It is sent to the user by every channel that reaches them, and shown to the
   * administrator only when `showOnce` asks for it; with no channel and no `showOnce`, nothing
   * changes.
   */
  async resetPin(userId: number, actor: Actor, options: { showOnce?: boolean } = {}): Promise<ResetResult> {
    const account = await findAccount(this.deps.pool, { userId });
    if (!account) throw new NotFoundError(`user ${userId}`);
    const showOnce = options.showOnce === true;
    if (!showOnce) this.mustReach(account.user);
    for (let draw = 1; ; draw++) {
      const pin = this.generatePinFor(account.rule, account.user);
      const result = await this.changePin({ userId, newPin: pin, kind: 'reset', actor, showOnce });
      if (result.ok) {
        const channels = this.deps.notifier.reachable(result.account.user);
        return { channels, pin: showOnce ? pin : null };
      }
      this.drawAgainAfter(result.refusal, draw);
    }
  }

  /**
   * The same reset inside the caller's transaction, for a user it has just created (a bulk
   * import's row with --reset-pins): the PIN is only ever sent, never shown.
   */
  resetPinIn(client: PoolClient, userId: number, actor: Actor): Promise<DeliveryChannel[]> {
    return this.deps.gate.run(async () => {
      const account = await findAccount(client, { userId });
      if (!account) throw new NotFoundError(`user ${userId}`);
      this.mustReach(account.user);
      for (let draw = 1; ; draw++) {
        const pin = this.generatePinFor(account.rule, account.user);
        const result = await this.applyChange(client, { userId, newPin: pin, kind: 'reset', actor });
        if (result.ok) {
          // Counted now, before the caller commits: an import that then fails to commit stops with an error.
          this.observer.pinChanged(actor.channel);
          return this.deps.notifier.reachable(result.account.user);
        }
        this.drawAgainAfter(result.refusal, draw);
      }
    });
  }

  /** A reset sends the PIN, so a user that no configured channel reaches is refused before anything changes. */
  private mustReach(user: User): void {
    if (this.deps.notifier.reachable(user).length > 0) return;
    throw new InputError(
      'unreachable',
      `user ${user.extension} has no phone or e-mail that a configured channel reaches, so the PIN cannot be sent: nothing was changed (ask to see the PIN once instead)`,
      409,
    );
  }

  /** Only the history can refuse a generated PIN: draw again, a few times at most. */
  private drawAgainAfter(refusal: PinRefusal, draw: number): void {
    if (refusal.rule !== 'reused' || draw >= RESET_DRAWS) throw refusalError(refusal);
  }

  /** A random PIN that the user's rule accepts. */
  generatePinFor(rule: AuthRule, owner: PinOwner): string {
    return generatePin(rule, owner, this.deps.commonPins, () => randomInt(10));
  }

  /**
   * A new user's first PIN: the one chosen (checked against the rule; there is no history yet) or
   * a random one, hashed. Done before the user's transaction, so no connection waits on hashing.
   */
  prepareInitialPin(rule: AuthRule, owner: PinOwner, chosen: string | undefined): Promise<InitialPin> {
    const generatedPin = chosen === undefined ? this.generatePinFor(rule, owner) : null;
    const pin = chosen ?? (generatedPin as string);
    const refusal = checkPinPolicy(pin, rule, owner, this.deps.commonPins);
    if (refusal) return Promise.reject(refusalError(refusal));
    return this.deps.gate.run(async () => ({ pinHash: await this.deps.hasher.hash(pin), generatedPin }));
  }

  /**
   * A first PIN for users that no one is told: one random secret, hashed once, for every user a
   * bulk import creates. Hashing a PIN per row would cost an argon2 hash each (10,000 rows, minutes
   * of CPU); one secret is as good, since it is made of letters and symbols that no phone keypad
   * can send, is never stored or shown, and is forgotten once hashed. So nobody can sign in with it
   * until an administrator sets or resets a PIN.
   */
  untoldInitialPin(): Promise<InitialPin> {
    const secret = `untold:${randomBytes(32).toString('base64url')}`;
    return this.deps.gate.run(async () => ({ pinHash: await this.deps.hasher.hash(secret), generatedPin: null, untold: true }));
  }

  /** Stores a new user's first PIN in the user's own transaction, audited as the PIN set. */
  async insertInitialPin(client: PoolClient, user: User, initial: InitialPin, flags: Partial<PinFlags>, actor: Actor): Promise<void> {
    // A PIN nobody chose, generated or untold, is temporary: its lifetime counts from now.
    const generated = initial.generatedPin !== null || initial.untold === true;
    await insertPinCredential(client, user.id, initial.pinHash, flags, generated);
    await recordAudit(client, {
      event: 'pin.set',
      actor,
      userId: user.id,
      extension: user.extension,
      details: { generated, ...(initial.untold ? { untold: true } : {}), ...flags },
    });
  }

  /** Sets flags and unlocks, in one audited transaction: an administrator's, the API's or the CLI's change. */
  async updateSettings(userId: number, settings: PinSettings, actor: Actor): Promise<void> {
    await withTransaction(this.deps.pool, (client) => this.updateSettingsIn(client, userId, settings, actor));
  }

  /** The same inside a caller's transaction (with other changes that must land together). */
  async updateSettingsIn(client: PoolClient, userId: number, settings: PinSettings, actor: Actor): Promise<void> {
    const account = await lockAccount(client, { userId });
    if (!account) throw new NotFoundError(`user ${userId}`);
    await this.applySettings(client, account, settings, actor);
  }

  private async applySettings(client: PoolClient, account: Account, settings: PinSettings, actor: Actor): Promise<void> {
    let pin = account.pin;
    if (settings.unlock) {
      await clearLocks(client, account.user.id);
      await recordAudit(client, {
        event: 'pin.unlocked',
        actor,
        userId: account.user.id,
        extension: account.user.extension,
        details: { wasLockedByAdmin: pin.lockedByAdmin, wasLockedOut: pin.lockedAt !== null },
      });
      pin = { ...pin, lockedByAdmin: false, lockedAt: null, failedCount: 0 };
    }
    const flags = settings.flags ?? {};
    const changed = Object.fromEntries(
      (Object.keys(flags) as Array<keyof PinFlags>).filter((k) => flags[k] !== undefined && flags[k] !== pin[k]).map((k) => [k, flags[k]]),
    ) as Partial<PinFlags>;
    if (Object.keys(changed).length === 0) return;
    await updatePinFlags(client, account.user.id, changed);
    // An administrator's lock also ends the user's self-service sessions (DESIGN §7).
    if (changed.lockedByAdmin === true) await endUserSessions(client, account.user.id);
    const event: AuditEventName =
      changed.lockedByAdmin === true ? 'pin.locked' : changed.lockedByAdmin === false ? 'pin.unlocked' : 'pin.flags_changed';
    await recordAudit(client, { event, actor, userId: account.user.id, extension: account.user.extension, details: { flags: changed } });
  }

  private async changeInSlot(request: ChangePinRequest): Promise<ChangeResult> {
    // Set by a first delivery that saved, and reported once its transaction has committed.
    let saved = false;
    const result = await this.idempotent<ChangeResult>(
      request.call,
      async (client) => {
        const changed = await this.applyChange(client, request);
        saved = changed.ok;
        return changed;
      },
      // A retried save request: the PIN was saved by the first delivery.
      async (_events, client) => {
        const account = await findAccount(client, { userId: request.userId });
        return account ? { ok: true, account } : { ok: false, refusal: { rule: 'locked' } };
      },
    );
    if (saved) this.observer.pinChanged(request.actor.channel);
    return result;
  }

  /** The change itself, in the caller's transaction, inside a hashing slot the caller holds. */
  private async applyChange(client: PoolClient, request: ChangePinRequest): Promise<ChangeResult> {
    const account = await lockAccount(client, { userId: request.userId });
    if (!account) {
      // A user deleted during their own call or web session: nothing to save.
      if (request.kind !== 'administrative' && request.kind !== 'reset') return { ok: false, refusal: { rule: 'locked' } };
      throw new NotFoundError(`user ${request.userId}`);
    }
    const refusal = await this.refusalFor(client, account, request.newPin, request.kind);
    if (refusal) return { ok: false, refusal };
    const newHash = await this.deps.hasher.hash(request.newPin);
    const reset = request.kind === 'reset';
    // An administrator sets "must change" as they choose; a reset always sets it, and leaves
    // enrollment as it was (a new user still enrolls); the user's own change clears both.
    const flags: Partial<PinFlags> =
      request.kind === 'administrative'
        ? { mustChange: request.mustChange ?? false }
        : reset
          ? { mustChange: true }
          : { mustChange: false, enrollmentPending: false };
    await replacePinHash(client, account.user.id, account.pinHash, newHash, {
      keep: account.rule.historyCount,
      flags,
      temporary: reset || (request.kind === 'administrative' && request.generated === true),
      clearLockout: reset,
    });
    if (request.kind === 'administrative' && request.settings) {
      // Whatever else the same request asked for lands in the same transaction.
      await this.applySettings(client, { ...account, pin: { ...account.pin, ...flags } }, request.settings, request.actor);
    }
    const channels = await this.deps.notifier.queue(
      client,
      account.user,
      reset ? { kind: 'pin_reset', pin: request.newPin, hours: account.rule.tempPinHours } : { kind: 'pin_changed', by: changedBy(request.actor) },
    );
    await recordAudit(client, {
      event: reset ? 'pin.reset' : 'pin.changed',
      actor: request.actor,
      userId: account.user.id,
      extension: account.user.extension,
      details: reset
        ? { channels, shownOnce: request.showOnce === true }
        : { kind: request.kind, ...(request.kind === 'administrative' ? { mustChange: flags.mustChange } : {}) },
      call: request.call ?? null,
    });
    const changed = await findAccount(client, { userId: account.user.id });
    if (!changed) throw new NotFoundError(`user ${account.user.id}`);
    return { ok: true, account: changed };
  }

  private async refusalFor(client: Queryable, account: AccountWithHash, newPin: string, kind: ChangeKind): Promise<PinRefusal | null> {
    const status = pinStatus(account.pin, account.rule, this.clock());
    // The user's own changes stop at a lock at once, even mid-call; an administrator's do not.
    const own = kind !== 'administrative' && kind !== 'reset';
    if (own && status.lockout) return { rule: 'locked' };
    if (kind === 'voluntary') {
      if (account.pin.cannotChange) return { rule: 'cannot_change' };
      if (status.tooSoonToChange) return { rule: 'too_soon', minutes: account.rule.minChangeMinutes };
    }
    const policy = checkPinPolicy(newPin, account.rule, ownerOf(account), this.deps.commonPins);
    if (policy) return policy;
    const previous = [account.pinHash, ...(await pinHistory(client, account.user.id, account.rule.historyCount))];
    for (const hash of previous) {
      if (await this.deps.hasher.reuses(hash, newPin)) return { rule: 'reused', history: account.rule.historyCount };
    }
    return null;
  }

  private async defaultMaxFailedPerCall(client: PoolClient): Promise<number> {
    return (await findRuleByName(client, DEFAULT_RULE_NAME))?.maxFailedPerCall ?? 3;
  }

  /**
   * Runs `apply` in a transaction, once per request: when the same request (the same sealed
   * state and keys) already wrote its events (a Twilio retry), `replay` answers from them
   * instead. The unique (request_key, event) key in the database backs this up: no request's
   * effects can ever be written twice.
   */
  private async idempotent<T>(
    call: CallTurn | undefined,
    apply: (client: PoolClient) => Promise<T>,
    replay: (events: string[], client: PoolClient) => Promise<T>,
  ): Promise<T> {
    return withTransaction(this.deps.pool, async (client) => {
      if (call) {
        // Deliveries of one request run one after another, so a retry that arrives while the
        // first is still running sees its events instead of applying the request again.
        const events = await lockRequest(client, call);
        if (events.length > 0) return replay(events, client);
      }
      return apply(client);
    });
  }
}
