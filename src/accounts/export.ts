import { csvField, csvText } from '../csv.js';
import { pinStatus } from '../pin/status.js';
import type { ExportPage } from '../db/user-export.js';
import type { Account } from './model.js';
import { isoTime, pinSummary, USER_CSV_FIELDS, USER_CSV_STATUS } from './present.js';
import type { AccountService } from './service.js';

// `pinline user export` and the admin web's Export Users (DESIGN §9): a million users each time
// (issue 21). A row is written straight from the account and its pinStatus, the same cells as
// userCsvRow and the same JSON as userJson give (test/accounts/reports.test.ts compares them for
// users at every boundary), without the objects those build for each user on the way.

const EXPORT_COLUMNS = [...USER_CSV_FIELDS, ...USER_CSV_STATUS];

/**
 * The columns whose cells csvText would ever change: every one but the flags (yes, no), the numbers
 * and the lockout (a word), which cannot start a formula or need quotes.
 */
const PLAIN: ReadonlySet<string> = new Set(['response_wait', 'must_change', 'enrollment_pending', 'does_not_expire', 'locked_by_admin', 'cannot_change', 'lockout', 'failed_signins']);
const ESCAPED = EXPORT_COLUMNS.map((column) => !PLAIN.has(column));

const time = (at: Date | null) => (at ? isoTime(at) : '');
const flag = (value: boolean) => (value ? 'yes' : 'no');

/** One user as a CSV row of the export, without its line break: userCsvRow's cells, through csvText's escaping. */
export function csvLine(account: Account, now: Date): string {
  const { user, pin, rule } = account;
  const status = pinStatus(pin, rule, now);
  const cells = [
    user.extension,
    user.firstName,
    user.lastName,
    user.phone ?? '',
    user.email ?? '',
    user.locale,
    rule.name,
    String(user.responseWait),
    pinSummary(pin, status),
    flag(pin.mustChange),
    flag(pin.enrollmentPending),
    flag(pin.doesNotExpire),
    flag(pin.lockedByAdmin),
    flag(pin.cannotChange),
    time(pin.changedAt),
    time(status.expiresAt),
    status.lockout ?? '',
    time(status.lockedUntil),
    String(pin.failedCount),
    time(pin.lastSigninAt),
    time(user.createdAt),
  ];
  for (let i = 0; i < cells.length; i++) if (ESCAPED[i]) cells[i] = csvField(cells[i] as string, EXPORT_COLUMNS[i] as string);
  return cells.join(',');
}

/**
 * Every user as CSV that imports again (DESIGN §9), written page by page: for `pinline user export`
 * and the admin web's Export Users. With no user at all, the header row alone.
 */
export async function exportUsersCsv(accounts: AccountService, write: (text: string) => Promise<void>): Promise<void> {
  await write(csvText(EXPORT_COLUMNS, []));
  await accounts.exportPages((page) => eachPiece(page, csvLine, '\r\n', (text) => write(`${text}\r\n`)));
}

/**
 * The text written at a time: under glibc's 128 KiB, above which each piece's buffer is fresh memory
 * from the system, whose page faults cost more than making the text (at a million lines, seconds).
 */
const PIECE_CHARS = 64 * 1024;

/**
 * A page's lines, made one account at a time, to `write` a piece at a time with `separator` between
 * them, all at one now. Added up rather than joined: Array.join is several times slower on these.
 */
async function eachPiece(page: ExportPage, line: (account: Account, now: Date) => string, separator: string, write: (text: string) => Promise<void>): Promise<void> {
  const now = new Date();
  let text = '';
  for (let i = 0; i < page.length; i++) {
    text = text === '' ? line(page.account(i), now) : text + separator + line(page.account(i), now);
    if (text.length >= PIECE_CHARS) {
      await write(text);
      text = '';
    }
  }
  if (text !== '') await write(text);
}

const json = (value: string | null) => (value === null ? 'null' : JSON.stringify(value));
// ISO 8601 text has nothing JSON escapes.
const jsonTime = (at: Date | null) => (at === null ? 'null' : `"${isoTime(at)}"`);

/** One user as userJson gives it, as JSON.stringify writes it. */
export function jsonText(account: Account, now: Date): string {
  const { user, pin, rule } = account;
  const status = pinStatus(pin, rule, now);
  // Joined rather than added up, so that the line is one flat string at once: a page of lines
  // each held as dozens of pieces until written costs the collector more than the rest.
  return [
    `{"id":${user.id},"extension":${json(user.extension)},"firstName":${json(user.firstName)},"lastName":${json(user.lastName)},`,
    `"phone":${json(user.phone)},"email":${json(user.email)},"locale":${json(user.locale)},"rule":${json(rule.name)},`,
    `"responseWait":${user.responseWait},"createdAt":${jsonTime(user.createdAt)},"pin":{"flags":{"mustChange":${pin.mustChange},`,
    `"enrollmentPending":${pin.enrollmentPending},"doesNotExpire":${pin.doesNotExpire},"lockedByAdmin":${pin.lockedByAdmin},`,
    `"cannotChange":${pin.cannotChange}},"status":{"changedAt":${jsonTime(pin.changedAt)},"expiresAt":${jsonTime(status.expiresAt)},`,
    `"expired":${status.expired},"daysUntilExpiry":${status.daysUntilExpiry ?? 'null'},"failedCount":${pin.failedCount},`,
    `"lastFailedAt":${jsonTime(pin.lastFailedAt)},"lockedAt":${jsonTime(pin.lockedAt)},"lockout":${json(status.lockout)},`,
    `"lockedUntil":${jsonTime(status.lockedUntil)},"lastSigninAt":${jsonTime(pin.lastSigninAt)},"lastActivityAt":${jsonTime(status.lastActivityAt)}}}}`,
  ].join('');
}

/** Every user as a JSON array of the API's user resource (userJson), one per line, written page by page. */
export async function exportUsersJson(accounts: AccountService, write: (text: string) => Promise<void>): Promise<void> {
  let first = true;
  await write('[');
  await accounts.exportPages((page) =>
    eachPiece(page, jsonText, ',\n', async (text) => {
      await write(`${first ? '\n' : ',\n'}${text}`);
      first = false;
    }),
  );
  await write(first ? ']\n' : '\n]\n');
}
