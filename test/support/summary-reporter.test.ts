import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { summaryLine } from './summary-reporter.js';

const VITEST = fileURLToPath(new URL('../../node_modules/vitest/vitest.mjs', import.meta.url));
const FIXTURES = fileURLToPath(new URL('./fixtures/summary', import.meta.url));

/** Runs vitest on the fixtures (their own config: this reporter alone, no database). */
function runFixtures(): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [VITEST, 'run', '--root', FIXTURES], { timeout: 60_000 }, (error, stdout) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : null) : 0, stdout });
    });
  });
}

describe('the summary line', () => {
  it('when a file fails to import, a hook fails and a rejection goes unhandled, then each counts as a failure and the line says why', async () => {
    const { code, stdout } = await runFixtures();
    expect(code).toBe(1);
    const lines = stdout.split('\n').filter((line) => line.startsWith('tests: '));
    // outcomes: 1 passed, 1 failed, 1 skipped; import-throws and hook-fails: a file each (its one
    // test skipped); unhandled: 1 passed, 1 unhandled error.
    expect(lines).toEqual(['tests: 2 passed, 4 failed (2 files failed to run, 1 unhandled error), 2 skipped']);
  });

  it('when nothing failed, then the line names no causes', () => {
    expect(summaryLine({ passed: 3, failed: 0, skipped: 1, filesFailed: 0, unhandledErrors: 0 })).toBe(
      'tests: 3 passed, 0 failed, 1 skipped',
    );
  });
});
