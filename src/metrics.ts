import { createHash, timingSafeEqual } from 'node:crypto';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Channel } from './audit/actor.js';
import type { Pool } from './db/pool.js';
import type { PhaseName } from './dialog/index.js';
import type { HashGate } from './pin/hash-gate.js';
import type { DeliveryChannel } from './notify/notices.js';
import type { PinObserver, SigninOutcome } from './pin/service.js';

/** The first turn of a call, before the dialog has a phase to answer. */
type TurnPhase = PhaseName | 'incoming';

/** Where a caller heard [system.busy] (phone) or a client got 503 busy (web pages, API). */
type BusyChannel = 'phone' | 'web' | 'api';

// Every label value comes from one of these closed sets: never a PIN, a CallSid or an extension.
// The Record types make the compiler ask for a new outcome or channel here (e.g. temp_expired).
const SIGNIN_OUTCOMES = keys<SigninOutcome>({ ok: true, invalid: true, locked: true, temp_expired: true, busy: true });
const CHANNELS = keys<Channel>({ phone: true, web: true, admin: true, api: true, cli: true, scim: true, system: true });
const BUSY_CHANNELS = keys<BusyChannel>({ phone: true, web: true, api: true });
const DELIVERY_CHANNELS = keys<DeliveryChannel>({ sms: true, email: true });
const DELIVERY_RESULTS = keys<DeliveryResult>({ sent: true, failed: true });

/** A delivery attempt's result: sent, or failed (to be retried, or given up after the last retry). */
type DeliveryResult = 'sent' | 'failed';
/** The phases a turn answers: the call's start and the caller's inputs. Any other is counted as "other". */
const TURN_PHASES: readonly TurnPhase[] = ['incoming', 'enter_id', 'enter_pin', 'menu', 'new_pin', 'confirm_pin'];
const OTHER_PHASE = 'other';

/** From a menu turn (a few ms) to Twilio's 15 s webhook timeout. */
const TURN_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];

function keys<K extends string>(set: Record<K, true>): readonly K[] {
  return Object.keys(set) as K[];
}

interface CounterChild {
  inc(value?: number): void;
}

interface TurnMeter {
  turns: CounterChild;
  seconds: { observe(value: number): void };
}

/**
 * This instance's own counts, in its own registry (tests build many services in one process).
 * Every labelled child is created once here, so recording costs no allocation on the hot path;
 * gauges read the hashing gate and the pool when scraped, never the database.
 */
export class Metrics implements PinObserver {
  private readonly registry = new Registry();
  private readonly callsStarted: CounterChild;
  private readonly turnMeters = new Map<string, TurnMeter>();
  private readonly otherTurn: TurnMeter;
  private readonly signins: Record<SigninOutcome, CounterChild>;
  private readonly lockouts: CounterChild;
  private readonly pinChanges: Record<Channel, CounterChild>;
  private readonly busyAnswers: Record<BusyChannel, CounterChild>;
  private readonly deliveries: Record<DeliveryChannel, Record<DeliveryResult, CounterChild>>;

