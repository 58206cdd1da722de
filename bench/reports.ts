/**
 * `npm run bench:reports`: how long each report of DESIGN §9 takes for 100,000 users (target: 1 s).
 *
 * Seeds a throwaway database (DATABASE_URL's server, else an embedded Postgres) with BENCH_USERS
 * users (default 100,000) in a realistic mix: expired and expiring PINs, administrator, intruder
 * and inactivity locks, pending enrollment, users who never signed in, several rules, and an audit
 * log with 50,000 failed phone sign-ins in the last day among older events. Then runs every
 * report three times through ReportService, as the CLI and the admin pages do, and prints each
 * run's time and the median; then all six at once, as the Reports page does (for information).
 * Last, the worst case for a report: every user in it (all pending enrollment, as after a bulk
 * import). Exits 1 when a report's median misses the target. The tests never time anything.
 */
import pg from 'pg';
import { pino } from 'pino';
import { REPORTS, ReportService } from '../src/accounts/reports.js';
import { createPool } from '../src/db/pool.js';
import { DEFAULT_HASH_PARAMETERS, SecretHasher } from '../src/pin/hasher.js';
import { BENCH_PIN, openBenchDatabase, seedUsers } from './lib/database.js';
import { describeMachine, ms, renderTable, type Figure } from './lib/report.js';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const RUNS = 3;
const TARGET_MS = 1000;

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);

/** Gives the seeded users (extension 200001 + g) a spread of PIN states, rules and audit history. */
async function addVariety(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    await client.query(`INSERT INTO auth_rules (name, inactive_days) VALUES ('idle-60', 60)`);
    await client.query(`INSERT INTO auth_rules (name, lockout_minutes) VALUES ('admin-unlock', NULL)`);
    await client.query(`INSERT INTO auth_rules (name, max_days) VALUES ('no-expiry', 0)`);
    // g is the user's number; products with primes scatter each property independently of the others.
    await client.query(`
      UPDATE users u SET rule_id = (SELECT id FROM auth_rules WHERE name = CASE u.extension::int % 10
          WHEN 0 THEN 'idle-60' WHEN 1 THEN 'admin-unlock' WHEN 2 THEN 'no-expiry' ELSE 'default' END)`);
    await client.query(`
      UPDATE pin_credentials c SET
        changed_at = now() - make_interval(days => (s.g * 7919) % 240, secs => (s.g * 31) % 86400),
        enrollment_pending = s.g % 20 = 0,
        must_change = s.g % 50 = 0,
        temporary_since = CASE WHEN s.g % 70 = 0 THEN now() - make_interval(hours => s.g % 100) END,
        locked_by_admin = s.g % 100 = 0,
        locked_at = CASE WHEN s.g % 30 = 0 THEN now() - make_interval(mins => s.g % 240) END,
        failed_count = CASE WHEN s.g % 30 = 0 THEN 3 ELSE 0 END,
        last_signin_at = CASE WHEN s.g % 9 <> 0 THEN now() - make_interval(days => ((s.g::bigint * 104729) % 150)::int, secs => s.g % 86400) END,
        activity_since = now() - interval '200 days'
        FROM (SELECT id, extension::int - 200001 AS g FROM users) s
       WHERE s.id = c.user_id`);
    const users = `(SELECT array_agg(id ORDER BY id) AS ids FROM users) a`;
    /** `count` events spread over `among` users, at random times from `newest` back over `span`. */
    const event = (name: string, channel: string, count: number, among: number, newest: string, span: string) =>
      client.query(
        `INSERT INTO audit_events (at, event, channel, actor, user_id)
         SELECT now() - ${newest} - random() * ${span}, '${name}', '${channel}', 'caller:+15550000100',
                a.ids[1 + ((g::bigint * 7907) % least(${among}, cardinality(a.ids)))::int]
           FROM generate_series(1, ${count}) g, ${users}`,
      );
    // The last day's failed phone sign-ins: 50,000 among 20,000 users.
    await event('signin.failed', 'phone', 50_000, 20_000, `interval '0'`, `interval '23 hours 59 minutes'`);
    await event('signin.failed', 'web', 5_000, USERS, `interval '0'`, `interval '23 hours'`);
    await event('signin.failed', 'phone', 50_000, USERS, `interval '1 day 1 minute'`, `interval '60 days'`);
    await event('signin.succeeded', 'phone', 300_000, USERS, `interval '0'`, `interval '90 days'`);
    // Failed sign-ins with an unknown ID have no user.
    await client.query(
      `INSERT INTO audit_events (at, event, channel, actor, details)
       SELECT now() - random() * interval '23 hours', 'signin.failed', 'phone', 'caller:+15550000100', '{"reason":"unknown"}'
         FROM generate_series(1, 5000)`,
    );
    await client.query('COMMIT');
    await client.query('ANALYZE');
  } finally {
    await client.end();
  }
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Times RUNS calls of fn, one after another; returns each time and what the last call returned. */
async function timeRuns<T>(fn: () => Promise<T>): Promise<{ times: number[]; last: T }> {
  const times: number[] = [];
  let last: T | undefined;
  for (let i = 0; i < RUNS; i++) {
    const started = performance.now();
    last = await fn();
    times.push(performance.now() - started);
  }
  return { times, last: last as T };
}

