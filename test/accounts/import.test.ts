import { describe, expect, it } from 'vitest';
import type { ImportRowOutcome } from '../../src/accounts/import.js';
import { createUser, testActor } from '../support/factories.js';
import { useServices } from '../support/services.js';

// The set-wise import (issue 21) keeps DESIGN §9 row for row: one chunk that mixes every kind of row.

const fixture = useServices();

const HEADER = 'extension,first,last,phone,email,locale,rule,response_wait';

async function importText(csv: string, dryRun: boolean): Promise<string[]> {
  const lines: string[] = [];
  const line = (row: ImportRowOutcome) => lines.push(`line ${row.line}: ${row.result}${row.reason !== undefined ? `: ${row.reason}` : ''}`);
  await fixture.services.userImport.run(new TextEncoder().encode(csv), { dryRun, resetPins: false, file: 'mixed.csv' }, testActor, line);
  return lines;
}

/** Every table an import writes, as it stands. */
async function snapshot(): Promise<unknown[]> {
  const { rows } = await fixture.pool.query(`SELECT
      (SELECT json_agg(u ORDER BY u.id) FROM (SELECT id, extension, first_name, last_name, phone, email, locale, rule_id, response_wait FROM users) u) AS users,
      (SELECT count(*)::int FROM pin_credentials) AS pins,
      (SELECT count(*)::int FROM audit_events) AS audit,
      (SELECT count(*)::int FROM pgboss.job) AS jobs`);
  return rows;
}

