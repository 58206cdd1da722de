import { beforeAll, describe, expect, it } from 'vitest';
import { csvLine, jsonText } from '../../src/accounts/export.js';
import { isoTime, phraseText, presentPinStatus, USER_CSV_FIELDS, USER_CSV_STATUS, userCsvRow, userJson } from '../../src/accounts/present.js';
import { csvText } from '../../src/csv.js';
import type { Account } from '../../src/accounts/model.js';
import { REPORT_NAMES, type ReportRow } from '../../src/accounts/reports.js';
import { initialState, transition } from '../../src/dialog/index.js';
import { pinStatus } from '../../src/pin/status.js';
import { callerSnapshot } from '../../src/voice/effects.js';
import { createUser, testActor } from '../support/factories.js';
import { useServices } from '../support/services.js';

// DESIGN §9: each report agrees with a user's PIN status (pinStatus, presentPinStatus and the
// phone's expiry warning) at the boundaries, on a fixed clock.

const fixture = useServices();

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const NOW = new Date('2027-03-15T12:00:00.000Z');
const ago = (ms: number) => new Date(NOW.getTime() - ms);

/** The credential columns a seed sets; the rest of a seeded user is plain: recent change, recent sign-in. */
interface Credential {
  changed_at: Date;
  must_change: boolean;
  enrollment_pending: boolean;
  does_not_expire: boolean;
  locked_by_admin: boolean;
  failed_count: number;
  last_failed_at: Date | null;
  locked_at: Date | null;
  temporary_since: Date | null;
  last_signin_at: Date | null;
  activity_since: Date;
  deactivated_at: Date | null;
}

const PLAIN: Credential = {
  changed_at: ago(10 * DAY),
  must_change: false,
  enrollment_pending: false,
  does_not_expire: false,
  locked_by_admin: false,
  failed_count: 0,
  last_failed_at: null,
  locked_at: null,
  temporary_since: null,
  last_signin_at: ago(DAY),
  // Long ago, so that the last sign-in is the last activity.
  activity_since: ago(400 * DAY),
  deactivated_at: null,
};

type ReportName = 'expired' | 'expiring' | 'locked' | 'enrollment-pending' | 'inactive';

interface Seed {
  rule?: string;
  credential: Partial<Credential>;
  /** Microseconds added to these times, past the millisecond a Date keeps. */
  microseconds?: Partial<Record<'changed_at' | 'locked_at' | 'last_signin_at', number>>;
  /** The reports on PIN status the user is in. */
  in: ReportName[];
}

