import { hkdfSync } from 'node:crypto';

/** Every purpose a key is derived for from SESSION_SECRET (DESIGN §5: a separate key for each). */
export type KeyPurpose =
  | 'pinline web session'
  | 'pinline csrf'
  | 'pinline call state v1'
  | 'pinline request fingerprint'
  | 'pinline queued secret';

/**
 * A 256-bit key for one purpose from SESSION_SECRET (HKDF-SHA256), so a key leaked or misused in
 * one place says nothing about the others.
 */
export function deriveKey(sessionSecret: string, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', sessionSecret, 'pinline', purpose, 32));
}
