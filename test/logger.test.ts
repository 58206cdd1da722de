import { readFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../src/logger.js';
import { SECRET_FIELDS } from '../src/secret-fields.js';

function capture() {
  const lines: string[] = [];
  const logger = pino(
    { level: 'trace', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } },
    new Writable({
      write(chunk, _encoding, done) {
        lines.push(String(chunk));
        done();
      },
    }),
  );
  return { logger, text: () => lines.join('') };
}

describe('log redaction', () => {
  it.each(SECRET_FIELDS.map((field) => [field]))('when a field named %s is logged at any depth up to three, then it is censored', (field) => {
    const { logger, text } = capture();
    logger.info({ [field]: '604817', a: { [field]: '604817', b: { [field]: '604817', c: { [field]: '604817' } } } }, 'event');
    expect(text()).not.toContain('604817');
  });

  it('when a page renders a password input, then its name is one the log redaction knows', async () => {
    const sources = await Promise.all(
      ['src/web/me/views.ts', 'src/web/admin/users/views.ts', 'src/web/admin/signin.ts'].map((file) => readFile(file, 'utf8')),
    );
    const passwordFields = sources.flatMap((source) =>
      [...source.matchAll(/textField\(\{([^}]*)\}\)/g)]
        .map((m) => m[1] as string)
        .filter((options) => options.includes("type: 'password'"))
        .map((options) => /name: '([A-Za-z]+)'/.exec(options)?.[1] ?? '(unnamed)'),
    );
    expect(passwordFields.length).toBeGreaterThanOrEqual(9);
    for (const name of passwordFields) expect(SECRET_FIELDS).toContain(name);
  });

  it.each([
    [{ Digits: '604817' }],
    [{ body: { Digits: '604817', CallSid: 'CA1' } }],
    [{ req: { body: { Digits: '604817' } } }],
    [{ pin: '604817' }],
    [{ request: { newPin: '604817' } }],
    [{ effect: { confirmation: '604817' } }],
    [{ form: { password: '604817', confirmPassword: '604817' } }],
    [{ config: { secret: '604817' } }],
    [{ api: { token: '604817' } }],
    [{ req: { headers: { authorization: 'Bearer 604817', cookie: 'sid=604817' } } }],
    [{ req: { url: '/me?pin=604817', query: { pin: '604817' } } }],
    [{ form: { confirmPin: '604817' } }],
    [{ form: { pinConfirm: '604817' } }],
    [{ form: { confirm: '604817' } }],
    [{ form: { current: '604817' } }],
    [{ form: { newPassword: '604817' } }],
    [{ pendingPinHash: '$argon2id$604817' }],
    [{ call: { state: { phase: 'confirm_pin', pendingPinHash: '$argon2id$604817' } } }],
    [{ turn: { call: { state: { anything: '604817' } } } }],
    [{ a: { b: { c: { pin: '604817' } } } }],
  ])('when a log line carries %j, then the value is censored', (fields) => {
    const { logger, text } = capture();
    logger.info(fields, 'event');
    expect(text()).not.toContain('604817');
    expect(text()).toContain('[redacted]');
  });
});
