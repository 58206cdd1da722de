// PIN policy (DESIGN §2): pure functions shared by every channel (phone, web, admin, CLI).
// No I/O here: the common-PIN lists and the random source are passed in.
import type { PolicyRefusal, TrivialReason } from './change.js';
import type { CommonPinList } from './common-pins.js';
import { InputError } from '../errors.js';

export interface PinLengthRule {
  minLength: number;
  maxLength: number;
  trivialCheck: boolean;
}

export interface PinOwner {
  extension: string;
  firstName: string;
  lastName: string;
}

const DIGITS_ONLY = /^[0-9]+$/;

/** Checks a proposed PIN against a rule. Returns the first rule it breaks, or null if it is acceptable. */
export function checkPinPolicy(
  pin: string,
  rule: PinLengthRule,
  owner: PinOwner,
  commonPins: CommonPinList,
): PolicyRefusal | null {
  if (!DIGITS_ONLY.test(pin) || pin.length < rule.minLength) {
    return { rule: 'too_short', min: rule.minLength };
  }
  if (pin.length > rule.maxLength) {
    return { rule: 'too_long', max: rule.maxLength };
  }
  if (rule.trivialCheck) {
    const reason = trivialReason(pin, owner, commonPins);
    if (reason === 'keypad') return { rule: 'trivial', reason, keys: keypadLine(pin) as string };
    if (reason !== null) return { rule: 'trivial', reason };
  }
  return null;
}

/** The first trivial-PIN reason (in DESIGN §2 order) that applies to a digit string, or null. */
export function trivialReason(
  pin: string,
  owner: PinOwner,
  commonPins: CommonPinList,
): TrivialReason | null {
  if (isRepeats(pin)) return 'repeats';
  if (isRun(pin)) return 'run';
  if (isRepeatedGroup(pin)) return 'group';
  if (keypadLine(pin) !== null) return 'keypad';
  if (containsExtension(pin, owner.extension)) return 'extension';
  if (containsName(pin, owner)) return 'name';
  if (commonPins.get(pin.length)?.has(pin) === true) return 'common';
  return null;
}

function isRepeats(pin: string): boolean {
  return new Set(pin).size <= 2 || /([0-9])\1\1/.test(pin);
}

// A whole-PIN run by 1 in either direction. The keypad digit order wraps: 9→0 continues an
// ascending run (567890) and 0→9 a descending one (098765), since callers see 0 as "after 9".
function isRun(pin: string): boolean {
  if (pin.length < 2) return false;
  const steps = new Set<number>();
  for (let i = 1; i < pin.length; i++) {
    steps.add((Number(pin[i]) - Number(pin[i - 1]) + 10) % 10);
  }
  return steps.size === 1 && (steps.has(1) || steps.has(9));
}

// Group length 1 (111111) is already caught by repeats.
function isRepeatedGroup(pin: string): boolean {
  for (let size = 2; size <= pin.length / 2; size++) {
    if (pin.length % size === 0 && pin.slice(0, size).repeat(pin.length / size) === pin) {
      return true;
    }
  }
  return false;
}

// Key positions as [row, column] on the phone keypad:
//   1 2 3
//   4 5 6
//   7 8 9
//     0
const KEY_POSITIONS: ReadonlyArray<readonly [key: string, row: number, col: number]> = [
  ['1', 0, 0], ['2', 0, 1], ['3', 0, 2],
  ['4', 1, 0], ['5', 1, 1], ['6', 1, 2],
  ['7', 2, 0], ['8', 2, 1], ['9', 2, 2],
  ['0', 3, 1],
];

/**
 * Every run of three adjacent keys in a straight line: from each key, step twice in one of the
 * eight directions (across, down, diagonal; both ways). Longer lines such as 2580 contain a triple.
 */
export const KEYPAD_LINES: ReadonlySet<string> = (() => {
  const keyAt = new Map(KEY_POSITIONS.map(([key, row, col]) => [`${row},${col}`, key]));
  const lines = new Set<string>();
  for (const [key, row, col] of KEY_POSITIONS) {
    for (const dr of [-1, 0, 1]) {
      for (const dc of [-1, 0, 1]) {
        if (dr === 0 && dc === 0) continue;
        const second = keyAt.get(`${row + dr},${col + dc}`);
        const third = keyAt.get(`${row + 2 * dr},${col + 2 * dc}`);
        if (second !== undefined && third !== undefined) lines.add(key + second + third);
      }
    }
  }
  return lines;
})();

/** The first three keys in a straight line on the keypad that the PIN contains (198705 → 987), or null. */
export function keypadLine(pin: string): string | null {
  for (let i = 0; i + 3 <= pin.length; i++) {
    const keys = pin.slice(i, i + 3);
    if (KEYPAD_LINES.has(keys)) return keys;
  }
  return null;
}

// Short extensions are skipped: any 1-2 digit string would reject far too many PINs.
function containsExtension(pin: string, extension: string): boolean {
  const ext = extension.trim();
  if (!DIGITS_ONLY.test(ext) || ext.length < 3) return false;
  return pin.includes(ext) || pin.includes([...ext].reverse().join(''));
}

// The whole name, plus each part of a double-barrelled or multi-word name (García López, Anne-Marie).
function containsName(pin: string, owner: PinOwner): boolean {
  const names = [owner.firstName, owner.lastName].flatMap((name) => [name, ...name.split(/[\s-]+/)]);
  return names.some((name) => {
    const digits = keypadDigits(name);
    return digits.length >= 3 && pin.includes(digits);
  });
}

