import { csvText } from '../csv.js';
import { ruleSettingsOf, type AuthRule } from '../pin/rules.js';
import { pinStatus, type PinStatus } from '../pin/status.js';
import type { ImportReport } from './import.js';
import type { Account, PinCredentialStatus } from './model.js';
import type { Report, ReportRow } from './reports.js';
import type { ScimAccount } from './scim.js';

// The one presenter of a user and of their PIN status, for every channel: JSON for the API and
// `--json`, and phrases for the admin pages, the self-service page and the CLI. Each is built
// field by field from an Account, which never carries the hash, so nothing else can leak out.

const iso = (at: Date | null) => (at ? at.toISOString() : null);

/** The PIN's flags and status as JSON: the same under the API's user and credential, and `user show --json`. */
function pinJson(account: Account, now: Date) {
  const { pin, rule } = account;
  const status = pinStatus(pin, rule, now);
  return {
    flags: {
      mustChange: pin.mustChange,
      enrollmentPending: pin.enrollmentPending,
      doesNotExpire: pin.doesNotExpire,
      lockedByAdmin: pin.lockedByAdmin,
      cannotChange: pin.cannotChange,
    },
    status: {
      changedAt: pin.changedAt.toISOString(),
      expiresAt: iso(status.expiresAt),
      expired: status.expired,
      daysUntilExpiry: status.daysUntilExpiry,
      failedCount: pin.failedCount,
      lastFailedAt: iso(pin.lastFailedAt),
      lockedAt: iso(pin.lockedAt),
      lockout: status.lockout,
      lockedUntil: iso(status.lockedUntil),
      lastSigninAt: iso(pin.lastSigninAt),
      lastActivityAt: status.lastActivityAt.toISOString(),
    },
  };
}

/** A user as JSON, with their PIN's flags and status. */
export function userJson(account: Account, now: Date) {
  const { user, rule } = account;
  return {
    id: user.id,
    extension: user.extension,
    firstName: user.firstName,
    lastName: user.lastName,
    phone: user.phone,
    email: user.email,
    locale: user.locale,
    rule: rule.name,
    responseWait: user.responseWait,
    createdAt: user.createdAt.toISOString(),
    pin: pinJson(account, now),
  };
}

/** The PIN credential resource of the API: whose it is, and its flags and status. */
export function credentialJson(account: Account, now: Date) {
  return { userId: account.user.id, extension: account.user.extension, rule: account.rule.name, ...pinJson(account, now) };
}

/** A rule as JSON: its name and every field, and how many users follow it when that is known. */
export function ruleJson(rule: AuthRule, userCount?: number) {
  return { name: rule.name, ...ruleSettingsOf(rule), ...(userCount !== undefined ? { userCount } : {}) };
}

/**
 * The fields that tell rules apart at a glance, for the lists of rules (`pinline rule list`, the
 * Authentication Rules page); each rule's own page shows every field.
 */
export const RULE_SUMMARY: ReadonlyArray<{ readonly heading: string; value(rule: AuthRule): string }> = [
  { heading: 'Lock After', value: (r) => (r.maxFailedSignins === 0 ? 'never' : `${r.maxFailedSignins} failed`) },
  { heading: 'Lockout', value: (r) => (r.lockoutMinutes === null ? 'admin unlock' : `${r.lockoutMinutes} min`) },
  { heading: 'Length', value: (r) => `${r.minLength}-${r.maxLength}` },
  { heading: 'Expires', value: (r) => (r.maxDays === 0 ? 'never' : `${r.maxDays} days`) },
  { heading: 'History', value: (r) => String(r.historyCount) },
  { heading: 'Trivial Check', value: (r) => (r.trivialCheck ? 'on' : 'off') },
];

/** Words and times, in order: each view writes the times its own way (a <time> element, ISO text). */
export type Phrase = ReadonlyArray<string | Date>;

const DAY_MS = 86_400_000;
/** The date part of toISOString ("2027-03-15T") by day since the epoch: few days recur in an export. */
const isoDays = new Map<number, string>();
const pad = (n: number, width: number) => String(n).padStart(width, '0');

