import { EXTENSION_PATTERN, type Account } from '../accounts/model.js';
import type { Actor } from '../audit/actor.js';
import type { AuditEventName } from '../audit/events.js';
import { recordAudit, type CallTurn } from '../db/audit.js';
import { claimLockoutNotice } from '../db/notifications.js';
import { markInactiveLock, recordSigninFailure, recordSigninSuccess, recordWebSignin } from '../db/pin-credentials.js';
import { withTransaction, type PoolClient } from '../db/pool.js';
import { findRuleByName } from '../db/rules.js';
import { findAccount, lockAccount } from '../db/users.js';
import { HashingBusyError } from '../errors.js';
import type { PinContext } from './context.js';
import { oncePerRequest } from './requests.js';
import { DEFAULT_RULE_NAME } from './rules.js';
import { pinStatus, type PinStatus } from './status.js';

// The one PIN check (DESIGN §3): sign-in with failure counting and lockout, a retry answered from
// its first outcome, and the web's sign-in admitted past the same locks.

export type SigninResult =
  | { outcome: 'ok'; account: Account }
  | { outcome: 'invalid'; maxFailedPerCall: number }
  | { outcome: 'locked' }
  | { outcome: 'temp_expired' };

/** What a sign-in came to, as counted: the result's outcome, or busy when no hashing slot freed up in time. */
export type SigninOutcome = SigninResult['outcome'] | 'busy';

export interface SigninRequest {
  extension: string;
  pin: string;
  actor: Actor;
  call?: CallTurn;
}

/**
 * Checks a sign-in. The credential row is locked for the whole check, so parallel guesses on
 * one account are counted one after another and cannot get past the lockout threshold.
 * Unknown extensions are verified against a dummy hash so they cost the same time.
 * With `call`, a retried request replays its first outcome instead of counting again.
 */
export function verifySignin(ctx: PinContext, request: SigninRequest): Promise<SigninResult> {
  const { hasher, gate } = ctx;
  // Set by a first delivery only, and reported once its transaction has committed.
  let applied = false;
  let lockedOut = false;
  const checked = gate.run(() =>
    oncePerRequest<SigninResult>(
      ctx.pool,
      request.call,
      async (client) => {
        applied = true;
        const now = ctx.clock();
        const account = EXTENSION_PATTERN.test(request.extension) ? await lockAccount(client, { extension: request.extension }) : null;
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
          return { outcome: 'invalid', maxFailedPerCall: await defaultMaxFailedPerCall(client) };
        }

        const status = pinStatus(account.pin, account.rule, now);
        if (status.lockout) {
          // Not checked, not counted, not extended.
          await auditInactiveLock(client, account, status, now, request.actor, request.call);
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
          if (await claimLockoutNotice(client, account.user.id)) await ctx.notifier.queue(client, account.user, { kind: 'lockout' });
        }
        lockedOut = lockNow;
        return { outcome: 'invalid', maxFailedPerCall: account.rule.maxFailedPerCall };
      },
      async (events, client) => {
        // A retry of a request already applied: answer as the first delivery did, unless the
        // account has been locked or deleted since (flags take effect at once).
        if (events.includes('signin.succeeded')) {
          const account = await findAccount(client, { extension: request.extension });
          if (!account || pinStatus(account.pin, account.rule, ctx.clock()).lockout) return { outcome: 'locked' };
          return { outcome: 'ok', account };
        }
        if (events.includes('signin.refused_locked')) return { outcome: 'locked' };
        if (events.includes('signin.temp_expired')) return { outcome: 'temp_expired' };
        const account = await findAccount(client, { extension: request.extension });
        return {
          outcome: 'invalid',
          maxFailedPerCall: account?.rule.maxFailedPerCall ?? (await defaultMaxFailedPerCall(client)),
        };
      },
    ),
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

/**
 * A self-service sign-in whose web password was right: refused while an administrator's lock
 * or an inactivity lock applies (DESIGN §7, §9), else recorded as the user's last activity.
 * An intruder lockout of the phone PIN does not stop the web (DESIGN §7).
 */
export function admitWebSignin(ctx: PinContext, userId: number, actor: Actor): Promise<'ok' | 'locked_by_admin' | 'locked_inactive' | 'gone'> {
  return withTransaction(ctx.pool, async (client) => {
    const account = await lockAccount(client, { userId });
    if (!account) return 'gone';
    const now = ctx.clock();
    const status = pinStatus(account.pin, account.rule, now);
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
