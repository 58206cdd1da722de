import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** prompts/ at the package root; the same relative path from src/ and dist/. */
export const PROMPTS_DIR = fileURLToPath(new URL('../prompts/', import.meta.url));

export type PromptTexts = Readonly<Record<string, string>>;

/** The one prompt catalog: prompts/<locale>.json, loaded once at start. */
export class PromptCatalog {
  private constructor(private readonly locales: ReadonlyMap<string, PromptTexts>) {}

  static load(directory: string = PROMPTS_DIR): PromptCatalog {
    const locales = new Map<string, PromptTexts>();
    for (const file of readdirSync(directory).filter((f) => f.endsWith('.json')).sort()) {
      const texts = JSON.parse(readFileSync(new URL(file, `file://${directory.endsWith('/') ? directory : directory + '/'}`), 'utf8'));
      locales.set(file.replace(/\.json$/, ''), Object.freeze(texts as Record<string, string>));
    }
    return new PromptCatalog(locales);
  }

  get localeNames(): string[] {
    return [...this.locales.keys()];
  }

  textsOf(locale: string): PromptTexts {
    const texts = this.locales.get(locale);
    if (!texts) throw new Error(`no prompts for locale ${locale}`);
    return texts;
  }

  has(locale: string): boolean {
    return this.locales.has(locale);
  }

  /** The text for key in locale (falling back to en-US), with {placeholders} filled in. */
  render(locale: string, key: string, params: Readonly<Record<string, string | number>> = {}): string {
    const texts = this.locales.get(locale) ?? this.locales.get('en-US');
    const template = texts?.[key];
    if (template === undefined) throw new Error(`prompt "${key}" is missing for ${locale}`);
    // Most prompts have no placeholder: no regular expression for them on every turn.
    if (!template.includes('{')) return template;
    return template.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
  }
}
