/**
 * Bad input from any channel. The message is one line that names the problem and is safe to
 * show (it never contains a PIN or password); `code` is stable for API clients.
 */
export class InputError extends Error {
  override readonly name = 'InputError';
  constructor(
    readonly code: string,
    message: string,
    readonly status: 400 | 404 | 409 | 422 = 400,
  ) {
    super(message);
  }
}

export class NotFoundError extends InputError {
  constructor(what: string) {
    super('not_found', `${what} not found`, 404);
  }
}
