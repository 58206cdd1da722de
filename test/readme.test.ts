import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../src/net.js';
import { loadPromptCatalog } from '../src/prompts.js';
import { promptMatcher } from './support/prompt-matcher.js';

// The README's walkthrough, run as written: every ```sh walkthrough block, in order, in one shell
// session (so a variable set by one block is there for the next, as in a reader's terminal), in a
// fresh folder whose data/ is new, against a server started the way the quick start starts it.
//
// - ```sh walkthrough server: the start. It must read `npm ci && npm start`; it is played as
//   `node dist/main.js` (`npm test` has installed and built) and runs until the end.
// - ```sh walkthrough exits=N: a block whose last command fails on purpose (a dry run that finds a
//   bad row); its status must be N.
// - A value that a reader copies from the start output (the demo user's initial PIN) comes the same
//   way: the README keeps it in INITIAL_PIN, and the test reads it from the start output.
// - `npx pinline …` runs `node bin/pinline.js …`: what npx adds is npm finding the project's own
//   bin (it loads the whole dependency tree, 2 s or more), and this folder is not a checkout.
//
// A block fails the test when it exits otherwise than marked, writes to stderr, or when a call it
// places hears anything but the dialog going as planned (a refused PIN, "not valid", "locked", …).

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FENCE = /^```sh walkthrough(?<options>[^\n]*)\n(?<body>[\s\S]*?)^```$/gm;
const START = 'npm ci && npm start';

interface Block {
  index: number;
  /** The first line, to name the block in a failure. */
  title: string;
  body: string;
  server: boolean;
  exits: number;
}

function walkthroughBlocks(readme: string): Block[] {
  return [...readme.matchAll(FENCE)].map((match, index) => {
    const options = match.groups?.options ?? '';
    const body = match.groups?.body ?? '';
    return {
      index,
      title: body.split('\n')[0] ?? '',
      body,
      server: /\bserver\b/.test(options),
      exits: Number(/\bexits=(\d+)/.exec(options)?.[1] ?? 0),
    };
  });
}

/** What a call may say when the walkthrough goes as written: anything else means a step went wrong. */
const PLANNED_PROMPTS = new Set([
  'welcome',
  'signin.enter_id',
  'signin.enter_pin',
  'enroll.welcome',
  'enroll.done',
  'pin.expired',
  'pin.expiry_warning',
  'pin.status',
  'menu.main',
  'pin.enter_new',
  'pin.confirm',
  'pin.changed',
  'goodbye',
]);

/** The environment of a reader's terminal: no test settings, and npm quiet about itself. */
function readerEnv(port: number): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(DATABASE_URL|MIGRATIONS_DATABASE_URL|NODE_ENV|PORT|PUBLIC_BASE_URL|DATA_DIR|LOG_LEVEL|TWILIO_|PIN_PEPPER|SESSION_SECRET|SMTP_URL|MAIL_FROM|EVENTS_WEBHOOK_|METRICS_TOKEN|VITEST|TEST)/.test(name)) env[name] = value;
  }
  return { ...env, PORT: String(port), NO_UPDATE_NOTIFIER: '1', npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_yes: 'false' };
}

const readme = readFileSync(path.join(ROOT, 'README.md'), 'utf8');
const blocks = walkthroughBlocks(readme);
let dir: string;
let server: ChildProcess | null = null;
let serverOutput = '';
let port: number;

beforeAll(async () => {
  if (!existsSync(path.join(ROOT, 'dist', 'main.js'))) throw new Error('dist/ is not built: npm test builds it first (pretest)');
  dir = mkdtempSync(path.join(tmpdir(), 'pinline-readme-'));
  // As root the embedded Postgres runs as the postgres user, which must be able to enter it.
  chmodSync(dir, 0o755);
  port = await freePort();
}, 30_000);

