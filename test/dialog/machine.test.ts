import { describe, expect, it } from 'vitest';
import { PROMPT_KEYS, PROMPT_PLACEHOLDERS, awaitsEffect, initialState, transition } from '../../src/dialog/index.js';
import type { PinRefusal } from '../../src/pin/change.js';
import type {
  CallerSnapshot,
  CallState,
  ChangeKind,
  DialogEvent,
  Effect,
  Gather,
  Phase,
  PromptKey,
  Say,
  Step,
} from '../../src/dialog/index.js';
import { seededRandom as prng } from '../support/random.js';

// ---------------------------------------------------------------- fixtures

function acct(over: Partial<CallerSnapshot> = {}): CallerSnapshot {
  return {
    userId: 7,
    credentialVersion: 3,
    extension: '1001',
    locale: 'es-US',
    requiredChange: null,
    daysUntilExpiry: 100,
    warningDays: 15,
    cannotChange: false,
    tooSoonToChange: false,
    responseWait: 9,
    minLength: 6,
    maxLength: 20,
    ...over,
  };
}

/** A state before sign-in. */
function at(phase: Phase, over: Partial<CallState> = {}): CallState {
  return { ...initialState('en-US'), phase, ...over };
}

/** A state after sign-in. */
function signedIn(phase: Phase, over: Partial<CallState> = {}, account: Partial<CallerSnapshot> = {}): CallState {
  return { ...initialState('en-US'), locale: 'es-US', account: acct(account), phase, ...over };
}

const digits = (d: string): DialogEvent => ({ type: 'digits', digits: d });
const NO_INPUT: DialogEvent = { type: 'no_input' };
const BUSY: DialogEvent = { type: 'busy' };
const FAILED: DialogEvent = { type: 'failed' };
const HANGUP: DialogEvent = { type: 'hangup' };
const ok = (account: Partial<CallerSnapshot> = {}): DialogEvent => ({
  type: 'signin_result',
  outcome: 'ok',
  account: acct(account),
});
const invalid = (maxFailedPerCall = 3): DialogEvent => ({ type: 'signin_result', outcome: 'invalid', maxFailedPerCall });
const LOCKED: DialogEvent = { type: 'signin_result', outcome: 'locked', lockedForMinutes: null };
/** [pin.enter_new] with the default rule's length range. */
const ENTER_NEW: Say = { key: 'pin.enter_new', params: { min: 6, max: 20 } };
const accepted = (hash = 'hash-A'): DialogEvent => ({ type: 'pin_checked', outcome: 'accepted', pendingPinHash: hash });
const checkRejected = (refusal: PinRefusal): DialogEvent => ({ type: 'pin_checked', outcome: 'rejected', refusal });
const saved = (daysUntilExpiry: number | null = 180, tooSoonToChange?: boolean): DialogEvent =>
  tooSoonToChange === undefined
    ? { type: 'pin_saved', outcome: 'saved', daysUntilExpiry, credentialVersion: 4 }
    : { type: 'pin_saved', outcome: 'saved', daysUntilExpiry, tooSoonToChange, credentialVersion: 4 };
const MISMATCH: DialogEvent = { type: 'pin_saved', outcome: 'mismatch' };
const saveRejected = (refusal: PinRefusal): DialogEvent => ({ type: 'pin_saved', outcome: 'rejected', refusal });

const ENDED: Phase = { name: 'ended' };
const MENU: Phase = { name: 'menu' };
const ENTER_ID: Phase = { name: 'enter_id' };
const newPin = (kind: ChangeKind): Phase => ({ name: 'new_pin', kind });
const checking = (kind: ChangeKind): Phase => ({ name: 'checking_pin', kind });
const confirm = (kind: ChangeKind): Phase => ({ name: 'confirm_pin', kind });
const saving = (kind: ChangeKind): Phase => ({ name: 'saving_pin', kind });
const enterPin = (extension: string, fromCallerId: boolean): Phase => ({ name: 'enter_pin', extension, fromCallerId });
const signingIn = (extension: string, fromCallerId: boolean): Phase => ({ name: 'signing_in', extension, fromCallerId });

const ERROR: Pick<Case, 'say' | 'phase'> = { say: ['error.unavailable'], phase: ENDED };

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** What a phase gathers, waiting the signed-in caller's response wait (the default before sign-in). */
function expectedGather(phase: Phase, account: CallerSnapshot | null): Gather | null {
  const waitSeconds = account?.responseWait ?? null;
  switch (phase.name) {
    case 'menu':
      return { kind: 'menu', waitSeconds };
    case 'enter_id':
    case 'enter_pin':
    case 'new_pin':
    case 'confirm_pin':
      return { kind: 'digits', waitSeconds };
    default:
      return null;
  }
}

interface Case {
  name: string;
  state: CallState;
  event: DialogEvent;
  say: (PromptKey | Say)[];
  phase: Phase;
  /** Defaults to what the phase gathers (none while ended or awaiting an effect). */
  gather?: Gather | null;
  /** Defaults to true exactly when the call ends. */
  hangup?: boolean;
  effects?: Effect[];
  expectState?: Partial<CallState>;
}

function check(c: Case): Step {
  const before = JSON.stringify(c.state);
  const step = transition(deepFreeze(structuredClone(c.state)), c.event);
  expect(step.say).toEqual(c.say.map((s) => (typeof s === 'string' ? { key: s } : s)));
  expect(step.state.phase).toEqual(c.phase);
  expect(step.gather).toEqual('gather' in c ? c.gather : expectedGather(c.phase, step.state.account));
  expect(step.hangup).toBe(c.hangup ?? c.phase.name === 'ended');
  expect(step.effects).toEqual(c.effects ?? []);
  if (c.expectState) expect(step.state).toMatchObject(c.expectState);
  expect(JSON.stringify(c.state)).toBe(before);
  return step;
}

function table(title: string, cases: Case[]): void {
  describe(title, () => {
    it.each(cases)('$name', (c) => {
      check(c);
    });
  });
}

// ---------------------------------------------------------------- sign-in

table('call start and caller ID', [
  {
    name: 'when start gets call_started, then it says [welcome] and looks up the caller',
    state: initialState('en-US'),
    event: { type: 'call_started', defaultLocale: 'es-US' },
    say: ['welcome'],
    phase: { name: 'identifying_caller' },
    effects: [{ type: 'lookup_caller' }],
    expectState: { locale: 'es-US', failedSignins: 0, maxFailedPerCall: 3, account: null },
  },
  {
    name: "when identifying_caller gets a match, then it asks for that mailbox's PIN in the user's language",
    state: at({ name: 'identifying_caller' }),
    event: { type: 'caller_identified', match: { extension: '1001', locale: 'es-US' } },
    say: ['signin.enter_pin'],
    phase: enterPin('1001', true),
    expectState: { locale: 'es-US' },
  },
  {
    name: 'when identifying_caller gets no match, then it asks for the ID',
    state: at({ name: 'identifying_caller' }),
    event: { type: 'caller_identified', match: null },
    say: ['signin.enter_id'],
    phase: ENTER_ID,
    expectState: { locale: 'en-US' },
  },
  {
    name: 'when start gets digits, then it is an internal error',
    state: initialState('en-US'),
    event: digits('1'),
    ...ERROR,
  },
  {
    name: 'when identifying_caller gets digits, then it is an internal error',
    state: at({ name: 'identifying_caller' }),
    event: digits('1001'),
    ...ERROR,
  },
  {
    name: 'when identifying_caller gets busy, then it is an internal error',
    state: at({ name: 'identifying_caller' }),
    event: BUSY,
    ...ERROR,
  },
]);