/**
 * What at.toISOString() gives, several times faster: an export writes millions of times. The date
 * comes from toISOString itself, once a day; the time of day is arithmetic on whole milliseconds.
 */
export function isoTime(at: Date): string {
  const ms = at.getTime();
  const day = Math.floor(ms / DAY_MS);
  let date = isoDays.get(day);
  if (date === undefined) {
    const text = new Date(day * DAY_MS).toISOString();
    date = text.slice(0, text.indexOf('T') + 1);
    // Bounded: an export of users created over 270 years still fits.
    if (isoDays.size < 100_000) isoDays.set(day, date);
  }
  const time = ms - day * DAY_MS;
  return `${date}${pad(Math.floor(time / 3_600_000), 2)}:${pad(Math.floor(time / 60_000) % 60, 2)}:${pad(Math.floor(time / 1000) % 60, 2)}.${pad(time % 1000, 3)}Z`;
}

/** A phrase as plain text, its times in ISO 8601 (UTC): for the CLI and CSV. */
export function phraseText(phrase: Phrase): string {
  return phrase.map((part) => (part instanceof Date ? isoTime(part) : part)).join('');
}

/** A PIN's status in words, the same on the admin pages, the self-service page and the CLI. */
export interface PinStatusView {
  /** "OK", or what needs attention: "Locked (administrator), Enrollment pending". */
  summary: string;
  expiry: Phrase;
  lockout: Phrase;
  status: PinStatus;
}

function dayCount(days: number): string {
  return days === 1 ? '1 day' : `${days} days`;
}

/** Needs only the PIN and the rule, so the reports can present their lean candidates too. */
export function presentPinStatus(account: Pick<Account, 'pin' | 'rule'>, now: Date): PinStatusView {
  const status = pinStatus(account.pin, account.rule, now);
  const expiry: Phrase =
    status.expiresAt === null
      ? ['never']
      : status.expired
        ? [status.expiresAt, ' (expired)']
        : [status.expiresAt, ` (in ${dayCount(status.daysUntilExpiry ?? 0)})`];
  const lockout: Phrase =
    status.lockout === 'directory'
      ? ['deactivated by the directory (SCIM), until the directory or a system administrator reactivates', account.pin.lockedByAdmin ? '; also locked by an administrator' : '']
      : status.lockout === 'admin'
      ? ['locked by an administrator']
      : status.lockout === 'intruder'
        ? status.lockedUntil
          ? ['locked by intruder detection, until ', status.lockedUntil]
          : ['locked by intruder detection, until an administrator unlocks']
        : status.lockout === 'inactive'
          ? [`locked for inactivity (no sign-in for more than ${dayCount(account.rule.inactiveDays)} since `, status.lastActivityAt, '), until an administrator unlocks']
          : ['not locked'];
  return { summary: pinSummary(account.pin, status), expiry, lockout, status };
}

/** PinStatusView's summary: "OK", or what needs attention. */
export function pinSummary(pin: PinCredentialStatus, status: PinStatus): string {
  const attention = [
    pin.deactivatedAt !== null ? 'Deactivated (directory)' : null,
    pin.lockedByAdmin ? 'Locked (administrator)' : null,
    status.lockout === 'intruder' ? 'Locked (intruder detection)' : null,
    status.lockout === 'inactive' ? 'Locked (inactivity)' : null,
    pin.enrollmentPending ? 'Enrollment pending' : null,
    status.expired ? 'PIN expired' : pin.mustChange ? 'Must change PIN' : null,
  ].filter((part): part is string => part !== null);
  return attention.length > 0 ? attention.join(', ') : 'OK';
}

/** The columns of a user in CSV that an import sets: `user export` writes them first, and `user import` reads them. */
export const USER_CSV_FIELDS = ['extension', 'first', 'last', 'phone', 'email', 'locale', 'rule', 'response_wait'] as const;

/** The read-only columns `user export` adds after those: the PIN's status and flags. An import accepts and ignores them. */
export const USER_CSV_STATUS = [
  'pin_status',
  'must_change',
  'enrollment_pending',
  'does_not_expire',
  'locked_by_admin',
  'cannot_change',
  'pin_changed_at',
  'pin_expires_at',
  'lockout',
  'locked_until',
  'failed_signins',
  'last_signin_at',
  'created_at',
] as const;