describe('an import whose chunk mixes new, changed, unchanged and bad rows', () => {
  it('when a dry run and then the real run read the file, then both print the same lines, the dry run changes nothing, and the real run applies the good rows in file order', async () => {
    await createUser(fixture.services, { extension: '6001', firstName: 'Ann', lastName: 'Old', phone: '+15556000001', email: 'ann@example.com' });
    await createUser(fixture.services, { extension: '6002', firstName: 'Bo', lastName: 'Same' });
    await createUser(fixture.services, { extension: '6003', firstName: 'Cy', lastName: 'Holder', phone: '+15556000003' });
    const csv = [
      HEADER,
      '6101,New,One,+15556100001,,,,', // 2: created
      '6001,Ann,New,,ann.new@example.com,es-US,,9', // 3: updated
      '6002,Bo,Same,,,,,', // 4: unchanged
      '6102,Takes,Cys,+15556000003,,,,', // 5: 6003 still has it
      '6003,Cy,Holder,+15556000033,,,,', // 6: updated, gives up +15556000003
      '6103,Takes,Freed,+15556000003,,,,', // 7: created with the number line 6 gave up
      '6104,Late,Taker,+15556100001,,,,', // 8: line 2 took it
      '6105,No,Rule,,,,nosuch,', // 9
      '6101,Twice,Again,,,,,', // 10
      '6106,Bad,Mail,,not-an-address,,,', // 11
      '6107,,,,,,,', // 12: a new user needs names
      '6108,New,Two,,,,,', // 13: created
    ].join('\n');
    const expected = [
      'line 2: created',
      'line 3: updated',
      'line 4: unchanged',
      'line 5: error: that phone number is already registered to another user',
      'line 6: updated',
      'line 7: created',
      'line 8: error: that phone number is already registered to another user',
      'line 9: error: unknown authentication rule "nosuch"',
      'line 10: error: extension 6101 is already on line 2 of this file',
      'line 11: error: e-mail address "not-an-address" is not valid (like alice@example.com)',
      'line 12: error: a new user needs a first and a last name',
      'line 13: created',
    ];

    const before = await snapshot();
    expect(await importText(csv, true)).toEqual(expected);
    expect(await snapshot()).toEqual(before);

    expect(await importText(csv, false)).toEqual(expected);
    const accounts = fixture.services.accounts;
    expect((await accounts.findAccount({ extension: '6001' }))?.user).toMatchObject({ lastName: 'New', email: 'ann.new@example.com', locale: 'es-US', responseWait: 9, phone: '+15556000001' });
    expect((await accounts.findAccount({ extension: '6003' }))?.user.phone).toBe('+15556000033');
    expect((await accounts.findAccount({ extension: '6103' }))?.user.phone).toBe('+15556000003');
    expect((await accounts.findAccount({ extension: '6101' }))?.pin).toMatchObject({ enrollmentPending: true, mustChange: false });
    for (const extension of ['6102', '6104', '6105', '6106', '6107']) expect(await accounts.findAccount({ extension })).toBeNull();

    const { rows } = await fixture.pool.query(
      `SELECT event, extension, details FROM audit_events WHERE actor = $1 AND (extension LIKE '6%' OR event = 'user.imported') ORDER BY id`,
      [testActor.name],
    );
    const fromImport = rows.slice(rows.findIndex((row) => row.extension === '6001' && row.event === 'user.updated'));
    expect(fromImport.map((row) => `${row.event} ${row.extension ?? ''}`.trim())).toEqual([
      // Updates are written before creations within a chunk, each kind in file order.
      'user.updated 6001',
      'user.updated 6003',
      'user.created 6101',
      'pin.set 6101',
      'user.created 6103',
      'pin.set 6103',
      'user.created 6108',
      'pin.set 6108',
      'user.imported',
    ]);
    expect(fromImport[0].details).toEqual({ lastName: 'New', email: 'ann.new@example.com', locale: 'es-US', responseWait: 9 });
    expect(fromImport.at(-1).details).toEqual({ created: 3, updated: 2, unchanged: 1, errors: 6, file: 'mixed.csv' });
    // The old address hears of the change, as with any change of e-mail address.
    const { rows: jobs } = await fixture.pool.query(`SELECT count(*)::int AS n FROM pgboss.job WHERE data::text LIKE '%email_changed%'`);
    expect(jobs[0].n).toBeGreaterThanOrEqual(1);
  });

  it('when an earlier row of the chunk moves a user off a phone number and a later row gives it to another user, then both apply, as row by row', async () => {
    const first = await createUser(fixture.services, { extension: '6201', firstName: 'Dee', lastName: 'Moves', phone: '+15556200001' });
    const second = await createUser(fixture.services, { extension: '6202', firstName: 'Eli', lastName: 'Takes', phone: '+15556200002' });
    // One UPDATE may meet the second row before the first and trip the unique phone constraint; the chunk is then written row by row.
    const lines = await importText(`${HEADER}\n6201,,,+15556200009,,,,\n6202,,,+15556200001,,,,\n`, false);
    expect(lines).toEqual(['line 2: updated', 'line 3: updated']);
    expect((await fixture.services.accounts.getAccount({ userId: first.userId })).user.phone).toBe('+15556200009');
    expect((await fixture.services.accounts.getAccount({ userId: second.userId })).user.phone).toBe('+15556200001');
  });
});

