import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../src/logger.js';

function capture() {
  const lines: string[] = [];
  const logger = pino(
    { level: 'trace', redact: { paths: REDACT_PATHS, censor: '[redacted]' } },
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
  ])('when a log line carries %j, then the value is censored', (fields) => {
    const { logger, text } = capture();
    logger.info(fields, 'event');
    expect(text()).not.toContain('604817');
    expect(text()).toContain('[redacted]');
  });
});
