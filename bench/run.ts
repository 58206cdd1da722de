/**
 * `npm run bench`: the cost of a call, against named targets, in one run on one machine.
 *
 * Starts a real pinline instance (bench/server.ts: src/app.ts on the real services, production
 * logging) on real Postgres (DATABASE_URL, else an embedded one), the stateless TwiML baseline
 * (bench/baseline.ts), and drives both over HTTP with pre-signed Twilio webhooks. Prints a table
 * of every figure beside its target and writes the same figures to bench/results/.
 *
 * Environment: DATABASE_URL (optional), BENCH_SECONDS (length of each measured phase, default 8),
 * BENCH_USERS (default 4000), BENCH_PROFILE=1 (CPU profiles of the measured windows, instance and
 * baseline, as bench/results/profile-<run>-<window>.json, which .gitignore keeps out of git;
 * read them with bench/profile-summary.ts or Chrome DevTools).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Metrics } from '../src/metrics.js';
import { HashGate } from '../src/pin/hash-gate.js';
import { SecretHasher, DEFAULT_HASH_PARAMETERS } from '../src/pin/hasher.js';
import type { PromptKey } from '../src/dialog/index.js';
import { loadPromptCatalog } from '../src/prompts.js';
import { actionOf, callAtPinPrompt, eachLimited, menuTurn, prepare, send, type CallAtPin, type Target } from './lib/calls.js';
import { Child } from './lib/child.js';
import { BENCH_PIN, countEvents, giveEmail, openBenchDatabase, seedUsers, type BenchDatabase } from './lib/database.js';
import { cannonEach, cannonFixed, paced, percentile, type Classifier, type LoadResult, type Prepared } from './lib/load.js';
import type { DbCounters, MemorySample, Reply } from './lib/protocol.js';
import { describeMachine, mib, ms, percent, perSecond, ratio, renderMarkdown, renderTable, type Figure } from './lib/report.js';
import { freePort } from '../src/net.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const USERS = Number(process.env.BENCH_USERS ?? 4000);
const PROFILE = process.env.BENCH_PROFILE === '1';
const MENU_CONNECTIONS = 50;
const PARKED_CALLS = 1000;
/** Menu turns offered while hashing is saturated: 50 calls each pressing a key every 250 ms, far faster than people do. */
const SATURATED_MENU_RATE = 200;
const RESULTS_DIR = fileURLToPath(new URL('./results/', import.meta.url));

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

const prompts = loadPromptCatalog();
const heard = (body: string, key: PromptKey) => body.includes(prompts.render('en-US', key));

/** What a caller heard in one answer, coarsely. */
function classOf(status: number, body: string): string {
  if (status !== 200) return `http ${status}`;
  if (heard(body, 'error.unavailable')) return 'unavailable';
  if (heard(body, 'system.busy')) return 'busy';
  if (heard(body, 'signin.invalid')) return 'invalid';
  if (heard(body, 'menu.main')) return 'menu';
  return 'other';
}

