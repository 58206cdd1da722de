import type { Account } from '../accounts/model.js';
import type { AuthRule } from '../pin/rules.js';
import type { Queryable } from './pool.js';
import { CANDIDATE_COLUMNS, candidateFromRow } from './reports.js';

// Every account for `user export` (DESIGN §9, issue 21), read lean: a million rows go through here.
// A user is read as a report reads its candidates (src/db/reports.ts): the names, and every number
// in one text column, which costs far less to send and read than a column each. The rest of the
// user travels packed too: the check constraints keep a comma out of each (a response wait is
// digits, a locale ll-CC, a phone E.164, and an e-mail has none), and neither a phone nor an
// e-mail can be empty, so '' is NULL. The rules are read once and shared rather than joined.
const EXPORT_SELECT = `SELECT ${CANDIDATE_COLUMNS}, concat_ws(',', u.response_wait, u.locale, coalesce(u.phone, ''), coalesce(u.email, ''))
  FROM users u JOIN pin_credentials c ON c.user_id = u.id`;

/**
 * Opens the cursor of every account in extension order, for fetchExportPage, in the caller's
 * transaction (it closes with it): one plan for the whole export, rather than a query planned
 * (and, on a big table, started with parallel workers) for every page.
 */
export async function declareExportCursor(db: Queryable): Promise<void> {
  // JIT compiling a plain scan costs more than it saves.
  await db.query(`SET LOCAL jit = off; DECLARE user_export NO SCROLL CURSOR FOR ${EXPORT_SELECT} ORDER BY u.extension`);
}

/**
 * A page of the export as read: each row becomes an Account only when asked for, and is written out
 * before the next is made, so that a million of them die young instead of a page at a time.
 */
export interface ExportPage {
  readonly length: number;
  account(index: number): Account;
}

/** The next `limit` accounts of the cursor; fewer at the end. */
export async function fetchExportPage(db: Queryable, rules: ReadonlyMap<number, AuthRule>, limit: number): Promise<ExportPage> {
  const { rows } = await db.query<unknown[]>({ text: `FETCH ${Math.trunc(limit)} FROM user_export`, rowMode: 'array' });
  return { length: rows.length, account: (index) => accountFromRow(rows[index] as unknown[], rules) };
}

function accountFromRow(row: unknown[], rules: ReadonlyMap<number, AuthRule>): Account {
  const { user, pin, rule } = candidateFromRow(row, rules);
  const [responseWait, locale, phone, email] = (row[4] as string).split(',') as [string, string, string, string];
  return {
    user: {
      id: user.id,
      extension: user.extension,
      firstName: user.firstName,
      lastName: user.lastName,
      phone: phone || null,
      email: email || null,
      locale,
      ruleId: rule.id,
      responseWait: Number(responseWait),
      createdAt: user.createdAt,
    },
    pin,
    rule,
  };
}