table('ID and PIN entry', [
  {
    name: 'when enter_id gets an ID, then it asks for the PIN of that ID',
    state: at(ENTER_ID),
    event: digits('1001'),
    say: ['signin.enter_pin'],
    phase: enterPin('1001', false),
  },
  {
    name: 'when enter_id gets an ID no user has, then it still asks for the PIN',
    state: at(ENTER_ID),
    event: digits('98765432'),
    say: ['signin.enter_pin'],
    phase: enterPin('98765432', false),
  },
  {
    name: 'when enter_pin (from caller ID) gets *, then it switches to ID entry',
    state: at(enterPin('1001', true)),
    event: digits('*'),
    say: ['signin.enter_id'],
    phase: ENTER_ID,
    effects: [],
  },
  {
    name: 'when enter_pin (after ID entry) gets *, then it goes back to ID entry without checking a PIN',
    state: at(enterPin('1001', false)),
    event: digits('*'),
    say: ['signin.enter_id'],
    phase: ENTER_ID,
    effects: [],
  },
  {
    name: 'when enter_pin gets a PIN, then it verifies the sign-in and waits',
    state: at(enterPin('1001', false)),
    event: digits('135790'),
    say: [],
    phase: signingIn('1001', false),
    effects: [{ type: 'verify_signin', extension: '1001', pin: '135790' }],
  },
  {
    name: 'when enter_pin (from caller ID) gets a PIN, then it verifies it for the caller-ID mailbox',
    state: at(enterPin('1001', true)),
    event: digits('246801'),
    say: [],
    phase: signingIn('1001', true),
    effects: [{ type: 'verify_signin', extension: '1001', pin: '246801' }],
  },
  {
    name: 'when enter_pin gets a PIN after two no-inputs, then the no-input count resets',
    state: at(enterPin('1001', false), { consecutiveNoInputs: 2 }),
    event: digits('135790'),
    say: [],
    phase: signingIn('1001', false),
    effects: [{ type: 'verify_signin', extension: '1001', pin: '135790' }],
    expectState: { consecutiveNoInputs: 0 },
  },
]);

table('sign-in results', [
  {
    name: 'when signing_in gets ok, then it plays the main menu in the account language',
    state: at(signingIn('1001', false), { failedSignins: 1 }),
    event: ok(),
    say: ['menu.main'],
    phase: MENU,
    expectState: { account: acct(), locale: 'es-US', failedSignins: 1 },
  },
  {
    name: 'when signing_in gets ok with enrollment pending, then it welcomes and asks for a new PIN without a cancel hint',
    state: at(signingIn('1001', true)),
    event: ok({ requiredChange: 'enrollment' }),
    say: ['enroll.welcome', ENTER_NEW],
    phase: newPin('enrollment'),
    expectState: { rejectedEntries: 0, pendingPinHash: null },
  },
  {
    name: 'when signing_in gets ok with enrollment pending and cannot-change, then enrollment still runs',
    state: at(signingIn('1001', false)),
    event: ok({ requiredChange: 'enrollment', cannotChange: true, tooSoonToChange: true }),
    say: ['enroll.welcome', ENTER_NEW],
    phase: newPin('enrollment'),
  },
  {
    name: 'when signing_in gets ok with must-change, then it says [pin.expired] and forces a new PIN',
    state: at(signingIn('1001', false)),
    event: ok({ requiredChange: 'forced' }),
    say: ['pin.expired', ENTER_NEW],
    phase: newPin('forced'),
  },
  {
    name: 'when signing_in gets ok with must-change and cannot-change, then the change is still forced',
    state: at(signingIn('1001', false)),
    event: ok({ requiredChange: 'forced', cannotChange: true, tooSoonToChange: true }),
    say: ['pin.expired', ENTER_NEW],
    phase: newPin('forced'),
  },
  {
    name: 'when signing_in gets ok with days == warningDays, then it warns before the menu',
    state: at(signingIn('1001', false)),
    event: ok({ daysUntilExpiry: 15, warningDays: 15 }),
    say: [{ key: 'pin.expiry_warning', params: { days: 15 } }, 'menu.main'],
    phase: MENU,
  },
  {
    name: 'when signing_in gets ok with days == warningDays + 1, then it plays the menu without a warning',
    state: at(signingIn('1001', false)),
    event: ok({ daysUntilExpiry: 16, warningDays: 15 }),
    say: ['menu.main'],
    phase: MENU,
  },
  {
    name: 'when signing_in gets ok with 0 days left, then it warns with 0 days',
    state: at(signingIn('1001', false)),
    event: ok({ daysUntilExpiry: 0, warningDays: 15 }),
    say: [{ key: 'pin.expiry_warning', params: { days: 0 } }, 'menu.main'],
    phase: MENU,
  },
  {
    name: 'when signing_in gets ok with a PIN that never expires, then it plays the menu',
    state: at(signingIn('1001', false)),
    event: ok({ daysUntilExpiry: null }),
    say: ['menu.main'],
    phase: MENU,
  },
  {
    name: 'when signing_in gets ok after a busy answer, then the busy count resets',
    state: at(signingIn('1001', false), { busyCount: 2 }),
    event: ok(),
    say: ['menu.main'],
    phase: MENU,
    expectState: { busyCount: 0 },
  },
  {
    name: 'when signing_in gets invalid, then it says [signin.invalid] and asks for the ID again',
    state: at(signingIn('1001', false)),
    event: invalid(3),
    say: ['signin.invalid', 'signin.enter_id'],
    phase: ENTER_ID,
    expectState: { failedSignins: 1, maxFailedPerCall: 3, account: null },
  },
  {
    name: 'when signing_in (from caller ID) gets invalid, then it asks for the ID, not the PIN',
    state: at(signingIn('1001', true)),
    event: invalid(3),
    say: ['signin.invalid', 'signin.enter_id'],
    phase: ENTER_ID,
    expectState: { failedSignins: 1 },
  },
  {
    name: 'when signing_in gets the third invalid of 3, then it says goodbye, hangs up and audits',
    state: at(signingIn('1001', false), { failedSignins: 2 }),
    event: invalid(3),
    say: ['signin.invalid', 'goodbye'],
    phase: ENDED,
    effects: [{ type: 'audit', event: 'call.signin_limit' }],
    expectState: { failedSignins: 3 },
  },
  {
    name: 'when signing_in gets the fourth invalid of a custom 5, then it asks for the ID again',
    state: at(signingIn('1001', false), { failedSignins: 3 }),
    event: invalid(5),
    say: ['signin.invalid', 'signin.enter_id'],
    phase: ENTER_ID,
    expectState: { failedSignins: 4, maxFailedPerCall: 5 },
  },
  {
    name: 'when signing_in gets the fifth invalid of a custom 5, then it hangs up',
    state: at(signingIn('1001', false), { failedSignins: 4 }),
    event: invalid(5),
    say: ['signin.invalid', 'goodbye'],
    phase: ENDED,
    effects: [{ type: 'audit', event: 'call.signin_limit' }],
  },
  {
    name: 'when signing_in gets the first invalid of a custom 1, then it hangs up',
    state: at(signingIn('1001', false)),
    event: invalid(1),
    say: ['signin.invalid', 'goodbye'],
    phase: ENDED,
    effects: [{ type: 'audit', event: 'call.signin_limit' }],
  },
  {
    name: 'when signing_in gets invalid with a nonsense limit of 0, then the default of 3 applies',
    state: at(signingIn('1001', false)),
    event: invalid(0),
    say: ['signin.invalid', 'signin.enter_id'],
    phase: ENTER_ID,
    expectState: { failedSignins: 1, maxFailedPerCall: 3 },
  },
  {
    name: 'when signing_in gets locked, then it says [signin.locked] and hangs up',
    state: at(signingIn('1001', false)),
    event: LOCKED,
    say: ['signin.locked'],
    phase: ENDED,
    expectState: { failedSignins: 0 },
  },
  ...([
    [30, 30],
    [0.2, 1],
    [29.5, 30],
    [1, 1],
  ] as const).map(
    ([lockedForMinutes, minutes]): Case => ({
      name: `when signing_in gets an intruder lockout ending in ${lockedForMinutes} minutes, then it says [signin.locked_for] ${minutes} and hangs up`,
      state: at(signingIn('1001', false)),
      event: { type: 'signin_result', outcome: 'locked', lockedForMinutes },
      say: [{ key: 'signin.locked_for', params: { minutes } }],
      phase: ENDED,
    }),
  ),
  {
    name: 'when signing_in gets temp_expired, then it says [pin.temp_expired] and hangs up without counting a failure',
    state: at(signingIn('1001', false)),
    event: { type: 'signin_result', outcome: 'temp_expired' },
    say: ['pin.temp_expired'],
    phase: ENDED,
    expectState: { failedSignins: 0 },
  },
  {
    name: 'when signing_in gets busy, then it says [system.busy] and asks for the same PIN again',
    state: at(signingIn('1001', true)),
    event: BUSY,
    say: ['system.busy', 'signin.enter_pin'],
    phase: enterPin('1001', true),
    expectState: { busyCount: 1, failedSignins: 0 },
  },
  {
    name: 'when signing_in gets a third busy in a row, then it says [system.busy], goodbye and hangs up',
    state: at(signingIn('1001', false), { busyCount: 2 }),
    event: BUSY,
    say: ['system.busy', 'goodbye'],
    phase: ENDED,
    expectState: { busyCount: 3 },
  },
  {
    name: 'when signing_in gets failed, then it says [error.unavailable] and hangs up',
    state: at(signingIn('1001', false)),
    event: FAILED,
    ...ERROR,
  },
  {
    name: 'when signing_in gets digits, then it is an internal error',
    state: at(signingIn('1001', false)),
    event: digits('1'),
    ...ERROR,
  },
  {
    name: 'when signing_in gets no_input, then it is an internal error',
    state: at(signingIn('1001', false)),
    event: NO_INPUT,
    ...ERROR,
  },
  {
    name: 'when signing_in gets pin_checked, then it is an internal error',
    state: at(signingIn('1001', false)),
    event: accepted(),
    ...ERROR,
  },
]);