// The default rule: expiry 180 days, warning 15 days, lockout 30 minutes, no inactivity lock.
const SEEDS: Record<string, Seed> = {
  plain: { credential: {}, in: [] },
  'expires exactly now': { credential: { changed_at: ago(180 * DAY) }, in: ['expired'] },
  // Postgres keeps microseconds and a Date does not: every channel reads this as expiring exactly now.
  'expires 0.7 ms after now': { credential: { changed_at: ago(180 * DAY) }, microseconds: { changed_at: 700 }, in: ['expired'] },
  'expires 0.3 ms before now': { credential: { changed_at: ago(180 * DAY) }, microseconds: { changed_at: -300 }, in: ['expired'] },
  'expires 1 ms after now': { credential: { changed_at: ago(180 * DAY - 1) }, in: ['expiring'] },
  'expires in the warning days and 0.7 ms': { credential: { changed_at: ago(165 * DAY) }, microseconds: { changed_at: 700 }, in: ['expiring'] },
  'expires in the warning days and 1 ms': { credential: { changed_at: ago(165 * DAY - 1) }, in: [] },
  'rule without expiry, changed long ago': { rule: 'no-expiry', credential: { changed_at: ago(400 * DAY) }, in: [] },
  'rule without a warning, expires in a second': { rule: 'no-warning', credential: { changed_at: ago(180 * DAY - SECOND) }, in: [] },
  'rule without a warning, expired': { rule: 'no-warning', credential: { changed_at: ago(180 * DAY) }, in: ['expired'] },
  'enrollment pending, past expiry': { credential: { enrollment_pending: true, changed_at: ago(200 * DAY) }, in: ['expired', 'enrollment-pending'] },
  'expires in one second': { credential: { changed_at: ago(180 * DAY - SECOND) }, in: ['expiring'] },
  'expires in exactly the warning days': { credential: { changed_at: ago(165 * DAY) }, in: ['expiring'] },
  'expires a second after the warning days': { credential: { changed_at: ago(165 * DAY - SECOND) }, in: [] },
  'expires a day after the warning days': { credential: { changed_at: ago(164 * DAY) }, in: [] },
  'does not expire': { credential: { changed_at: ago(400 * DAY), does_not_expire: true }, in: [] },
  'must change, past expiry': { credential: { changed_at: ago(200 * DAY), must_change: true }, in: [] },
  'must change, in the warning days': { credential: { changed_at: ago(170 * DAY), must_change: true }, in: [] },
  'temporary PIN, past expiry': { credential: { changed_at: ago(200 * DAY), temporary_since: ago(200 * DAY) }, in: [] },
  'enrollment pending': { credential: { enrollment_pending: true }, in: ['enrollment-pending'] },
  'enrollment pending, in the warning days': { credential: { enrollment_pending: true, changed_at: ago(170 * DAY) }, in: ['enrollment-pending'] },
  'intruder lockout just ended': {
    credential: { failed_count: 3, last_failed_at: ago(30 * MINUTE), locked_at: ago(30 * MINUTE) },
    in: [],
  },
  'intruder lockout with a second to run': {
    credential: { failed_count: 3, last_failed_at: ago(30 * MINUTE - SECOND), locked_at: ago(30 * MINUTE - SECOND) },
    in: ['locked'],
  },
  'intruder lockout until an administrator unlocks': {
    rule: 'admin-unlock',
    credential: { failed_count: 3, last_failed_at: ago(400 * DAY), locked_at: ago(400 * DAY) },
    in: ['locked'],
  },
  'intruder lockout ends 0.5 ms after now': {
    credential: { failed_count: 3, last_failed_at: ago(30 * MINUTE), locked_at: ago(30 * MINUTE) },
    microseconds: { locked_at: 500 },
    in: [],
  },
  'intruder lockout with 1 ms to run': {
    credential: { failed_count: 3, last_failed_at: ago(30 * MINUTE - 1), locked_at: ago(30 * MINUTE - 1) },
    in: ['locked'],
  },
  'locked by an administrator': { credential: { locked_by_admin: true }, in: ['locked'] },
  'deactivated by the directory': { credential: { deactivated_at: ago(DAY) }, in: ['locked'] },
  'deactivated by the directory, lockout over': {
    credential: { deactivated_at: ago(DAY), failed_count: 3, last_failed_at: ago(DAY), locked_at: ago(DAY) },
    in: ['locked'],
  },
  'inactive the rule days and 0.5 ms': { rule: 'idle-30', credential: { last_signin_at: ago(30 * DAY) }, microseconds: { last_signin_at: -500 }, in: ['locked', 'inactive'] },
  'inactive 0.5 ms short of the rule days': { rule: 'idle-30', credential: { last_signin_at: ago(30 * DAY) }, microseconds: { last_signin_at: 500 }, in: [] },
  'inactive the rule days and 1 ms': { rule: 'idle-30', credential: { last_signin_at: ago(30 * DAY + 1) }, in: ['locked', 'inactive'] },
  'inactive exactly the rule days': { rule: 'idle-30', credential: { last_signin_at: ago(30 * DAY) }, in: [] },
  'inactive the rule days and a second': { rule: 'idle-30', credential: { last_signin_at: ago(30 * DAY + SECOND) }, in: ['locked', 'inactive'] },
  'never signed in, clock past the rule days': {
    rule: 'idle-30',
    credential: { last_signin_at: null, activity_since: ago(31 * DAY) },
    in: ['locked', 'inactive'],
  },
  'inactive exactly 90 days': { credential: { last_signin_at: ago(90 * DAY) }, in: [] },
  'inactive 90 days and a second': { credential: { last_signin_at: ago(90 * DAY + SECOND) }, in: ['inactive'] },
  'inactive 90 days and 1 ms': { credential: { last_signin_at: ago(90 * DAY + 1) }, in: ['inactive'] },
  'inactive 90 days and 0.5 ms': { credential: { last_signin_at: ago(90 * DAY) }, microseconds: { last_signin_at: -500 }, in: ['inactive'] },
  'never signed in, clock past 90 days': { credential: { last_signin_at: null, activity_since: ago(100 * DAY) }, in: ['inactive'] },
  'old sign-in, clock restarted recently': { credential: { last_signin_at: ago(120 * DAY), activity_since: ago(10 * DAY) }, in: [] },
  'old sign-in, clock restarted long ago': { credential: { last_signin_at: ago(200 * DAY), activity_since: ago(95 * DAY) }, in: ['inactive'] },
};

const seeded = new Map<string, { userId: number; extension: string }>();