function latencyValues(result: LoadResult) {
  return {
    responses: result.responses,
    seconds: Number(result.seconds.toFixed(2)),
    rate: Number(result.rate.toFixed(1)),
    p50: Number(percentile(result.latencies, 50).toFixed(3)),
    p99: Number(percentile(result.latencies, 99).toFixed(3)),
    max: Number((result.latencies.at(-1) ?? Number.NaN).toFixed(3)),
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

function merge(results: readonly LoadResult[]): LoadResult {
  const latencies = results.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = results.reduce((s, r) => s + r.seconds, 0);
  const sum = (pick: (r: LoadResult) => Record<string, number>) => {
    const out: Record<string, number> = {};
    for (const r of results) for (const [k, v] of Object.entries(pick(r))) out[k] = (out[k] ?? 0) + v;
    return out;
  };
  return {
    responses: latencies.length,
    seconds,
    rate: latencies.length / seconds,
    latencies,
    statuses: sum((r) => r.statuses),
    classes: sum((r) => r.classes),
    errors: results.reduce((s, r) => s + r.errors, 0),
    timeouts: results.reduce((s, r) => s + r.timeouts, 0),
  };
}

/** Share of the machine's CPU time that was busy over one second (from /proc/stat; null elsewhere). */
async function machineBusy(): Promise<number | null> {
  const sample = () => {
    try {
      const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
      const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
      return { idle, total: fields.reduce((a, b) => a + b, 0) };
    } catch {
      return null;
    }
  };
  const a = sample();
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const b = sample();
  if (!a || !b || b.total === a.total) return null;
  return 1 - (b.idle - a.idle) / (b.total - a.total);
}

// ==== what the scenarios share ====

/** A load result with the CPU time the measured child spent per answer. */
type Measured<R extends LoadResult> = R & { cpuMicrosPerAnswer: number };

/** A call signed in and waiting at the main menu: its next action URL. */
interface ParkedCall {
  callSid: string;
  action: string;
}

/**
 * Everything the measured scenarios share, built once by `startBench()`. A scenario is a
 * function of this context (and of what earlier scenarios returned) that pushes its own figures.
 */
interface BenchContext {
  /** The instance under test, as webhooks are signed for and sent to it. */
  readonly target: Target;
  /** Base URL of the instance (the same as `target.publicBaseUrl`). */
  readonly instanceUrl: string;
  readonly instance: Child;
  /** The stateless TwiML reference (bench/baseline.ts). */
  readonly baseline: Child;
  readonly baselineUrl: string;
  readonly database: BenchDatabase;
  /** The table's rows, in the order the scenarios push them. */
  readonly figures: Figure[];
  /** Further data for bench/results/ only, not the table. */
  readonly details: Record<string, unknown>;
  /** Calls signed in and waiting at the main menu (their next action URL): the server holds nothing for them. */
  readonly parked: ParkedCall[];
  /** Classifies sign-in answers, and parks the calls that reached the menu (up to 2 × PARKED_CALLS). */
  readonly signinClassifier: Classifier;
  readonly menuClassifier: Classifier;
  /** CPU time the child spent per answer during `load`; with BENCH_PROFILE=1 also a profile of that window. */
  measured<R extends LoadResult>(child: Child, window: string, load: () => Promise<R>): Promise<Measured<R>>;
  /** The next seeded user's extension, round-robin. */
  userFor(): string;
  /** Two seeded users outside the round-robin, whose PINs the round-trip count changes. */
  readonly roundTripUsers: readonly [string, string];
  /** New calls played up to their PIN prompt, each for the next user, ready to sign in. */
  prepareCalls(count: number): Promise<CallAtPin[]>;
  /** The environment the instance runs with (its database and secrets), for `pinline` commands. */
  readonly cliEnv: Record<string, string>;
}

/** The machine before the run, for the report's heading. */
interface RunConditions {
  started: number;
  busyBefore: number | null;
  loadBefore: number;
}

async function observeMachine(): Promise<RunConditions> {
  const started = Date.now();
  const busyBefore = await machineBusy();
  const loadBefore = loadavg()[0] ?? 0;
  return { started, busyBefore, loadBefore };
}

/** Opens and seeds the database, starts the instance and the baseline, and builds the context. */
async function startBench(): Promise<BenchContext> {
  const database = await openBenchDatabase();
  log(`database: ${database.description}`);
  const secrets = {
    TWILIO_AUTH_TOKEN: randomBytes(16).toString('hex'),
    PIN_PEPPER: randomBytes(24).toString('hex'),
    SESSION_SECRET: randomBytes(24).toString('hex'),
  };
  const hasher = new SecretHasher(secrets.PIN_PEPPER, DEFAULT_HASH_PARAMETERS);
  const seeded = await seedUsers(database.url, USERS + 2, await hasher.hash(BENCH_PIN));
  const extensions = seeded.slice(0, USERS);
  const roundTripUsers = [seeded[USERS], seeded[USERS + 1]] as [string, string];
  log(`seeded ${seeded.length} users`);

  const port = await freePort();
  const publicBaseUrl = `http://127.0.0.1:${port}`;
  const runStamp = new Date().toISOString().replace(/[:.]/g, '-');
  if (PROFILE) mkdirSync(RESULTS_DIR, { recursive: true });
  const cliEnv = { NODE_ENV: 'production', DATABASE_URL: database.url, PUBLIC_BASE_URL: publicBaseUrl, ...secrets };
  const instance = await Child.start(
    'server.ts',
    {
      ...cliEnv,
      PORT: String(port),
      LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
      // E-mail configured, so a PIN change of a user with an address queues a notification (the
      // bench instance runs no queue worker, so nothing is ever sent to this closed port).
      SMTP_URL: 'smtp://127.0.0.1:9',
      MAIL_FROM: 'bench@example.com',
    },
  );
  const baseline = await Child.start('baseline.ts', { PORT: '0' });
  const baselineUrl = `http://127.0.0.1:${baseline.port}`;
  const target: Target = { publicBaseUrl, authToken: secrets.TWILIO_AUTH_TOKEN };

  const measured = async <R extends LoadResult>(child: Child, window: string, load: () => Promise<R>): Promise<Measured<R>> => {
    if (PROFILE) await child.ask({ type: 'profile-start' });
    const before = await child.ask({ type: 'cpu' });
    const result = await load();
    const after = await child.ask({ type: 'cpu' });
    if (PROFILE) await child.ask({ type: 'profile-stop', file: `${RESULTS_DIR}profile-${runStamp}-${window}.json` });
    const micros = after.userMicros + after.systemMicros - before.userMicros - before.systemMicros;
    return { ...result, cpuMicrosPerAnswer: micros / Math.max(1, result.responses) };
  };

  let nextUser = 0;
  const userFor = () => extensions[nextUser++ % extensions.length] as string;
  const prepareCalls = (count: number) => eachLimited(Array.from({ length: count }), 16, () => callAtPinPrompt(target, userFor(), BENCH_PIN));

  const parked: ParkedCall[] = [];
  const signinClassifier: Classifier = (status, body, tag) => {
    const cls = classOf(status, body);
    const action = cls === 'menu' ? actionOf(body) : null;
    if (action && parked.length < PARKED_CALLS * 2) parked.push({ callSid: (tag as { callSid: string }).callSid, action });
    return cls;
  };
  const menuClassifier: Classifier = (status, body) => classOf(status, body);

  return {
    target,
    instanceUrl: publicBaseUrl,
    instance,
    baseline,
    baselineUrl,
    database,
    figures: [],
    details: {},
    parked,
    signinClassifier,
    menuClassifier,
    measured,
    userFor,
    roundTripUsers,
    prepareCalls,
    cliEnv,
  };
}

// ==== the scenarios, in the order main() runs them ====

/** What the warm-up leaves for the menu-turn scenarios and the memory report. */
interface WarmedUp {
  /** One menu turn (key 2, status) for each of MENU_CONNECTIONS calls signed in at the main menu. */
  menuCalls: Prepared[];
  /** The same menu turn, for the stateless baseline. */
  baselineTurn: Prepared;
  /** The instance's memory after GC, warm and before any measured phase. */
  idle: MemorySample;
}

/** Warm-up: JIT, pool connections, both apps. */
async function warmUp(ctx: BenchContext): Promise<WarmedUp> {
  log('warming up');
  const menuCalls: Prepared[] = [];
  for (const call of await ctx.prepareCalls(MENU_CONNECTIONS)) {
    const answer = await send(ctx.target, call.signin);
    const action = actionOf(answer.body);
    if (!action || classOf(answer.status, answer.body) !== 'menu') throw new Error(`bench: warm-up sign-in failed: ${answer.body}`);
    menuCalls.push(menuTurn(ctx.target, call.callSid, action, '2'));
  }
  const baselineTurn: Prepared = {
    path: '/voice/menu',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ CallSid: 'CA' + '1'.repeat(32), AccountSid: 'AC' + '0'.repeat(32), From: '+15550000100', To: '+15550000199', Digits: '2', CallStatus: 'in-progress' }).toString(),
  };
  await cannonFixed(menuCalls, { baseUrl: ctx.instanceUrl, connections: MENU_CONNECTIONS, durationSec: 2 });
  await cannonFixed([baselineTurn], { baseUrl: ctx.baselineUrl, connections: MENU_CONNECTIONS, durationSec: 2 });
  const idle = (await ctx.instance.ask({ type: 'memory' })).afterGc;
  return { menuCalls, baselineTurn, idle };
}