// ---------------------------------------------------------------- main menu

table('main menu', [
  {
    name: 'when menu gets 1, then it asks for a new PIN with the cancel hint',
    state: signedIn(MENU, { rejectedEntries: 2 }),
    event: digits('1'),
    say: [ENTER_NEW, 'pin.cancel_hint'],
    phase: newPin('voluntary'),
    expectState: { rejectedEntries: 0, pendingPinHash: null },
  },
  {
    name: 'when menu gets 1 and the user cannot change, then it says [pin.cant_change] and the menu',
    state: signedIn(MENU, {}, { cannotChange: true }),
    event: digits('1'),
    say: ['pin.cant_change', 'menu.main'],
    phase: MENU,
  },
  {
    name: 'when menu gets 1 too soon after the last change, then it says [pin.too_soon] and the menu',
    state: signedIn(MENU, {}, { tooSoonToChange: true }),
    event: digits('1'),
    say: ['pin.too_soon', 'menu.main'],
    phase: MENU,
  },
  {
    name: 'when menu gets 1, cannot change and too soon, then [pin.cant_change] wins',
    state: signedIn(MENU, {}, { cannotChange: true, tooSoonToChange: true }),
    event: digits('1'),
    say: ['pin.cant_change', 'menu.main'],
    phase: MENU,
  },
  {
    name: 'when menu gets 2, then it says the days until expiry and the menu',
    state: signedIn(MENU, {}, { daysUntilExpiry: 42 }),
    event: digits('2'),
    say: [{ key: 'pin.status', params: { days: 42 } }, 'menu.main'],
    phase: MENU,
  },
  {
    name: 'when menu gets 2 and the PIN never expires, then it says [pin.status_never] and the menu',
    state: signedIn(MENU, {}, { daysUntilExpiry: null }),
    event: digits('2'),
    say: ['pin.status_never', 'menu.main'],
    phase: MENU,
  },
  {
    name: 'when menu gets *, then it says goodbye and hangs up',
    state: signedIn(MENU),
    event: digits('*'),
    say: ['goodbye'],
    phase: ENDED,
  },
  ...['#', '0', '3', '9', '11', '12', '1#', '**'].map(
    (key): Case => ({
      name: `when menu gets '${key}', then it says [menu.invalid] and the menu`,
      state: signedIn(MENU),
      event: digits(key),
      say: ['menu.invalid', 'menu.main'],
      phase: MENU,
    }),
  ),
  {
    name: 'when menu gets a key after two no-inputs, then the no-input count resets',
    state: signedIn(MENU, { consecutiveNoInputs: 2 }),
    event: digits('0'),
    say: ['menu.invalid', 'menu.main'],
    phase: MENU,
    expectState: { consecutiveNoInputs: 0 },
  },
  {
    name: 'when menu gets signin_result, then it is an internal error',
    state: signedIn(MENU),
    event: ok(),
    ...ERROR,
  },
  {
    name: 'when menu gets busy, then it is an internal error',
    state: signedIn(MENU),
    event: BUSY,
    ...ERROR,
  },
  {
    name: 'when menu without an account gets 1, then it is an internal error',
    state: at(MENU),
    event: digits('1'),
    ...ERROR,
  },
]);

// ---------------------------------------------------------------- new-PIN dialog

