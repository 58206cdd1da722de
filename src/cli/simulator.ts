import { randomBytes } from 'node:crypto';
import { XMLParser } from 'fast-xml-parser';
import { signTwilioRequest } from '../voice/signature.js';

/** Twilio gives up on a webhook after 15 s and plays "an application error has occurred". */
const TWILIO_WEBHOOK_TIMEOUT_MS = 15_000;

export type TranscriptLine =
  | { kind: 'say'; text: string; voice?: string; language?: string }
  | { kind: 'play'; url: string }
  | { kind: 'pause'; seconds: number }
  | { kind: 'keys'; keys: string }
  | { kind: 'silence' }
  | { kind: 'request'; url: string; status: number; ms: number }
  | { kind: 'end'; by: 'service' | 'caller' | 'error'; reason: string };

/** Why a call could not go on, as far as the simulator can tell. */
export type CallFailure =
  /** Nothing answered at the URL (no server there, a wrong port or host). */
  | { kind: 'unreachable'; url: string; reason: string }
  /** 403: the service did not accept the signature made for `url`. */
  | { kind: 'signature_refused'; url: string }
  /** Anything else Twilio would fail on: an HTTP error, bad TwiML, no answer in time. */
  | { kind: 'misbehaved'; url: string };

export interface CallTranscript {
  callSid: string;
  lines: TranscriptLine[];
  /** Everything the caller heard, in order. */
  said: string[];
  endedBy: 'service' | 'caller' | 'error';
  /** Set when the call could not go on (unreachable, refused, HTTP error, bad TwiML, timeout). */
  error: string | null;
  failure: CallFailure | null;
  /** Scripted keys left when the call ended: no prompt was waiting for them. */
  unusedKeys: string[];
}

/** Where the caller's keys come from: a script, or a person at a terminal. null = hang up. */
export type KeySource = (prompt: { numDigits: number | null; finishOnKey: string }) => Promise<string | null>;

export interface SimulateCallOptions {
  /** The service's public base URL (PUBLIC_BASE_URL): URLs are resolved and signed against it. */
  baseUrl: string;
  authToken: string;
  from?: string;
  to?: string;
  callSid?: string;
  keys: string[] | KeySource;
  /** Maps a signed public URL to the URL actually fetched (e.g. to alternate between instances). */
  transport?: (url: string) => string;
  onLine?: (line: TranscriptLine) => void;
  /** Safety net against a dialog that never ends. */
  maxRequests?: number;
  /** Whether to post the final status callback to /voice/status (as Twilio does when configured). */
  statusCallback?: boolean;
}

type Node = Record<string, unknown>;

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '',
  preserveOrder: true,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
});

function verbName(node: Node): string | null {
  return Object.keys(node).find((k) => k !== ':@' && k !== '#text') ?? null;
}

function attributes(node: Node): Record<string, string> {
  return (node[':@'] as Record<string, string> | undefined) ?? {};
}

function children(node: Node, name: string): Node[] {
  return (node[name] as Node[] | undefined) ?? [];
}

function textOf(node: Node, name: string): string {
  return children(node, name)
    .map((c) => String(c['#text'] ?? ''))
    .join('')
    .trim();
}

class Misbehaviour extends Error {
  constructor(
    message: string,
    readonly failure: CallFailure,
  ) {
    super(message);
  }
}

/** The socket's reason behind fetch's "fetch failed": ECONNREFUSED, ENOTFOUND, … */
function networkReason(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown; errors?: Array<{ code?: unknown }> } } | null)?.cause;
  const code = cause?.code ?? cause?.errors?.find((e) => typeof e.code === 'string')?.code;
  if (typeof code === 'string') return code;
  return typeof cause?.message === 'string' && cause.message !== '' ? cause.message : (err as Error).message;
}

/** The keys Twilio would submit for one Gather, from what the caller typed (null: no input). */
export function gatherDigits(typed: string, numDigits: number | null, finishOnKey: string): string | null {
  let digits = '';
  for (const key of typed) {
    if (finishOnKey && key === finishOnKey) break;
    digits += key;
    if (numDigits !== null && digits.length >= numDigits) break;
  }
  // A finish key pressed first, or silence, is no input: Twilio falls through to the next verb.
  return digits === '' ? null : digits;
}

/**
 * Plays a call against the service the way Twilio does: posts signed webhooks, follows Say,
 * Play, Pause, Gather, Redirect and Hangup, resolves relative URLs, falls through a Gather on
 * no input, and sends Digits without the finish key.
 */
