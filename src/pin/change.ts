import { InputError } from '../errors.js';

/**
 * Why a PIN is being changed. enrollment, forced and voluntary are the user's own changes (phone
 * or self-service), decided by requiredChange; administrative is an administrator's, the API's or
 * the CLI's, which skips the user's own limits; reset is the helpdesk's: a random PIN that only
 * the user is sent, to be changed at the next sign-in.
 */
export type ChangeKind = 'enrollment' | 'forced' | 'voluntary' | 'administrative' | 'reset';

/** The changes a user makes themselves. */
export type OwnChangeKind = Extract<ChangeKind, 'enrollment' | 'forced' | 'voluntary'>;

/** Why a PIN is trivial (DESIGN §2), named as the phone's [pin.trivial] select names them; `common` has its own prompt. */
export type TrivialReason = 'repeats' | 'run' | 'group' | 'keypad' | 'extension' | 'name' | 'common';

/** Why a PIN was refused: the one name for it on every channel. */
export type PinRefusal =
  | { rule: 'too_short'; min: number } // empty, not all digits 0-9, or shorter than min
  | { rule: 'too_long'; max: number }
  | { rule: 'trivial'; reason: Exclude<TrivialReason, 'keypad'> }
  // keys: the first three keys found in a straight line (198705 → 987).
  | { rule: 'trivial'; reason: 'keypad'; keys: string }
  | { rule: 'reused'; history: number }
  // Voluntary changes only: a flag, or the minimum time between changes.
  | { rule: 'cannot_change' }
  | { rule: 'too_soon'; minutes: number }
  // The user's own changes: the account is locked or no longer exists (flags take effect at once).
  | { rule: 'locked' }
  // A call's change: the credential its sign-in proved has changed since (a reset, another change).
  | { rule: 'reauth' };

/** What the policy alone refuses, without the stored hashes or flags. */
export type PolicyRefusal = Extract<PinRefusal, { rule: 'too_short' | 'too_long' | 'trivial' }>;

const TRIVIAL_LABELS: Readonly<Record<Exclude<TrivialReason, 'keypad'>, readonly [label: string, detail: string]>> = {
  repeats: ['repeated digits', 'it uses only one or two different digits, or a digit more than twice in a row'],
  run: ['run', 'it is an ascending or descending run of digits'],
  group: ['repeated group', 'it is one group of digits repeated'],
  extension: ['extension', "it contains the user's extension or the extension reversed"],
  name: ['name', "it contains the user's first or last name typed on the keypad"],
  common: ['common PIN', 'it is on the list of commonly chosen PINs'],
};

/** 987 → "9, 8 and 7". */
function keysInWords(keys: string): string {
  const list = [...keys];
  return list.length < 2 ? keys : `${list.slice(0, -1).join(', ')} and ${list.at(-1) as string}`;
}

/** A trivial PIN's rule label and what made it trivial, in words: for every channel's wording. */
export function trivialDetail(refusal: Extract<PinRefusal, { rule: 'trivial' }>): readonly [label: string, detail: string] {
  if (refusal.reason === 'keypad') return ['keypad line', `the keys ${keysInWords(refusal.keys)} are in a straight line on the keypad`];
  return TRIVIAL_LABELS[refusal.reason];
}

function digitsWord(n: number): string {
  return n === 1 ? '1 digit' : `${n} digits`;
}

/** One English line naming the broken rule. Never includes the PIN, so it is safe to log and show. */
export function describeRefusal(refusal: PinRefusal): string {
  switch (refusal.rule) {
    case 'too_short':
      return `PIN rejected by rule 'minimum length': it must be at least ${digitsWord(refusal.min)}, using only the keys 0 to 9`;
    case 'too_long':
      return `PIN rejected by rule 'maximum length': it must be at most ${digitsWord(refusal.max)}`;
    case 'trivial': {
      const [label, detail] = trivialDetail(refusal);
      return `PIN rejected by rule 'trivial PIN' (${label}): ${detail}`;
    }
    case 'reused':
      return refusal.history > 0
        ? `PIN rejected by rule 'PIN history': it matches the current PIN or one of the last ${refusal.history}`
        : `PIN rejected by rule 'PIN history': it matches the current PIN`;
    case 'cannot_change':
      return "PIN change refused by flag 'user cannot change'";
    case 'too_soon':
      return `PIN change refused by rule 'minimum time between changes': wait ${refusal.minutes} minutes after the last change`;
    case 'locked':
      return 'PIN change refused: the account is locked';
    case 'reauth':
      return 'PIN change refused: the PIN was reset or changed since this sign-in, so sign in again';
  }
}

/** A refused PIN as an error, the refusal kept for channels that word it their own way (the web pages). */
export class PinRefusedError extends InputError {
  constructor(readonly refusal: PinRefusal) {
    super(`pin_${refusal.rule}`, describeRefusal(refusal), 422);
  }
}

/** A refusal as the error every channel answers with: code `pin_<rule>`, status 422. */
export function refusalError(refusal: PinRefusal): InputError {
  return new PinRefusedError(refusal);
}
