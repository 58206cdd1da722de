import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CallStateSealer } from '../../src/voice/seal.js';
import { signTwilioRequest } from '../../src/voice/signature.js';
import { createUser } from '../support/factories.js';
import { actionOf, postWebhook, usePhoneServer, WebhookCaller } from '../support/phone.js';

/**
 * The webhook fuzzed with fast-check: random and malformed methods, paths, headers, bodies and
 * signatures. Whatever comes in: no 5xx (but a 503 from /readyz), the process keeps serving,
 * and a request without a valid signature changes nothing in the database.
 */
const phone = usePhoneServer();
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);

/** Sealed states taken from a real call, at the ID prompt, the PIN prompt and the menu. */
const tokens: string[] = [];
let callSid = '';

beforeAll(async () => {
  const user = await createUser(phone.services);
  callSid = `CA${'f'.repeat(32)}`;
  const token = phone.services.config.twilioAuthToken;
  const base = { CallSid: callSid, From: '+15550000100', To: '+15550000199' };
  let answer = await postWebhook(phone.phone.baseUrl, token, '/voice/incoming', base);
  for (const digits of [user.extension, user.pin]) {
    const action = actionOf(answer.body);
    tokens.push(new URL(action, 'http://x').searchParams.get('s') ?? '');
    answer = await postWebhook(phone.phone.baseUrl, token, action, { ...base, Digits: digits });
  }
  tokens.push(new URL(actionOf(answer.body), 'http://x').searchParams.get('s') ?? '');
});

interface Sent {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

function send(sent: Sent): Promise<{ status: number; body: string }> {
  const url = new URL(phone.phone.baseUrl);
  const withBody = sent.method !== 'GET' && sent.method !== 'HEAD';
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: sent.method,
        path: sent.path,
        headers: { ...sent.headers, 'content-length': String(withBody ? Buffer.byteLength(sent.body) : 0) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error(`no answer to ${sent.method} ${sent.path} within Twilio's 15 s`)));
    req.end(withBody ? sent.body : undefined);
  });
}

async function snapshot(): Promise<string> {
  const { rows } = await phone.services.pool.query(
    `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY 1`,
  );
  const parts: string[] = [];
  for (const { table_name: name } of rows as Array<{ table_name: string }>) {
    const { rows: r } = await phone.services.pool.query(`SELECT count(*)::int AS n, md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) AS h FROM "${name}" t`);
    parts.push(`${name}:${r[0].n}:${r[0].h}`);
  }
  return parts.join('\n');
}

