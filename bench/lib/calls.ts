import { randomBytes } from 'node:crypto';
import { signTwilioRequest } from '../../src/voice/signature.js';
import type { Prepared } from './load.js';

/** How the bench reaches an instance: the public URL it signs against, and where it really listens. */
export interface Target {
  publicBaseUrl: string;
  authToken: string;
}

const ACCOUNT_SID = 'AC' + '0'.repeat(32);
const FROM = '+15550000100';
const TO = '+15550000199';

function newCallSid(): string {
  return `CA${randomBytes(16).toString('hex')}`;
}

/** A webhook signed once, ready to send any number of times. */
export function prepare(target: Target, pathAndQuery: string, params: Record<string, string>, tag?: unknown): Prepared {
  const all = { AccountSid: ACCOUNT_SID, From: FROM, To: TO, Direction: 'inbound', ApiVersion: '2010-04-01', ...params };
  return {
    path: pathAndQuery,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'x-twilio-signature': signTwilioRequest(target.authToken, target.publicBaseUrl + pathAndQuery, all),
    },
    body: new URLSearchParams(all).toString(),
    ...(tag === undefined ? {} : { tag }),
  };
}

/** The Gather action (path and query, with the sealed state) of a TwiML answer, or null when the call ended. */
export function actionOf(twiml: string): string | null {
  const match = /action="([^"]+)"/.exec(twiml);
  if (!match) return null;
  const url = new URL((match[1] as string).replace(/&amp;/g, '&'));
  return url.pathname + url.search;
}

export async function send(target: Target, prepared: Prepared): Promise<{ status: number; body: string }> {
  const response = await fetch(target.publicBaseUrl + prepared.path, {
    method: 'POST',
    headers: prepared.headers,
    body: prepared.body,
  });
  return { status: response.status, body: await response.text() };
}

/** Runs fn over items with at most `limit` at once. */
export async function eachLimited<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}

export interface CallAtPin {
  callSid: string;
  extension: string;
  /** The sign-in turn: the PIN typed at the PIN prompt, signed for this call's sealed URL. */
  signin: Prepared;
}

/**
 * Plays a call up to its PIN prompt for real (incoming, then the ID), and prepares the sign-in
 * turn: a fresh CallSid and turn each, so no idempotent replay can short-circuit the check.
 */
export async function callAtPinPrompt(target: Target, extension: string, pin: string): Promise<CallAtPin> {
  const callSid = newCallSid();
  const incoming = await send(target, prepare(target, '/voice/incoming', { CallSid: callSid, CallStatus: 'ringing' }));
  const idTurn = actionOf(incoming.body);
  if (incoming.status !== 200 || !idTurn) throw new Error(`bench: /voice/incoming answered ${incoming.status}: ${incoming.body}`);
  const id = await send(target, prepare(target, idTurn, { CallSid: callSid, CallStatus: 'in-progress', Digits: extension }));
  const pinTurn = actionOf(id.body);
  if (id.status !== 200 || !pinTurn) throw new Error(`bench: the ID turn answered ${id.status}: ${id.body}`);
  return {
    callSid,
    extension,
    signin: prepare(target, pinTurn, { CallSid: callSid, CallStatus: 'in-progress', Digits: pin }, { callSid }),
  };
}

/** A menu turn (a key at the main menu) of a signed-in call, from the action URL of its last answer. */
export function menuTurn(target: Target, callSid: string, action: string, key: string): Prepared {
  return prepare(target, action, { CallSid: callSid, CallStatus: 'in-progress', Digits: key }, { callSid });
}
