import { EXTENSION_PATTERN, type Account, type AccountWithHash } from '../accounts/model.js';
import type { Actor } from '../audit/actor.js';
import type { AuditEventName } from '../audit/events.js';
import { recordAudit, type CallTurn } from '../db/audit.js';
import { claimLockoutNotice } from '../db/notifications.js';
import { markInactiveLock, recordSigninFailure, recordSigninSuccess, recordWebSignin } from '../db/pin-credentials.js';
import { withTransaction, type PoolClient } from '../db/pool.js';
import { findRuleByName } from '../db/rules.js';
import { lockAccount } from '../db/users.js';
import { HashingBusyError } from '../errors.js';
import type { PinContext } from './context.js';
import { oncePerRequest } from './requests.js';
import { DEFAULT_RULE_NAME } from './rules.js';
import { pinStatus, type PinStatus } from './status.js';

// The one PIN check (DESIGN §3): sign-in with failure counting and lockout, a retry answered from
// its first outcome, and the web's sign-in admitted past the same locks.

export type SigninResult =
  // The credential version the sign-in proved travels with the call (DESIGN §3).
  | { outcome: 'ok'; account: Account; credentialVersion: number }
  | { outcome: 'invalid'; maxFailedPerCall: number }
  // lockedUntil: when an intruder lockout ends; null for any lock that waits for an administrator.
  | { outcome: 'locked'; lockedUntil: Date | null }
  | { outcome: 'temp_expired' };

/** What a sign-in came to, as counted: the result's outcome, or busy when no hashing slot freed up in time. */
export type SigninOutcome = SigninResult['outcome'] | 'busy';

export interface SigninRequest {
  extension: string;
  pin: string;
  actor: Actor;
  call?: CallTurn;
}

/** The events that record a sign-in request's outcome: exactly one of them per check. */
const SIGNIN_OUTCOMES: ReadonlySet<AuditEventName> = new Set<AuditEventName>(['signin.succeeded', 'signin.failed', 'signin.refused_locked', 'signin.temp_expired']);

function locked(status: PinStatus): SigninResult {
  return { outcome: 'locked', lockedUntil: status.lockedUntil };
}

function signedIn(account: AccountWithHash): SigninResult {
  return { outcome: 'ok', account: { user: account.user, pin: account.pin, rule: account.rule }, credentialVersion: account.credentialVersion };
}

/**
 * Checks a sign-in. The credential row is locked for the whole check, so parallel guesses on
 * one account are counted one after another and cannot get past the lockout threshold.
 * Unknown extensions are verified against a dummy hash so they cost the same time.
 * With `call`, a retried request replays its first outcome instead of counting again, while the
 * user and credential it recorded are still current; otherwise it is checked in full.
 */
