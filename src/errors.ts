/**
 * Bad input from any channel. The message is one line that names the problem and is safe to
 * show (it never contains a PIN or password); `code` is stable for API clients.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: 400 | 403 | 404 | 409 | 413 | 422 | 429 = 400,
    /** The field at fault, as the API names it (`error.field`), when one is. */
    readonly field?: string,
  ) {
    super(message);
  }
}

export class NotFoundError extends InputError {
  constructor(what: string) {
    super('not_found', `${what} not found`, 404);
  }
}

/** Thrown when no hashing slot frees up in time: the caller hears [system.busy], a client gets 503. */
export class HashingBusyError extends Error {
  override readonly name = 'HashingBusyError';
  constructor() {
    super('PIN hashing is saturated');
  }
}

/**
 * A stored hash names a pepper this instance does not hold (it lags a rotation, DESIGN §10): the
 * check cannot be made here, so nothing is counted and the caller is asked to try again.
 */
export class UnknownPepperError extends Error {
  override readonly name = 'UnknownPepperError';
  constructor(readonly pepperId: string) {
    super(`a hash was made under pepper ${pepperId}, which this instance does not hold (list it in PIN_PEPPER_PREVIOUS)`);
  }
}

/** What a known failure means to whoever asked: a status, a stable code and a one-line message. */
export interface Failure {
  status: number;
  code: string;
  message: string;
  /** Seconds to wait before trying again (Retry-After). */
  retryAfter?: number;
  /** The field at fault, when one is. */
  field?: string;
}

const BUSY_RETRY_SECONDS = 5;
/** An instance behind a rollout is usually brought up to date within a minute or so. */
const UNKNOWN_PEPPER_RETRY_SECONDS = 60;

/**
 * The one classification of errors, for the API, the web pages, the CLI and the fallback handler;
 * null for anything unexpected, which each channel logs and answers as an internal error.
 */
export function describeFailure(err: unknown): Failure | null {
  if (err instanceof InputError) {
    return { status: err.status, code: err.code, message: err.message, ...(err.field !== undefined ? { field: err.field } : {}) };
  }
  if (err instanceof HashingBusyError) {
    return {
      status: 503,
      code: 'busy',
      message: `The system is busy right now. Nothing was changed; try again in ${BUSY_RETRY_SECONDS} seconds.`,
      retryAfter: BUSY_RETRY_SECONDS,
    };
  }
  if (err instanceof UnknownPepperError) {
    return {
      status: 503,
      code: 'unavailable',
      message: 'This server cannot check that credential yet. Nothing was changed; try again in a minute.',
      retryAfter: UNKNOWN_PEPPER_RETRY_SECONDS,
    };
  }
  const fields = (err ?? {}) as { code?: unknown; type?: unknown; status?: unknown };
  if (fields.code === 'EBADCSRFTOKEN') {
    return { status: 403, code: 'csrf', message: 'the form was not sent from this site or has expired; reload the page and try again' };
  }
  // express's body parsers
  if (fields.type === 'entity.parse.failed') return { status: 400, code: 'invalid_json', message: 'the body is not valid JSON' };
  if (fields.type === 'entity.too.large') return { status: 413, code: 'too_large', message: 'the body is too large' };
  if (typeof fields.status === 'number' && fields.status >= 400 && fields.status < 500) {
    return { status: fields.status, code: 'bad_request', message: 'the request could not be read' };
  }
  return null;
}
