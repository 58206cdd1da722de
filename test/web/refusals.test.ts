import { describe, expect, it } from 'vitest';
import type { PinRefusal } from '../../src/pin/change.js';
import { refusalText } from '../../src/web/refusals.js';

// A refused PIN on the web pages: a sentence for people that says what is wrong, what to do, and the rule.
const cases: Array<[PinRefusal, string]> = [
  [{ rule: 'too_short', min: 6 }, 'The PIN must have at least 6 digits, and only the keys 0 to 9 (rule: minimum length).'],
  [{ rule: 'too_long', max: 1 }, 'The PIN may have at most 1 digit (rule: maximum length).'],
  [{ rule: 'trivial', reason: 'keypad', keys: '987' }, 'That PIN is too easy to guess: the keys 9, 8 and 7 are in a straight line on the keypad. Choose another (rule: trivial PIN).'],
  [{ rule: 'trivial', reason: 'common' }, 'That PIN is too easy to guess: it is on the list of commonly chosen PINs. Choose another (rule: trivial PIN).'],
  [{ rule: 'reused', history: 0 }, 'That is the current PIN. Choose another (rule: PIN history).'],
  [{ rule: 'reused', history: 5 }, 'That PIN was used before: it is the current PIN or one of the last 5. Choose another (rule: PIN history).'],
  [{ rule: 'cannot_change' }, 'This PIN may not be changed here: User Cannot Change is set. An administrator can change it.'],
  [{ rule: 'too_soon', minutes: 1440 }, 'The PIN was changed too recently: it can be changed again 1 day after the last change (rule: minimum time between changes).'],
  [{ rule: 'too_soon', minutes: 90 }, 'The PIN was changed too recently: it can be changed again 90 minutes after the last change (rule: minimum time between changes).'],
  [{ rule: 'locked' }, 'The PIN cannot be changed while the account is locked.'],
  [{ rule: 'reauth' }, 'The PIN was reset or changed since you signed in. Sign in again, then change it.'],
];

describe('refused PINs in words for the web pages', () => {
  it.each(cases)('when the refusal is %j, then the page says "%s"', (refusal, words) => {
    expect(refusalText(refusal)).toBe(words);
  });
});
