import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { CallStateSealer } from '../../src/voice/seal.js';
import { signTwilioRequest } from '../../src/voice/signature.js';
import { createUser, testActor } from '../support/factories.js';
import { actionOf, postWebhook, usePhoneServer, WebhookCaller, type Answer } from '../support/phone.js';

/**
 * The webhook fuzzed with fast-check: random and malformed methods, paths, headers, bodies and
 * signatures. Whatever comes in: no 5xx (but a 503 from /readyz), the process keeps serving,
 * and a request without a valid signature changes nothing in the database.
 */
const phone = usePhoneServer();
const RUNS = Number(process.env.FUZZ_RUNS ?? 250);
// One fixed seed, so CI reruns the same sequences; FUZZ_SEED=<n> explores others, and a failure
// prints the seed and path that reproduce it.
fc.configureGlobal({ seed: Number(process.env.FUZZ_SEED ?? 20261202) });

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
  fc.tuple(voicePath, params).map(([p, q]) => signTwilioRequest(phone.services.config.twilioAuthToken, `${phone.phone.baseUrl}/elsewhere${p}`, q)),
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

  it('when the credential changes (a reset, a change by phone or administrator, "must change", a new owner), then no earlier request reaches the menu or saves a PIN', async () => {
    const { services } = phone;
    // Any time between changes, and never locked out, so the sequences keep reaching every turn.
    await services.accounts.setRule('fuzz-binding', { minChangeMinutes: 0, maxFailedSignins: 0 }, testActor);
    const sealer = new CallStateSealer(services.config.sessionSecret);
    const candidates = ['604817', '520739', '940716', '381652', '705293', '816049', '273960', '459382'];
    let run = 0;
    const change = fc.constantFrom('reset', 'administrator', 'own', 'must_change', 'new_owner');
    const step = fc.oneof(
      // A call that signs in with the PIN current at the time, as its first requests.
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('call' as const), sid: fc.nat(1) }) },
      // Often a signed-in branch, or an earlier sign-in: what a change must take back.
      { weight: 5, arbitrary: fc.record({ kind: fc.constant('press' as const), at: fc.oneof(fc.constant(-1), fc.constant(-2), fc.nat()), signedIn: fc.boolean(), choice: fc.nat() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('replay' as const), at: fc.nat(), signin: fc.boolean() }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant('change' as const), change, choice: fc.nat() }) },
    );
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 6, maxLength: 14 }), async (steps) => {
        run += 1;
        const extension = String(46000 + run);
        let user = await createUser(services, { extension, ruleName: 'fuzz-binding' });
        let pin = user.pin;
        // Every credential change, made here or by a call's own save, starts a new epoch; a signed-in
        // branch belongs to the epoch it signed in (or last saved) in.
        let epoch = 0;
        const sids = [`CAbind${String(run).padStart(6, '0')}a`, `CAbind${String(run).padStart(6, '0')}b`];
        const actions: Array<{ sid: string; action: string; prompt: string; epoch: number | null; pending: string | null }> = [];
        /** A request as sent, with the epoch its own effects left (a true retry in that epoch is answered as the first). */
        interface Sent {
          sid: string;
          action: string;
          digits: string;
          signin: boolean;
          branch: number | null;
          settled: number;
          /** The epoch of the branch its answer went on in. */
          answered: number | null;
        }
        const requests: Sent[] = [];
        const row = async () => {
          const { rows } = await services.pool.query(
            'SELECT c.user_id, c.pin_hash FROM users u JOIN pin_credentials c ON c.user_id = u.id WHERE u.extension = $1',
            [extension],
          );
          return rows[0] as { user_id: number; pin_hash: string } | undefined;
        };
        const signedInState = (sid: string, answer: Answer) =>
          answer.action !== null && sealer.open(sid, new URL(answer.action, 'http://x').searchParams.get('s') ?? '').state.account !== null;
        const post = async (request: Sent, replay: boolean) => {
          const { sid, action, digits, branch } = request;
          const before = await row();
          const answer = await new WebhookCaller(phone.phone, sid).press(action, digits);
          expect(answer.status).toBe(200);
          const after = await row();
          const saved = before !== undefined && after !== undefined && after.pin_hash !== before.pin_hash;
          const heard = answer.said.map((key) => key.replace(/\{.*\}$/, ''));
          if (branch !== null && branch !== epoch && !(replay && request.settled === epoch)) {
            // A branch that proved an older credential: nothing saved, no new PIN accepted.
            expect(saved, `a branch of epoch ${branch} saved in epoch ${epoch}`).toBe(false);
            for (const key of ['pin.changed', 'enroll.done', 'pin.confirm']) expect(heard).not.toContain(key);
          }
          if (replay && request.signin && request.settled !== epoch && digits !== pin) {
            // An earlier sign-in, replayed after a change, with a PIN no longer current: not signed in.
            expect(signedInState(sid, answer), `a sign-in of epoch ${request.settled} signed in in epoch ${epoch}`).toBe(false);
            for (const key of ['menu.main', 'enroll.welcome', 'pin.expired', 'pin.expiry_warning']) expect(heard).not.toContain(key);
          }
          let next: number | null = branch;
          if (saved) {
            epoch += 1;
            pin = digits;
            next = epoch;
          } else if (replay && request.settled === epoch) {
            // A true retry goes on as its first answer did.
            next = request.answered;
          } else if (branch === null && signedInState(sid, answer)) {
            next = epoch;
          }
          if (answer.action) {
            actions.push({ sid, action: answer.action, prompt: heard.at(-1) ?? '', epoch: next, pending: heard.at(-1) === 'pin.confirm' ? digits : null });
          }
          return next;
        };
        const press = async (known: (typeof actions)[number], digits: string) => {
          // The same keys on the same state of the same call is what Twilio sends when it retries: a replay.
          const same = requests.find((r) => r.sid === known.sid && r.action === known.action && r.digits === digits);
          if (same) {
            await post(same, true);
            return;
          }
          const request: Sent = { sid: known.sid, action: known.action, digits, signin: known.prompt === 'signin.enter_pin', branch: known.epoch, settled: epoch, answered: null };
          request.answered = await post(request, false);
          request.settled = epoch;
          requests.push(request);
        };
        for (const s of steps) {
          if (s.kind === 'call') {
            const sid = sids[s.sid] as string;
            const answer = await new WebhookCaller(phone.phone, sid).incoming();
            if (!answer.action) continue;
            await press({ sid, action: answer.action, prompt: 'signin.enter_id', epoch: null, pending: null }, extension);
            const pinPrompt = actions.at(-1);
            if (pinPrompt?.prompt === 'signin.enter_pin') await press(pinPrompt, pin);
          } else if (s.kind === 'press') {
            const among = s.signedIn ? actions.filter((a) => a.epoch !== null) : actions;
            const known = among.at(s.at < 0 ? s.at : s.at % Math.max(1, among.length));
            if (!known) continue;
            const keysAt: Record<string, readonly string[]> = {
              'signin.enter_id': [extension],
              'signin.enter_pin': [pin, pin, '000000', '*'],
              'menu.main': ['1', '1', '2', '*'],
              'pin.enter_new': candidates,
              'pin.cancel_hint': candidates,
              'pin.confirm': known.pending ? [known.pending, known.pending, '111000'] : ['111000'],
            };
            const choices = keysAt[known.prompt] ?? [''];
            await press(known, choices[s.choice % choices.length] as string);
          } else if (s.kind === 'replay') {
            const among = s.signin ? requests.filter((r) => r.signin) : requests;
            const earlier = among[s.at % Math.max(1, among.length)];
            if (!earlier) continue;
            await post(earlier, true);
          } else {
            const next = candidates[s.choice % candidates.length] as string;
            if (s.change === 'reset') {
              pin = (await services.pins.resetPin(user.userId, testActor, { showOnce: true })).pin as string;
            } else if (s.change === 'administrator' || s.change === 'own') {
              const kind = s.change === 'own' ? 'voluntary' : 'administrative';
              const result = await services.pins.changePin({ userId: user.userId, newPin: next, kind, actor: testActor });
              if (!result.ok) continue; // a PIN from the history: nothing changed
              pin = next;
            } else if (s.change === 'must_change') {
              const account = await services.accounts.getAccount({ userId: user.userId });
              await services.pins.updateSettings(user.userId, { flags: { mustChange: !account.pin.mustChange } }, testActor);
            } else {
              if (next === pin) continue;
              await services.accounts.deleteUser(user.userId, testActor);
              user = await createUser(services, { extension, ruleName: 'fuzz-binding', pin: next, enroll: s.choice % 2 === 0 });
              pin = next;
            }
            epoch += 1;
          }
        }
      }),
      {
        numRuns: Math.ceil(RUNS / 5),
        // Seed 876229069 once found this: a retry of the confirm that saved, sent as a fresh press.
        examples: [
          [
            [
              { kind: 'change', change: 'reset', choice: 0 },
              { kind: 'call', sid: 0 },
              { kind: 'press', at: -1, signedIn: false, choice: 0 },
              { kind: 'press', at: -1, signedIn: false, choice: 0 },
              { kind: 'press', at: -2, signedIn: false, choice: 0 },
              { kind: 'change', change: 'reset', choice: 0 },
              // The same confirm after the reset: its record no longer answers.
              { kind: 'replay', at: 3, signin: false },
              { kind: 'press', at: -2, signedIn: false, choice: 0 },
            ],
          ],
        ],
      },
    );
  }, Math.max(300_000, RUNS * 1_500));

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
