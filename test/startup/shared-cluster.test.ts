import { readFileSync, readlinkSync, rmSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiTokenService } from '../../src/accounts/api-tokens.js';
import { simulateCall } from '../../src/cli/simulator.js';
import { runningCluster } from '../../src/db/embedded.js';
import { createPool } from '../../src/db/pool.js';
import { freePort } from '../../src/net.js';
import { clusterUrls } from '../support/embedded.js';
import { testActor } from '../support/factories.js';
import { freshCopy, newcomersEnv, start, waitReady, type Started } from '../support/processes.js';
import { silentLogger } from '../support/services.js';

// DESIGN §10, "Starting is race-free": several `npm start` from one fresh clone, each with its
// own PORT, share one embedded cluster; the one in charge of it brings it back when it dies, and
// another takes charge when that one dies. Real processes, real Postgres.

/** DESIGN §10 and issue 17: a killed embedded cluster is back within this. */
const BACK_WITHIN_MS = 10_000;
const START_TIMEOUT_MS = 300_000;

let checkout: string;
let dataDir: string;
const servers = new Map<number, Started>();
let token = '';

const npmStart = (port: number) => {
  const server = start('npm', ['start'], { cwd: checkout, env: newcomersEnv({ PORT: String(port), LOG_LEVEL: 'info' }) });
  servers.set(port, server);
  return server;
};

/** The lock file beside DATA_DIR/pg: who is in charge of the cluster. */
const lockOwner = () => JSON.parse(readFileSync(`${dataDir}.lock`, 'utf8')) as { pid: number; description: string; state: string };

async function apiStatus(port: number): Promise<{ status: number; retryAfter: string | null }> {
  try {
    const response = await fetch(`http://127.0.0.1:${port}/api/users`, { headers: { authorization: `Bearer ${token}` } });
    return { status: response.status, retryAfter: response.headers.get('retry-after') };
  } catch {
    return { status: 0, retryAfter: null };
  }
}

/**
 * Kills the cluster's postmaster (SIGKILL, its PID from postmaster.pid) and asks the API of each
 * server in `ports` until all answer 200 again: what they answered meanwhile, and how long it took.
 */
async function killCluster(ports: number[]): Promise<{ answers: Array<{ status: number; retryAfter: string | null }>; backAfterMs: number }> {
  const postgres = runningCluster(dataDir);
  if (!postgres) throw new Error('no cluster runs');
  process.kill(postgres.pid, 'SIGKILL');
  const killedAt = Date.now();
  const answers: Array<{ status: number; retryAfter: string | null }> = [];
  for (;;) {
    const round = await Promise.all(ports.map(apiStatus));
    answers.push(...round);
    if (round.every((answer) => answer.status === 200) && runningCluster(dataDir)?.pid !== postgres.pid) break;
    if (Date.now() - killedAt > 60_000) break;
    await sleep(50);
  }
  return { answers, backAfterMs: Date.now() - killedAt };
}

beforeAll(async () => {
  checkout = freshCopy();
  dataDir = path.join(checkout, 'data', 'pg');
}, 60_000);

afterAll(async () => {
  await Promise.all([...servers.values()].map((server) => server.stop()));
  // Whatever happened, the cluster stops with the last server; a leftover one is stopped here.
  const left = checkout ? runningCluster(dataDir) : null;
  if (left) process.kill(left.pid, 'SIGINT');
  if (checkout) rmSync(checkout, { recursive: true, force: true });
}, 120_000);

