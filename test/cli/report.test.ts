import { Readable } from 'node:stream';
import { beforeAll, describe, expect, it } from 'vitest';
import { main, type CliIo } from '../../src/cli/main.js';
import { createUser, testActor } from '../support/factories.js';
import { useServices } from '../support/services.js';

// `pinline report NAME [--csv]` (DESIGN §9), in-process on this file's database. The command
// reads the wall clock, so the users are set up relative to it.

const DAY = 24 * 60 * 60_000;

const fixture = useServices();

async function report(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = { stdout: '', stderr: '' };
  const io: CliIo = {
    stdout: { write: (text: string) => (out.stdout += text) },
    stderr: { write: (text: string) => (out.stderr += text) },
    stdin: Readable.from([]),
    env: { DATABASE_URL: fixture.database.url, PIN_PEPPER: 'test-pepper-0123456789', SESSION_SECRET: 'test-session-secret-0123456789', LOG_LEVEL: 'silent' },
    isTTY: false,
  };
  const code = await main(['node', 'pinline', 'report', ...args], io);
  return { code, ...out };
}

describe('pinline report', () => {
  beforeAll(async () => {
    const { services, pool } = fixture;
    const locked = await createUser(services, { extension: '3001', firstName: 'Ann', lastName: 'Lee' });
    const formula = await createUser(services, { extension: '3002', firstName: '=1+2', lastName: '@SUM(A1)' });
    for (const user of [locked, formula]) await services.pins.updateSettings(user.userId, { flags: { lockedByAdmin: true } }, testActor);
    const expired = await createUser(services, { extension: '3003', firstName: 'Old', lastName: 'Pin' });
    await pool.query('UPDATE pin_credentials SET changed_at = $2 WHERE user_id = $1', [expired.userId, new Date(Date.now() - 200 * DAY)]);
  });

  it('when a report is asked for, then it prints an aligned table with a header and a count line', async () => {
    const result = await report('locked');
    expect(result.code, result.stderr).toBe(0);
    const lines = result.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^EXTENSION\s+FIRST\s+LAST\s+LOCK$/);
    expect(lines.slice(1, 3)).toEqual([
      expect.stringMatching(/^3001\s+Ann\s+Lee\s+locked by an administrator$/),
      expect.stringMatching(/^3002\s+=1\+2\s+@SUM\(A1\)\s+locked by an administrator$/),
    ]);
    // Every row's fact starts in the header's column.
    const factColumn = lines[0]?.indexOf('LOCK');
    for (const line of lines.slice(1, 3)) expect(line.indexOf('locked by')).toBe(factColumn);
    expect(lines[3]).toMatch(/^2 users as of \d{4}-\d\d-\d\dT/);
    expect(lines).toHaveLength(4);
  });

  it('when a report is asked for with --csv, then it prints CSV with a header and formula-looking names escaped', async () => {
    const result = await report('locked', '--csv');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe(
      'extension,first,last,lock\r\n' + '3001,Ann,Lee,locked by an administrator\r\n' + "3002,'=1+2,'@SUM(A1),locked by an administrator\r\n",
    );
    const expired = await report('expired', '--csv');
    expect(expired.stdout).toMatch(/^extension,first,last,expired_at\r\n3003,Old,Pin,\d{4}-\d\d-\d\dT[\d:.]+Z\r\n$/);
  });

  it('when a report has nobody in it, then the table is the header and "0 users"', async () => {
    const result = await report('failed-signins');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^EXTENSION {2}FIRST {2}LAST {2}FAILED_SIGNINS\n0 users as of \S+\n$/);
    expect((await report('failed-signins', '--csv')).stdout).toBe('extension,first,last,failed_signins\r\n');
  });

  it('when the report name is unknown or missing, then it is a usage error (exit 2) with one line that lists the names', async () => {
    const list = 'the reports are expired, expiring, locked, enrollment-pending, inactive, failed-signins (pinline report --help says who is in each)';
    for (const [args, asked] of [
      [['nope'], 'there is no report named "nope"'],
      [['nope', '--csv'], 'there is no report named "nope"'],
      [[], 'name a report'],
      [['--csv'], 'name a report'],
    ] as const) {
      const result = await report(...args);
      expect(result, args.join(' ')).toEqual({ code: 2, stdout: '', stderr: `pinline: ${asked}; ${list}\n` });
    }
  });

  it('when its help is asked for, then each report is listed with who is in it', async () => {
    const result = await report('--help');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/\n {2}enrollment-pending {2}Users who have not yet enrolled/);
    expect(result.stdout).toMatch(/\n {2}expired {13}PINs past their expiry/);
  });
});
