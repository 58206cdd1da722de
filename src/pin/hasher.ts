import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { HashGate } from './hash-gate.js';

/**
 * argon2id cost. These are OWASP's minimum for argon2id (m=19 MiB, t=2, p=1): a PIN has few
 * digits, so the hash must be costly per guess, yet a sign-in has to answer a caller within
 * a second on a small instance. Raise them and old hashes are upgraded at the next sign-in.
 */
export const ARGON2_MEMORY_KIB = 19_456;
export const ARGON2_TIME_COST = 2;
export const ARGON2_PARALLELISM = 1;

export interface HashParameters {
  readonly memoryCost: number;
  readonly timeCost: number;
  readonly parallelism: number;
}

export const DEFAULT_HASH_PARAMETERS: HashParameters = Object.freeze({
  memoryCost: ARGON2_MEMORY_KIB,
  timeCost: ARGON2_TIME_COST,
  parallelism: ARGON2_PARALLELISM,
});

/**
 * Hashes and verifies PINs (and web passwords) with argon2id, keyed by the server-side pepper
 * through argon2's `secret`, so a stolen database alone cannot be brute-forced.
 * argon2 runs on libuv's thread pool and never blocks the event loop.
 */
export class SecretHasher {
  private readonly secret: Buffer;
  private dummyHash: Promise<string> | null = null;
  private readonly threadSlots: HashGate;

  /**
   * `threads`: at most this many argon2 operations run at once (one per core is the most that
   * helps); further ones wait their turn here. The HashGate bounds how many can wait.
   */
  constructor(
    pepper: string,
    readonly parameters: HashParameters = DEFAULT_HASH_PARAMETERS,
    readonly threads: number = Number.POSITIVE_INFINITY,
  ) {
    this.secret = Buffer.from(pepper, 'utf8');
    // No queue limit or timeout here: the turns' own HashGate already bounds who gets this far.
    this.threadSlots = new HashGate(threads, Number.POSITIVE_INFINITY, null);
  }

  hash(plain: string): Promise<string> {
    return this.onThread(() => argon2.hash(plain, { type: argon2.argon2id, secret: this.secret, ...this.parameters }));
  }

  async verify(hash: string, plain: string): Promise<boolean> {
    try {
      return await this.onThread(() => argon2.verify(hash, plain, { secret: this.secret }));
    } catch {
      // A malformed stored hash never signs anyone in.
      return false;
    }
  }

  private onThread<T>(work: () => Promise<T>): Promise<T> {
    return this.threadSlots.run(work);
  }

  /** True when the hash was made with other parameters than the current ones. */
  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, { ...this.parameters });
    } catch {
      return true;
    }
  }

  /**
   * Verifies against a hash of a random value made with the current parameters, so that an
   * unknown ID costs the same time as a wrong PIN. Always false.
   */
  async verifyDummy(plain: string): Promise<false> {
    await this.verify(await this.prepareDummy(), plain);
    return false;
  }

  /**
   * Makes the dummy hash. The server calls it at start, so that even the first unknown ID costs
   * one verification like a wrong PIN, not a hash as well. A failure is not kept.
   */
  prepareDummy(): Promise<string> {
    this.dummyHash ??= this.hash(randomBytes(16).toString('hex')).catch((err: unknown) => {
      this.dummyHash = null;
      throw err;
    });
    return this.dummyHash;
  }
}