table('new PIN entry', [
  {
    name: 'when new_pin (voluntary) gets *, then it goes back to the menu',
    state: signedIn(newPin('voluntary'), { rejectedEntries: 2 }),
    event: digits('*'),
    say: ['menu.main'],
    phase: MENU,
    expectState: { rejectedEntries: 0, pendingPinHash: null },
  },
  {
    name: 'when new_pin (enrollment) gets *, then it says [pin.must_change] and asks again',
    state: signedIn(newPin('enrollment'), { rejectedEntries: 1 }),
    event: digits('*'),
    say: ['pin.must_change', ENTER_NEW],
    phase: newPin('enrollment'),
    expectState: { rejectedEntries: 1 },
  },
  {
    name: 'when new_pin (forced) gets *, then it says [pin.must_change] and asks again',
    state: signedIn(newPin('forced')),
    event: digits('*'),
    say: ['pin.must_change', ENTER_NEW],
    phase: newPin('forced'),
  },
  ...(['voluntary', 'enrollment', 'forced'] as const).map(
    (kind): Case => ({
      name: `when new_pin (${kind}) gets a PIN, then it checks it against the rule`,
      state: signedIn(newPin(kind)),
      event: digits('135790'),
      say: [],
      phase: checking(kind),
      effects: [{ type: 'check_new_pin', userId: 7, credentialVersion: 3, pin: '135790', kind }],
    }),
  ),
  {
    name: 'when new_pin gets a non-numeric entry, then the policy check decides',
    state: signedIn(newPin('enrollment')),
    event: digits('12*4'),
    say: [],
    phase: checking('enrollment'),
    effects: [{ type: 'check_new_pin', userId: 7, credentialVersion: 3, pin: '12*4', kind: 'enrollment' }],
  },
  {
    name: 'when new_pin without an account gets a PIN, then it is an internal error',
    state: at(newPin('voluntary')),
    event: digits('135790'),
    ...ERROR,
  },
]);

const REFUSALS: { refusal: PinRefusal; say: Say }[] = [
  { refusal: { rule: 'too_short', min: 6 }, say: { key: 'pin.too_short', params: { min: 6 } } },
  { refusal: { rule: 'too_long', max: 20 }, say: { key: 'pin.too_long', params: { max: 20 } } },
  { refusal: { rule: 'trivial', reason: 'keypad', keys: '987' }, say: { key: 'pin.trivial', params: { reason: 'keypad', keys: '9 8 7' } } },
  { refusal: { rule: 'trivial', reason: 'repeats' }, say: { key: 'pin.trivial', params: { reason: 'repeats', keys: '' } } },
  { refusal: { rule: 'trivial', reason: 'run' }, say: { key: 'pin.trivial', params: { reason: 'run', keys: '' } } },
  { refusal: { rule: 'trivial', reason: 'group' }, say: { key: 'pin.trivial', params: { reason: 'group', keys: '' } } },
  { refusal: { rule: 'trivial', reason: 'extension' }, say: { key: 'pin.trivial', params: { reason: 'extension', keys: '' } } },
  { refusal: { rule: 'trivial', reason: 'name' }, say: { key: 'pin.trivial', params: { reason: 'name', keys: '' } } },
  { refusal: { rule: 'trivial', reason: 'common' }, say: { key: 'pin.common' } },
  { refusal: { rule: 'reused', history: 5 }, say: { key: 'pin.reused' } },
];

table('new PIN check', [
  {
    name: 'when checking_pin gets accepted, then it keeps the hash and asks for confirmation',
    state: signedIn(checking('voluntary'), { busyCount: 1 }),
    event: accepted('hash-A'),
    say: ['pin.confirm'],
    phase: confirm('voluntary'),
    expectState: { pendingPinHash: 'hash-A', busyCount: 0 },
  },
  ...REFUSALS.map(
    ({ refusal, say }): Case => ({
      name: `when checking_pin (voluntary) gets rejected for ${refusal.rule} (${'reason' in refusal ? refusal.reason : '-'}), then it says why and asks again with the hint`,
      state: signedIn(checking('voluntary')),
      event: checkRejected(refusal),
      say: [say, ENTER_NEW, 'pin.cancel_hint'],
      phase: newPin('voluntary'),
      expectState: { rejectedEntries: 1 },
    }),
  ),
  ...REFUSALS.map(
    ({ refusal, say }): Case => ({
      name: `when checking_pin (forced) gets rejected for ${refusal.rule} (${'reason' in refusal ? refusal.reason : '-'}), then it says why and asks again`,
      state: signedIn(checking('forced'), { rejectedEntries: 1 }),
      event: checkRejected(refusal),
      say: [say, ENTER_NEW],
      phase: newPin('forced'),
      expectState: { rejectedEntries: 2 },
    }),
  ),
  ...([{ rule: 'cannot_change' }, { rule: 'too_soon', minutes: 1440 }] as const).map(
    (refusal): Case => ({
      name: `when checking_pin (voluntary) gets refused for ${refusal.rule}, then it says why and goes straight back to the menu`,
      state: signedIn(checking('voluntary')),
      event: checkRejected(refusal),
      say: [refusal.rule === 'cannot_change' ? 'pin.cant_change' : 'pin.too_soon', 'menu.main'],
      phase: MENU,
      expectState: { rejectedEntries: 0, pendingPinHash: null },
    }),
  ),
  ...(['voluntary', 'forced', 'enrollment'] as const).flatMap((kind): Case[] => [
    {
      name: `when checking_pin (${kind}) finds the account locked or deleted since sign-in, then it says [signin.locked] and hangs up`,
      state: signedIn(checking(kind)),
      event: checkRejected({ rule: 'locked' }),
      say: ['signin.locked'],
      phase: ENDED,
    },
    {
      name: `when saving_pin (${kind}) finds the account locked or deleted since sign-in, then it says [signin.locked], hangs up and forgets the pending PIN`,
      state: signedIn(saving(kind), { pendingPinHash: 'hash-A' }),
      event: saveRejected({ rule: 'locked' }),
      say: ['signin.locked'],
      phase: ENDED,
      expectState: { pendingPinHash: null },
    },
    {
      name: `when checking_pin (${kind}) finds the credential changed since sign-in, then it says [signin.reauth] and hangs up`,
      state: signedIn(checking(kind), { rejectedEntries: 1 }),
      event: checkRejected({ rule: 'reauth' }),
      say: ['signin.reauth'],
      phase: ENDED,
    },
    {
      name: `when saving_pin (${kind}) finds the credential changed since sign-in, then it says [signin.reauth], hangs up and forgets the pending PIN`,
      state: signedIn(saving(kind), { pendingPinHash: 'hash-A' }),
      event: saveRejected({ rule: 'reauth' }),
      say: ['signin.reauth'],
      phase: ENDED,
      expectState: { pendingPinHash: null },
    },
  ]),
  {
    name: 'when saving_pin (voluntary) gets refused as too soon, then it says why and goes back to the menu',
    state: signedIn(saving('voluntary'), { pendingPinHash: 'hash-A' }),
    event: saveRejected({ rule: 'too_soon', minutes: 1440 }),
    say: ['pin.too_soon', 'menu.main'],
    phase: MENU,
    expectState: { pendingPinHash: null },
  },
  {
    name: 'when checking_pin (voluntary) gets a third rejection, then it goes back to the menu',
    state: signedIn(checking('voluntary'), { rejectedEntries: 2 }),
    event: checkRejected({ rule: 'trivial', reason: 'run' }),
    say: [{ key: 'pin.trivial', params: { reason: 'run', keys: '' } }, 'menu.main'],
    phase: MENU,
    expectState: { rejectedEntries: 0, pendingPinHash: null },
  },
  {
    name: 'when checking_pin (enrollment) gets a third rejection, then it says the PIN was not changed, hangs up and audits',
    state: signedIn(checking('enrollment'), { rejectedEntries: 2 }),
    event: checkRejected({ rule: 'reused', history: 5 }),
    say: ['pin.reused', 'pin.too_many_tries'],
    phase: ENDED,
    effects: [{ type: 'audit', event: 'call.pin_entry_limit' }],
  },
  {
    name: 'when checking_pin (forced) gets a third rejection, then it says the PIN was not changed, hangs up and audits',
    state: signedIn(checking('forced'), { rejectedEntries: 2 }),
    event: checkRejected({ rule: 'too_short', min: 8 }),
    say: [{ key: 'pin.too_short', params: { min: 8 } }, 'pin.too_many_tries'],
    phase: ENDED,
    effects: [{ type: 'audit', event: 'call.pin_entry_limit' }],
  },
  {
    name: 'when checking_pin gets busy, then it says [system.busy] and asks for the new PIN again',
    state: signedIn(checking('voluntary')),
    event: BUSY,
    say: ['system.busy', ENTER_NEW, 'pin.cancel_hint'],
    phase: newPin('voluntary'),
    expectState: { busyCount: 1, rejectedEntries: 0 },
  },
  {
    name: 'when checking_pin gets a third busy in a row, then it hangs up',
    state: signedIn(checking('enrollment'), { busyCount: 2 }),
    event: BUSY,
    say: ['system.busy', 'goodbye'],
    phase: ENDED,
  },
  {
    name: 'when checking_pin gets failed, then it says [error.unavailable] and hangs up',
    state: signedIn(checking('forced')),
    event: FAILED,
    ...ERROR,
  },
  {
    name: 'when checking_pin gets digits, then it is an internal error',
    state: signedIn(checking('forced')),
    event: digits('135790'),
    ...ERROR,
  },
  {
    name: 'when checking_pin gets pin_saved, then it is an internal error',
    state: signedIn(checking('forced')),
    event: saved(),
    ...ERROR,
  },
]);

