import type { User } from '../accounts/model.js';
import type { Actor } from '../audit/actor.js';
import type { PoolClient } from '../db/pool.js';

/** How a message reaches a user. */
export type DeliveryChannel = 'sms' | 'email';

/** Who made a change, as the user is told it: never more than that. */
export type ChangedBy = 'phone' | 'web' | 'administrator';

/** What a user is told (DESIGN §8). Only a reset carries a secret: its PIN. */
export type Notice =
  | { kind: 'pin_reset'; pin: string; hours: number }
  | { kind: 'pin_changed'; by: ChangedBy }
  | { kind: 'lockout' }
  | { kind: 'web_password_changed'; by: ChangedBy }
  | { kind: 'email_changed'; previousAddress: string };

export type NoticeKind = Notice['kind'];

/**
 * Queues messages to users in the caller's own transaction, so a change that rolls back sends
 * nothing and a committed one is delivered at least once. The domain services depend on this
 * interface only; src/notify/queue.ts implements it with a job queue.
 */
export interface Notifier {
  /** The channels that reach the user now: their phone or e-mail, where that channel is configured. */
  reachable(user: Pick<User, 'phone' | 'email'>): DeliveryChannel[];
  /**
   * Queues one message per channel that reaches the user (or, with `to`, the one address given:
   * the old address of a changed e-mail); returns the channels queued.
   */
  queue(client: PoolClient, user: User, notice: Notice, to?: { channel: DeliveryChannel; address: string }): Promise<DeliveryChannel[]>;
}

/** The change's author, as the user's message says it. */
export function changedBy(actor: Actor): ChangedBy {
  if (actor.channel === 'phone') return 'phone';
  if (actor.channel === 'web') return 'web';
  return 'administrator';
}
