import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvRecordsFrom, csvText, fromSpreadsheetSafe, readCsvRecords, spreadsheetSafe } from '../src/csv.js';

describe('CSV cells a spreadsheet could run', () => {
  it.each([
    ['=HYPERLINK("http://x")', 'first', `'=HYPERLINK("http://x")`],
    ['+1+2', 'last', "'+1+2"],
    ['-2', 'first', "'-2"],
    ['@SUM(A1)', 'email', "'@SUM(A1)"],
    ['\tx', 'first', "'\tx"],
    ['\rx', 'first', "'\rx"],
    ['+15551230001', 'phone', '+15551230001'],
    ['+1 555', 'phone', "'+1 555"],
    ['+15551230001', 'first', "'+15551230001"],
    ['Ada', 'first', 'Ada'],
    ["'Brien", 'last', "'Brien"],
    ["'=x", 'first', "''=x"],
    ["''+x", 'first', "'''+x"],
    ['', 'first', ''],
  ])('when the cell %j is written in column %s, then it is written as %j, and reads back as it was', (value, column, written) => {
    expect(spreadsheetSafe(value, column)).toBe(written);
    expect(fromSpreadsheetSafe(written)).toBe(value);
  });

  it('when rows are written, then the text has a header, CRLF, quoting where needed, and parses back to the safe cells', () => {
    const text = csvText(['extension', 'first', 'phone'], [
      { extension: '1001', first: 'Doe, "Jane"', phone: '+15551230001' },
      { extension: '1002', first: '=cmd', phone: '' },
    ]);
    expect(text).toBe('extension,first,phone\r\n1001,"Doe, ""Jane""",+15551230001\r\n1002,\'=cmd,\r\n');
    expect(parse(text, { columns: true })).toEqual([
      { extension: '1001', first: 'Doe, "Jane"', phone: '+15551230001' },
      { extension: '1002', first: "'=cmd", phone: '' },
    ]);
  });
});

describe('writing cells with line breaks', () => {
  it('when a cell holds a bare \\n or \\r, then it is quoted, and reads back as one record', () => {
    const text = csvText(['first', 'last'], [{ first: 'Mary\nAnn', last: 'Jo\rnes' }]);
    expect(text).toBe('first,last\r\n"Mary\nAnn","Jo\rnes"\r\n');
    expect(readCsvRecords(text)).toEqual([
      { line: 1, cells: ['first', 'last'] },
      { line: 2, cells: ['Mary\nAnn', 'Jo\rnes'] },
    ]);
  });
});

describe('reading CSV records with their lines', () => {
  it('when a file has a BOM, CRLF, a quoted cell over two lines, a blank line and a row of empty cells, then each record starts on its own line', () => {
    const text = '\ufeffextension,first\r\n1001,"Ada\r\nLovelace"\r\n\r\n,\r\n1002,"Doe, ""J"""\r\n1003,x';
    expect(readCsvRecords(text)).toEqual([
      { line: 1, cells: ['extension', 'first'] },
      { line: 2, cells: ['1001', 'Ada\r\nLovelace'] },
      { line: 6, cells: ['1002', 'Doe, "J"'] },
      { line: 7, cells: ['1003', 'x'] },
    ]);
  });

  it('when lines end in \n or a lone \r, then they count the same', () => {
    expect(readCsvRecords('a\nb\rc\r\n"d\re"\nf\n')).toEqual([
      { line: 1, cells: ['a'] },
      { line: 2, cells: ['b'] },
      { line: 3, cells: ['c'] },
      { line: 4, cells: ['d\re'] },
      { line: 6, cells: ['f'] },
    ]);
  });

  it('when a record is malformed, then it alone is bad and the records after it are read', () => {
    const text = 'extension,first\n1001,"bad"x\n1002,O"Brien\n1003,ok\n1004,"open\n1005,after\n';
    expect(readCsvRecords(text)).toEqual([
      { line: 1, cells: ['extension', 'first'] },
      { line: 2, error: expect.stringContaining('goes on after its closing quote') },
      { line: 3, error: expect.stringContaining('a quote in the middle of a cell') },
      { line: 4, cells: ['1003', 'ok'] },
      { line: 5, error: 'a quoted cell is not closed' },
      { line: 6, cells: ['1005', 'after'] },
    ]);
  });
});

describe('reading CSV records from a stream', () => {
  const text = 'extension,first\r\n1,"a\r\nb"\r\n\r\n2,"x""y"\r3,z\n4,"open\n5,after\r\n6,"c,d"';

  async function* pieces(of: string, size: number): AsyncGenerator<string> {
    for (let i = 0; i < of.length; i += size) yield of.slice(i, i + size);
  }

  async function streamed(of: string, size: number) {
    const records = [];
    for await (const record of csvRecordsFrom(pieces(of, size))) records.push(record);
    return records;
  }

  it('when the text comes in pieces of any size, split anywhere (inside quotes, between \\r and \\n), then the records are those of the whole text', async () => {
    const whole = readCsvRecords(text);
    for (let size = 1; size <= text.length; size += 1) expect(await streamed(text, size), `pieces of ${size}`).toEqual(whole);
  });
});