/** Database round-trips of each turn of one call, by turn name. */
type RoundTrips = Record<string, DbCounters>;

const describeTrips = (c: DbCounters) =>
  c.statements === 0 ? '0 round-trips' : `${c.transactions} transaction${c.transactions === 1 ? '' : 's'}, ${c.statements} statements, ${c.checkouts} checkout${c.checkouts === 1 ? '' : 's'}`;

/** Database round-trips per turn, counted on the instance's pool, along one whole call. Reported later by `roundTripFigures()`. */
async function countRoundTrips(ctx: BenchContext): Promise<RoundTrips> {
  log('counting database round-trips');
  const roundTrips: RoundTrips = {};
  const counted = async (name: string, turn: () => Promise<{ status: number; body: string }>) => {
    await ctx.instance.ask({ type: 'counters', reset: true });
    const answer = await turn();
    roundTrips[name] = (await ctx.instance.ask({ type: 'counters', reset: true })).counters;
    if (answer.status !== 200) throw new Error(`bench: ${name} answered ${answer.status}`);
    return answer.body;
  };
  const callSid = `CA${randomBytes(16).toString('hex')}`;
  const turn = (action: string | null, digits?: string) => {
    if (!action) throw new Error('bench: the call ended early while counting round-trips');
    return send(ctx.target, prepare(ctx.target, action, { CallSid: callSid, CallStatus: 'in-progress', ...(digits ? { Digits: digits } : {}) }));
  };
  let body = await counted('incoming (caller-ID lookup)', () => send(ctx.target, prepare(ctx.target, '/voice/incoming', { CallSid: callSid, CallStatus: 'ringing' })));
  body = await counted('ID entry', () => turn(actionOf(body), ctx.roundTripUsers[0]));
  body = await counted('sign-in', () => turn(actionOf(body), BENCH_PIN));
  body = await counted('menu turn (status)', () => turn(actionOf(body), '2'));
  body = await counted('menu turn (change PIN)', () => turn(actionOf(body), '1'));
  body = await counted('new PIN entry (checked, held as a hash)', () => turn(actionOf(body), '604817'));
  body = await counted('PIN save (confirmation)', () => turn(actionOf(body), '604817'));
  if (!heard(body, 'pin.changed')) throw new Error(`bench: the PIN save did not save: ${body}`);
  body = await counted('no-input turn', () => {
    const action = actionOf(body);
    return turn(action ? action.replace('/voice/turn', '/voice/no-input') : null);
  });
  await counted('menu turn (goodbye)', () => turn(actionOf(body), '*'));

  // The same PIN save for a user with an e-mail address: the "PIN changed" notice is queued in
  // the save's own transaction, so it may add statements but never a transaction or a checkout.
  const notified = ctx.roundTripUsers[1];
  await giveEmail(ctx.database.url, notified, `${notified}@example.com`);
  const notifiedCallSid = `CA${randomBytes(16).toString('hex')}`;
  const notifiedTurn = (action: string | null, digits?: string) => {
    if (!action) throw new Error('bench: the notified call ended early while counting round-trips');
    return send(ctx.target, prepare(ctx.target, action, { CallSid: notifiedCallSid, CallStatus: 'in-progress', ...(digits ? { Digits: digits } : {}) }));
  };
  body = (await send(ctx.target, prepare(ctx.target, '/voice/incoming', { CallSid: notifiedCallSid, CallStatus: 'ringing' }))).body;
  for (const digits of [notified, BENCH_PIN, '1', '604817']) body = (await notifiedTurn(actionOf(body), digits)).body;
  body = await counted('PIN save, user with e-mail (notice queued)', () => notifiedTurn(actionOf(body), '604817'));
  if (!heard(body, 'pin.changed')) throw new Error(`bench: the notified PIN save did not save: ${body}`);
  ctx.details.roundTrips = roundTrips;
  return roundTrips;
}

