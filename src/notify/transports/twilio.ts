import http from 'node:http';
import twilio from 'twilio';
import type RequestClientType from 'twilio/lib/base/RequestClient.js';
import type { Config } from '../../config.js';
import type { OutgoingMessage, Transport } from '../transports.js';
import { checkChannel, DeliveryError, localWords, providerWords } from './delivery-error.js';

/** A dead or slow API fails the send (and the queue retries) rather than holding a worker. */
const TIMEOUT_MS = 10_000;

/**
 * twilio's HTTP client, sending every request to TWILIO_API_URL (a test server, a proxy, or a
 * regional host such as https://api.dublin.ie1.twilio.com). The SDK has no base-URL setting, and
 * it rewrites the host itself when TWILIO_REGION or TWILIO_EDGE is in the environment, so the
 * whole origin is replaced here, whatever host the SDK chose: one setting says where messages go.
 */
class ApiUrlClient extends twilio.RequestClient {
  constructor(private readonly apiUrl: string) {
    super({ timeout: TIMEOUT_MS });
    // Its own agent for http:// (tests, a local proxy), so that close() can end its sockets.
    this.axios.defaults.httpAgent = new http.Agent({ keepAlive: true });
  }

  override request<TData>(opts: RequestClientType.RequestOptions<TData>) {
    const { pathname, search } = new URL(opts.uri);
    return super.request({ ...opts, uri: `${this.apiUrl}${pathname}${search}` });
  }

  close(): void {
    const agents: Array<{ destroy(): void } | undefined> = [this.axios.defaults.httpAgent, this.axios.defaults.httpsAgent];
    for (const agent of agents) agent?.destroy();
  }
}

/** Text messages through Twilio's Messages API. */
export function twilioTransport(sms: NonNullable<Config['sms']>, authToken: string): Transport {
  const httpClient = new ApiUrlClient(sms.apiUrl);
  const client = twilio(sms.accountSid, authToken, { httpClient });
  // TWILIO_SMS_FROM is a number or a messaging service (MG…), which picks the number itself.
  const sender = sms.from.startsWith('MG') ? { messagingServiceSid: sms.from } : { from: sms.from };

  return {
    channel: 'sms',
    via: 'twilio',
    async send(message: OutgoingMessage): Promise<void> {
      checkChannel(message, 'sms');
      try {
        await client.messages.create({ to: message.to, body: message.text, ...sender });
      } catch (error) {
        throw twilioFailure(error, message);
      }
    },
    async close(): Promise<void> {
      httpClient.close();
    },
  };
}

/** Twilio's error codes we name in our own words; https://www.twilio.com/docs/api/errors lists them all. */
const TWILIO_ERRORS: Readonly<Record<number, string>> = {
  20003: 'Twilio refused the account SID or auth token',
  20429: 'Twilio asks to slow down',
  21211: 'the number is not a valid phone number',
  21408: 'text messages to that region are not enabled on the account',
  21606: 'TWILIO_SMS_FROM cannot send text messages',
  21610: 'the recipient has opted out (replied STOP)',
  21612: 'Twilio cannot route a text message to that number',
  21614: 'the number is not a mobile number',
};

/** Our own words for a refusal Twilio answered with this HTTP status and error code. */
function describeTwilioRefusal(status: number, code: number | undefined): string {
  const known = code === undefined ? undefined : TWILIO_ERRORS[code];
  if (known) return known;
  if (status === 400) return 'Twilio refused this message';
  if (status === 401 || status === 403) return 'Twilio refused the account SID or auth token';
  if (status === 429) return 'Twilio asks to slow down';
  if (status >= 500) return 'Twilio is having trouble';
  return 'Twilio refused the request';
}

/**
 * Twilio's refusal as one line: its HTTP status and error code, our description, then Twilio's
 * words, masked (providerWords), e.g. "Twilio 400, error 21211: the number is not a valid phone
 * number; it said "The 'To' number +[digits] is not a valid phone number."". A 400 is about this
 * message (the number, an opted-out recipient), so it is permanent; an auth error, a 429 or a 5xx
 * may pass. A network failure gives the socket's words. Never the request, which holds the body.
 */
function twilioFailure(error: unknown, message: OutgoingMessage): DeliveryError {
  if (error instanceof twilio.RestException) {
    const code = typeof error.code === 'number' ? error.code : undefined;
    const status = `Twilio ${error.status}${code === undefined ? '' : `, error ${code}`}`;
    const said = error.message ? `; it said "${providerWords(error.message, message)}"` : '';
    return new DeliveryError(`${status}: ${describeTwilioRefusal(error.status, code)}${said}`, error.status === 400);
  }
  // axios: the system error's code (ECONNREFUSED) is all an AggregateError has, its message being empty.
  const { code, message: words } = error instanceof Error ? (error as Error & { code?: string }) : { code: undefined, message: String(error) };
  const said = code && !words.includes(code) ? `${code} ${words}` : words;
  return new DeliveryError(`Twilio could not be reached: ${localWords(said, message) || 'no answer'}`);
}
