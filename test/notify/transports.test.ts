import { mkdtempSync } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { freePort } from '../../src/net.js';
import { createTransports, DeliveryError, type OutgoingMessage, type Transport, type Transports } from '../../src/notify/transports.js';
import { FakeTwilio } from '../support/fake-twilio.js';
import { TestSmtpServer } from '../support/smtp.js';

/** A reset's body: the secret that must never reach an error message. */
const PIN_TEXT = 'Your new PIN is 482913.\nIt works for 24 hours.';
const SMS: OutgoingMessage = { channel: 'sms', to: '+15551230001', text: PIN_TEXT };
const EMAIL: OutgoingMessage = { channel: 'email', to: 'ada@example.com', subject: 'Your PIN was reset', text: PIN_TEXT };

const opened: Transports[] = [];

/** The transports of a configuration built from these variables, the way the server builds them. */
function transportsFor(env: Record<string, string>): Transports {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'pinline-transports-'));
  const transports = createTransports(loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, ...env }));
  opened.push(transports);
  return transports;
}

function present(transport: Transport | null): Transport {
  if (!transport) throw new Error('expected a transport');
  return transport;
}

/** The rejection of a send, checked to be a DeliveryError on one line that keeps the body out. */
async function failureOf(sending: Promise<void>): Promise<DeliveryError> {
  const error = await sending.then(
    () => null,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(DeliveryError);
  const failure = error as DeliveryError;
  expect(failure.message).not.toMatch(/[\r\n]/);
  expect(failure.message).not.toContain('482913');
  return failure;
}

afterEach(async () => {
  vi.unstubAllEnvs();
  for (const transports of opened.splice(0)) {
    await transports.sms?.close();
    await transports.email?.close();
  }
});

describe('text messages through Twilio', () => {
  let twilio: FakeTwilio;
  beforeAll(async () => {
    twilio = await FakeTwilio.start();
  });
  afterAll(() => twilio.stop());

  const twilioEnv = (from = '+15550001000') => ({
    TWILIO_ACCOUNT_SID: twilio.accountSid,
    TWILIO_AUTH_TOKEN: twilio.authToken,
    TWILIO_SMS_FROM: from,
    TWILIO_API_URL: twilio.url,
  });

  it('when a text message is sent, then Twilio receives it with the account credentials, To, From and Body', async () => {
    const sms = present(transportsFor(twilioEnv()).sms);
    expect(sms).toMatchObject({ channel: 'sms', via: 'twilio' });
    const before = twilio.messages.length;
    await sms.send(SMS);
    expect(twilio.messages.slice(before)).toEqual([
      { sid: expect.stringMatching(/^SM[0-9a-f]{32}$/), accountSid: twilio.accountSid, to: '+15551230001', from: '+15550001000', messagingServiceSid: null, body: PIN_TEXT },
    ]);
  });

  it('when the sender is a messaging service, then it is sent as MessagingServiceSid instead of From', async () => {
    const service = `MG${'a'.repeat(32)}`;
    const before = twilio.messages.length;
    await present(transportsFor(twilioEnv(service)).sms).send(SMS);
    expect(twilio.messages.slice(before)).toEqual([expect.objectContaining({ from: null, messagingServiceSid: service, body: PIN_TEXT })]);
  });

  it('when TWILIO_REGION is in the environment, then messages still go to TWILIO_API_URL', async () => {
    vi.stubEnv('TWILIO_REGION', 'ie1');
    vi.stubEnv('TWILIO_EDGE', 'dublin');
    const before = twilio.messages.length;
    await present(transportsFor(twilioEnv()).sms).send(SMS);
    expect(twilio.messages.length).toBe(before + 1);
  });

  it('when Twilio refuses the number, then the send rejects with its code on one line, permanently, without the body', async () => {
    const failure = await failureOf(present(transportsFor(twilioEnv()).sms).send({ ...SMS, to: '+0123' }));
    expect(failure.message).toBe('Twilio 400, error 21211: the number is not a valid phone number; it said "The \'To\' number +[digits] is not a valid phone number."');
    expect(failure.permanent).toBe(true);
  });

  it("when Twilio's refusal quotes the body, then the error says [message] in its place", async () => {
    twilio.failNext(1, { status: 400, code: 30007, message: `Message filtered: ${PIN_TEXT}` });
    const failure = await failureOf(present(transportsFor(twilioEnv()).sms).send(SMS));
    expect(failure.message).toBe('Twilio 400, error 30007: Twilio refused this message; it said "Message filtered: [message]"');
  });

  it.each([
    ['all of the message', `Message filtered: ${PIN_TEXT}`, 'Message filtered: [message]'],
    ['part of it, with the PIN', 'Blocked: Your new PIN is 482913', 'Blocked: Your new PIN is [PIN]'],
    ['the PIN run into other digits', 'Blocked content ref 9482913 (482913) for +15551230001', 'Blocked content ref [digits] ([PIN]) for +[digits]'],
    ['none of it', 'Message body is invalid', 'Message body is invalid'],
  ])("when Twilio's refusal quotes %s, then the PIN and every run of 4 or more digits are masked, and the status and code kept", async (_case, words, kept) => {
    twilio.failNext(1, { status: 400, code: 21617, message: words });
    const failure = await failureOf(present(transportsFor(twilioEnv()).sms).send({ ...SMS, pin: '482913' }));
    expect(failure.message).toBe(`Twilio 400, error 21617: Twilio refused this message; it said "${kept}"`);
  });

  it('when the auth token is wrong, then Twilio refuses with 401 and nothing is sent', async () => {
    const before = twilio.messages.length;
    const failure = await failureOf(present(transportsFor({ ...twilioEnv(), TWILIO_AUTH_TOKEN: 'f'.repeat(32) }).sms).send(SMS));
    expect(failure.message).toBe('Twilio 401, error 20003: Twilio refused the account SID or auth token; it said "Authenticate"');
    expect(failure.permanent).toBe(false);
    expect(twilio.messages.length).toBe(before);
  });

  it('when Twilio is unavailable or drops the connection, then the send rejects as worth a retry, and the next one goes through', async () => {
    const sms = present(transportsFor(twilioEnv()).sms);
    twilio.failNext(1);
    twilio.failNext(1, 'disconnect');
    const unavailable = await failureOf(sms.send(SMS));
    expect(unavailable).toMatchObject({ message: 'Twilio 503, error 20503: Twilio is having trouble; it said "Service Unavailable"', permanent: false });
    const dropped = await failureOf(sms.send(SMS));
    expect(dropped.message).toMatch(/^Twilio could not be reached: /);
    expect(dropped.permanent).toBe(false);
    await sms.send(SMS);
  });

  it('when nothing listens at TWILIO_API_URL, then the send rejects naming the connection failure', async () => {
    const port = await freePort();
    const failure = await failureOf(present(transportsFor({ ...twilioEnv(), TWILIO_API_URL: `http://127.0.0.1:${port}` }).sms).send(SMS));
    expect(failure.message).toMatch(/^Twilio could not be reached: connect ECONNREFUSED 127\.0\.0\.1:\d+$/);
  });
});

describe('e-mail through SMTP', () => {
  let smtp: TestSmtpServer;
  beforeAll(async () => {
    smtp = await TestSmtpServer.start();
  });
  afterAll(() => smtp.stop());

  const smtpEnv = () => ({ SMTP_URL: smtp.url, MAIL_FROM: 'pinline@example.com' });

  it('when an e-mail is sent, then the server receives it from MAIL_FROM with the To, Subject and text', async () => {
    const email = present(transportsFor(smtpEnv()).email);
    expect(email).toMatchObject({ channel: 'email', via: 'smtp' });
    const before = smtp.mails.length;
    await email.send(EMAIL);
    const [mail] = smtp.mails.slice(before);
    expect(mail?.envelopeFrom).toBe('pinline@example.com');
    expect(mail?.envelopeTo).toEqual(['ada@example.com']);
    expect(mail?.header('From')).toBe('pinline@example.com');
    expect(mail?.header('To')).toBe('ada@example.com');
    expect(mail?.header('Subject')).toBe('Your PIN was reset');
    expect(mail?.header('Content-Type')).toMatch(/^text\/plain/);
    expect(mail?.text).toBe(PIN_TEXT);
  });

  it('when the subject and text are not ASCII, then they arrive as written', async () => {
    const before = smtp.mails.length;
    await present(transportsFor(smtpEnv()).email).send({ ...EMAIL, subject: 'Tu PIN se restableció', text: 'Tu nuevo PIN es 482913. Válido 24 horas.' });
    const [mail] = smtp.mails.slice(before);
    expect(mail?.header('Subject')).toBe('Tu PIN se restableció');
    expect(mail?.text).toBe('Tu nuevo PIN es 482913. Válido 24 horas.');
  });

  it('when the server rejects the recipient for good, then the send rejects with its answer on one line, permanently', async () => {
    smtp.failNext(1, { stage: 'rcpt', code: 550, message: '5.1.1 No such user' });
    const failure = await failureOf(present(transportsFor(smtpEnv()).email).send(EMAIL));
    expect(failure.message).toBe('SMTP 550 (RCPT TO): the server refused the recipient; it said "5.1.1 No such user"');
    expect(failure.permanent).toBe(true);
  });

  it.each([
    ['all of the message', `Rejected: ${PIN_TEXT}`, 'Rejected: [message]'],
    ['part of it, with the PIN', '5.7.1 Spam: "Your new PIN is 482913."', '5.7.1 Spam: "Your new PIN is [PIN]."'],
    ['the PIN run into other digits', '5.7.1 Rejected 4829130 id 20260101', '5.7.1 Rejected [digits] id [digits]'],
    ['none of it', '5.7.1 Message refused', '5.7.1 Message refused'],
  ])('when the server refuses the message quoting %s, then the PIN and every run of 4 or more digits are masked, and the reply code kept', async (_case, words, kept) => {
    smtp.failNext(1, { stage: 'data', code: 554, message: words });
    const failure = await failureOf(present(transportsFor(smtpEnv()).email).send({ ...EMAIL, pin: '482913' }));
    expect(failure.message).toBe(`SMTP 554 (DATA): the server refused the message; it said "${kept}"`);
    expect(failure.permanent).toBe(true);
  });

  it('when the server refuses the sender, then the send rejects as worth a retry: every message would fail until MAIL_FROM is fixed', async () => {
    smtp.failNext(1, { stage: 'mail', code: 550, message: '5.7.1 Sender not allowed' });
    const failure = await failureOf(present(transportsFor(smtpEnv()).email).send(EMAIL));
    expect(failure).toMatchObject({ message: 'SMTP 550 (MAIL FROM): the server refused the sender (MAIL_FROM); it said "5.7.1 Sender not allowed"', permanent: false });
  });

  it('when the server says try later, at the recipient or at the greeting, then the send rejects as worth a retry', async () => {
    const email = present(transportsFor(smtpEnv()).email);
    smtp.failNext(1);
    smtp.failNext(1, { stage: 'connect', code: 421, message: '4.3.2 Service not available' });
    const later = await failureOf(email.send(EMAIL));
    expect(later.message).toBe('SMTP 451 (RCPT TO): the server asks to try again later; it said "4.3.0 Try again later"');
    expect(later.permanent).toBe(false);
    const greeting = await failureOf(email.send(EMAIL));
    expect(greeting.message).toMatch(/^SMTP 421\b.*: the server asks to try again later; it said "4\.3\.2 Service not available"$/);
    expect(greeting.permanent).toBe(false);
    const before = smtp.mails.length;
    await email.send(EMAIL);
    expect(smtp.mails.length).toBe(before + 1);
  });

  it('when nothing listens at SMTP_URL, then the send rejects naming the connection failure', async () => {
    const port = await freePort();
    const failure = await failureOf(present(transportsFor({ ...smtpEnv(), SMTP_URL: `smtp://127.0.0.1:${port}` }).email).send(EMAIL));
    expect(failure.message).toMatch(/^SMTP: could not deliver to the server: .*ECONNREFUSED/);
    expect(failure.permanent).toBe(false);
  });
});

describe('the outbox and the notes', () => {
  it('when nothing is configured outside production, then both channels write 0600 files to a 0700 DATA_DIR/outbox', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'pinline-outbox-'));
    const transports = createTransports(loadConfig({ NODE_ENV: 'development', DATA_DIR: dataDir }));
    opened.push(transports);
    const outbox = path.join(dataDir, 'outbox');
    expect(transports.sms).toMatchObject({ channel: 'sms', via: 'outbox' });
    expect(transports.email).toMatchObject({ channel: 'email', via: 'outbox' });
    expect(transports.notes).toEqual([
      `text messages: not configured (set TWILIO_ACCOUNT_SID and TWILIO_SMS_FROM); in development they are written to ${outbox}`,
      `e-mail: not configured (set SMTP_URL and MAIL_FROM); in development they are written to ${outbox}`,
    ]);

    await present(transports.sms).send(SMS);
    await present(transports.email).send(EMAIL);

    expect((await stat(outbox)).mode & 0o777).toBe(0o700);
    const files = await readdir(outbox);
    const named = (pattern: RegExp) => path.join(outbox, files.find((file) => pattern.test(file)) ?? `(no file matches ${pattern})`);
    expect(files).toHaveLength(2);
    const smsFile = named(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-sms-\+15551230001-[0-9a-f]{4}\.txt$/);
    const emailFile = named(/^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z-email-ada@example\.com-[0-9a-f]{4}\.txt$/);
    for (const file of [smsFile, emailFile]) expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(smsFile, 'utf8')).toBe(`To: +15551230001\nChannel: sms\n\n${PIN_TEXT}\n`);
    expect(await readFile(emailFile, 'utf8')).toBe(`To: ada@example.com\nSubject: Your PIN was reset\nChannel: email\n\n${PIN_TEXT}\n`);
  });

  it('when nothing is configured in production, then both channels are skipped and the notes say so', () => {
    const transports = createTransports(
      loadConfig({
        NODE_ENV: 'production',
        DATA_DIR: mkdtempSync(path.join(tmpdir(), 'pinline-outbox-')),
        DATABASE_URL: 'postgres://db/pinline',
        PUBLIC_BASE_URL: 'https://pin.example',
        TWILIO_AUTH_TOKEN: '0123456789abcdef0123456789ABCDEF',
        PIN_PEPPER: 'pepper-0123456789abcdef0123456789abcdef',
        SESSION_SECRET: 'session-0123456789abcdef0123456789abcdef',
      }),
    );
    expect(transports).toEqual({
      sms: null,
      email: null,
      notes: [
        'text messages: not configured (set TWILIO_ACCOUNT_SID and TWILIO_SMS_FROM); none are sent',
        'e-mail: not configured (set SMTP_URL and MAIL_FROM); none are sent',
      ],
    });
  });

  it('when both channels are configured, then the notes name Twilio and the SMTP server, without its password', () => {
    const transports = transportsFor({
      TWILIO_ACCOUNT_SID: `AC${'0'.repeat(32)}`,
      TWILIO_SMS_FROM: '+15550001000',
      SMTP_URL: 'smtps://pinline:s3cret-pass@mail.example.com:465',
      MAIL_FROM: 'pinline@example.com',
    });
    expect(transports.notes).toEqual([
      'text messages: through Twilio at https://api.twilio.com, from +15550001000',
      'e-mail: through SMTP at smtps://mail.example.com:465, from pinline@example.com',
    ]);
  });

  it('when a transport is given a message of the other channel, then it refuses it', async () => {
    const transports = transportsFor({});
    const failure = await failureOf(present(transports.email).send(SMS));
    expect(failure.message).toBe('a sms message was given to the email transport');
  });
});