/** One measurement of the raw argon2 ceiling, with its rate. */
type Ceiling = Extract<Reply, { type: 'argon2-ceiling' }> & { verifiesPerSecond: number };

/** Raw argon2 verifies, inside the instance's process: its parameters, its slots, no HTTP. */
async function measureCeiling(ctx: BenchContext): Promise<Ceiling> {
  const ceiling = await ctx.instance.ask({ type: 'argon2-ceiling', durationMs: Math.min(5, SECONDS) * 1000 });
  return { ...ceiling, verifiesPerSecond: ceiling.verifies / ceiling.seconds };
}

/** Raw argon2 ceiling, inside the instance's process: its parameters, its slots, no HTTP. */
async function argon2Ceiling(ctx: BenchContext): Promise<Ceiling> {
  log('measuring the argon2 ceiling');
  const ceiling = await measureCeiling(ctx);
  const hp = DEFAULT_HASH_PARAMETERS;
  ctx.figures.push({
    name: 'argon2 verify ceiling (no HTTP)',
    measured: `${perSecond(ceiling.verifiesPerSecond)} (${ceiling.threads} threads)`,
    target: '— (the ceiling)',
    met: null,
    values: { perSecond: Number(ceiling.verifiesPerSecond.toFixed(1)), threads: ceiling.threads, slots: ceiling.slots, threadpool: ceiling.threadpool, memoryKiB: hp.memoryCost, timeCost: hp.timeCost, parallelism: hp.parallelism },
  });
  return ceiling;
}

/** Menu turns against the stateless baseline, alternating, 50 connections each. */
async function menuTurnsVsBaseline(ctx: BenchContext, warm: WarmedUp): Promise<number> {
  log('menu turns vs the stateless baseline');
  const menuRounds: LoadResult[] = [];
  const baselineRounds: LoadResult[] = [];
  const cpuOf = (rounds: Array<{ cpuMicrosPerAnswer: number; responses: number }>) =>
    rounds.reduce((s, r) => s + r.cpuMicrosPerAnswer * r.responses, 0) / rounds.reduce((s, r) => s + r.responses, 0);
  const baselineCpu: Array<{ cpuMicrosPerAnswer: number; responses: number }> = [];
  const menuCpu: Array<{ cpuMicrosPerAnswer: number; responses: number }> = [];
  // Alternating short rounds, so that a change in the machine's background load hits both alike.
  for (let round = 0; round < 4; round++) {
    const b = await ctx.measured(ctx.baseline, `baseline-menu-${round}`, () =>
      cannonFixed([warm.baselineTurn], { baseUrl: ctx.baselineUrl, connections: MENU_CONNECTIONS, durationSec: SECONDS / 4 }),
    );
    baselineRounds.push(b);
    baselineCpu.push(b);
    const m = await ctx.measured(ctx.instance, `pinline-menu-${round}`, () =>
      cannonFixed(warm.menuCalls, { baseUrl: ctx.instanceUrl, connections: MENU_CONNECTIONS, durationSec: SECONDS / 4 }),
    );
    menuRounds.push(m);
    menuCpu.push(m);
  }
  const base = merge(baselineRounds);
  const menu = merge(menuRounds);
  const baseCpuPerTurn = cpuOf(baselineCpu);
  const menuCpuPerTurn = cpuOf(menuCpu);
  // Bodies are not inspected during the measured rounds (the load generator shares the CPU),
  // so each prepared menu turn is checked here, and every answer in the rounds must be a 200.
  for (const turn of warm.menuCalls) {
    const answer = await send(ctx.target, turn);
    if (classOf(answer.status, answer.body) !== 'menu') throw new Error(`bench: a menu turn did not answer with the menu: ${answer.body}`);
  }
  if ((menu.statuses['200'] ?? 0) !== menu.responses || menu.errors + menu.timeouts > 0) {
    throw new Error(`bench: menu turns failed: ${JSON.stringify(menu.statuses)}, ${menu.errors} errors, ${menu.timeouts} timeouts`);
  }
  const baseP99 = percentile(base.latencies, 99);
  const menuP99 = percentile(menu.latencies, 99);
  ctx.figures.push({
    name: 'baseline: stateless TwiML menu (50 conc.)',
    measured: `${perSecond(base.rate)}, p50 ${ms(percentile(base.latencies, 50))}, p99 ${ms(baseP99)}, ${baseCpuPerTurn.toFixed(0)} µs CPU/turn`,
    target: '— (the reference)',
    met: null,
    values: { ...latencyValues(base), cpuMicrosPerTurn: Math.round(baseCpuPerTurn) },
  });
  ctx.figures.push({
    name: 'menu turn throughput vs baseline (50 conc.)',
    measured: `${perSecond(menu.rate)} = ${ratio(menu.rate / base.rate)}, ${menuCpuPerTurn.toFixed(0)} µs CPU/turn`,
    target: '≥ 1.0×',
    met: menu.rate >= base.rate,
    values: { ...latencyValues(menu), ratio: Number((menu.rate / base.rate).toFixed(3)), cpuMicrosPerTurn: Math.round(menuCpuPerTurn) },
  });
  ctx.figures.push({
    name: 'menu turn latency (50 conc.)',
    measured: `p50 ${ms(percentile(menu.latencies, 50))}, p99 ${ms(menuP99)}`,
    target: `p99 ≤ baseline p99 (${ms(baseP99)})`,
    met: menuP99 <= baseP99,
    values: { p50: Number(percentile(menu.latencies, 50).toFixed(3)), p99: Number(menuP99.toFixed(3)), baselineP99: Number(baseP99.toFixed(3)) },
  });
  return menuCpuPerTurn;
}

