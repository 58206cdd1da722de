/**
 * `npm run bench:scale`: pinline at 1,000,000 users (issue 21). Builds the users in a throwaway
 * database on DATABASE_URL's server (else an embedded Postgres) with SQL alone, in the issue's mix:
 * 70% signed in recently, 10% in their expiry warning, 5% expired, 1% locked, 10% enrollment
 * pending, 4% inactive past their rule. Then times each row of the issue's table, the median of 3
 * runs, and prints it with its target and whether it is met; last, the EXPLAIN plan of every
 * statement of a sign-in and a PIN save.
 *
 * Imports run the real CLI (`bin/pinline.js`, so `npm run build` first) on files of
 * BENCH_IMPORT_ROWS rows (default 200,000) into the million-user table; the memory figure is a
 * dry run of a BENCH_MEMORY_ROWS-row file (default 1,000,000), its peak resident memory read from
 * /proc. BENCH_USERS changes the million, BENCH_RUNS the 3 runs. BENCH_KEEP=1 keeps the databases
 * (pinline_bench_kept*, or pinline_bench_kept_NAME with BENCH_KEEP_AS=NAME) and re-uses them on the next run
 * instead of building the users again (the imports first delete what earlier runs imported);
 * BENCH_ONLY=reports,search (any of imports, export, reports, search, signin, memory) runs only those rows. A step that fails (a report past
 * the statement timeout) is a figure that is not met, and the run goes on. The tests never time anything.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { pino } from 'pino';
import { ReportService, REPORTS } from '../src/accounts/reports.js';
import { loadConfig } from '../src/config.js';
import { createPool, type Pool } from '../src/db/pool.js';
import { DEFAULT_HASH_PARAMETERS, SecretHasher } from '../src/pin/hasher.js';
import { createServices, type Services } from '../src/runtime.js';
import { BENCH_PIN, openBenchDatabase } from './lib/database.js';
import { describeMachine, mib, ms, perSecond, renderTable, type Figure } from './lib/report.js';

const USERS = Number(process.env.BENCH_USERS ?? 1_000_000);
const IMPORT_ROWS = Number(process.env.BENCH_IMPORT_ROWS ?? 200_000);
const MEMORY_ROWS = Number(process.env.BENCH_MEMORY_ROWS ?? 1_000_000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const KEEP = process.env.BENCH_KEEP === '1';
const ONLY = process.env.BENCH_ONLY ? new Set(process.env.BENCH_ONLY.split(',')) : null;
const runs = (part: 'imports' | 'export' | 'reports' | 'search' | 'signin' | 'memory') => ONLY === null || ONLY.has(part);
const FIRST_EXTENSION = 1_000_000;
const PEPPER = 'bench-scale-pepper-0123456789';
const SECRETS = { PIN_PEPPER: PEPPER, SESSION_SECRET: 'bench-scale-session-secret-0123456789', TWILIO_AUTH_TOKEN: 'bench' };
const BIN = path.join(import.meta.dirname, '..', 'bin', 'pinline.js');

const log = (message: string) => process.stderr.write(`bench: ${message}\n`);
const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;

/**
 * The users, one statement each for users and credentials: g's last two digits pick the group, so
 * every group is spread over the extensions. The default rule: PINs expire after 180 days, with a
 * 15-day warning; the inactive report counts 90 days for a rule without an inactivity lock.
 */
async function buildUsers(url: string, count: number, pinHash: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('SET maintenance_work_mem = $$256MB$$');
    await client.query(
      `INSERT INTO users (extension, first_name, last_name, phone, rule_id)
       SELECT ($1::int + g)::text, 'First' || g, 'Last' || (g % 9973), CASE WHEN g % 3 = 0 THEN '+1555' || lpad(g::text, 8, '0') END,
              (SELECT id FROM auth_rules WHERE name = 'default')
         FROM generate_series(0, $2::int - 1) g`,
      [FIRST_EXTENSION, count],
    );
    await client.query(
      `INSERT INTO pin_credentials (user_id, pin_hash, changed_at, enrollment_pending, locked_by_admin, last_signin_at, activity_since)
       SELECT u.id, $1::text,
              now() - make_interval(days => CASE WHEN m < 70 THEN g % 150 WHEN m < 80 THEN 170 WHEN m < 85 THEN 200 ELSE 30 END),
              m BETWEEN 86 AND 95,
              m = 85,
              CASE WHEN m < 86 THEN now() - make_interval(hours => g % 72) WHEN m >= 96 THEN now() - interval '120 days' END,
              now() - interval '200 days'
         FROM (SELECT id, extension::int - $2::int AS g, (extension::int - $2::int) % 100 AS m FROM users) u`,
      [pinHash, FIRST_EXTENSION],
    );
    await client.query('VACUUM ANALYZE users');
    await client.query('VACUUM ANALYZE pin_credentials');
  } finally {
    await client.end();
  }
}

