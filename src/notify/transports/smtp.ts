import nodemailer from 'nodemailer';
import type { Config } from '../../config.js';
import type { OutgoingMessage, Transport } from '../transports.js';
import { checkChannel, DeliveryError, localWords, providerWords } from './delivery-error.js';

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

/** Our own words for an SMTP refusal: what was refused, and whether a retry can help. */
function describeSmtpRefusal(command: string | undefined, responseCode: number): string {
  if (responseCode < 500) return 'the server asks to try again later';
  if (command === 'RCPT TO') return 'the server refused the recipient';
  if (command === 'DATA') return 'the server refused the message';
  if (command === 'MAIL FROM') return 'the server refused the sender (MAIL_FROM)';
  if (command?.startsWith('AUTH')) return 'the server refused the credentials in SMTP_URL';
  return 'the server refused the connection';
}

/**
 * The server's refusal or the socket's failure as one line: the reply code and the command it
 * answered, our description, then the server's words, masked (providerWords), e.g. "SMTP 550
 * (RCPT TO): the server refused the recipient; it said "5.1.1 No such user"". A 5xx answer to
 * the recipient or to the message is permanent. A 4xx, a refused sender (MAIL_FROM: every message
 * would fail until the configuration is fixed), a connection failure or a timeout may pass.
 */
function smtpFailure(error: unknown, message: OutgoingMessage): DeliveryError {
  if (!(error instanceof Error)) return new DeliveryError(`SMTP: ${localWords(String(error), message)}`);
  const { code, command, response, responseCode } = error as Error & { code?: string; command?: string; response?: string; responseCode?: number };
  if (responseCode === undefined) {
    // Nothing from the server: a socket's failure, in our own words.
    const words = localWords(error.message || code || 'failed', message);
    return new DeliveryError(`SMTP: could not deliver to the server: ${words}`);
  }
  const permanent = (command === 'RCPT TO' || command === 'DATA') && responseCode >= 500;
  // The reply's own leading code is the structured one, kept above; the rest is the server's free text.
  const said = providerWords((response ?? error.message).replace(/^\s*[0-9]{3}[ -]?/, ''), message);
  const where = command ? ` (${command})` : '';
  return new DeliveryError(`SMTP ${responseCode}${where}: ${describeSmtpRefusal(command, responseCode)}; it said "${said}"`, permanent);
}