/** Turns recorded to time what /metrics adds to each. */
const METRICS_TURNS = 1_000_000;

/**
 * What /metrics adds to a menu turn: the recording the voice router does after answering (its
 * clock read, a counter and a histogram observation), timed here over a million turns. A whole
 * turn's CPU moves by more than that from run to run on a shared machine, so the cost is measured
 * apart and set against the menu turn's CPU of this run. Nothing is recorded between scrapes
 * besides (the gauges are read when scraped).
 */
function metricsCostPerMenuTurn(ctx: BenchContext, menuCpuPerTurn: number): void {
  log('metrics recording per menu turn');
  const pool = new pg.Pool(); // never connected: read only by a scrape's gauges
  const metrics = new Metrics({ gate: new HashGate(1, 1, null), pool });
  const record = (turns: number) => {
    for (let i = 0; i < turns; i++) metrics.turn('menu', performance.now());
  };
  record(METRICS_TURNS / 10); // warm-up, so that the optimised code is what is timed
  const before = process.cpuUsage();
  record(METRICS_TURNS);
  const used = process.cpuUsage(before);
  const perTurn = (used.user + used.system) / METRICS_TURNS;
  const share = perTurn / menuCpuPerTurn;
  ctx.figures.push({
    name: 'metrics recording per menu turn',
    measured: `${perTurn.toFixed(2)} µs = ${percent(share)} of a menu turn's CPU (${menuCpuPerTurn.toFixed(0)} µs)`,
    target: '< 5% of a menu turn',
    met: share < 0.05,
    values: { microsPerTurn: Number(perTurn.toFixed(3)), shareOfMenuTurn: Number(share.toFixed(4)) },
  });
}

/** Fresh calls at their PIN prompt for every sign-in phase, and how much each phase uses. */
interface SigninCalls {
  /** Closed-loop connections offering sign-ins: four per hashing slot. */
  connections: number;
  /** Sign-ins in the throughput phase: the ceiling's rate for SECONDS. */
  throughputAmount: number;
  /** Sign-ins that keep hashing saturated under the menu turns: the ceiling's rate for SECONDS + 3. */
  saturatedAmount: number;
  /** Sign-ins per second offered in the overload phase: twice the ceiling. */
  overloadRate: number;
  /** The next unused sign-in turn (one fresh call each), or null once all are used. */
  next: () => Prepared | null;
}

/** Sign-ins: calls prepared at their PIN prompt up front, one fresh call per sign-in, for all sign-in phases. */
async function prepareSigninCalls(ctx: BenchContext, ceiling: Ceiling): Promise<SigninCalls> {
  const connections = ceiling.slots * 4;
  const throughputAmount = Math.ceil(ceiling.verifiesPerSecond * SECONDS);
  const saturatedAmount = Math.ceil(ceiling.verifiesPerSecond * (SECONDS + 3));
  const overloadRate = Math.round(ceiling.verifiesPerSecond * 2);
  const overloadCount = overloadRate * SECONDS;
  const needed = throughputAmount + saturatedAmount + overloadCount + 2 * connections + 10;
  log(`preparing ${needed} calls at their PIN prompt`);
  const prepared: CallAtPin[] = await ctx.prepareCalls(needed);
  let nextCall = 0;
  const next = () => prepared[nextCall++]?.signin ?? null;
  return { connections, throughputAmount, saturatedAmount, overloadRate, next };
}

/** Sign-in throughput over the whole webhook path, against the argon2 ceiling measured before and after. */
async function signinThroughput(ctx: BenchContext, ceiling: Ceiling, signinCalls: SigninCalls): Promise<void> {
  log('sign-in throughput');
  const succeededBefore = await countEvents(ctx.database.url, 'signin.succeeded');
  await ctx.instance.ask({ type: 'slot-times', reset: true });
  const signins = await ctx.measured(ctx.instance, 'pinline-signin', () =>
    cannonEach(signinCalls.next, { baseUrl: ctx.instanceUrl, connections: signinCalls.connections, amount: signinCalls.throughputAmount, classify: ctx.signinClassifier }),
  );
  const verified = (await countEvents(ctx.database.url, 'signin.succeeded')) - succeededBefore;
  const slots = await ctx.instance.ask({ type: 'slot-times', reset: true });
  const heldMs = slots.slotHeldMs / Math.max(1, slots.turns);
  const hashMs = slots.hashingMs / Math.max(1, slots.turns);
  const busy = slots.hashingMs / 1000 / (ceiling.threads * signins.seconds);
  const signinOk = signins.classes.menu ?? 0;
  if (verified !== signinOk) throw new Error(`bench: ${signinOk} sign-ins answered with the menu but ${verified} were verified: not measuring real sign-ins`);
  const signinRate = signinOk / signins.seconds;
  // The ceiling again, right after: on a shared machine the background load drifts, so the
  // ratio is taken against the mean of the ceilings measured just before and just after.
  const ceilingRate = ceiling.verifiesPerSecond;
  const ceilingAfterRate = (await measureCeiling(ctx)).verifiesPerSecond;
  const bracketed = (ceilingRate + ceilingAfterRate) / 2;
  ctx.figures.push({
    name: 'sign-in throughput (whole webhook path)',
    measured: `${perSecond(signinRate)} = ${ratio(signinRate / bracketed)} of ceiling (${perSecond(ceilingRate)} before, ${perSecond(ceilingAfterRate)} after)`,
    target: '≥ 0.9× ceiling',
    met: signinRate / bracketed >= 0.9,
    values: { ...latencyValues(signins), signedIn: signinOk, verifiedInDatabase: verified, perSecond: Number(signinRate.toFixed(1)), ratio: Number((signinRate / bracketed).toFixed(3)), ceilingBefore: Number(ceilingRate.toFixed(1)), ceilingAfter: Number(ceilingAfterRate.toFixed(1)), connections: signinCalls.connections, classes: JSON.stringify(signins.classes), cpuMicrosPerSignin: Math.round(signins.cpuMicrosPerAnswer) },
  });
  ctx.figures.push({
    name: 'sign-in: argon2 threads busy',
    measured: `${percent(busy)} of the phase (per sign-in: slot held ${ms(heldMs)}, argon2 ${ms(hashMs)})`,
    target: '— (explains the ratio)',
    met: null,
    values: { threadsBusy: Number(busy.toFixed(3)), slotHeldMs: Number(heldMs.toFixed(2)), argon2Ms: Number(hashMs.toFixed(2)), queuedMs: Number((slots.queuedMs / Math.max(1, slots.turns)).toFixed(2)), turns: slots.turns },
  });
}

