import { InputError } from '../errors.js';

/** True when err is a Postgres unique violation (optionally on the named constraint). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (!(err instanceof Error) || (err as { code?: string }).code !== '23505') return false;
  return constraint === undefined || (err as { constraint?: string }).constraint === constraint;
}

/** A phone number another user has: the constraint's words, also for an import that finds it first. */
export function phoneTakenError(): InputError {
  return new InputError('phone_taken', 'that phone number is already registered to another user', 409);
}

/** True when err is any integrity constraint violation (class 23): a set-wise write that a row-by-row one must sort out. */
export function isConstraintViolation(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('23');
}

/**
 * The database's last word on a write, as a one-line input error: the domain checks first, so
 * these are mostly races (two requests taking one extension at once).
 */
export function constraintError(err: unknown): unknown {
  if (isUniqueViolation(err, 'users_extension_key')) {
    return new InputError('extension_taken', 'that extension is already in use by another user', 409);
  }
  if (isUniqueViolation(err, 'users_phone_key')) return phoneTakenError();
  if ((err as { code?: string } | null)?.code === '23514') {
    const constraint = (err as { constraint?: string }).constraint ?? 'a check';
    return new InputError('out_of_range', `value out of range (constraint ${constraint})`, 422);
  }
  return err;
}
