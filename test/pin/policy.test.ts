import { readFileSync } from 'node:fs';
import { describe, it, expect } from 'vitest';
import { loadCommonPins } from '../../src/pin/common-pins.js';
import type { CommonPinList } from '../../src/pin/common-pins.js';
import { describeRefusal, type PinRefusal, type TrivialReason } from '../../src/pin/change.js';
import { KEYPAD_LINES, checkPinPolicy, generatePin, keypadDigits, keypadLine, trivialReason, unmeetableRule } from '../../src/pin/policy.js';
import type { PinLengthRule, PinOwner } from '../../src/pin/policy.js';

const commonPins = loadCommonPins();
const noCommonPins: CommonPinList = new Map();

const RULE: PinLengthRule = { minLength: 6, maxLength: 20, trivialCheck: true };
const SHORT_RULE: PinLengthRule = { minLength: 6, maxLength: 8, trivialCheck: true };
const FOUR_DIGIT_RULE: PinLengthRule = { minLength: 4, maxLength: 20, trivialCheck: true };
const OWNER: PinOwner = { extension: '2047', firstName: 'José', lastName: "O'Brien" };

const trivial = (reason: Exclude<TrivialReason, 'keypad'>): PinRefusal => ({ rule: 'trivial', reason });

describe('checkPinPolicy: length and characters', () => {
  it.each<[string, string, PinRefusal | null]>([
    ['the PIN is empty', '', { rule: 'too_short', min: 6 }],
    ['the PIN contains a letter', '12a456', { rule: 'too_short', min: 6 }],
    ['the PIN is a star key', '*', { rule: 'too_short', min: 6 }],
    ['the PIN ends with a hash key', '139047#', { rule: 'too_short', min: 6 }],
    ['the PIN has a surrounding space', ' 139047', { rule: 'too_short', min: 6 }],
    ['the PIN uses non-ASCII digits', '١٣٩٠٤٧', { rule: 'too_short', min: 6 }],
    ['the PIN is one digit under the minimum', '13904', { rule: 'too_short', min: 6 }],
    ['the PIN is exactly the minimum length', '139047', null],
    ['the PIN is exactly the maximum length', '13904782', null],
    ['the PIN is one digit over the maximum', '139047821', { rule: 'too_long', max: 8 }],
    ['the PIN is too long and also trivial', '111111111', { rule: 'too_long', max: 8 }],
    ['the PIN is too long and has a letter', '13904782a1', { rule: 'too_short', min: 6 }],
  ])('when %s (%j), then the result is %j', (_case, pin, expected) => {
    expect(checkPinPolicy(pin, SHORT_RULE, OWNER, commonPins)).toEqual(expected);
  });
});

