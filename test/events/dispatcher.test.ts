import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Actor } from '../../src/audit/actor.js';
import { recordAudit } from '../../src/db/audit.js';
import { readDispatchState } from '../../src/db/events.js';
import { createPool, withTransaction, type Pool } from '../../src/db/pool.js';
import { startEventDispatcher, type EventDispatcher, type EventDispatcherOptions, type OperatorEvent } from '../../src/events/dispatcher.js';
import { freePort } from '../../src/net.js';
import { hasPgBouncer, PGBOUNCER_SKIP_REASON, startPgBouncer } from '../support/pgbouncer.js';
import { silentLogger, useServices } from '../support/services.js';

const fixture = useServices();
if (!hasPgBouncer) console.warn(PGBOUNCER_SKIP_REASON);
const actor: Actor = { channel: 'cli', name: 'events-test' };
const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
/** The tests drive dispatchers with tick(); on their own they run at start, and on while they deliver. */
const IDLE = 60_000;

interface Received {
  webhookId: string;
  raw: string;
  payload: OperatorEvent;
}

/** A webhook receiver that checks every signature with the Standard Webhooks library. */
class Receiver {
  readonly accepted: Received[] = [];
  readonly attempts: string[] = [];
  readonly badSignatures: string[] = [];
  readonly authorizations: (string | undefined)[] = [];
  /** The status of the next answers, in order; 204 once the list is empty. */
  statuses: number[] = [];
  /** Holds each answer this long, so passes overlap. */
  delayMs = 0;
  url = '';
  private server: Server | null = null;
  private readonly verifier = new Webhook(SECRET);

  async start(): Promise<void> {
    const port = await freePort();
    this.url = `http://127.0.0.1:${port}/hooks/pinline`;
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const webhookId = String(req.headers['webhook-id']);
        this.attempts.push(webhookId);
        this.authorizations.push(req.headers.authorization);
        let payload: OperatorEvent;
        try {
          payload = this.verifier.verify(raw, headersOf(req.headers)) as OperatorEvent;
        } catch {
          this.badSignatures.push(webhookId);
          res.writeHead(400).end();
          return;
        }
        const status = this.statuses.shift() ?? 204;
        setTimeout(() => {
          // A sender that gave up (its timeout) has not delivered, whatever is answered later.
          if (req.socket.destroyed) return;
          if (status >= 200 && status < 300) this.accepted.push({ webhookId, raw, payload });
          res.writeHead(status).end();
        }, this.delayMs);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(port, '127.0.0.1', resolve));
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

function headersOf(headers: IncomingHttpHeaders): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, String(value)]));
}

let receiver: Receiver;
const running: EventDispatcher[] = [];
const pools: Pool[] = [];

function dispatcher(overrides: Partial<EventDispatcherOptions> = {}): EventDispatcher {
  const started = startEventDispatcher({
    pool: fixture.pool,
    config: { url: receiver.url, secret: SECRET },
    logger: silentLogger,
    pollIntervalMs: IDLE,
    backoff: { initialMs: 20, maxMs: 100 },
    ...overrides,
  });
  running.push(started);
  return started;
}

/** Another instance's pool on the same database. */
function otherPool(): Pool {
  const pool = createPool(fixture.database.url, silentLogger, 4);
  pools.push(pool);
  return pool;
}

/**
 * Runs passes until `done`. Delivery waits for every write transaction on the Postgres server to
 * end, in any database (other test files share the server, and CREATE DATABASE is one), so this
 * retries rather than counting on one pass.
 */
async function deliverUntil(done: () => boolean | Promise<boolean>, ...dispatchers: EventDispatcher[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('not done within 20 s');
    await Promise.all(dispatchers.map((d) => d.tick()));
    if (!(await done())) await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** An audit row of its own, recognisable by its marker. */
async function audit(marker: string): Promise<void> {
  await fixture.services.audit.record({ event: 'rule.updated', actor, details: { rule: marker } });
}

const markers = (r: Receiver) => r.accepted.map((e) => e.payload.data.details.rule);

beforeAll(async () => {
  receiver = new Receiver();
  await receiver.start();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((d) => d.stop()));
  receiver.statuses = [];
  receiver.delayMs = 0;
});
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await receiver?.stop();
});

