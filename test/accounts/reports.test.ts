import { beforeAll, describe, expect, it } from 'vitest';
import { phraseText, presentPinStatus } from '../../src/accounts/present.js';
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
};

type ReportName = 'expired' | 'expiring' | 'locked' | 'enrollment-pending' | 'inactive';

interface Seed {
  rule?: string;
  credential: Partial<Credential>;
  /** Added to changed_at past the millisecond. */
  microseconds?: number;
  /** The reports on PIN status the user is in. */
  in: ReportName[];
}

// The default rule: expiry 180 days, warning 15 days, lockout 30 minutes, no inactivity lock.
const SEEDS: Record<string, Seed> = {
  plain: { credential: {}, in: [] },
  'expires exactly now': { credential: { changed_at: ago(180 * DAY) }, in: ['expired'] },
  // Postgres keeps microseconds and a Date does not: every channel reads this as expiring exactly now.
  'expires 0.7 ms after now': { credential: { changed_at: ago(180 * DAY) }, microseconds: 700, in: ['expired'] },
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
  'locked by an administrator': { credential: { locked_by_admin: true }, in: ['locked'] },
  'inactive exactly the rule days': { rule: 'idle-30', credential: { last_signin_at: ago(30 * DAY) }, in: [] },
  'inactive the rule days and a second': { rule: 'idle-30', credential: { last_signin_at: ago(30 * DAY + SECOND) }, in: ['locked', 'inactive'] },
  'never signed in, clock past the rule days': {
    rule: 'idle-30',
    credential: { last_signin_at: null, activity_since: ago(31 * DAY) },
    in: ['locked', 'inactive'],
  },
  'inactive exactly 90 days': { credential: { last_signin_at: ago(90 * DAY) }, in: [] },
  'inactive 90 days and a second': { credential: { last_signin_at: ago(90 * DAY + SECOND) }, in: ['inactive'] },
  'never signed in, clock past 90 days': { credential: { last_signin_at: null, activity_since: ago(100 * DAY) }, in: ['inactive'] },
  'old sign-in, clock restarted recently': { credential: { last_signin_at: ago(120 * DAY), activity_since: ago(10 * DAY) }, in: [] },
  'old sign-in, clock restarted long ago': { credential: { last_signin_at: ago(200 * DAY), activity_since: ago(95 * DAY) }, in: ['inactive'] },
};

const seeded = new Map<string, { userId: number; extension: string }>();

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
  for (const [label, seed] of Object.entries(SEEDS)) {
    const user = await createUser(services, seed.rule ? { ruleName: seed.rule } : {});
    await setCredential(user.userId, { ...PLAIN, ...seed.credential });
    if (seed.microseconds) {
      await fixture.pool.query(`UPDATE pin_credentials SET changed_at = changed_at + make_interval(secs => $2 / 1e6) WHERE user_id = $1`, [
        user.userId,
        seed.microseconds,
      ]);
    }
    seeded.set(label, user);
  }
});

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
      expect(inReport('locked'), label).toBe(view.summary.includes('Locked'));
      expect(inReport('enrollment-pending'), label).toBe(view.summary.includes('Enrollment pending'));
      expect(inReport('inactive'), label).toBe(status.inactive);
    }
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
