import { InputError } from '../errors.js';
import { checkRuleName } from '../pin/rules.js';
import {
  checkPlainText,
  E164_PATTERN,
  EMAIL_ADDRESS,
  EMAIL_MAX_LENGTH,
  EXTENSION_PATTERN,
  NAME_MAX_LENGTH,
  RESPONSE_WAIT,
  textLength,
  type UserChanges,
} from './model.js';

// A user's fields as every channel types them (form, CLI flag, API body, CSV cell): each check
// trims, validates and returns the stored value, or throws an InputError naming the field. Every
// check refuses control characters first (checkPlainText), so no message echoes one and none
// reaches Postgres.

export function checkExtension(extension: string): string {
  const value = checkPlainText('extension', extension).trim();
  if (!EXTENSION_PATTERN.test(value)) throw new InputError('invalid_extension', `extension "${value}" must be 2 to 15 digits`);
  return value;
}

function checkName(what: 'first name' | 'last name', name: string): string {
  const value = checkPlainText(what, name).trim();
  const length = textLength(value);
  if (length < 1 || length > NAME_MAX_LENGTH) throw new InputError('invalid_name', `${what} must be 1 to ${NAME_MAX_LENGTH} characters`);
  return value;
}

/** An E.164 number, with the spaces, dots, dashes and brackets people type dropped; empty clears it. */
function checkPhone(phone: string | null): string | null {
  if (phone === null || checkPlainText('phone number', phone).trim() === '') return null;
  const value = phone.replace(/[\s().-]/g, '');
  if (!E164_PATTERN.test(value)) {
    throw new InputError('invalid_phone', `phone number "${phone}" is not in E.164 form (like +15551230001)`);
  }
  return value;
}

/** An e-mail address, trimmed; empty clears it. */
function checkEmail(email: string | null): string | null {
  if (email === null || checkPlainText('e-mail address', email).trim() === '') return null;
  const value = email.trim();
  if (textLength(value) > EMAIL_MAX_LENGTH || !EMAIL_ADDRESS.test(value)) {
    throw new InputError('invalid_email', `e-mail address "${value.slice(0, 100)}" is not valid (like alice@example.com)`);
  }
  return value;
}

function checkLocale(locale: string, locales: readonly string[]): string {
  checkPlainText('locale', locale);
  if (!locales.includes(locale)) throw new InputError('invalid_locale', `locale "${locale}" is not one of ${locales.join(', ')}`);
  return locale;
}

/** The response wait in whole seconds, typed as text (a form field, a flag, a cell) or a number (JSON). */
function checkResponseWait(wait: string | number): number {
  if (typeof wait === 'string') checkPlainText('response wait', wait);
  const value = typeof wait === 'number' ? wait : /^\s*[0-9]{1,3}\s*$/.test(wait) ? Number(wait) : Number.NaN;
  if (!Number.isInteger(value) || value < RESPONSE_WAIT.min || value > RESPONSE_WAIT.max) {
    throw new InputError(
      'invalid_response_wait',
      `response wait "${String(wait).trim().slice(0, 20)}" must be a whole number of seconds from ${RESPONSE_WAIT.min} to ${RESPONSE_WAIT.max}`,
    );
  }
  return value;
}

/** A user's fields as typed; each one left undefined is not checked (and not changed). */
export interface UserFieldsInput {
  extension?: string;
  firstName?: string;
  lastName?: string;
  phone?: string | null;
  email?: string | null;
  locale?: string;
  ruleName?: string;
  /** Seconds; typed as text on the forms, the CLI and in CSV. */
  responseWait?: number | string;
}

/** The checked fields, as stored; the rule still by name, for the caller to look up. */
export type CheckedUserFields = Omit<UserChanges, 'ruleId'> & { ruleName?: string };

/**
 * Every field given, checked (control characters first, then its shape) into the value stored,
 * without the database: the one validation of a user's fields that the API, the forms, the CLI
 * and the CSV import all reach through AccountService, or call directly for a row of a file.
 */
export function checkUserFields(input: UserFieldsInput, locales: readonly string[]): CheckedUserFields {
  const checked: CheckedUserFields = {};
  if (input.extension !== undefined) checked.extension = checkExtension(input.extension);
  if (input.firstName !== undefined) checked.firstName = checkName('first name', input.firstName);
  if (input.lastName !== undefined) checked.lastName = checkName('last name', input.lastName);
  if (input.phone !== undefined) checked.phone = checkPhone(input.phone);
  if (input.email !== undefined) checked.email = checkEmail(input.email);
  if (input.locale !== undefined) checked.locale = checkLocale(input.locale, locales);
  if (input.responseWait !== undefined) checked.responseWait = checkResponseWait(input.responseWait);
  if (input.ruleName !== undefined) checked.ruleName = checkRuleName(input.ruleName);
  return checked;
}
