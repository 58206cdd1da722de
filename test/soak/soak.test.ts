import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.js';
import { simulateCall, type TranscriptLine } from '../../src/cli/simulator.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { ensureRule, updateRule } from '../../src/db/rules.js';
import { DEFAULT_HASH_PARAMETERS, type HashParameters } from '../../src/pin/hasher.js';
import { promptMatcher } from '../support/prompt-matcher.js';
import { createServices, type Services } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { testActor } from '../support/factories.js';
import { silentLogger, testConfig } from '../support/services.js';
import { seededRandom as random } from '../support/random.js';

/**
 * The soak: many calls with random key paths through every flow, many at once, against one
 * instance on real Postgres. Sized by SOAK_CALLS and SOAK_CONCURRENCY: `npm test` runs a short
 * form (300 calls, 30 at once); `npm run test:soak` the full one (5,000 calls, 100 at once).
 * SOAK_SEED replays a run; SOAK_REAL_HASH=1 uses the production argon2 cost (the default is a
 * cheap cost: the soak is about the dialog and the data, not the hash).
 */
const CALLS = Number(process.env.SOAK_CALLS ?? 300);
const CONCURRENCY = Number(process.env.SOAK_CONCURRENCY ?? 30);
const SEED = Number(process.env.SOAK_SEED ?? Date.now() % 1_000_000);
const HASH: HashParameters = process.env.SOAK_REAL_HASH === '1' ? DEFAULT_HASH_PARAMETERS : { memoryCost: 1024, timeCost: 1, parallelism: 1 };
const MAX_KEYS_PER_CALL = 14;
/** Heap after GC may move this much between warm-up and the end; a per-call leak would be far more at 5,000 calls. */
const HEAP_GROWTH_BOUND = 24 * 2 ** 20;


function collectGarbage(): void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  gc();
  gc();
}

interface SoakUser {
  userId: number;
  extension: string;
  phone: string | null;
  /** The PIN the model says is current: changed only when the caller heard the change confirmed. */
  pin: string;
  confirmedChanges: number;
  busy: boolean;
}

interface CallSummary {
  error: string | null;
  heard: string[];
  confirmedChange: boolean;
}

let database: TestDatabase;
let pool: Pool;
let services: Services;
let server: Server;
let baseUrl: string;
const users: SoakUser[] = [];
/** Spoken text → prompt key, in every locale (prompts with placeholders by pattern). */
let promptOf: (text: string) => string;

beforeAll(async () => {
  database = await createTestDatabase();
  pool = createPool(database.url, silentLogger, 20);
  server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  services = createServices(testConfig({ publicBaseUrl: baseUrl, hashQueueLimit: 1000, hashQueueTimeoutMs: 10_000 }), silentLogger, pool, { hashParameters: HASH });
  server.on('request', createApp(services));

  const keyOf = promptMatcher(services.catalog);
  promptOf = (text) => keyOf(text).replace(/\{.*\}$/, '');

  // Most users never lock (so wrong PINs can't lock a user out of the rest of the soak); a
  // minimum time between changes of 0 lets voluntary changes happen again and again.
  await ensureRule(pool, 'soak');
  await updateRule(pool, 'soak', { maxFailedSignins: 0, minChangeMinutes: 0 });
  const count = Math.max(CONCURRENCY * 2, Math.ceil(CALLS / 8));
  for (let i = 0; i < count; i++) {
    const kind = i % 8;
    const extension = String(50_000 + i);
    const pin = '860472';
    const { user } = await services.accounts.createUser(
      {
        extension,
        firstName: 'Soak',
        lastName: 'Caller',
        pin,
        enroll: kind === 0,
        ruleName: kind === 4 ? 'default' : 'soak',
        locale: kind === 7 ? 'es-US' : 'en-US',
        phone: kind === 6 ? `+1555${String(1_000_000 + i)}` : null,
        flags: { mustChange: kind === 1, cannotChange: kind === 5, doesNotExpire: kind === 6 },
      },
      testActor,
    );
    // kind 2: expired by time; kind 4 (default rule): changed just now, so a change is too soon.
    const age = kind === 2 ? '200 days' : kind === 4 ? '0 days' : '2 days';
    await pool.query(`UPDATE pin_credentials SET changed_at = now() - $2::interval WHERE user_id = $1`, [user.id, age]);
    users.push({ userId: user.id, extension, phone: kind === 6 ? `+1555${String(1_000_000 + i)}` : null, pin, confirmedChanges: 0, busy: false });
  }
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  await pool?.end();
  await database?.drop();
});