table('new PIN confirmation', [
  {
    name: 'when confirm_pin (voluntary) gets *, then it goes back to the menu and drops the pending hash',
    state: signedIn(confirm('voluntary'), { pendingPinHash: 'hash-A', rejectedEntries: 1 }),
    event: digits('*'),
    say: ['menu.main'],
    phase: MENU,
    expectState: { pendingPinHash: null, rejectedEntries: 0 },
  },
  {
    name: 'when confirm_pin (enrollment) gets *, then it says [pin.must_change] and asks for confirmation again',
    state: signedIn(confirm('enrollment'), { pendingPinHash: 'hash-A' }),
    event: digits('*'),
    say: ['pin.must_change', 'pin.confirm'],
    phase: confirm('enrollment'),
    expectState: { pendingPinHash: 'hash-A' },
  },
  {
    name: 'when confirm_pin (forced) gets *, then it says [pin.must_change] and asks for confirmation again',
    state: signedIn(confirm('forced'), { pendingPinHash: 'hash-A' }),
    event: digits('*'),
    say: ['pin.must_change', 'pin.confirm'],
    phase: confirm('forced'),
  },
  ...(['voluntary', 'enrollment', 'forced'] as const).map(
    (kind): Case => ({
      name: `when confirm_pin (${kind}) gets the PIN again, then it saves it with the pending hash`,
      state: signedIn(confirm(kind), { pendingPinHash: 'hash-A' }),
      event: digits('135790'),
      say: [],
      phase: saving(kind),
      effects: [{ type: 'save_pin', userId: 7, credentialVersion: 3, confirmation: '135790', pendingPinHash: 'hash-A', kind }],
      expectState: { pendingPinHash: 'hash-A' },
    }),
  ),
  {
    name: 'when confirm_pin without a pending hash gets a PIN, then it is an internal error',
    state: signedIn(confirm('voluntary')),
    event: digits('135790'),
    ...ERROR,
  },
]);

table('saving the new PIN', [
  {
    name: 'when saving_pin (enrollment) gets saved, then it says [enroll.done] and the menu',
    state: signedIn(saving('enrollment'), { pendingPinHash: 'hash-A', rejectedEntries: 2 }, { requiredChange: 'enrollment' }),
    event: saved(180),
    say: ['enroll.done', 'menu.main'],
    phase: MENU,
    expectState: {
      pendingPinHash: null,
      rejectedEntries: 0,
      account: acct({ credentialVersion: 4, requiredChange: null, tooSoonToChange: true, daysUntilExpiry: 180 }),
    },
  },
  {
    name: 'when saving_pin (forced) gets saved, then it says [pin.changed] and the menu',
    state: signedIn(saving('forced'), { pendingPinHash: 'hash-A' }, { requiredChange: 'forced', daysUntilExpiry: 0 }),
    event: saved(90),
    say: ['pin.changed', 'menu.main'],
    phase: MENU,
    expectState: {
      pendingPinHash: null,
      account: acct({ credentialVersion: 4, requiredChange: null, tooSoonToChange: true, daysUntilExpiry: 90 }),
    },
  },
  {
    name: 'when saving_pin (voluntary) gets saved, then it says [pin.changed] and the menu',
    state: signedIn(saving('voluntary'), { pendingPinHash: 'hash-A', busyCount: 2 }),
    event: saved(null),
    say: ['pin.changed', 'menu.main'],
    phase: MENU,
    expectState: { pendingPinHash: null, busyCount: 0, account: acct({ credentialVersion: 4, tooSoonToChange: true, daysUntilExpiry: null }) },
  },
  {
    name: 'when saving_pin gets saved under a rule with no minimum time, then another change stays allowed',
    state: signedIn(saving('voluntary'), { pendingPinHash: 'hash-A' }),
    event: saved(180, false),
    say: ['pin.changed', 'menu.main'],
    phase: MENU,
    expectState: { account: acct({ credentialVersion: 4, tooSoonToChange: false, daysUntilExpiry: 180 }) },
  },
  {
    name: 'when saving_pin (voluntary) gets mismatch, then it says [pin.mismatch] and asks for a new PIN with the hint',
    state: signedIn(saving('voluntary'), { pendingPinHash: 'hash-A' }),
    event: MISMATCH,
    say: ['pin.mismatch', ENTER_NEW, 'pin.cancel_hint'],
    phase: newPin('voluntary'),
    expectState: { pendingPinHash: null, rejectedEntries: 1 },
  },
  {
    name: 'when saving_pin (forced) gets mismatch, then it asks for a new PIN without the hint',
    state: signedIn(saving('forced'), { pendingPinHash: 'hash-A', rejectedEntries: 1 }),
    event: MISMATCH,
    say: ['pin.mismatch', ENTER_NEW],
    phase: newPin('forced'),
    expectState: { pendingPinHash: null, rejectedEntries: 2 },
  },
  {
    name: 'when saving_pin (voluntary) gets a third mismatch, then it goes back to the menu',
    state: signedIn(saving('voluntary'), { pendingPinHash: 'hash-A', rejectedEntries: 2 }),
    event: MISMATCH,
    say: ['pin.mismatch', 'menu.main'],
    phase: MENU,
    expectState: { pendingPinHash: null, rejectedEntries: 0 },
  },
  {
    name: 'when saving_pin (enrollment) gets a third mismatch, then it says the PIN was not changed, hangs up and audits',
    state: signedIn(saving('enrollment'), { pendingPinHash: 'hash-A', rejectedEntries: 2 }),
    event: MISMATCH,
    say: ['pin.mismatch', 'pin.too_many_tries'],
    phase: ENDED,
    effects: [{ type: 'audit', event: 'call.pin_entry_limit' }],
  },
  ...REFUSALS.map(
    ({ refusal, say }): Case => ({
      name: `when saving_pin (forced) gets rejected for ${refusal.rule}, then it says why and asks again`,
      state: signedIn(saving('forced'), { pendingPinHash: 'hash-A' }),
      event: saveRejected(refusal),
      say: [say, ENTER_NEW],
      phase: newPin('forced'),
      expectState: { pendingPinHash: null, rejectedEntries: 1 },
    }),
  ),
  {
    name: 'when saving_pin (forced) gets a third rejection, then it says the PIN was not changed, hangs up and audits',
    state: signedIn(saving('forced'), { pendingPinHash: 'hash-A', rejectedEntries: 2 }),
    event: saveRejected({ rule: 'reused', history: 5 }),
    say: ['pin.reused', 'pin.too_many_tries'],
    phase: ENDED,
    effects: [{ type: 'audit', event: 'call.pin_entry_limit' }],
  },
  {
    name: 'when saving_pin gets busy, then it says [system.busy] and asks for the confirmation again, keeping the hash',
    state: signedIn(saving('enrollment'), { pendingPinHash: 'hash-A' }),
    event: BUSY,
    say: ['system.busy', 'pin.confirm'],
    phase: confirm('enrollment'),
    expectState: { pendingPinHash: 'hash-A', busyCount: 1 },
  },
  {
    name: 'when saving_pin gets a third busy in a row, then it hangs up',
    state: signedIn(saving('voluntary'), { pendingPinHash: 'hash-A', busyCount: 2 }),
    event: BUSY,
    say: ['system.busy', 'goodbye'],
    phase: ENDED,
    expectState: { pendingPinHash: null },
  },
  {
    name: 'when saving_pin gets failed, then it says [error.unavailable] and hangs up',
    state: signedIn(saving('voluntary'), { pendingPinHash: 'hash-A' }),
    event: FAILED,
    ...ERROR,
    expectState: { pendingPinHash: null },
  },
  {
    name: 'when saving_pin gets digits, then it is an internal error',
    state: signedIn(saving('voluntary'), { pendingPinHash: 'hash-A' }),
    event: digits('135790'),
    ...ERROR,
  },
]);

