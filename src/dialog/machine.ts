import type { PromptKey } from './prompt-keys.js';
import type { CallAuditEvent } from '../audit/events.js';
import type { PinRefusal } from '../pin/change.js';
import type {
  CallerSnapshot,
  CallState,
  ChangeKind,
  DialogEvent,
  Effect,
  Gather,
  Locale,
  Phase,
  PhaseName,
  Say,
  Step,
} from './types.js';

// The pure keypad dialog (DESIGN §1). No I/O: effects are returned as data and
// their results come back as events, so the adapter owns time, hashing and the database.

const DEFAULT_MAX_FAILED_PER_CALL = 3;
const MAX_REJECTED_ENTRIES = 3;
const MAX_NO_INPUTS = 3;
const MAX_BUSY = 3;

type InputPhase = Extract<Phase, { name: 'enter_id' | 'enter_pin' | 'menu' | 'new_pin' | 'confirm_pin' }>;

const AWAITING: ReadonlySet<PhaseName> = new Set<PhaseName>([
  'identifying_caller',
  'signing_in',
  'checking_pin',
  'saving_pin',
]);

export function initialState(defaultLocale: Locale): CallState {
  return {
    phase: { name: 'start' },
    locale: defaultLocale,
    failedSignins: 0,
    maxFailedPerCall: DEFAULT_MAX_FAILED_PER_CALL,
    consecutiveNoInputs: 0,
    rejectedEntries: 0,
    busyCount: 0,
    account: null,
    pendingPinHash: null,
  };
}

/** True when the state waits for an effect result (the adapter must run step.effects and feed the result). */
export function awaitsEffect(state: CallState): boolean {
  return AWAITING.has(state.phase.name);
}

export function transition(state: CallState, event: DialogEvent): Step {
  // The state comes from a sealed URL and the event from the adapter; whatever is
  // malformed must still end the call politely, never throw into the webhook.
  try {
    return step(state, event);
  } catch {
    return internalError(state);
  }
}

// ---------------------------------------------------------------- building steps

function say(key: PromptKey, params?: Record<string, string | number>): Say {
  return params === undefined ? { key } : { key, params };
}

function ask(state: CallState, prompts: Say[], gather: Gather): Step {
  return { state, say: prompts, gather, hangup: false, effects: [] };
}

function run(state: CallState, effect: Effect): Step {
  return { state, say: [], gather: null, hangup: false, effects: [effect] };
}

function end(state: CallState, prompts: Say[], effects: Effect[] = []): Step {
  // Nothing pending outlives the call.
  return {
    state: { ...state, phase: { name: 'ended' }, pendingPinHash: null },
    say: prompts,
    gather: null,
    hangup: true,
    effects,
  };
}

function audit(event: CallAuditEvent): Effect {
  return { type: 'audit', event };
}

function internalError(state: CallState): Step {
  return end(state, [say('error.unavailable')]);
}

function gatherFor(state: CallState, phase: InputPhase): Gather {
  // `?? null`: a state sealed before snapshots carried the wait still gets the default.
  const waitSeconds = state.account?.responseWait ?? null;
  return { kind: phase.name === 'menu' ? 'menu' : 'digits', waitSeconds };
}

function newPinPrompts(kind: ChangeKind, account: CallerSnapshot | null): Say[] {
  // The length range is stated every time (DESIGN §1); a snapshot without one says the defaults.
  const enter = say('pin.enter_new', { min: account?.minLength ?? 6, max: account?.maxLength ?? 20 });
  return kind === 'voluntary' ? [enter, say('pin.cancel_hint')] : [enter];
}

/** The prompt(s) that ask for a phase's input; repeated after no input, busy, rejections. */
function promptsFor(phase: InputPhase, account: CallerSnapshot | null): Say[] {
  switch (phase.name) {
    case 'enter_id':
      return [say('signin.enter_id')];
    case 'enter_pin':
      return [say('signin.enter_pin')];
    case 'menu':
      return [say('menu.main')];
    case 'new_pin':
      return newPinPrompts(phase.kind, account);
    case 'confirm_pin':
      return [say('pin.confirm')];
  }
}

