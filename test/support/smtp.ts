import { SMTPServer, type SMTPServerSession } from 'smtp-server';
import { freePort } from '../../src/net.js';

/** A message the server accepted: its envelope, its raw data, and the few parts tests read. */
export interface ReceivedMail {
  readonly envelopeFrom: string;
  readonly envelopeTo: string[];
  /** The message as sent, headers and encoded body. */
  readonly raw: string;
  /** A header's value, unfolded, with encoded words (=?UTF-8?Q?…?=) decoded; undefined when absent. */
  header(name: string): string | undefined;
  /** The plain-text body, its transfer encoding undone. */
  readonly text: string;
}

/** Where in the conversation a failure answers, and with what. */
export interface SmtpFailure {
  readonly stage: 'connect' | 'mail' | 'rcpt' | 'data';
  /** 4xx: try again later; 5xx: never. */
  readonly code: number;
  /** At the data stage, it may be made from the message's text, as a server that quotes what it refused. */
  readonly message: string | ((text: string) => string);
}

/** A relay that is having trouble; what a retry is for. */
const SMTP_TRY_LATER: SmtpFailure = { stage: 'rcpt', code: 451, message: '4.3.0 Try again later' };

/**
 * An SMTP server on 127.0.0.1 that accepts any message without authentication and records it in
 * `mails`. It offers no STARTTLS (smtp-server's built-in certificate has expired), so a client
 * on smtp:// stays in plain text here without being told to ignore TLS.
 */
export class TestSmtpServer {
  readonly mails: ReceivedMail[] = [];
  /** Every connection made, delivered or not. */
  connections = 0;
  private failures: SmtpFailure[] = [];
  private readonly failing = new Map<string, SmtpFailure>();
  private readonly server: SMTPServer;

  private constructor(
    /** What to set SMTP_URL to. */
    readonly url: string,
  ) {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS'],
      logger: false,
      closeTimeout: 1000,
      onConnect: (session, callback) => {
        this.connections += 1;
        const failure = this.failures.shift();
        if (failure) this.failing.set(session.id, failure);
        callback(this.failureAt('connect', session));
      },
      onMailFrom: (_address, session, callback) => callback(this.failureAt('mail', session)),
      onRcptTo: (_address, session, callback) => callback(this.failureAt('rcpt', session)),
      onData: (stream, session, callback) => {
        const chunks: Buffer[] = [];
        stream.on('data', (chunk: Buffer) => chunks.push(chunk));
        stream.on('end', () => {
          const mail = parseMail(session, Buffer.concat(chunks).toString('utf8'));
          const failure = this.failureAt('data', session, mail.text);
          if (!failure) this.mails.push(mail);
          callback(failure);
        });
      },
      onClose: (session) => this.failing.delete(session.id),
    });
  }

  static async start(): Promise<TestSmtpServer> {
    const port = await freePort();
    const smtp = new TestSmtpServer(`smtp://127.0.0.1:${port}`);
    await new Promise<void>((resolve, reject) => {
      smtp.server.once('error', reject);
      smtp.server.listen(port, '127.0.0.1', () => resolve());
    });
    return smtp;
  }

  /** Fails the next `count` connections (one per message when not pooled) at `failure.stage` (by default a 451 to RCPT TO). */
  failNext(count: number, failure: SmtpFailure = SMTP_TRY_LATER): void {
    this.failures.push(...Array<SmtpFailure>(count).fill(failure));
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private failureAt(stage: SmtpFailure['stage'], session: SMTPServerSession, text = ''): Error | null {
    const failure = this.failing.get(session.id);
    if (failure?.stage !== stage) return null;
    const message = typeof failure.message === 'function' ? failure.message(text) : failure.message;
    return Object.assign(new Error(message), { responseCode: failure.code });
  }
}

function parseMail(session: SMTPServerSession, raw: string): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const encodedBody = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  const encoding = headers.get('content-transfer-encoding')?.toLowerCase();
  const text =
    encoding === 'base64'
      ? Buffer.from(encodedBody, 'base64').toString('utf8')
      : encoding === 'quoted-printable'
        ? decodeQuotedPrintable(encodedBody)
        : encodedBody;
  const mailFrom = session.envelope.mailFrom;
  return {
    envelopeFrom: mailFrom ? mailFrom.address : '',
    envelopeTo: session.envelope.rcptTo.map((rcpt) => rcpt.address),
    raw,
    header: (name) => headers.get(name.toLowerCase()),
    // The data ends with the line break before the final dot.
    text: text.replace(/\r\n$/, '').replace(/\r\n/g, '\n'),
  };
}

/** RFC 2047 encoded words, as nodemailer writes non-ASCII subjects. */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?utf-8\?([bq])\?([^?]*)\?=/gi, (_word, kind: string, data: string) =>
      kind.toLowerCase() === 'b' ? Buffer.from(data, 'base64').toString('utf8') : decodeQuotedPrintable(data.replace(/_/g, ' ')),
    );
}

function decodeQuotedPrintable(data: string): string {
  const bytes = data
    .replace(/=\r?\n/g, '')
    .split(/(=[0-9A-F]{2})/i)
    .flatMap((part) => (/^=[0-9A-F]{2}$/i.test(part) ? [Buffer.from([parseInt(part.slice(1), 16)])] : [Buffer.from(part, 'utf8')]));
  return Buffer.concat(bytes).toString('utf8');
}
