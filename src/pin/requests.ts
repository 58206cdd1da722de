import { createHash } from 'node:crypto';
import type { AccountWithHash } from '../accounts/model.js';
import { lockRequest, recordedEvents, type CallTurn, type RecordedEvent } from '../db/audit.js';
import { withTransaction, type Pool, type PoolClient } from '../db/pool.js';

// A phone request applied once (DESIGN §3 "Idempotent turns" and "A sign-in is bound to the
// credential it proved"): a Twilio retry is answered from the outcome the request recorded, but
// only while the user and credential version that outcome stands for are still current.

/** How one kind of request is applied, replayed, and told apart from its other notes. */
export interface OncePerRequest<T> {
  /** The events that record this request's outcome (a call's own notes, such as its limits, do not). */
  outcomes: ReadonlySet<string>;
  /** Locks the credential row the request is about, as `apply` would. */
  lock: (client: PoolClient) => Promise<AccountWithHash | null>;
  /**
   * Applies the request in full, its events keyed by `call`: the request's own key, or a
   * re-check's. `locked` is the account when it is already locked (undefined: not yet).
   */
  apply: (client: PoolClient, call: CallTurn | undefined, locked?: AccountWithHash | null) => Promise<T>;
  /** Answers as the recorded outcome did, for the account as it is now. */
  replay: (events: readonly string[], account: AccountWithHash | null, client: PoolClient) => Promise<T>;
}

interface Recorded {
  events: string[];
  userId: number | null;
  credentialVersion: number | null;
}

function outcomeIn(events: readonly RecordedEvent[], outcomes: ReadonlySet<string>): Recorded | null {
  const outcome = events.find((e) => outcomes.has(e.event));
  return outcome ? { events: events.map((e) => e.event), userId: outcome.userId, credentialVersion: outcome.credentialVersion } : null;
}

/** The recorded outcome stands for the user and credential the row lock now holds (or for no user at all). */
function isCurrent(recorded: Recorded, account: AccountWithHash | null): boolean {
  return recorded.userId === (account?.user.id ?? null) && recorded.credentialVersion === (account?.credentialVersion ?? null);
}

/**
 * The key a request is checked again under, once its recorded outcome is stale: derived from the
 * request's fingerprint and the user and version it is checked at. Its events cannot meet the
 * first check's under the unique (request_key, event), and an exact retry of the re-check finds
 * them again (a re-check never moves the version: a sign-in does not, and a save that proved an
 * older version is refused), so it too is applied once. Every transaction on it holds the
 * fingerprint's own advisory lock.
 */
function recheckOf(call: CallTurn, account: AccountWithHash | null): CallTurn {
  const at = account ? `${account.user.id}:${account.credentialVersion}` : 'none';
  return { ...call, requestKey: createHash('sha256').update(call.requestKey).update(`\nrecheck\n${at}`).digest() };
}

/**
 * Runs a request in one transaction, once: a retry of a request that already wrote its outcome
 * is answered from it while the user and credential version it recorded are current (checked
 * under the credential row lock that the request takes anyway); otherwise the request is
 * checked in full, as a new one. The unique (request_key, event) key in the database backs this
 * up: no request's effects can ever be written twice.
 */
export function oncePerRequest<T>(pool: Pool, call: CallTurn | undefined, request: OncePerRequest<T>): Promise<T> {
  return withTransaction(pool, async (client) => {
    if (!call) return request.apply(client, undefined);
    // Deliveries of one request run one after another, so a retry that arrives while the
    // first is still running sees its events instead of applying the request again.
    const recorded = outcomeIn(await lockRequest(client, call), request.outcomes);
    if (!recorded) return request.apply(client, call);
    const account = await request.lock(client);
    if (isCurrent(recorded, account)) return request.replay(recorded.events, account, client);
    const recheck = recheckOf(call, account);
    const rechecked = outcomeIn(await recordedEvents(client, recheck.requestKey), request.outcomes);
    if (rechecked && isCurrent(rechecked, account)) return request.replay(rechecked.events, account, client);
    return request.apply(client, recheck, account);
  });
}
