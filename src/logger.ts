import { pino, type Logger, type LoggerOptions } from 'pino';
import { SECRET_FIELDS } from './secret-fields.js';

export type { Logger };

/** How deep a secret field is looked for: `pin`, `x.pin`, `x.y.pin`, `x.y.z.pin`. */
const REDACT_DEPTH = 3;

/**
 * Paths pino censors wherever they appear in a log object. PINs should never reach a logger at
 * all; this list is the second line of defence. It is built from SECRET_FIELDS, the names the
 * forms, the API and the dialog use, plus whole request bodies, queries and the call state.
 */
export const REDACT_PATHS: readonly string[] = [
  ...[...SECRET_FIELDS, 'state', 'body'].flatMap((field) =>
    Array.from({ length: REDACT_DEPTH + 1 }, (_, depth) => [...Array<string>(depth).fill('*'), field].join('.')),
  ),
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
    redact: { paths: [...REDACT_PATHS], censor: '[redacted]' },
    ...(pretty
      ? { transport: { target: 'pino-pretty', options: { colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } } }
      : {}),
  };
}

/** JSON in production (one line per event, for log shippers); readable in development. */
export function createLogger(level: string, nodeEnv: string): Logger {
  return pino(loggerOptions(level, nodeEnv === 'development' && process.stdout.isTTY === true));
}
