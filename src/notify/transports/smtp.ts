import nodemailer from 'nodemailer';
import type { Config } from '../../config.js';
import type { OutgoingMessage, Transport } from '../transports.js';
import { checkChannel, DeliveryError, providerWords } from './delivery-error.js';

/** A dead or silent server fails the send (and the queue retries) rather than holding a worker. */
const TIMEOUT_MS = 10_000;

/**
 * E-mail through SMTP_URL. smtps:// is TLS from the start; smtp:// upgrades with STARTTLS
 * whenever the server offers it (nodemailer's default). Options in the URL's query override these,
 * e.g. smtp://relay:587?requireTLS=true to refuse a relay that does not offer STARTTLS.
 */
export function smtpTransport(email: NonNullable<Config['email']>): Transport {
  const transporter = nodemailer.createTransport({
    url: email.smtpUrl,
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
    // The body is plain text we wrote: nothing should make nodemailer read a file or fetch a URL.
    disableFileAccess: true,
    disableUrlAccess: true,
  });

  return {
    channel: 'email',
    via: 'smtp',
    async send(message: OutgoingMessage): Promise<void> {
      checkChannel(message, 'email');
      try {
        await transporter.sendMail({ from: email.from, to: message.to, subject: message.subject, text: message.text });
      } catch (error) {
        throw smtpFailure(error, message);
      }
    },
    async close(): Promise<void> {
      transporter.close();
    },
  };
}

/**
 * The server's refusal or the socket's failure as one line, e.g. "SMTP: Can't send mail - all
 * recipients were rejected: 550 5.1.1 No such user". A 5xx answer to the recipient or to the
 * message is permanent. A 4xx, a refused sender (MAIL_FROM: every message would fail until the
 * configuration is fixed), a connection failure or a timeout may pass.
 */
function smtpFailure(error: unknown, message: OutgoingMessage): DeliveryError {
  if (!(error instanceof Error)) return new DeliveryError(`SMTP: ${providerWords(String(error), message)}`);
  const { code, command, responseCode } = error as Error & { code?: string; command?: string; responseCode?: number };
  const words = error.message || code || 'failed';
  const permanent = (command === 'RCPT TO' || command === 'DATA') && responseCode !== undefined && responseCode >= 500;
  return new DeliveryError(`SMTP: ${providerWords(words, message)}`, permanent);
}
