import type { PinCredentialStatus } from '../accounts/model.js';
import type { AuthRule } from './rules.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const DAY_MS = 24 * HOUR_MS;

/** The `inactive` report's threshold for users whose rule has no inactivity lock (DESIGN §9). */
export const INACTIVE_REPORT_DEFAULT_DAYS = 90;

export interface PinStatus {
  /** null: the PIN does not expire (flag set, or the rule's max days is 0). */
  expiresAt: Date | null;
  expired: boolean;
  /** Whole days left, rounded up; 0 once expired; null when it never expires. */
  daysUntilExpiry: number | null;
  /** The caller must choose a new PIN before anything else. */
  mustChangeNow: boolean;
  /** Which lock applies, the first of: the directory's deactivation (SCIM), an administrator's, intruder detection's, inactivity's. */
  lockout: 'directory' | 'admin' | 'intruder' | 'inactive' | null;
  /** End of an intruder lockout; null when locked until an administrator unlocks. */
  lockedUntil: Date | null;
  /** Failures that still count: older ones fall out after the rule's reset time. */
  effectiveFailedCount: number;
  tooSoonToChange: boolean;
  /** A PIN nobody chose has outlived the rule's temporary lifetime: the right PIN no longer signs in. */
  temporaryExpired: boolean;
  /** The later of the last sign-in and the inactivity clock's start. */
  lastActivityAt: Date;
  /**
   * No activity for more than the rule's inactivity days (or INACTIVE_REPORT_DEFAULT_DAYS when the
   * rule has none): the `inactive` report. With the rule's days set, it is also the inactivity lock.
   */
  inactive: boolean;
  /**
   * The change the user must make before anything else, the first that applies (DESIGN §1):
   * enrollment pending, else expired or "must change"; null when none is due.
   */
  requiredChange: 'enrollment' | 'forced' | null;
}

/** Derives what a PIN's stored flags mean right now, always under the user's current rule. */
export function pinStatus(pin: PinCredentialStatus, rule: AuthRule, now: Date): PinStatus {
  const expiresAt =
    pin.doesNotExpire || rule.maxDays === 0 ? null : new Date(pin.changedAt.getTime() + rule.maxDays * DAY_MS);
  const expired = expiresAt !== null && now.getTime() >= expiresAt.getTime();
  const daysUntilExpiry =
    expiresAt === null ? null : Math.max(0, Math.ceil((expiresAt.getTime() - now.getTime()) / DAY_MS));

  const lastActivityAt =
    pin.lastSigninAt !== null && pin.lastSigninAt.getTime() > pin.activitySince.getTime() ? pin.lastSigninAt : pin.activitySince;
  const inactiveDays = rule.inactiveDays > 0 ? rule.inactiveDays : INACTIVE_REPORT_DEFAULT_DAYS;
  // "More than N × 24 hours" since the last activity: exactly N days is still active.
  const inactive = now.getTime() - lastActivityAt.getTime() > inactiveDays * DAY_MS;

  let lockout: PinStatus['lockout'] = null;
  let lockedUntil: Date | null = null;
  if (pin.lockedByAdmin) {
    lockout = 'admin';
  } else if (pin.lockedAt) {
    lockedUntil = rule.lockoutMinutes === null ? null : new Date(pin.lockedAt.getTime() + rule.lockoutMinutes * MINUTE_MS);
    if (lockedUntil === null || now.getTime() < lockedUntil.getTime()) lockout = 'intruder';
  }
  const intruderLockOver = pin.lockedAt !== null && lockout === null && !pin.lockedByAdmin;
  if (lockout === null && rule.inactiveDays > 0 && inactive) lockout = 'inactive';
  // The directory's deactivation comes before every lock, and lasts until the directory or a system administrator ends it.
  if (pin.deactivatedAt !== null) lockout = 'directory';
  const failuresStale =
    pin.lastFailedAt === null || now.getTime() - pin.lastFailedAt.getTime() >= rule.resetFailedMinutes * MINUTE_MS;
  const effectiveFailedCount = intruderLockOver || failuresStale ? 0 : pin.failedCount;

  return {
    expiresAt,
    expired,
    daysUntilExpiry,
    mustChangeNow: pin.mustChange || expired,
    lockout,
    lockedUntil: lockout === 'intruder' ? lockedUntil : null,
    effectiveFailedCount,
    tooSoonToChange: rule.minChangeMinutes > 0 && now.getTime() - pin.changedAt.getTime() < rule.minChangeMinutes * MINUTE_MS,
    requiredChange: pin.enrollmentPending ? 'enrollment' : pin.mustChange || expired ? 'forced' : null,
    lastActivityAt,
    inactive,
    temporaryExpired:
      pin.temporarySince !== null && rule.tempPinHours > 0 && now.getTime() >= pin.temporarySince.getTime() + rule.tempPinHours * HOUR_MS,
  };
}