export type UserCsvColumn = (typeof USER_CSV_FIELDS)[number] | (typeof USER_CSV_STATUS)[number];

/** A user as one CSV row of `user export` (the cells as text, before csvText makes them spreadsheet-safe). */
export function userCsvRow(account: Account, now: Date): Record<UserCsvColumn, string> {
  const { user, pin, rule } = account;
  const view = presentPinStatus(account, now);
  const time = (at: Date | null) => (at ? at.toISOString() : '');
  const flag = (value: boolean) => (value ? 'yes' : 'no');
  return {
    extension: user.extension,
    first: user.firstName,
    last: user.lastName,
    phone: user.phone ?? '',
    email: user.email ?? '',
    locale: user.locale,
    rule: rule.name,
    response_wait: String(user.responseWait),
    pin_status: view.summary,
    must_change: flag(pin.mustChange),
    enrollment_pending: flag(pin.enrollmentPending),
    does_not_expire: flag(pin.doesNotExpire),
    locked_by_admin: flag(pin.lockedByAdmin),
    cannot_change: flag(pin.cannotChange),
    pin_changed_at: time(pin.changedAt),
    pin_expires_at: time(view.status.expiresAt),
    lockout: view.status.lockout ?? '',
    locked_until: time(view.status.lockedUntil),
    failed_signins: String(pin.failedCount),
    last_signin_at: time(pin.lastSigninAt),
    created_at: time(user.createdAt),
  };
}

/** An import's counts in one line: the last line of `user import`, and the summary of the admin page's preview and results. */
export function importSummary(report: ImportReport): string {
  const { created, updated, unchanged, error } = report.counts;
  const ignored = report.ignoredColumns.length > 0 ? `; read-only columns ignored: ${report.ignoredColumns.join(', ')}` : '';
  return (
    `${report.total} ${report.total === 1 ? 'row' : 'rows'}: ${created} created, ${updated} updated, ${unchanged} unchanged, ` +
    `${error} ${error === 1 ? 'error' : 'errors'}${report.dryRun ? ' (dry run: nothing was changed)' : ''}${ignored}`
  );
}

/** A report's columns (DESIGN §9): extension, first, last, then its fact. */
export function reportColumns(report: Report): string[] {
  return ['extension', 'first', 'last', report.factColumn];
}

/** Report rows as the records of the CLI's table and the CSV, under reportColumns. */
export function reportRecords(report: Report, rows: readonly ReportRow[]): Array<Record<string, string>> {
  return rows.map((row) => ({ extension: row.extension, first: row.firstName, last: row.lastName, [report.factColumn]: phraseText(row.fact) }));
}

/** RFC 7643's core User schema: every SCIM User resource names it. */
export const SCIM_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';

/**
 * A user as a SCIM User resource (RFC 7643 §4.1, DESIGN §11): userName is the extension, id is
 * pinline's user id, and active says only whether the directory has deactivated them.
 */
export function scimUserJson({ account, externalId, lastModified }: ScimAccount, baseUrl: string) {
  const { user, pin } = account;
  const id = String(user.id);
  return {
    schemas: [SCIM_USER_SCHEMA],
    id,
    ...(externalId !== null ? { externalId } : {}),
    userName: user.extension,
    name: { givenName: user.firstName, familyName: user.lastName, formatted: `${user.firstName} ${user.lastName}` },
    displayName: `${user.firstName} ${user.lastName}`,
    ...(user.email !== null ? { emails: [{ value: user.email, type: 'work', primary: true }] } : {}),
    ...(user.phone !== null ? { phoneNumbers: [{ value: user.phone, type: 'work', primary: true }] } : {}),
    preferredLanguage: user.locale,
    active: pin.deactivatedAt === null,
    meta: {
      resourceType: 'User',
      created: user.createdAt.toISOString(),
      lastModified: lastModified.toISOString(),
      location: `${baseUrl}/scim/v2/Users/${id}`,
    },
  };
}

export type ScimUserJson = ReturnType<typeof scimUserJson>;