/** Menu turns while sign-ins keep every hashing slot busy. */
async function menuTurnsWhileHashing(ctx: BenchContext, warm: WarmedUp, signinCalls: SigninCalls): Promise<void> {
  log('menu turns while hashing is saturated');
  const hashingLoad = cannonEach(signinCalls.next, { baseUrl: ctx.instanceUrl, connections: signinCalls.connections, amount: signinCalls.saturatedAmount, classify: ctx.signinClassifier });
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const gateDuring = await ctx.instance.ask({ type: 'gate' });
  let nextMenuCall = 0;
  const nextMenuTurn = () => warm.menuCalls[nextMenuCall++ % warm.menuCalls.length] ?? null;
  const saturatedMenu = await ctx.measured(ctx.instance, 'pinline-menu-while-hashing', () =>
    paced(nextMenuTurn, { baseUrl: ctx.instanceUrl, rate: SATURATED_MENU_RATE, durationSec: SECONDS, classify: ctx.menuClassifier }),
  );
  const gateAfter = await ctx.instance.ask({ type: 'gate' });
  const hashing = await hashingLoad;
  const saturatedP99 = percentile(saturatedMenu.latencies, 99);
  ctx.figures.push({
    name: `menu turn p99 while hashing is saturated (${SATURATED_MENU_RATE}/s)`,
    measured: `p99 ${ms(saturatedP99)} (p50 ${ms(percentile(saturatedMenu.latencies, 50))}; slots ${gateDuring.inUse}/${gateDuring.slots} busy, ${gateDuring.queued} queued)`,
    target: '< 50 ms',
    met: saturatedP99 < 50 && (saturatedMenu.classes.menu ?? 0) === saturatedMenu.offered,
    values: {
      ...latencyValues(saturatedMenu),
      slotsBusy: gateDuring.inUse,
      queued: gateDuring.queued,
      queuedAtEnd: gateAfter.queued,
      signinsMeanwhile: hashing.classes.menu ?? 0,
      signinRateMeanwhile: Number(((hashing.classes.menu ?? 0) / hashing.seconds).toFixed(1)),
    },
  });
}

/** Overload: sign-ins offered at twice the ceiling, open loop. */
async function overloadAtTwiceTheCeiling(ctx: BenchContext, signinCalls: SigninCalls): Promise<void> {
  const overloadRate = signinCalls.overloadRate;
  log(`overload: ${overloadRate} sign-ins/s for ${SECONDS} s`);
  const overload = await paced(signinCalls.next, { baseUrl: ctx.instanceUrl, rate: overloadRate, durationSec: SECONDS, classify: ctx.signinClassifier });
  const busyShare = (overload.classes.busy ?? 0) / overload.offered;
  const slowest = overload.latencies.at(-1) ?? Number.NaN;
  const overloadErrors = overload.errors + overload.timeouts + (overload.offered - overload.responses) + Object.entries(overload.classes).filter(([k]) => k !== 'busy' && k !== 'menu').reduce((s, [, v]) => s + v, 0);
  ctx.figures.push({
    name: `overload at 2× ceiling (${overloadRate}/s offered)`,
    measured: `${percent(busyShare)} heard [system.busy], ${percent((overload.classes.menu ?? 0) / overload.offered)} signed in`,
    target: 'busy, never silence',
    met: null,
    values: { ...latencyValues(overload), offered: overload.offered, busy: overload.classes.busy ?? 0, signedIn: overload.classes.menu ?? 0, classes: JSON.stringify(overload.classes) },
  });
  ctx.figures.push({
    name: 'overload: slowest reply',
    measured: ms(slowest),
    target: '< 10 s',
    met: slowest < 10_000,
    values: { slowestMs: Number(slowest.toFixed(1)), p99: Number(percentile(overload.latencies, 99).toFixed(1)) },
  });
  ctx.figures.push({
    name: 'overload: errors (non-200, unanswered, [error.unavailable])',
    measured: String(overloadErrors),
    target: '0',
    met: overloadErrors === 0,
    values: { errors: overloadErrors, statuses: JSON.stringify(overload.statuses) },
  });
}

