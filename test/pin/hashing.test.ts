import { describe, expect, it } from 'vitest';
import { HashingBusyError } from '../../src/errors.js';
import { HashGate } from '../../src/pin/hash-gate.js';
import { ARGON2_MEMORY_KIB, ARGON2_PARALLELISM, ARGON2_TIME_COST, SecretHasher } from '../../src/pin/hasher.js';

describe('PIN hasher', () => {
  const hasher = new SecretHasher('pepper-for-tests-0123');

  it('when a PIN is hashed, then the hash is argon2id with the named cost and verifies only that PIN', async () => {
    const hash = await hasher.hash('604817');
    expect(hash).toMatch(new RegExp(`^\\$argon2id\\$v=19\\$m=${ARGON2_MEMORY_KIB},p=${ARGON2_PARALLELISM},t=${ARGON2_TIME_COST}\\$`));
    expect(hash).not.toContain('604817');
    expect(await hasher.verify(hash, '604817')).toBe(true);
    expect(await hasher.verify(hash, '604818')).toBe(false);
  });

  it('when the pepper differs, then the hash does not verify', async () => {
    const hash = await hasher.hash('604817');
    expect(await new SecretHasher('another-pepper-0123456').verify(hash, '604817')).toBe(false);
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