// ---------------------------------------------------------------- no input

const INPUT_PHASES: { label: string; state: CallState; prompts: (PromptKey | Say)[] }[] = [
  { label: 'enter_id', state: at(ENTER_ID), prompts: ['signin.enter_id'] },
  { label: 'enter_pin', state: at(enterPin('1001', true)), prompts: ['signin.enter_pin'] },
  { label: 'menu', state: signedIn(MENU), prompts: ['menu.main'] },
  { label: 'new_pin (voluntary)', state: signedIn(newPin('voluntary')), prompts: [ENTER_NEW, 'pin.cancel_hint'] },
  { label: 'new_pin (enrollment)', state: signedIn(newPin('enrollment')), prompts: [ENTER_NEW] },
  { label: 'new_pin (forced)', state: signedIn(newPin('forced')), prompts: [ENTER_NEW] },
  {
    label: 'confirm_pin',
    state: signedIn(confirm('forced'), { pendingPinHash: 'hash-A' }),
    prompts: ['pin.confirm'],
  },
];

table(
  'no input',
  INPUT_PHASES.flatMap(({ label, state, prompts }): Case[] => [
    {
      name: `when ${label} gets no_input, then it says [no_input] and the prompt again`,
      state,
      event: NO_INPUT,
      say: ['no_input', ...prompts],
      phase: state.phase,
      expectState: { consecutiveNoInputs: 1 },
    },
    {
      name: `when ${label} gets empty digits, then it counts as no input`,
      state: { ...state, consecutiveNoInputs: 1 },
      event: digits(''),
      say: ['no_input', ...prompts],
      phase: state.phase,
      expectState: { consecutiveNoInputs: 2 },
    },
    {
      name: `when ${label} gets a third no_input in a row, then it says goodbye, hangs up and audits`,
      state: { ...state, consecutiveNoInputs: 2 },
      event: NO_INPUT,
      say: ['goodbye'],
      phase: ENDED,
      effects: [{ type: 'audit', event: 'call.no_input_limit' }],
    },
  ]),
);

table('response wait (DESIGN §9)', [
  {
    name: 'when the ID is asked for, then the wait is the default (null), whoever is calling',
    state: at({ name: 'identifying_caller' }),
    event: { type: 'caller_identified', match: null },
    say: ['signin.enter_id'],
    phase: ENTER_ID,
    gather: { kind: 'digits', waitSeconds: null },
  },
  {
    name: 'when caller ID finds a user, then the PIN prompt still waits the default, so the wait hints nothing about them',
    state: at({ name: 'identifying_caller' }),
    event: { type: 'caller_identified', match: { extension: '1001', locale: 'es-US' } },
    say: ['signin.enter_pin'],
    phase: enterPin('1001', true),
    gather: { kind: 'digits', waitSeconds: null },
  },
  {
    name: 'when the PIN is verified, then the very next gather waits the user’s 12 s',
    state: at(signingIn('1001', false)),
    event: ok({ responseWait: 12 }),
    say: ['menu.main'],
    phase: MENU,
    gather: { kind: 'menu', waitSeconds: 12 },
  },
  {
    name: 'when the PIN is verified and enrollment is due, then the new-PIN prompt waits the user’s 30 s',
    state: at(signingIn('1001', false)),
    event: ok({ responseWait: 30, requiredChange: 'enrollment' }),
    say: ['enroll.welcome', ENTER_NEW],
    phase: newPin('enrollment'),
    gather: { kind: 'digits', waitSeconds: 30 },
  },
  {
    name: 'when a wrong PIN sends the caller back to ID entry, then the wait stays the default',
    state: at(signingIn('1001', false)),
    event: invalid(),
    say: ['signin.invalid', 'signin.enter_id'],
    phase: ENTER_ID,
    gather: { kind: 'digits', waitSeconds: null },
  },
  {
    name: 'when a signed-in caller is at the menu and chooses to change the PIN, then the wait stays theirs (3 s)',
    state: signedIn(MENU, {}, { responseWait: 3 }),
    event: digits('1'),
    say: [ENTER_NEW, 'pin.cancel_hint'],
    phase: newPin('voluntary'),
    gather: { kind: 'digits', waitSeconds: 3 },
  },
  {
    name: 'when a state sealed before snapshots carried a wait comes back, then the default applies',
    state: { ...signedIn(MENU), account: { ...acct(), responseWait: undefined } as unknown as CallerSnapshot },
    event: NO_INPUT,
    say: ['no_input', 'menu.main'],
    phase: MENU,
    gather: { kind: 'menu', waitSeconds: null },
  },
]);

