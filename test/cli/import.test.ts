import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { USER_CSV_FIELDS, USER_CSV_STATUS, userJson } from '../../src/accounts/present.js';
import { cliEnvFor, runCli, type CliRun } from '../support/cli.js';
import { createUser, testActor } from '../support/factories.js';
import { useServices } from '../support/services.js';

// `pinline user import` and `pinline user export` (DESIGN §9), run in-process on a real database.

const fixture = useServices();
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pinline-import-test-'));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function run(args: string[]): Promise<CliRun> {
  return runCli(args, cliEnvFor(fixture.database.url, dir));
}

let fileSequence = 0;
/** Writes the CSV text (or bytes) to a file of its own and imports it. */
async function importCsv(content: string | Buffer, ...flags: string[]): Promise<CliRun> {
  fileSequence += 1;
  const file = path.join(dir, `import-${fileSequence}.csv`);
  writeFileSync(file, content);
  return run(['user', 'import', file, ...flags]);
}

const lines = (result: CliRun) => result.stdout.trimEnd().split('\n');

async function account(extension: string) {
  return fixture.services.accounts.findAccount({ extension });
}

/** Rows of every table an import could write to, for "nothing changed". */
async function tableCounts(): Promise<Record<string, number>> {
  const { rows } = await fixture.pool.query(`SELECT
      (SELECT count(*)::int FROM users) AS users,
      (SELECT count(*)::int FROM pin_credentials) AS pins,
      (SELECT count(*)::int FROM pin_history) AS history,
      (SELECT count(*)::int FROM audit_events) AS audit,
      (SELECT count(*)::int FROM pgboss.job) AS jobs`);
  return rows[0] as Record<string, number>;
}

async function auditOf(extension: string): Promise<Array<{ event: string; channel: string; actor: string; details: Record<string, unknown> }>> {
  const { rows } = await fixture.pool.query('SELECT event, channel, actor, details FROM audit_events WHERE extension = $1 ORDER BY id', [extension]);
  return rows as Array<{ event: string; channel: string; actor: string; details: Record<string, unknown> }>;
}

const HEADER = 'extension,first,last,phone,email,locale,rule,response_wait';