const KEYPAD_LETTERS = ['abc', 'def', 'ghi', 'jkl', 'mno', 'pqrs', 'tuv', 'wxyz'];
const LETTER_TO_DIGIT = new Map(
  KEYPAD_LETTERS.flatMap((letters, i) => [...letters].map((letter) => [letter, String(i + 2)] as const)),
);

// Latin letters that NFD does not split into base letter + accent.
const LETTER_FOLDS = new Map([
  ['ø', 'o'], ['æ', 'ae'], ['œ', 'oe'], ['ß', 'ss'], ['ł', 'l'], ['đ', 'd'], ['ð', 'd'], ['þ', 'th'], ['ı', 'i'],
]);

/** A name as typed on the keypad (ABC=2 … WXYZ=9): accents stripped, anything but letters dropped. */
export function keypadDigits(name: string): string {
  let digits = '';
  for (const char of name.toLowerCase().normalize('NFD').replace(/\p{M}/gu, '')) {
    for (const letter of LETTER_FOLDS.get(char) ?? char) {
      digits += LETTER_TO_DIGIT.get(letter) ?? '';
    }
  }
  return digits;
}

// Bounded so a rule no PIN can satisfy fails loudly instead of hanging the request.
const MAX_GENERATE_ATTEMPTS = 100_000;

/**
 * A random PIN of max(minLength, 6) digits (capped at maxLength) that passes checkPinPolicy.
 * randomDigit must return an integer 0-9; callers pass () => crypto.randomInt(10). A rule that
 * no PIN of that length can pass for this owner is an InputError (422), not a crash.
 */
export function generatePin(
  rule: PinLengthRule,
  owner: PinOwner,
  commonPins: CommonPinList,
  randomDigit: () => number,
): string {
  const length = generatedPinLength(rule);
  if (length < 1 || length < rule.minLength) {
    throw new RangeError(`cannot generate a PIN: length rule ${rule.minLength}-${rule.maxLength} is empty`);
  }
  const pin = findPassingPin(length, rule, owner, commonPins, randomDigit);
  if (pin === null) {
    throw new InputError(
      'rule_unmeetable',
      `no PIN of ${length} digits passes this user's rule (its trivial-PIN check), so none can be generated; raise the rule's minimum PIN length or turn its trivial-PIN check off`,
      422,
    );
  }
  return pin;
}

// ---- a rule that can be met: the same search generatePin makes, without a user

/** The length of the PINs generatePin makes for a rule: 6 digits, or the minimum when longer, within the maximum. */
function generatedPinLength(rule: PinLengthRule): number {
  return Math.min(Math.max(rule.minLength, 6), rule.maxLength);
}

/** Up to this many digits every PIN can be tried (100,000 at most), so "none passes" is certain. */
const EXHAUSTIVE_DIGITS = 5;

/**
 * A PIN of `length` digits that passes checkPinPolicy, or null when none does. Random draws come
 * first, so a PIN found is as random as the rule allows; then, for up to 5 digits, every PIN in
 * turn. Beyond 5 digits a null means 100,000 draws all failed, which no rule's checks come near.
 */
function findPassingPin(
  length: number,
  rule: PinLengthRule,
  owner: PinOwner,
  commonPins: CommonPinList,
  randomDigit: () => number,
): string | null {
  const every = length <= EXHAUSTIVE_DIGITS ? 10 ** length : Infinity;
  const draws = Math.min(MAX_GENERATE_ATTEMPTS, 10 * every);
  for (let attempt = 0; attempt < draws; attempt++) {
    let pin = '';
    for (let i = 0; i < length; i++) {
      const digit = randomDigit();
      if (!Number.isInteger(digit) || digit < 0 || digit > 9) {
        throw new RangeError('randomDigit must return an integer from 0 to 9');
      }
      pin += String(digit);
    }
    if (checkPinPolicy(pin, rule, owner, commonPins) === null) return pin;
  }
  for (let n = 0; n < every; n++) {
    const pin = String(n).padStart(length, '0');
    if (checkPinPolicy(pin, rule, owner, commonPins) === null) return pin;
  }
  return null;
}

/** A user with no extension or name to avoid: only the rule's own checks apply (and no history, as for a new user). */
const NO_OWNER: PinOwner = { extension: '', firstName: '', lastName: '' };

/** Digits from a fixed seed: the check of a rule gives the same answer every time. */
function seededDigits(): () => number {
  let state = 0x2545f491;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state >>> 24) % 10;
  };
}

/** Why no PIN can meet a rule: the length at which none passes, and the shortest length at which one would. */
export interface UnmeetableRule {
  digits: number;
  /** The shortest PIN length from the rule's minimum up to `longest` that some PIN passes; null if none. */
  shortestPossible: number | null;
}

/**
 * Null when a rule can be met: some PIN of its minimum length, and of the length generatePin
 * makes, passes every check of the rule (length, trivial and common PINs) for a new user, by the
 * same search generatePin makes. Otherwise the length that fails, for the refusal's message.
 */
export function unmeetableRule(rule: PinLengthRule, commonPins: CommonPinList, longest: number): UnmeetableRule | null {
  const digits = seededDigits();
  const lengths = [...new Set([rule.minLength, generatedPinLength(rule)])];
  const failing = lengths.find((length) => findPassingPin(length, rule, NO_OWNER, commonPins, digits) === null);
  if (failing === undefined) return null;
  let shortestPossible: number | null = null;
  for (let length = failing + 1; length <= longest && shortestPossible === null; length++) {
    if (findPassingPin(length, { ...rule, maxLength: longest }, NO_OWNER, commonPins, digits) !== null) shortestPossible = length;
  }
  return { digits: failing, shortestPossible };
}
