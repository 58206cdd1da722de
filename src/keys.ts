import { createHmac, hkdfSync } from 'node:crypto';

/** Every purpose a key is derived for from SESSION_SECRET (DESIGN §5: a separate key for each). */
export type KeyPurpose =
  | 'pinline web session'
  | 'pinline csrf'
  | 'pinline call state v1'
  | 'pinline request fingerprint'
  | 'pinline queued secret'
  | 'pinline import preview';

/**
 * A 256-bit key for one purpose from SESSION_SECRET (HKDF-SHA256), so a key leaked or misused in
 * one place says nothing about the others.
 */
export function deriveKey(sessionSecret: string, purpose: KeyPurpose): Buffer {
  return Buffer.from(hkdfSync('sha256', sessionSecret, 'pinline', purpose, 32));
}

/** The first 8 hex digits of HMAC-SHA256(secret, label): names a secret without giving it away. */
function secretId(secret: string, label: string): string {
  return createHmac('sha256', secret).update(label).digest('hex').slice(0, 8);
}

/** A PIN_PEPPER's id (DESIGN §10): what each hash records of the pepper that made it. */
export function pepperId(pepper: string): string {
  return secretId(pepper, 'pinline pepper id');
}

/** A SESSION_SECRET's id: what a queued message records of the secret that sealed it. */
export function sessionSecretId(secret: string): string {
  return secretId(secret, 'pinline session secret id');
}

/**
 * The secrets of one kind that this instance holds (DESIGN §10 rotation): the current one, which
 * makes everything new, then the previous ones (newest first), which only open or verify what was
 * made under them. The one home of rotation: the hasher, the sealed call state, web sessions,
 * CSRF, request fingerprints and the queued messages all take their secrets from a ring.
 */
export class KeyRing<T extends { readonly id: string }> {
  constructor(
    /** Newest first; the first is the current one. */
    readonly all: readonly [T, ...T[]],
  ) {}

  get current(): T {
    return this.all[0];
  }

  /** The secret with this id, or null when this instance does not hold it. */
  find(id: string): T | null {
    return this.all.find((secret) => secret.id === id) ?? null;
  }

  /** Whether the secret is the current one or a previous one. */
  role(id: string): 'current' | 'previous' | 'unknown' {
    if (id === this.current.id) return 'current';
    return this.find(id) ? 'previous' : 'unknown';
  }
}

/**
 * A pepper: argon2's `secret`, and its id, which each hash made with it carries. The secret is a
 * private field, so neither a log line nor JSON of a ring can show it.
 */
export class Pepper {
  readonly id: string;
  readonly #secret: Buffer;

  constructor(pepper: string) {
    this.id = pepperId(pepper);
    this.#secret = Buffer.from(pepper, 'utf8');
  }

  get secret(): Buffer {
    return this.#secret;
  }
}

/** PIN_PEPPER, then PIN_PEPPER_PREVIOUS. */
export function pepperRing(current: string, previous: readonly string[] = []): KeyRing<Pepper> {
  return new KeyRing([new Pepper(current), ...previous.map((pepper) => new Pepper(pepper))]);
}

/** One SESSION_SECRET, its id, and the keys derived from it (each derived once), all kept private. */
export class SessionSecret {
  readonly id: string;
  readonly #secret: string;
  readonly #keys = new Map<KeyPurpose, Buffer>();

  constructor(secret: string) {
    this.id = sessionSecretId(secret);
    this.#secret = secret;
  }

  key(purpose: KeyPurpose): Buffer {
    let key = this.#keys.get(purpose);
    if (!key) {
      key = deriveKey(this.#secret, purpose);
      this.#keys.set(purpose, key);
    }
    return key;
  }
}

/** SESSION_SECRET, then SESSION_SECRET_PREVIOUS. */
export function sessionKeyRing(current: string, previous: readonly string[] = []): KeyRing<SessionSecret> {
  return new KeyRing([new SessionSecret(current), ...previous.map((secret) => new SessionSecret(secret))]);
}