describe('pinline user import', () => {
  it('when cells hold control characters, then each such row is a line error naming the field, and the other rows apply', async () => {
    const rows = [
      HEADER,
      '3451,Ada\u0000,Byron,,,,,', // 2: a NUL, which Postgres cannot store
      '3452,Ada,By\tron,,,,,', // 3
      '3453,Ada,Byron,,ada\u0001@example.com,,,', // 4
      '3454,Ada,Byron,,,,rule\u0000x,', // 5: looked up only once its name is checked
      '3455,Ada,Byron,,,es-US\u007f,,', // 6
      '3456,Ada,Byron,,,,,', // 7: created
    ];
    const result = await importCsv(`${rows.join('\n')}\n`);
    expect(lines(result)).toEqual([
      'line 2: error: first name contains a control character (U+0000); remove it',
      'line 3: error: last name contains a control character (U+0009); remove it',
      'line 4: error: e-mail address contains a control character (U+0001); remove it',
      'line 5: error: rule name contains a control character (U+0000); remove it',
      'line 6: error: locale contains a control character (U+007F); remove it',
      'line 7: created',
      '6 rows: 1 created, 0 updated, 0 unchanged, 5 errors',
    ]);
    for (const extension of ['3451', '3452', '3453', '3454', '3455']) expect(await account(extension)).toBeNull();
  });

  it('when a file with a BOM and CRLF has good rows, bad rows of every kind and quoted cells, then each row gets its line and the good ones apply', async () => {
    await createUser(fixture.services, { extension: '3001', firstName: 'Old', lastName: 'Name', phone: '+15553000001', email: 'old@example.com' });
    await createUser(fixture.services, { extension: '3002', firstName: 'Keep', lastName: 'Me', phone: '+15553000002' });
    await createUser(fixture.services, { extension: '3003', firstName: 'Same', lastName: 'Person' });
    const rows = [
      HEADER,
      '3101,"Smith, ""Ada""",Lovelace,+1 (555) 310-1001,ada@example.com,es-US,default,12', // 2: created, quotes
      '3001,New,,,new@example.com,,,', // 3: updated; empty cells leave the rest
      '3003,Same,Person,,,,,', // 4: unchanged
      '3102,Bad,Phone,555-1234,,,,', // 5
      '3103,Bad,Rule,,,,nosuch,', // 6
      '3104,Bad,Locale,,,fr-FR,,', // 7
      '3105,Taken,Phone,+15553000002,,,,', // 8: another user's phone
      '3106,First,Taker,+15553100006,,,,', // 9: created
      '3107,Second,Taker,+15553100006,,,,', // 10: taken by line 9
      '3101,Again,Twice,,,,,', // 11: extension repeated
      '3108,"Broken"quote,X,,,,,', // 12
      '3109,Too,Few', // 13
      '3110,,,,,,,', // 14: a new user without names
      '3002,Changed,Me,bad-phone,,,,', // 15: a bad update changes nothing
      '3111,Slow,Caller,,,,,99', // 16
      '31x2,Bad,Extension,,,,,', // 17
    ];
    const result = await importCsv(`\ufeff${rows.join('\r\n')}\r\n`);
    expect(lines(result)).toEqual([
      'line 2: created',
      'line 3: updated',
      'line 4: unchanged',
      'line 5: error: phone number "555-1234" is not in E.164 form (like +15551230001)',
      'line 6: error: unknown authentication rule "nosuch"',
      'line 7: error: locale "fr-FR" is not one of en-US, es-US',
      'line 8: error: that phone number is already registered to another user',
      'line 9: created',
      'line 10: error: that phone number is already registered to another user',
      'line 11: error: extension 3101 is already on line 2 of this file',
      'line 12: error: a quoted cell goes on after its closing quote (write a quote inside a quoted cell twice: "")',
      'line 13: error: the row has 3 cells, the header 8',
      'line 14: error: a new user needs a first and a last name',
      'line 15: error: phone number "bad-phone" is not in E.164 form (like +15551230001)',
      'line 16: error: response wait "99" must be a whole number of seconds from 3 to 30',
      'line 17: error: extension "31x2" must be 2 to 15 digits',
      '16 rows: 2 created, 1 updated, 1 unchanged, 12 errors',
    ]);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe('');

    expect((await account('3101'))?.user).toMatchObject({
      firstName: 'Smith, "Ada"',
      lastName: 'Lovelace',
      phone: '+15553101001',
      email: 'ada@example.com',
      locale: 'es-US',
      responseWait: 12,
    });
    expect((await account('3001'))?.user).toMatchObject({ firstName: 'New', lastName: 'Name', phone: '+15553000001', email: 'new@example.com' });
    expect((await account('3002'))?.user).toMatchObject({ firstName: 'Keep', phone: '+15553000002' });
    expect((await account('3106'))?.user.phone).toBe('+15553100006');
    for (const extension of ['3102', '3103', '3104', '3105', '3107', '3108', '3109', '3110', '3111']) expect(await account(extension)).toBeNull();
    expect(await auditOf('3003')).toHaveLength(2);
    expect(await auditOf('3002')).toHaveLength(2);
  });

  it('when a quoted cell spans two lines and blank lines follow, then the lines counted are where each record starts', async () => {
    const result = await importCsv(`${HEADER}\n3201,"Mary\nAnn",Jones,,,,,\n\n\n3202,Bob,Brown,,,,,\n,,,,,,,\n3203,Cy,Cole,,,,,\n`);
    // A line break is a control character, so the two-line name is refused; the lines still count from where each record starts.
    expect(lines(result)).toEqual([
      'line 2: error: first name contains a control character (U+000A); remove it',
      'line 6: created',
      'line 8: created',
      '3 rows: 2 created, 0 updated, 0 unchanged, 1 error',
    ]);
    expect(await account('3201')).toBeNull();
  });

  it('when a row updates a user, then only what differs is changed and audited under the CLI, and the old e-mail address is told', async () => {
    await createUser(fixture.services, { extension: '3301', firstName: 'Ann', lastName: 'Lee', email: 'ann@example.com', phone: '+15553300001' });
    const jobsBefore = (await tableCounts()).jobs ?? 0;
    const result = await importCsv(`extension,last,email,phone,rule\n3301,Lee,ann.lee@example.com,,default\n`);
    expect(lines(result)).toEqual(['line 2: updated', '1 row: 0 created, 1 updated, 0 unchanged, 0 errors']);
    const events = await auditOf('3301');
    expect(events.at(-1)).toEqual({ event: 'user.updated', channel: 'cli', actor: 'cli', details: { email: 'ann.lee@example.com' } });
    expect((await account('3301'))?.user).toMatchObject({ lastName: 'Lee', phone: '+15553300001', email: 'ann.lee@example.com' });
    // The old address hears of the change, as with `user set --email`.
    expect((await tableCounts()).jobs).toBe(jobsBefore + 1);
  });

  it('when users are created without --reset-pins, then they are enrollment pending, audited under the CLI, and no PIN anyone could type signs them in', async () => {
    const result = await importCsv(`${HEADER}\n3401,Ivy,Ng,,,,,\n3402,Jo,Park,,,,,\n`);
    expect(result.code).toBe(0);
    const created = await account('3401');
    expect(created?.pin).toMatchObject({ enrollmentPending: true, mustChange: false });
    expect(await auditOf('3401')).toEqual([
      { event: 'user.created', channel: 'cli', actor: 'cli', details: { rule: 'default', enrollmentPending: true } },
      { event: 'pin.set', channel: 'cli', actor: 'cli', details: { generated: true, untold: true, enrollmentPending: true } },
    ]);
    // One secret hashed for the whole run, not one hash per row.
    const { rows } = await fixture.pool.query(
      `SELECT count(DISTINCT c.pin_hash)::int AS n FROM pin_credentials c JOIN users u ON u.id = c.user_id WHERE u.extension IN ('3401', '3402')`,
    );
    expect(rows[0].n).toBe(1);
    // Two guesses: a third would lock the account (the default rule's threshold).
    for (const pin of ['000000', '3401']) {
      const signin = await fixture.services.pins.verifySignin({ extension: '3401', pin, actor: testActor });
      expect(signin.outcome).toBe('invalid');
    }
  });

  it('when a dry run has good and bad rows, then it prints the lines of a real run, exits 1, and writes nothing', async () => {
    await createUser(fixture.services, { extension: '3501', firstName: 'Dee', lastName: 'Ray', email: 'dee@example.com' });
    const csv = `${HEADER}\n3502,Eve,Fox,+15553500002,,,,\n3501,Dee,Roy,,dee.roy@example.com,,,\n3503,Gil,Hay,+15553500002,,,,\n3504,,,,,,,\n`;
    const before = await tableCounts();
    const dry = await importCsv(csv, '--dry-run');
    expect(await tableCounts()).toEqual(before);
    expect((await account('3501'))?.user.lastName).toBe('Ray');
    expect(await account('3502')).toBeNull();
    expect(dry.code).toBe(1);

    const real = await importCsv(csv);
    expect(real.code).toBe(1);
    expect(lines(dry).slice(0, -1)).toEqual(lines(real).slice(0, -1));
    expect(lines(dry)).toEqual([
      'line 2: created',
      'line 3: updated',
      'line 4: error: that phone number is already registered to another user',
      'line 5: error: a new user needs a first and a last name',
      '4 rows: 1 created, 1 updated, 0 unchanged, 2 errors (dry run: nothing was changed)',
    ]);
  });

  it('when every row is good, then the import exits 0, also as a dry run', async () => {
    const csv = `${HEADER}\n3601,Hal,Ito,,,,,\n`;
    expect((await importCsv(csv, '--dry-run')).code).toBe(0);
    expect((await importCsv(csv)).code).toBe(0);
    expect((await importCsv(csv)).stdout).toContain('line 2: unchanged');
  });

  it.each([
    ['a misspelt column', 'extension,frist,last\n3701,A,B\n', 'pinline: line 1: unknown column "frist" in the header; the columns are extension, first, last, phone, email, locale, rule, response_wait (and the read-only ones of an export)'],
    ['no extension column', 'first,last\nA,B\n', 'pinline: line 1: the header has no extension column'],
    ['a column twice', 'extension,first,First\n3701,A,B\n', 'pinline: line 1: the column "first" appears twice in the header'],
    ['an empty file', '', 'pinline: the file is empty: its first line must be a header row with an extension column'],
    ['text that is not UTF-8', Buffer.from('extension,first,last\n3701,Jos\xe9,B\n', 'latin1'), 'pinline: the file is not UTF-8 text (save it as "CSV UTF-8")'],
  ])('when the file has %s, then one line says so, the exit status is 1 and nothing is imported', async (_what, content, message) => {
    const before = await tableCounts();
    const result = await importCsv(content);
    expect(result).toEqual({ code: 1, stdout: '', stderr: `${message}\n` });
    expect(await tableCounts()).toEqual(before);
  });

  it('when the file does not exist, then one line names it and the exit status is 1', async () => {
    const missing = path.join(dir, 'missing.csv');
    expect(await run(['user', 'import', missing])).toEqual({ code: 1, stdout: '', stderr: `pinline: cannot read ${missing}: no such file\n` });
  });
});

