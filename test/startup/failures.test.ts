import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/net.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { buildIfStale, newcomersEnv, runServer } from '../support/processes.js';

// DESIGN §10 and issue 17: a start that cannot go on says why in one line a supervisor can act
// on, exits 1, and never says it is listening when it is not.

let dataDir: string;
let database: TestDatabase;

beforeAll(async () => {
  buildIfStale();
  dataDir = mkdtempSync(path.join(tmpdir(), 'pinline-start-'));
  database = await createTestDatabase();
}, 300_000);

afterAll(async () => {
  await database?.drop();
  rmSync(dataDir, { recursive: true, force: true });
});

describe('a start that cannot go on', { timeout: 180_000 }, () => {
  it('when PORT is in use, then it exits 1 with one line naming PORT, and never says it listens', async () => {
    const port = await freePort();
    const taken: Server = createServer();
    await new Promise<void>((resolve) => taken.listen(port, resolve));
    try {
      const result = await runServer(newcomersEnv({ DATABASE_URL: database.url, DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'info' }));
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`pinline: cannot listen on PORT ${port}: the address is in use\n`);
      expect(result.stdout).not.toMatch(/listening/);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it('when DATABASE_URL points where no database listens, then it exits 1 with one line saying it cannot reach the database and why, with no stack and no password', async () => {
    const port = await freePort();
    const result = await runServer(
      newcomersEnv({ DATABASE_URL: `postgres://pinline:hunter2secret@127.0.0.1:${port}/pinline`, DATA_DIR: dataDir, PORT: String(await freePort()), LOG_LEVEL: 'info' }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`pinline: cannot reach the database (connect ECONNREFUSED 127.0.0.1:${port})\n`);
    expect(result.stdout).toBe('');
  });
});
