import { parse } from 'csv-parse/sync';
import { describe, expect, it } from 'vitest';
import { csvText, fromSpreadsheetSafe, spreadsheetSafe } from '../src/csv.js';

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
