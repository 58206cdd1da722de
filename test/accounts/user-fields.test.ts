import { describe, expect, it } from 'vitest';
import { checkPlainText } from '../../src/accounts/model.js';
import { checkUserFields, type UserFieldsInput } from '../../src/accounts/user-fields.js';
import { InputError } from '../../src/errors.js';

// The one validation of a user's fields that every channel reaches: pure, so a table.

const LOCALES = ['en-US', 'es-US'];
const CONTROL = ['\u0000', '\u0001', '\u0008', '\t', '\n', '\u000b', '\r', '\u001b', '\u001f', '\u007f'];

describe('checkUserFields', () => {
  it.each<[string, keyof UserFieldsInput, (c: string) => string]>([
    ['extension', 'extension', (c) => `12${c}34`],
    ['first name', 'firstName', (c) => `Ada${c}`],
    ['last name', 'lastName', (c) => `${c}Byron`],
    ['phone number', 'phone', (c) => `+1555${c}1230001`],
    ['e-mail address', 'email', (c) => `ada${c}@example.com`],
    ['locale', 'locale', (c) => `en-US${c}`],
    ['rule name', 'ruleName', (c) => `rule${c}`],
    ['response wait', 'responseWait', (c) => `5${c}`],
  ])('when the %s holds any control character, then it is refused naming the field and the character, never the value', (what, key, typed) => {
    for (const char of CONTROL) {
      const code = char.charCodeAt(0).toString(16).toUpperCase().padStart(4, '0');
      let caught: unknown = null;
      try {
        checkUserFields({ [key]: typed(char) }, LOCALES);
      } catch (err) {
        caught = err;
      }
      expect(caught, `U+${code}`).toBeInstanceOf(InputError);
      expect(caught).toMatchObject({ code: 'control_character', status: 400, message: `${what} contains a control character (U+${code}); remove it` });
    }
  });

  it('when the fields are plain, then they come back checked, trimmed and in their stored form', () => {
    expect(
      checkUserFields(
        { extension: ' 1234 ', firstName: ' Ada ', lastName: 'Byron', phone: '+1 (555) 123-0001', email: ' ada@example.com ', locale: 'es-US', ruleName: 'default', responseWait: '7' },
        LOCALES,
      ),
    ).toEqual({ extension: '1234', firstName: 'Ada', lastName: 'Byron', phone: '+15551230001', email: 'ada@example.com', locale: 'es-US', ruleName: 'default', responseWait: 7 });
  });

  it('when a name is 100 characters beyond the Basic Multilingual Plane, then it is accepted; 101 are not (characters, as Postgres counts them)', () => {
    expect(checkUserFields({ firstName: '𝒜'.repeat(100) }, LOCALES).firstName).toHaveLength(200);
    expect(() => checkUserFields({ firstName: '𝒜'.repeat(101) }, LOCALES)).toThrow('first name must be 1 to 100 characters');
  });

  it('when text has no control character, then checkPlainText gives it back as it is, spaces and all', () => {
    expect(checkPlainText('note', '  café – ok  ')).toBe('  café – ok  ');
  });
});
