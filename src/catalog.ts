import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import { IntlMessageFormat } from 'intl-messageformat';

/** A catalog that cannot be used: every problem is named, so a start fails once with all of them. */
export class CatalogError extends Error {
  override readonly name = 'CatalogError';
}

export interface CatalogSpec<K extends string> {
  /** What the catalog is, for messages ("prompts"). */
  name: string;
  /** The directory of `<locale>.json` files. */
  directory: string;
  /** Every key each locale must have, and no other. */
  keys: readonly K[];
  /** The arguments each key's message must use, exactly; keys not listed use none. */
  arguments: Readonly<Partial<Record<K, readonly string[]>>>;
  /** For a key, the values each select argument takes: its options must be exactly these, and `other`. */
  selects?: Readonly<Partial<Record<K, Readonly<Record<string, readonly string[]>>>>>;
}

type Texts = Readonly<Record<string, string>>;

/** Every argument a message uses: `{days}`, `{days, plural, …}`, and those nested in its options. */
function argumentsOf(elements: readonly MessageFormatElement[], into = new Set<string>()): Set<string> {
  for (const element of elements) {
    if (element.type === TYPE.literal || element.type === TYPE.pound) continue;
    if (element.type === TYPE.tag) {
      argumentsOf(element.children, into);
      continue;
    }
    into.add(element.value);
    if (element.type === TYPE.plural || element.type === TYPE.select) {
      for (const option of Object.values(element.options)) argumentsOf(option.value, into);
    }
  }
  return into;
}

/** Plural options the locale does not have (a typo like `on` for `one` would never be chosen). */
function unknownPluralOptions(elements: readonly MessageFormatElement[], locale: string): string[] {
  const found: string[] = [];
  for (const element of elements) {
    if (element.type === TYPE.plural) {
      const categories = new Set<string>(new Intl.PluralRules(locale, { type: element.pluralType }).resolvedOptions().pluralCategories);
      for (const [option, { value }] of Object.entries(element.options)) {
        if (!option.startsWith('=') && !categories.has(option)) found.push(option);
        found.push(...unknownPluralOptions(value, locale));
      }
    } else if (element.type === TYPE.select) {
      for (const { value } of Object.values(element.options)) found.push(...unknownPluralOptions(value, locale));
    }
  }
  return found;
}

/** Select options that differ from the values the argument takes (a missing one would fall to `other` unheard). */
function selectMismatches(elements: readonly MessageFormatElement[], values: Readonly<Record<string, readonly string[]>>): string[] {
  const found: string[] = [];
  for (const element of elements) {
    if (element.type === TYPE.tag) found.push(...selectMismatches(element.children, values));
    if (element.type !== TYPE.plural && element.type !== TYPE.select) continue;
    const wanted = values[element.value];
    if (element.type === TYPE.select && wanted) {
      const options = Object.keys(element.options).filter((option) => option !== 'other');
      for (const value of wanted) if (!options.includes(value)) found.push(`{${element.value}} has no option "${value}"`);
      for (const option of options) if (!wanted.includes(option)) found.push(`{${element.value}} has an unknown option "${option}"`);
    }
    for (const { value } of Object.values(element.options)) found.push(...selectMismatches(value, values));
  }
  return found;
}

function sameSet(a: ReadonlySet<string>, b: readonly string[]): boolean {
  return a.size === b.length && b.every((name) => a.has(name));
}

/**
 * Per-locale texts in ICU MessageFormat (`prompts/`, and the notification texts), loaded and
 * checked once at start: every locale has every key, each message parses, uses exactly its
 * arguments, and names only plural forms its language has. Rendering never fails at run time.
 */
export class MessageCatalog<K extends string = string> {
  private readonly formats = new Map<string, IntlMessageFormat>();

  private constructor(
    private readonly texts: ReadonlyMap<string, Texts>,
    private readonly fallbackLocale: string,
  ) {}

  static load<K extends string>(spec: CatalogSpec<K>): MessageCatalog<K> {
    const problems: string[] = [];
    const locales = new Map<string, Texts>();
    const files = readdirSync(spec.directory).filter((f) => f.endsWith('.json')).sort();
    if (files.length === 0) problems.push(`no ${spec.name} in ${spec.directory}`);
    for (const file of files) {
      const locale = file.replace(/\.json$/, '');
      const where = `${spec.name} ${file}`;
      let raw: unknown;
      try {
        raw = JSON.parse(readFileSync(path.join(spec.directory, file), 'utf8'));
      } catch (err) {
        problems.push(`${where} is not valid JSON: ${(err as Error).message}`);
        continue;
      }
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        problems.push(`${where} is not a JSON object of texts`);
        continue;
      }
      const texts = raw as Record<string, unknown>;
      for (const key of Object.keys(texts)) if (!(spec.keys as readonly string[]).includes(key)) problems.push(`${where} has an unknown key "${key}"`);
      for (const key of spec.keys) {
        const text = texts[key];
        if (typeof text !== 'string' || text.trim() === '') {
          problems.push(`${where} has no text for "${key}"`);
          continue;
        }
        let elements: MessageFormatElement[];
        try {
          elements = parse(text, { requiresOtherClause: true });
        } catch (err) {
          problems.push(`${where} "${key}" is not valid ICU MessageFormat: ${(err as Error).message}`);
          continue;
        }
        const wanted = spec.arguments[key] ?? [];
        const used = argumentsOf(elements);
        if (!sameSet(used, wanted)) {
          problems.push(`${where} "${key}" must use the arguments {${wanted.join('}, {')}} and no other (it uses {${[...used].join('}, {')}})`);
        }
        for (const option of unknownPluralOptions(elements, locale)) {
          problems.push(`${where} "${key}" has the plural form "${option}", which ${locale} does not have`);
        }
        for (const mismatch of selectMismatches(elements, spec.selects?.[key] ?? {})) problems.push(`${where} "${key}": ${mismatch}`);
      }
      locales.set(locale, Object.freeze(texts as Record<string, string>));
    }
    if (problems.length > 0) throw new CatalogError(`${spec.name}: ${problems.join('; ')}`);
    return new MessageCatalog<K>(locales, locales.has('en-US') ? 'en-US' : (locales.keys().next().value as string));
  }

  get localeNames(): string[] {
    return [...this.texts.keys()];
  }

  has(locale: string): boolean {
    return this.texts.has(locale);
  }

  /** The texts of a locale as written (ICU source), for tests and tools that match what was said. */
  sourcesOf(locale: string): Texts {
    const texts = this.texts.get(locale);
    if (!texts) throw new Error(`no texts for locale ${locale}`);
    return texts;
  }

  /** The text for key in locale (falling back to en-US), with its arguments filled in. */
  render(locale: string, key: K, params: Readonly<Record<string, string | number>> = {}): string {
    const known = this.texts.has(locale) ? locale : this.fallbackLocale;
    const id = `${known}\n${key}`;
    let format = this.formats.get(id);
    if (format === undefined) {
      format = new IntlMessageFormat(this.sourcesOf(known)[key] as string, known);
      this.formats.set(id, format);
    }
    return String(format.format(params));
  }
}
