import { trivialDetail, type PinRefusal } from '../pin/change.js';

// A refused PIN as the people on the web pages read it (DESIGN §7): what is wrong with it, what to
// do, and the rule it broke. The CLI and the API keep describeRefusal's line, which scripts and
// logs match on; the phone says it with its own prompts.

const digits = (n: number) => (n === 1 ? '1 digit' : `${n} digits`);

function waitText(minutes: number): string {
  if (minutes % 1440 === 0) return minutes === 1440 ? '1 day' : `${minutes / 1440} days`;
  if (minutes % 60 === 0) return minutes === 60 ? '1 hour' : `${minutes / 60} hours`;
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

export function refusalText(refusal: PinRefusal): string {
  switch (refusal.rule) {
    case 'too_short':
      return `The PIN must have at least ${digits(refusal.min)}, and only the keys 0 to 9 (rule: minimum length).`;
    case 'too_long':
      return `The PIN may have at most ${digits(refusal.max)} (rule: maximum length).`;
    case 'trivial':
      return `That PIN is too easy to guess: ${trivialDetail(refusal)[1]}. Choose another (rule: trivial PIN).`;
    case 'reused':
      return refusal.history > 0
        ? `That PIN was used before: it is the current PIN or one of the last ${refusal.history}. Choose another (rule: PIN history).`
        : 'That is the current PIN. Choose another (rule: PIN history).';
    case 'cannot_change':
      return 'This PIN may not be changed here: User Cannot Change is set. An administrator can change it.';
    case 'too_soon':
      return `The PIN was changed too recently: it can be changed again ${waitText(refusal.minutes)} after the last change (rule: minimum time between changes).`;
    case 'locked':
      return 'The PIN cannot be changed while the account is locked.';
    case 'reauth':
      return 'The PIN was reset or changed since you signed in. Sign in again, then change it.';
  }
}
