import type { OutgoingMessage } from '../transports.js';

/** Why a message was not delivered: one line, never the message's body nor its PIN. */
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

/** Runs of this many digits or more are masked in a provider's words: they may be a PIN, or part of one. */
const MASKED_DIGITS = 4;

/** `text` with the PIN a message carried masked wherever it appears. */
export function maskPin(text: string, pin: string | undefined): string {
  return pin ? text.split(pin).join('[PIN]') : text;
}

/**
 * Free text a provider sent (an SMTP reply, Twilio's error message), made safe to store and log:
 * on one line; the message's body as [message] where echoed whole; the PIN it carried as [PIN]
 * (a longer run of digits around it as [digits]); and every other run of 4 or more digits as
 * [digits], since a provider may quote the body in part or reformatted. The provider's status code is not in here: callers keep it apart, as the
 * structured part of the error.
 */
export function providerWords(words: string, message: OutgoingMessage): string {
  let line = words.replace(/\s+/g, ' ').trim();
  const body = message.text.replace(/\s+/g, ' ').trim();
  if (body.length > 0) line = line.split(body).join('[message]');
  const pin = message.pin;
  return line.replace(/[0-9]+/g, (run) => {
    if (pin && run.includes(pin)) return run === pin ? '[PIN]' : '[digits]';
    return run.length >= MASKED_DIGITS ? '[digits]' : run;
  });
}

/** What we saw ourselves (a socket's error): one line, the PIN masked should it ever be there. */
export function localWords(words: string, message: OutgoingMessage): string {
  return maskPin(words.replace(/\s+/g, ' ').trim(), message.pin);
}

/** A transport asked to send a message of another channel: a bug of the caller's, never worth a retry. */
export function checkChannel(message: OutgoingMessage, channel: OutgoingMessage['channel']): void {
  if (message.channel !== channel) {
    throw new DeliveryError(`a ${message.channel} message was given to the ${channel} transport`, true);
  }
}
