import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { simulateCall, type CallTranscript } from '../src/cli/simulator.js';
import { createPool } from '../src/db/pool.js';
import { createAdmin } from './support/browser.js';
import { createUser } from './support/factories.js';
import { heardKeys, startPhoneServer, usePhoneServer, type PhoneServer } from './support/phone.js';
import { silentLogger } from './support/services.js';
import { WebClient } from './support/web-client.js';

const TOKEN = 'metrics-token-0123456789abcdef';
const phone = usePhoneServer({ metricsToken: TOKEN });

const signIn = (user: { extension: string; pin: string }) => [`${user.extension}#`, `${user.pin}#`];

/** Every PIN, extension and CallSid this file uses: none may show up as a label value. */
const secrets = new Set<string>();

function remember(...values: string[]): void {
  for (const value of values) secrets.add(value);
}

async function user(overrides: Parameters<typeof createUser>[1] = {}) {
  const created = await createUser(phone.services, overrides);
  remember(created.extension, created.pin);
  return created;
}

async function call(keys: string[], server: PhoneServer = phone.phone): Promise<CallTranscript> {
  const transcript = await simulateCall({ baseUrl: server.baseUrl, authToken: server.services.config.twilioAuthToken, keys });
  expect(transcript.error).toBeNull();
  remember(transcript.callSid, ...keys.map((k) => k.replace(/#$/, '')).filter((k) => /^\d{4,}$/.test(k)));
  return transcript;
}

function scrape(baseUrl: string, authorization?: string): Promise<Response> {
  return fetch(`${baseUrl}/metrics`, { headers: authorization === undefined ? {} : { authorization } });
}

async function exposition(server: PhoneServer = phone.phone): Promise<string> {
  const answer = await scrape(server.baseUrl, `Bearer ${TOKEN}`);
  expect(answer.status).toBe(200);
  return answer.text();
}

/** The samples of an exposition, keyed as written: `name{label="value",…}`. */
function samples(text: string): Map<string, number> {
  const found = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    found.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return found;
}

function sample(text: string, series: string): number {
  const value = samples(text).get(series);
  if (value === undefined) throw new Error(`no sample ${series} in the exposition`);
  return value;
}

/** How much each series moved between two expositions. */
function moved(before: string, after: string, series: string[]): Record<string, number> {
  return Object.fromEntries(series.map((s) => [s, sample(after, s) - sample(before, s)]));
}

function labelValues(text: string): string[] {
  const values: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#')) continue;
    const labels = /\{(.*)\}/.exec(line)?.[1] ?? '';
    for (const match of labels.matchAll(/\w+="((?:[^"\\]|\\.)*)"/g)) values.push(match[1] as string);
  }
  return values;
}

describe('GET /metrics', () => {
  it('when no token is sent, then the answer is 404', async () => {
    expect((await scrape(phone.phone.baseUrl)).status).toBe(404);
  });

  it.each([
    ['a wrong token', 'Bearer metrics-token-0123456789abcdeX'],
    ['a prefix of the token', `Bearer ${TOKEN.slice(0, -1)}`],
    ['the token under another scheme', `Basic ${TOKEN}`],
    ['the bare token', TOKEN],
  ])('when %s is sent, then the answer is 404', async (_what, authorization) => {
    expect((await scrape(phone.phone.baseUrl, authorization)).status).toBe(404);
  });

  it('when the token is right, then the answer is 200 in the Prometheus text format, with process metrics', async () => {
    const answer = await scrape(phone.phone.baseUrl, `Bearer ${TOKEN}`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4; charset=utf-8$/);
    const text = await answer.text();
    expect(text).toContain('# TYPE pinline_signins_total counter');
    expect(text).toContain('# TYPE pinline_call_turn_duration_seconds histogram');
    expect(samples(text).has('process_cpu_user_seconds_total')).toBe(true);
    expect(samples(text).has('nodejs_heap_size_used_bytes')).toBe(true);
  });

  it('when METRICS_TOKEN is unset, then there is no /metrics, whatever is sent', async () => {
    const server = await startPhoneServer(phone.database.url);
    try {
      expect((await scrape(server.baseUrl)).status).toBe(404);
      expect((await scrape(server.baseUrl, `Bearer ${TOKEN}`)).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});

describe('what this instance counts', () => {
  it('when calls sign in, fail, lock an account out and change PINs, then each counter moves by exactly that', async () => {
    const enrolling = await user({ enroll: true });
    const intruded = await user();
    const managed = await user();
    remember('604817', '493816', '111111', '222222', '333333');
    const before = await exposition();

    // Signs in, enrolls (a phone PIN change), leaves from the menu.
    const enrolled = await call([...signIn(enrolling), '604817#', '604817#', '*']);
    expect(heardKeys(enrolled, phone.services.catalog).slice(-3)).toEqual(['enroll.done', 'menu.main', 'goodbye']);
    // Three wrong PINs: the third locks the account (the default rule locks after 3).
    const wrong = ['111111', '222222', '333333'].flatMap((pin) => [`${intruded.extension}#`, `${pin}#`]);
    expect(heardKeys(await call(wrong), phone.services.catalog).slice(-2)).toEqual(['signin.invalid', 'goodbye']);
    // The right PIN now meets the lock.
    expect(heardKeys(await call(signIn(intruded)), phone.services.catalog).at(-1)).toBe('signin.locked_for{minutes=30}');
    // An administrative change over the API.
    const { token } = await phone.services.apiTokens.create('metrics test', { channel: 'admin', name: 'admin:test' });
    const put = await fetch(`${phone.phone.baseUrl}/api/users/${managed.userId}/credential/pin`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ pin: '493816' }),
    });
    expect(put.status).toBe(200);

    const after = await exposition();
    expect(
      moved(before, after, [
        'pinline_calls_started_total',
        'pinline_signins_total{outcome="ok"}',
        'pinline_signins_total{outcome="invalid"}',
        'pinline_signins_total{outcome="locked"}',
        'pinline_signins_total{outcome="busy"}',
        'pinline_lockouts_total',
        'pinline_pin_changes_total{channel="phone"}',
        'pinline_pin_changes_total{channel="api"}',
        'pinline_pin_changes_total{channel="admin"}',
        'pinline_busy_answers_total{channel="phone"}',
      ]),
    ).toEqual({
      'pinline_calls_started_total': 3,
      'pinline_signins_total{outcome="ok"}': 1,
      'pinline_signins_total{outcome="invalid"}': 3,
      'pinline_signins_total{outcome="locked"}': 1,
      'pinline_signins_total{outcome="busy"}': 0,
      'pinline_lockouts_total': 1,
      'pinline_pin_changes_total{channel="phone"}': 1,
      'pinline_pin_changes_total{channel="api"}': 1,
      'pinline_pin_changes_total{channel="admin"}': 0,
      'pinline_busy_answers_total{channel="phone"}': 0,
    });
    // Turns by the phase they answered: 3 calls, 5 IDs and 5 PINs keyed, one new PIN, its confirmation, one menu key.
    const phases = { incoming: 3, enter_id: 5, enter_pin: 5, new_pin: 1, confirm_pin: 1, menu: 1 };
    const turns = Object.keys(phases).flatMap((phase) => [
      `pinline_call_turns_total{phase="${phase}"}`,
      `pinline_call_turn_duration_seconds_count{phase="${phase}"}`,
    ]);
    expect(moved(before, after, turns)).toEqual(
      Object.fromEntries(
        Object.entries(phases).flatMap(([phase, count]) => [
          [`pinline_call_turns_total{phase="${phase}"}`, count],
          [`pinline_call_turn_duration_seconds_count{phase="${phase}"}`, count],
        ]),
      ),
    );
    expect(sample(after, 'pinline_call_turn_duration_seconds_sum{phase="enter_pin"}')).toBeGreaterThan(0);
  });

  it('when hashing is saturated, then the gauges show the slot and the queue, and busy answers are counted per channel', async () => {
    const server = await startPhoneServer(phone.database.url, { metricsToken: TOKEN, hashConcurrency: 1, hashQueueLimit: 1 });
    try {
      const caller = await createUser(server.services);
      const managed = await createUser(server.services);
      remember(caller.extension, caller.pin, managed.extension, managed.pin, '604817');
      const { token } = await server.services.apiTokens.create('busy metrics', { channel: 'admin', name: 'admin:test' });
      // Signed in and on the form before hashing fills up (signing in hashes too).
      const admin = new WebClient(server.baseUrl);
      await admin.signInAsAdmin(await createAdmin(server.services));
      await admin.load(`/admin/users/${managed.userId}/change-password`);
      const before = await exposition(server);

      let release: () => void = () => undefined;
      const held = server.services.gate.run(() => new Promise<void>((resolve) => (release = resolve)));
      const queued = server.services.gate.run(async () => 'ran');
      let during: string;
      try {
        during = await exposition(server);
        // The queue is full: everything else is refused at once.
        const busyCall = await call(signIn(caller), server);
        expect(heardKeys(busyCall, server.services.catalog).slice(-2)).toEqual(['system.busy', 'signin.enter_pin']);
        const api = await fetch(`${server.baseUrl}/api/users/${managed.userId}/credential/pin`, {
          method: 'PUT',
          headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
          body: JSON.stringify({ pin: '604817' }),
        });
        expect(api.status).toBe(503);
        const page = await admin.post(`/admin/users/${managed.userId}/change-password`, {
          target: 'voicemail',
          password: '604817',
          confirm: '604817',
        });
        expect(page.status).toBe(503);
      } finally {
        release();
        await held;
      }
      expect(await queued).toBe('ran');

      expect(
        Object.fromEntries(['pinline_hash_slots', 'pinline_hash_slots_in_use', 'pinline_hash_queued'].map((s) => [s, sample(during, s)])),
      ).toEqual({ pinline_hash_slots: 1, pinline_hash_slots_in_use: 1, pinline_hash_queued: 1 });
      const after = await exposition(server);
      expect(sample(after, 'pinline_hash_slots_in_use')).toBe(0);
      expect(sample(after, 'pinline_hash_queued')).toBe(0);
      expect(
        moved(before, after, [
          'pinline_busy_answers_total{channel="phone"}',
          'pinline_busy_answers_total{channel="api"}',
          'pinline_busy_answers_total{channel="web"}',
          'pinline_signins_total{outcome="busy"}',
          'pinline_pin_changes_total{channel="api"}',
          'pinline_pin_changes_total{channel="admin"}',
        ]),
      ).toEqual({
        'pinline_busy_answers_total{channel="phone"}': 1,
        'pinline_busy_answers_total{channel="api"}': 1,
        'pinline_busy_answers_total{channel="web"}': 1,
        'pinline_signins_total{outcome="busy"}': 1,
        'pinline_pin_changes_total{channel="api"}': 0,
        'pinline_pin_changes_total{channel="admin"}': 0,
      });
    } finally {
      await server.close();
    }
  });

  it('when the exposition is scanned, then no label value is a PIN, an extension or a CallSid of these calls', async () => {
    const caller = await user();
    await call([...signIn(caller), '2', '*']);
    await call([`${caller.extension}#`, '999111#']);
    remember('999111');
    const text = await exposition();
    const values = labelValues(text);
    expect(values).toContain('menu');
    expect(secrets.size).toBeGreaterThan(10);
    for (const secret of secrets) {
      expect(values.filter((value) => value.includes(secret))).toEqual([]);
    }
    // CallSids are long and random: they must not appear anywhere at all.
    for (const secret of [...secrets].filter((s) => s.startsWith('CA'))) expect(text).not.toContain(secret);
  });

  it('when scraped, then the database is not used, and the pool gauges are read from the pool', async () => {
    const pool = createPool(phone.database.url, silentLogger, 4);
    const server = await startPhoneServer(phone.database.url, { metricsToken: TOKEN }, { pool });
    try {
      let checkouts = 0;
      pool.on('acquire', () => checkouts++);
      await pool.query('SELECT 1');
      expect(checkouts).toBe(1);
      const client = await pool.connect();
      try {
        const text = await exposition(server);
        expect({
          total: sample(text, 'pinline_db_pool_clients'),
          idle: sample(text, 'pinline_db_pool_idle_clients'),
          waiting: sample(text, 'pinline_db_pool_waiting_clients'),
        }).toEqual({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount });
        expect(sample(text, 'pinline_db_pool_clients')).toBeGreaterThanOrEqual(1);
      } finally {
        client.release();
      }
      expect(checkouts).toBe(2);

      // With the pool ended, any query would fail: the scrape still answers.
      await pool.end();
      const text = await exposition(server);
      expect(sample(text, 'pinline_db_pool_clients')).toBe(0);
    } finally {
      await server.close();
    }
  });
});

/** Debian's `prometheus` package ships promtool; .ci/run installs it, so there it never skips. */
const hasPromtool = spawnSync('promtool', ['--version']).error === undefined;

/** Each metric family of an exposition with its type and the values of each of its labels. */
function families(text: string): Map<string, { type: string; labels: Map<string, Set<string>> }> {
  const found = new Map<string, { type: string; labels: Map<string, Set<string>> }>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) found.set(name as string, { type: type as string, labels: new Map() });
  for (const [series] of samples(text)) {
    const name = series.replace(/\{.*$/, '');
    const family = found.get(name) ?? found.get(name.replace(/_(bucket|sum|count)$/, ''));
    if (!family) throw new Error(`sample ${series} has no # TYPE line`);
    for (const [, label, value] of (/\{(.*)\}/.exec(series)?.[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      if (label === 'le') continue;
      const values = family.labels.get(label as string) ?? new Set<string>();
      family.labels.set(label as string, values.add(value as string));
    }
  }
  return found;
}

/** The README's metrics table: each name in a row's first cell (`name{label,…}`), with the whole row. */
function readmeMetrics(): { name: string; labels: string[]; row: string }[] {
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
  const section = /^## Metrics\n([\s\S]*?)^## /m.exec(readme)?.[1] ?? '';
  const rows = section.split('\n').filter((line) => /^\| `/.test(line));
  return rows.flatMap((row) =>
    [...(row.split('|')[1] ?? '').matchAll(/`([^`{]+)(?:\{([^}]*)\})?`/g)].map(([, name, labels]) => ({
      name: name as string,
      labels: labels ? labels.split(',') : [],
      row,
    })),
  );
}

describe('the exposition as Prometheus reads it', () => {
  it.skipIf(!hasPromtool)('when scraped after calls, then promtool check metrics accepts it, with no lint problem', async () => {
    const caller = await user();
    await call([...signIn(caller), '2', '*']);
    await call([`${caller.extension}#`, '999222#']);
    remember('999222');
    const text = await exposition();
    expect(sample(text, 'pinline_call_turns_total{phase="menu"}')).toBeGreaterThan(0);
    const check = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' });
    expect({ status: check.status, output: check.stdout + check.stderr }).toEqual({ status: 0, output: '' });
  });

  it('when scraped, then no gauge is named like a counter (*_total), and every counter is', async () => {
    const misnamed = [...families(await exposition())].filter(([name, { type }]) => name.endsWith('_total') !== (type === 'counter'));
    expect(misnamed.map(([name, { type }]) => `${name} (${type})`)).toEqual([]);
  });

  it("when the README's metrics table is compared with a scrape, then each lists every pinline series, label and label value of the other", async () => {
    const scraped = families(await exposition());
    const table = readmeMetrics();
    const ours = (names: Iterable<string>) => [...names].filter((name) => name.startsWith('pinline_')).sort();
    expect(ours(table.map((row) => row.name))).toEqual(ours(scraped.keys()));
    for (const row of table.filter((r) => r.name.startsWith('pinline_'))) {
      expect({ [row.name]: row.labels.sort() }).toEqual({ [row.name]: [...(scraped.get(row.name)?.labels.keys() ?? [])].sort() });
    }
    // Every label value is named in the table, in a row of a metric with that label.
    for (const [name, { labels }] of scraped) {
      for (const [label, values] of labels) {
        if (!name.startsWith('pinline_')) continue;
        const rows = table.filter((r) => r.labels.includes(label)).map((r) => r.row);
        const missing = [...values].filter((value) => !rows.some((row) => row.includes(`\`${value}\``)));
        expect({ [`${name}{${label}}`]: missing }).toEqual({ [`${name}{${label}}`]: [] });
      }
    }
    // prom-client's own series are covered by the table's prefix rows (process_*, nodejs_*).
    const prefixes = table.filter((r) => r.name.endsWith('*')).map((r) => r.name.slice(0, -1));
    expect([...scraped.keys()].filter((name) => !name.startsWith('pinline_') && !prefixes.some((p) => name.startsWith(p)))).toEqual([]);
  });
});
