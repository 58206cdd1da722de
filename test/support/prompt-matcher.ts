import { parse, TYPE, type MessageFormatElement } from '@formatjs/icu-messageformat-parser';
import type { PromptCatalog } from '../../src/prompts.js';

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

interface Pattern {
  key: string;
  regexp: RegExp;
  /** The argument each capture group holds, in order (a plural's `#` holds its argument). */
  groups: string[];
}

/** A regular expression for every text an ICU message can render, capturing its arguments. */
function patternOf(elements: readonly MessageFormatElement[], groups: string[], pluralArgument: string | null = null): string {
  return elements
    .map((element) => {
      switch (element.type) {
        case TYPE.literal:
          return escapeRegExp(element.value);
        case TYPE.pound:
          groups.push(pluralArgument ?? '#');
          return '([0-9][0-9,.]*)';
        case TYPE.plural:
        case TYPE.select:
          return `(?:${Object.values(element.options)
            .map((option) => patternOf(option.value, groups, element.type === TYPE.plural ? element.value : pluralArgument))
            .join('|')})`;
        case TYPE.tag:
          return patternOf(element.children, groups, pluralArgument);
        default:
          groups.push(element.value);
          return '(.+?)';
      }
    })
    .join('');
}

/**
 * Turns said texts back into prompt keys, with the arguments they were said with:
 * `pin.status{days=12}`; an exact option such as `=0` shows as the key alone. Unknown texts
 * come back as `?text`.
 */
export function promptMatcher(catalog: PromptCatalog): (text: string) => string {
  const patterns: Pattern[] = [];
  for (const locale of catalog.localeNames) {
    for (const [key, source] of Object.entries(catalog.sourcesOf(locale))) {
      const groups: string[] = [];
      const regexp = new RegExp(`^${patternOf(parse(source), groups)}$`);
      patterns.push({ key, regexp, groups });
    }
  }
  return (text) => {
    for (const { key, regexp, groups } of patterns) {
      const match = regexp.exec(text);
      if (!match) continue;
      const values = new Map<string, string>();
      groups.forEach((name, i) => {
        const value = match[i + 1];
        if (value !== undefined && !values.has(name)) values.set(name, value);
      });
      return values.size > 0 ? `${key}{${[...values].map(([name, value]) => `${name}=${value}`).join(',')}}` : key;
    }
    return `?${text}`;
  };
}