// ---- generators
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 60 });
const anyText = fc.string({ unit: 'binary', maxLength: 200 });
const token = fc.oneof(
  fc.constantFrom(...['', 'x', '%', '%%', '..', 'AAAA']),
  printable,
  fc.integer({ min: 0, max: 2 }).map((i) => tokens[i] ?? ''),
  fc.tuple(fc.integer({ min: 0, max: 2 }), fc.nat(), fc.constantFrom('A', '_', '-', '')).map(([i, at, c]) => {
    const t = tokens[i] ?? '';
    const k = at % Math.max(1, t.length);
    return t.slice(0, k) + c + t.slice(k + 1);
  }),
);
const voicePath = fc.oneof(
  fc.constant('/voice/incoming'),
  fc.constant('/voice/status'),
  token.map((t) => `/voice/turn?s=${encodeURIComponent(t)}`),
  token.map((t) => `/voice/no-input?s=${encodeURIComponent(t)}`),
  fc.tuple(token, token).map(([a, b]) => `/voice/turn?s=${encodeURIComponent(a)}&s=${encodeURIComponent(b)}`),
  printable.map((p) => `/voice/${encodeURIComponent(p)}`),
);
const anyPath = fc.oneof(voicePath, voicePath, fc.constantFrom('/', '/healthz', '/readyz', '/voice', '/voice/', '//voice/turn', '/VOICE/turn'), printable.map((p) => `/${encodeURIComponent(p)}`));
/** Fields a caller could send; the values include the user's PIN, so a forged turn could sign in if it got through. */
const params = fc.dictionary(
  fc.oneof(fc.constantFrom('CallSid', 'Digits', 'From', 'To', 'CallStatus', 'AccountSid', '__proto__', 'constructor', 'a[b]', 's'), printable),
  fc.oneof(fc.constant(callSid || 'CAffffffffffffffffffffffffffffffff'), fc.constantFrom('1', '2', '*', '#', '', '00000000000000000000000000', 'CA', '860472', '4001', '604817'), printable, anyText),
  { maxKeys: 8 },
);
/** What Twilio could sign: its field names (and other plain names), any values. */
const signedParams = fc.dictionary(
  fc.oneof(
    fc.constantFrom('CallSid', 'Digits', 'From', 'To', 'CallStatus', 'AccountSid', 'Direction', 'SpeechResult', 's'),
    fc.stringMatching(/^[A-Z][A-Za-z0-9]{0,15}$/),
  ),
  fc.oneof(fc.constant(callSid || 'CAffffffffffffffffffffffffffffffff'), fc.constantFrom('1', '2', '*', '#', '', '00000000000000000000000000', 'CA', '860472', '4001', '604817'), printable, anyText),
  { maxKeys: 8 },
);
const body = fc.oneof(
  params.map((p) => new URLSearchParams(p).toString()),
  anyText,
  fc.constantFrom('%', '%E0%A4%A', '&&&==', 'a[b][c][d][e][f]=1', '__proto__[x]=1&constructor[prototype][y]=2', 'CallSid=' + 'A'.repeat(100)),
  fc.nat({ max: 3 }).map((n) => 'x='.padEnd(17_000 * n + 2, 'y')),
  fc.constant(Array.from({ length: 1200 }, (_, i) => `k${i}=v`).join('&')),
);
const contentType = fc.oneof(
  fc.constantFrom(
    'application/x-www-form-urlencoded',
    'application/x-www-form-urlencoded; charset=utf-8',
    'application/x-www-form-urlencoded; charset=latin1',
    'application/x-www-form-urlencoded; charset=utf-16',
    'application/json',
    'text/plain',
    'multipart/form-data; boundary=x',
  ),
  printable,
);
const badSignature = fc.oneof(
  fc.constant(undefined),
  fc.constantFrom('', ' ', 'null', '==', 'AAAAAAAAAAAAAAAAAAAAAAAAAAA='),
  printable,
  fc.tuple(voicePath, params).map(([p, q]) => signTwilioRequest(phone.services.config.twilioAuthToken, `${phone.phone.baseUrl}${p}x`, q)),
  fc.tuple(voicePath, params).map(([p, q]) => signTwilioRequest('another-auth-token', `${phone.phone.baseUrl}${p}`, q)),
);
const method = fc.oneof(fc.constant('POST'), fc.constant('POST'), fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'HEAD'));
const extraHeaders = fc.dictionary(
  fc.constantFrom('x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'accept', 'accept-encoding', 'content-encoding', 'transfer-encoding-x', 'host-x', 'x-twilio-signature-extra'),
  printable,
  { maxKeys: 3 },
);

describe('webhook fuzzing', () => {
  it('when requests carry random, malformed or wrong signatures, then none gets a 5xx or TwiML, and the database does not change', async () => {
    const before = await snapshot();
    await fc.assert(
      fc.asyncProperty(method, anyPath, contentType, body, badSignature, extraHeaders, async (m, path, type, payload, signature, extra) => {
        const headers: Record<string, string> = { ...extra, 'content-type': type };
        if (signature !== undefined) headers['x-twilio-signature'] = signature;
        const answer = await send({ method: m, path, headers, body: payload });
        expect(answer.status, `${m} ${path}`).toBeLessThan(500);
        if (path.startsWith('/voice/')) expect(answer.body).not.toContain('<Response>');
      }),
      { numRuns: RUNS },
    );
    expect(await snapshot()).toBe(before);
  }, 180_000);

  it('when correctly signed requests carry random fields, states and paths, then every answer is TwiML in HTTP 200 (or 204 for a status callback), never a 5xx', async () => {
    const authToken = phone.services.config.twilioAuthToken;
    await fc.assert(
      fc.asyncProperty(voicePath, signedParams, async (path, fields) => {
        const encoded = new URLSearchParams(fields).toString();
        // Signed over the fields as they arrive (URL encoding turns a lone surrogate into U+FFFD).
        const signature = signTwilioRequest(authToken, `${phone.phone.baseUrl}${path}`, Object.fromEntries(new URLSearchParams(encoded)));
        const answer = await send({
          method: 'POST',
          path,
          headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
          body: encoded,
        });
        expect(answer.status, path).toBeLessThan(500);
        if (path === '/voice/status') expect(answer.status).toBe(204);
        else {
          expect(answer.status, path).toBe(200);
          expect(answer.body).toMatch(/^<\?xml version="1.0" encoding="UTF-8"\?><Response>.*<\/Response>$/s);
        }
      }),
      { numRuns: RUNS },
    );
  }, 180_000);

  it('when any sequence of signed requests is sent without a user’s PIN, then no answer reaches that user’s menu and nothing of theirs changes', async () => {
    const { services } = phone;
    const attacker = await createUser(services);
    const victim = await createUser(services, { pin: '382915', enroll: true });
    const victimBefore = await services.pool.query('SELECT * FROM pin_credentials WHERE user_id = $1', [victim.userId]);
    const sealer = new CallStateSealer(services.config.sessionSecret);
    const callSids = ['CAfuzz000000000000000000000000001', 'CAfuzz000000000000000000000000002'];
    // Keys that make sense at the prompt an action answers; everything but the victim's PIN.
    const keysAt: Record<string, readonly string[]> = {
      'signin.enter_id': [victim.extension, attacker.extension],
      'signin.enter_pin': [attacker.pin, '000000', '*'],
      'menu.main': ['1', '2', '*'],
      'pin.enter_new': ['604817', '000000', '*'],
      'pin.cancel_hint': ['604817', '000000', '*'],
      'pin.confirm': ['604817', '000000'],
    };
    const step = fc.oneof(
      { weight: 1, arbitrary: fc.record({ kind: fc.constant('incoming' as const), sid: fc.nat(callSids.length - 1) }) },
      {
        weight: 4,
        arbitrary: fc.record({
          kind: fc.constant('press' as const),
          // Often an older action again: forks of one sealed state are what a retry key must tell apart.
          at: fc.oneof(fc.constant(-1), fc.constant(-2), fc.nat()),
          choice: fc.nat(),
          otherSid: fc.option(fc.nat(callSids.length - 1), { freq: 8 }),
        }),
      },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
        const actions: Array<{ sid: string; action: string; prompt: string }> = [];
        for (const s of steps) {
          let sid: string;
          let answer;
          if (s.kind === 'incoming') {
            sid = callSids[s.sid] as string;
            answer = await new WebhookCaller(phone.phone, sid).incoming();
          } else {
            const known = actions.at(s.at < 0 ? s.at : s.at % Math.max(1, actions.length));
            if (!known) continue;
            const choices = keysAt[known.prompt] ?? [''];
            // Mostly the call the state was sealed for; sometimes another one.
            sid = s.otherSid === null ? known.sid : (callSids[s.otherSid] as string);
            answer = await new WebhookCaller(phone.phone, sid).press(known.action, choices[s.choice % choices.length] as string);
          }
          expect(answer.status).toBe(200);
          if (answer.action) {
            actions.push({ sid, action: answer.action, prompt: answer.said.at(-1) ?? '' });
            const { state } = sealer.open(sid, new URL(answer.action, 'http://x').searchParams.get('s') ?? '');
            expect(state.account?.extension).not.toBe(victim.extension);
          }
        }
      }),
      { numRuns: Math.ceil(RUNS / 2) },
    );
    const victimAfter = await services.pool.query('SELECT * FROM pin_credentials WHERE user_id = $1', [victim.userId]);
    expect(victimAfter.rows[0].pin_hash).toBe(victimBefore.rows[0].pin_hash);
    const succeeded = await services.pool.query(`SELECT count(*)::int AS n FROM audit_events WHERE user_id = $1 AND event = 'signin.succeeded'`, [victim.userId]);
    expect(succeeded.rows[0].n).toBe(0);
  }, 180_000);

  it('when raw bytes that are not HTTP arrive, then the process goes on serving', async () => {
    const url = new URL(phone.phone.baseUrl);
    await fc.assert(
      fc.asyncProperty(fc.oneof(anyText, fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b).toString('latin1')), printable.map((p) => `POST /voice/turn HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n${p}\r\n\r\n`)), async (garbage) => {
        await new Promise<void>((resolve) => {
          const socket = connect(Number(url.port), url.hostname, () => socket.end(Buffer.from(garbage, 'latin1')));
          socket.on('data', () => undefined);
          socket.on('error', () => resolve());
          socket.on('close', () => resolve());
          socket.setTimeout(2000, () => socket.destroy());
        });
      }),
      { numRuns: Math.ceil(RUNS / 5) },
    );
    const health = await fetch(`${phone.phone.baseUrl}/healthz`);
    expect(health.status).toBe(200);
  }, 180_000);
});
