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
  const records: CsvRecord[] = [];
  readRecordsInto(text, 0, { line: 1 }, true, Number.POSITIVE_INFINITY, records);
  return records;
}

/**
 * The records of a CSV file read in pieces (a file stream, decoded as it comes), a batch at a
 * time: the same records as readCsvRecords, with only the piece being read held. A batch is read
 * without a promise per record (issue 21: a million rows).
 */
export class CsvRecordReader {
  private text = '';
  private pos = 0;
  private readonly at = { line: 1 };
  private ended = false;

  constructor(private readonly pieces: AsyncIterator<string>) {}

  /** The next records, at most `max` of them; none once the file has ended. */
  async read(max: number): Promise<CsvRecord[]> {
    const records: CsvRecord[] = [];
    for (;;) {
      this.pos = readRecordsInto(this.text, this.pos, this.at, this.ended, max, records);
      if (records.length >= max || this.ended) return records;
      const piece = await this.pieces.next();
      this.text = this.text.slice(this.pos) + (piece.done === true ? '' : piece.value);
      this.ended = piece.done === true;
      this.pos = 0;
    }
  }
}

/** The records of a CSV file read in pieces, one at a time (CsvRecordReader's batches, flattened). */
export async function* csvRecordsFrom(pieces: AsyncIterable<string>): AsyncGenerator<CsvRecord> {
  const reader = new CsvRecordReader(pieces[Symbol.asyncIterator]());
  for (let records = await reader.read(1000); records.length > 0; records = await reader.read(1000)) yield* records;
}

const QUOTE = 34;
const CR = 13;
const LF = 10;
const BOM = 0xfeff;

/**
 * Reads records of `text` from `pos` into `out`, until `max` of them or the text's end; returns
 * where it stopped. Unless the text is `final`, a record that may go on in the text still to
 * come is left unread. A line without quotes or a lone \r is one record, split at its commas
 * without csv-parse or a character loop: that is nearly every line of an import.
 */
function readRecordsInto(text: string, start: number, at: { line: number }, final: boolean, max: number, out: CsvRecord[]): number {
  let pos = start;
  let quote = text.indexOf('"', pos);
  let cr = text.indexOf('\r', pos);
  while (pos < text.length && out.length < max) {
    if (quote !== -1 && quote < pos) quote = text.indexOf('"', pos);
    if (cr !== -1 && cr < pos) cr = text.indexOf('\r', pos);
    const lf = text.indexOf('\n', pos);
    if (lf !== -1) {
      const end = cr === lf - 1 && cr >= pos ? cr : lf;
      if ((quote === -1 || quote >= end) && (cr === -1 || cr >= end) && text.charCodeAt(pos) !== BOM) {
        const line = at.line;
        at.line += 1;
        const cells = end === pos ? null : text.slice(pos, end).split(',');
        pos = lf + 1;
        if (cells !== null && hasContent(cells)) out.push({ line, cells });
        continue;
      }
    }
    const span = nextSpan(text, pos, at, final);
    if (span === null) return pos;
    pos = span.next;
    const record = readRecord(span);
    if (record) out.push(record);
  }
  return pos;
}

function hasContent(cells: readonly string[]): boolean {
  for (const cell of cells) if (cell.trim() !== '') return true;
  return false;
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
  return hasContent(cells) ? { line: span.line, cells } : null;
}

interface RecordSpan {
  line: number;
  text: string;
  unclosed: boolean;
  /** Where the next record starts. */
  next: number;
}

const START = 0;
const PLAIN = 1;
const QUOTED = 2;
/** Just after a quote inside quotes. */
const CLOSED = 3;

/**
 * Where the record at `pos` ends: RFC 4180's quoting, with \r\n, \n or a lone \r as a line break.
 * `at.line` is the line of the record's first character, moved on past it. Unless the text is
 * `final`, a record that may go on in the text still to come is left unread: null.
 */
function nextSpan(text: string, pos: number, at: { line: number }, final: boolean): RecordSpan | null {
  const line = at.line;
  let state = START;
  let breaksInside = 0;
  let end = pos;
  for (; end < text.length; end++) {
    const c = text.charCodeAt(end);
    if (state === QUOTED) {
      if (c === QUOTE) state = CLOSED;
      else if (c === LF || (c === CR && text.charCodeAt(end + 1) !== LF)) breaksInside += 1;
      continue;
    }
    if (c === LF || c === CR) break;
    if (c === 44) state = START;
    else if (c === QUOTE) state = state === START || state === CLOSED ? QUOTED : PLAIN;
    else state = PLAIN;
  }
  if (!final && (end === text.length || (text.charCodeAt(end) === CR && end + 1 === text.length))) return null;
  if (state === QUOTED) {
    const firstBreak = text.slice(pos).search(/\r\n|\n|\r/);
    const lineEnd = firstBreak === -1 ? text.length : pos + firstBreak;
    at.line += 1;
    return { line, text: text.slice(pos, lineEnd), unclosed: true, next: lineEnd + (text.startsWith('\r\n', lineEnd) ? 2 : 1) };
  }
  at.line += breaksInside + 1;
  return { line, text: text.slice(pos, end), unclosed: false, next: end + (text.startsWith('\r\n', end) ? 2 : 1) };
}