function figure(name: string, times: readonly number[], target: number | null, values: Figure['values'] = {}): Figure {
  const mid = median(times);
  return {
    name: `${name} (runs ${times.map((t) => t.toFixed(0)).join(', ')} ms)`,
    measured: ms(mid),
    target: target === null ? '—' : `≤ ${ms(target)}`,
    met: target === null ? null : mid <= target,
    values: { ...values, median: mid, runs: times.join(',') },
  };
}

/** One report, RUNS times. */
async function measure(reports: ReportService, name: string, label = name): Promise<Figure> {
  const { times, last } = await timeRuns(() => reports.run(name));
  const rows = last.rows.length;
  log(`${label}: ${rows} rows, ${times.map((t) => ms(t)).join(', ')}`);
  return figure(`${label}, ${rows.toLocaleString('en-US')} rows`, times, TARGET_MS, { rows });
}

/** All six at once, as the Reports page runs them: for information, the target is per report. */
async function measureAll(reports: ReportService): Promise<Figure> {
  const { times } = await timeRuns(() => reports.counts());
  log(`all six at once: ${times.map((t) => ms(t)).join(', ')}`);
  return figure('all six at once (the Reports page)', times, null);
}

async function main(): Promise<number> {
  const database = await openBenchDatabase();
  const pool = createPool(database.url, pino({ level: 'silent' }), 4);
  try {
    log(`database: ${database.description}`);
    const hasher = new SecretHasher('bench-reports-pepper', DEFAULT_HASH_PARAMETERS);
    const seedStarted = performance.now();
    await seedUsers(database.url, USERS, await hasher.hash(BENCH_PIN));
    await addVariety(database.url);
    log(`seeded ${USERS} users and their audit history in ${ms(performance.now() - seedStarted)}`);

    const reports = new ReportService(pool);
    // One untimed pass, so the first timed run does not pay for a cold cache and connections.
    await reports.counts();
    const figures: Figure[] = [];
    for (const report of REPORTS) figures.push(await measure(reports, report.name));
    figures.push(await measureAll(reports));

    await pool.query('UPDATE pin_credentials SET enrollment_pending = true');
    await pool.query('ANALYZE pin_credentials');
    figures.push(await measure(reports, 'enrollment-pending', 'enrollment-pending, every user'));

    const machine = describeMachine(database.description);
    process.stdout.write(`\nReports for ${USERS.toLocaleString('en-US')} users, median of ${RUNS} runs each\n`);
    process.stdout.write(`${machine.nproc} cores, ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.database}\n\n`);
    process.stdout.write(`${renderTable(figures)}\n`);
    return figures.every((figure) => figure.met !== false) ? 0 : 1;
  } finally {
    await pool.end();
    await database.close();
  }
}

process.exitCode = await main();
