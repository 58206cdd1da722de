import path from 'node:path';
import type { Config } from '../config.js';
import type { DeliveryChannel } from './notices.js';
import { outboxTransport } from './transports/outbox.js';
import { smtpTransport } from './transports/smtp.js';
import { twilioTransport } from './transports/twilio.js';

export { DeliveryError } from './transports/delivery-error.js';

/** One rendered message for one recipient on one channel. */
export interface OutgoingMessage {
  readonly channel: DeliveryChannel;
  /** E.164 for sms, an e-mail address for email. */
  readonly to: string;
  /** E-mail only. */
  readonly subject?: string;
  /** The body, plain text. It may carry a one-time PIN: it is never logged, nor put in an error. */
  readonly text: string;
  /** The one-time PIN the body carries (a reset's), so that a provider's words can be masked of it. */
  readonly pin?: string;
}

export interface Transport {
  readonly channel: DeliveryChannel;
  /** Where messages actually go, for the start-up notes and the admin page. */
  readonly via: 'twilio' | 'smtp' | 'outbox';
  /**
   * Resolves once the provider accepted the message. Rejects with a DeliveryError: one line,
   * never the body, and `permanent` when sending the same message again cannot succeed.
   */
  send(message: OutgoingMessage): Promise<void>;
  close(): Promise<void>;
}

export interface Transports {
  readonly sms: Transport | null;
  readonly email: Transport | null;
  /** One line per channel: where its messages go, or why they go nowhere. */
  readonly notes: string[];
}

/**
 * The transport of each channel (DESIGN §8): Twilio for text messages, SMTP for e-mail. A channel
 * that is not configured is skipped in production, and written to DATA_DIR/outbox elsewhere, so
 * that development and tests can read what would have been sent.
 */
export function createTransports(config: Config): Transports {
  const outbox = path.join(config.dataDir, 'outbox');
  const fallback = (channel: DeliveryChannel, label: string, variables: string) => {
    const missing = `${label}: not configured (set ${variables})`;
    return config.nodeEnv === 'production'
      ? { transport: null, note: `${missing}; none are sent` }
      : { transport: outboxTransport(channel, outbox), note: `${missing}; in ${config.nodeEnv} they are written to ${outbox}` };
  };

  const sms = config.sms
    ? {
        transport: twilioTransport(config.sms, config.twilioAuthToken),
        note: `text messages: through Twilio at ${config.sms.apiUrl}, ${config.sms.from.startsWith('MG') ? 'messaging service' : 'from'} ${config.sms.from}`,
      }
    : fallback('sms', 'text messages', 'TWILIO_ACCOUNT_SID and TWILIO_SMS_FROM');
  const email = config.email
    ? { transport: smtpTransport(config.email), note: `e-mail: through SMTP at ${serverOf(config.email.smtpUrl)}, from ${config.email.from}` }
    : fallback('email', 'e-mail', 'SMTP_URL and MAIL_FROM');

  return { sms: sms.transport, email: email.transport, notes: [sms.note, email.note] };
}

/** smtp(s)://host:port, without the user name and password the URL may carry. */
function serverOf(smtpUrl: string): string {
  const url = new URL(smtpUrl);
  return `${url.protocol}//${url.host}`;
}
