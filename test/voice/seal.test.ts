import { describe, expect, it } from 'vitest';
import { initialState } from '../../src/dialog/index.js';
import { sessionKeyRing, sessionSecretId } from '../../src/keys.js';
import { CallStateSealer, SEAL_TTL_MS, SealError } from '../../src/voice/seal.js';

const secret = 'seal-test-secret-0123456789';
const state = { ...initialState('en-US'), pendingPinHash: '$argon2id$v=19$m=19456,p=1,t=2$abc$def' };

describe('sealed call state', () => {
  it('when a state is sealed and opened for the same call, then it comes back whole with its turn', () => {
    const sealer = new CallStateSealer(secret);
    const opened = sealer.open('CA1', sealer.seal('CA1', { turn: 7, state }));
    expect({ turn: opened.turn, state: opened.state }).toEqual({ turn: 7, state });
    expect(opened.sealedUnder.id).toBe(sessionSecretId(secret));
  });

  it('when a sealed state is read, then its content is not visible in the token', () => {
    const token = new CallStateSealer(secret).seal('CA1', { turn: 1, state });
    expect(Buffer.from(token, 'base64url').toString('latin1')).not.toContain('argon2id');
    expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  it.each([
    ['another call', (t: string): [string, string] => ['CA2', t]],
    ['a flipped byte', (t: string): [string, string] => ['CA1', t.slice(0, 20) + (t[20] === 'A' ? 'B' : 'A') + t.slice(21)]],
    ['a truncated token', (t: string): [string, string] => ['CA1', t.slice(0, 10)]],
    ['an empty token', (): [string, string] => ['CA1', '']],
  ])('when the token comes with %s, then it is refused', (_name, alter) => {
    const sealer = new CallStateSealer(secret);
    const [callSid, token] = alter(sealer.seal('CA1', { turn: 1, state }));
    expect(() => sealer.open(callSid, token)).toThrow(SealError);
  });

  it('when the token was sealed with another secret, then it is refused', () => {
    const token = new CallStateSealer('another-secret-0123456789').seal('CA1', { turn: 1, state });
    expect(() => new CallStateSealer(secret).open('CA1', token)).toThrow(SealError);
  });

  it('when the token is older than its time to live, then it is refused', () => {
    let now = 1_000_000;
    const sealer = new CallStateSealer(secret, () => now);
    const token = sealer.seal('CA1', { turn: 1, state });
    now += SEAL_TTL_MS - 1;
    expect(sealer.open('CA1', token).turn).toBe(1);
    now += 2;
    expect(() => sealer.open('CA1', token)).toThrow(/expired/);
  });

  describe('across a rotation of SESSION_SECRET', () => {
    const newer = 'seal-test-newer-secret-0123456789';

    it('when a state sealed under the old secret is opened once the new one is current and the old one previous, then it opens, naming the old secret', () => {
      const token = new CallStateSealer(secret).seal('CA1', { turn: 3, state });
      const opened = new CallStateSealer(sessionKeyRing(newer, [secret])).open('CA1', token);
      expect(opened.turn).toBe(3);
      expect(opened.sealedUnder.id).toBe(sessionSecretId(secret));
    });

    it('when a new state is sealed with a previous secret listed, then it is sealed under the current one only', () => {
      const token = new CallStateSealer(sessionKeyRing(newer, [secret])).seal('CA1', { turn: 1, state });
      expect(new CallStateSealer(newer).open('CA1', token).sealedUnder.id).toBe(sessionSecretId(newer));
      expect(() => new CallStateSealer(secret).open('CA1', token)).toThrow(SealError);
    });

    it('when the new secret is only listed as accepted (the first step of a rollout), then states sealed under it open too', () => {
      const token = new CallStateSealer(newer).seal('CA1', { turn: 1, state });
      expect(new CallStateSealer(sessionKeyRing(secret, [newer])).open('CA1', token).sealedUnder.id).toBe(sessionSecretId(newer));
    });

    it('when the old secret is no longer listed, then a state sealed under it is refused', () => {
      const token = new CallStateSealer(secret).seal('CA1', { turn: 1, state });
      expect(() => new CallStateSealer(sessionKeyRing(newer, ['seal-test-other-secret-0123456789'])).open('CA1', token)).toThrow(SealError);
    });
  });
});