  constructor({ gate, pool }: { gate: HashGate; pool: Pool }) {
    const registers = [this.registry];
    this.callsStarted = new Counter({ name: 'pinline_calls_started_total', help: 'Calls that reached /voice/incoming.', registers });

    const turns = new Counter({
      name: 'pinline_call_turns_total',
      help: 'Webhook turns answered, by the dialog phase they answered (incoming: the first turn).',
      labelNames: ['phase'],
      registers,
    });
    const turnSeconds = new Histogram({
      name: 'pinline_call_turn_duration_seconds',
      help: 'Time to answer a webhook turn, by the dialog phase it answered.',
      labelNames: ['phase'],
      buckets: TURN_BUCKETS,
      registers,
    });
    const meter = (phase: string): TurnMeter => {
      const turn = zeroed(turns.labels(phase));
      turnSeconds.zero({ phase });
      return { turns: turn, seconds: turnSeconds.labels(phase) };
    };
    for (const phase of TURN_PHASES) this.turnMeters.set(phase, meter(phase));
    this.otherTurn = meter(OTHER_PHASE);

    const signins = new Counter({
      name: 'pinline_signins_total',
      help: 'Phone sign-ins checked by this instance, by outcome (busy: no hashing slot in time).',
      labelNames: ['outcome'],
      registers,
    });
    this.signins = children(SIGNIN_OUTCOMES, (outcome) => zeroed(signins.labels(outcome)));
    this.lockouts = new Counter({ name: 'pinline_lockouts_total', help: 'Accounts locked by intruder detection.', registers });

    const pinChanges = new Counter({
      name: 'pinline_pin_changes_total',
      help: 'PIN changes saved through this instance, by channel.',
      labelNames: ['channel'],
      registers,
    });
    this.pinChanges = children(CHANNELS, (channel) => zeroed(pinChanges.labels(channel)));

    const busy = new Counter({
      name: 'pinline_busy_answers_total',
      help: 'Answers refused for hashing overload: [system.busy] heard by a caller, or 503 busy on the web pages and the API.',
      labelNames: ['channel'],
      registers,
    });
    this.busyAnswers = children(BUSY_CHANNELS, (channel) => zeroed(busy.labels(channel)));

    const deliveries = new Counter({
      name: 'pinline_notification_deliveries_total',
      help: 'Attempts of this instance to deliver a notification to a user, by channel and result.',
      labelNames: ['channel', 'result'],
      registers,
    });
    this.deliveries = children(DELIVERY_CHANNELS, (channel) => children(DELIVERY_RESULTS, (result) => zeroed(deliveries.labels(channel, result))));

    // Read when scraped: the live numbers, with no work at all between scrapes.
    gauge(registers, 'pinline_hash_slots', 'Hashing slots (HASH_CONCURRENCY).', () => gate.slots);
    gauge(registers, 'pinline_hash_slots_in_use', 'Hashing slots in use.', () => gate.inUse);
    gauge(registers, 'pinline_hash_queued', 'Turns waiting for a hashing slot.', () => gate.queued);
    gauge(registers, 'pinline_db_pool_clients', 'Database connections open in the pool.', () => pool.totalCount);
    gauge(registers, 'pinline_db_pool_idle_clients', 'Open database connections not in use.', () => pool.idleCount);
    gauge(registers, 'pinline_db_pool_waiting_clients', 'Requests waiting for a database connection.', () => pool.waitingCount);

    collectDefaultMetrics({ register: this.registry });
    // prom-client names three gauges *_total (nodejs_active_handles_total, …_requests_total,
    // …_resources_total), a suffix Prometheus keeps for counters: promtool refuses the whole
    // exposition for it. Each is the sum of the by-type gauge beside it (nodejs_active_handles{type}).
    for (const metric of this.registry.getMetricsAsArray()) {
      if (metric.name.endsWith('_total') && !(metric instanceof Counter)) this.registry.removeSingleMetric(metric.name);
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  /** The Prometheus text exposition of everything above. */
  exposition(): Promise<string> {
    return this.registry.metrics();
  }

  callStarted(): void {
    this.callsStarted.inc();
  }

  /** One answered turn, timed from `startedMs` (performance.now()) until now. */
  turn(phase: TurnPhase, startedMs: number): void {
    const meter = this.turnMeters.get(phase) ?? this.otherTurn;
    meter.turns.inc();
    meter.seconds.observe((performance.now() - startedMs) / 1000);
  }

  busyAnswer(channel: BusyChannel): void {
    this.busyAnswers[channel].inc();
  }

  signin(outcome: SigninOutcome): void {
    this.signins[outcome].inc();
  }

  lockout(): void {
    this.lockouts.inc();
  }

  pinChanged(channel: Channel): void {
    this.pinChanges[channel].inc();
  }

  delivery(channel: DeliveryChannel, result: DeliveryResult): void {
    this.deliveries[channel][result].inc();
  }
}

/** Exposed at 0 from the start, so that rate() and absent() see every series. */
function zeroed(child: CounterChild): CounterChild {
  child.inc(0);
  return child;
}

function children<K extends string, C>(values: readonly K[], make: (value: K) => C): Record<K, C> {
  return Object.fromEntries(values.map((value) => [value, make(value)])) as Record<K, C>;
}

function gauge(registers: Registry[], name: string, help: string, read: () => number): void {
  new Gauge({
    name,
    help,
    registers,
    collect() {
      this.set(read());
    },
  });
}

/**
 * Whether an Authorization header carries the metrics token. Both sides are hashed first, so the
 * comparison takes the same time whatever the length or the first differing byte.
 */
export function isMetricsBearer(header: string | undefined, token: string): boolean {
  const presented = /^Bearer[ ]+(\S+)\s*$/i.exec(header ?? '')?.[1] ?? '';
  return timingSafeEqual(digest(presented), digest(token));
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
