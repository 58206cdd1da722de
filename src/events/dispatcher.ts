import { Webhook } from 'standardwebhooks';
import type { AuditRecord } from '../db/audit.js';
import type { Config } from '../config.js';
import {
  lockDispatch,
  outboxHasWork,
  readOutbox,
  saveDispatch,
  startDispatchAtEnd,
  type OutboxEvent,
  type OutboxPosition,
} from '../db/events.js';
import { withTransaction, type Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';
import { SECRET_FIELDS } from '../secret-fields.js';

/** What the receiver gets for one audit event: the body of the POST (Standard Webhooks shape). */
export interface OperatorEvent {
  /** The audit event's name, e.g. `signin.failed`. */
  type: string;
  /** When the event happened (ISO 8601). */
  timestamp: string;
  /** The audit row, its time in ISO 8601 and any secret-named detail removed. */
  data: Omit<AuditRecord, 'at'> & { at: string };
}

export interface EventDispatcherOptions {
  pool: Pool;
  config: NonNullable<Config['events']>;
  logger: Logger;
  /** How often an idle instance looks for new events; default 1 s. */
  pollIntervalMs?: number;
  fetch?: typeof fetch;
  /** After a failed delivery the next attempt waits this long, doubling up to maxMs; default 1 s to 60 s. */
  backoff?: { initialMs: number; maxMs: number };
  /** How long one POST may take; default 5 s. */
  postTimeoutMs?: number;
}

export interface EventDispatcher {
  /**
   * Stops polling and waits for a pass in flight, which sends no further event after its current
   * POST (at most `postTimeoutMs`). Call it before closing the pool.
   */
  stop(): Promise<void>;
  /** Runs one pass now (after any pass in flight; none once stopped); resolves to the number of events delivered. */
  tick(): Promise<number>;
}

/** Events read per pass. */
const BATCH_SIZE = 50;
/** A pass takes no new event after this long, so its transaction stays short (see below). */
const PASS_BUDGET_MS = 5000;

/**
 * Delivers every audit event to the operators' webhook, in the outbox's order, once per event in
 * normal operation and at least once across crashes (the receiver drops repeats by webhook-id).
 *
 * Each pass is one transaction that locks the progress row (SKIP LOCKED: another instance holding
 * it is delivering, and this one does nothing), posts the events, and records how far it got.
 * The transaction stays open during the POSTs. That is simpler than claiming events, posting
 * outside, and then comparing-and-setting the progress with a lease: the row lock is the lease,
 * it ends with the connection if the instance dies, and no other instance can post the same
 * events meanwhile. What it costs is one connection held while posting, and it is kept short: at
 * most 50 events, no new event after 5 s, each POST cut at 5 s, and a failure ends the pass. A
 * crash before COMMIT sends that pass's events again, which the stable webhook-id makes harmless.
 */
export function startEventDispatcher(options: EventDispatcherOptions): EventDispatcher {
  const { pool, config, logger } = options;
  const pollIntervalMs = options.pollIntervalMs ?? 1000;
  const send = options.fetch ?? fetch;
  const backoff = options.backoff ?? { initialMs: 1000, maxMs: 60_000 };
  const postTimeoutMs = options.postTimeoutMs ?? 5000;
  // Built once, so a malformed secret stops the start rather than every delivery.
  const webhook = new Webhook(config.secret);
  const { url, authorization } = splitCredentials(config.url);
  let stopped = false;
  const delay = (failures: number) => Math.min(backoff.maxMs, backoff.initialMs * 2 ** Math.max(0, failures - 1));

  /** null when the receiver answered 2xx, else why not, in one line. */
  async function post(event: OutboxEvent): Promise<string | null> {
    const body = JSON.stringify(toOperatorEvent(event));
    const id = `evt_${event.id}`;
    const now = new Date();
    try {
      const response = await send(url, {
        method: 'POST',
        headers: {
          ...(authorization ? { authorization } : {}),
          'content-type': 'application/json',
          'user-agent': 'pinline',
          'webhook-id': id,
          'webhook-timestamp': String(Math.floor(now.getTime() / 1000)),
          'webhook-signature': webhook.sign(id, now, body),
        },
        body,
        // A redirect is not a delivery: a 3xx counts as a failure rather than a re-POST elsewhere.
        redirect: 'manual',
        signal: AbortSignal.timeout(postTimeoutMs),
      });
      await response.body?.cancel().catch(() => undefined);
      return response.status >= 200 && response.status < 300 ? null : `HTTP ${response.status}`;
    } catch (err) {
      return describeError(err, postTimeoutMs);
    }
  }

  async function pass(): Promise<number> {
    // Idle polls cost one read and no transaction.
    if (!(await outboxHasWork(pool))) return 0;
    return withTransaction(pool, async (client) => {
      const lock = await lockDispatch(client);
      if (lock.state !== 'ready') return 0;
      if (lock.position === null) {
        const start = await startDispatchAtEnd(client);
        logger.info({ after: start.id }, 'event delivery started: events written from now on are sent');
        return 0;
      }
      const events = await readOutbox(client, lock.position, BATCH_SIZE);
      const started = Date.now();
      let delivered: OutboxPosition = lock.position;
      let count = 0;
      let failure: { error: string; retryInMs: number } | null = null;
      for (const event of events) {
        // A stopping instance records the POST in flight and starts no other.
        if (stopped || (count > 0 && Date.now() - started > PASS_BUDGET_MS)) break;
        const error = await post(event);
        if (error !== null) {
          const failures = lock.failures + 1;
          failure = { error, retryInMs: delay(failures) };
          // No URL and no body: the URL may carry a token, and the body is the receiver's business.
          logger.warn(
            { eventId: `evt_${event.id}`, event: event.event, failures, retryInMs: failure.retryInMs, error },
            'event delivery failed; retrying later',
          );
          break;
        }
        delivered = event.position;
        count++;
      }
      // A delivery ends a run of failures; a pass that tried nothing leaves the record as it is.
      if (count > 0 || failure !== null) await saveDispatch(client, delivered, failure);
      return count;
    });
  }

  // One pass at a time in this instance (the row lock keeps instances apart).
  let chain: Promise<unknown> = Promise.resolve();
  const enqueue = (): Promise<number> => {
    const run = chain.then(pass);
    chain = run.catch(() => undefined);
    return run;
  };

  let timer: NodeJS.Timeout | null = null;
  let databaseFailures = 0;
  const schedule = (ms: number) => {
    if (stopped) return;
    timer = setTimeout(() => void loop(), ms);
    // Polling never keeps the process alive by itself.
    timer.unref();
  };
  const loop = async () => {
    timer = null;
    let next = pollIntervalMs;
    try {
      // More may be waiting after a pass that delivered: go on at once.
      if ((await enqueue()) > 0) next = 0;
      databaseFailures = 0;
    } catch (err) {
      databaseFailures++;
      next = Math.max(pollIntervalMs, delay(databaseFailures));
      logger.warn({ err: { message: oneLine(err instanceof Error ? err.message : String(err)) }, retryInMs: next }, 'event dispatch failed; retrying later');
    }
    schedule(next);
  };
  schedule(0);

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await chain;
    },
    tick: enqueue,
  };
}

