import { E164_PATTERN, type Account } from '../accounts/model.js';
import type { Actor } from '../audit/actor.js';
import type { CallTurn } from '../db/audit.js';
import type { CallerSnapshot, DialogEvent, Effect } from '../dialog/index.js';
import { HashingBusyError } from '../errors.js';
import { pinStatus } from '../pin/status.js';
import type { Services } from '../runtime.js';

export interface CallContext {
  call: CallTurn;
  from: string;
  actor: Actor;
}

/** The dialog's snapshot of an account: what its menu turns need without a database round-trip. */
export function callerSnapshot(account: Account, now: Date, credentialVersion: number): CallerSnapshot {
  const status = pinStatus(account.pin, account.rule, now);
  return {
    userId: account.user.id,
    credentialVersion,
    extension: account.user.extension,
    locale: account.user.locale,
    requiredChange: status.requiredChange,
    daysUntilExpiry: status.daysUntilExpiry,
    warningDays: account.rule.warningDays,
    cannotChange: account.pin.cannotChange,
    tooSoonToChange: status.tooSoonToChange,
    responseWait: account.user.responseWait,
    minLength: account.rule.minLength,
    maxLength: account.rule.maxLength,
  };
}

/**
 * Runs one dialog effect and returns the event that carries its result back into the dialog.
 * Hashing overload becomes `busy`; any other failure becomes `failed` ([error.unavailable]).
 */
export async function runEffect(services: Services, context: CallContext, effect: Effect): Promise<DialogEvent | null> {
  const { pins, accounts } = services;
  try {
    switch (effect.type) {
      case 'lookup_caller': {
        const user = E164_PATTERN.test(context.from) ? await accounts.findCaller(context.from) : null;
        return { type: 'caller_identified', match: user ? { extension: user.extension, locale: user.locale } : null };
      }
      case 'verify_signin': {
        const result = await pins.verifySignin({ extension: effect.extension, pin: effect.pin, actor: context.actor, call: context.call });
        if (result.outcome === 'ok') {
          return { type: 'signin_result', outcome: 'ok', account: callerSnapshot(result.account, new Date(), result.credentialVersion) };
        }
        if (result.outcome === 'invalid') return { type: 'signin_result', outcome: 'invalid', maxFailedPerCall: result.maxFailedPerCall };
        if (result.outcome === 'locked') {
          const lockedForMinutes = result.lockedUntil === null ? null : (result.lockedUntil.getTime() - Date.now()) / 60_000;
          return { type: 'signin_result', outcome: 'locked', lockedForMinutes };
        }
        return { type: 'signin_result', outcome: result.outcome };
      }
      case 'check_new_pin': {
        const result = await pins.preparePin({ userId: effect.userId, provedVersion: effect.credentialVersion, newPin: effect.pin, kind: effect.kind });
        return result.ok
          ? { type: 'pin_checked', outcome: 'accepted', pendingPinHash: result.pendingPinHash }
          : { type: 'pin_checked', outcome: 'rejected', refusal: result.refusal };
      }
      case 'save_pin': {
        const result = await pins.confirmPin({
          userId: effect.userId,
          provedVersion: effect.credentialVersion,
          confirmation: effect.confirmation,
          pendingPinHash: effect.pendingPinHash,
          kind: effect.kind,
          actor: context.actor,
          call: context.call,
        });
        if (result.ok) {
          const snapshot = callerSnapshot(result.account, new Date(), result.credentialVersion);
          return {
            type: 'pin_saved',
            outcome: 'saved',
            daysUntilExpiry: snapshot.daysUntilExpiry,
            tooSoonToChange: snapshot.tooSoonToChange,
            credentialVersion: snapshot.credentialVersion,
          };
        }
        if ('mismatch' in result) return { type: 'pin_saved', outcome: 'mismatch' };
        return { type: 'pin_saved', outcome: 'rejected', refusal: result.refusal };
      }
      case 'audit': {
        await services.audit.recordCallEvent(effect.event, context.actor, context.call);
        return null;
      }
    }
  } catch (err) {
    if (err instanceof HashingBusyError) {
      // The dialog answers every busy event with [system.busy].
      services.metrics.busyAnswer('phone');
      return { type: 'busy' };
    }
    if (effect.type === 'audit') {
      // Losing a per-call audit note must not cut the caller off.
      services.logger.warn({ callSid: context.call.callSid, err: { message: (err as Error).message } }, 'call audit failed');
      return null;
    }
    services.logger.error({ callSid: context.call.callSid, effect: effect.type, err: { message: (err as Error).message } }, 'effect failed');
    return { type: 'failed' };
  }
}
