import { randomBytes, randomInt } from 'node:crypto';
import type { PinFlags, User } from '../accounts/model.js';
import type { Actor } from '../audit/actor.js';
import { recordAudit } from '../db/audit.js';
import { insertPinCredential } from '../db/pin-credentials.js';
import type { PoolClient } from '../db/pool.js';
import { findAccount } from '../db/users.js';
import { InputError, NotFoundError } from '../errors.js';
import type { DeliveryChannel } from '../notify/notices.js';
import { refusalError, type PinRefusal } from './change.js';
import { applyChange, changePin } from './change-path.js';
import type { PinContext } from './context.js';
import { checkPinPolicy, generatePin, type PinOwner } from './policy.js';
import type { AuthRule } from './rules.js';

// PINs nobody chose: the helpdesk's reset (DESIGN §8) and a new user's first PIN.

/** What a reset did: the channels its message went by, and the PIN only when it was asked for once. */
export interface ResetResult {
  channels: DeliveryChannel[];
  pin: string | null;
}

/** A new user's first PIN, checked and hashed before the user's transaction begins. */
export interface InitialPin {
  pinHash: string;
  /** The PIN when it was generated, to hand over once; null when the administrator chose it, or no one is told it. */
  generatedPin: string | null;
  /** A random secret that no one is told (a bulk import's): the user signs in once an administrator sets or resets a PIN. */
  untold?: true;
}

/** A random PIN can land on one in the history; a few more draws always find another. */
const RESET_DRAWS = 20;

/**
 * The helpdesk's reset (DESIGN §8): a random PIN the user's rule accepts (length, trivial PINs,
 * history), through the one change path, with "must change" set and an intruder lockout
 * cleared. It is sent to the user by every channel that reaches them, and shown to the
 * administrator only when `showOnce` asks for it; with no channel and no `showOnce`, nothing
 * changes.
 */
export async function resetPin(ctx: PinContext, userId: number, actor: Actor, options: { showOnce?: boolean } = {}): Promise<ResetResult> {
  const account = await findAccount(ctx.pool, { userId });
  if (!account) throw new NotFoundError(`user ${userId}`);
  const showOnce = options.showOnce === true;
  if (!showOnce) mustReach(ctx, account.user);
  for (let draw = 1; ; draw++) {
    const pin = generatePinFor(ctx, account.rule, account.user);
    const result = await changePin(ctx, { userId, newPin: pin, kind: 'reset', actor, showOnce });
    if (result.ok) {
      const channels = ctx.notifier.reachable(result.account.user);
      return { channels, pin: showOnce ? pin : null };
    }
    drawAgainAfter(result.refusal, draw);
  }
}

/**
 * The same reset inside the caller's transaction, for a user it has just created (a bulk
 * import's row with --reset-pins): the PIN is only ever sent, never shown.
 */
export function resetPinIn(ctx: PinContext, client: PoolClient, userId: number, actor: Actor): Promise<DeliveryChannel[]> {
  return ctx.gate.run(async () => {
    const account = await findAccount(client, { userId });
    if (!account) throw new NotFoundError(`user ${userId}`);
    mustReach(ctx, account.user);
    for (let draw = 1; ; draw++) {
      const pin = generatePinFor(ctx, account.rule, account.user);
      const result = await applyChange(ctx, client, { userId, newPin: pin, kind: 'reset', actor });
      if (result.ok) {
        // Counted now, before the caller commits: an import that then fails to commit stops with an error.
        ctx.observer.pinChanged(actor.channel);
        return ctx.notifier.reachable(result.account.user);
      }
      drawAgainAfter(result.refusal, draw);
    }
  });
}

/** A reset sends the PIN, so a user that no configured channel reaches is refused before anything changes. */
function mustReach(ctx: PinContext, user: User): void {
  if (ctx.notifier.reachable(user).length > 0) return;
  throw new InputError(
    'unreachable',
    `user ${user.extension} has no phone or e-mail that a configured channel reaches, so the PIN cannot be sent: nothing was changed (ask to see the PIN once instead)`,
    409,
  );
}

/** Only the history can refuse a generated PIN: draw again, a few times at most. */
function drawAgainAfter(refusal: PinRefusal, draw: number): void {
  if (refusal.rule !== 'reused' || draw >= RESET_DRAWS) throw refusalError(refusal);
}

/** A random PIN that the user's rule accepts. */
export function generatePinFor(ctx: PinContext, rule: AuthRule, owner: PinOwner): string {
  return generatePin(rule, owner, ctx.commonPins, () => randomInt(10));
}

/**
 * A new user's first PIN: the one chosen (checked against the rule; there is no history yet) or
 * a random one, hashed. Done before the user's transaction, so no connection waits on hashing.
 */
export function prepareInitialPin(ctx: PinContext, rule: AuthRule, owner: PinOwner, chosen: string | undefined): Promise<InitialPin> {
  const generatedPin = chosen === undefined ? generatePinFor(ctx, rule, owner) : null;
  const pin = chosen ?? (generatedPin as string);
  const refusal = checkPinPolicy(pin, rule, owner, ctx.commonPins);
  if (refusal) return Promise.reject(refusalError(refusal));
  return ctx.gate.run(async () => ({ pinHash: await ctx.hasher.hash(pin), generatedPin }));
}

/**
 * A first PIN for users that no one is told: one random secret, hashed once, for every user a
 * bulk import creates. Hashing a PIN per row would cost an argon2 hash each (10,000 rows, minutes
 * of CPU); one secret is as good, since it is made of letters and symbols that no phone keypad
 * can send, is never stored or shown, and is forgotten once hashed. So nobody can sign in with it
 * until an administrator sets or resets a PIN.
 */
export function untoldInitialPin(ctx: PinContext): Promise<InitialPin> {
  const secret = `untold:${randomBytes(32).toString('base64url')}`;
  return ctx.gate.run(async () => ({ pinHash: await ctx.hasher.hash(secret), generatedPin: null, untold: true }));
}

/** A PIN nobody chose, generated or untold, is temporary: its lifetime counts from now. */
function isGenerated(initial: InitialPin): boolean {
  return initial.generatedPin !== null || initial.untold === true;
}

/** The `pin.set` audit row's details for a new user's first PIN. */
export function initialPinDetails(initial: InitialPin, flags: Partial<PinFlags>): Record<string, unknown> {
  return { generated: isGenerated(initial), ...(initial.untold ? { untold: true } : {}), ...flags };
}

/** Stores a new user's first PIN in the user's own transaction, audited as the PIN set. */
export async function insertInitialPin(client: PoolClient, user: User, initial: InitialPin, flags: Partial<PinFlags>, actor: Actor): Promise<void> {
  await insertPinCredential(client, user.id, initial.pinHash, flags, isGenerated(initial), initial.untold === true);
  await recordAudit(client, {
    event: 'pin.set',
    actor,
    userId: user.id,
    extension: user.extension,
    details: initialPinDetails(initial, flags),
  });
}
