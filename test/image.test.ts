import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// What the Dockerfile promises, read from the file itself. scripts/image-check.sh (run by CI)
// builds and runs the image; these catch the same mistakes in seconds, in every `npm test`.
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');
const dockerfile = read('Dockerfile');
const stages = dockerfile.split(/^FROM /m).slice(1);
const runtime = stages.find((stage) => /^\S+ AS runtime$/m.test(stage)) ?? '';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(path.join(dir, entry.name)) : entry.name.endsWith('.ts') ? [path.join(dir, entry.name)] : [],
  );
}

/** Files and directories outside src/ that a module reads by a path relative to itself. */
function readAtRunTime(): string[] {
  const found = new Set<string>();
  for (const file of sources(path.join(ROOT, 'src'))) {
    for (const [, relative] of read(path.relative(ROOT, file)).matchAll(/new URL\('(\.\.\/[^']*)', import\.meta\.url\)/g)) {
      const target = path.relative(ROOT, path.resolve(path.dirname(file), relative as string));
      if (!target.startsWith('src')) found.add(target.split(path.sep)[0] as string);
    }
  }
  return [...found].sort();
}

describe('the Dockerfile', () => {
  it('when the code reads files beside dist/ at run time, then the runtime stage copies each and .dockerignore lets it through', () => {
    const needed = readAtRunTime();
    expect(needed).toEqual(expect.arrayContaining(['common-pins', 'messages', 'migrations', 'package.json', 'prompts']));
    const copied = [...runtime.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap(([, from]) => (from as string).split(' '));
    const allowed = read('.dockerignore').split('\n').filter((line) => line.startsWith('!')).map((line) => line.slice(1));
    expect({ notCopied: needed.filter((n) => !copied.includes(n)), notAllowed: needed.filter((n) => !allowed.includes(n)) }).toEqual({
      notCopied: [],
      notAllowed: [],
    });
  });

  it('when it is built, then both stages use one supported Node LTS line that package.json allows', () => {
    const bases = new Set(stages.map((stage) => stage.split(/\s/)[0]));
    expect(bases.size).toBe(1);
    const major = Number(/^node:(\d+)-bookworm-slim$/.exec([...bases][0] ?? '')?.[1]);
    // Even lines are the LTS ones; 22 is the oldest still supported (20 ended on 2026-04-30).
    expect(major % 2 === 0 && major >= 22).toBe(true);
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(engines.split('||').map((range) => range.trim())).toContain(`^${major}`);
  });

  it('when the runtime stage is built, then argon2 hashes after the install, so a binary this Node cannot load fails the build', () => {
    const install = runtime.indexOf('RUN npm ci');
    const argon2 = runtime.search(/^RUN node -e .*require\('argon2'\).*\.hash\(/m);
    expect(install).toBeGreaterThan(-1);
    expect(argon2).toBeGreaterThan(install);
  });

  it('when the container runs, then it is the node user, `pinline` is on PATH, and the health check asks /readyz', () => {
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toMatch(/^RUN ln -s \/app\/bin\/pinline\.js \/usr\/local\/bin\/pinline/m);
    expect(/^HEALTHCHECK [\s\S]*?CMD (.*)$/m.exec(runtime)?.[1]).toContain("/readyz'");
  });
});
