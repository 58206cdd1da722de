import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PROMPT_KEYS, PROMPT_PLACEHOLDERS } from '../../src/dialog/index.js';

const PROMPTS_DIR = new URL('../../prompts/', import.meta.url);

const files = readdirSync(PROMPTS_DIR)
  .filter((f) => f.endsWith('.json'))
  .sort();

function load(file: string): Record<string, unknown> {
  const parsed: unknown = JSON.parse(readFileSync(new URL(file, PROMPTS_DIR), 'utf8'));
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${file} is not a flat JSON object`);
  }
  return parsed as Record<string, unknown>;
}

function placeholders(text: string): string[] {
  return [...text.matchAll(/\{([^{}]*)\}/g)].map((m) => m[1] ?? '').sort();
}

describe('prompt catalogs', () => {
  it('ships en-US and es-US', () => {
    expect(files).toEqual(expect.arrayContaining(['en-US.json', 'es-US.json']));
  });

  describe.each(files)('%s', (file) => {
    const catalog = load(file);

    it('has every prompt key and no other', () => {
      const keys = Object.keys(catalog).sort();
      expect(keys.filter((k) => !(PROMPT_KEYS as readonly string[]).includes(k))).toEqual([]);
      expect(PROMPT_KEYS.filter((k) => !(k in catalog))).toEqual([]);
    });

    it.each(PROMPT_KEYS)('has a non-empty text for %s', (key) => {
      const text = catalog[key];
      expect(typeof text).toBe('string');
      expect(String(text).trim()).not.toBe('');
    });

    it.each(PROMPT_KEYS)('uses exactly the placeholders the dialog fills in for %s', (key) => {
      const text = String(catalog[key] ?? '');
      const wanted = [...(PROMPT_PLACEHOLDERS[key] ?? [])].sort();
      expect(placeholders(text)).toEqual(wanted);
    });
  });

  it('tells callers how to use the keypad in en-US', () => {
    const en = load('en-US.json');
    expect(en['menu.main']).toBe(
      'To change your PIN, press 1. To hear your PIN status, press 2. To end the call, press star.',
    );
    expect(en['pin.cancel_hint']).toBe('To cancel, press star.');
    expect(String(en['signin.enter_id'])).toMatch(/pound key/);
    expect(String(en['signin.enter_pin'])).toMatch(/pound key/);
    expect(String(en['pin.enter_new'])).toMatch(/pound key/);
    expect(String(en['system.busy'])).toMatch(/busy.*try again/i);
  });
});
