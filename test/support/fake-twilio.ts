import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { freePort } from '../../src/net.js';

/** A message the fake accepted, with the fields as Twilio received them. */
export interface ReceivedSms {
  readonly sid: string;
  readonly accountSid: string;
  readonly to: string;
  readonly from: string | null;
  readonly messagingServiceSid: string | null;
  readonly body: string;
}

/**
 * How the fake fails a request: a Twilio error answer, or a connection dropped without one. The
 * message may be made from the request's Body, as a provider that quotes what it refused.
 */
export type TwilioFailure =
  | { readonly status: number; readonly code: number; readonly message: string | ((body: string) => string) }
  | 'disconnect';

/** Twilio's answer when it is having trouble; what a retry is for. */
const TWILIO_UNAVAILABLE: TwilioFailure = { status: 503, code: 20503, message: 'Service Unavailable' };

const MESSAGES_PATH = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/;
const E164 = /^\+[1-9][0-9]{1,14}$/;

/**
 * Twilio's Messages API as documented, on 127.0.0.1: POST /2010-04-01/Accounts/{AccountSid}/Messages.json
 * with HTTP Basic auth (AccountSid:AuthToken) and a form body of To, From or MessagingServiceSid,
 * and Body. It answers 201 with a message resource, or a Twilio error (401 for wrong credentials,
 * 400 for a missing or invalid field), and records what it accepted in `messages`.
 */
export class FakeTwilio {
  /** Every message accepted, in order. */
  readonly messages: ReceivedSms[] = [];
  /** Every request that reached the server, accepted or not. */
  requests = 0;
  private failures: TwilioFailure[] = [];

  private constructor(
    private readonly server: Server,
    /** What to set TWILIO_API_URL to. */
    readonly url: string,
    readonly accountSid: string,
    readonly authToken: string,
  ) {}

  static async start(credentials: { accountSid?: string; authToken?: string } = {}): Promise<FakeTwilio> {
    const accountSid = credentials.accountSid ?? `AC${randomBytes(16).toString('hex')}`;
    const authToken = credentials.authToken ?? randomBytes(16).toString('hex');
    const port = await freePort();
    const server = createServer();
    const fake = new FakeTwilio(server, `http://127.0.0.1:${port}`, accountSid, authToken);
    server.on('request', (req, res) => void fake.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    return fake;
  }

  /** Fails the next `count` requests, after the credentials are checked, with `failure` (by default a 503). */
  failNext(count: number, failure: TwilioFailure = TWILIO_UNAVAILABLE): void {
    this.failures.push(...Array<TwilioFailure>(count).fill(failure));
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.requests += 1;
    const body = await readBody(req);
    const accountSid = MESSAGES_PATH.exec(req.url ?? '')?.[1];
    if (accountSid === undefined) return answerError(res, { status: 404, code: 20404, message: `The requested resource ${req.url} was not found` });
    if (req.method !== 'POST') return answerError(res, { status: 405, code: 20004, message: 'Method not allowed' });
    if (!this.authorized(req.headers.authorization, accountSid)) return answerError(res, { status: 401, code: 20003, message: 'Authenticate' });

    const failure = this.failures.shift();
    if (failure === 'disconnect') return void req.socket.destroy();
    if (failure) {
      const { message } = failure;
      return answerError(res, { ...failure, message: typeof message === 'function' ? message(new URLSearchParams(body).get('Body') ?? '') : message });
    }

    if (!(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')) {
      return answerError(res, { status: 400, code: 20001, message: 'Content-Type must be application/x-www-form-urlencoded' });
    }
    const form = new URLSearchParams(body);
    const to = form.get('To');
    const from = form.get('From');
    const messagingServiceSid = form.get('MessagingServiceSid');
    const text = form.get('Body');
    if (!to) return answerError(res, { status: 400, code: 21604, message: "A 'To' phone number is required." });
    if (!from && !messagingServiceSid) return answerError(res, { status: 400, code: 21603, message: "A 'From' or 'MessagingServiceSid' parameter is required to send a message." });
    if (!text) return answerError(res, { status: 400, code: 21602, message: 'Message body is required.' });
    if (!E164.test(to)) return answerError(res, { status: 400, code: 21211, message: `The 'To' number ${to} is not a valid phone number.` });

    const sid = `SM${randomBytes(16).toString('hex')}`;
    this.messages.push({ sid, accountSid, to, from, messagingServiceSid, body: text });
    const now = new Date().toUTCString().replace('GMT', '+0000');
    answer(res, 201, {
      sid,
      account_sid: accountSid,
      to,
      from,
      messaging_service_sid: messagingServiceSid,
      body: text,
      // Twilio says "accepted" while a messaging service picks the sender, "queued" otherwise.
      status: messagingServiceSid ? 'accepted' : 'queued',
      direction: 'outbound-api',
      api_version: '2010-04-01',
      num_segments: '1',
      num_media: '0',
      price: null,
      price_unit: 'USD',
      error_code: null,
      error_message: null,
      date_created: now,
      date_updated: now,
      date_sent: null,
      uri: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}.json`,
      subresource_uris: { media: `/2010-04-01/Accounts/${accountSid}/Messages/${sid}/Media.json` },
    });
  }

  private authorized(header: string | undefined, accountSid: string): boolean {
    const [scheme, encoded] = (header ?? '').split(' ');
    if (scheme !== 'Basic' || !encoded) return false;
    return accountSid === this.accountSid && Buffer.from(encoded, 'base64').toString('utf8') === `${this.accountSid}:${this.authToken}`;
  }
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function answer(res: ServerResponse, status: number, body: object): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(body));
}

function answerError(res: ServerResponse, error: { status: number; code: number; message: string }): void {
  answer(res, error.status, { ...error, more_info: `https://www.twilio.com/docs/errors/${error.code}` });
}
