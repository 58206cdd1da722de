import type { Actor } from '../audit/actor.js';
import { fromSpreadsheetSafe, readCsvRecords } from '../csv.js';
import { constraintError } from '../db/constraints.js';
import { withRolledBackTransaction, withSavepoint, withTransaction, type Pool, type PoolClient } from '../db/pool.js';
import { findAccountsByExtension } from '../db/users.js';
import { InputError } from '../errors.js';
import type { Notifier } from '../notify/notices.js';
import type { InitialPin, PinService } from '../pin/service.js';
import type { Account, UserChanges } from './model.js';
import { USER_CSV_FIELDS, USER_CSV_STATUS } from './present.js';
import type { AccountService, RuleLookup, UserUpdateInput } from './service.js';
import { checkExtension } from './user-fields.js';

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
  rows: ImportRowOutcome[];
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
}

/** A data row as read: its cells by column, or why it cannot be read. */
type ImportRow = { line: number; extension: string } & ({ cells: Partial<Record<Field, string>> } | { error: string });

/**
 * Rows per transaction in a real run: each chunk commits on its own, so a long import neither holds
 * one transaction open for minutes nor starts again from the top after a failure.
 */
const CHUNK_ROWS = 500;
/** With --reset-pins each created row hashes a new PIN: smaller chunks keep each transaction short. */
const RESET_CHUNK_ROWS = 50;

const FIELDS: ReadonlySet<string> = new Set(USER_CSV_FIELDS);
const READ_ONLY: ReadonlySet<string> = new Set(USER_CSV_STATUS);

/** Reads an import file: a header row, then data rows. A problem with the file as a whole is an InputError. */
function readImportFile(data: Uint8Array): { rows: ImportRow[]; ignoredColumns: string[] } {
  let text: string;
  try {
    // The decoder drops a byte-order mark, as Excel's "CSV UTF-8" writes one.
    text = new TextDecoder('utf-8', { fatal: true }).decode(data);
  } catch {
    throw new InputError('invalid_file', 'the file is not UTF-8 text (save it as "CSV UTF-8")', 422);
  }
  const [header, ...records] = readCsvRecords(text);
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

  const firstLine = new Map<string, number>();
  const rows = records.map((record): ImportRow => {
    if ('error' in record) return { line: record.line, extension: '', error: record.error };
    const cells: Partial<Record<Field, string>> = {};
    columns.forEach((name, i) => {
      if (FIELDS.has(name)) cells[name as Field] = fromSpreadsheetSafe(record.cells[i] ?? '');
    });
    const extension = (cells.extension ?? '').trim();
    if (record.cells.length !== columns.length) {
      return { line: record.line, extension, error: `the row has ${record.cells.length} cells, the header ${columns.length}` };
    }
    const earlier = firstLine.get(extension);
    if (earlier !== undefined) return { line: record.line, extension, error: `extension ${extension} is already on line ${earlier} of this file` };
    if (extension !== '') firstLine.set(extension, record.line);
    return { line: record.line, extension, cells };
  });
  return { rows, ignoredColumns: columns.filter((name) => READ_ONLY.has(name)) };
}

interface RunContext {
  options: ImportOptions;
  actor: Actor;
  findRule: RuleLookup;
  initialPin: () => Promise<InitialPin>;
}

export interface UserImportDeps {
  pool: Pool;
  accounts: AccountService;
  pins: PinService;
  notifier: Notifier;
}

/**
 * Creates and updates users from a CSV file, matched by extension, in file order. A bad row changes
 * nothing for itself (a savepoint undoes its writes) and the others still apply. A dry run makes
 * every write in one transaction and rolls it all back, so later rows see earlier rows' effects
 * (a phone number taken by an earlier row) exactly as in a real run.
 */
export class UserImport {
  constructor(private readonly deps: UserImportDeps) {}