/** Round-trips per turn (counted earlier by `countRoundTrips()`, reported here). */
function roundTripFigures(ctx: BenchContext, roundTrips: RoundTrips): void {
  const trips = (name: string) => roundTrips[name] as DbCounters;
  ctx.figures.push({
    name: 'DB round-trips: menu turn',
    measured: describeTrips(trips('menu turn (status)')),
    target: '0',
    met: trips('menu turn (status)').statements === 0 && trips('menu turn (change PIN)').statements === 0 && trips('menu turn (goodbye)').statements === 0,
    values: { ...trips('menu turn (status)') },
  });
  ctx.figures.push({
    name: 'DB round-trips: sign-in',
    measured: describeTrips(trips('sign-in')),
    target: '1 transaction',
    met: trips('sign-in').transactions === 1 && trips('sign-in').checkouts === 1,
    values: { ...trips('sign-in') },
  });
  ctx.figures.push({
    name: 'DB round-trips: PIN save',
    measured: describeTrips(trips('PIN save (confirmation)')),
    target: '1 transaction',
    met: trips('PIN save (confirmation)').transactions === 1 && trips('PIN save (confirmation)').checkouts === 1,
    values: { ...trips('PIN save (confirmation)') },
  });
  const plain = trips('PIN save (confirmation)');
  const notified = trips('PIN save, user with e-mail (notice queued)');
  ctx.figures.push({
    name: 'DB round-trips: PIN save with a notice queued',
    measured: `${describeTrips(notified)} (+${notified.statements - plain.statements})`,
    target: 'same transaction, +1 statement per message',
    met: notified.transactions === 1 && notified.checkouts === 1 && notified.statements - plain.statements === 1,
    values: { ...notified, extraStatements: notified.statements - plain.statements },
  });
}

/** Memory with 1,000 calls in progress: parked at their PIN prompt, then all taking a turn at once. */
async function memoryWithParkedCalls(ctx: BenchContext, warm: WarmedUp): Promise<void> {
  log(`memory with ${PARKED_CALLS} calls in progress`);
  // Parked: 1,000 new calls brought to their PIN prompt and left there. The instance holds
  // nothing for them (their state is in their URLs), so its heap after GC should not move.
  const beforeParking = (await ctx.instance.ask({ type: 'memory' })).afterGc;
  const waiting = await ctx.prepareCalls(PARKED_CALLS);
  const withParked = (await ctx.instance.ask({ type: 'memory' })).afterGc;
  // In flight: 1,000 calls signed in earlier take their next turn within 100 ms.
  while (ctx.parked.length < PARKED_CALLS) {
    const extra = await ctx.prepareCalls(Math.min(100, PARKED_CALLS - ctx.parked.length));
    await eachLimited(extra, 8, async (call) => {
      const answer = await send(ctx.target, call.signin);
      ctx.signinClassifier(answer.status, answer.body, { callSid: call.callSid });
    });
  }
  const calls = ctx.parked.slice(0, PARKED_CALLS);
  await ctx.instance.ask({ type: 'sample-start' });
  let k = 0;
  const burst = await paced(
    () => {
      const call = calls[k++];
      return call ? menuTurn(ctx.target, call.callSid, call.action, '2') : null;
    },
    { baseUrl: ctx.instanceUrl, rate: PARKED_CALLS * 10, durationSec: 0.1, classify: ctx.menuClassifier },
  );
  const { peak } = await ctx.instance.ask({ type: 'sample-stop' });
  const afterBurst = (await ctx.instance.ask({ type: 'memory' })).afterGc;
  if ((burst.classes.menu ?? 0) !== PARKED_CALLS) throw new Error(`bench: the ${PARKED_CALLS} parked calls did not all go on: ${JSON.stringify(burst.classes)}`);
  if (waiting.length !== PARKED_CALLS) throw new Error('bench: not every call was parked');
  const perParked = (withParked.heapUsed - beforeParking.heapUsed) / PARKED_CALLS;
  const perInFlight = (peak.rss - afterBurst.rss) / PARKED_CALLS;
  const memoryValues = (m: MemorySample) => ({ rss: m.rss, heapUsed: m.heapUsed });
  ctx.details.memory = {
    idleAfterWarmUp: memoryValues(warm.idle),
    beforeParking: memoryValues(beforeParking),
    withParked: memoryValues(withParked),
    peakDuringBurst: memoryValues(peak),
    afterBurst: memoryValues(afterBurst),
  };
  ctx.figures.push({
    name: `memory: ${PARKED_CALLS} calls parked mid-dialog (after GC)`,
    measured: `heap ${mib(withParked.heapUsed)} vs ${mib(beforeParking.heapUsed)} before (${(perParked / 1024).toFixed(2)} KiB/call), RSS ${mib(withParked.rss)}`,
    // Only growth matters: a parked call that cost memory would show as growth, while a heap
    // that shrinks meanwhile (the collector settling) says nothing about the calls.
    target: 'no growth (< 0.5 KiB/call)',
    met: perParked < 512,
    values: { heapUsed: withParked.heapUsed, heapBefore: beforeParking.heapUsed, rss: withParked.rss, rssBefore: beforeParking.rss, heapPerCallBytes: Math.round(perParked) },
  });
  ctx.figures.push({
    name: `memory: ${PARKED_CALLS} turns in flight at once (peak)`,
    measured: `RSS ${mib(peak.rss)}, heap ${mib(peak.heapUsed)} (${(perInFlight / 1024).toFixed(1)} KiB RSS/turn); all answered, p99 ${ms(percentile(burst.latencies, 99))}`,
    target: '—',
    met: null,
    values: { peakRss: peak.rss, peakHeapUsed: peak.heapUsed, rssPerTurnBytes: Math.round(perInFlight), afterGcHeapUsed: afterBurst.heapUsed, ...latencyValues(burst) },
  });
}