describe('checkPinPolicy: trivial PINs', () => {
  it.each<[string, string, PinRefusal]>([
    // repeats
    ['one digit is used throughout', '111111', trivial('repeats')],
    ['only two distinct digits alternate', '121212', trivial('repeats')],
    ['only two distinct digits are used unevenly', '100110', trivial('repeats')],
    ['a digit repeats three times in a row', '288834', trivial('repeats')],
    ['a zero repeats three times in a row at the end', '139000', trivial('repeats')],
    // run
    ['the whole PIN ascends by 1', '123456', trivial('run')],
    ['the whole PIN descends by 1', '987654', trivial('run')],
    ['the whole PIN ascends from the middle', '345678', trivial('run')],
    ['an ascending run wraps from 9 to 0', '567890', trivial('run')],
    ['an ascending run continues past 0', '890123', trivial('run')],
    ['a descending run wraps from 0 to 9', '098765', trivial('run')],
    ['a long PIN is a run', '2345678901', trivial('run')],
    // repeated group
    ['a 3-digit group is repeated', '408408', trivial('group')],
    ['a run of 3 is repeated', '123123', trivial('group')],
    ['a 4-digit group is repeated', '40814081', trivial('group')],
    ['a 3-digit group is repeated three times', '409409409', trivial('group')],
    ['a 5-digit group is repeated', '4092740927', trivial('group')],
    ['a repeated group uses only two digits, so repeats is reported first', '4040404040', trivial('repeats')],
    // extension (OWNER has extension 2047)
    ['the PIN contains the extension', '920471', trivial('extension')],
    ['the PIN contains the extension reversed', '374021', trivial('extension')],
    ['the PIN is the extension padded at the front', '132047', trivial('extension')],
    // name (José → 5673, O'Brien → 627436)
    ['the PIN contains the first name with an accent', '156730', trivial('name')],
    ['the PIN is the last name with an apostrophe', '627436', trivial('name')],
    // common (iOS 6-digit list; DD list)
    ['the PIN is on the iOS 6-digit list and is otherwise fine', '121213', trivial('common')],
    ['the PIN is only on the RockYou top-29 list', '246810', trivial('common')],
  ])('when %s (%s), then it is rejected as %j', (_case, pin, expected) => {
    expect(checkPinPolicy(pin, RULE, OWNER, commonPins)).toEqual(expected);
  });

  it.each<[string, string]>([
    ['a digit repeats only twice in a row', '288349'],
    ['three distinct digits are used', '121312'],
    ['two pairs of doubled digits are used', '112234'],
    ['a run is broken by one skipped digit', '234578'],
    ['a run is broken at the end', '234579'],
    ['a wrapping run is broken', '890124'],
    ['the digits step by 2, not 1', '246802'],
    ['a descending run is broken', '876532'],
    ['a group is repeated with a digit left over', '4084081'],
    ['a group is repeated with the last digits swapped', '408480'],
    ['two different 4-digit groups are close', '40814082'],
    ['a group is nearly repeated', '409490'],
    ['only two keys in a row are in line (12, 08)', '120846'],
    ['three keys bend on the keypad (7 5 2)', '752160'],
    ['three keys bend on the keypad (1 5 8)', '158206'],
    ['keys skip one on the keypad (1 3, 2 6)', '132604'],
    ['0 has no diagonal neighbours (7 0 9)', '709146'],
    ['a column bends at 0 (4 7 0)', '470691'],
    ['a column bends at 0 (6 9 0)', '690413'],
    ['only part of the extension appears', '120493'],
    ['a 6-digit PIN starts with a common 4-digit PIN', '198427'],
  ])('when %s (%s), then it is accepted', (_case, pin) => {
    expect(checkPinPolicy(pin, RULE, OWNER, commonPins)).toBeNull();
  });

  it.each<[string, string]>([
    ['a PIN of one repeated digit', '111111'],
    ['a whole-PIN run', '123456'],
    ['a PIN containing the name', '156730'],
    ['a common PIN', '121213'],
  ])('when the trivial check is off and the PIN is %s (%s), then it is accepted', (_case, pin) => {
    const rule: PinLengthRule = { ...RULE, trivialCheck: false };
    expect(checkPinPolicy(pin, rule, OWNER, commonPins)).toBeNull();
  });

  it('when the trivial check is off, then length and digit rules still apply', () => {
    const rule: PinLengthRule = { ...RULE, trivialCheck: false };
    expect(checkPinPolicy('11111a', rule, OWNER, commonPins)).toEqual({ rule: 'too_short', min: 6 });
  });
});

describe('trivialReason: keypad lines', () => {
  it.each<[string, string]>([
    ['123', '912304'],
    ['321', '932106'],
    ['456', '145609'],
    ['654', '965401'],
    ['789', '978902'],
    ['987', '898701'],
    ['147', '714702'],
    ['741', '974106'],
    ['258', '025816'],
    ['852', '985206'],
    ['369', '036914'],
    ['963', '096314'],
    ['580', '105802'],
    ['085', '208501'],
    ['159', '015906'],
    ['951', '095106'],
    ['357', '035704'],
    ['753', '075304'],
  ])('when the PIN contains the line %s (%s), then the reason is keypad and the keys are that line', (line, pin) => {
    expect(pin).toContain(line);
    expect(trivialReason(pin, OWNER, commonPins)).toBe('keypad');
    expect(checkPinPolicy(pin, RULE, OWNER, commonPins)).toEqual({ rule: 'trivial', reason: 'keypad', keys: line });
  });

  it.each<[string, string]>([['2580', '258'], ['8520', '852'], ['302580', '258'], ['085204', '085'], ['2581', '258']])(
    'when the PIN runs down the middle column through 0 (%s), then the reason is keypad, naming the first three keys (%s)',
    (pin, keys) => {
      expect(trivialReason(pin, OWNER, commonPins)).toBe('keypad');
      expect(keypadLine(pin)).toBe(keys);
    },
  );

  it('when the PIN is 198705, then the keys named are 987 (the first three in a line)', () => {
    expect(checkPinPolicy('198705', RULE, OWNER, commonPins)).toEqual({ rule: 'trivial', reason: 'keypad', keys: '987' });
  });

  it('when lines are derived from key positions, then there are exactly the 9 lines of DESIGN §2 in both directions', () => {
    const forward = ['123', '456', '789', '147', '258', '369', '580', '159', '357'];
    const both = [...forward, ...forward.map((line) => [...line].reverse().join(''))];
    expect([...KEYPAD_LINES].sort()).toEqual(both.sort());
  });
});

