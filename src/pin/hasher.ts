import { randomBytes } from 'node:crypto';
import argon2 from 'argon2';
import { UnknownPepperError } from '../errors.js';
import { pepperRing, type KeyRing, type Pepper } from '../keys.js';
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

/** The parameters of a PHC string: $argon2id$v=19$m=…,p=…,t=…[,data=…]$salt$hash */
const PHC_PARAMETERS = /^\$argon2id\$v=\d+\$([^$]*)\$/;
/** A pepper id is 8 hex digits: 4 bytes of argon2's associated data. */
const PEPPER_ID_BYTES = 4;

/**
 * The id of the pepper a hash records (argon2's associated data, `data=` in the PHC string):
 * null for a hash made before hashes recorded it, undefined for a string that is not such a hash.
 */
export function pepperIdOf(hash: string): string | null | undefined {
  const parameters = PHC_PARAMETERS.exec(hash)?.[1];
  if (parameters === undefined) return undefined;
  const data = parameters.split(',').find((parameter) => parameter.startsWith('data='));
  if (data === undefined) return null;
  const bytes = Buffer.from(data.slice('data='.length), 'base64');
  return bytes.length === PEPPER_ID_BYTES ? bytes.toString('hex') : undefined;
}

/**
 * Hashes and verifies PINs (and web passwords) with argon2id, keyed by the server-side pepper
 * through argon2's `secret`, so a stolen database alone cannot be brute-forced.
 * argon2 runs on libuv's thread pool and never blocks the event loop.
 *
 * Each hash records the id of the pepper that made it as argon2's associated data, which argon2
 * binds into the hash (relabelling it breaks it) and writes into the PHC string, so the label
 * travels in every column and sealed state that holds a hash. Verifying picks the pepper by that
 * id among PIN_PEPPER and PIN_PEPPER_PREVIOUS; an id this instance does not hold throws
 * UnknownPepperError (never a "no"). A hash made before hashes were labelled is tried under the
 * current pepper, then each previous one.
 */
export class SecretHasher {
  readonly peppers: KeyRing<Pepper>;
  private dummyHash: Promise<string> | null = null;
  private readonly threadSlots: HashGate;

  /**
   * `peppers`: PIN_PEPPER alone, or the ring with the previous ones.
   * `threads`: at most this many argon2 operations run at once (one per core is the most that
   * helps); further ones wait their turn here. The HashGate bounds how many can wait.
   * `onUnknownPepper`: told each time a hash names a pepper this instance does not hold.
   */
  constructor(
    peppers: string | KeyRing<Pepper>,
    readonly parameters: HashParameters = DEFAULT_HASH_PARAMETERS,
    readonly threads: number = Number.POSITIVE_INFINITY,
    private readonly onUnknownPepper: (pepperId: string) => void = () => undefined,
  ) {
    this.peppers = typeof peppers === 'string' ? pepperRing(peppers) : peppers;
    // No queue limit or timeout here: the turns' own HashGate already bounds who gets this far.
    this.threadSlots = new HashGate(threads, Number.POSITIVE_INFINITY, null);
  }

  /** Always under the current pepper, labelled with its id. */
  hash(plain: string): Promise<string> {
    const pepper = this.peppers.current;
    return this.onThread(() =>
      argon2.hash(plain, {
        type: argon2.argon2id,
        secret: pepper.secret,
        associatedData: Buffer.from(pepper.id, 'hex'),
        ...this.parameters,
      }),
    );
  }

  /**
   * True when `plain` is what the hash was made of, under the pepper it names (or, unlabelled,
   * under any pepper held). Throws UnknownPepperError when it names a pepper not held here.
   */
  async verify(hash: string, plain: string): Promise<boolean> {
    for (const pepper of this.peppersFor(hash)) {
      try {
        if (await this.onThread(() => argon2.verify(hash, plain, { secret: pepper.secret }))) return true;
      } catch {
        // A malformed stored hash never signs anyone in.
        return false;
      }
    }
    return false;
  }

  /**
   * The history check: true when `plain` is what an earlier hash (the current PIN's, or one in the
   * history) was made of. A hash under a pepper this instance does not hold cannot be compared and
   * counts as no match, so a retired pepper never blocks a change or a helpdesk reset.
   */
  async reuses(hash: string, plain: string): Promise<boolean> {
    const id = pepperIdOf(hash);
    if (id && !this.peppers.find(id)) return false;
    return this.verify(hash, plain);
  }

  /** The peppers to try on a hash, in order; none for a string that is not one of our hashes. */
  private peppersFor(hash: string): readonly Pepper[] {
    const id = pepperIdOf(hash);
    if (id === undefined) return [];
    if (id === null) return this.peppers.all;
    const pepper = this.peppers.find(id);
    if (!pepper) {
      this.onUnknownPepper(id);
      throw new UnknownPepperError(id);
    }
    return [pepper];
  }

  private onThread<T>(work: () => Promise<T>): Promise<T> {
    return this.threadSlots.run(work);
  }

  /**
   * True when the hash was made with other parameters than the current ones, or under another
   * pepper than the current one (a previous pepper, or before hashes were labelled). Re-hashing
   * the same secret changes nothing else about the credential.
   */
  needsRehash(hash: string): boolean {
    try {
      return argon2.needsRehash(hash, { ...this.parameters }) || pepperIdOf(hash) !== this.peppers.current.id;
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
