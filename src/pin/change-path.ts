import type { Account, AccountWithHash, PinFlags } from '../accounts/model.js';
import type { Actor } from '../audit/actor.js';
import type { AuditEventName } from '../audit/events.js';
import { recordAudit, type CallTurn } from '../db/audit.js';
import { clearLocks, pinHistory, replacePinHash, updatePinFlags } from '../db/pin-credentials.js';
import { withTransaction, type PoolClient, type Queryable } from '../db/pool.js';
import { findAccountWithHash, lockAccount } from '../db/users.js';
import { endUserSessions } from '../db/web-sessions.js';
import { NotFoundError } from '../errors.js';
import { changedBy } from '../notify/notices.js';
import type { ChangeKind, OwnChangeKind, PinRefusal } from './change.js';
import type { PinContext } from './context.js';
import { checkPinPolicy, type PinOwner } from './policy.js';
import { oncePerRequest } from './requests.js';
import { pinStatus } from './status.js';

// The one path for every PIN change (DESIGN §3), the phone's two halves of it (a new PIN checked
// and held as a hash, then confirmed and saved), and an administrator's flags and unlocks.

/** A saved change comes back with the account as it is now (new expiry, flags) and the credential's new version. */
export type ChangeResult = { ok: true; account: Account; credentialVersion: number } | { ok: false; refusal: PinRefusal };

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
  /**
   * The phone's changes: the credential version the call's sign-in proved. The change is refused
   * ([signin.reauth]) once it has moved: a reset, another change, "must change" set or cleared.
   */
  provedVersion?: number;
}

/** The phone's new PIN, checked or confirmed, for the user and credential the call's sign-in proved. */
export interface CallersChange {
  userId: number;
  provedVersion: number;
  kind: OwnChangeKind;
}

/** The events that record a save request's outcome (a reset or an administrator's change never comes from a call). */
const CHANGE_OUTCOMES: ReadonlySet<AuditEventName> = new Set<AuditEventName>(['pin.changed']);

/** A call state sealed before it carried a version (or altered) proves no credential at all. */
function proves(change: CallersChange): boolean {
  return Number.isInteger(change.provedVersion);
}

function saved(account: AccountWithHash): ChangeResult {
  return { ok: true, account: { user: account.user, pin: account.pin, rule: account.rule }, credentialVersion: account.credentialVersion };
}

function ownerOf(account: Account): PinOwner {
  return { extension: account.user.extension, firstName: account.user.firstName, lastName: account.user.lastName };
}

/**
 * Checks a proposed new PIN without saving it: the first half of the phone's new-PIN dialog.
 * Accepted, it comes back as a hash to hold until the caller confirms it.
 */
export function preparePin(
  ctx: PinContext,
  request: CallersChange & { newPin: string },
): Promise<{ ok: true; pendingPinHash: string } | { ok: false; refusal: PinRefusal }> {
  if (!proves(request)) return Promise.resolve({ ok: false, refusal: { rule: 'reauth' } });
  return ctx.gate.run(async () => {
    // A plain read: the save checks everything again, the version too, under the row lock.
    const account = await findAccountWithHash(ctx.pool, { userId: request.userId });
    if (!account) return { ok: false, refusal: { rule: 'locked' } };
    const refusal = await refusalFor(ctx, ctx.pool, account, request);
    if (refusal) return { ok: false, refusal };
    return { ok: true, pendingPinHash: await ctx.hasher.hash(request.newPin) };
  });
}

/**
 * The phone's confirmation step: the second entry must match the pending hash, then the PIN
 * is changed through the one change path.
 */
export function confirmPin(
  ctx: PinContext,
  request: CallersChange & { confirmation: string; pendingPinHash: string; actor: Actor; call?: CallTurn },
): Promise<ChangeResult | { ok: false; mismatch: true }> {
  if (!proves(request)) return Promise.resolve({ ok: false, refusal: { rule: 'reauth' } });
  return ctx.gate.run(async () => {
    if (!(await ctx.hasher.verify(request.pendingPinHash, request.confirmation))) {
      return { ok: false as const, mismatch: true as const };
    }
    return changeInSlot(ctx, { ...request, newPin: request.confirmation });
  });
}

/**
 * The one path for every PIN change (phone, admin web, self-service, API, CLI). In one
 * transaction: checks the rule, trivial PINs and history; hashes; keeps the history; sets the
 * flags; audits.
 */
export function changePin(ctx: PinContext, request: ChangePinRequest): Promise<ChangeResult> {
  return ctx.gate.run(() => changeInSlot(ctx, request));
}

