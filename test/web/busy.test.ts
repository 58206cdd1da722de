import { describe, expect, it } from 'vitest';
import { createAdmin, useWebServer } from '../support/browser.js';
import { createUser } from '../support/factories.js';
import { textOf, WebClient } from '../support/web-client.js';

// One hashing slot and a short queue, so a test can hold the slot and see overload answered.
const web = useWebServer({ hashConcurrency: 1, hashQueueTimeoutMs: 100, hashQueueLimit: 2 });

async function whileHashingIsSaturated<T>(work: () => Promise<T>): Promise<T> {
  let release: () => void = () => undefined;
  const held = web.services.gate.run(() => new Promise<void>((resolve) => (release = resolve)));
  try {
    return await work();
  } finally {
    release();
    await held;
  }
}

describe('hashing overload on the web and the API', () => {
  it('when the API changes a PIN while hashing is saturated, then it answers 503 busy and changes nothing', async () => {
    const user = await createUser(web.services);
    const { token } = await web.services.apiTokens.create('busy test', { channel: 'admin', name: 'admin:test' });
    const before = await web.services.accounts.getAccount({ userId: user.userId });
    const answer = await whileHashingIsSaturated(() =>
      fetch(`${web.baseUrl}/api/users/${user.userId}/credential/pin`, {
        method: 'PUT',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
        body: JSON.stringify({ pin: '604817' }),
      }),
    );
    expect(answer.status).toBe(503);
    expect(answer.headers.get('retry-after')).toBe('5');
    expect(await answer.json()).toEqual({ error: { code: 'busy', message: expect.stringMatching(/nothing was changed/i) } });
    expect((await web.services.accounts.getAccount({ userId: user.userId })).pin.changedAt).toEqual(before.pin.changedAt);
  });

  it('when an administrator saves a PIN while hashing is saturated, then the page says busy with 503', async () => {
    const user = await createUser(web.services);
    const client = new WebClient(web.baseUrl);
    await client.signInAsAdmin(await createAdmin(web.services));
    await client.load(`/admin/users/${user.userId}/change-password`);
    const page = await whileHashingIsSaturated(() =>
      client.post(`/admin/users/${user.userId}/change-password`, { target: 'voicemail', password: '604817', confirm: '604817', mustChange: 'on' }),
    );
    expect(page.status).toBe(503);
    expect(textOf(page.body)).toContain('The system is busy right now');
  });
});
