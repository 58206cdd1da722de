import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type PgBoss from 'pg-boss';
import type { User } from '../accounts/model.js';
import { deleteQueuedResets, insertNotificationFailure, listNotificationFailures, NOTIFY_QUEUE as QUEUE, type NotificationFailure } from '../db/notifications.js';
import type { Pool, PoolClient } from '../db/pool.js';
import type { KeyRing, SessionSecret } from '../keys.js';
import type { Logger } from '../logger.js';
import { renderNotice, type MessageTexts } from './messages.js';
import type { DeliveryChannel, Notice, Notifier } from './notices.js';
import { DeliveryError, type Transport, type Transports } from './transports.js';
import { maskPin } from './transports/delivery-error.js';

const CIPHER = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** How often an idle worker looks for jobs: pg-boss polls (no LISTEN/NOTIFY, so PgBouncer is fine). */
const POLL_SECONDS = 0.5;

/**
 * A notice as it waits in the queue: everything but a reset's PIN in clear; the PIN sealed, with
 * the id of the SESSION_SECRET that sealed it (absent on messages queued before ids were kept).
 */
interface QueuedNotice {
  channel: DeliveryChannel;
  to: string;
  locale: string;
  userId: number;
  extension: string;
  notice: Exclude<Notice, { kind: 'pin_reset' }> | { kind: 'pin_reset'; hours: number; sealedPin: string; sealedUnder?: string };
}

export interface RetryPolicy {
  /** Attempts after the first. */
  limit: number;
  delaySeconds: number;
  backoff: boolean;
}

/** The queue's own policy (migrations/0006): about ten minutes of retries, doubling from 2 s. */
const QUEUE_RETRY: RetryPolicy = { limit: 8, delaySeconds: 2, backoff: true };

export interface NotificationQueueDeps {
  pool: Pool;
  transports: Transports;
  texts: MessageTexts;
  /** SESSION_SECRET and the previous ones: a reset PIN is sealed under the current one while it waits, and opened under whichever sealed it. */
  sessionKeys: KeyRing<SessionSecret>;
  logger: Logger;
  /** Told of each delivery attempt (the metrics). */
  onDelivery?: (channel: DeliveryChannel, result: 'sent' | 'failed') => void;
  retry?: RetryPolicy;
}

/**
 * User notifications through a durable job queue in Postgres (pg-boss, polling, its tables made
 * by `pinline migrate`). Jobs are inserted in the caller's transaction. Any instance delivers
 * them, at least once, with retries and back-off; a delivered job is deleted at once, so a reset
 * PIN (sealed with AES-256-GCM while it waits) leaves no copy behind. One that fails every retry is
 * recorded, without its message, for the administrators' page, and deleted too.
 */
export class NotificationQueue implements Notifier {
  private loadedBoss: Promise<PgBoss> | null = null;
  private readonly retry: RetryPolicy;
  private started = false;

  constructor(private readonly deps: NotificationQueueDeps) {
    this.retry = deps.retry ?? QUEUE_RETRY;
  }

  /** pg-boss, imported when first used: a command that queues nothing never loads it. */
  private boss(): Promise<PgBoss> {
    this.loadedBoss ??= import('pg-boss').then(({ default: PgBoss }) => {
      // pg-boss runs on this instance's own pool, so it follows the pool's timeouts and retries.
      const boss = new PgBoss({
        db: { executeSql: async (text: string, values: unknown[]) => this.deps.pool.query(text, values) },
        migrate: false,
        schedule: false,
      });
      boss.on('error', (err: Error) => this.deps.logger.warn({ err: { message: err.message } }, 'notification queue error'));
      return boss;
    });
    return this.loadedBoss;
  }

  reachable(user: Pick<User, 'phone' | 'email'>): DeliveryChannel[] {
    const channels: DeliveryChannel[] = [];
    if (user.phone && this.deps.transports.sms) channels.push('sms');
    if (user.email && this.deps.transports.email) channels.push('email');
    return channels;
  }

  async queue(client: PoolClient, user: User, notice: Notice, to?: { channel: DeliveryChannel; address: string }): Promise<DeliveryChannel[]> {
    const targets = to
      ? this.deps.transports[to.channel] ? [to] : []
      : this.reachable(user).map((channel) => ({ channel, address: channel === 'sms' ? (user.phone as string) : (user.email as string) }));
    const db = { executeSql: async (text: string, values: unknown[]) => client.query(text, values) };
    // A reset or an administrator's new PIN makes any reset message still waiting worthless: it must
    // not arrive after this one. The user's own change follows a sign-in with the reset PIN, so that
    // message has arrived; skipping it there keeps a phone save at its statement count.
    if (notice.kind === 'pin_reset' || (notice.kind === 'pin_changed' && notice.by === 'administrator')) {
      await deleteQueuedResets(client, user.id);
    }
    for (const target of targets) {
      const queued: QueuedNotice = {
        channel: target.channel,
        to: target.address,
        locale: user.locale,
        userId: user.id,
        extension: user.extension,
        notice:
          notice.kind === 'pin_reset'
            ? { kind: 'pin_reset', hours: notice.hours, sealedPin: this.seal(notice.pin, user.id, target), sealedUnder: this.deps.sessionKeys.current.id }
            : notice,
      };
      await (await this.boss()).send(QUEUE, queued, {
        db,
        retryLimit: this.retry.limit,
        retryDelay: this.retry.delaySeconds,
        retryBackoff: this.retry.backoff,
      });
    }
    return targets.map((target) => target.channel);
  }

