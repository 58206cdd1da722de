import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCall } from '../../src/cli/simulator.js';
import { createPool } from '../../src/db/pool.js';
import { REDACT_PATHS } from '../../src/logger.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createUser } from '../support/factories.js';
import { heardKeys, startPhoneServer, type PhoneServer } from '../support/phone.js';
import { silentLogger } from '../support/services.js';
import { proxyFor } from '../support/tcp-proxy.js';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});

const signIn = (user: { extension: string; pin: string }) => [`${user.extension}#`, `${user.pin}#`];

describe('two instances', () => {
  it('when the turns of one call alternate between two instances, then the call goes on as if on one', async () => {
    const publicBaseUrl = 'http://pinline.example';
    const a = await startPhoneServer(database.url, { publicBaseUrl });
    const b = await startPhoneServer(database.url, { publicBaseUrl });
    try {
      const user = await createUser(a.services, { enroll: true });
      const ports = [a, b].map((s) => (s.server.address() as { port: number }).port);
      let turn = 0;
      const served: number[] = [];
      const call = await simulateCall({
        baseUrl: publicBaseUrl,
        authToken: a.services.config.twilioAuthToken,
        keys: [...signIn(user), '604817#', '604817#', '2', '*'],
        transport: (url) => {
          const port = ports[turn++ % 2] as number;
          served.push(port);
          return url.replace(publicBaseUrl, `http://127.0.0.1:${port}`);
        },
      });
      expect(call.error).toBeNull();
      expect(new Set(served).size).toBe(2);
      expect(heardKeys(call, a.services.catalog).slice(-6)).toEqual([
        'pin.confirm',
        'enroll.done',
        'menu.main',
        'pin.status{days=180}',
        'menu.main',
        'goodbye',
      ]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('when an instance restarts mid-call, then the call continues on the new one', async () => {
    const publicBaseUrl = 'http://pinline.example';
    let server: PhoneServer = await startPhoneServer(database.url, { publicBaseUrl });
    const user = await createUser(server.services);
    let requests = 0;
    const port = () => (server.server.address() as { port: number }).port;
    const call = await simulateCall({
      baseUrl: publicBaseUrl,
      authToken: server.services.config.twilioAuthToken,
      keys: async () => {
        requests++;
        if (requests === 2) {
          await server.close();
          server = await startPhoneServer(database.url, { publicBaseUrl });
        }
        return [...signIn(user), '*'][requests - 1] ?? null;
      },
      transport: (url) => url.replace(publicBaseUrl, `http://127.0.0.1:${port()}`),
    });
    await server.close();
    expect(call.error).toBeNull();
    expect(heardKeys(call, server.services.catalog).slice(-2)).toEqual(['menu.main', 'goodbye']);
  });
});

describe('database outage', () => {
  it('when the database goes away mid-call, then the caller hears [error.unavailable] in HTTP 200, and the next call works once it is back', async () => {
    const { proxy, through } = proxyFor(database.url);
    const server = await startPhoneServer(through(await proxy.start()));
    try {
      const user = await createUser(server.services);
      let turn = 0;
      const call = await simulateCall({
        baseUrl: server.baseUrl,
        authToken: server.services.config.twilioAuthToken,
        keys: async () => {
          turn++;
          if (turn === 2) await proxy.cut();
          return signIn(user)[turn - 1] ?? null;
        },
      });
      expect(call.error).toBeNull();
      expect(heardKeys(call, server.services.catalog).at(-1)).toBe('error.unavailable');
      const turns = call.lines.filter((l) => l.kind === 'request' && l.url !== '/voice/status');
      expect(turns.map((l) => (l.kind === 'request' ? l.status : 0))).toEqual(turns.map(() => 200));

      await proxy.restore();
      const after = await simulateCall({ baseUrl: server.baseUrl, authToken: server.services.config.twilioAuthToken, keys: [...signIn(user), '*']});
      expect(heardKeys(after, server.services.catalog).slice(-2)).toEqual(['menu.main', 'goodbye']);
    } finally {
      await proxy.restore().catch(() => undefined);
      await server.close();
      await proxy.cut();
    }
  });
});

describe('hashing overload', () => {
  it('when every hashing slot is taken, then a sign-in hears [system.busy] and may retry, while menu turns go on', async () => {
    const server = await startPhoneServer(database.url, { hashConcurrency: 1, hashQueueTimeoutMs: 200, hashQueueLimit: 4 });
    try {
      const user = await createUser(server.services);
      const other = await createUser(server.services);
      let release: () => void = () => undefined;
      let keysGiven = 0;
      const menuCall = simulateCall({
        baseUrl: server.baseUrl,
        authToken: server.services.config.twilioAuthToken,
        keys: async () => {
          keysGiven++;
          if (keysGiven === 3) {
            // Signed in: now saturate hashing and keep using the menu.
            void server.services.gate.run(() => new Promise<void>((resolve) => (release = resolve)));
          }
          return [...signIn(other), '2', '2', '*'][keysGiven - 1] ?? null;
        },
      });
      const menu = await menuCall;
      expect(heardKeys(menu, server.services.catalog).slice(-5)).toEqual(['pin.status{days=180}', 'menu.main', 'pin.status{days=180}', 'menu.main', 'goodbye']);

      const busy = await simulateCall({ baseUrl: server.baseUrl, authToken: server.services.config.twilioAuthToken, keys: signIn(user) });
      release();
      expect(busy.error).toBeNull();
      expect(heardKeys(busy, server.services.catalog).slice(-2)).toEqual(['system.busy', 'signin.enter_pin']);
    } finally {
      await server.close();
    }
  });
});

describe('logging', () => {
  it('when calls run with logging at trace level, then no PIN or Digits value appears in any log line', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const logger = pino({ level: 'trace', redact: { paths: [...REDACT_PATHS], censor: '[redacted]' } }, sink);
    const pool = createPool(database.url, silentLogger, 5);
    const server = await startPhoneServer(database.url, {}, { pool, logger });
    const user = await createUser(server.services, { enroll: true, pin: '863014' });
    try {
      await simulateCall({
        baseUrl: server.baseUrl,
        authToken: server.services.config.twilioAuthToken,
        keys: [`${user.extension}#`, '863014#', '730496#', '730495#', '730496#', '730496#', '*'],
      });
    } finally {
      await server.close();
      await pool.end();
    }
    const log = lines.join('');
    expect(lines.length).toBeGreaterThan(0);
    for (const secret of ['863014', '730496', '730495']) expect(log).not.toContain(secret);
  });
});
