import { stringify } from 'csv-stringify/sync';

// CSV that pinline writes (export, reports) and reads back (import): one place for the escaping
// that keeps a spreadsheet from running a cell as a formula (DESIGN §9).

/**
 * A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection"). Leading
 * quotes count too, so that escaping stays reversible for a value that itself starts with `'=`.
 */
const FORMULA_START = /^'*[=+\-@\t\r]/;
const E164 = /^\+[1-9][0-9]{1,14}$/;

/**
 * The cell as written: prefixed with `'` when a spreadsheet would read it as a formula, except an
 * E.164 number in the `phone` column, which stays as it is so the file imports again unchanged.
 */
export function spreadsheetSafe(value: string, column: string): string {
  if (!FORMULA_START.test(value)) return value;
  if (column === 'phone' && E164.test(value)) return value;
  return `'${value}`;
}

/** Undoes spreadsheetSafe on a cell read back: `'=1+2` is the text `=1+2`. */
export function fromSpreadsheetSafe(value: string): string {
  return value.startsWith("'") && FORMULA_START.test(value) ? value.slice(1) : value;
}

/** Rows as CSV text with a header row, every cell made spreadsheet-safe; CRLF, as RFC 4180 says. */
export function csvText(columns: readonly string[], rows: Iterable<Record<string, string>>, options: { header?: boolean } = {}): string {
  const records: string[][] = [];
  for (const row of rows) records.push(columns.map((column) => spreadsheetSafe(row[column] ?? '', column)));
  return stringify(records, { header: options.header ?? true, columns: [...columns], record_delimiter: 'windows' });
}
