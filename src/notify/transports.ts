import path from 'node:path';
import type { Config } from '../config.js';
import type { DeliveryChannel } from './notices.js';
import { outboxTransport } from './transports/outbox.js';

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
 * A transport whose module (twilio, nodemailer: large libraries) is imported at its first message,
 * so that a command that only reads never loads them.
 */
function loadedOnUse(channel: DeliveryChannel, via: Transport['via'], load: () => Promise<Transport>): Transport {
  let loaded: Promise<Transport> | null = null;
  return {
    channel,
    via,
    async send(message) {
      // A failed import is tried again with the next message (the queue retries it).
      loaded ??= load().catch((err: unknown) => {
        loaded = null;
        throw err;
      });
      await (await loaded).send(message);
    },
    async close() {
      if (loaded) await (await loaded).close();
    },
  };
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

  const smsConfig = config.sms;
  const sms = smsConfig
    ? {
        transport: loadedOnUse('sms', 'twilio', async () => (await import('./transports/twilio.js')).twilioTransport(smsConfig, config.twilioAuthToken)),
        note: `text messages: through Twilio at ${smsConfig.apiUrl}, ${smsConfig.from.startsWith('MG') ? 'messaging service' : 'from'} ${smsConfig.from}`,
      }
    : fallback('sms', 'text messages', 'TWILIO_ACCOUNT_SID and TWILIO_SMS_FROM');
  const emailConfig = config.email;
  const email = emailConfig
    ? {
        transport: loadedOnUse('email', 'smtp', async () => (await import('./transports/smtp.js')).smtpTransport(emailConfig)),
        note: `e-mail: through SMTP at ${serverOf(emailConfig.smtpUrl)}, from ${emailConfig.from}`,
      }
    : fallback('email', 'e-mail', 'SMTP_URL and MAIL_FROM');

  return { sms: sms.transport, email: email.transport, notes: [sms.note, email.note] };
}

/** smtp(s)://host:port, without the user name and password the URL may carry. */
function serverOf(smtpUrl: string): string {
  const url = new URL(smtpUrl);
  return `${url.protocol}//${url.host}`;
}