async function tableCounts(): Promise<Record<string, number>> {
  const { rows } = await pool.query(`SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`);
  const counts: Record<string, number> = {};
  for (const { table_name: name } of rows as Array<{ table_name: string }>) {
    counts[name] = (await pool.query(`SELECT count(*)::int AS n FROM "${name}"`)).rows[0].n as number;
  }
  return counts;
}

/** One call with a random key path, chosen turn by turn from the prompt just heard. */
async function randomCall(user: SoakUser, rnd: () => number): Promise<CallSummary> {
  const pick = <T>(choices: Array<[number, T]>): T => {
    let r = rnd() * choices.reduce((s, [w]) => s + w, 0);
    for (const [w, v] of choices) if ((r -= w) < 0) return v;
    return (choices.at(-1) as [number, T])[1];
  };
  const newPin = () => String(Math.floor(rnd() * 9_000_000) + 1_000_000).slice(0, 6 + Math.floor(rnd() * 3));
  const heard: string[] = [];
  let lastPrompt = '';
  let candidate: string | null = null;
  let confirming: string | null = null;
  let confirmedChange = false;
  let keys = 0;
  const onLine = (line: TranscriptLine) => {
    if (line.kind !== 'say') return;
    const key = promptOf(line.text);
    heard.push(key);
    lastPrompt = key;
    if ((key === 'pin.changed' || key === 'enroll.done') && confirming !== null) {
      user.pin = confirming;
      user.confirmedChanges++;
      confirmedChange = true;
      confirming = null;
    }
    if (key === 'pin.mismatch' || key === 'pin.enter_new') confirming = null;
  };
  const source = async (): Promise<string | null> => {
    if (++keys > MAX_KEYS_PER_CALL) return null;
    const silence = '';
    switch (lastPrompt) {
      case 'signin.enter_id':
        return pick([[90, `${user.extension}#`], [4, '99999#'], [3, silence], [3, null]]);
      case 'signin.enter_pin':
        return pick([[84, `${user.pin}#`], [10, '000000#'], [3, silence], [3, user.phone ? '*' : null]]);
      case 'menu.main':
        return pick([[35, '1'], [30, '2'], [18, '*'], [5, '9'], [6, silence], [6, null]]);
      case 'pin.enter_new':
      case 'pin.cancel_hint':
        candidate = pick([[70, newPin()], [8, '123456'], [6, '12'], [6, user.pin], [10, '*']]);
        if (rnd() < 0.04) return null;
        return candidate === '*' ? '*' : `${candidate}#`;
      case 'pin.confirm': {
        const typed = pick([[82, candidate ?? ''], [12, newPin()], [6, '']]);
        if (typed === '' || rnd() < 0.04) return null;
        confirming = typed === candidate ? typed : null;
        return `${typed}#`;
      }
      default:
        return pick([[80, silence], [20, null]]);
    }
  };
  const transcript = await simulateCall({
    baseUrl,
    authToken: services.config.twilioAuthToken,
    keys: source,
    onLine,
    ...(user.phone && rnd() < 0.7 ? { from: user.phone } : {}),
  });
  return { error: transcript.error, heard, confirmedChange };
}