async function changeInSlot(ctx: PinContext, request: ChangePinRequest): Promise<ChangeResult> {
  // Set by a delivery that saved, and reported once its transaction has committed.
  let changed = false;
  const result = await oncePerRequest<ChangeResult>(ctx.pool, request.call, {
    outcomes: CHANGE_OUTCOMES,
    lock: (client) => lockAccount(client, { userId: request.userId }),
    async apply(client, call, locked) {
      const applied = await applyChange(ctx, client, { ...request, call }, locked);
      changed = applied.ok;
      return applied;
    },
    // A retried save of the credential as it still is: the first delivery saved the PIN.
    replay: async (_events, account) => (account ? saved(account) : { ok: false, refusal: { rule: 'locked' } }),
  });
  if (changed) ctx.observer.pinChanged(request.actor.channel);
  return result;
}

/**
 * The change itself, in the caller's transaction, inside a hashing slot the caller holds.
 * `locked`: the account when the caller has already locked its row.
 */
export async function applyChange(ctx: PinContext, client: PoolClient, request: ChangePinRequest, locked?: AccountWithHash | null): Promise<ChangeResult> {
  const account = locked === undefined ? await lockAccount(client, { userId: request.userId }) : locked;
  if (!account) {
    // A user deleted during their own call or web session: nothing to save.
    if (request.kind !== 'administrative' && request.kind !== 'reset') return { ok: false, refusal: { rule: 'locked' } };
    throw new NotFoundError(`user ${request.userId}`);
  }
  const refusal = await refusalFor(ctx, client, account, request);
  if (refusal) return { ok: false, refusal };
  const newHash = await ctx.hasher.hash(request.newPin);
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
    await applySettings(client, { ...account, pin: { ...account.pin, ...flags } }, request.settings, request.actor);
  }
  const channels = await ctx.notifier.queue(
    client,
    account.user,
    reset ? { kind: 'pin_reset', pin: request.newPin, hours: account.rule.tempPinHours } : { kind: 'pin_changed', by: changedBy(request.actor) },
  );
  // Read back before the audit row, which records the version this request's effects left.
  const after = await findAccountWithHash(client, { userId: account.user.id });
  if (!after) throw new NotFoundError(`user ${account.user.id}`);
  await recordAudit(client, {
    event: reset ? 'pin.reset' : 'pin.changed',
    actor: request.actor,
    userId: account.user.id,
    extension: account.user.extension,
    details: reset
      ? { channels, shownOnce: request.showOnce === true }
      : { kind: request.kind, ...(request.kind === 'administrative' ? { mustChange: flags.mustChange } : {}) },
    call: request.call ?? null,
    credentialVersion: after.credentialVersion,
  });
  return saved(after);
}

async function refusalFor(
  ctx: PinContext,
  client: Queryable,
  account: AccountWithHash,
  request: { newPin: string; kind: ChangeKind; provedVersion?: number },
): Promise<PinRefusal | null> {
  const { newPin, kind } = request;
  const status = pinStatus(account.pin, account.rule, ctx.clock());
  // The user's own changes stop at a lock at once, even mid-call; an administrator's do not.
  const own = kind !== 'administrative' && kind !== 'reset';
  if (own && status.lockout) return { rule: 'locked' };
  // A reset or a change since the call's sign-in takes the account back from the call.
  if (request.provedVersion !== undefined && request.provedVersion !== account.credentialVersion) return { rule: 'reauth' };
  if (kind === 'voluntary') {
    if (account.pin.cannotChange) return { rule: 'cannot_change' };
    if (status.tooSoonToChange) return { rule: 'too_soon', minutes: account.rule.minChangeMinutes };
  }
  const policy = checkPinPolicy(newPin, account.rule, ownerOf(account), ctx.commonPins);
  if (policy) return policy;
  const previous = [account.pinHash, ...(await pinHistory(client, account.user.id, account.rule.historyCount))];
  for (const hash of previous) {
    if (await ctx.hasher.reuses(hash, newPin)) return { rule: 'reused', history: account.rule.historyCount };
  }
  return null;
}

/** Sets flags and unlocks, in one audited transaction: an administrator's, the API's or the CLI's change. */
export async function updateSettings(ctx: PinContext, userId: number, settings: PinSettings, actor: Actor): Promise<void> {
  await withTransaction(ctx.pool, (client) => updateSettingsIn(client, userId, settings, actor));
}

/** The same inside a caller's transaction (with other changes that must land together). */
export async function updateSettingsIn(client: PoolClient, userId: number, settings: PinSettings, actor: Actor): Promise<void> {
  const account = await lockAccount(client, { userId });
  if (!account) throw new NotFoundError(`user ${userId}`);
  await applySettings(client, account, settings, actor);
}

async function applySettings(client: PoolClient, account: Account, settings: PinSettings, actor: Actor): Promise<void> {
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