// ---------------------------------------------------------------- any phase

const EVERY_LIVE_STATE: CallState[] = [
  initialState('en-US'),
  at({ name: 'identifying_caller' }),
  ...INPUT_PHASES.map((p) => p.state),
  at(signingIn('1001', false)),
  signedIn(checking('voluntary')),
  signedIn(saving('forced'), { pendingPinHash: 'hash-A' }),
];

table('hang-up, failure and the ended call', [
  ...EVERY_LIVE_STATE.map(
    (state): Case => ({
      name: `when ${state.phase.name} gets hangup, then the call ends silently`,
      state,
      event: HANGUP,
      say: [],
      phase: ENDED,
      expectState: { pendingPinHash: null },
    }),
  ),
  ...EVERY_LIVE_STATE.map(
    (state): Case => ({
      name: `when ${state.phase.name} gets failed, then it says [error.unavailable] and hangs up`,
      state,
      event: FAILED,
      ...ERROR,
    }),
  ),
  ...([NO_INPUT, digits('1'), HANGUP, FAILED, BUSY, ok(), { type: 'call_started', defaultLocale: 'en-US' }] as DialogEvent[]).map(
    (event): Case => ({
      name: `when ended gets ${event.type}, then nothing is said and the call stays hung up`,
      state: signedIn(ENDED, { failedSignins: 2 }),
      event,
      say: [],
      phase: ENDED,
      expectState: { failedSignins: 2 },
    }),
  ),
  {
    name: 'when menu gets call_started, then it is an internal error',
    state: signedIn(MENU),
    event: { type: 'call_started', defaultLocale: 'en-US' },
    ...ERROR,
  },
  {
    name: 'when enter_id gets caller_identified, then it is an internal error',
    state: at(ENTER_ID),
    event: { type: 'caller_identified', match: null },
    ...ERROR,
  },
  {
    name: 'when a tampered state with an unknown phase gets digits, then it is an internal error',
    state: JSON.parse('{"phase":{"name":"bogus"},"locale":"en-US"}') as CallState,
    event: digits('1'),
    ...ERROR,
  },
]);

describe('awaitsEffect', () => {
  it.each([
    ['identifying_caller', at({ name: 'identifying_caller' }), true],
    ['signing_in', at(signingIn('1001', false)), true],
    ['checking_pin', signedIn(checking('forced')), true],
    ['saving_pin', signedIn(saving('forced')), true],
    ['start', initialState('en-US'), false],
    ['enter_id', at(ENTER_ID), false],
    ['enter_pin', at(enterPin('1', false)), false],
    ['menu', signedIn(MENU), false],
    ['new_pin', signedIn(newPin('voluntary')), false],
    ['confirm_pin', signedIn(confirm('voluntary')), false],
    ['ended', at(ENDED), false],
  ] as const)('when the phase is %s, then it returns %s', (_name, state, expected) => {
    expect(awaitsEffect(state)).toBe(expected);
  });
});

// ---------------------------------------------------------------- whole calls

/** Runs events from a fresh call and returns every step. */
function drive(events: DialogEvent[], defaultLocale = 'en-US'): Step[] {
  let state = initialState(defaultLocale);
  return events.map((event) => {
    const step = transition(state, event);
    state = step.state;
    return step;
  });
}

const keysOf = (steps: Step[]): PromptKey[][] => steps.map((s) => s.say.map((x) => x.key));

describe('whole calls', () => {
  it('when a caller-ID caller changes the PIN voluntarily, then every turn says the expected prompts', () => {
    const steps = drive([
      { type: 'call_started', defaultLocale: 'en-US' },
      { type: 'caller_identified', match: { extension: '1001', locale: 'es-US' } },
      digits('864213'),
      ok(),
      digits('1'),
      digits('975318'),
      accepted('hash-B'),
      digits('975318'),
      saved(180),
      digits('*'),
    ]);
    expect(keysOf(steps)).toEqual([
      ['welcome'],
      ['signin.enter_pin'],
      [],
      ['menu.main'],
      ['pin.enter_new', 'pin.cancel_hint'],
      [],
      ['pin.confirm'],
      [],
      ['pin.changed', 'menu.main'],
      ['goodbye'],
    ]);
    expect(steps.map((s) => s.hangup)).toEqual([false, false, false, false, false, false, false, false, false, true]);
    const last = steps.at(-1);
    expect(last?.state.locale).toBe('es-US');
  });

  it('when wrong PINs reach a custom per-call limit of 2, then the second failure hangs up', () => {
    const steps = drive([
      { type: 'call_started', defaultLocale: 'en-US' },
      { type: 'caller_identified', match: null },
      digits('1001'),
      digits('111222'),
      invalid(2),
      digits('1001'),
      digits('333444'),
      invalid(2),
    ]);
    expect(keysOf(steps).slice(4)).toEqual([
      ['signin.invalid', 'signin.enter_id'],
      ['signin.enter_pin'],
      [],
      ['signin.invalid', 'goodbye'],
    ]);
    expect(steps.at(-1)?.hangup).toBe(true);
    expect(steps.at(-1)?.effects).toEqual([{ type: 'audit', event: 'call.signin_limit' }]);
  });

  it('when no-inputs are interrupted by a key press, then counting starts again across phases', () => {
    const steps = drive([
      { type: 'call_started', defaultLocale: 'en-US' },
      { type: 'caller_identified', match: null },
      NO_INPUT,
      NO_INPUT,
      digits('1001'),
      NO_INPUT,
      digits(''),
      NO_INPUT,
    ]);
    expect(keysOf(steps).slice(2)).toEqual([
      ['no_input', 'signin.enter_id'],
      ['no_input', 'signin.enter_id'],
      ['signin.enter_pin'],
      ['no_input', 'signin.enter_pin'],
      ['no_input', 'signin.enter_pin'],
      ['goodbye'],
    ]);
    expect(steps.at(-1)?.effects).toEqual([{ type: 'audit', event: 'call.no_input_limit' }]);
  });

  it('when no-inputs happen in the menu and then the new-PIN dialog, then the count carries over', () => {
    let state = signedIn(MENU);
    for (const event of [NO_INPUT, digits('1'), NO_INPUT, NO_INPUT]) state = transition(state, event).state;
    expect(state.consecutiveNoInputs).toBe(2);
    const step = transition(state, NO_INPUT);
    expect(step.hangup).toBe(true);
  });

  it('when busy answers alternate with successes, then only consecutive ones count', () => {
    const steps = drive([
      { type: 'call_started', defaultLocale: 'en-US' },
      { type: 'caller_identified', match: { extension: '1001', locale: 'en-US' } },
      digits('864213'),
      BUSY,
      digits('864213'),
      BUSY,
      digits('864213'),
      ok(),
      digits('1'),
      digits('975318'),
      BUSY,
      digits('975318'),
      BUSY,
      digits('975318'),
      accepted(),
    ]);
    expect(steps.at(-1)?.state.phase).toEqual(confirm('voluntary'));
    expect(steps.at(-1)?.state.busyCount).toBe(0);
    expect(steps.some((s) => s.hangup)).toBe(false);
  });
});

