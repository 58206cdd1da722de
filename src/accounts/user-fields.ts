import { InputError } from '../errors.js';
import { E164_PATTERN, EMAIL_ADDRESS, EXTENSION_PATTERN, RESPONSE_WAIT } from './model.js';

// A user's fields as every channel types them (form, CLI flag, API body, CSV cell): each check
// trims, validates and returns the stored value, or throws an InputError naming the field.

export function checkExtension(extension: string): string {
  const value = extension.trim();
  if (!EXTENSION_PATTERN.test(value)) throw new InputError('invalid_extension', `extension "${value}" must be 2 to 15 digits`);
  return value;
}

export function checkName(what: 'first name' | 'last name', name: string): string {
  const value = name.trim();
  if (value.length < 1 || value.length > 100) throw new InputError('invalid_name', `${what} must be 1 to 100 characters`);
  return value;
}

/** An E.164 number, with the spaces, dots, dashes and brackets people type dropped; empty clears it. */
export function checkPhone(phone: string | null): string | null {
  if (phone === null || phone.trim() === '') return null;
  const value = phone.replace(/[\s().-]/g, '');
  if (!E164_PATTERN.test(value)) {
    throw new InputError('invalid_phone', `phone number "${phone}" is not in E.164 form (like +15551230001)`);
  }
  return value;
}

/** An e-mail address, trimmed; empty clears it. */
export function checkEmail(email: string | null): string | null {
  if (email === null || email.trim() === '') return null;
  const value = email.trim();
  if (value.length > 254 || !EMAIL_ADDRESS.test(value)) {
    throw new InputError('invalid_email', `e-mail address "${value.slice(0, 100)}" is not valid (like alice@example.com)`);
  }
  return value;
}

export function checkLocale(locale: string, locales: readonly string[]): string {
  if (!locales.includes(locale)) throw new InputError('invalid_locale', `locale "${locale}" is not one of ${locales.join(', ')}`);
  return locale;
}

/** The response wait in whole seconds, typed as text (a form field, a flag, a cell) or a number (JSON). */
export function checkResponseWait(wait: string | number): number {
  const value = typeof wait === 'number' ? wait : /^\s*[0-9]{1,3}\s*$/.test(wait) ? Number(wait) : Number.NaN;
  if (!Number.isInteger(value) || value < RESPONSE_WAIT.min || value > RESPONSE_WAIT.max) {
    throw new InputError(
      'invalid_response_wait',
      `response wait "${String(wait).trim().slice(0, 20)}" must be a whole number of seconds from ${RESPONSE_WAIT.min} to ${RESPONSE_WAIT.max}`,
    );
  }
  return value;
}