afterAll(async () => {
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server?.once('exit', resolve));
    server.kill('SIGTERM');
    await exited;
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function startServer(): Promise<string> {
  server = spawn(process.execPath, [path.join(ROOT, 'dist', 'main.js')], { cwd: dir, env: readerEnv(port), stdio: ['ignore', 'pipe', 'pipe'] });
  server.stdout?.on('data', (chunk: Buffer) => (serverOutput += chunk.toString('utf8')));
  server.stderr?.on('data', (chunk: Buffer) => (serverOutput += chunk.toString('utf8')));
  for (let i = 0; i < 240; i++) {
    if (server.exitCode !== null) throw new Error(`the server exited at start:\n${serverOutput}`);
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const pin = /initial PIN (\d+)/.exec(serverOutput)?.[1];
  if (!pin) throw new Error(`the start printed no initial PIN:\n${serverOutput}`);
  return pin;
}

interface Ran {
  block: Block;
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs the blocks after the start in one bash session. Each block's output goes to files of its
 * own; a block that fails where it should not ends the session there.
 */
function runBlocks(run: readonly Block[], initialPin: string): Promise<Ran[]> {
  const out = (block: Block, stream: string) => path.join(dir, `.block-${block.index}.${stream}`);
  const script = [
    'set -o pipefail',
    `npx() { if [ "$1" = pinline ]; then shift; node ${JSON.stringify(path.join(ROOT, 'bin', 'pinline.js'))} "$@"; else command npx "$@"; fi; }`,
    `INITIAL_PIN=${initialPin}`,
    ...run.map((block) =>
      block.exits === 0
        ? // In this shell, so that what it sets stays set; the first failing command stops everything.
          `set -e\n{\n${block.body}} >${out(block, 'out')} 2>${out(block, 'err')}\necho $? >${out(block, 'code')}\nset +e`
        : `( set -e\n${block.body}) >${out(block, 'out')} 2>${out(block, 'err')}\necho $? >${out(block, 'code')}`,
    ),
  ].join('\n');
  writeFileSync(path.join(dir, '.walkthrough.sh'), script);
  return new Promise((resolve) => {
    // --norc: bash reads .bashrc when it thinks a remote shell started it, as a test runner's pipes can look.
    const shell = spawn('bash', ['--norc', path.join(dir, '.walkthrough.sh')], { cwd: dir, env: readerEnv(port), stdio: 'ignore' });
    shell.on('exit', () => {
      const read = (file: string) => (existsSync(file) ? readFileSync(file, 'utf8') : null);
      resolve(
        run.map((block) => {
          const code = read(out(block, 'code'));
          return {
            block,
            // A block that stopped the session (set -e) wrote no status: it failed with the session's.
            code: code === null ? (shell.exitCode ?? -1) : Number(code.trim()),
            stdout: read(out(block, 'out')) ?? '',
            stderr: read(out(block, 'err')) ?? '',
          };
        }),
      );
    });
  });
}

describe('the README walkthrough', () => {
  it('when the marked blocks are read, then there is a start, and calls, a reset, an import, an export and reports to run', () => {
    expect(blocks.filter((b) => b.server).map((b) => b.body.trim())).toEqual([START]);
    expect(blocks[0]?.server, 'the start comes first').toBe(true);
    const all = blocks.map((b) => b.body).join('\n');
    for (const command of ['npx pinline call', 'npx pinline user reset-pin', 'npx pinline user import', 'npx pinline user export', 'npx pinline report']) {
      expect(all, command).toContain(command);
    }
  });

  // A fresh embedded Postgres (initdb) and a dozen commands; about a minute on a busy 2-core machine.
  it('when the marked blocks run in order on a fresh data directory against the started server, then each exits as marked, says nothing on stderr, and every call goes as written', { timeout: 240_000 }, async () => {
    const initialPin = await startServer();
    const ran = await runBlocks(blocks.filter((b) => !b.server), initialPin);
    const heard = promptMatcher(loadPromptCatalog());
    const problems: string[] = [];
    for (const { block, code, stdout, stderr } of ran) {
      const name = `block ${block.index + 1} (${block.title})`;
      if (code !== block.exits) problems.push(`${name} exited ${code}, not ${block.exits}:\n${stdout}${stderr}`);
      else if (block.exits === 0 && stderr !== '') problems.push(`${name} wrote to stderr:\n${stderr}`);
      const unplanned = stdout
        .split('\n')
        .flatMap((line) => /^ {2}pinline: (.*)$/.exec(line)?.[1] ?? [])
        .map((text) => heard(text).replace(/\{.*$/, ''))
        .filter((key) => !PLANNED_PROMPTS.has(key));
      if (unplanned.length > 0) problems.push(`${name}: the call heard ${unplanned.join(', ')}:\n${stdout}`);
      if (code !== block.exits && block.exits === 0) break;
    }
    expect(problems, `server output:\n${serverOutput.slice(-3000)}`).toEqual([]);
  });
});
