import { InputError } from '../errors.js';

/** True when err is a Postgres unique violation (optionally on the named constraint). */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (!(err instanceof Error) || (err as { code?: string }).code !== '23505') return false;
  return constraint === undefined || (err as { constraint?: string }).constraint === constraint;
}

/**
 * The database's last word on a write, as a one-line input error: the domain checks first, so
 * these are mostly races (two requests taking one extension at once).
 */
export function constraintError(err: unknown): unknown {
  if (isUniqueViolation(err, 'users_extension_key')) {
    return new InputError('extension_taken', 'that extension is already in use by another user', 409);
  }
  if (isUniqueViolation(err, 'users_phone_key')) {
    return new InputError('phone_taken', 'that phone number is already registered to another user', 409);
  }
  if ((err as { code?: string } | null)?.code === '23514') {
    const constraint = (err as { constraint?: string }).constraint ?? 'a check';
    return new InputError('out_of_range', `value out of range (constraint ${constraint})`, 422);
  }
  return err;
}
