import type { Channel } from '../audit/actor.js';
import type { Pool } from '../db/pool.js';
import type { Notifier } from '../notify/notices.js';
import type { CommonPinList } from './common-pins.js';
import type { HashGate } from './hash-gate.js';
import type { SecretHasher } from './hasher.js';
import type { SigninOutcome } from './signin.js';

/**
 * Told what the PIN paths did, after the transaction committed and once per request (a replayed
 * Twilio retry is not told again). The metrics module implements it, so the domain stays free of it.
 */
export interface PinObserver {
  signin(outcome: SigninOutcome): void;
  /** Intruder detection locked an account. */
  lockout(): void;
  pinChanged(channel: Channel): void;
}

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

/** What every PIN path (sign-in, change, reset) works with: the dependencies, clock and observer filled in. */
export interface PinContext extends Omit<PinServiceDeps, 'clock' | 'observer'> {
  clock: () => Date;
  observer: PinObserver;
}

const UNOBSERVED: PinObserver = { signin() {}, lockout() {}, pinChanged() {} };

export function pinContext(deps: PinServiceDeps): PinContext {
  return { ...deps, clock: deps.clock ?? (() => new Date()), observer: deps.observer ?? UNOBSERVED };
}