describe('event dispatcher', () => {
  it('when delivery first starts, then the events written before are not replayed, and those written after are sent', async () => {
    await audit('before-start');
    // "Before" means its transaction has certainly ended: other test files share the server.
    for (;;) {
      const { rows } = await fixture.pool.query(
        `SELECT bool_and(txid < pg_snapshot_xmin(pg_current_snapshot())) AS ended FROM audit_events`,
      );
      if (rows[0].ended === true) break;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const first = dispatcher();
    await first.tick();
    expect((await readDispatchState(fixture.pool)).position).not.toBeNull();
    await audit('after-start');
    await deliverUntil(() => receiver.accepted.length >= 1, first);
    await first.tick();
    expect(markers(receiver)).toEqual(['after-start']);
  });

  it('when users are created, sign in and change passwords, then every audit event arrives once, in commit order, signed, and with no PIN, hash or password', async () => {
    const from = receiver.accepted.length;
    const { rows: last } = await fixture.pool.query('SELECT coalesce(max(id), 0) AS id FROM audit_events');
    const d = dispatcher();
    const { accounts, pins, webCredentials } = fixture.services;
    const pin = '739152';
    const wrongPin = '281946';
    const password = 'Correct-Horse-Battery-9';
    const { user } = await accounts.createUser({ extension: '4101', firstName: 'Ada', lastName: 'Event', pin, enroll: false }, actor);
    const { generatedPin } = await accounts.createUser({ extension: '4102', firstName: 'Bob', lastName: 'Event' }, actor);
    expect(generatedPin).toMatch(/^\d+$/);
    await pins.verifySignin({ extension: '4101', pin: wrongPin, actor: { channel: 'phone', name: 'caller:test' } });
    await pins.verifySignin({ extension: '4101', pin, actor: { channel: 'phone', name: 'caller:test' } });
    await webCredentials.setUserPassword(user.id, password, actor);

    const written = await fixture.pool.query(
      'SELECT id, event FROM audit_events WHERE id > $1 ORDER BY id',
      [last[0].id],
    );
    expect(written.rows.map((r) => r.event)).toEqual(
      expect.arrayContaining(['user.created', 'pin.set', 'signin.failed', 'signin.succeeded', 'web_password.changed']),
    );
    await deliverUntil(() => receiver.accepted.length >= from + written.rows.length, d);
    await d.tick();

    const mine = receiver.accepted.slice(from);
    // Each transaction here committed before the next began: commit order is id order.
    expect(mine.map((r) => r.payload.data.id)).toEqual(written.rows.map((r) => r.id));
    expect(mine.map((r) => r.payload.type)).toEqual(written.rows.map((r) => r.event));
    expect(receiver.badSignatures).toEqual([]);
    for (const { webhookId, payload } of mine) {
      expect(webhookId).toBe(`evt_${payload.data.id}`);
      expect(payload.timestamp).toBe(payload.data.at);
      expect(payload.data.event).toBe(payload.type);
    }
    const signin = mine.find((r) => r.payload.type === 'signin.failed');
    expect(signin?.payload.data).toMatchObject({ channel: 'phone', actor: 'caller:test', extension: '4101', userId: user.id });
    const everything = mine.map((r) => r.raw).join('\n');
    for (const secret of [pin, wrongPin, generatedPin ?? 'none', password, '$argon2']) expect(everything).not.toContain(secret);
  });

  it('when a change is rolled back, then its event is never sent', async () => {
    const d = dispatcher();
    await expect(
      withTransaction(fixture.pool, async (client) => {
        await recordAudit(client, { event: 'rule.updated', actor, details: { rule: 'rolled-back' } });
        throw new Error('the change fails after its audit row');
      }),
    ).rejects.toThrow('the change fails');
    await audit('committed-after');
    await deliverUntil(() => markers(receiver).includes('committed-after'), d);
    expect(markers(receiver)).not.toContain('rolled-back');
    expect(receiver.attempts.length).toBe(receiver.accepted.length);
  });

  it('when a transaction that wrote an event is still open, then later events wait for it, and both arrive in order once it commits', async () => {
    const d = dispatcher();
    const open = await fixture.pool.connect();
    try {
      await open.query('BEGIN');
      await recordAudit(open, { event: 'rule.updated', actor, details: { rule: 'open-first' } });
      await audit('committed-later');
      await d.tick();
      expect(markers(receiver)).not.toContain('committed-later');
      await open.query('COMMIT');
    } finally {
      open.release();
    }
    await deliverUntil(() => markers(receiver).includes('committed-later'), d);
    expect(markers(receiver).slice(-2)).toEqual(['open-first', 'committed-later']);
  });

  it('when an event with a lower id commits after one with a higher id was sent, then it is still sent', async () => {
    // The race that following ids alone gets wrong: `late` takes an id first but commits last.
    const d = dispatcher();
    const early = await fixture.pool.connect();
    const late = await fixture.pool.connect();
    try {
      await early.query('BEGIN');
      await early.query('SELECT pg_current_xact_id()'); // this transaction's id comes first
      await late.query('BEGIN');
      await recordAudit(late, { event: 'rule.updated', actor, details: { rule: 'low-id-commits-last' } });
      await recordAudit(early, { event: 'rule.updated', actor, details: { rule: 'high-id-commits-first' } });
      await early.query('COMMIT');

      await deliverUntil(() => markers(receiver).includes('high-id-commits-first'), d);
      expect(markers(receiver)).not.toContain('low-id-commits-last');
      await late.query('COMMIT');
    } finally {
      early.release();
      late.release();
    }
    await deliverUntil(() => markers(receiver).includes('low-id-commits-last'), d);
    const byMarker = new Map(receiver.accepted.map((r) => [r.payload.data.details.rule, r.payload.data.id]));
    expect(byMarker.get('low-id-commits-last')).toBeLessThan(byMarker.get('high-id-commits-first') ?? 0);
    expect(markers(receiver).slice(-2)).toEqual(['high-id-commits-first', 'low-id-commits-last']);
  });

  it('when the receiver fails twice, then the failures are recorded, the event is retried after a back-off, and the record is cleared once it is delivered', async () => {
    const lines: string[] = [];
    const logger = pino(
      { level: 'info' },
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          lines.push(chunk.toString());
          callback();
        },
      }),
    );
    // Long enough that the dispatcher's own timer cannot make the next attempt before the checks
    // below, even on a loaded machine (150 ms was not, with two suites sharing two cores).
    const d = dispatcher({ logger, backoff: { initialMs: 2000, maxMs: 3000 } });
    receiver.statuses = [500, 503];
    await audit('retried');
    const attemptsBefore = receiver.attempts.length;

    await deliverUntil(() => receiver.attempts.length > attemptsBefore, d);
    const failing = await readDispatchState(fixture.pool);
    expect(failing).toMatchObject({ failures: 1, lastError: 'HTTP 500' });
    expect(failing.failingSince).toBeInstanceOf(Date);
    expect(failing.retryAt?.getTime()).toBeGreaterThan(failing.failingSince?.getTime() ?? Infinity);

    await deliverUntil(() => receiver.attempts.length > attemptsBefore + 1, d);
    const still = await readDispatchState(fixture.pool);
    expect(still).toMatchObject({ failures: 2, lastError: 'HTTP 503', failingSince: failing.failingSince });

    await deliverUntil(() => markers(receiver).includes('retried'), d);
    expect(await readDispatchState(fixture.pool)).toMatchObject({ failures: 0, lastError: null, failingSince: null, retryAt: null });
    const tries = receiver.attempts.slice(attemptsBefore);
    expect(tries).toHaveLength(3);
    expect(new Set(tries).size).toBe(1);

    const warnings = lines.filter((line) => line.includes('event delivery failed'));
    expect(warnings).toHaveLength(2);
    for (const line of warnings) {
      expect(line).toContain(tries[0]);
      expect(line).not.toContain('retried');
      expect(line).not.toContain(receiver.url);
    }
  });

  it('when the receiver is unreachable or does not answer in time, then nothing is skipped and the reason is recorded', async () => {
    const closedPort = await freePort();
    const unreachable = dispatcher({ config: { url: `http://127.0.0.1:${closedPort}/`, secret: SECRET } });
    await audit('after-outages');
    await deliverUntil(async () => (await readDispatchState(fixture.pool)).failures > 0, unreachable);
    expect((await readDispatchState(fixture.pool)).lastError).toMatch(/ECONNREFUSED/);
    await unreachable.stop();

    receiver.delayMs = 500;
    const impatient = dispatcher({ postTimeoutMs: 100 });
    const failuresBefore = (await readDispatchState(fixture.pool)).failures;
    await deliverUntil(async () => (await readDispatchState(fixture.pool)).failures > failuresBefore, impatient);
    expect((await readDispatchState(fixture.pool)).lastError).toBe('no answer within 100 ms');
    await impatient.stop();

    receiver.delayMs = 0;
    const healthy = dispatcher();
    await deliverUntil(() => markers(receiver).includes('after-outages'), healthy);
    expect((await readDispatchState(fixture.pool)).failures).toBe(0);
    // The answer the impatient sender gave up on came too late to count.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(markers(receiver).filter((m) => m === 'after-outages')).toHaveLength(1);
  });

  it('when the URL carries credentials, then they are sent as Basic authentication', async () => {
    const withCredentials = new URL(receiver.url);
    withCredentials.username = 'ops';
    withCredentials.password = 's3cret:pass';
    const d = dispatcher({ config: { url: withCredentials.toString(), secret: SECRET } });
    const from = receiver.attempts.length;
    await audit('authenticated');
    await deliverUntil(() => markers(receiver).includes('authenticated'), d);
    expect(receiver.authorizations.slice(from)).toEqual([`Basic ${Buffer.from('ops:s3cret:pass').toString('base64')}`]);
  });

  it('when two instances dispatch at once, then each event is delivered exactly once', async () => {
    const a = dispatcher();
    const b = dispatcher({ pool: otherPool() });
    receiver.delayMs = 5;
    const from = receiver.accepted.length;
    const attemptsFrom = receiver.attempts.length;
    const names = Array.from({ length: 30 }, (_, i) => `pair-${i}`);
    for (const name of names) await audit(name);
    await deliverUntil(() => receiver.accepted.length >= from + names.length, a, b, a, b);
    await Promise.all([a.tick(), b.tick()]);
    expect(markers(receiver).slice(from)).toEqual(names);
    expect(receiver.attempts.slice(attemptsFrom)).toEqual(receiver.accepted.slice(from).map((r) => r.webhookId));
  });

  it.skipIf(!hasPgBouncer)('when two instances dispatch through PgBouncer in transaction mode, then each event is delivered exactly once', async () => {
    const bouncer = await startPgBouncer(fixture.database.url);
    const bounced = [0, 1].map(() => createPool(bouncer.url(fixture.database.url), silentLogger, 4));
    try {
      const [a, b] = bounced.map((pool) => dispatcher({ pool }));
      if (!a || !b) throw new Error('two pools');
      receiver.delayMs = 5;
      const from = receiver.accepted.length;
      const attemptsFrom = receiver.attempts.length;
      const names = Array.from({ length: 20 }, (_, i) => `bounced-${i}`);
      for (const name of names) await audit(name);
      await deliverUntil(() => receiver.accepted.length >= from + names.length, a, b, a, b);
      await Promise.all([a.tick(), b.tick()]);
      expect(markers(receiver).slice(from)).toEqual(names);
      expect(receiver.attempts.slice(attemptsFrom)).toHaveLength(names.length);
      await Promise.all([a.stop(), b.stop()]);
    } finally {
      await Promise.all(bounced.map((pool) => pool.end()));
      await bouncer.stop();
    }
  });

  it('when an instance stops after one pass and another takes over, then nothing is lost or sent twice', async () => {
    const from = receiver.accepted.length;
    const names = Array.from({ length: 60 }, (_, i) => `restart-${i}`);
    for (const name of names) await audit(name);
    receiver.delayMs = 5;
    // Stopped while its first pass (at most 50 events) is in flight: it records what it sent.
    const first = dispatcher({ pool: otherPool(), pollIntervalMs: 10 });
    for (let i = 0; receiver.accepted.length === from; i++) {
      if (i > 2000) throw new Error('the first instance delivered nothing');
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await first.stop();
    receiver.delayMs = 0;
    const delivered = receiver.accepted.length - from;
    expect(delivered).toBeGreaterThan(0);
    expect(delivered).toBeLessThan(names.length);

    const second = dispatcher({ pool: otherPool() });
    await deliverUntil(() => receiver.accepted.length >= from + names.length, second);
    await second.tick();
    expect(markers(receiver).slice(from)).toEqual(names);
  });

  it('when an instance dies in the middle of a pass, then another sends everything, repeating at most that pass, with the same webhook-id', async () => {
    const from = receiver.accepted.length;
    const names = Array.from({ length: 10 }, (_, i) => `crash-${i}`);
    for (const name of names) await audit(name);

    // The dying instance hangs on its fifth POST; its connection is then cut, as if it had died.
    const doomedPool = otherPool();
    let posts = 0;
    let hung: () => void = () => undefined;
    const reachedHang = new Promise<void>((resolve) => (hung = resolve));
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const hangingFetch: typeof fetch = async (input, init) => {
      posts += 1;
      if (posts < 5) return fetch(input, init);
      hung();
      await released;
      return new Response(null, { status: 503 });
    };
    const doomed = dispatcher({ pool: doomedPool, fetch: hangingFetch, postTimeoutMs: 30_000, pollIntervalMs: 10 });
    await reachedHang;
    const cut = await fixture.pool.query(
      `SELECT pg_terminate_backend(pid) AS cut FROM pg_stat_activity
        WHERE datname = current_database() AND state = 'idle in transaction' AND pid <> pg_backend_pid()`,
    );
    expect(cut.rows).toHaveLength(1);

    const survivor = dispatcher();
    await deliverUntil(() => names.every((n) => markers(receiver).includes(n)), survivor);
    release();
    await doomed.stop();
    await survivor.tick();

    const mine = receiver.accepted.slice(from);
    const sent = mine.map((r) => String(r.payload.data.details.rule));
    expect([...new Set(sent)]).toEqual(names);
    // Only what the dead instance had posted in its unfinished pass came again (all four
    // unless a pass ended earlier), under the same webhook-id.
    const repeated = sent.filter((name, i) => sent.indexOf(name) !== i);
    expect(repeated).toEqual(names.slice(4 - repeated.length, 4));
    expect(sent).toHaveLength(names.length + repeated.length);
    for (const name of repeated) {
      expect(new Set(mine.filter((r) => r.payload.data.details.rule === name).map((r) => r.webhookId)).size).toBe(1);
    }
  });
});