/** Deletes the users earlier imports added (extensions from `base`, all of the built users' length). */
async function removeImported(url: string, base: number): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query('DELETE FROM users WHERE length(extension) = length($1::text) AND extension >= $1::text', [String(base)]);
    await client.query('VACUUM ANALYZE users');
    await client.query('VACUUM ANALYZE pin_credentials');
  } finally {
    await client.end();
  }
}

/** An import file of `rows` rows from extension `from`: new users, or the same ones with a changed first name. */
function importFile(dir: string, name: string, from: number, rows: number, first = 'Im'): string {
  const file = path.join(dir, name);
  const lines = ['extension,first,last,phone,email,locale,rule,response_wait'];
  for (let i = 0; i < rows; i++) lines.push(`${from + i},${first}${i},Port${i % 997},,u${from + i}@example.com,en-US,default,5`);
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Runs `pinline ARGS` with its output thrown away; its wall time and peak resident memory (VmHWM). */
function cli(url: string, args: string[]): Promise<{ ms: number; peakBytes: number; code: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, ...SECRETS, DATABASE_URL: url, NODE_ENV: 'test', LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    let peak = 0;
    const sample = () => {
      try {
        const line = readFileSync(`/proc/${child.pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('VmHWM:'));
        if (line) peak = Math.max(peak, Number(line.replace(/\D/g, '')) * 1024);
      } catch {
        // gone, or not Linux
      }
    };
    const timer = setInterval(sample, 100);
    child.on('error', reject);
    child.on('exit', (code) => {
      clearInterval(timer);
      resolve({ ms: performance.now() - started, peakBytes: peak, code: code ?? 1 });
    });
  });
}

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await fn();
  return performance.now() - started;
}

/** RUNS runs of fn(i); the median time. */
async function medianOf(fn: (run: number) => Promise<number>): Promise<{ median: number; runs: number[] }> {
  const runs: number[] = [];
  for (let i = 0; i < RUNS; i++) runs.push(await fn(i));
  return { median: median(runs), runs };
}

function rateFigure(name: string, rows: number, times: { median: number; runs: number[] }, target: number): Figure {
  const rate = (rows / times.median) * 1000;
  log(`${name}: ${perSecond(rate)} (runs ${times.runs.map(ms).join(', ')})`);
  return { name, measured: `${perSecond(rate)} (${rows.toLocaleString('en-US')} rows)`, target: `≥ ${target.toLocaleString('en-US')}/s`, met: rate >= target, values: { rate } };
}

function timeFigure(name: string, times: { median: number; runs: number[] }, target: number): Figure {
  log(`${name}: ${ms(times.median)} (runs ${times.runs.map(ms).join(', ')})`);
  return { name, measured: ms(times.median), target: `< ${ms(target)}`, met: times.median < target, values: { ms: times.median } };
}

function servicesFor(url: string): { services: Services; pool: Pool } {
  const config = loadConfig({ ...SECRETS, DATABASE_URL: url, NODE_ENV: 'test', LOG_LEVEL: 'silent' });
  const logger = pino({ level: 'silent' });
  const pool = createPool(url, logger, 4);
  return { services: createServices(config, logger, pool), pool };
}

const actor = { channel: 'cli', name: 'bench' } as const;

/** The p50 of sign-ins with the right PIN by users who signed in recently. */
async function signinP50(services: Services, users: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < 15; i++) {
    // g % 100 below 70: signed in recently, past enrollment.
    const extension = String(FIRST_EXTENSION + ((i * 7919) % Math.floor(users / 100)) * 100 + (i % 50));
    times.push(await timed(() => services.pins.verifySignin({ extension, pin: BENCH_PIN, actor })));
  }
  return median(times);
}

/** Every statement of a sign-in and of a PIN save, with its plan (EXPLAIN, which runs nothing). */
async function plans(url: string): Promise<string> {
  const config = loadConfig({ ...SECRETS, DATABASE_URL: url, NODE_ENV: 'test', LOG_LEVEL: 'silent' });
  const logger = pino({ level: 'silent' });
  const pool = createPool(url, logger, 2);
  const seen: Array<{ text: string; values: unknown[] }> = [];
  pool.on('connect', (client: pg.PoolClient) => {
    const original = client.query.bind(client) as (...args: unknown[]) => unknown;
    Object.assign(client, {
      query: (...args: unknown[]): unknown => {
        const [first, second] = args;
        if (typeof first === 'string') seen.push({ text: first, values: Array.isArray(second) ? second : [] });
        return original(...args);
      },
    });
  });
  const services = createServices(config, logger, pool);
  const out: string[] = [];
  const explain = async (title: string, fn: () => Promise<unknown>) => {
    seen.length = 0;
    await fn();
    const statements = seen.filter((s) => /^\s*(SELECT|INSERT|UPDATE|DELETE|WITH)\b/i.test(s.text) && !/pg_advisory|pg_notify/i.test(s.text));
    out.push(`\n== ${title}: ${seen.length} statements, ${statements.length} that read or write a table ==`);
    for (const statement of statements) {
      const { rows } = await pool.query(`EXPLAIN ${statement.text}`, statement.values);
      out.push(`\n${statement.text.replace(/\s+/g, ' ').trim().slice(0, 300)}`, ...rows.map((row) => `  ${String(row['QUERY PLAN'])}`));
    }
  };
  const extension = String(FIRST_EXTENSION + 1);
  await explain('a sign-in at the phone (the right PIN)', () => services.pins.verifySignin({ extension, pin: BENCH_PIN, actor }));
  const account = await services.accounts.getAccount({ extension });
  await explain('a PIN save (a voluntary change)', () => services.pins.changePin({ userId: account.user.id, newPin: '583016', kind: 'voluntary', actor }));
  await pool.end();
  return out.join('\n');
}

async function main(): Promise<number> {
  const started = performance.now();
  const database = await openBenchDatabase('', { keep: KEEP });
  const small = await openBenchDatabase('thousand', { keep: KEEP });
  const dir = mkdtempSync(path.join(tmpdir(), 'pinline-bench-scale-'));
  const figures: Figure[] = [];
  try {
    const pinHash = await new SecretHasher(PEPPER, DEFAULT_HASH_PARAMETERS).hash(BENCH_PIN);
    const userCount = async (url: string) => {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      const n = Number((await client.query('SELECT count(*)::int AS n FROM users')).rows[0].n);
      await client.end();
      return n;
    };
    if ((await userCount(database.url)) === 0) {
      const built = await timed(() => buildUsers(database.url, USERS, pinHash));
      log(`built ${USERS.toLocaleString('en-US')} users in ${ms(built)}`);
    } else log(`re-using the kept database's ${(await userCount(database.url)).toLocaleString('en-US')} users`);
    if ((await userCount(small.url)) === 0) await buildUsers(small.url, 1000, pinHash);

    // Imports, through the CLI, into the million-user table.
    const base = FIRST_EXTENSION + USERS + 1_000_000;
    const files = [0, 1, 2].map((i) => importFile(dir, `new-${i}.csv`, base + i * IMPORT_ROWS, IMPORT_ROWS));
    const dryFiles = [0, 1, 2].map((i) => importFile(dir, `dry-${i}.csv`, base + 3 * IMPORT_ROWS + i * IMPORT_ROWS, IMPORT_ROWS));
    const changed = [0, 1, 2].map((i) => importFile(dir, `changed-${i}.csv`, base, IMPORT_ROWS, `Changed${i}x`));
    const importRun = (file: string, ...flags: string[]) => async () => {
      const run = await cli(database.url, ['user', 'import', ...flags, file]);
      if (run.code !== 0) throw new Error(`pinline user import ${flags.join(' ')} ${file} exited ${run.code}`);
      return run.ms;
    };
    if (runs('imports')) {
      // A kept database holds the last run's imports: without them, new users are new again.
      await removeImported(database.url, base);
      figures.push(rateFigure('import of new users (CLI)', IMPORT_ROWS, await medianOf((i) => importRun(files[i] as string)()), 20_000));
      figures.push(rateFigure('its dry run', IMPORT_ROWS, await medianOf((i) => importRun(dryFiles[i] as string, '--dry-run')()), 20_000));
      figures.push(rateFigure('import where every row updates a field', IMPORT_ROWS, await medianOf((i) => importRun(changed[i] as string)()), 10_000));
      // The file the last update run imported: with fewer than 3 runs, changed[2] would still update every row.
      const lastChanged = changed[Math.min(RUNS, changed.length) - 1] as string;
      figures.push(rateFigure('import where nothing changed', IMPORT_ROWS, await medianOf(() => importRun(lastChanged)()), 50_000));
    }

    // The rest is timed on the issue's mix, without the users the imports added.
    await removeImported(database.url, base);
    const { services, pool } = servicesFor(database.url);
    const total = Number((await pool.query('SELECT count(*)::int AS n FROM users')).rows[0].n);
    if (runs('export')) {
      const exportPeaks: number[] = [];
      for (const format of [[], ['--json']]) {
        const times = await medianOf(async () => {
          const run = await cli(database.url, ['user', 'export', ...format]);
          if (run.code !== 0) throw new Error(`pinline user export ${format.join(' ')} exited ${run.code}`);
          exportPeaks.push(run.peakBytes);
          return run.ms;
        });
        figures.push(rateFigure(`export, ${format.length ? 'JSON' : 'CSV'}`, total, times, 100_000));
      }
      figures.push({ name: 'export, peak memory', measured: mib(Math.max(...exportPeaks)), target: '—', met: null, values: {} });
    }

    // Reports, as the admin page runs them: the count and the first page of 500.
    if (runs('reports')) {
      const reports = new ReportService(pool);
      for (const report of REPORTS) {
        let rows = 0;
        try {
          const times = await medianOf(() =>
            timed(async () => {
              rows = (await reports.page(report.name, 1, 500)).total;
            }),
          );
          figures.push(timeFigure(`report ${report.name}: count and first page (${rows.toLocaleString('en-US')} rows)`, times, 200));
        } catch (err) {
          log(`report ${report.name}: ${String(err)}`);
          figures.push({ name: `report ${report.name}: count and first page`, measured: `failed: ${(err as Error).message}`, target: '< 200 ms', met: false, values: {} });
        }
      }
      const pending = Number((await pool.query('SELECT count(*)::int AS n FROM pin_credentials WHERE enrollment_pending')).rows[0].n);
      const reportCsv = await medianOf(async () => {
        const run = await cli(database.url, ['report', 'enrollment-pending', '--csv']);
        return run.code === 0 ? run.ms : Number.POSITIVE_INFINITY;
      });
      figures.push(rateFigure('a whole report as CSV (enrollment-pending)', pending, reportCsv, 100_000));
    }

    // The admin Users list, as its page asks (25 a page, counted to 10,000).
    if (runs('search')) {
      const search = (query: string) => () => timed(() => services.accounts.search({ query, limit: 25, offset: 0, countLimit: 10_000 }));
      await search('')();
      figures.push(timeFigure('admin Users list, first page', await medianOf(search('')), 100));
      figures.push(timeFigure('search by extension prefix', await medianOf(search(String(FIRST_EXTENSION + 4242).slice(0, 5))), 200));
      figures.push(timeFigure('search by name', await medianOf(search('Last4242')), 200));
    }

    // Sign-in at a million users against the same at a thousand.
    if (runs('signin')) {
      const smallServices = servicesFor(small.url);
      await signinP50(smallServices.services, 1000);
      await signinP50(services, USERS);
      const atThousand = await signinP50(smallServices.services, 1000);
      const atMillion = await signinP50(services, USERS);
      await smallServices.pool.end();
      log(`sign-in p50: ${ms(atMillion)} at ${USERS}, ${ms(atThousand)} at 1,000`);
      figures.push({
        name: `sign-in p50 at ${USERS.toLocaleString('en-US')} users (${ms(atThousand)} at 1,000)`,
        measured: ms(atMillion),
        target: `≤ ${ms(atThousand * 1.2)} (+20%)`,
        met: atMillion <= atThousand * 1.2,
        values: { atMillion, atThousand },
      });
    }
    await pool.end();

    // Memory of a CLI import of a large file (a dry run: it reads, checks and writes every row, then rolls back).
    if (runs('memory')) {
      const big = importFile(dir, 'big.csv', base + 10 * IMPORT_ROWS, MEMORY_ROWS);
      const bigRun = await cli(database.url, ['user', 'import', '--dry-run', big]);
      log(`import of ${MEMORY_ROWS} rows (dry run): ${ms(bigRun.ms)}, peak ${mib(bigRun.peakBytes)}`);
      figures.push({
        name: `CLI import of a ${MEMORY_ROWS.toLocaleString('en-US')}-row file (dry run, ${perSecond((MEMORY_ROWS / bigRun.ms) * 1000)}), peak memory`,
        measured: mib(bigRun.peakBytes),
        target: '< 300.0 MiB',
        met: bigRun.peakBytes < 300 * 2 ** 20,
        values: { peakBytes: bigRun.peakBytes },
      });
    }

    const planText = runs('signin') ? await plans(database.url) : ' (not run)';
    const machine = describeMachine(database.description);
    const load = loadavg().map((l) => l.toFixed(2)).join(', ');
    process.stdout.write(`\npinline at ${USERS.toLocaleString('en-US')} users, median of ${RUNS} runs each (${ms(performance.now() - started)} in all)\n`);
    process.stdout.write(`${machine.nproc} cores, ${machine.cpu}, ${machine.memoryGiB} GiB, Node ${machine.node}, ${machine.database}\n`);
    process.stdout.write(`load average at the end: ${load}\n\n${renderTable(figures)}\n`);
    process.stdout.write(`\nPlans of every statement of a sign-in and a PIN save at ${USERS.toLocaleString('en-US')} users:${planText}\n`);
    const missed = figures.filter((f) => f.met === false).map((f) => f.name);
    process.stdout.write(`\n${missed.length === 0 ? 'Every target met.' : `Targets not met: ${missed.join('; ')}.`}\n`);
    return missed.length === 0 ? 0 : 1;
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await small.close();
    await database.close();
  }
}

process.exitCode = await main();
