import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, cpSync, mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runningCluster } from '../../src/db/embedded.js';
import { freePort } from '../../src/net.js';
import { APP_ROLE, asRoot, clusterUrls, expectServiceRoleUnprivileged, expectUnreachableBy, idsOf, makeOldCluster, notOwnedBy } from '../support/embedded.js';
import { buildIfStale, newcomersEnv, ROOT, start, waitReady, type Started } from '../support/processes.js';

// DESIGN §10, "The embedded database is private", for an ordinary user: the server run as the OS
// user nobody converts the cluster an earlier pinline made, and no other account reaches it. (As
// root the cluster runs as the postgres user: test/db/embedded.test.ts.)

const START_TIMEOUT_MS = 120_000;
let base: string;
let dataRoot: string;
/** Where nobody runs pinline from: the checkout, or a readable copy of what it runs. */
let checkout = ROOT;

/** What the server runs, as the image has it (Dockerfile), plus node_modules. */
const RUNTIME_PATHS = ['package.json', 'bin', 'migrations', 'prompts', 'messages', 'common-pins', 'node_modules'];

/**
 * Nobody owns their own checkout. When this one is in a directory other accounts cannot enter
 * (as CI's clone in a 0700 `mktemp -d`), nobody gets a readable copy of what the server runs.
 */
function checkoutForNobody(): string {
  if (spawnSync('runuser', ['-u', 'nobody', '--', 'test', '-r', path.join(ROOT, 'package.json')]).status === 0) return ROOT;
  const copy = path.join(base, 'checkout');
  mkdirSync(copy, { mode: 0o755 });
  for (const entry of RUNTIME_PATHS) cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true, verbatimSymlinks: true });
  cpSync(realpathSync(path.join(ROOT, 'dist')), path.join(copy, 'dist'), { recursive: true });
  return copy;
}
let server: Started | null = null;

beforeAll(() => {
  if (!asRoot) return;
  buildIfStale();
  base = mkdtempSync(path.join(tmpdir(), 'pinline-nobody-'));
  chmodSync(base, 0o755);
  dataRoot = path.join(base, 'data');
  mkdirSync(dataRoot, { mode: 0o700 });
  const nobody = idsOf('nobody');
  chownSync(dataRoot, nobody.uid, nobody.gid);
  checkout = checkoutForNobody();
}, 300_000);

afterAll(async () => {
  await server?.stop();
  if (base) rmSync(base, { recursive: true, force: true });
});

/** `node dist/main.js` as nobody, on DATA_DIR; resolves once it serves. */
async function startAsNobody(): Promise<{ started: Started; port: number }> {
  const port = await freePort();
  const started = start('runuser', ['-u', 'nobody', '--', process.execPath, 'dist/main.js'], {
    cwd: checkout,
    env: newcomersEnv({ DATA_DIR: dataRoot, PORT: String(port), LOG_LEVEL: 'info' }),
  });
  server = started;
  await waitReady(port, started, START_TIMEOUT_MS);
  return { started, port };
}

async function extensions(url: string): Promise<string[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<{ extension: string }>('SELECT extension FROM users ORDER BY extension')).rows.map((row) => row.extension);
  } finally {
    await client.end();
  }
}

describe.skipIf(!asRoot)('the embedded database of an ordinary user', () => {
  it(
    'when nobody starts pinline on a cluster made the old way (pinline/pinline on TCP), then it is converted in place with its data, pinline_app owns everything, and another account (postgres) cannot reach it, before and after a restart',
    async () => {
      const dataDir = path.join(dataRoot, 'pg');
      const nobody = idsOf('nobody');
      await makeOldCluster(dataDir, nobody);

      const first = await startAsNobody();
      expect(first.started.output()).toMatch(/making the embedded Postgres in [^"]* private/);
      const urls = clusterUrls(dataDir);
      expect(await extensions(urls.app)).toContain('4242');
      expect(await notOwnedBy(urls.superuser, APP_ROLE)).toEqual([]);
      await expectServiceRoleUnprivileged(urls.app);
      expectUnreachableBy('postgres', { databaseDir: dataDir, dataDir, owner: nobody });
      await first.started.stop();
      expect(first.started.output()).toMatch(/"msg":"stopped"/);
      expect(runningCluster(dataDir)).toBeNull();

      const second = await startAsNobody();
      expect(second.started.output()).not.toMatch(/making the embedded Postgres/);
      expect(await extensions(clusterUrls(dataDir).app)).toContain('4242');
      expectUnreachableBy('postgres', { databaseDir: dataDir, dataDir, owner: nobody });
      await second.started.stop();
      server = null;
      expect(second.started.output()).toMatch(/"msg":"stopped"/);
      expect(runningCluster(dataDir)).toBeNull();
    },
    START_TIMEOUT_MS * 3,
  );
});