const SECRET_KEYS = new Set<string>(SECRET_FIELDS.map((field) => field.toLowerCase()));
const HASH = /^\$argon2/;

/**
 * Audit details never hold a PIN, a hash or a password; this makes the payload provably clean
 * anyway: any key named like a secret field (at any depth) and any argon2 hash string is dropped.
 */
function withoutSecrets(value: unknown): unknown {
  if (typeof value === 'string') return HASH.test(value) ? undefined : value;
  if (Array.isArray(value)) return value.map(withoutSecrets).filter((item) => item !== undefined);
  if (value !== null && typeof value === 'object') {
    const kept: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      if (SECRET_KEYS.has(key.toLowerCase())) continue;
      const cleaned = withoutSecrets(item);
      if (cleaned !== undefined) kept[key] = cleaned;
    }
    return kept;
  }
  return value;
}

function toOperatorEvent(event: OutboxEvent): OperatorEvent {
  const at = event.at.toISOString();
  return {
    type: event.event,
    timestamp: at,
    data: {
      id: event.id,
      at,
      event: event.event,
      channel: event.channel,
      actor: event.actor,
      userId: event.userId,
      extension: event.extension,
      callSid: event.callSid,
      details: withoutSecrets(event.details) as Record<string, unknown>,
    },
  };
}

/**
 * fetch refuses a URL with credentials in it (and would name the URL in its error), so
 * `https://user:password@host/…` is sent to the bare URL with HTTP Basic authentication.
 */
function splitCredentials(raw: string): { url: string; authorization: string | null } {
  const url = new URL(raw);
  if (!url.username && !url.password) return { url: url.toString(), authorization: null };
  const pair = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { url: url.toString(), authorization: `Basic ${Buffer.from(pair).toString('base64')}` };
}

/** One line for the log and the progress row, with any URL left out: it may carry a token. */
function oneLine(text: string): string {
  return text.replace(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi, '<url>').replace(/\s+/g, ' ').trim().slice(0, 300);
}

/** A failed fetch as one line: a timeout, or the network error underneath "fetch failed". */
function describeError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  if (cause && typeof cause.message === 'string') {
    return oneLine(typeof cause.code === 'string' && !cause.message.includes(cause.code) ? `${cause.code}: ${cause.message}` : cause.message);
  }
  return oneLine(err instanceof Error ? err.message : String(err));
}
