import { spawn, type ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { simulateCall } from '../../src/cli/simulator.js';
import { createPool, type Pool } from '../../src/db/pool.js';
import { createServices, type Services } from '../../src/runtime.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';
import { createUser } from '../support/factories.js';
import { heardKeys } from '../support/phone.js';
import { silentLogger, testConfig } from '../support/services.js';
import { freePort } from '../../src/net.js';

/**
 * Two real server processes (`node dist/main.js`, as deployed) behind one public URL, with the
 * same database and secrets. `npm test` builds dist/ first (pretest); run alone, this file
 * builds it when it is missing.
 */
const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = path.join(ROOT, 'dist', 'main.js');
const PUBLIC_BASE_URL = 'http://pinline.example';
const SECRETS = {
  TWILIO_AUTH_TOKEN: 'fa017e57fa017e57fa017e57fa017e57',
  PIN_PEPPER: 'fault-test-pepper-0123456789abcdef0123',
  SESSION_SECRET: 'fault-test-session-secret-0123456789abcdef',
};


interface Instance {
  process: ChildProcess;
  origin: string;
  served: number;
}

async function startInstance(databaseUrl: string, dataDir: string): Promise<Instance> {
  const port = await freePort();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      ...SECRETS,
      NODE_ENV: 'production',
      DATABASE_URL: databaseUrl,
      PUBLIC_BASE_URL,
      PORT: String(port),
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const origin = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`dist/main.js exited with ${child.exitCode}: ${stderr}`);
    try {
      if ((await fetch(`${origin}/readyz`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`dist/main.js did not get ready: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { process: child, origin, served: 0 };
}

let database: TestDatabase;
let pool: Pool;
let services: Services;
let dataDir: string;
const instances: Instance[] = [];

beforeAll(async () => {
  if (!existsSync(MAIN)) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
  database = await createTestDatabase();
  pool = createPool(database.url, silentLogger, 4);
  // The same pepper as the instances, so users made here sign in there.
  services = createServices(testConfig({ pinPepper: SECRETS.PIN_PEPPER }), silentLogger, pool);
  dataDir = mkdtempSync(path.join(tmpdir(), 'pinline-fault-instances-'));
  instances.push(await startInstance(database.url, dataDir), await startInstance(database.url, dataDir));
});

afterAll(async () => {
  for (const instance of instances) {
    if (instance.process.exitCode === null && instance.process.signalCode === null) {
      const exited = new Promise((resolve) => instance.process.once('exit', resolve));
      instance.process.kill('SIGTERM');
      await exited;
    }
  }
  await pool?.end();
  await database?.drop();
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('an instance killed mid-call', () => {
  it('when the instance serving a call is killed with SIGKILL, then the call goes on through the other instance', async () => {
    const user = await createUser(services, { enroll: true });
    const [a, b] = instances as [Instance, Instance];
    let live = a;
    let keysGiven = 0;
    const script = [`${user.extension}#`, `${user.pin}#`, '604817#', '604817#', '2', '*'];
    const call = await simulateCall({
      baseUrl: PUBLIC_BASE_URL,
      authToken: SECRETS.TWILIO_AUTH_TOKEN,
      keys: async () => {
        keysGiven++;
        if (keysGiven === 4) {
          // Mid-enrollment, with the new PIN waiting for its confirmation: the instance dies.
          const exited = new Promise((resolve) => a.process.once('exit', resolve));
          a.process.kill('SIGKILL');
          await exited;
          live = b;
        }
        return script[keysGiven - 1] ?? null;
      },
      // The load balancer: every request goes to a live instance.
      transport: (url) => {
        live.served++;
        return url.replace(PUBLIC_BASE_URL, live.origin);
      },
    });

    expect(a.process.signalCode).toBe('SIGKILL');
    expect(call.error).toBeNull();
    expect(a.served).toBeGreaterThan(0);
    expect(b.served).toBeGreaterThan(0);
    expect(heardKeys(call, services.catalog)).toEqual([
      'welcome',
      'signin.enter_id',
      'signin.enter_pin',
      'enroll.welcome',
      'pin.enter_new{min=6,max=20}',
      'pin.confirm',
      'enroll.done',
      'menu.main',
      'pin.status{days=180}',
      'menu.main',
      'goodbye',
    ]);
    // The PIN confirmed through the second instance is the one saved.
    const signin = await services.pins.verifySignin({ extension: user.extension, pin: '604817', actor: { channel: 'cli', name: 'test' } });
    expect(signin.outcome).toBe('ok');
  });
});
