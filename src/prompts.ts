import { fileURLToPath } from 'node:url';
import { MessageCatalog } from './catalog.js';
import { PROMPT_KEYS, PROMPT_PLACEHOLDERS, PROMPT_SELECTS, type PromptKey } from './dialog/prompt-keys.js';

/** prompts/ at the package root; the same relative path from src/ and dist/. */
const PROMPTS_DIR = fileURLToPath(new URL('../prompts/', import.meta.url));

/** The one prompt catalog: what the dialog's prompt keys say in each locale. */
export type PromptCatalog = MessageCatalog<PromptKey>;

/** Loads and checks prompts/<locale>.json; a bad catalog stops the start, naming every problem. */
export function loadPromptCatalog(directory: string = PROMPTS_DIR): PromptCatalog {
  return MessageCatalog.load({ name: 'prompts', directory, keys: PROMPT_KEYS, arguments: PROMPT_PLACEHOLDERS, selects: PROMPT_SELECTS });
}
