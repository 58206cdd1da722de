import type { AuthRule } from '../pin/rules.js';

/** The same shapes as the users table's CHECK constraints. */
export const EXTENSION_PATTERN = /^[0-9]{2,15}$/;
export const E164_PATTERN = /^\+[1-9][0-9]{1,14}$/;
/** Loose on purpose: the mail server has the last word on an address. */
export const EMAIL_ADDRESS = /^[^\s@<>()",;:]+@[^\s@<>()",;:]+\.[^\s@<>()",;:]+$/;

export interface User {
  id: number;
  extension: string;
  firstName: string;
  lastName: string;
  phone: string | null;
  email: string | null;
  locale: string;
  ruleId: number;
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
}

export type PinFlags = Pick<PinCredentialStatus, 'mustChange' | 'enrollmentPending' | 'doesNotExpire' | 'lockedByAdmin' | 'cannotChange'>;

export const PIN_FLAGS: readonly (keyof PinFlags)[] = ['mustChange', 'enrollmentPending', 'doesNotExpire', 'lockedByAdmin', 'cannotChange'];

/** A user with PIN status and rule: what every channel needs to show or decide. */
export interface Account {
  user: User;
  pin: PinCredentialStatus;
  rule: AuthRule;
}

/** The same plus the PIN hash, only for the sign-in and change paths. */
export interface AccountWithHash extends Account {
  pinHash: string;
}

export type AccountKey = { extension: string } | { userId: number };

export function describeAccountKey(key: AccountKey): string {
  return 'extension' in key ? `user with extension ${key.extension}` : `user ${key.userId}`;
}