// ---------------------------------------------------------------- random calls


function pick<T>(rng: () => number, items: readonly T[]): T {
  const item = items[Math.floor(rng() * items.length)];
  if (item === undefined) throw new Error('pick from an empty list');
  return item;
}

function randomPin(rng: () => number): string {
  const length = 6 + Math.floor(rng() * 7);
  let pin = '';
  for (let i = 0; i < length; i += 1) pin += String(Math.floor(rng() * 10));
  return pin;
}

function randomRefusal(rng: () => number): PinRefusal {
  return pick<PinRefusal>(rng, [
    { rule: 'too_short', min: 4 + Math.floor(rng() * 5) },
    { rule: 'too_long', max: 12 + Math.floor(rng() * 9) },
    { rule: 'trivial', reason: 'repeats' },
    { rule: 'reused', history: 5 },
  ]);
}

function randomAccount(rng: () => number): CallerSnapshot {
  return acct({
    requiredChange: rng() < 0.2 ? 'enrollment' : rng() < 0.2 ? 'forced' : null,
    daysUntilExpiry: rng() < 0.2 ? null : Math.floor(rng() * 40),
    cannotChange: rng() < 0.15,
    tooSoonToChange: rng() < 0.15,
    locale: pick(rng, ['en-US', 'es-US']),
  });
}

/** An event a real adapter could plausibly send in this state, or now and then any event at all. */
function nextEvent(rng: () => number, state: CallState, lastEffects: Effect[], hashes: { n: number }): DialogEvent {
  const anything = (): DialogEvent =>
    pick<() => DialogEvent>(rng, [
      () => digits(randomPin(rng)),
      () => digits(pick(rng, ['', '*', '#', '1', '2', '0', '11'])),
      () => NO_INPUT,
      () => BUSY,
      () => FAILED,
      () => HANGUP,
      () => ok(randomAccount(rng)),
      () => invalid(1 + Math.floor(rng() * 5)),
      () => LOCKED,
      () => accepted(`hash-${(hashes.n += 1)}`),
      () => checkRejected(randomRefusal(rng)),
      () => saved(rng() < 0.3 ? null : 180, rng() < 0.5),
      () => MISMATCH,
      () => saveRejected(randomRefusal(rng)),
      () => ({ type: 'caller_identified', match: null }),
      () => ({ type: 'call_started', defaultLocale: 'en-US' }),
    ])();
  if (rng() < 0.04) return anything();

  const effect = lastEffects.find((e) => e.type !== 'audit');
  if (awaitsEffect(state) && effect) {
    if (rng() < 0.1) return BUSY;
    if (rng() < 0.01) return FAILED;
    switch (effect.type) {
      case 'lookup_caller':
        return {
          type: 'caller_identified',
          match: rng() < 0.5 ? { extension: pick(rng, ['1001', '2002', '31337']), locale: 'es-US' } : null,
        };
      case 'verify_signin':
        return pick<() => DialogEvent>(rng, [
          () => ok(randomAccount(rng)),
          () => ok(randomAccount(rng)),
          () => invalid(1 + Math.floor(rng() * 5)),
          () => LOCKED,
        ])();
      case 'check_new_pin':
        return rng() < 0.6 ? accepted(`hash-${(hashes.n += 1)}`) : checkRejected(randomRefusal(rng));
      case 'save_pin':
        return pick<() => DialogEvent>(rng, [
          () => saved(rng() < 0.3 ? null : 180, rng() < 0.5),
          () => MISMATCH,
          () => saveRejected(randomRefusal(rng)),
        ])();
    }
  }
  if (rng() < 0.15) return NO_INPUT;
  switch (state.phase.name) {
    case 'start':
      return { type: 'call_started', defaultLocale: 'en-US' };
    case 'enter_id':
      return digits(pick(rng, ['1001', '2002', '31337', '', '*']));
    case 'menu':
      return digits(pick(rng, ['1', '1', '2', '*', '#', '0', '11']));
    case 'enter_pin':
    case 'new_pin':
    case 'confirm_pin':
      return digits(rng() < 0.85 ? randomPin(rng) : pick(rng, ['*', '', '12*4']));
    default:
      return anything();
  }
}

const PROMPT_KEY_SET: ReadonlySet<string> = new Set(PROMPT_KEYS);
const SECRET_PHASES: ReadonlySet<string> = new Set(['enter_pin', 'new_pin', 'confirm_pin']);

describe('random calls', () => {
  it.each([1, 2, 3, 42, 2024, 90210])(
    'when a call with seed %i gets random events, then no PIN leaks, nothing throws and every prompt exists',
    (seed) => {
      const rng = prng(seed);
      const hashes = { n: 0 };
      let turns = 0;
      const visited = new Set<string>();
      for (let call = 0; call < 300; call += 1) {
        let state = initialState('en-US');
        let lastEffects: Effect[] = [];
        const pins = new Set<string>();
        for (let turn = 0; turn < 80 && state.phase.name !== 'ended'; turn += 1) {
          const event = nextEvent(rng, state, lastEffects, hashes);
          if (event.type === 'digits' && SECRET_PHASES.has(state.phase.name) && event.digits.length >= 6) {
            pins.add(event.digits);
          }
          visited.add(state.phase.name);
          const step = transition(state, event);
          turns += 1;

          for (const effect of step.effects) {
            if (effect.type === 'verify_signin') pins.add(effect.pin);
            if (effect.type === 'check_new_pin') pins.add(effect.pin);
            if (effect.type === 'save_pin') pins.add(effect.confirmation);
          }
          const visible = JSON.stringify({
            state: step.state,
            say: step.say,
            audits: step.effects.filter((e) => e.type === 'audit'),
          });
          for (const pin of pins) {
            if (pin.length >= 6) expect(visible).not.toContain(pin);
          }

          for (const s of step.say) {
            expect(PROMPT_KEY_SET.has(s.key)).toBe(true);
            expect(Object.keys(s.params ?? {}).sort()).toEqual([...(PROMPT_PLACEHOLDERS[s.key] ?? [])].sort());
          }

          expect(JSON.parse(JSON.stringify(step.state))).toEqual(step.state);
          expect(step.hangup).toBe(step.state.phase.name === 'ended');
          const requests = step.effects.filter((e) => e.type !== 'audit');
          if (step.hangup) {
            expect(step.gather).toBeNull();
            expect(requests).toEqual([]);
          } else {
            // Each live turn either gathers input or waits for exactly one effect result.
            expect(step.gather === null).toBe(awaitsEffect(step.state));
            expect(requests.length).toBe(awaitsEffect(step.state) ? 1 : 0);
          }
          expect(step.state.pendingPinHash === null || step.state.pendingPinHash.startsWith('hash-')).toBe(true);

          state = step.state;
          lastEffects = step.effects;
        }
      }
      expect(turns).toBeGreaterThan(2000);
      // The walk must reach every phase, or it proves little.
      expect([...visited].sort()).toEqual(
        [
          'start',
          'identifying_caller',
          'enter_id',
          'enter_pin',
          'signing_in',
          'menu',
          'new_pin',
          'checking_pin',
          'confirm_pin',
          'saving_pin',
        ].sort(),
      );
    },
  );
});
