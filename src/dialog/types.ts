import type { CallAuditEvent } from '../audit/events.js';
import type { OwnChangeKind, PinRefusal } from '../pin/change.js';
import type { PromptKey } from './prompt-keys.js';

// Only types come from the domain: the dialog stays pure and runs nothing outside itself.

export type Locale = string; // e.g. 'en-US'

export interface Say {
  key: PromptKey;
  params?: Record<string, string | number>;
}

export type Gather = {
  kind: 'digits' | 'menu'; // digits: ID or PIN entry, finished by '#'; menu: one key, so '#' and '*' arrive as keys
  /**
   * Seconds to wait for keys: the signed-in caller's response wait; null before the PIN is
   * verified, when everyone gets the adapter's default, so the wait never hints that an ID exists.
   */
  waitSeconds: number | null;
};

/** The new-PIN dialogs a caller goes through: their own changes. */
export type ChangeKind = OwnChangeKind;

/** What a successful sign-in tells the dialog (a snapshot, sealed into the call state). */
export interface CallerSnapshot {
  userId: number;
  /** The version of the credential the sign-in proved; a turn that reaches the database checks it is still current. */
  credentialVersion: number;
  extension: string;
  locale: Locale;
  /** The change due before the menu (the domain decides: enrollment first, then expiry or "must change"). */
  requiredChange: 'enrollment' | 'forced' | null;
  daysUntilExpiry: number | null; // null = never expires
  warningDays: number;
  cannotChange: boolean;
  tooSoonToChange: boolean; // less than the rule's minimum time since the last change (adapter computes)
  responseWait: number; // seconds to wait for keys from the turn after the PIN is verified
  minLength: number; // the rule's PIN length range, said before each new PIN
  maxLength: number;
}

export type Phase =
  | { name: 'start' } // before call.started is handled
  | { name: 'identifying_caller' } // waiting for caller_lookup result
  | { name: 'enter_id' }
  | { name: 'enter_pin'; extension: string; fromCallerId: boolean }
  | { name: 'signing_in'; extension: string; fromCallerId: boolean } // waiting for signin result; keeps the ID for a busy retry
  | { name: 'menu' }
  | { name: 'new_pin'; kind: ChangeKind }
  | { name: 'checking_pin'; kind: ChangeKind } // waiting for pin_checked
  | { name: 'confirm_pin'; kind: ChangeKind }
  | { name: 'saving_pin'; kind: ChangeKind } // waiting for pin_saved
  | { name: 'ended' };

export type PhaseName = Phase['name'];

/** The whole per-call state. It is JSON-serialisable: the adapter seals it into the action URL. */
export interface CallState {
  phase: Phase;
  locale: Locale;
  failedSignins: number; // this call
  maxFailedPerCall: number; // from the attempted user's rule (default 3)
  consecutiveNoInputs: number; // reset by any key press
  rejectedEntries: number; // in the current new-PIN dialog (policy rejections and confirmation mismatches)
  busyCount: number; // consecutive [system.busy] answers
  account: CallerSnapshot | null; // set after sign-in
  pendingPinHash: string | null; // new PIN waiting for confirmation, as a hash (never the PIN)
}

export type DialogEvent =
  | { type: 'call_started'; defaultLocale: Locale }
  | { type: 'caller_identified'; match: { extension: string; locale: Locale } | null } // From matched exactly one user, or not
  | { type: 'digits'; digits: string } // what Twilio sent as Digits (without the finish key)
  | { type: 'no_input' }
  | { type: 'signin_result'; outcome: 'ok'; account: CallerSnapshot }
  | { type: 'signin_result'; outcome: 'invalid'; maxFailedPerCall: number }
  // lockedForMinutes: the minutes until an intruder lockout ends; null for a lock an administrator must lift.
  | { type: 'signin_result'; outcome: 'locked'; lockedForMinutes: number | null }
  // The right PIN, but a temporary one (a reset) past its lifetime: not a failure, and the call ends.
  | { type: 'signin_result'; outcome: 'temp_expired' }
  | { type: 'pin_checked'; outcome: 'accepted'; pendingPinHash: string }
  | { type: 'pin_checked'; outcome: 'rejected'; refusal: PinRefusal }
  // The adapter reports the new expiry (it knows the rule); tooSoonToChange defaults to true when omitted.
  // The call's own save moves the credential version; the call goes on with the new one.
  | { type: 'pin_saved'; outcome: 'saved'; daysUntilExpiry: number | null; tooSoonToChange?: boolean; credentialVersion: number }
  | { type: 'pin_saved'; outcome: 'mismatch' }
  | { type: 'pin_saved'; outcome: 'rejected'; refusal: PinRefusal }
  | { type: 'busy' } // an effect could not get a hashing slot in time
  | { type: 'failed' } // an effect failed (database down, internal error)
  | { type: 'hangup' };

/** Effects are data; the adapter runs them and feeds the result back as an event in the same HTTP turn. */
export type Effect =
  | { type: 'lookup_caller' } // → caller_identified (adapter knows From)
  | { type: 'verify_signin'; extension: string; pin: string } // → signin_result | busy | failed
  | { type: 'check_new_pin'; userId: number; credentialVersion: number; pin: string; kind: ChangeKind } // → pin_checked | busy | failed
  | { type: 'save_pin'; userId: number; credentialVersion: number; confirmation: string; pendingPinHash: string; kind: ChangeKind } // → pin_saved | busy | failed
  | { type: 'audit'; event: CallAuditEvent }; // fire-and-forget, no result event

export interface Step {
  state: CallState;
  say: Say[];
  gather: Gather | null;
  hangup: boolean;
  effects: Effect[];
}
