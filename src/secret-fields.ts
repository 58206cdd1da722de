/**
 * Every field name that carries a PIN, a password, a token or a PIN hash: form fields, API
 * body and response fields, Twilio's keys, and the dialog's pending hash. The forms can render a
 * password input only under one of these names, and the log redaction is built from this list,
 * so the two cannot drift apart.
 */
export const SECRET_FIELDS = [
  'Digits',
  'pin',
  'pinConfirm',
  'newPin',
  'confirmPin',
  'confirmation',
  'generatedPin',
  'pendingPinHash',
  'password',
  'confirm',
  'current',
  'newPassword',
  'confirmPassword',
  'token',
  'secret',
] as const;

export type SecretField = (typeof SECRET_FIELDS)[number];
