import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

// Real processes for the start-up tests (DESIGN §10, "Starting is race-free"): `npm start` and
// `node dist/main.js` as a newcomer runs them, each in its own process group, stopped by its PID.

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** What pinline reads from the environment, and what npm passes down to scripts: a newcomer has none of it. */
const NOT_A_NEWCOMERS = /^(DATABASE_URL|MIGRATIONS_DATABASE_URL|DATA_DIR|NODE_ENV|LOG_LEVEL|PORT|PUBLIC_BASE_URL|TWILIO_.*|PIN_PEPPER.*|SESSION_SECRET.*|METRICS_TOKEN|SMTP_URL|MAIL_FROM|EVENTS_WEBHOOK_.*|OIDC_.*|npm_.*|INIT_CWD)$/;

export function newcomersEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) if (!NOT_A_NEWCOMERS.test(name)) env[name] = value;
  return { ...env, ...extra };
}

export interface Started {
  readonly child: ChildProcess;
  /** Everything it wrote so far, stdout and stderr as they came. */
  output(): string;
  /** Its exit status, once it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM to its process group, then SIGKILL if it is still there after `graceMs`. */
  stop(graceMs?: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function start(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Started {
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), signal);
    } catch {
      // Gone already.
    }
  };
  return {
    child,
    output: () => output,
    exited,
    async stop(graceMs = 30_000) {
      signalGroup('SIGTERM');
      const timer = setTimeout(() => signalGroup('SIGKILL'), graceMs);
      const status = await exited;
      clearTimeout(timer);
      return status;
    },
  };
}

/** Until /readyz on `port` answers 200; fails with what the process said if it exits first. */
export async function waitReady(port: number, started: Started, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let gone = false;
  void started.exited.then(() => (gone = true));
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/readyz`)).status === 200) return;
    } catch {
      // Not listening yet.
    }
    if (gone) throw new Error(`the process exited before /readyz answered on ${port}:\n${started.output()}`);
    if (Date.now() > deadline) throw new Error(`no /readyz 200 on ${port} within ${timeoutMs / 1000} s:\n${started.output()}`);
    await sleep(250);
  }
}

/**
 * A copy of this checkout as a fresh clone holds it: the files git tracks and the untracked ones
 * it does not ignore, as they are now (so uncommitted work is what runs), with no build and no
 * data; node_modules is linked rather than installed again. In a directory the postgres user can enter.
 */
export function freshCopy(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pinline-clone-'));
  chmodSync(dir, 0o755);
  execFileSync('bash', ['-c', 'git ls-files -co --exclude-standard -z | tar --null -T - --ignore-failed-read -cf - 2>/dev/null | tar -C "$0" -xf -', dir], {
    cwd: ROOT,
  });
  symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'));
  return dir;
}

/** dist/ built from the sources as they are (a no-op when it is): what `npm start` runs. */
export function buildIfStale(): void {
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: ROOT, stdio: 'ignore' });
}

/** Runs `node dist/main.js` to its end (for a start that fails): its exit code, stdout and stderr apart. */
export function runServer(env: NodeJS.ProcessEnv, timeoutMs = 120_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['dist/main.js'], { cwd: ROOT, env, timeout: timeoutMs }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout, stderr });
    });
  });
}