/** Enter an input phase: say `before`, then the phase's own prompt, and gather. */
function enter(state: CallState, phase: InputPhase, before: Say[] = []): Step {
  return ask({ ...state, phase }, [...before, ...promptsFor(phase, state.account)], gatherFor(state, phase));
}

/** Leaving a new-PIN dialog forgets its counters and any pending hash. */
function toMenu(state: CallState, before: Say[] = []): Step {
  return enter({ ...state, rejectedEntries: 0, pendingPinHash: null }, { name: 'menu' }, before);
}

function startNewPin(state: CallState, kind: ChangeKind, before: Say[]): Step {
  return enter({ ...state, rejectedEntries: 0, pendingPinHash: null }, { name: 'new_pin', kind }, before);
}

function nonNegative(days: number): number {
  return Math.max(0, Math.floor(days));
}

function refusalPrompt(refusal: PinRefusal): Say {
  switch (refusal.rule) {
    case 'too_short':
      return say('pin.too_short', { min: refusal.min });
    case 'too_long':
      return say('pin.too_long', { max: refusal.max });
    case 'trivial':
      if (refusal.reason === 'common') return say('pin.common');
      // The keys said one by one ("9 8 7"), not as a number; other reasons name none.
      return say('pin.trivial', { reason: refusal.reason, keys: refusal.reason === 'keypad' ? [...refusal.keys].join(' ') : '' });
    case 'reused':
      return say('pin.reused');
    case 'cannot_change':
      return say('pin.cant_change');
    case 'too_soon':
      return say('pin.too_soon');
    case 'locked':
      return say('signin.locked');
    case 'reauth':
      return say('signin.reauth');
  }
}

/** Refusals that no other PIN would get past: leave the new-PIN dialog at once. */
function endsTheChange(refusal: PinRefusal): boolean {
  return refusal.rule === 'cannot_change' || refusal.rule === 'too_soon';
}

/**
 * A lock or deletion since sign-in ends the call as a locked sign-in would; a reset or another
 * change of the credential since sign-in ends it with [signin.reauth].
 */
function onRefusal(state: CallState, kind: ChangeKind, refusal: PinRefusal): Step {
  if (refusal.rule === 'locked' || refusal.rule === 'reauth') return end(state, [refusalPrompt(refusal)]);
  if (endsTheChange(refusal)) return toMenu({ ...state, busyCount: 0 }, [refusalPrompt(refusal)]);
  return onRejectedEntry(state, kind, refusalPrompt(refusal));
}

// ---------------------------------------------------------------- the machine

function step(state: CallState, event: DialogEvent): Step {
  const phase = state.phase;
  if (phase.name === 'ended') {
    return { state, say: [], gather: null, hangup: true, effects: [] };
  }
  if (event.type === 'hangup') {
    return end(state, []);
  }
  if (event.type === 'failed') {
    return internalError(state);
  }
  switch (phase.name) {
    case 'start':
      return onStart(state, event);
    case 'identifying_caller':
      return onCallerIdentified(state, event);
    case 'enter_id':
    case 'enter_pin':
    case 'menu':
    case 'new_pin':
    case 'confirm_pin':
      return onInput(state, phase, event);
    case 'signing_in':
      return onSigninResult(state, phase, event);
    case 'checking_pin':
      return onPinChecked(state, phase.kind, event);
    case 'saving_pin':
      return onPinSaved(state, phase.kind, event);
    default:
      return internalError(state);
  }
}

function onStart(state: CallState, event: DialogEvent): Step {
  if (event.type !== 'call_started') return internalError(state);
  const next: CallState = { ...initialState(event.defaultLocale), phase: { name: 'identifying_caller' } };
  return { state: next, say: [say('welcome')], gather: null, hangup: false, effects: [{ type: 'lookup_caller' }] };
}

function onCallerIdentified(state: CallState, event: DialogEvent): Step {
  if (event.type !== 'caller_identified') return internalError(state);
  if (event.match === null) return enter(state, { name: 'enter_id' });
  // Caller ID only pre-selects the mailbox; the PIN is still required.
  return enter(
    { ...state, locale: event.match.locale },
    { name: 'enter_pin', extension: event.match.extension, fromCallerId: true },
  );
}

// ---------------------------------------------------------------- caller input

