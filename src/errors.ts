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

/**
 * The organisation's identity provider (DESIGN §11) could not be reached, or did not answer as a
 * provider does (its discovery document, its token endpoint): nobody was refused, try again.
 */
export class IdentityProviderUnavailableError extends Error {
  override readonly name = 'IdentityProviderUnavailableError';
  constructor(readonly reason: string) {
    super(`the identity provider cannot be used (${reason})`);
  }
}

/** What a known failure means to whoever asked: a status, a stable code and a one-line message. */
export interface Failure {
  status: number;
  code: string;
  message: string;
  /** Seconds to wait before trying again (Retry-After). */
  retryAfter?: number;
  /** What the message leaves out, for operators only (the CLI, the server's start): the database's own words. */
  detail?: string;
  /** The field at fault, when one is. */
  field?: string;
}

const BUSY_RETRY_SECONDS = 5;
/** An instance behind a rollout is usually brought up to date within a minute or so. */
const UNKNOWN_PEPPER_RETRY_SECONDS = 60;
const UNAVAILABLE_RETRY_SECONDS = 5;

// The database cannot be used at all, as opposed to one statement failing: SQLSTATE class 08
// (connection), the server shutting down or starting (57P01-57P03), a login refused (28000,
// 28P01) or no such database (3D000), and the socket errors of a server that is not there.
const CONNECTION_SQLSTATES = new Set(['57P01', '57P02', '57P03', '28000', '28P01', '3D000']);
const CONNECTION_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
]);
const CONNECTION_MESSAGES =
  /Connection terminated|connection timeout|timeout exceeded when trying to connect|timeout expired|server conn crashed|server closed the connection/i;

/**
 * True for a failure of the connection to the database rather than of a statement: the same
 * statement may work on a fresh connection once the database is back. ENOENT counts only from
 * connect(), where it means the Unix socket is not there (the embedded Postgres is down).
 */
export function isConnectionFailure(err: unknown): boolean {
  const fields = (err ?? {}) as { code?: unknown; syscall?: unknown; message?: unknown };
  const code = typeof fields.code === 'string' ? fields.code : '';
  if (code.startsWith('08') || CONNECTION_SQLSTATES.has(code) || CONNECTION_SOCKET_CODES.has(code)) return true;
  if (code === 'ENOENT' && fields.syscall === 'connect') return true;
  return CONNECTION_MESSAGES.test(String(fields.message ?? ''));
}

/** The database's own words for a connection failure (Node reports a refusal by every address of a host without a message). */
function connectionReason(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const code = (err as { code?: unknown }).code;
  const parts = err instanceof AggregateError ? err.errors.map((e: unknown) => (e instanceof Error ? e.message : String(e))).join(', ') : '';
  return err.message || parts || (typeof code === 'string' ? code : '') || err.name;
}

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
  if (err instanceof IdentityProviderUnavailableError) {
    return {
      status: 502,
      code: 'identity_provider_unavailable',
      message: "Your organisation's sign-in cannot be reached right now. Try again in a moment, or sign in with a local account.",
      detail: err.reason,
    };
  }
  if (isConnectionFailure(err)) {
    return {
      status: 503,
      code: 'unavailable',
      message: `The database cannot be reached right now; try again in ${UNAVAILABLE_RETRY_SECONDS} seconds.`,
      retryAfter: UNAVAILABLE_RETRY_SECONDS,
      detail: `cannot reach the database (${connectionReason(err)})`,
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
