import http from 'node:http';
import twilio from 'twilio';
import type RequestClientType from 'twilio/lib/base/RequestClient.js';
import type { Config } from '../../config.js';
import type { OutgoingMessage, Transport } from '../transports.js';
import { checkChannel, DeliveryError, providerWords } from './delivery-error.js';

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

/**
 * Twilio's refusal as one line: its error code and words, e.g. "Twilio refused the message
 * (HTTP 400): 21211 The 'To' number … is not a valid phone number". A 400 is about this message
 * (the number, an opted-out recipient), so it is permanent; an auth error, a 429 or a 5xx may pass.
 * A network failure gives the socket's words. Never the request, which holds the body.
 */
function twilioFailure(error: unknown, message: OutgoingMessage): DeliveryError {
  if (error instanceof twilio.RestException) {
    const words = [error.code, error.message].filter((part) => part !== undefined && part !== '').join(' ');
    return new DeliveryError(`Twilio refused the message (HTTP ${error.status}): ${providerWords(words, message)}`, error.status === 400);
  }
  // axios: the system error's code (ECONNREFUSED) is all an AggregateError has, its message being empty.
  const { code, message: words } = error instanceof Error ? (error as Error & { code?: string }) : { code: undefined, message: String(error) };
  const said = code && !words.includes(code) ? `${code} ${words}` : words;
  return new DeliveryError(`Twilio could not be reached: ${providerWords(said, message) || 'no answer'}`);
}
