#!/usr/bin/env node
// Compiles src/ into dist/ so that no process ever loads a half-written build (DESIGN §10,
// "Starting is race-free"):
//   - each build goes to a directory of its own, .dist-<id>, named by a hash of what it is made of;
//   - dist is a symbolic link to the current one, replaced in one rename; a process that started
//     keeps the build it resolved (Node follows the link once, at load);
//   - a lock lets one build run at a time: a second `npm start` waits, then finds the build made;
//   - --if-stale (prestart) builds only when the sources changed since the current build.
// Older builds are removed, except the previous one, which a process may still be loading.
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, lstatSync, readdirSync, readFileSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dist = path.join(root, 'dist');
const lockFile = path.join(root, '.dist.lock');
const BUILD_PREFIX = '.dist-';
const ifStale = process.argv.includes('--if-stale');
const say = (text) => process.stderr.write(`build: ${text}\n`);

/** Every file below `dir`, sorted, as paths relative to the root. */
function filesUnder(dir) {
  const found = [];
  for (const entry of readdirSync(path.join(root, dir), { withFileTypes: true })) {
    const relative = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...filesUnder(relative));
    else if (entry.isFile()) found.push(relative);
  }
  return found.sort();
}

/** What a build is made of: the sources, the compiler settings and the compiler's version. */
function buildId() {
  const hash = createHash('sha256');
  const typescript = createRequire(import.meta.url)('typescript/package.json').version;
  hash.update(`typescript ${typescript}\n`);
  for (const file of ['tsconfig.json', 'tsconfig.build.json', ...filesUnder('src')]) {
    hash.update(`${file}\n`);
    hash.update(readFileSync(path.join(root, file)));
  }
  return hash.digest('hex').slice(0, 16);
}

/** The build dist points to now, or null (no dist, or a plain directory from before). */
function currentBuild() {
  try {
    return path.basename(readlinkSync(dist));
  } catch {
    return null;
  }
}

const upToDate = (id) => currentBuild() === `${BUILD_PREFIX}${id}` && existsSync(path.join(dist, 'main.js'));

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Waits for the lock (a file naming its holder's PID, made whole by link); a dead holder's lock is taken. */
async function lock() {
  const aside = `${lockFile}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(aside, `${process.pid}\n`);
  let said = false;
  try {
    for (;;) {
      try {
        linkSync(aside, lockFile);
        return;
      } catch (err) {
        if (err.code !== 'EEXIST') throw err;
      }
      const holder = Number(readFileSync(lockFile, 'utf8').trim());
      if (!Number.isInteger(holder) || !isAlive(holder)) {
        // A build that died: its lock goes. Two takers at once only build twice, each aside.
        rmSync(lockFile, { force: true });
        continue;
      }
      if (!said) say(`waiting for the build of process ${holder}`);
      said = true;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  } finally {
    rmSync(aside, { force: true });
  }
}

/** The build of `id`, compiled aside and renamed whole into place (so one that exists is complete). */
function compile(id) {
  const target = path.join(root, `${BUILD_PREFIX}${id}`);
  if (existsSync(target)) return target;
  const staging = path.join(root, `${BUILD_PREFIX}tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json', '--outDir', staging], { cwd: root, stdio: 'inherit' });
  if (result.status !== 0) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`tsc failed (${result.signal ?? `exit ${result.status}`})`);
  }
  try {
    renameSync(staging, target);
  } catch (err) {
    // Made meanwhile by a build that took a dead build's lock at the same moment: the same files.
    rmSync(staging, { recursive: true, force: true });
    if (!existsSync(target)) throw err;
  }
  return target;
}

/** Points dist at `target` in one rename; a plain dist directory from before goes aside first. */
function switchTo(target) {
  const link = path.join(root, `${BUILD_PREFIX}link-${process.pid}-${randomBytes(4).toString('hex')}`);
  symlinkSync(path.basename(target), link);
  let old = null;
  if (existsSync(dist) && !lstatSync(dist).isSymbolicLink()) {
    old = path.join(root, `${BUILD_PREFIX}old-${process.pid}`);
    renameSync(dist, old);
  }
  renameSync(link, dist);
  if (old) rmSync(old, { recursive: true, force: true });
}

/** Removes builds but the current and the previous one, and what dead builds left. */
function prune(keep) {
  for (const name of readdirSync(root)) {
    if (!name.startsWith(BUILD_PREFIX) || keep.includes(name) || name === path.basename(lockFile)) continue;
    const pid = /^\.dist-(?:tmp|link|old)-(\d+)-?/.exec(name)?.[1];
    if (pid !== undefined && isAlive(Number(pid))) continue;
    rmSync(path.join(root, name), { recursive: true, force: true });
  }
}

const id = buildId();
if (!(ifStale && upToDate(id))) {
  await lock();
  try {
    // Another start may have built it while this one waited.
    if (!(ifStale && upToDate(id))) {
      const previous = currentBuild();
      const started = Date.now();
      say(`compiling src/ into ${BUILD_PREFIX}${id}`);
      const target = compile(id);
      switchTo(target);
      prune([path.basename(target), ...(previous ? [previous] : [])]);
      say(`dist -> ${path.basename(target)} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    }
  } catch (err) {
    say(err.message);
    process.exitCode = 1;
  } finally {
    rmSync(lockFile, { force: true });
  }
}