describe(`soak: ${CALLS} calls, ${CONCURRENCY} at once (seed ${SEED})`, () => {
  it('when calls with random key paths run at once through every flow, then every confirmed PIN change is saved, nothing else is, nothing is left per call, and memory stays bounded', async () => {
    const rnd = random(SEED);
    const before = await tableCounts();
    const changedBefore = (await pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE event = 'pin.changed'`)).rows[0].n as number;
    const summaries: CallSummary[] = [];
    const heardAll = new Set<string>();
    let started = 0;
    let warmHeap = 0;

    const lane = async () => {
      while (started < CALLS) {
        started++;
        // One call per user at a time: the model's "current PIN" must be unambiguous.
        const free = users.filter((u) => !u.busy);
        const user = free[Math.floor(rnd() * free.length)] as SoakUser;
        user.busy = true;
        try {
          const summary = await randomCall(user, rnd);
          summaries.push({ ...summary, heard: [] });
          for (const key of summary.heard) heardAll.add(key);
        } finally {
          user.busy = false;
        }
        if (summaries.length === Math.ceil(CALLS / 10)) {
          collectGarbage();
          warmHeap = process.memoryUsage().heapUsed;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, lane));
    collectGarbage();
    const endHeap = process.memoryUsage().heapUsed;

    // Every call was answered as Twilio expects (HTTP 200, valid TwiML), none with a failure.
    expect(summaries).toHaveLength(CALLS);
    expect(summaries.filter((s) => s.error !== null).map((s) => s.error)).toEqual([]);
    expect(heardAll.has('error.unavailable')).toBe(false);
    expect([...heardAll].filter((k) => k.startsWith('?'))).toEqual([]);
    // Every flow was walked.
    for (const key of ['enroll.done', 'pin.expired', 'pin.changed', 'pin.status', 'pin.status_never', 'pin.too_soon', 'pin.cant_change', 'pin.mismatch', 'pin.trivial', 'pin.too_short', 'signin.invalid', 'no_input', 'menu.invalid', 'goodbye']) {
      if (CALLS >= 300) expect(heardAll, `no call heard [${key}]`).toContain(key);
    }

    // Exactly the confirmed changes were saved: per user, the audited changes match the ones
    // the caller heard confirmed, and the stored hash is of the PIN the model holds.
    const confirmed = users.reduce((s, u) => s + u.confirmedChanges, 0);
    const changedAfter = (await pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE event = 'pin.changed'`)).rows[0].n as number;
    expect(changedAfter - changedBefore).toBe(confirmed);
    const { rows } = await pool.query(
      `SELECT c.user_id, c.pin_hash, (SELECT count(*)::int FROM audit_events a WHERE a.user_id = c.user_id AND a.event = 'pin.changed') AS changes
         FROM pin_credentials c`,
    );
    const stored = new Map((rows as Array<{ user_id: number; pin_hash: string; changes: number }>).map((r) => [r.user_id, r]));
    const wrong: string[] = [];
    for (const user of users) {
      const row = stored.get(user.userId);
      if (!row) {
        wrong.push(`${user.extension}: no credential`);
        continue;
      }
      if (row.changes !== user.confirmedChanges) wrong.push(`${user.extension}: ${row.changes} changes saved, ${user.confirmedChanges} confirmed`);
      if (!(await services.hasher.verify(row.pin_hash, user.pin))) wrong.push(`${user.extension}: the stored PIN is not the last confirmed one`);
    }
    expect(wrong).toEqual([]);

    // Nothing is kept per call: no table grew but the audit trail and the PIN history, and no
    // table other than the audit trail has a column for a call.
    const after = await tableCounts();
    const grown = Object.keys(after).filter((t) => (after[t] ?? 0) !== (before[t] ?? 0));
    expect(grown.filter((t) => t !== 'audit_events' && t !== 'pin_history')).toEqual([]);
    const callColumns = await pool.query(
      `SELECT DISTINCT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name ILIKE '%call%sid%'`,
    );
    expect(callColumns.rows.map((r: { table_name: string }) => r.table_name)).toEqual(['audit_events']);

    // Memory: heap after GC at the end is within a fixed bound of the heap after warm-up.
    process.stdout.write(
      `soak: ${CALLS} calls, ${CONCURRENCY} at once, seed ${SEED}: ${confirmed} PIN changes confirmed and saved; ` +
        `heap after GC ${(warmHeap / 2 ** 20).toFixed(1)} MiB after warm-up, ${(endHeap / 2 ** 20).toFixed(1)} MiB at the end\n`,
    );
    expect(endHeap - warmHeap).toBeLessThan(HEAP_GROWTH_BOUND);
  }, 600_000);
});