export async function simulateCall(options: SimulateCallOptions): Promise<CallTranscript> {
  const callSid = options.callSid ?? `CA${randomBytes(16).toString('hex')}`;
  const from = options.from ?? '+15550000100';
  const to = options.to ?? '+15550000199';
  const base = options.baseUrl.replace(/\/+$/, '');
  const transcript: CallTranscript = { callSid, lines: [], said: [], endedBy: 'service', error: null, failure: null, unusedKeys: [] };
  const emit = (line: TranscriptLine) => {
    transcript.lines.push(line);
    if (line.kind === 'say') transcript.said.push(line.text);
    options.onLine?.(line);
  };
  const script = Array.isArray(options.keys) ? [...options.keys] : null;
  const nextKeys: KeySource = script
    ? async () => (script.length > 0 ? (script.shift() as string) : null)
    : (options.keys as KeySource);

  const common = { CallSid: callSid, AccountSid: 'AC' + '0'.repeat(32), From: from, To: to, Direction: 'inbound', ApiVersion: '2010-04-01' };

  async function post(url: string, extra: Record<string, string>): Promise<{ status: number; body: string }> {
    const params = { ...common, ...extra };
    const started = Date.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), TWILIO_WEBHOOK_TIMEOUT_MS);
    try {
      const response = await fetch(options.transport ? options.transport(url) : url, {
        method: 'POST',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          'x-twilio-signature': signTwilioRequest(options.authToken, url, params),
        },
        body: new URLSearchParams(params).toString(),
        signal: controller.signal,
      });
      const body = await response.text();
      emit({ kind: 'request', url: new URL(url).pathname, status: response.status, ms: Date.now() - started });
      return { status: response.status, body };
    } catch (err) {
      if (controller.signal.aborted) {
        throw new Misbehaviour(`no answer within Twilio's ${TWILIO_WEBHOOK_TIMEOUT_MS / 1000} s webhook timeout`, { kind: 'misbehaved', url });
      }
      const reason = networkReason(err);
      throw new Misbehaviour(`cannot reach ${url} (${reason})`, { kind: 'unreachable', url, reason });
    } finally {
      clearTimeout(timer);
    }
  }

  async function fetchTwiml(url: string, extra: Record<string, string>): Promise<Node[]> {
    const { status, body } = await post(url, extra);
    const path = new URL(url).pathname;
    if (status === 403) throw new Misbehaviour(`HTTP 403 from ${path}: the signature was refused`, { kind: 'signature_refused', url });
    if (status !== 200) throw new Misbehaviour(`HTTP ${status} from ${path}: Twilio would say "an application error has occurred"`, { kind: 'misbehaved', url });
    let parsed: Node[];
    try {
      parsed = parser.parse(body) as Node[];
    } catch (err) {
      throw new Misbehaviour(`invalid TwiML from ${path}: ${(err as Error).message}`, { kind: 'misbehaved', url });
    }
    const response = parsed.find((n) => 'Response' in n);
    if (!response) throw new Misbehaviour(`no <Response> in the answer from ${path}`, { kind: 'misbehaved', url });
    return children(response, 'Response');
  }

  function play(node: Node, name: string): void {
    const attrs = attributes(node);
    if (name === 'Say') {
      emit({ kind: 'say', text: textOf(node, 'Say'), ...(attrs.voice ? { voice: attrs.voice } : {}), ...(attrs.language ? { language: attrs.language } : {}) });
    } else if (name === 'Play') {
      emit({ kind: 'play', url: textOf(node, 'Play') });
    } else if (name === 'Pause') {
      emit({ kind: 'pause', seconds: Number(attrs.length ?? 1) });
    }
  }

  let url = `${base}/voice/incoming`;
  let extra: Record<string, string> = { CallStatus: 'ringing' };
  let requests = 0;
  const maxRequests = options.maxRequests ?? 200;
  try {
    document: for (;;) {
      if (++requests > maxRequests) throw new Misbehaviour(`the call did not end after ${maxRequests} requests`, { kind: 'misbehaved', url });
      const verbs = await fetchTwiml(url, extra);
      const currentUrl = url;
      for (const node of verbs) {
        const name = verbName(node);
        if (!name) continue;
        const attrs = attributes(node);
        switch (name) {
          case 'Say':
          case 'Play':
          case 'Pause':
            play(node, name);
            break;
          case 'Gather': {
            for (const inner of children(node, 'Gather')) {
              const innerName = verbName(inner);
              if (innerName) play(inner, innerName);
            }
            const numDigits = attrs.numDigits ? Number(attrs.numDigits) : null;
            const finishOnKey = attrs.finishOnKey ?? '#';
            const typed = await nextKeys({ numDigits, finishOnKey });
            if (typed === null) {
              transcript.endedBy = 'caller';
              emit({ kind: 'end', by: 'caller', reason: 'caller hung up' });
              break document;
            }
            const digits = gatherDigits(typed, numDigits, finishOnKey);
            if (digits === null) {
              emit({ kind: 'silence' });
              break; // fall through to the next verb, as Twilio does
            }
            emit({ kind: 'keys', keys: typed });
            url = new URL(attrs.action ?? currentUrl, currentUrl).toString();
            extra = { CallStatus: 'in-progress', Digits: digits };
            continue document;
          }
          case 'Redirect':
            url = new URL(textOf(node, 'Redirect'), currentUrl).toString();
            extra = { CallStatus: 'in-progress' };
            continue document;
          case 'Hangup':
          case 'Reject':
            emit({ kind: 'end', by: 'service', reason: name });
            break document;
          default:
            throw new Misbehaviour(`unsupported TwiML verb <${name}>`, { kind: 'misbehaved', url: currentUrl });
        }
      }
      // Twilio hangs up when a document runs out of verbs.
      emit({ kind: 'end', by: 'service', reason: 'end of TwiML' });
      break;
    }
  } catch (err) {
    if (!(err instanceof Misbehaviour)) throw err;
    transcript.endedBy = 'error';
    transcript.error = err.message;
    transcript.failure = err.failure;
    emit({ kind: 'end', by: 'error', reason: err.message });
  }

  transcript.unusedKeys = script ?? [];
  if (options.statusCallback !== false && transcript.endedBy !== 'error') {
    try {
      await post(`${base}/voice/status`, { CallStatus: 'completed', CallDuration: '1' });
    } catch {
      // The call is over either way.
    }
  }
  return transcript;
}
