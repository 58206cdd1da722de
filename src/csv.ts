import { parse } from 'csv-parse/sync';

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

const NEEDS_QUOTES = /[",\r\n]/;

/** A cell as RFC 4180 writes it: quoted (quotes doubled) when it holds a comma, a quote or a line break. */
function csvCell(value: string): string {
  return NEEDS_QUOTES.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}

/** One cell as csvText writes it in that column: spreadsheet-safe, then quoted if need be. */
export function csvField(value: string, column: string): string {
  return csvCell(spreadsheetSafe(value, column));
}

/**
 * Rows as CSV text with a header row, every cell made spreadsheet-safe; CRLF, as RFC 4180 says.
 * Written here rather than by csv-stringify: an export writes a million rows, and the library's
 * per-cell options cost more than the rest of the row. A bare \n or \r is quoted too, or it
 * would end the row early for every reader.
 */
export function csvText(columns: readonly string[], rows: Iterable<Record<string, string>>, options: { header?: boolean } = {}): string {
  let text = options.header ?? true ? `${columns.map(csvCell).join(',')}\r\n` : '';
  for (const row of rows) text += `${columns.map((column) => csvField(row[column] ?? '', column)).join(',')}\r\n`;
  return text;
}

/** One record of a CSV file: the line it starts on (1-based), and its cells or why it cannot be read. */
export type CsvRecord = { line: number; cells: string[] } | { line: number; error: string };

const QUOTE_NOT_CLOSED = 'a quoted cell is not closed';
const UNREADABLE = 'the record cannot be read as CSV';

/** What csv-parse's error codes mean to someone fixing the file. */
const RECORD_ERRORS: Readonly<Record<string, string>> = {
  CSV_INVALID_CLOSING_QUOTE: 'a quoted cell goes on after its closing quote (write a quote inside a quoted cell twice: "")',
  CSV_QUOTE_NOT_CLOSED: QUOTE_NOT_CLOSED,
  // (csv-parse names this one without the CSV_ prefix)
  INVALID_OPENING_QUOTE: 'a quote in the middle of a cell (quote the whole cell and write the quote twice: "")',
};

/**
 * The records of a CSV text, each with the line it starts on. Blank lines, and records whose cells
 * are all empty (spreadsheets write those), are skipped; they still count as lines.
 *
 * csv-parse reads the cells. It is given one record at a time, because after a malformed record
 * it cannot tell where the next one starts, and its skip_records_with_error then swallows good
 * records that follow. Here a record ends at the first line break outside a quoted cell; a quoted
 * cell left open to the end of the file makes a bad record of its first line only, and reading
 * goes on at the next line.
 */
export function readCsvRecords(text: string): CsvRecord[] {
  return [...csvRecords(text)];
}

/** The records of readCsvRecords one at a time, so a large file is never held as records all at once. */
function* csvRecords(text: string): Generator<CsvRecord> {
  for (const span of recordSpans(text, { line: 1 }, true)) {
    const record = readRecord(span);
    if (record) yield record;
  }
}

/**
 * The records of a CSV file read in pieces (a file stream, decoded as it comes): the same records
 * as readCsvRecords, with only the record being read held beyond the one piece.
 */
export async function* csvRecordsFrom(pieces: AsyncIterable<string>): AsyncGenerator<CsvRecord> {
  const at = { line: 1 };
  let pending = '';
  for await (const piece of pieces) {
    pending += piece;
    const spans = recordSpans(pending, at, false);
    let next = spans.next();
    for (; !next.done; next = spans.next()) {
      const record = readRecord(next.value);
      if (record) yield record;
    }
    pending = pending.slice(next.value);
  }
  for (const span of recordSpans(pending, at, true)) {
    const record = readRecord(span);
    if (record) yield record;
  }
}

/** One record's cells; null when every cell is empty. */
function readRecord(span: RecordSpan): CsvRecord | null {
  if (span.unclosed) return { line: span.line, error: QUOTE_NOT_CLOSED };
  if (span.text === '') return null;
  let cells: string[] | undefined;
  // Without a quote or a byte-order mark, csv-parse would only split at the commas: do that here, at a fraction of the cost.
  if (!span.text.includes('"') && !span.text.startsWith('\ufeff')) {
    cells = span.text.split(',');
  } else {
    let parsed: string[][];
    try {
      // bom: a byte-order mark at the very start (Excel writes one) is not part of the first cell.
      parsed = parse(span.text, { bom: true }) as string[][];
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      return { line: span.line, error: (typeof code === 'string' ? RECORD_ERRORS[code] : undefined) ?? UNREADABLE };
    }
    cells = parsed[0];
    if (parsed.length !== 1 || cells === undefined) return { line: span.line, error: UNREADABLE };
  }
  return cells.some((cell) => cell.trim() !== '') ? { line: span.line, cells } : null;
}

interface RecordSpan {
  line: number;
  text: string;
  unclosed: boolean;
}

/**
 * Where each record starts and ends: RFC 4180's quoting, with \r\n, \n or a lone \r as a line
 * break. `at.line` is the line of text's first character, moved on as records are read. Unless the
 * text is `final`, a record that may go on in the text still to come is left unread: the return
 * value is where it starts.
 */
function* recordSpans(text: string, at: { line: number }, final: boolean): Generator<RecordSpan, number> {
  let pos = 0;
  while (pos < text.length) {
    const line = at.line;
    // 'start' at the start of a cell; 'quoted' inside quotes; 'closed' just after a quote inside quotes.
    let state: 'start' | 'plain' | 'quoted' | 'closed' = 'start';
    let breaksInside = 0;
    let end = pos;
    for (; end < text.length; end++) {
      const c = text[end];
      if (state === 'quoted') {
        if (c === '"') state = 'closed';
        else if (c === '\n' || (c === '\r' && text[end + 1] !== '\n')) breaksInside += 1;
        continue;
      }
      if (c === '\n' || c === '\r') break;
      if (c === ',') state = 'start';
      else if (c === '"') state = state === 'start' || state === 'closed' ? 'quoted' : 'plain';
      else state = 'plain';
    }
    if (!final && (end === text.length || (text[end] === '\r' && end + 1 === text.length))) return pos;
    if (state === 'quoted') {
      const firstBreak = text.slice(pos).search(/\r\n|\n|\r/);
      const lineEnd = firstBreak === -1 ? text.length : pos + firstBreak;
      yield { line, text: text.slice(pos, lineEnd), unclosed: true };
      pos = lineEnd + (text.startsWith('\r\n', lineEnd) ? 2 : 1);
      at.line += 1;
      continue;
    }
    yield { line, text: text.slice(pos, end), unclosed: false };
    at.line += breaksInside + 1;
    pos = end + (text.startsWith('\r\n', end) ? 2 : 1);
  }
  return pos;
}
