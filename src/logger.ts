import { pino, type Logger, type LoggerOptions } from 'pino';

export type { Logger };

/**
 * Paths pino censors wherever they appear in a log object. PINs should never reach a logger at
 * all; this list is the second line of defence for request bodies, form posts and errors.
 */
export const REDACT_PATHS = [
  'Digits',
  '*.Digits',
  'req.body',
  'body',
  '*.body',
  'pin',
  '*.pin',
  'newPin',
  '*.newPin',
  'confirmation',
  '*.confirmation',
  'password',
  '*.password',
  'confirmPassword',
  '*.confirmPassword',
  'secret',
  '*.secret',
  'token',
  '*.token',
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-twilio-signature"]',
  'res.headers["set-cookie"]',
  'req.query',
  'req.url',
];

export function loggerOptions(level: string, pretty: boolean): LoggerOptions {
  return {
    level,
    redact: { paths: REDACT_PATHS, censor: '[redacted]' },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } }
      : {}),
  };
}

/** JSON in production (one line per event, for log shippers); readable in development. */
export function createLogger(level: string, nodeEnv: string): Logger {
  return pino(loggerOptions(level, nodeEnv === 'development' && process.stdout.isTTY === true));
}
