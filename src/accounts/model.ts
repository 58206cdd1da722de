import { InputError } from '../errors.js';
import type { AuthRule } from '../pin/rules.js';

/** U+0000–U+001F and U+007F, refused in every field on every channel (DESIGN §4). */
const CONTROL_RANGE = '\\x00-\\x1F\\x7F';
const CONTROL_CHARACTER = new RegExp(`[${CONTROL_RANGE}]`);
/** Any text without a control character: the shape of every free-text field. */
export const PLAIN_TEXT = new RegExp(`^[^${CONTROL_RANGE}]*$`);
/**
 * A name: plain text with something besides white space (which is trimmed off). The leading
 * class and the next one are disjoint, so matching stays linear however long the input.
 */
export const NAME_PATTERN = new RegExp(`^[^\\S${CONTROL_RANGE}]*[^\\s${CONTROL_RANGE}][^${CONTROL_RANGE}]*$`);
/** Characters, as Postgres and JSON Schema count them (code points, not UTF-16 units). */
export const NAME_MAX_LENGTH = 100;

/** The same shapes as the users table's CHECK constraints (which cannot see control characters). */
export const EXTENSION_PATTERN = /^[0-9]{2,15}$/;
export const E164_PATTERN = /^\+[1-9][0-9]{1,14}$/;
/** Loose on purpose: the mail server has the last word on an address. */
export const EMAIL_ADDRESS = new RegExp(`^[^\\s@<>()",;:${CONTROL_RANGE}]+@[^\\s@<>()",;:${CONTROL_RANGE}]+\\.[^\\s@<>()",;:${CONTROL_RANGE}]+$`);
export const EMAIL_MAX_LENGTH = 254;
/** Seconds the phone waits for a user's keys once their PIN is verified (the column's CHECK and default). */
export const RESPONSE_WAIT = { min: 3, max: 30, default: 5 } as const;

/** "contains a control character (U+0009); remove it" when the value has one, or null: the value itself is never echoed. */
export function controlCharacterProblem(value: string): string | null {
  const found = CONTROL_CHARACTER.exec(value);
  if (!found) return null;
  return `contains a control character (U+${found[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}); remove it`;
}

/**
 * Refuses a control character (U+0000–U+001F, U+007F) anywhere in a typed value, naming the
 * field and the character. Every channel's fields pass through it: the checks of
 * user-fields.ts, rule names, the web forms and the CLI's arguments; the API's schemas refuse the
 * same characters by pattern, with the same words.
 */
export function checkPlainText(what: string, value: string): string {
  const problem = controlCharacterProblem(value);
  if (problem !== null) throw new InputError('control_character', `${what} ${problem}`);
  return value;
}

/** A text's length in characters (code points), as the database and JSON Schema count it. */
export function textLength(text: string): number {
  let length = 0;
  for (const _ of text) length += 1;
  return length;
}

export interface User {
  id: number;
  extension: string;
  firstName: string;
  lastName: string;
  phone: string | null;
  email: string | null;
  locale: string;
  ruleId: number;
  /** Seconds the phone waits for keys after sign-in (RESPONSE_WAIT). */
  responseWait: number;
  createdAt: Date;
}

export type NewUser = Omit<User, 'id' | 'createdAt'>;
export type UserChanges = Partial<NewUser>;

/** The per-user PIN flags and status of DESIGN §2. Never carries the hash. */
export interface PinCredentialStatus {
  changedAt: Date;
  mustChange: boolean;
  enrollmentPending: boolean;
  doesNotExpire: boolean;
  lockedByAdmin: boolean;
  cannotChange: boolean;
  failedCount: number;
  lastFailedAt: Date | null;
  lockedAt: Date | null;
  /** Set while the PIN is one nobody chose (a reset or a generated one): its temporary lifetime counts from here. */
  temporarySince: Date | null;
  /** The last successful sign-in, by phone or on /me. */
  lastSigninAt: Date | null;
  /** Where the inactivity clock starts without a sign-in: the latest of creation, a PIN set or reset, an unlock. */
  activitySince: Date;
  /** When an inactivity lock first refused a sign-in (it is audited once); null otherwise. */
  inactiveLockedAt: Date | null;
  /** "Deactivated by the directory" (SCIM `active: false`, DESIGN §11): refused like a lock; null while active. */
  deactivatedAt: Date | null;
}

export type PinFlags = Pick<PinCredentialStatus, 'mustChange' | 'enrollmentPending' | 'doesNotExpire' | 'lockedByAdmin' | 'cannotChange'>;

export const PIN_FLAGS: readonly (keyof PinFlags)[] = ['mustChange', 'enrollmentPending', 'doesNotExpire', 'lockedByAdmin', 'cannotChange'];

/** A user with PIN status and rule: what every channel needs to show or decide. */
export interface Account {
  user: User;
  pin: PinCredentialStatus;
  rule: AuthRule;
}

/** The same plus the PIN hash and its credential version, only for the sign-in and change paths. */
export interface AccountWithHash extends Account {
  pinHash: string;
  /** Moves with every new PIN hash and change of "must change" (DESIGN §3): what a call's sign-in proved. */
  credentialVersion: number;
}

export type AccountKey = { extension: string } | { userId: number };

export function describeAccountKey(key: AccountKey): string {
  return 'extension' in key ? `user with extension ${key.extension}` : `user ${key.userId}`;
}
