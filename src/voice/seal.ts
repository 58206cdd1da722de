import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { CallState } from '../dialog/index.js';
import { deriveKey } from '../keys.js';

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const VERSION = 1;
/** A turn's state is good for this long: far beyond any prompt plus Gather timeout, short enough to make a captured URL useless. */
export const SEAL_TTL_MS = 15 * 60_000;

/** What travels in the action URL between two webhook turns of one call. */
export interface SealedTurn {
  turn: number;
  state: CallState;
}

export class SealError extends Error {
  override readonly name = 'SealError';
}

/**
 * Seals the dialog state into a URL-safe token with AES-256-GCM: authenticated encryption,
 * bound to the CallSid (as associated data), with a turn number and an expiry inside.
 */
export class CallStateSealer {
  private readonly key: Buffer;

  constructor(
    sessionSecret: string,
    private readonly clock: () => number = Date.now,
  ) {
    this.key = deriveKey(sessionSecret, 'pinline call state v1');
  }

  seal(callSid: string, sealed: SealedTurn): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.key, iv);
    cipher.setAAD(Buffer.from(callSid, 'utf8'));
    const plaintext = JSON.stringify({ v: VERSION, t: sealed.turn, e: this.clock() + SEAL_TTL_MS, s: sealed.state });
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** Throws SealError when the token was made for another call, was altered, or has expired. */
  open(callSid: string, token: string): SealedTurn {
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES + 2) throw new SealError('call state is malformed');
    const decipher = createDecipheriv(ALGORITHM, this.key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(callSid, 'utf8'));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    let plaintext: string;
    try {
      plaintext = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
    } catch {
      throw new SealError('call state failed authentication (tampered, or sealed for another call)');
    }
    const payload = JSON.parse(plaintext) as { v: number; t: number; e: number; s: CallState };
    if (payload.v !== VERSION) throw new SealError('call state has an unknown version');
    if (this.clock() > payload.e) throw new SealError('call state has expired');
    return { turn: payload.t, state: payload.s };
  }
}