export function verifySignin(ctx: PinContext, request: SigninRequest): Promise<SigninResult> {
  const { hasher, gate } = ctx;
  // Set by a delivery that checked the PIN, and reported once its transaction has committed.
  let applied = false;
  let lockedOut = false;
  const lock = (client: PoolClient) =>
    EXTENSION_PATTERN.test(request.extension) ? lockAccount(client, { extension: request.extension }) : Promise.resolve(null);
  const checked = gate.run(() =>
    oncePerRequest<SigninResult>(ctx.pool, request.call, {
      outcomes: SIGNIN_OUTCOMES,
      lock,
      async apply(client, call, alreadyLocked) {
        applied = true;
        const now = ctx.clock();
        const account = alreadyLocked === undefined ? await lock(client) : alreadyLocked;
        const auditOf = (event: AuditEventName, target: AccountWithHash | null, details: Record<string, unknown> = {}) => ({
          event,
          actor: request.actor,
          userId: target?.user.id ?? null,
          extension: target?.user.extension ?? null,
          details,
          call: call ?? null,
          credentialVersion: target?.credentialVersion ?? null,
        });
        const audit = (...args: Parameters<typeof auditOf>) => recordAudit(client, auditOf(...args));

        if (!account) {
          await hasher.verifyDummy(request.pin);
          // The typed ID is not recorded: callers sometimes key their PIN at the ID prompt.
          await audit('signin.failed', null, { reason: 'unknown_id' });
          return { outcome: 'invalid', maxFailedPerCall: await defaultMaxFailedPerCall(client) };
        }

        const status = pinStatus(account.pin, account.rule, now);
        if (status.lockout) {
          // Not checked, not counted, not extended.
          await auditInactiveLock(client, account, status, now, request.actor, call);
          await audit('signin.refused_locked', account, { lockout: status.lockout });
          return locked(status);
        }

        if (await hasher.verify(account.pinHash, request.pin)) {
          // The right PIN, past its temporary lifetime: refused, but not a failure to count.
          if (status.temporaryExpired) {
            await audit('signin.temp_expired', account, { temporarySince: account.pin.temporarySince?.toISOString() });
            return { outcome: 'temp_expired' };
          }
          // The same PIN re-hashed: the credential, and its version, stay.
          const upgraded = hasher.needsRehash(account.pinHash) ? await hasher.hash(request.pin) : null;
          // Always written: the last sign-in is what the inactivity lock and report count from.
          await recordSigninSuccess(client, {
            userId: account.user.id,
            at: now,
            upgradedHash: upgraded,
            audit: auditOf('signin.succeeded', account, upgraded ? { rehashed: true } : {}),
          });
          const pin = { ...account.pin, failedCount: 0, lockedAt: null, lastSigninAt: now, inactiveLockedAt: null };
          return signedIn({ ...account, pin });
        }

        const failedCount = status.effectiveFailedCount + 1;
        const lockNow = account.rule.maxFailedSignins > 0 && failedCount >= account.rule.maxFailedSignins;
        await recordSigninFailure(client, account.user.id, failedCount, now, lockNow);
        await audit('signin.failed', account, { reason: 'wrong_pin', failedCount });
        if (lockNow) {
          await audit('pin.locked_out', account, { by: 'intruder_detection', failedCount });
          // The user is told, at most once an hour: a lockout is also how guessing shows.
          if (await claimLockoutNotice(client, account.user.id)) await ctx.notifier.queue(client, account.user, { kind: 'lockout' });
        }
        lockedOut = lockNow;
        return { outcome: 'invalid', maxFailedPerCall: account.rule.maxFailedPerCall };
      },
      // A retry of a request already applied, for the same user and credential: answer as the
      // first delivery did, unless the account has been locked since (flags take effect at once).
      async replay(events, account, client) {
        const status = account ? pinStatus(account.pin, account.rule, ctx.clock()) : null;
        if (events.includes('signin.succeeded') && account && status) return status.lockout ? locked(status) : signedIn(account);
        if (events.includes('signin.refused_locked') && status) return locked(status);
        if (events.includes('signin.temp_expired')) return { outcome: 'temp_expired' };
        return { outcome: 'invalid', maxFailedPerCall: account?.rule.maxFailedPerCall ?? (await defaultMaxFailedPerCall(client)) };
      },
    }),
  );
  return checked.then(
    (result) => {
      if (applied) {
        ctx.observer.signin(result.outcome);
        if (lockedOut) ctx.observer.lockout();
      }
      return result;
    },
    (err: unknown) => {
      if (err instanceof HashingBusyError) ctx.observer.signin('busy');
      throw err;
    },
  );
}

/** What a self-service sign-in with the right web password comes to. */
export type WebAdmission = 'ok' | 'locked_directory' | 'locked_by_admin' | 'locked_inactive' | 'gone';

/**
 * A self-service sign-in whose web password was right: refused while the directory's deactivation,
 * an administrator's lock or an inactivity lock applies (DESIGN §7, §9, §11), else recorded as the
 * user's last activity.
 * An intruder lockout of the phone PIN does not stop the web (DESIGN §7).
 */
export function admitWebSignin(ctx: PinContext, userId: number, actor: Actor): Promise<WebAdmission> {
  return withTransaction(ctx.pool, async (client) => {
    const account = await lockAccount(client, { userId });
    if (!account) return 'gone';
    const now = ctx.clock();
    const status = pinStatus(account.pin, account.rule, now);
    if (account.pin.deactivatedAt !== null) return 'locked_directory';
    if (account.pin.lockedByAdmin) return 'locked_by_admin';
    if (status.lockout === 'inactive') {
      await auditInactiveLock(client, account, status, now, actor);
      return 'locked_inactive';
    }
    await recordWebSignin(client, userId, now);
    return 'ok';
  });
}

/** An inactivity lock's first refusal, on any channel, is audited once as `pin.locked_inactive`. */
async function auditInactiveLock(client: PoolClient, account: Account, status: PinStatus, now: Date, actor: Actor, call?: CallTurn): Promise<void> {
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

async function defaultMaxFailedPerCall(client: PoolClient): Promise<number> {
  return (await findRuleByName(client, DEFAULT_RULE_NAME))?.maxFailedPerCall ?? 3;
}