  /** Starts delivering on this instance (the server); the CLI only queues. */
  async startWorker(): Promise<void> {
    const boss = await this.boss();
    await boss.start();
    this.started = true;
    await boss.work<QueuedNotice>(
      QUEUE,
      { batchSize: 1, includeMetadata: true, pollingIntervalSeconds: POLL_SECONDS },
      async ([job]) => {
        if (job) await this.deliver(job);
      },
    );
  }

  /** Stops delivering (letting a delivery in flight finish) and closes the transports. */
  async stop(): Promise<void> {
    if (this.started) await (await this.boss()).stop({ graceful: true, wait: true, timeout: 10_000 });
    this.started = false;
    await Promise.all([this.deps.transports.sms?.close(), this.deps.transports.email?.close()]);
  }

  /** Deliveries given up after every retry, newest first, for the administrators' page. */
  failures(limit: number, offset: number): Promise<NotificationFailure[]> {
    return listNotificationFailures(this.deps.pool, limit, offset);
  }

  /** One line per channel: where its messages go (said once at start). */
  get notes(): readonly string[] {
    return this.deps.transports.notes;
  }

  private async deliver(job: PgBoss.JobWithMetadata<QueuedNotice>): Promise<void> {
    const queued = job.data;
    const transport: Transport | null = this.deps.transports[queued.channel];
    let notice: Notice | null = null;
    try {
      if (!transport) throw new Error(`${queued.channel === 'sms' ? 'text messages are' : 'e-mail is'} no longer configured`);
      notice = this.unseal(queued);
      const message = renderNotice(this.deps.texts, queued.locale, queued.channel, notice);
      await transport.send({
        channel: queued.channel,
        to: queued.to,
        text: message.text,
        ...(message.subject ? { subject: message.subject } : {}),
        ...(notice.kind === 'pin_reset' ? { pin: notice.pin } : {}),
      });
      this.deps.onDelivery?.(queued.channel, 'sent');
    } catch (err) {
      this.deps.onDelivery?.(queued.channel, 'failed');
      // The transports mask the PIN already; this holds for any other failure too.
      const reason = maskPin(oneLine(err), notice?.kind === 'pin_reset' ? notice.pin : undefined);
      this.deps.logger.warn({ jobId: job.id, channel: queued.channel, kind: queued.notice.kind, attempt: job.retryCount + 1, reason }, 'notification not delivered');
      // Retried by the queue until the last attempt, unless sending it again cannot help (a refused
      // number); then recorded (never the message) and dropped.
      const permanent = err instanceof DeliveryError && err.permanent;
      if (!permanent && job.retryCount < job.retryLimit) throw new Error(reason);
      await insertNotificationFailure(this.deps.pool, {
        userId: queued.userId,
        extension: queued.extension,
        kind: queued.notice.kind,
        channel: queued.channel,
        recipient: queued.to,
        attempts: job.retryCount + 1,
        error: reason,
      });
    }
    // Delivered, or given up: no row of it is kept, sealed PIN and all.
    await (await this.boss()).deleteJob(QUEUE, job.id);
  }

  /** The notice as queued, with a reset's PIN opened. */
  private unseal(queued: QueuedNotice): Notice {
    if (queued.notice.kind !== 'pin_reset') return queued.notice;
    const { hours, sealedPin, sealedUnder } = queued.notice;
    return { kind: 'pin_reset', hours, pin: this.open(sealedPin, sealedUnder, queued.userId, { channel: queued.channel, address: queued.to }) };
  }

  private seal(pin: string, userId: number, target: { channel: DeliveryChannel; address: string }): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(CIPHER, this.deps.sessionKeys.current.key('pinline queued secret'), iv);
    cipher.setAAD(Buffer.from(`${userId}|${target.channel}|${target.address}`));
    const body = Buffer.concat([cipher.update(pin, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /**
   * Opens a sealed PIN under the secret whose id it carries; one queued before ids were kept is
   * tried under each secret held, newest first. A secret this instance does not hold fails the
   * attempt, and the queue retries it (another instance, or this one once configured, may hold it).
   */
  private open(sealed: string, sealedUnder: string | undefined, userId: number, target: { channel: DeliveryChannel; address: string }): string {
    const named = sealedUnder === undefined ? null : this.deps.sessionKeys.find(sealedUnder);
    if (sealedUnder !== undefined && !named) {
      throw new Error(`the PIN was sealed under SESSION_SECRET ${sealedUnder}, which this instance does not hold (list it in SESSION_SECRET_PREVIOUS)`);
    }
    const raw = Buffer.from(sealed, 'base64url');
    for (const secret of named ? [named] : this.deps.sessionKeys.all) {
      const decipher = createDecipheriv(CIPHER, secret.key('pinline queued secret'), raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(`${userId}|${target.channel}|${target.address}`));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      try {
        return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
      } catch {
        // Sealed under another secret: try the next.
      }
    }
    throw new Error('the sealed PIN does not open under any SESSION_SECRET held here');
  }
}

function oneLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ').slice(0, 500);
}
