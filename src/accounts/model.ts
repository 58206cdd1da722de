import type { AuthRule } from '../pin/rules.js';

/** The same shapes as the users table's CHECK constraints. */
export const EXTENSION_PATTERN = /^[0-9]{2,15}$/;
export const E164_PATTERN = /^\+[1-9][0-9]{1,14}$/;
/** Loose on purpose: the mail server has the last word on an address. */
export const EMAIL_ADDRESS = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;
/** Seconds the phone waits for a user's keys once their PIN is verified (the column's CHECK and default). */
export const RESPONSE_WAIT = { min: 3, max: 30, default: 5 } as const;

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