describe('trivialReason: extension and name', () => {
  it.each<[string, PinOwner, string, TrivialReason | null]>([
    ['a 3-digit extension is contained', { extension: '409', firstName: 'Al', lastName: 'Ng' }, '140932', 'extension'],
    ['a 3-digit extension is contained reversed', { extension: '409', firstName: 'Al', lastName: 'Ng' }, '190452', 'extension'],
    ['a 2-digit extension is contained', { extension: '47', firstName: 'Al', lastName: 'Ng' }, '947136', null],
    ['an empty extension', { extension: '', firstName: 'Al', lastName: 'Ng' }, '947136', null],
    ['a 2-letter first and last name are contained', { extension: '', firstName: 'Al', lastName: 'Ng' }, '825640', null],
    ['a ring-accented 3-letter first name is contained', { extension: '', firstName: 'Åsa', lastName: 'Ng' }, '827201', 'name'],
    ['a name with an apostrophe is contained', { extension: '', firstName: "D'Arcy", lastName: 'Ng' }, '132729', 'name'],
    ['the second part of a hyphenated name is contained', { extension: '', firstName: 'Anne-Marie', lastName: 'Ng' }, '162743', 'name'],
    ['the first part of a hyphenated name is contained', { extension: '', firstName: 'Anne-Marie', lastName: 'Ng' }, '126630', 'name'],
    ['the second word of a two-word last name is contained', { extension: '', firstName: 'Al', lastName: 'García López' }, '156739', 'name'],
    ['the first word of a two-word last name is contained', { extension: '', firstName: 'Al', lastName: 'García López' }, '4272421', 'name'],
  ])('when %s, then the reason is %j', (_case, owner, pin, expected) => {
    expect(trivialReason(pin, owner, noCommonPins)).toBe(expected);
  });
});

describe('trivialReason: common list by length', () => {
  it.each<[string, string, CommonPinList, TrivialReason | null]>([
    ['a 4-digit PIN is on the iOS 4-digit list', '1984', commonPins, 'common'],
    ['a 4-digit PIN spells LOVE and is on the iOS 4-digit list', '5683', commonPins, 'common'],
    ['a 6-digit PIN begins with a listed 4-digit PIN', '198427', commonPins, null],
    ['a list exists only for 5 digits and the PIN has 5', '13904', new Map([[5, new Set(['13904'])]]), 'common'],
    ['a list exists only for 5 digits and the PIN has 6', '139047', new Map([[5, new Set(['13904'])]]), null],
    ['no lists are given', '1984', noCommonPins, null],
  ])('when %s (%s), then the reason is %j', (_case, pin, lists, expected) => {
    expect(trivialReason(pin, OWNER, lists)).toBe(expected);
  });

  it('when a 4-digit rule meets a listed 4-digit PIN, then checkPinPolicy rejects it as common', () => {
    expect(checkPinPolicy('1984', FOUR_DIGIT_RULE, OWNER, commonPins)).toEqual(trivial('common'));
  });
});

describe('keypadDigits', () => {
  it.each<[string, string]>([
    ['ABC', '222'],
    ['pqrs tuv wxyz', '77778889999'],
    ['José', '5673'],
    ['Zoë', '963'],
    ["O'Brien", '627436'],
    ['Anne-Marie', '266362743'],
    ['Åsa', '272'],
    ['Søren', '76736'],
    ['Straße', '7872773'],
    ['Łukasz', '585279'],
    ['', ''],
    ['42', ''],
  ])('when the name is %j, then the keypad digits are %j', (name, digits) => {
    expect(keypadDigits(name)).toBe(digits);
  });
});

