import type { Account, PinFlags, User } from '../accounts/model.js';
import type { Actor } from '../audit/actor.js';
import type { CallTurn } from '../db/audit.js';
import type { PoolClient } from '../db/pool.js';
import type { DeliveryChannel } from '../notify/notices.js';
import { refusalError, type PinRefusal } from './change.js';
import * as changes from './change-path.js';
import type { CallersChange, ChangePinRequest, ChangeResult, PinSettings } from './change-path.js';
import { pinContext, type PinContext, type PinServiceDeps } from './context.js';
import type { PinOwner } from './policy.js';
import * as resets from './reset.js';
import type { InitialPin, ResetResult } from './reset.js';
import type { AuthRule } from './rules.js';
import * as signin from './signin.js';
import type { SigninRequest, SigninResult } from './signin.js';

export type { PinObserver } from './context.js';
export type { SigninOutcome } from './signin.js';
export type { InitialPin, PinSettings };

/**
 * The one implementation of checking a PIN at sign-in and of changing a PIN, for every channel
 * (DESIGN §3). All argon2 work runs inside a HashGate slot, one slot per request. A thin front:
 * sign-in lives in `signin.ts`, changes and settings in `change-path.ts`, resets and first PINs
 * in `reset.ts`.
 */
export class PinService {
  private readonly ctx: PinContext;

  constructor(deps: PinServiceDeps) {
    this.ctx = pinContext(deps);
  }

  verifySignin(request: SigninRequest): Promise<SigninResult> {
    return signin.verifySignin(this.ctx, request);
  }

  admitWebSignin(userId: number, actor: Actor): Promise<signin.WebAdmission> {
    return signin.admitWebSignin(this.ctx, userId, actor);
  }

  preparePin(request: CallersChange & { newPin: string }): Promise<
    { ok: true; pendingPinHash: string } | { ok: false; refusal: PinRefusal }
  > {
    return changes.preparePin(this.ctx, request);
  }

  confirmPin(request: CallersChange & { confirmation: string; pendingPinHash: string; actor: Actor; call?: CallTurn }): Promise<ChangeResult | { ok: false; mismatch: true }> {
    return changes.confirmPin(this.ctx, request);
  }

  changePin(request: ChangePinRequest): Promise<ChangeResult> {
    return changes.changePin(this.ctx, request);
  }

  /** changePin for callers that answer a refusal with an error (the API, the CLI). */
  async changePinOrThrow(request: ChangePinRequest): Promise<Account> {
    const result = await this.changePin(request);
    if (!result.ok) throw refusalError(result.refusal);
    return result.account;
  }

  resetPin(userId: number, actor: Actor, options: { showOnce?: boolean } = {}): Promise<ResetResult> {
    return resets.resetPin(this.ctx, userId, actor, options);
  }

  resetPinIn(client: PoolClient, userId: number, actor: Actor): Promise<DeliveryChannel[]> {
    return resets.resetPinIn(this.ctx, client, userId, actor);
  }

  generatePinFor(rule: AuthRule, owner: PinOwner): string {
    return resets.generatePinFor(this.ctx, rule, owner);
  }

  prepareInitialPin(rule: AuthRule, owner: PinOwner, chosen: string | undefined): Promise<InitialPin> {
    return resets.prepareInitialPin(this.ctx, rule, owner, chosen);
  }

  untoldInitialPin(): Promise<InitialPin> {
    return resets.untoldInitialPin(this.ctx);
  }

  insertInitialPin(client: PoolClient, user: User, initial: InitialPin, flags: Partial<PinFlags>, actor: Actor): Promise<void> {
    return resets.insertInitialPin(client, user, initial, flags, actor);
  }

  updateSettings(userId: number, settings: PinSettings, actor: Actor): Promise<void> {
    return changes.updateSettings(this.ctx, userId, settings, actor);
  }

  updateSettingsIn(client: PoolClient, userId: number, settings: PinSettings, actor: Actor): Promise<void> {
    return changes.updateSettingsIn(client, userId, settings, actor);
  }
}