/** Whether a user belongs in a report at now, from pinStatus and the phone's own warning alone (DESIGN §9). */
function pinStatusPutsIn(name: ReportName, account: Account, now: Date): boolean {
  const status = pinStatus(account.pin, account.rule, now);
  switch (name) {
    case 'expired':
      return status.expired && !account.pin.mustChange && account.pin.temporarySince === null;
    case 'expiring': {
      const signingIn = { ...initialState('en-US'), phase: { name: 'signing_in' as const, extension: account.user.extension, fromCallerId: false } };
      const step = transition(signingIn, { type: 'signin_result', outcome: 'ok', account: callerSnapshot(account, now, 1) });
      return step.say.some((say) => say.key === 'pin.expiry_warning');
    }
    case 'locked':
      return status.lockout !== null;
    case 'enrollment-pending':
      return account.pin.enrollmentPending;
    case 'inactive':
      return status.inactive;
  }
}

async function setCredential(userId: number, values: Credential): Promise<void> {
  const columns = Object.keys(values) as Array<keyof Credential>;
  await fixture.pool.query(
    `UPDATE pin_credentials SET ${columns.map((column, i) => `${column} = $${i + 2}`).join(', ')} WHERE user_id = $1`,
    [userId, ...columns.map((column) => values[column])],
  );
}

async function fail(userId: number | null, extension: string, at: Date, channel: 'phone' | 'web'): Promise<void> {
  await fixture.pool.query(
    `INSERT INTO audit_events (at, event, channel, actor, user_id, extension) VALUES ($1, 'signin.failed', $2, 'caller:test', $3, $4)`,
    [at, channel, userId, extension],
  );
}

async function membersOf(name: string): Promise<ReportRow[]> {
  const result = await fixture.services.reports.run(name);
  expect(result.now).toEqual(NOW);
  return result.rows;
}

beforeAll(async () => {
  const { services } = fixture;
  fixture.setNow(NOW);
  await services.accounts.setRule('idle-30', { inactiveDays: 30 }, testActor);
  await services.accounts.setRule('admin-unlock', { lockoutMinutes: null }, testActor);
  await services.accounts.setRule('no-expiry', { maxDays: 0 }, testActor);
  await services.accounts.setRule('no-warning', { warningDays: 0 }, testActor);
  for (const [label, seed] of Object.entries(SEEDS)) {
    const user = await createUser(services, seed.rule ? { ruleName: seed.rule } : {});
    await setCredential(user.userId, { ...PLAIN, ...seed.credential });
    for (const [column, microseconds] of Object.entries(seed.microseconds ?? {})) {
      await fixture.pool.query(`UPDATE pin_credentials SET ${column} = ${column} + make_interval(secs => $2 / 1e6) WHERE user_id = $1`, [
        user.userId,
        microseconds,
      ]);
    }
    seeded.set(label, user);
  }
});

/** At NOW and a millisecond and a second either side of it (every boundary above is at NOW), each report's count and rows are pinStatus's. */
async function expectCountsAgree(): Promise<void> {
  const accounts: Account[] = [];
  await fixture.services.accounts.exportAccounts(async (page) => {
    accounts.push(...page);
  }, 100);
  expect(accounts.length).toBeGreaterThanOrEqual(seeded.size);
  for (const shift of [-SECOND, -1, 0, 1, SECOND]) {
    const now = new Date(NOW.getTime() + shift);
    try {
      fixture.setNow(now);
      for (const name of ['expired', 'expiring', 'locked', 'enrollment-pending', 'inactive'] as const) {
        const expected = accounts
          .filter((account) => pinStatusPutsIn(name, account, now))
          .map((account) => account.user.extension)
          .sort();
        const page = await fixture.services.reports.page(name, 1, 1000);
        const at = `${name} at NOW${shift >= 0 ? '+' : ''}${shift} ms`;
        expect(page.total, at).toBe(expected.length);
        expect(page.rows.map((row) => row.extension), at).toEqual(expected);
      }
    } finally {
      fixture.setNow(NOW);
    }
  }
}

