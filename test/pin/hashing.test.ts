import argon2 from 'argon2';
import { describe, expect, it } from 'vitest';
import { HashingBusyError, UnknownPepperError } from '../../src/errors.js';
import { pepperId, pepperRing } from '../../src/keys.js';
import { HashGate } from '../../src/pin/hash-gate.js';
import { ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST, DEFAULT_HASH_PARAMETERS, pepperIdOf, SecretHasher } from '../../src/pin/hasher.js';

const OLD_PEPPER = 'old-pepper-for-tests-0123';
const PEPPER = 'pepper-for-tests-0123';

/** A hash as made before hashes recorded their pepper: no associated data. */
const unlabelledHash = (pin: string, pepper: string) =>
  argon2.hash(pin, { type: argon2.argon2id, secret: Buffer.from(pepper), ...DEFAULT_HASH_PARAMETERS });

describe('PIN hasher', () => {
  const hasher = new SecretHasher(PEPPER);

  it('when a PIN is hashed, then the hash is argon2id with the named cost, labelled with the pepper id, and verifies only that PIN', async () => {
    const hash = await hasher.hash('604817');
    expect(hash).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_MEMORY_KIB},p=${ARGON2_PARALLELISM},t=${ARGON2_TIME_COST},data=[A-Za-z0-9+/]{6}\\$`));
    expect(pepperIdOf(hash)).toBe(pepperId(PEPPER));
    expect(pepperId(PEPPER)).toMatch(/^[0-9a-f]{8}$/);
    expect(hash).not.toContain('604817');
    expect(await hasher.verify(hash, '604817')).toBe(true);
    expect(await hasher.verify(hash, '604818')).toBe(false);
  });

  it('when a hash names a pepper this instance does not hold, then verifying throws rather than saying no, and the history check passes it over', async () => {
    const hash = await new SecretHasher('another-pepper-0123456').hash('604817');
    const told: string[] = [];
    const lagging = new SecretHasher(pepperRing(PEPPER, [OLD_PEPPER]), DEFAULT_HASH_PARAMETERS, 1, (id) => told.push(id));
    await expect(lagging.verify(hash, '604817')).rejects.toEqual(new UnknownPepperError(pepperId('another-pepper-0123456')));
    await expect(lagging.verify(hash, '000000')).rejects.toBeInstanceOf(UnknownPepperError);
    expect(told).toEqual([pepperId('another-pepper-0123456'), pepperId('another-pepper-0123456')]);
    expect(await lagging.reuses(hash, '604817')).toBe(false);
  });

  it('when a hash was made under a previous pepper, then it verifies under it and needs a rehash, which labels it with the current one', async () => {
    const old = await new SecretHasher(OLD_PEPPER).hash('604817');
    const rotated = new SecretHasher(pepperRing(PEPPER, [OLD_PEPPER]));
    expect(await rotated.verify(old, '604817')).toBe(true);
    expect(await rotated.verify(old, '604818')).toBe(false);
    expect(await rotated.reuses(old, '604817')).toBe(true);
    expect(rotated.needsRehash(old)).toBe(true);
    const rehashed = await rotated.hash('604817');
    expect(pepperIdOf(rehashed)).toBe(pepperId(PEPPER));
    expect(rotated.needsRehash(rehashed)).toBe(false);
  });

  it('when a hash made before pepper ids is checked, then it is tried under the current and each previous pepper, and needs a rehash', async () => {
    const rotated = new SecretHasher(pepperRing(PEPPER, ['newer-unused-pepper-0123', OLD_PEPPER]));
    const underOld = await unlabelledHash('604817', OLD_PEPPER);
    const underCurrent = await unlabelledHash('604817', PEPPER);
    expect(pepperIdOf(underOld)).toBeNull();
    expect(await rotated.verify(underOld, '604817')).toBe(true);
    expect(await rotated.verify(underCurrent, '604817')).toBe(true);
    expect(await rotated.verify(underOld, '604818')).toBe(false);
    expect(rotated.needsRehash(underCurrent)).toBe(true);
    // Under a pepper no longer held it cannot be told from a wrong PIN.
    expect(await new SecretHasher(PEPPER).verify(underOld, '604817')).toBe(false);
  });

  it('when a hash’s pepper label is changed, then it no longer verifies: argon2 binds the label into the hash', async () => {
    const rotated = new SecretHasher(pepperRing(PEPPER, [OLD_PEPPER]));
    const hash = await rotated.hash('604817');
    const relabelled = hash.replace(/data=[^$]+/, `data=${Buffer.from(pepperId(OLD_PEPPER), 'hex').toString('base64').replace(/=+$/, '')}`);
    expect(pepperIdOf(relabelled)).toBe(pepperId(OLD_PEPPER));
    expect(await rotated.verify(relabelled, '604817')).toBe(false);
  });

  it('when the costs are no weaker than OWASP minimum, then the named constants say so', () => {
    expect(ARGON2_MEMORY_KIB).toBeGreaterThanOrEqual(19 * 1024);
    expect(ARGON2_TIME_COST).toBeGreaterThanOrEqual(2);
    expect(ARGON2_PARALLELISM).toBeGreaterThanOrEqual(1);
  });

  it('when a hash was made with other parameters, then it needs a rehash', async () => {
    const weak = new SecretHasher('pepper-for-tests-0123', { memoryCost: 8192, timeCost: 1, parallelism: 1 });
    expect(hasher.needsRehash(await weak.hash('604817'))).toBe(true);
    expect(hasher.needsRehash(await hasher.hash('604817'))).toBe(false);
  });

  it('when the stored hash is malformed, then nothing verifies against it', async () => {
    expect(await hasher.verify('not-a-hash', '604817')).toBe(false);
  });

  it('when an unknown ID is checked, then the dummy verification says no', async () => {
    expect(await hasher.verifyDummy('604817')).toBe(false);
  });
});

describe('hash gate', () => {
  const hold = () => {
    let release: () => void = () => undefined;
    const done = new Promise<void>((resolve) => (release = resolve));
    return { done, release: () => release() };
  };

  it('when more work arrives than there are slots, then no more than the slot count runs at once', async () => {
    const gate = new HashGate(2, 10, 5000);
    let running = 0;
    let peak = 0;
    await Promise.all(
      Array.from({ length: 8 }, () =>
        gate.run(async () => {
          running++;
          peak = Math.max(peak, running);
          await new Promise((r) => setImmediate(r));
          running--;
        }),
      ),
    );
    expect(peak).toBe(2);
    expect(gate.inUse).toBe(0);
  });

  it('when no slot frees up within the queue timeout, then the waiting work is refused as busy', async () => {
    const gate = new HashGate(1, 10, 50);
    const blocker = hold();
    const running = gate.run(() => blocker.done);
    await expect(gate.run(async () => 'late')).rejects.toBeInstanceOf(HashingBusyError);
    expect(gate.queued).toBe(0);
    blocker.release();
    await running;
    expect(await gate.run(async () => 'now')).toBe('now');
  });

  it('when the queue is full, then further work is refused at once', async () => {
    const gate = new HashGate(1, 1, 5000);
    const blocker = hold();
    const running = gate.run(() => blocker.done);
    const queued = gate.run(async () => 'queued');
    await expect(gate.run(async () => 'overflow')).rejects.toBeInstanceOf(HashingBusyError);
    blocker.release();
    await running;
    expect(await queued).toBe('queued');
  });

  it('when work fails, then its slot is released', async () => {
    const gate = new HashGate(1, 1, 1000);
    await expect(gate.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(gate.inUse).toBe(0);
  });
});