describe('describeRefusal', () => {
  it.each<[PinRefusal, string]>([
    [{ rule: 'too_short', min: 6 }, "PIN rejected by rule 'minimum length': it must be at least 6 digits, using only the keys 0 to 9"],
    [{ rule: 'too_long', max: 20 }, "PIN rejected by rule 'maximum length': it must be at most 20 digits"],
    [{ rule: 'trivial', reason: 'keypad', keys: '987' }, "PIN rejected by rule 'trivial PIN' (keypad line): the keys 9, 8 and 7 are in a straight line on the keypad"],
    [trivial('common'), "PIN rejected by rule 'trivial PIN' (common PIN): it is on the list of commonly chosen PINs"],
    [{ rule: 'reused', history: 5 }, "PIN rejected by rule 'PIN history': it matches the current PIN or one of the last 5"],
    [{ rule: 'reused', history: 0 }, "PIN rejected by rule 'PIN history': it matches the current PIN"],
  ])('when the rejection is %j, then the line is %j', (rejection, line) => {
    expect(describeRefusal(rejection)).toBe(line);
  });

  it.each<[PinRefusal]>([
    [trivial('repeats')], [trivial('run')], [trivial('group')], [{ rule: 'trivial', reason: 'keypad', keys: '147' }], [trivial('extension')], [trivial('name')], [trivial('common')],
  ])('when the refusal is %j, then the line names the trivial-PIN rule on one line', (refusal) => {
    const line = describeRefusal(refusal);
    expect(line).toMatch(/^PIN rejected by rule 'trivial PIN' \([a-zA-Z ]+\): /);
    expect(line).not.toContain('\n');
  });

  it.each<[string, PinLengthRule]>([
    ['111111', RULE], ['123456', RULE], ['408408', RULE], ['912304', RULE], ['920471', RULE],
    ['156730', RULE], ['121213', RULE], ['1984', FOUR_DIGIT_RULE], ['12a456', RULE], ['13904', RULE],
    ['139047821', SHORT_RULE],
  ])('when PIN %s is rejected, then the description does not contain it', (pin, rule) => {
    const rejection = checkPinPolicy(pin, rule, OWNER, commonPins);
    expect(rejection).not.toBeNull();
    if (rejection !== null) expect(describeRefusal(rejection)).not.toContain(pin);
  });
});

describe('generatePin', () => {
  const mathRandomDigit = (): number => Math.floor(Math.random() * 10);

  it.each<[string, PinLengthRule, number]>([
    ['the default rule (6-20)', RULE, 6],
    ['a 4-8 rule', { minLength: 4, maxLength: 8, trivialCheck: true }, 6],
    ['a 4-4 rule', { minLength: 4, maxLength: 4, trivialCheck: true }, 4],
    ['an 8-20 rule', { minLength: 8, maxLength: 20, trivialCheck: true }, 8],
    ['a 5-5 rule', { minLength: 5, maxLength: 5, trivialCheck: true }, 5],
    ['a 6-20 rule without trivial check', { ...RULE, trivialCheck: false }, 6],
  ])('when generating 200 PINs for %s, then each has %i digits and passes the policy', (_case, rule, length) => {
    for (let i = 0; i < 200; i++) {
      const pin = generatePin(rule, OWNER, commonPins, mathRandomDigit);
      expect(pin).toMatch(/^[0-9]+$/);
      expect(pin).toHaveLength(length);
      expect(checkPinPolicy(pin, rule, OWNER, commonPins)).toBeNull();
    }
  });

  it('when the first candidate is trivial, then it draws again until one passes', () => {
    const digits = [...'111111', ...'139047'].map(Number);
    const next = (): number => digits.shift() ?? 0;
    expect(generatePin(RULE, OWNER, commonPins, next)).toBe('139047');
  });

  it.each<[string, PinLengthRule]>([
    ['the maximum is below the minimum', { minLength: 8, maxLength: 6, trivialCheck: true }],
    ['the maximum is 0', { minLength: 0, maxLength: 0, trivialCheck: false }],
    ['2-digit PINs are always trivial', { minLength: 2, maxLength: 2, trivialCheck: true }],
  ])('when %s, then it throws instead of looping forever', (_case, rule) => {
    expect(() => generatePin(rule, OWNER, commonPins, mathRandomDigit)).toThrow();
  });

  it('when the digit source returns 10, then it throws', () => {
    expect(() => generatePin(RULE, OWNER, commonPins, () => 10)).toThrow(RangeError);
  });
});