describe('reports on PIN status', () => {
  it('when the reports are listed, then there are the six of DESIGN §9, in order', () => {
    expect(REPORT_NAMES).toEqual(['expired', 'expiring', 'locked', 'enrollment-pending', 'inactive', 'failed-signins']);
  });

  it('when users sit at each boundary, then each report holds exactly the users expected', async () => {
    for (const name of ['expired', 'expiring', 'locked', 'enrollment-pending', 'inactive'] as const) {
      const expected = Object.entries(SEEDS)
        .filter(([, seed]) => seed.in.includes(name))
        .map(([label]) => label)
        .sort();
      const extensions = new Set((await membersOf(name)).map((row) => row.extension));
      const actual = [...seeded].filter(([, user]) => extensions.has(user.extension)).map(([label]) => label).sort();
      expect(actual, name).toEqual(expected);
    }
  });

  it("when a report is compared with each user's own PIN status, then they agree for every seeded user", async () => {
    const members = new Map<string, Set<string>>();
    for (const name of ['expired', 'expiring', 'locked', 'enrollment-pending', 'inactive']) {
      members.set(name, new Set((await membersOf(name)).map((row) => row.extension)));
    }
    for (const [label, { userId, extension }] of seeded) {
      const account = await fixture.services.accounts.getAccount({ userId });
      const status = pinStatus(account.pin, account.rule, NOW);
      const view = presentPinStatus(account, NOW);
      // What the phone says after this user's sign-in, straight from the dialog.
      const signingIn = { ...initialState('en-US'), phase: { name: 'signing_in' as const, extension, fromCallerId: false } };
      const step = transition(signingIn, { type: 'signin_result', outcome: 'ok', account: callerSnapshot(account, NOW, 1) });
      const warned = step.say.some((say) => say.key === 'pin.expiry_warning');

      const inReport = (name: string) => members.get(name)?.has(extension);
      expect(inReport('expired'), label).toBe(status.expired && !account.pin.mustChange && account.pin.temporarySince === null);
      expect(inReport('expiring'), label).toBe(warned);
      expect(inReport('locked'), label).toBe(status.lockout !== null);
      expect(inReport('locked'), label).toBe(/Locked|Deactivated/.test(view.summary));
      expect(inReport('enrollment-pending'), label).toBe(view.summary.includes('Enrollment pending'));
      expect(inReport('inactive'), label).toBe(status.inactive);
    }
  });

  it("when the clock sits at and beside each boundary, then each report's SQL count and rows are exactly the users pinStatus puts in it", async () => {
    await expectCountsAgree();
  });

  it('when every rule expires PINs, then the count from the index alone still agrees with pinStatus', async () => {
    // The no-expiry rule keeps the count from trusting pin_credentials alone; without it, it does.
    try {
      await fixture.services.accounts.setRule('no-expiry', { maxDays: 200 }, testActor);
      await expectCountsAgree();
    } finally {
      await fixture.services.accounts.setRule('no-expiry', { maxDays: 0 }, testActor);
    }
  });

  it('when a report is paged, then the pages hold its rows in order and the count is the whole report', async () => {
    const whole = await membersOf('locked');
    expect(whole.length).toBeGreaterThan(3);
    const first = await fixture.services.reports.page('locked', 1, 2);
    const second = await fixture.services.reports.page('locked', 2, 2);
    expect(first.total).toBe(whole.length);
    expect([...first.rows, ...second.rows].map((row) => row.extension)).toEqual(whole.slice(0, 4).map((row) => row.extension));
  });

  it('when a report lists users, then they come by extension with the fact of the report', async () => {
    const fact = async (name: string, label: string) => {
      const row = (await membersOf(name)).find((r) => r.extension === seeded.get(label)?.extension);
      return row ? phraseText(row.fact) : null;
    };
    for (const name of ['expired', 'expiring', 'locked', 'enrollment-pending', 'inactive']) {
      const extensions = (await membersOf(name)).map((row) => row.extension);
      expect(extensions, name).toEqual([...extensions].sort());
    }
    expect(await fact('expired', 'expires exactly now')).toBe(NOW.toISOString());
    expect(await fact('expiring', 'expires in exactly the warning days')).toBe(new Date(NOW.getTime() + 15 * DAY).toISOString());
    expect(await fact('locked', 'locked by an administrator')).toBe('locked by an administrator');
    expect(await fact('locked', 'intruder lockout with a second to run')).toBe(
      `locked by intruder detection, until ${new Date(NOW.getTime() + SECOND).toISOString()}`,
    );
    expect(await fact('locked', 'intruder lockout until an administrator unlocks')).toBe(
      'locked by intruder detection, until an administrator unlocks',
    );
    expect(await fact('locked', 'inactive the rule days and a second')).toMatch(/^locked for inactivity .*30 days since /);
    expect(await fact('inactive', 'inactive 90 days and a second')).toBe(ago(90 * DAY + SECOND).toISOString());
    expect(await fact('inactive', 'never signed in, clock past 90 days')).toBe(`never (counted from ${ago(100 * DAY).toISOString()})`);
    expect(await fact('inactive', 'old sign-in, clock restarted long ago')).toBe(
      `${ago(200 * DAY).toISOString()} (counted from ${ago(95 * DAY).toISOString()})`,
    );
  });

  it('when the clock moves on, then the reports move with it', async () => {
    try {
      fixture.setNow(new Date(NOW.getTime() + SECOND));
      const expired = (await fixture.services.reports.run('expired')).rows.map((row) => row.extension);
      expect(expired).toContain(seeded.get('expires in one second')?.extension);
      const locked = (await fixture.services.reports.run('locked')).rows.map((row) => row.extension);
      expect(locked).not.toContain(seeded.get('intruder lockout with a second to run')?.extension);
    } finally {
      fixture.setNow(NOW);
    }
  });
});

