import { isUtf8 } from 'node:buffer';
import type { Actor } from '../audit/actor.js';
import { CsvRecordReader, fromSpreadsheetSafe, type CsvRecord } from '../csv.js';
import { recordAudit } from '../db/audit.js';
import { constraintError, isConstraintViolation, phoneTakenError } from '../db/constraints.js';
import { withRolledBackTransaction, withSavepoint, withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { importTargets, insertImportedUsers, phoneHolders, updateImportedUsers, type ImportWrites, type StagedChange, type StagedNewUser } from '../db/user-import.js';
import { InputError } from '../errors.js';
import type { Notifier } from '../notify/notices.js';
import { initialPinDetails } from '../pin/reset.js';
import type { InitialPin, PinService } from '../pin/service.js';
import type { User, UserChanges } from './model.js';
import { USER_CSV_FIELDS, USER_CSV_STATUS } from './present.js';
import { userUpdatedDetails, withRule, type AccountService, type CheckedNewUser, type RuleLookup, type UserUpdateInput } from './service.js';
import { checkExtension, type CheckedUserFields } from './user-fields.js';
import { checkRuleName, DEFAULT_RULE_NAME, type AuthRule } from '../pin/rules.js';

// `pinline user import` and the admin web's import (DESIGN §9): one implementation for both.

type Field = (typeof USER_CSV_FIELDS)[number];

export type ImportResult = 'created' | 'updated' | 'unchanged' | 'error';

/** What became of one data row of the file. */
export interface ImportRowOutcome {
  /** The line of the file where the row starts; the header is line 1. */
  line: number;
  /** The row's extension as written ('' when the row could not be read). */
  extension: string;
  result: ImportResult;
  /** Why the row is bad: one line. */
  reason?: string;
}

export interface ImportReport {
  /** The outcomes of the first rows, at most `keepRows` of them (ImportOptions); `onRow` hears of every one. */
  rows: ImportRowOutcome[];
  /** Data rows in the file. */
  total: number;
  counts: Record<ImportResult, number>;
  dryRun: boolean;
  /** Read-only columns of an export that the file has, and the import ignores. */
  ignoredColumns: string[];
}

export interface ImportOptions {
  /** Change nothing; report what a real run would do. */
  dryRun: boolean;
  /** Reset each created user's PIN as the helpdesk does (DESIGN §8), so that it is sent to them. */
  resetPins: boolean;
  /** How many rows' outcomes the report keeps (every one when not given): a page shows a bounded number. */
  keepRows?: number;
  /** The file's name, for the `user.imported` audit row. */
  file?: string;
}

/** Where each field's column is in a row's cells: -1 when the file has no such column. */
type Columns = Readonly<Record<Field, number>>;

/** A data row as read: its cells in the header's order, or why it cannot be read. */
type ImportRow = { line: number; extension: string; cells: readonly string[] } | BadRow;

/**
 * A bad row is its outcome from the moment it is found, one object to the end: a file of a
 * million bad rows makes no more garbage than it must (issue 16 item 6).
 */
type BadRow = ImportRowOutcome & { result: 'error'; reason: string };

function badRow(line: number, extension: string, reason: string): BadRow {
  return { line, extension, result: 'error', reason };
}

/**
 * Rows per transaction in a real run: each chunk commits on its own, so a long import neither holds
 * one transaction open for minutes nor starts again from the top after a failure. A chunk is
 * checked in memory and written set-wise (a few statements), so it can be large.
 */
const CHUNK_ROWS = 5000;
/** With --reset-pins each created row hashes a new PIN, row by row: smaller chunks keep each transaction short. */
const RESET_CHUNK_ROWS = 50;

const FIELDS: ReadonlySet<string> = new Set(USER_CSV_FIELDS);
const READ_ONLY: ReadonlySet<string> = new Set(USER_CSV_STATUS);

/**
 * An import file: its bytes (an upload), or a way to read it in pieces, as often as needed (a
 * file on disk, which is read twice: once to check it is UTF-8 throughout, then row by row).
 */
export type ImportSource = Uint8Array | (() => AsyncIterable<Uint8Array>);

const NOT_UTF8 = 'the file is not UTF-8 text (save it as "CSV UTF-8")';

/**
 * Whether the pieces are UTF-8 throughout, checked by Node's own validator (no text is made): a
 * sequence cut at a piece's end is carried over to the next piece.
 */
async function isUtf8Throughout(pieces: AsyncIterable<Uint8Array>): Promise<boolean> {
  let carried: Uint8Array = new Uint8Array(0);
  for await (const piece of pieces) {
    const bytes = carried.length > 0 ? Buffer.concat([carried, piece]) : piece;
    const whole = wholeSequencesLength(bytes);
    if (!isUtf8(bytes.subarray(0, whole))) return false;
    carried = bytes.slice(whole);
  }
  return carried.length === 0;
}

/** How many bytes end with a whole sequence: a lead byte among the last three whose sequence runs past the end is cut off. */
function wholeSequencesLength(bytes: Uint8Array): number {
  for (let i = bytes.length - 1; i >= Math.max(0, bytes.length - 3); i--) {
    const byte = bytes[i] as number;
    if (byte < 0x80) return bytes.length;
    if (byte >= 0xc0) return i + (byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2) > bytes.length ? i : bytes.length;
  }
  return bytes.length;
}

/**
 * Bytes decoded at a time: each piece of text stays a small string, which dies young, where a
 * string of a megabyte goes to V8's large-object space and stays there, garbage, until the next
 * full collection (issue 21: a million rows).
 */
const TEXT_PIECE_BYTES = 32 * 1024;

/** The bytes in pieces of at most TEXT_PIECE_BYTES. */
function* smallPieces(bytes: Uint8Array): Generator<Uint8Array> {
  for (let at = 0; at < bytes.length; at += TEXT_PIECE_BYTES) yield bytes.subarray(at, at + TEXT_PIECE_BYTES);
}

/** The file as text, in pieces; a file that is not UTF-8 throughout is refused before any row is read. */
async function textOf(source: ImportSource): Promise<AsyncIterable<string>> {
  // The decoder drops a byte-order mark, as Excel's "CSV UTF-8" writes one.
  const decoder = () => new TextDecoder('utf-8', { fatal: true });
  const pieces: () => AsyncIterable<Uint8Array> =
    source instanceof Uint8Array
      ? async function* () {
          yield source;
        }
      : source;
  try {
    if (source instanceof Uint8Array ? !isUtf8(source) : !(await isUtf8Throughout(source()))) throw new TypeError(NOT_UTF8);
  } catch (err) {
    if (err instanceof TypeError) throw new InputError('invalid_file', NOT_UTF8, 422);
    throw err;
  }
  return (async function* () {
    const decode = decoder();
    for await (const piece of pieces()) {
      for (const small of smallPieces(piece)) yield decode.decode(small, { stream: true });
    }
    yield decode.decode();
  })();
}

/**
 * Reads an import file's header, and returns a reader of its data rows. A problem with the file as
 * a whole is an InputError, thrown before any row is read.
 */
async function readImportFile(source: ImportSource): Promise<{ rows: ImportRowReader; ignoredColumns: string[] }> {
  const records = new CsvRecordReader((await textOf(source))[Symbol.asyncIterator]());
  const [header] = await records.read(1);
  if (!header) throw new InputError('invalid_file', 'the file is empty: its first line must be a header row with an extension column', 422);
  if ('error' in header) throw new InputError('invalid_file', `line ${header.line}: the header row cannot be read: ${header.error}`, 422);
  const columns = header.cells.map((name) => name.trim().toLowerCase());
  const unknown = columns.filter((name) => !FIELDS.has(name) && !READ_ONLY.has(name));
  if (unknown.length > 0) {
    throw new InputError(
      'invalid_file',
      `line ${header.line}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((name) => `"${name}"`).join(', ')} in the header; the columns are ${USER_CSV_FIELDS.join(', ')} (and the read-only ones of an export)`,
      422,
    );
  }
  const repeated = columns.find((name, i) => columns.indexOf(name) !== i);
  if (repeated !== undefined) throw new InputError('invalid_file', `line ${header.line}: the column "${repeated}" appears twice in the header`, 422);
  if (!columns.includes('extension')) throw new InputError('invalid_file', `line ${header.line}: the header has no extension column`, 422);
  return { rows: new ImportRowReader(records, columns), ignoredColumns: columns.filter((name) => READ_ONLY.has(name)) };
}

/** Rows read between two turns of the event loop: reading ahead fits into the waits for the database. */
const READ_SLICE_ROWS = 500;

/** The data rows of an import file, a chunk at a time, each checked for its shape and a repeated extension. */
class ImportRowReader {
  readonly columns: Columns;
  /** The cells that are fields, to undo spreadsheetSafe on. */
  private readonly fieldCells: readonly number[];
  private readonly firstLine = new FirstLines();

  constructor(
    private readonly records: CsvRecordReader,
    private readonly header: readonly string[],
  ) {
    this.columns = Object.fromEntries(USER_CSV_FIELDS.map((field) => [field, header.indexOf(field)])) as Record<Field, number>;
    this.fieldCells = Object.values(this.columns).filter((i) => i !== -1);
  }

  /** The next rows, at most `max`; none at the end of the file. */
  async read(max: number): Promise<ImportRow[]> {
    const rows: ImportRow[] = [];
    while (rows.length < max) {
      const records = await this.records.read(Math.min(READ_SLICE_ROWS, max - rows.length));
      if (records.length === 0) break;
      for (const record of records) rows.push(this.row(record));
      if (rows.length < max) await yieldToEventLoop();
    }
    return rows;
  }

  private row(record: CsvRecord): ImportRow {
    if ('error' in record) return badRow(record.line, '', record.error);
    const { line, cells } = record;
    for (const i of this.fieldCells) {
      const cell = cells[i];
      if (cell !== undefined && cell.startsWith("'")) cells[i] = fromSpreadsheetSafe(cell);
    }
    const extension = (cells[this.columns.extension] ?? '').trim();
    if (cells.length !== this.header.length) return badRow(line, extension, `the row has ${cells.length} cells, the header ${this.header.length}`);
    const earlier = this.firstLine.get(extension);
    if (earlier !== undefined) return badRow(line, extension, this.repeated(extension, earlier));
    if (extension !== '') this.firstLine.set(extension, line);
    return { line, extension, cells };
  }

  private lastRepeated = { extension: '', earlier: 0, reason: '' };

  /** Why a row whose extension is repeated is bad: the same text as the row before when it repeats the same one (a file of one-cell rows). */
  private repeated(extension: string, earlier: number): string {
    const last = this.lastRepeated;
    if (last.extension !== extension || last.earlier !== earlier) {
      this.lastRepeated = { extension, earlier, reason: `extension ${extension} is already on line ${earlier} of this file` };
    }
    return this.lastRepeated.reason;
  }
}

const DIGITS = /^[0-9]{1,15}$/;

/**
 * The first line of each extension of the file: a number per row, never the row. Digits are kept
 * as a number (kept apart from "012" by a leading 1: 16 digits at most, exact in a double) in an
 * open-addressing table of typed arrays, outside the JS heap: a million of them take 24 MB there,
 * where in a Map they took 28 MB of heap that V8 then let grow fourfold with garbage before it
 * collected (issue 21). Anything else, in a Map.
 */
class FirstLines {
  private keys = new Float64Array(4096);
  private lines = new Uint32Array(4096);
  private count = 0;
  private readonly others = new Map<string, number>();

  get(extension: string): number | undefined {
    if (!DIGITS.test(extension)) return this.others.get(extension);
    const key = Number(`1${extension}`);
    const slot = this.slotOf(key);
    return this.keys[slot] === key ? this.lines[slot] : undefined;
  }

  set(extension: string, line: number): void {
    if (!DIGITS.test(extension)) {
      this.others.set(extension, line);
      return;
    }
    const key = Number(`1${extension}`);
    if ((this.count + 1) * 2 > this.keys.length) this.grow();
    const slot = this.slotOf(key);
    if (this.keys[slot] !== key) this.count += 1;
    this.keys[slot] = key;
    this.lines[slot] = line;
  }

  /** The key's slot, or the empty one where it would go (no key is 0). */
  private slotOf(key: number): number {
    const mask = this.keys.length - 1;
    const mixed = Math.imul((key % 0x100000000) ^ Math.imul(Math.floor(key / 0x100000000), 0x85ebca6b), 0x9e3779b1);
    let slot = (mixed ^ (mixed >>> 15)) & mask;
    while (this.keys[slot] !== 0 && this.keys[slot] !== key) slot = (slot + 1) & mask;
    return slot;
  }

  private grow(): void {
    const { keys, lines } = this;
    this.keys = new Float64Array(keys.length * 2);
    this.lines = new Uint32Array(keys.length * 2);
    keys.forEach((key, i) => {
      if (key !== 0) {
        const slot = this.slotOf(key);
        this.keys[slot] = key;
        this.lines[slot] = lines[i] as number;
      }
    });
  }
}

interface RunContext {
  options: ImportOptions;
  columns: Columns;
  actor: Actor;
  findRule: RuleLookup;
  /** The rules rows have named so far, or why a name is unknown: looked up once a run, so that a row is checked without a wait. */
  rules: Map<string, AuthRule | InputError>;
  initialPin: () => Promise<InitialPin>;
}

export interface UserImportDeps {
  pool: Pool;
  accounts: AccountService;
  pins: PinService;
  notifier: Notifier;
}

/** A chunk of rows as read, with the users its good rows name, being read (none for --reset-pins, which reads them in its transaction). */
interface ReadChunk {
  rows: ImportRow[];
  existing: Promise<Map<string, User>> | null;
}

/** The extensions of the good rows. */
function extensionsOf(rows: readonly ImportRow[]): string[] {
  return rows.flatMap((row) => ('cells' in row ? [row.extension] : []));
}

/** What a row, checked in full, would do; its writes are made later, set-wise or row by row. */
type RowPlan =
  | { kind: 'unchanged' }
  | { kind: 'update'; user: User; changes: UserChanges; ruleName: string | undefined }
  | { kind: 'create'; checked: CheckedNewUser };

/** A row of a chunk with its plan, or why it is bad. */
type PlannedRow = { line: number; extension: string; plan: RowPlan } | BadRow;

/**
 * Creates and updates users from a CSV file, matched by extension, in file order. Each chunk of
 * rows is checked in memory (every field by the same checks as every channel), then its good rows
 * are written set-wise (DESIGN §9, issue 21): a bad row changes nothing and the others still apply.
 * Should the database refuse the set-wise write (another writer took an extension meanwhile), the
 * chunk is written again row by row, each in a savepoint, and the refused row alone is bad. A dry
 * run makes every write in one transaction and rolls it all back, so later rows see earlier rows'
 * effects (a phone number taken by an earlier row) exactly as in a real run.
 */
export class UserImport {
  constructor(private readonly deps: UserImportDeps) {}

  /** Imports the file; `onRow` hears of each row once its outcome holds (a real run's chunk has committed). */
  async run(source: ImportSource, options: ImportOptions, actor: Actor, onRow?: (row: ImportRowOutcome) => void): Promise<ImportReport> {
    const { rows, ignoredColumns } = await readImportFile(source);
    let initialPin: Promise<InitialPin> | null = null;
    const context: RunContext = {
      options,
      columns: rows.columns,
      actor,
      findRule: this.deps.accounts.cachedRuleLookup(),
      rules: new Map(),
      // One hash for the whole run, made only when a row creates a user.
      initialPin: () => (initialPin ??= this.deps.pins.untoldInitialPin()),
    };
    const report: ImportReport = { rows: [], total: 0, counts: { created: 0, updated: 0, unchanged: 0, error: 0 }, dryRun: options.dryRun, ignoredColumns };
    const keepRows = options.keepRows ?? Number.POSITIVE_INFINITY;
    const done = (chunk: ImportRowOutcome[]) => {
      for (const outcome of chunk) {
        report.total += 1;
        report.counts[outcome.result] += 1;
        if (report.rows.length < keepRows) report.rows.push(outcome);
        onRow?.(outcome);
      }
    };
    const rowByRow = options.resetPins && !options.dryRun;
    const size = rowByRow ? RESET_CHUNK_ROWS : CHUNK_ROWS;
    const apply = (client: PoolClient, chunk: ReadChunk) =>
      options.resetPins ? this.applyRowByRow(client, chunk.rows, context) : this.applySetWise(client, chunk, context);
    /**
     * The next chunk, and the users its rows name, read on another connection while the chunk
     * before is written: a chunk writes only users of its own extensions, which no later good row
     * repeats, so the read sees what it would see after that write (issue 21: a wait a chunk less).
     */
    const readChunk = async (): Promise<ReadChunk> => {
      const chunk = await rows.read(size);
      const existing = options.resetPins ? null : importTargets(this.deps.pool, extensionsOf(chunk));
      // Should the chunk before fail, this read's failure is its own business, not an unhandled rejection.
      existing?.catch(() => {});
      return { rows: chunk, existing };
    };
    /** Each chunk in turn, the next one read while this one is written, so that both cores work. */
    const eachChunk = async (work: (chunk: ReadChunk) => Promise<void>) => {
      let next = readChunk();
      for (let chunk = await next; chunk.rows.length > 0; chunk = await next) {
        next = readChunk();
        next.catch(() => {});
        await work(chunk);
        await yieldToEventLoop();
      }
    };
    if (options.dryRun) {
      await withRolledBackTransaction(this.deps.pool, (client) => eachChunk(async (chunk) => done(await apply(client, chunk))));
      return report;
    }
    await eachChunk(async (chunk) => done(await withTransaction(this.deps.pool, (client) => apply(client, chunk))));
    const { created, updated, unchanged, error } = report.counts;
    await recordAudit(this.deps.pool, {
      event: 'user.imported',
      actor,
      details: { created, updated, unchanged, errors: error, ...(options.file !== undefined ? { file: options.file } : {}) },
    });
    return report;
  }

  /** Checks every row of the chunk in memory, then writes the good ones with a few statements. */
  private async applySetWise(client: PoolClient, chunk: ReadChunk, context: RunContext): Promise<ImportRowOutcome[]> {
    const { rows } = chunk;
    const planned = await this.planChunk(client, chunk, context);
    await takePhonesInFileOrder(client, planned);
    const creates: StagedNewUser[] = [];
    const updates: StagedChange[] = [];
    const toldOfNewAddress: Array<{ user: User; previousAddress: string }> = [];
    for (const row of planned) {
      if (!('plan' in row)) continue;
      const { plan, line } = row;
      if (plan.kind === 'create') creates.push({ line, user: plan.checked.user, ruleName: plan.checked.rule.name });
      if (plan.kind === 'update') {
        const { user, changes, ruleName } = plan;
        updates.push({ line, userId: user.id, changes, details: userUpdatedDetails(changes, ruleName) });
        const previousAddress = user.email;
        if (changes.email !== undefined && previousAddress !== null && previousAddress !== changes.email) {
          toldOfNewAddress.push({ user: { ...user, ...changes }, previousAddress });
        }
      }
    }
    if (creates.length > 0 || updates.length > 0) {
      const writes: ImportWrites = context.options.dryRun ? 'users-only' : 'all';
      const initial = creates.length > 0 ? await context.initialPin() : null;
      try {
        await withSavepoint(client, async () => {
          // Updates first: a row may take a phone number that an earlier row's update gave up.
          if (updates.length > 0) await updateImportedUsers(client, updates, context.actor, writes);
          if (initial) await insertImportedUsers(client, creates, initial.pinHash, initialPinDetails(initial, IMPORTED_FLAGS), context.actor, writes);
          // The old address is told, as with any change of e-mail address (AccountService.updateUserIn).
          for (const { user, previousAddress } of writes === 'all' ? toldOfNewAddress : []) {
            await this.deps.notifier.queue(client, user, { kind: 'email_changed', previousAddress }, { channel: 'email', address: previousAddress });
          }
        });
      } catch (err) {
        if (!isConstraintViolation(err)) throw err;
        return this.applyRowByRow(client, rows, context);
      }
    }
    return planned.map((row) => ('plan' in row ? { line: row.line, extension: row.extension, result: RESULTS[row.plan.kind] } : row));
  }

  /** Each row checked, then written in a savepoint of its own: for --reset-pins, and for a chunk the database refused set-wise. */
  private async applyRowByRow(client: PoolClient, rows: readonly ImportRow[], context: RunContext): Promise<ImportRowOutcome[]> {
    await this.lookUpRules(rows, context);
    const existing = await importTargets(client, extensionsOf(rows));
    const outcomes: ImportRowOutcome[] = [];
    for (const row of rows) {
      const { line, extension } = row;
      if (!('cells' in row)) {
        outcomes.push(row);
        continue;
      }
      try {
        const plan = this.planRow(row.cells, existing.get(extension), context);
        outcomes.push({ line, extension, result: await this.writeRow(client, plan, context) });
      } catch (err) {
        const failure = constraintError(err);
        if (!(failure instanceof InputError)) throw failure;
        outcomes.push({ line, extension, result: 'error', reason: failure.message });
      }
    }
    return outcomes;
  }

  /** The rules the rows name, into the run's rules, each looked up once a run. */
  private async lookUpRules(rows: readonly ImportRow[], context: RunContext): Promise<void> {
    const { columns, rules, findRule } = context;
    for (const row of rows) {
      if (!('cells' in row)) continue;
      const name = given(row.cells[columns.rule])?.trim() ?? DEFAULT_RULE_NAME;
      if (rules.has(name) || !isRuleName(name)) continue;
      try {
        rules.set(name, await findRule(name));
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        rules.set(name, err);
      }
    }
  }

  private async planChunk(client: PoolClient, chunk: ReadChunk, context: RunContext): Promise<PlannedRow[]> {
    const { rows } = chunk;
    await this.lookUpRules(rows, context);
    const existing = await (chunk.existing ?? importTargets(client, extensionsOf(rows)));
    const planned: PlannedRow[] = [];
    for (const row of rows) {
      const { line, extension } = row;
      if (!('cells' in row)) {
        planned.push(row);
        continue;
      }
      try {
        planned.push({ line, extension, plan: this.planRow(row.cells, existing.get(extension), context) });
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        planned.push(badRow(line, extension, err.message));
      }
    }
    return planned;
  }

  /** One row, checked in full against the user it names (if any), without a wait (lookUp found its rule). Throws an InputError for a bad row. */
  private planRow(cells: readonly string[], user: User | undefined, context: RunContext): RowPlan {
    const { accounts, notifier } = this.deps;
    const { options, columns } = context;
    const extension = cells[columns.extension] ?? '';
    checkExtension(extension);
    const input = typedFields(cells, columns);
    if (user) {
      const { ruleName, ...fields } = accounts.checkUserFields(input);
      const changes = differences(user, fields, ruleName !== undefined ? ruleNamed(context, ruleName).id : undefined);
      if (changes === null) return UNCHANGED;
      return { kind: 'update', user, changes, ruleName: changes.ruleId !== undefined ? input.ruleName : undefined };
    }
    if (input.firstName === undefined || input.lastName === undefined) {
      throw new InputError('missing_name', 'a new user needs a first and a last name');
    }
    const { fields, ruleName } = accounts.checkNewUserFields({ ...input, extension, firstName: input.firstName, lastName: input.lastName });
    const checked = withRule(fields, ruleNamed(context, ruleName));
    if (options.resetPins && notifier.reachable(checked.user).length === 0) {
      throw new InputError('unreachable', 'no phone or e-mail that a configured channel reaches, so a reset PIN cannot be sent to this new user');
    }
    return { kind: 'create', checked };
  }

  /** A checked row's writes, inside a savepoint; a constraint the database enforces may still refuse it. */
  private async writeRow(client: PoolClient, plan: RowPlan, context: RunContext): Promise<Exclude<ImportResult, 'error'>> {
    const { accounts, pins } = this.deps;
    const { options, actor } = context;
    if (plan.kind === 'unchanged') return 'unchanged';
    if (plan.kind === 'update') {
      await withSavepoint(client, () => accounts.updateUserIn(client, plan.user.id, plan.changes, plan.ruleName, actor));
      return 'updated';
    }
    const initial = await context.initialPin();
    await withSavepoint(client, async () => {
      const user = await accounts.insertUserIn(client, plan.checked, initial, IMPORTED_FLAGS, actor);
      if (options.resetPins && !options.dryRun) await pins.resetPinIn(client, user.id, actor);
    });
    return 'created';
  }
}

/** A created user waits for an administrator's PIN and then enrolls. */
const IMPORTED_FLAGS = { enrollmentPending: true } as const;

const RESULTS: Readonly<Record<RowPlan['kind'], Exclude<ImportResult, 'error'>>> = { create: 'created', update: 'updated', unchanged: 'unchanged' };

/** Other requests get their turn between chunks (a preview runs inside the server), even when a chunk needed no database at all. */
function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * The phone numbers the chunk's good rows set, taken in file order as the row-by-row writes would
 * take them: a number held by another user (now, or by an earlier row of the file) makes the row
 * bad; a number an earlier row's update gave up is free. Marks such rows as errors in place.
 */
async function takePhonesInFileOrder(client: PoolClient, planned: PlannedRow[]): Promise<void> {
  const target = (plan: RowPlan): string | null =>
    plan.kind === 'create' ? plan.checked.user.phone : plan.kind === 'update' ? (plan.changes.phone ?? null) : null;
  const phones = planned.flatMap((row) => ('plan' in row && target(row.plan) !== null ? [target(row.plan) as string] : []));
  if (phones.length === 0) return;
  // Who holds each number: a user's id, or a line of this chunk for a user the chunk creates.
  const holders = new Map<string, string>([...(await phoneHolders(client, phones))].map(([phone, id]) => [phone, `user ${id}`]));
  planned.forEach((row, i) => {
    if (!('plan' in row)) return;
    const phone = target(row.plan);
    if (phone === null) return;
    const owner = row.plan.kind === 'update' ? `user ${row.plan.user.id}` : `line ${row.line}`;
    const holder = holders.get(phone);
    if (holder !== undefined && holder !== owner) {
      planned[i] = badRow(row.line, row.extension, phoneTakenError().message);
      return;
    }
    holders.set(phone, owner);
    const previous = row.plan.kind === 'update' ? row.plan.user.phone : null;
    if (previous !== null && holders.get(previous) === owner) holders.delete(previous);
  });
}
/** The cells that say something, as the services take them: an empty cell leaves a field as it is. */
function typedFields(cells: readonly string[], columns: Columns): UserUpdateInput {
  const input: UserUpdateInput = {};
  const firstName = given(cells[columns.first]);
  if (firstName !== undefined) input.firstName = firstName;
  const lastName = given(cells[columns.last]);
  if (lastName !== undefined) input.lastName = lastName;
  const phone = given(cells[columns.phone]);
  if (phone !== undefined) input.phone = phone;
  const email = given(cells[columns.email]);
  if (email !== undefined) input.email = email;
  const locale = given(cells[columns.locale]);
  if (locale !== undefined) input.locale = locale.trim();
  const ruleName = given(cells[columns.rule]);
  if (ruleName !== undefined) input.ruleName = ruleName.trim();
  const responseWait = given(cells[columns.response_wait]);
  if (responseWait !== undefined) input.responseWait = responseWait;
  return input;
}

/** A cell that says something; an empty one (or none) is undefined. */
function given(cell: string | undefined): string | undefined {
  return cell !== undefined && cell.trim() !== '' ? cell : undefined;
}

/** The rule lookUp found by this name; an unknown name is the row's InputError. */
function ruleNamed(context: RunContext, name: string): AuthRule {
  const rule = context.rules.get(name);
  if (rule instanceof InputError) throw rule;
  if (rule === undefined) throw new Error(`the rule "${name}" was not looked up`);
  return rule;
}

/** Whether a rule's name is worth a look-up: one that checkRuleName refuses never reaches the database. */
function isRuleName(name: string): boolean {
  try {
    checkRuleName(name);
    return true;
  } catch {
    return false;
  }
}

const UNCHANGED: RowPlan = { kind: 'unchanged' };

/** Only the checked values that differ from what the user has now; null when none does. */
function differences(current: User, checked: Omit<CheckedUserFields, 'ruleName'>, ruleId: number | undefined): UserChanges | null {
  let changes: UserChanges | null = null;
  for (const key of Object.keys(checked) as Array<keyof typeof checked>) {
    if (checked[key] !== current[key]) changes = Object.assign(changes ?? {}, { [key]: checked[key] });
  }
  if (ruleId !== undefined && ruleId !== current.ruleId) changes = Object.assign(changes ?? {}, { ruleId });
  return changes;
}