function onInput(state: CallState, phase: InputPhase, event: DialogEvent): Step {
  // Twilio sends an empty Digits on timeout; a lone '#' cannot be told apart from it.
  if (event.type === 'no_input' || (event.type === 'digits' && event.digits === '')) {
    return onNoInput(state, phase);
  }
  if (event.type !== 'digits') return internalError(state);
  const s: CallState = { ...state, consecutiveNoInputs: 0 };
  const digits = event.digits;
  switch (phase.name) {
    case 'enter_id':
      // Any ID gets the PIN prompt, so an unknown ID sounds the same as a known one.
      return enter(s, { name: 'enter_pin', extension: digits, fromCallerId: false });
    case 'enter_pin':
      if (digits === '*') return enter(s, { name: 'enter_id' });
      return run(
        { ...s, phase: { name: 'signing_in', extension: phase.extension, fromCallerId: phase.fromCallerId } },
        { type: 'verify_signin', extension: phase.extension, pin: digits },
      );
    case 'menu':
      return onMenuKey(s, digits);
    case 'new_pin':
      return onNewPin(s, phase.kind, digits);
    case 'confirm_pin':
      return onConfirmPin(s, phase.kind, digits);
  }
}

function onNoInput(state: CallState, phase: InputPhase): Step {
  const count = state.consecutiveNoInputs + 1;
  const s: CallState = { ...state, consecutiveNoInputs: count };
  if (count >= MAX_NO_INPUTS) {
    return end(s, [say('goodbye')], [audit('call.no_input_limit')]);
  }
  return enter(s, phase, [say('no_input')]);
}

function onMenuKey(state: CallState, key: string): Step {
  const account = state.account;
  if (account === null) return internalError(state);
  switch (key) {
    case '1':
      if (account.cannotChange) return toMenu(state, [say('pin.cant_change')]);
      if (account.tooSoonToChange) return toMenu(state, [say('pin.too_soon')]);
      return startNewPin(state, 'voluntary', []);
    case '2':
      return toMenu(state, [
        account.daysUntilExpiry === null
          ? say('pin.status_never')
          : say('pin.status', { days: nonNegative(account.daysUntilExpiry) }),
      ]);
    case '*':
      return end(state, [say('goodbye')]);
    default:
      return toMenu(state, [say('menu.invalid')]);
  }
}

function onNewPin(state: CallState, kind: ChangeKind, digits: string): Step {
  if (digits === '*') {
    if (kind === 'voluntary') return toMenu(state);
    return enter(state, { name: 'new_pin', kind }, [say('pin.must_change')]);
  }
  const account = state.account;
  if (account === null) return internalError(state);
  // Non-digit entries go to the policy check too: it owns the rule and its prompt.
  return run(
    { ...state, phase: { name: 'checking_pin', kind }, pendingPinHash: null },
    { type: 'check_new_pin', userId: account.userId, credentialVersion: account.credentialVersion, pin: digits, kind },
  );
}

function onConfirmPin(state: CallState, kind: ChangeKind, digits: string): Step {
  if (digits === '*') {
    if (kind === 'voluntary') return toMenu(state);
    return enter(state, { name: 'confirm_pin', kind }, [say('pin.must_change')]);
  }
  const account = state.account;
  const pendingPinHash = state.pendingPinHash;
  if (account === null || pendingPinHash === null) return internalError(state);
  return run(
    { ...state, phase: { name: 'saving_pin', kind } },
    { type: 'save_pin', userId: account.userId, credentialVersion: account.credentialVersion, confirmation: digits, pendingPinHash, kind },
  );
}

// ---------------------------------------------------------------- effect results

/** Busy re-asks for the input the effect came from, up to MAX_BUSY times in a row. */
function onBusy(state: CallState, retry: InputPhase): Step {
  const count = state.busyCount + 1;
  const s: CallState = { ...state, busyCount: count };
  if (count >= MAX_BUSY) return end(s, [say('system.busy'), say('goodbye')]);
  return enter(s, retry, [say('system.busy')]);
}

function perCallLimit(value: number): number {
  // A rule value that makes no sense falls back to the default rather than never hanging up.
  return Number.isInteger(value) && value >= 1 ? value : DEFAULT_MAX_FAILED_PER_CALL;
}