describe('failed-signins report', () => {
  it('when phone sign-ins failed within and outside the last 24 hours, then only those within count, by user, most first', async () => {
    const { services } = fixture;
    const some = await createUser(services);
    const most = await createUser(services);
    const webOnly = await createUser(services);
    await fail(some.userId, some.extension, ago(23 * HOUR + 59 * MINUTE), 'phone');
    await fail(some.userId, some.extension, ago(HOUR), 'phone');
    await fail(some.userId, some.extension, ago(24 * HOUR + MINUTE), 'phone');
    await fail(some.userId, some.extension, ago(HOUR), 'web');
    for (let i = 0; i < 3; i++) await fail(most.userId, most.extension, ago(10 * MINUTE), 'phone');
    // After now: not yet in the window a report at now looks at.
    await fail(most.userId, most.extension, new Date(NOW.getTime() + MINUTE), 'phone');
    await fail(webOnly.userId, webOnly.extension, ago(HOUR), 'web');
    await fail(webOnly.userId, webOnly.extension, ago(2 * HOUR), 'web');
    // An unknown ID has no user.
    await fail(null, '99999', ago(HOUR), 'phone');

    const rows = await membersOf('failed-signins');
    expect(rows.map((row) => [row.extension, phraseText(row.fact)])).toEqual([
      [most.extension, '3'],
      [some.extension, '2'],
    ]);
    expect(rows[0]).toMatchObject({ firstName: 'Test', lastName: 'Person', userId: most.userId });
  });
});

// `user export` writes each row straight from the account (issue 21): the same text as userCsvRow
// through csvText, and as JSON.stringify of userJson, for the users at every boundary above.
describe('user export rows', () => {
  it('when the users at every boundary are exported, then each account is the one getAccount reads', async () => {
    const exported = new Map<number, Account>();
    await fixture.services.accounts.exportAccounts(async (page) => {
      for (const account of page) exported.set(account.user.id, account);
    }, 7);
    for (const [label, { userId }] of seeded) {
      expect(exported.get(userId), label).toEqual(await fixture.services.accounts.getAccount({ userId }));
    }
  });

  it('when an account is written as a CSV row or as JSON, then it is what userCsvRow and userJson give, at each boundary and with awkward contact details', async () => {
    const accounts: Account[] = [];
    await fixture.services.accounts.exportAccounts(async (page) => {
      accounts.push(...page);
    });
    const awkward = accounts.slice(0, 3).map((account, i) => ({
      ...account,
      user: { ...account.user, firstName: ['=1+2', '\'-x', 'Ann "A", B'][i] ?? '', lastName: 'Line\nbreak', phone: '+15551234567', email: `a${i}@example.com` },
    }));
    const columns = [...USER_CSV_FIELDS, ...USER_CSV_STATUS];
    for (const shift of [-SECOND, -1, 0, 1, SECOND]) {
      const now = new Date(NOW.getTime() + shift);
      for (const account of [...accounts, ...awkward]) {
        const at = `${account.user.extension} at NOW${shift >= 0 ? '+' : ''}${shift} ms`;
        expect(`${csvLine(account, now)}\r\n`, at).toBe(csvText(columns, [userCsvRow(account, now)], { header: false }));
        expect(jsonText(account, now), at).toBe(JSON.stringify(userJson(account, now)));
      }
    }
  });

  it('when a time is written, then it is what toISOString gives, before 1970 and after 9999 too', () => {
    const times = [0, -1, 1, NOW.getTime(), NOW.getTime() - 1, -62_198_755_200_001, 253_402_300_800_000, -8_640_000_000_000_000, 8_640_000_000_000_000];
    for (let i = 0; i < 2000; i++) times.push(Math.round((i - 1000) * 123_456_789_123.457));
    for (const ms of times) expect(isoTime(new Date(ms)), String(ms)).toBe(new Date(ms).toISOString());
  });
});
