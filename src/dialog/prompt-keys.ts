import type { TrivialReason } from '../pin/change.js';

/** Every prompt the phone dialog can say (DESIGN §1 "Prompt keys"). Each shipped locale has all of them. */
export const PROMPT_KEYS = [
  'welcome',
  'signin.enter_id',
  'signin.enter_pin',
  'signin.invalid',
  'signin.locked',
  'enroll.welcome',
  'enroll.done',
  'pin.expired',
  'pin.must_change',
  'pin.expiry_warning',
  'menu.main',
  'menu.invalid',
  'pin.status',
  'pin.status_never',
  'pin.enter_new',
  'pin.cancel_hint',
  'pin.confirm',
  'pin.mismatch',
  'pin.too_short',
  'pin.too_long',
  'pin.trivial',
  'pin.reused',
  'pin.changed',
  'pin.cant_change',
  'pin.too_soon',
  'no_input',
  'goodbye',
  'error.unavailable',
  'system.busy',
  'pin.temp_expired',
  'signin.reauth',
  'signin.locked_for',
  'pin.common',
  'pin.too_many_tries',
] as const;

export type PromptKey = (typeof PROMPT_KEYS)[number];

/** Placeholders the dialog fills in; every locale's text for these keys must use exactly these. */
export const PROMPT_PLACEHOLDERS: Readonly<Partial<Record<PromptKey, readonly string[]>>> = {
  'pin.expiry_warning': ['days'],
  'pin.status': ['days'],
  'pin.too_short': ['min'],
  'pin.too_long': ['max'],
  'pin.enter_new': ['min', 'max'],
  'pin.trivial': ['reason', 'keys'],
  'signin.locked_for': ['minutes'],
};

/** The reasons [pin.trivial] names, one select option each; a common PIN has its own prompt, [pin.common]. */
const TRIVIAL_PROMPT_REASONS = ['repeats', 'run', 'group', 'keypad', 'extension', 'name'] as const satisfies readonly Exclude<TrivialReason, 'common'>[];

/** The values each select placeholder takes; every locale's text must have an option for each. */
export const PROMPT_SELECTS: Readonly<Partial<Record<PromptKey, Readonly<Record<string, readonly string[]>>>>> = {
  'pin.trivial': { reason: TRIVIAL_PROMPT_REASONS },
};