function onSigninResult(
  state: CallState,
  phase: Extract<Phase, { name: 'signing_in' }>,
  event: DialogEvent,
): Step {
  if (event.type === 'busy') {
    return onBusy(state, { name: 'enter_pin', extension: phase.extension, fromCallerId: phase.fromCallerId });
  }
  if (event.type !== 'signin_result') return internalError(state);
  const s: CallState = { ...state, busyCount: 0 };
  switch (event.outcome) {
    case 'ok':
      return afterSignin({ ...s, account: event.account, locale: event.account.locale }, event.account);
    case 'invalid': {
      const failedSignins = s.failedSignins + 1;
      const maxFailedPerCall = perCallLimit(event.maxFailedPerCall);
      const next: CallState = { ...s, failedSignins, maxFailedPerCall };
      if (failedSignins >= maxFailedPerCall) {
        return end(next, [say('signin.invalid'), say('goodbye')], [audit('call.signin_limit')]);
      }
      // Always back to ID entry, even after caller ID: it may have picked the wrong mailbox.
      return enter(next, { name: 'enter_id' }, [say('signin.invalid')]);
    }
    case 'locked':
      return end(s, [
        event.lockedForMinutes === null ? say('signin.locked') : say('signin.locked_for', { minutes: Math.max(1, Math.ceil(event.lockedForMinutes)) }),
      ]);
    case 'temp_expired':
      return end(s, [say('pin.temp_expired')]);
  }
}

function afterSignin(state: CallState, account: CallerSnapshot): Step {
  if (account.requiredChange === 'enrollment') return startNewPin(state, 'enrollment', [say('enroll.welcome')]);
  if (account.requiredChange === 'forced') return startNewPin(state, 'forced', [say('pin.expired')]);
  if (account.daysUntilExpiry !== null && account.daysUntilExpiry <= account.warningDays) {
    return toMenu(state, [say('pin.expiry_warning', { days: nonNegative(account.daysUntilExpiry) })]);
  }
  return toMenu(state);
}

/** A rejected new PIN or a mismatched confirmation: count it, then re-ask or give up. */
function onRejectedEntry(state: CallState, kind: ChangeKind, reason: Say): Step {
  const rejectedEntries = state.rejectedEntries + 1;
  const s: CallState = { ...state, busyCount: 0, rejectedEntries, pendingPinHash: null };
  if (rejectedEntries >= MAX_REJECTED_ENTRIES) {
    if (kind === 'voluntary') return toMenu(s, [reason]);
    // Enrollment and a forced change cannot be skipped, so the call ends, saying nothing changed.
    return end(s, [reason, say('pin.too_many_tries')], [audit('call.pin_entry_limit')]);
  }
  return enter(s, { name: 'new_pin', kind }, [reason]);
}

function onPinChecked(state: CallState, kind: ChangeKind, event: DialogEvent): Step {
  if (event.type === 'busy') return onBusy(state, { name: 'new_pin', kind });
  if (event.type !== 'pin_checked') return internalError(state);
  if (event.outcome === 'rejected') return onRefusal(state, kind, event.refusal);
  return enter(
    { ...state, busyCount: 0, pendingPinHash: event.pendingPinHash },
    { name: 'confirm_pin', kind },
  );
}

function onPinSaved(state: CallState, kind: ChangeKind, event: DialogEvent): Step {
  if (event.type === 'busy') return onBusy(state, { name: 'confirm_pin', kind });
  if (event.type !== 'pin_saved') return internalError(state);
  switch (event.outcome) {
    case 'mismatch':
      return onRejectedEntry(state, kind, say('pin.mismatch'));
    case 'rejected':
      return onRefusal(state, kind, event.refusal);
    case 'saved': {
      const account = state.account;
      if (account === null) return internalError(state);
      const updated: CallerSnapshot = {
        ...account,
        credentialVersion: event.credentialVersion,
        requiredChange: null,
        tooSoonToChange: event.tooSoonToChange ?? true,
        daysUntilExpiry: event.daysUntilExpiry,
      };
      return toMenu({ ...state, busyCount: 0, account: updated }, [
        say(kind === 'enrollment' ? 'enroll.done' : 'pin.changed'),
      ]);
    }
  }
}