const CLI_RUNS = 5;
const CLI_TARGET_MS = 1000;

/**
 * How long `pinline` takes to answer, as a script calling it per user sees it: bin/pinline.js on a
 * fresh build, with DATABASE_URL set and the server running, the median of CLI_RUNS runs each.
 */
function cliStartTime(ctx: BenchContext): void {
  log('pinline command start time');
  const root = fileURLToPath(new URL('..', import.meta.url));
  execFileSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' });
  const timed = (args: string[]) => {
    const times: number[] = [];
    for (let i = 0; i < CLI_RUNS; i++) {
      const started = performance.now();
      const run = spawnSync(process.execPath, ['bin/pinline.js', ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', ...ctx.cliEnv }, encoding: 'utf8' });
      times.push(performance.now() - started);
      if (run.status !== 0) throw new Error(`pinline ${args.join(' ')} exited ${run.status}: ${run.stderr.trim()}`);
    }
    return percentile(times.sort((a, b) => a - b), 50);
  };
  for (const args of [['--help'], ['user', 'show', ctx.userFor()]]) {
    const median = timed(args);
    ctx.figures.push({
      name: `CLI: pinline ${args[0] === 'user' ? 'user show EXT' : args.join(' ')} (median of ${CLI_RUNS})`,
      measured: ms(median),
      target: `< ${CLI_TARGET_MS / 1000} s`,
      met: median < CLI_TARGET_MS,
      values: { medianMs: Number(median.toFixed(1)), runs: CLI_RUNS },
    });
  }
}

// ==== the report ====

/** Prints the table (and every turn's round-trips) and writes the same figures to bench/results/. */
function writeReport(ctx: BenchContext, conditions: RunConditions, roundTrips: RoundTrips): void {
  const { started, busyBefore, loadBefore } = conditions;
  const machine = describeMachine(ctx.database.description);
  const table = renderTable(ctx.figures);
  const loadAfter = loadavg()[0] ?? 0;
  const heading =
    `pinline bench — ${new Date().toISOString()} — ${machine.nproc} × ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}\n${machine.database}\n` +
    `before the run the machine was ${busyBefore === null ? '?' : percent(busyBefore)} busy (load average ${loadBefore.toFixed(2)}; ${loadAfter.toFixed(2)} after)` +
    ((busyBefore ?? 0) > 0.1 ? ' — other work was running: figures are lower and noisier than on a quiet machine\n' : '\n');
  process.stdout.write(`\n${heading}\n${table}\n\n`);
  for (const [name, c] of Object.entries(roundTrips)) process.stdout.write(`  round-trips, ${name}: ${describeTrips(c)}\n`);
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const json = {
    timestamp: new Date().toISOString(),
    durationSeconds: Math.round((Date.now() - started) / 1000),
    machine,
    machineBusyBefore: busyBefore,
    loadAverage: { before: loadBefore, after: loadAfter },
    settings: { phaseSeconds: SECONDS, users: USERS, menuConnections: MENU_CONNECTIONS, parkedCalls: PARKED_CALLS, saturatedMenuRate: SATURATED_MENU_RATE, logLevel: process.env.LOG_LEVEL ?? 'info', profile: PROFILE },
    figures: ctx.figures,
    details: ctx.details,
    markdown: renderMarkdown(ctx.figures),
  };
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(`${RESULTS_DIR}${stamp}.json`, JSON.stringify(json, null, 2) + '\n');
  writeFileSync(`${RESULTS_DIR}latest.json`, JSON.stringify(json, null, 2) + '\n');
  process.stdout.write(`\nwritten: bench/results/${stamp}.json and bench/results/latest.json (${json.durationSeconds} s)\n`);
}

/**
 * The run: one line per scenario, in order. A new scenario is a function of the context (and of
 * what earlier scenarios returned) that pushes its own figures, and one line here.
 */
async function main(): Promise<void> {
  const conditions = await observeMachine();
  const ctx = await startBench();
  try {
    const warm = await warmUp(ctx);
    const roundTrips = await countRoundTrips(ctx);
    const ceiling = await argon2Ceiling(ctx);
    const menuCpuPerTurn = await menuTurnsVsBaseline(ctx, warm);
    metricsCostPerMenuTurn(ctx, menuCpuPerTurn);
    const signinCalls = await prepareSigninCalls(ctx, ceiling);
    await signinThroughput(ctx, ceiling, signinCalls);
    await menuTurnsWhileHashing(ctx, warm, signinCalls);
    await overloadAtTwiceTheCeiling(ctx, signinCalls);
    roundTripFigures(ctx, roundTrips);
    await memoryWithParkedCalls(ctx, warm);
    cliStartTime(ctx);
    writeReport(ctx, conditions, roundTrips);
  } finally {
    await ctx.instance.stop();
    await ctx.baseline.stop();
    await ctx.database.close();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