describe('npm start, several at once from one checkout', () => {
  let first: number;
  let second: number;

  it(
    'when two npm start run at once from a fresh clone on two ports, then one builds while the other waits, both come up on one embedded cluster, and a call works through either',
    async () => {
      [first, second] = [await freePort(), await freePort()];
      const a = npmStart(first);
      const b = npmStart(second);
      await Promise.all([waitReady(first, a, START_TIMEOUT_MS), waitReady(second, b, START_TIMEOUT_MS)]);

      const outputs = a.output() + b.output();
      expect(outputs.match(/build: compiling src\//g)).toHaveLength(1);
      expect(outputs).toMatch(/build: waiting for the build of process \d+/);
      expect(readlinkSync(path.join(checkout, 'dist'))).toMatch(/^\.dist-[0-9a-f]{16}$/);
      expect(outputs.match(/creating embedded Postgres cluster/g)).toHaveLength(1);
      expect(outputs.match(/Demo user created/g)).toHaveLength(1);
      expect(lockOwner()).toMatchObject({ state: 'ready', description: expect.stringMatching(new RegExp(`^pinline server on PORT (${first}|${second})$`)) });
      expect(runningCluster(dataDir)?.listenAddresses).toBe('');

      // One cluster and one set of secrets: the demo PIN works on both (PUBLIC_BASE_URL is localhost:PORT).
      const pin = /initial PIN (\d+)/.exec(outputs)?.[1] as string;
      const secrets = JSON.parse(readFileSync(path.join(checkout, 'data', 'secrets.json'), 'utf8')) as { TWILIO_AUTH_TOKEN: string };
      for (const port of [first, second]) {
        const transcript = await simulateCall({ baseUrl: `http://localhost:${port}`, authToken: secrets.TWILIO_AUTH_TOKEN, keys: ['1001#', `${pin}#`] });
        expect(transcript.error).toBeNull();
        expect(transcript.said.at(-1)).toMatch(/new PIN/);
      }
    },
    START_TIMEOUT_MS * 2,
  );

  it(
    'when the embedded Postgres is killed under both servers, then their API answers 503 with Retry-After meanwhile, and the server in charge has it back within 10 s, one log line per attempt',
    async () => {
      const pool = createPool(clusterUrls(dataDir).app, silentLogger, 1);
      try {
        ({ token } = await new ApiTokenService(pool).create('startup test', testActor));
      } finally {
        await pool.end();
      }
      expect((await apiStatus(first)).status).toBe(200);
      const holder = lockOwner().description.endsWith(`PORT ${first}`) ? first : second;

      const { answers, backAfterMs } = await killCluster([first, second]);
      expect(answers.filter((answer) => answer.status !== 200 && answer.status !== 503)).toEqual([]);
      expect(answers).toContainEqual({ status: 503, retryAfter: '5' });
      expect(backAfterMs).toBeLessThan(BACK_WITHIN_MS);
      const log = servers.get(holder)?.output() ?? '';
      expect(log.match(/embedded Postgres in [^"]* stopped \(SIGKILL\); restarting it/g)).toHaveLength(1);
      expect(log.match(/embedded Postgres restarted \(attempt \d+/g)).toHaveLength(1);
    },
    60_000,
  );

  it(
    'when the server in charge of the cluster is killed, then the other takes charge of it, and brings it back when it is killed in turn',
    async () => {
      const holder = lockOwner();
      const survivor = holder.description.endsWith(`PORT ${first}`) ? second : first;
      process.kill(holder.pid, 'SIGKILL');
      const deadline = Date.now() + 10_000;
      // While the survivor takes charge, the lock file is briefly absent: read it again.
      const ownerNow = () => {
        try {
          return lockOwner();
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
          throw err;
        }
      };
      while (!ownerNow()?.description.endsWith(`PORT ${survivor}`) && Date.now() < deadline) await sleep(100);
      expect(lockOwner()).toMatchObject({ description: `pinline server on PORT ${survivor}`, state: 'ready' });
      expect((await apiStatus(survivor)).status).toBe(200);

      const { answers, backAfterMs } = await killCluster([survivor]);
      expect(answers).toContainEqual({ status: 503, retryAfter: '5' });
      expect(backAfterMs).toBeLessThan(BACK_WITHIN_MS);
      expect(servers.get(survivor)?.output()).toMatch(/takes charge of it/);
    },
    60_000,
  );

  it(
    'when the checkout is up to date, then a third npm start does not build, and uses the same cluster',
    async () => {
      const third = await freePort();
      const c = npmStart(third);
      await waitReady(third, c, START_TIMEOUT_MS);
      expect(c.output()).not.toMatch(/build:/);
      expect(c.output()).not.toMatch(/creating embedded Postgres cluster/);
      expect((await apiStatus(third)).status).toBe(200);
    },
    START_TIMEOUT_MS,
  );
});