describe('loadCommonPins', () => {
  const listDir = new URL('../../common-pins/', import.meta.url);
  const readList = (file: string): string[] =>
    readFileSync(new URL(file, listDir), 'utf8')
      .split('\n')
      .map((line) => line.trim())
      .filter((line) => line !== '');

  it('when loaded, then the 4-digit list has the 274 iOS entries', () => {
    expect(loadCommonPins().get(4)?.size).toBe(274);
  });

  it('when loaded, then the 6-digit list is the union of the iOS and RockYou lists', () => {
    const union = new Set([...readList('iOS-6-digit.txt'), ...readList('DD-6-digit-29.txt')]);
    const six = loadCommonPins().get(6);
    expect(six?.size).toBe(union.size);
    expect(six?.size).toBeGreaterThanOrEqual(2910);
    expect([...union].every((pin) => six?.has(pin) === true)).toBe(true);
  });

  it.each<[number]>([[4], [6]])('when loaded, then every %i-digit entry has that many digits', (length) => {
    const pins = [...(loadCommonPins().get(length) ?? [])];
    expect(pins.length).toBeGreaterThan(0);
    expect(pins.every((pin) => pin.length === length && /^[0-9]+$/.test(pin))).toBe(true);
  });

  it('when loaded twice, then the cached lists are returned', () => {
    expect(loadCommonPins()).toBe(loadCommonPins());
  });
});

describe('unmeetableRule', () => {
  const LONGEST = 64;

  it.each<[string, PinLengthRule, { digits: number; shortestPossible: number | null } | null]>([
    ['1 to 2 digits, trivial check on', { minLength: 1, maxLength: 2, trivialCheck: true }, { digits: 1, shortestPossible: 3 }],
    ['exactly 1 digit', { minLength: 1, maxLength: 1, trivialCheck: true }, { digits: 1, shortestPossible: 3 }],
    ['exactly 2 digits', { minLength: 2, maxLength: 2, trivialCheck: true }, { digits: 2, shortestPossible: 3 }],
    ['2 to 20 digits (2-digit PINs are all trivial)', { minLength: 2, maxLength: 20, trivialCheck: true }, { digits: 2, shortestPossible: 3 }],
    ['exactly 3 digits', { minLength: 3, maxLength: 3, trivialCheck: true }, null],
    ['exactly 4 digits', { minLength: 4, maxLength: 4, trivialCheck: true }, null],
    ['the default 6 to 20', RULE, null],
    ['1 digit without the trivial check', { minLength: 1, maxLength: 1, trivialCheck: false }, null],
    ['64 digits', { minLength: 64, maxLength: 64, trivialCheck: true }, null],
  ])('when a rule is %s, then the check says so', (_case, rule, expected) => {
    expect(unmeetableRule(rule, commonPins, LONGEST)).toEqual(expected);
  });

  it('when any length rule from 1 to 8 digits is checked, then generatePin can make a PIN under every rule it accepts', () => {
    const nobody: PinOwner = { extension: '', firstName: '', lastName: '' };
    const random = (): number => Math.floor(Math.random() * 10);
    for (let min = 1; min <= 8; min++) {
      for (let max = min; max <= 8; max++) {
        for (const trivialCheck of [true, false]) {
          const rule = { minLength: min, maxLength: max, trivialCheck };
          const met = unmeetableRule(rule, commonPins, LONGEST) === null;
          let generated: string | null = null;
          try {
            generated = generatePin(rule, nobody, commonPins, random);
          } catch (err) {
            expect(err).toMatchObject({ code: 'rule_unmeetable', status: 422 });
          }
          // A rule is held to its minimum length, so it may be refused while longer PINs would pass (1 to 3 digits).
          if (met) expect(generated, `${min}-${max} ${trivialCheck ? 'checked' : 'unchecked'}`).not.toBeNull();
        }
      }
    }
  });

  it('when generatePin meets a rule no PIN can pass, then it throws a 422 input error, not a crash', () => {
    expect(() => generatePin({ minLength: 2, maxLength: 2, trivialCheck: true }, OWNER, commonPins, () => 5)).toThrow(
      expect.objectContaining({ code: 'rule_unmeetable', status: 422 }),
    );
  });
});