  /** Imports the file; `onRow` hears of each row once its outcome holds (a real run's chunk has committed). */
  async run(data: Uint8Array, options: ImportOptions, actor: Actor, onRow?: (row: ImportRowOutcome) => void): Promise<ImportReport> {
    const { rows, ignoredColumns } = readImportFile(data);
    let initialPin: Promise<InitialPin> | null = null;
    const context: RunContext = {
      options,
      actor,
      findRule: this.deps.accounts.cachedRuleLookup(),
      // One hash for the whole run, made only when a row creates a user.
      initialPin: () => (initialPin ??= this.deps.pins.untoldInitialPin()),
    };
    const outcomes: ImportRowOutcome[] = [];
    const done = (chunk: ImportRowOutcome[]) => {
      for (const outcome of chunk) {
        outcomes.push(outcome);
        onRow?.(outcome);
      }
    };
    const size = options.resetPins && !options.dryRun ? RESET_CHUNK_ROWS : CHUNK_ROWS;
    if (options.dryRun) {
      await withRolledBackTransaction(this.deps.pool, async (client) => {
        for (let i = 0; i < rows.length; i += size) done(await this.applyChunk(client, rows.slice(i, i + size), context));
      });
    } else {
      for (let i = 0; i < rows.length; i += size) {
        done(await withTransaction(this.deps.pool, (client) => this.applyChunk(client, rows.slice(i, i + size), context)));
      }
    }
    const counts: Record<ImportResult, number> = { created: 0, updated: 0, unchanged: 0, error: 0 };
    for (const outcome of outcomes) counts[outcome.result] += 1;
    return { rows: outcomes, counts, dryRun: options.dryRun, ignoredColumns };
  }

  private async applyChunk(client: PoolClient, rows: readonly ImportRow[], context: RunContext): Promise<ImportRowOutcome[]> {
    const existing = await findAccountsByExtension(
      client,
      rows.filter((row) => 'cells' in row).map((row) => row.extension),
    );
    const outcomes: ImportRowOutcome[] = [];
    for (const row of rows) {
      const { line, extension } = row;
      if ('error' in row) {
        outcomes.push({ line, extension, result: 'error', reason: row.error });
        continue;
      }
      try {
        const result = await this.applyRow(client, row.cells, existing.get(extension), context);
        outcomes.push({ line, extension, result });
      } catch (err) {
        const failure = constraintError(err);
        if (!(failure instanceof InputError)) throw failure;
        outcomes.push({ line, extension, result: 'error', reason: failure.message });
      }
    }
    return outcomes;
  }

  /** One row: checked in full first, then written inside a savepoint. Throws an InputError for a bad row. */
  private async applyRow(
    client: PoolClient,
    cells: Partial<Record<Field, string>>,
    account: Account | undefined,
    context: RunContext,
  ): Promise<Exclude<ImportResult, 'error'>> {
    const { accounts, pins, notifier } = this.deps;
    const { options, actor, findRule } = context;
    checkExtension(cells.extension ?? '');
    const input = typedFields(cells);
    if (account) {
      const changes = differences(account, await accounts.checkUserChanges(input, findRule));
      if (Object.keys(changes).length === 0) return 'unchanged';
      const ruleName = changes.ruleId !== undefined ? input.ruleName : undefined;
      await withSavepoint(client, () => accounts.updateUserIn(client, account.user.id, changes, ruleName, actor));
      return 'updated';
    }
    if (input.firstName === undefined || input.lastName === undefined) {
      throw new InputError('missing_name', 'a new user needs a first and a last name');
    }
    const checked = await accounts.checkNewUser({ ...input, extension: cells.extension ?? '', firstName: input.firstName, lastName: input.lastName }, findRule);
    if (options.resetPins && notifier.reachable(checked.user).length === 0) {
      throw new InputError('unreachable', 'no phone or e-mail that a configured channel reaches, so a reset PIN cannot be sent to this new user');
    }
    const initial = await context.initialPin();
    await withSavepoint(client, async () => {
      const user = await accounts.insertUserIn(client, checked, initial, { enrollmentPending: true }, actor);
      if (options.resetPins && !options.dryRun) await pins.resetPinIn(client, user.id, actor);
    });
    return 'created';
  }
}

/** The cells that say something, as the services take them: an empty cell leaves a field as it is. */
function typedFields(cells: Partial<Record<Field, string>>): UserUpdateInput {
  const given = (column: Field) => {
    const value = cells[column];
    return value !== undefined && value.trim() !== '' ? value : undefined;
  };
  const input: UserUpdateInput = {};
  const set = <K extends keyof UserUpdateInput>(key: K, value: UserUpdateInput[K] | undefined) => {
    if (value !== undefined) input[key] = value;
  };
  set('firstName', given('first'));
  set('lastName', given('last'));
  set('phone', given('phone'));
  set('email', given('email'));
  set('locale', given('locale')?.trim());
  set('ruleName', given('rule')?.trim());
  set('responseWait', given('response_wait'));
  return input;
}

/** Only the checked values that differ from what the user has now. */
function differences(account: Account, changes: UserChanges): UserChanges {
  const current = account.user;
  return Object.fromEntries(
    (Object.keys(changes) as Array<keyof UserChanges>).filter((key) => changes[key] !== current[key]).map((key) => [key, changes[key]]),
  ) as UserChanges;
}
