import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CatalogError, MessageCatalog } from '../../src/catalog.js';
import { PROMPT_KEYS, PROMPT_SELECTS } from '../../src/dialog/index.js';
import { loadPromptCatalog } from '../../src/prompts.js';

const catalog = loadPromptCatalog();

describe('the shipped prompt catalogs', () => {
  it('when they load at start, then en-US and es-US are there and pass every check', () => {
    expect(catalog.localeNames).toEqual(expect.arrayContaining(['en-US', 'es-US']));
  });

  it.each(catalog.localeNames.flatMap((locale) => PROMPT_KEYS.map((key) => [locale, key] as const)))(
    'when %s renders %s, then it says a non-empty sentence with no ICU syntax left',
    (locale, key) => {
      const text = catalog.render(locale, key, { days: 2, min: 6, max: 20, minutes: 30, reason: 'keypad', keys: '9 8 7' });
      expect(text.trim()).not.toBe('');
      expect(text).not.toMatch(/[{}#]/);
    },
  );

  it.each([
    ['en-US', 'pin.status', 1, 'Your PIN expires in 1 day.'],
    ['en-US', 'pin.status', 180, 'Your PIN expires in 180 days.'],
    ['en-US', 'pin.status', 0, 'Your PIN expires today.'],
    ['en-US', 'pin.expiry_warning', 1, 'Your PIN will expire in 1 day. To change it now, press 1 at the main menu.'],
    ['en-US', 'pin.expiry_warning', 15, 'Your PIN will expire in 15 days. To change it now, press 1 at the main menu.'],
    ['es-US', 'pin.status', 1, 'Su PIN vence en 1 día.'],
    ['es-US', 'pin.status', 180, 'Su PIN vence en 180 días.'],
    ['es-US', 'pin.expiry_warning', 1, 'Su PIN vencerá en 1 día. Para cambiarlo ahora, oprima 1 en el menú principal.'],
    ['es-US', 'pin.expiry_warning', 2, 'Su PIN vencerá en 2 días. Para cambiarlo ahora, oprima 1 en el menú principal.'],
  ] as const)('when %s says %s with %i days, then it reads "%s"', (locale, key, days, said) => {
    expect(catalog.render(locale, key, { days })).toBe(said);
  });

  it.each([
    ['en-US', 1, 'at least 1 digit long'],
    ['en-US', 6, 'at least 6 digits long'],
    ['es-US', 1, 'al menos 1 dígito'],
    ['es-US', 6, 'al menos 6 dígitos'],
  ] as const)('when %s says the minimum length %i, then the count agrees with its noun', (locale, min, part) => {
    expect(catalog.render(locale, 'pin.too_short', { min })).toContain(part);
  });

  it('tells callers how to use the keypad in en-US', () => {
    expect(catalog.render('en-US', 'menu.main')).toBe('To change your PIN, press 1. To hear your PIN status, press 2. To end the call, press star.');
    expect(catalog.render('en-US', 'pin.cancel_hint')).toBe('To cancel, press star.');
    for (const key of ['signin.enter_id', 'signin.enter_pin', 'pin.enter_new'] as const) expect(catalog.render('en-US', key, { min: 6, max: 20 })).toMatch(/pound key/);
    expect(catalog.render('en-US', 'system.busy')).toMatch(/busy.*try again/i);
  });

  it.each([
    ['en-US', 'pin.enter_new', { min: 6, max: 20 }, 'Please enter your new PIN of 6 to 20 digits, followed by the pound key.'],
    ['en-US', 'pin.enter_new', { min: 1, max: 1 }, 'Please enter your new PIN of 1 to 1 digit, followed by the pound key.'],
    ['es-US', 'pin.enter_new', { min: 4, max: 8 }, 'Por favor, marque su nuevo PIN de 4 a 8 dígitos, seguido de la tecla numeral.'],
    ['en-US', 'signin.locked_for', { minutes: 1 }, 'Your account is locked. Please try again in 1 minute. Goodbye.'],
    ['en-US', 'signin.locked_for', { minutes: 30 }, 'Your account is locked. Please try again in 30 minutes. Goodbye.'],
    ['es-US', 'signin.locked_for', { minutes: 1 }, 'Su cuenta está bloqueada. Por favor, inténtelo de nuevo en 1 minuto. Adiós.'],
    ['es-US', 'signin.locked_for', { minutes: 30 }, 'Su cuenta está bloqueada. Por favor, inténtelo de nuevo en 30 minutos. Adiós.'],
    ['en-US', 'pin.trivial', { reason: 'keypad', keys: '9 8 7' }, 'That PIN is too easy to guess: the keys 9 8 7 are in a straight line on the keypad. Please choose a different PIN.'],
    ['es-US', 'pin.trivial', { reason: 'keypad', keys: '9 8 7' }, 'Ese PIN es demasiado fácil de adivinar: las teclas 9 8 7 están en línea recta en el teclado. Por favor, elija otro PIN.'],
  ] as const)('when %s says %s with %j, then it reads "%s"', (locale, key, params, said) => {
    expect(catalog.render(locale, key, params)).toBe(said);
  });

  it.each(catalog.localeNames.flatMap((locale) => PROMPT_SELECTS['pin.trivial']?.reason?.map((reason) => [locale, reason] as const) ?? []))(
    'when %s says [pin.trivial] for %s, then it names that reason, not the catch-all',
    (locale, reason) => {
      const said = catalog.render(locale, 'pin.trivial', { reason, keys: '9 8 7' });
      const others = (PROMPT_SELECTS['pin.trivial']?.reason ?? []).filter((r) => r !== reason);
      for (const other of others) expect(said).not.toBe(catalog.render(locale, 'pin.trivial', { reason: other, keys: '9 8 7' }));
      expect(said).not.toBe(catalog.render(locale, 'pin.trivial', { reason: 'something-else', keys: '' }));
    },
  );

  it('when a locale has no catalog, then the en-US text is said', () => {
    expect(catalog.render('fr-FR', 'goodbye')).toBe(catalog.render('en-US', 'goodbye'));
  });
});

describe('the check at start', () => {
  const keys = ['hello', 'status'] as const;
  const load = (files: Record<string, unknown>) => {
    const directory = mkdtempSync(path.join(tmpdir(), 'pinline-catalog-'));
    for (const [name, texts] of Object.entries(files)) writeFileSync(path.join(directory, name), JSON.stringify(texts));
    return () => MessageCatalog.load({ name: 'prompts', directory, keys, arguments: { status: ['days'], hello: [] }, selects: { hello: { mood: ['glad', 'sad'] } } });
  };
  const good = { hello: 'Hello.', status: '{days, plural, one {# day} other {# days}} left.' };

  it('when every locale is complete and well formed, then it loads', () => {
    expect(load({ 'en-US.json': good, 'es-US.json': { hello: 'Hola.', status: 'Quedan {days, plural, one {# día} other {# días}}.' } })().localeNames).toEqual(['en-US', 'es-US']);
  });

  it.each([
    ['a key is missing', { 'en-US.json': { hello: 'Hello.' } }, /en-US.json has no text for "status"/],
    ['a key is unknown', { 'en-US.json': { ...good, extra: 'x' } }, /en-US.json has an unknown key "extra"/],
    ['a message does not parse', { 'en-US.json': { ...good, status: '{days, plural, one {# day}' } }, /"status" is not valid ICU MessageFormat/],
    ['a plural has no other form', { 'en-US.json': { ...good, status: '{days, plural, one {# day}}' } }, /"status" is not valid ICU MessageFormat/],
    ['an argument is misnamed', { 'en-US.json': { ...good, status: '{day} days left.' } }, /"status" must use the arguments \{days\}/],
    ['a text uses an argument it is not given', { 'en-US.json': { ...good, hello: 'Hello {name}.' } }, /"hello" must use the arguments \{\} and no other/],
    ['a plural form is not in the language', { 'en-US.json': { ...good, status: '{days, plural, on {# day} other {# days}} left.' } }, /plural form "on", which en-US does not have/],
    ['a file is not JSON', { 'en-US.json': good, 'es-US.json': '{' }, /es-US.json is not a JSON object|es-US.json is not valid JSON/],
    ['a select lacks a value it takes', { 'en-US.json': { ...good, hello: 'Hello{mood, select, glad {!} other {.}}' } }, /"hello": \{mood\} has no option "sad"/],
    ['a select has an option no value takes', { 'en-US.json': { ...good, hello: 'Hello{mood, select, glad {!} sad {.} mad {?} other {.}}' } }, /"hello": \{mood\} has an unknown option "mad"/],
  ])('when %s, then loading fails naming the file and key', (_what, files, message) => {
    const attempt = load(files);
    expect(attempt).toThrow(CatalogError);
    expect(attempt).toThrow(message);
  });
});