describe('an import of more than one chunk', () => {
  it('when a later chunk repeats an extension, takes a number an earlier chunk gave up, or one an earlier chunk took, then it sees the earlier chunk as row by row would, in the dry run as in the real run', async () => {
    await createUser(fixture.services, { extension: '6401', firstName: 'Fay', lastName: 'Moves', phone: '+15556400001' });
    await createUser(fixture.services, { extension: '6402', firstName: 'Gus', lastName: 'Takes' });
    await createUser(fixture.services, { extension: '6403', firstName: 'Hal', lastName: 'Same' });
    // Lines 2 to 5000 are new users without names: bad rows that fill the first chunk of 5,000.
    const filler = Array.from({ length: 4999 }, (_, i) => `${640000 + i},,,,,,,`);
    const csv = [
      HEADER,
      ...filler,
      '6401,,,+15556400009,,,,', // 5001: the first chunk's last row gives up +15556400001
      '6402,,,+15556400001,,,,', // 5002: the second chunk's first row takes it
      '6401,Fay,Again,,,,,', // 5003: repeats line 5001's extension
      '6404,New,Taker,+15556400009,,,,', // 5004: line 5001 took it
      '6403,Hal,Same,,,,,', // 5005: unchanged
    ].join('\n');
    const expected = [
      'line 5001: updated',
      'line 5002: updated',
      'line 5003: error: extension 6401 is already on line 5001 of this file',
      'line 5004: error: that phone number is already registered to another user',
      'line 5005: unchanged',
    ];
    const before = await snapshot();
    const dry = await importText(csv, true);
    expect(dry).toHaveLength(5004);
    expect(dry.slice(0, 1)).toEqual(['line 2: error: a new user needs a first and a last name']);
    expect(dry.slice(-5)).toEqual(expected);
    expect(await snapshot()).toEqual(before);

    expect(await importText(csv, false)).toEqual(dry);
    expect((await fixture.services.accounts.findAccount({ extension: '6401' }))?.user.phone).toBe('+15556400009');
    expect((await fixture.services.accounts.findAccount({ extension: '6402' }))?.user.phone).toBe('+15556400001');
    expect(await fixture.services.accounts.findAccount({ extension: '6404' })).toBeNull();
  });

  it('when no row changes anything, then nothing is written but the import\'s own audit row', async () => {
    await createUser(fixture.services, { extension: '6501', firstName: 'Ida', lastName: 'Kept', email: 'ida@example.com' });
    const before = await snapshot();
    expect(await importText(`${HEADER}\n6501,Ida,Kept,,ida@example.com,,default,\n`, false)).toEqual(['line 2: unchanged']);
    const { rows } = await fixture.pool.query(`SELECT event FROM audit_events ORDER BY id DESC LIMIT 1`);
    expect(rows.map((row) => row.event)).toEqual(['user.imported']);
    const after = (await snapshot()) as Array<{ audit: number }>;
    expect(after).toEqual((before as Array<{ audit: number }>).map((row) => ({ ...row, audit: row.audit + 1 })));
  });
});

describe('an import file read in pieces', () => {
  const piecesOf = (...pieces: number[][]) => () =>
    (async function* () {
      for (const piece of pieces) yield Uint8Array.from(piece);
    })();
  const bytes = (text: string) => [...new TextEncoder().encode(text)];

  it('when a piece ends in the middle of a character, then the file is still UTF-8 and the name is read whole', async () => {
    // "é" is 0xC3 0xA9 and "€" is 0xE2 0x82 0xAC: each cut between two pieces.
    const text = bytes('extension,first,last\n6301,José,Eu€\n');
    const cutE = text.indexOf(0xc3) + 1;
    const cutEuro = text.indexOf(0xe2) + 2;
    const source = piecesOf(text.slice(0, cutE), text.slice(cutE, cutEuro), text.slice(cutEuro));
    const report = await fixture.services.userImport.run(source, { dryRun: false, resetPins: false }, testActor);
    expect(report.counts.created).toBe(1);
    const account = await fixture.services.accounts.getAccount({ extension: '6301' });
    expect([account.user.firstName, account.user.lastName]).toEqual(['José', 'Eu€']);
  });

  it('when the file ends in the middle of a character, or a piece has a byte that is not UTF-8, then the file is refused before any row', async () => {
    const text = bytes('extension,first,last\n6302,Ann,B\n');
    for (const source of [piecesOf(text, [0xe2, 0x82]), piecesOf(text.slice(0, 10), [0xe9], text.slice(10))]) {
      await expect(fixture.services.userImport.run(source, { dryRun: false, resetPins: false }, testActor)).rejects.toThrow('the file is not UTF-8 text');
    }
    expect(await fixture.services.accounts.search({ query: '6302' })).toMatchObject({ total: 0 });
  });
});