describe('pinline user import --reset-pins', () => {
  async function jobsFor(extension: string): Promise<number> {
    const { rows } = await fixture.pool.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE data->>'extension' = $1`, [extension]);
    return rows[0].n as number;
  }

  it('when a created user has a phone or e-mail, then their PIN is reset and sent; a new row no channel reaches is bad and nothing is created for it', async () => {
    const csv = `${HEADER}\n3801,Kim,Lo,+15553800001,kim@example.com,,,\n3802,Max,Mo,,,,,\n3803,Ned,Nu,,ned@example.com,,,\n`;
    const result = await importCsv(csv, '--reset-pins');
    expect(lines(result)).toEqual([
      'line 2: created',
      'line 3: error: no phone or e-mail that a configured channel reaches, so a reset PIN cannot be sent to this new user',
      'line 4: created',
      '3 rows: 2 created, 0 updated, 0 unchanged, 1 error',
    ]);
    expect(result.code).toBe(1);
    expect(await account('3802')).toBeNull();
    expect((await account('3801'))?.pin).toMatchObject({ mustChange: true, enrollmentPending: true });
    expect((await auditOf('3801')).map((e) => [e.event, e.actor, e.event === 'pin.reset' ? e.details : null])).toEqual([
      ['user.created', 'cli', null],
      ['pin.set', 'cli', null],
      ['pin.reset', 'cli', { channels: ['sms', 'email'], shownOnce: false }],
    ]);
    expect(await jobsFor('3801')).toBe(2);
    expect(await jobsFor('3803')).toBe(1);
    // Two different random PINs, each its own hash.
    const { rows } = await fixture.pool.query(
      `SELECT count(DISTINCT c.pin_hash)::int AS n FROM pin_credentials c JOIN users u ON u.id = c.user_id WHERE u.extension IN ('3801', '3803')`,
    );
    expect(rows[0].n).toBe(2);
  });

  it('when an existing user is updated with --reset-pins, then their PIN is left alone', async () => {
    await createUser(fixture.services, { extension: '3901', firstName: 'Oz', lastName: 'Pi', email: 'oz@example.com' });
    const result = await importCsv(`extension,last\n3901,Qu\n`, '--reset-pins');
    expect(lines(result)[0]).toBe('line 2: updated');
    expect((await auditOf('3901')).map((e) => e.event)).toEqual(['user.created', 'pin.set', 'user.updated']);
  });

  it('when a dry run asks for --reset-pins, then it checks who can be reached and writes nothing, not even a queued message', async () => {
    const before = await tableCounts();
    const result = await importCsv(`${HEADER}\n3951,Ray,Su,,ray@example.com,,,\n3952,Tom,Uv,,,,,\n`, '--dry-run', '--reset-pins');
    expect(lines(result)).toEqual([
      'line 2: created',
      'line 3: error: no phone or e-mail that a configured channel reaches, so a reset PIN cannot be sent to this new user',
      '2 rows: 1 created, 0 updated, 0 unchanged, 1 error (dry run: nothing was changed)',
    ]);
    expect(await tableCounts()).toEqual(before);
  });
});

describe('pinline user export', () => {
  const EXPORT_HEADER = [...USER_CSV_FIELDS, ...USER_CSV_STATUS].join(',');

  it('when users are exported as CSV, then there is a header row and one row each, formulas are escaped, phones are not, and no hash appears', async () => {
    await createUser(fixture.services, { extension: '4001', firstName: '=HYPERLINK("http://x")', lastName: '+Plus', phone: '+15554000001', email: 'e@example.com' });
    await fixture.services.pins.updateSettings((await account('4001'))?.user.id ?? 0, { flags: { lockedByAdmin: true } }, testActor);
    const result = await run(['user', 'export']);
    expect(result.code).toBe(0);
    const text = result.stdout;
    expect(text.split('\r\n')[0]).toBe(EXPORT_HEADER);
    expect(text).not.toContain('$argon2');
    const row = text.split('\r\n').find((line) => line.startsWith('4001,'));
    expect(row).toMatch(/^4001,"'=HYPERLINK\(""http:\/\/x""\)",'\+Plus,\+15554000001,e@example.com,en-US,default,5,Locked \(administrator\),no,no,no,yes,no,[^,]+,[^,]+,admin,,0,,[^,]+$/);
    const { rows } = await fixture.pool.query('SELECT count(*)::int AS n FROM users');
    expect(text.trimEnd().split('\r\n')).toHaveLength(rows[0].n + 1);
  });

  it('when users are exported as JSON, then it is an array of the API user resource, in extension order, without a hash', async () => {
    const result = await run(['user', 'export', '--json']);
    expect(result.code).toBe(0);
    expect(result.stdout).not.toContain('$argon2');
    const users = JSON.parse(result.stdout) as Array<{ extension: string }>;
    const extensions = users.map((u) => u.extension);
    expect(extensions).toEqual([...extensions].sort());
    const one = await account('4001');
    if (!one) throw new Error('user 4001 is missing');
    const exported = users.find((u) => u.extension === '4001');
    expect(exported).toEqual(JSON.parse(JSON.stringify(userJson(one, new Date()))));
  });

  it('when the export is imported again, then every row is unchanged, and a name starting with = comes back as it was', async () => {
    const exported = await run(['user', 'export']);
    const reimported = await importCsv(exported.stdout);
    const output = lines(reimported);
    const summary = output.pop();
    expect(output.every((line) => /^line \d+: unchanged$/.test(line)), output.join('\n')).toBe(true);
    expect(summary).toMatch(/^\d+ rows: 0 created, 0 updated, \d+ unchanged, 0 errors; read-only columns ignored: pin_status, /);
    expect(reimported.code).toBe(0);
    expect((await account('4001'))?.user.firstName).toBe('=HYPERLINK("http://x")');
  });

  it('when the reader of the export goes away (| head), then it stops silently with exit status 0', async () => {
    let writes = 0;
    // A pipe whose reader has gone after the first chunk: the next write fails with EPIPE.
    const closedPipe = new Writable({
      highWaterMark: 1,
      write(_chunk, _encoding, done) {
        writes += 1;
        done(writes > 1 ? Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }) : null);
      },
    });
    const result = await runCli(['user', 'export', '--json'], cliEnvFor(fixture.database.url, dir), { stdout: closedPipe });
    expect(result).toEqual({ code: 0, stdout: '', stderr: '' });
    expect(writes).toBe(2);
  });

  it('when the export is read in pages, then every user comes once, in order, however small the page', async () => {
    const pages: string[][] = [];
    await fixture.services.accounts.exportAccounts(async (page) => {
      pages.push(page.map((a) => a.user.extension));
    }, 3);
    const { rows } = await fixture.pool.query('SELECT extension FROM users ORDER BY extension');
    expect(pages.flat()).toEqual(rows.map((r) => r.extension as string));
    expect(pages.every((page) => page.length <= 3)).toBe(true);
  });

  it('when --quiet is given, then only the counts are printed, and the rows still apply', async () => {
    const result = await importCsv(`${HEADER}\n4901,Quinn,Ray,,,,,\n39x2,Bad,Row,,,,,\n`, '--quiet');
    expect(lines(result)).toEqual(['2 rows: 1 created, 0 updated, 0 unchanged, 1 error']);
    expect(result.code).toBe(1);
    expect(await account('4901')).not.toBeNull();
  });
});
