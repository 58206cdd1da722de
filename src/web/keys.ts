import { hkdfSync } from 'node:crypto';

/** The purposes the web layer keys from SESSION_SECRET; the voice layer derives its own. */
export type KeyPurpose = 'pinline web session' | 'pinline csrf';

/**
 * A key for one purpose from SESSION_SECRET (HKDF-SHA256), so a key leaked or misused in one
 * place says nothing about the others.
 */
export function deriveKey(sessionSecret: string, purpose: KeyPurpose): string {
  return Buffer.from(hkdfSync('sha256', sessionSecret, 'pinline', purpose, 32)).toString('hex');
}
