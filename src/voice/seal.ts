import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { CallState } from '../dialog/index.js';
import { sessionKeyRing, type KeyRing, type SessionSecret } from '../keys.js';

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

/** An opened turn, with the secret that had sealed it: the request's fingerprint is keyed by the same one. */
export interface OpenedTurn extends SealedTurn {
  sealedUnder: SessionSecret;
}

export class SealError extends Error {
  override readonly name = 'SealError';
}

/**
 * Seals the dialog state into a URL-safe token with AES-256-GCM: authenticated encryption,
 * bound to the CallSid (as associated data), with a turn number and an expiry inside. Sealed
 * under the current SESSION_SECRET; opened under any secret of the ring, newest first, so a call
 * goes on across a rotation (DESIGN §10).
 */
export class CallStateSealer {
  readonly secrets: KeyRing<SessionSecret>;

  constructor(
    secrets: string | KeyRing<SessionSecret>,
    private readonly clock: () => number = Date.now,
  ) {
    this.secrets = typeof secrets === 'string' ? sessionKeyRing(secrets) : secrets;
  }

  seal(callSid: string, sealed: SealedTurn): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv(ALGORITHM, this.secrets.current.key('pinline call state v1'), iv);
    cipher.setAAD(Buffer.from(callSid, 'utf8'));
    const plaintext = JSON.stringify({ v: VERSION, t: sealed.turn, e: this.clock() + SEAL_TTL_MS, s: sealed.state });
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return Buffer.concat([iv, body, cipher.getAuthTag()]).toString('base64url');
  }

  /** Throws SealError when the token was made for another call, was altered, was sealed under no secret held here, or has expired. */
  open(callSid: string, token: string): OpenedTurn {
    const raw = Buffer.from(token, 'base64url');
    if (raw.length < IV_BYTES + TAG_BYTES + 2) throw new SealError('call state is malformed');
    const opened = this.decrypt(callSid, raw);
    if (!opened) throw new SealError('call state failed authentication (tampered, sealed for another call, or under a secret not held here)');
    const payload = JSON.parse(opened.plaintext) as { v: number; t: number; e: number; s: CallState };
    if (payload.v !== VERSION) throw new SealError('call state has an unknown version');
    if (this.clock() > payload.e) throw new SealError('call state has expired');
    return { turn: payload.t, state: payload.s, sealedUnder: opened.secret };
  }

  /** The plaintext and the secret it opened under, trying each secret newest first; null when none opens it. */
  private decrypt(callSid: string, raw: Buffer): { plaintext: string; secret: SessionSecret } | null {
    for (const secret of this.secrets.all) {
      const decipher = createDecipheriv(ALGORITHM, secret.key('pinline call state v1'), raw.subarray(0, IV_BYTES));
      decipher.setAAD(Buffer.from(callSid, 'utf8'));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      try {
        const plaintext = Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
        return { plaintext, secret };
      } catch {
        // Not sealed under this secret (or altered): try the next.
      }
    }
    return null;
  }
}
