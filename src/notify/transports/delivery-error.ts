import type { OutgoingMessage } from '../transports.js';

/** Why a message was not delivered: one line, never the message's body. */
export class DeliveryError extends Error {
  override readonly name = 'DeliveryError';

  constructor(
    message: string,
    /** True when the provider refused this very message (a bad number, an unknown mailbox): a retry would fail again. */
    readonly permanent = false,
  ) {
    super(message);
  }
}

/**
 * A provider's words made safe for a log line: on one line, and without the body, in case a
 * provider ever echoes it (a reset's body carries a PIN).
 */
export function providerWords(words: string, message: OutgoingMessage): string {
  const line = words.replace(/\s+/g, ' ').trim();
  const body = message.text.replace(/\s+/g, ' ').trim();
  return body.length > 0 ? line.split(body).join('[message]') : line;
}

/** A transport asked to send a message of another channel: a bug of the caller's, never worth a retry. */
export function checkChannel(message: OutgoingMessage, channel: OutgoingMessage['channel']): void {
  if (message.channel !== channel) {
    throw new DeliveryError(`a ${message.channel} message was given to the ${channel} transport`, true);
  }
}
