import type { Reporter, TestModule } from 'vitest/node';
import { CHROMIUM_SKIP_REASON, hasChromium } from './chromium.js';

// vitest/node does not re-export it; @vitest/utils is only a transitive dependency.
type UnhandledErrors = Parameters<NonNullable<Reporter['onTestRunEnd']>>[1];

export interface SummaryCounts {
  passed: number;
  /** Failed tests, plus the files that failed to run and the unhandled errors below. */
  failed: number;
  skipped: number;
  /** Files that failed as a whole (import error, failing hook) without a failed test to show for it. */
  filesFailed: number;
  unhandledErrors: number;
}

/** Counts a run the way the summary line reports it. */
export function countRun(testModules: ReadonlyArray<TestModule>, unhandledErrors: UnhandledErrors): SummaryCounts {
  const counts: SummaryCounts = { passed: 0, failed: 0, skipped: 0, filesFailed: 0, unhandledErrors: unhandledErrors.length };
  for (const module of testModules) {
    let failedTests = 0;
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      if (state === 'passed') counts.passed++;
      else if (state === 'failed') failedTests++;
      else counts.skipped++;
    }
    counts.failed += failedTests;
    // A file that could not run shows no failed test, yet it failed: count it once.
    if (failedTests === 0 && (module.state() === 'failed' || module.errors().length > 0)) counts.filesFailed++;
  }
  counts.failed += counts.filesFailed + counts.unhandledErrors;
  return counts;
}

/** The closing line, e.g. "tests: 729 passed, 2 failed (1 file failed to run, 1 unhandled error), 0 skipped". */
export function summaryLine(counts: SummaryCounts): string {
  const causes = [
    counts.filesFailed > 0 ? `${counts.filesFailed} ${counts.filesFailed === 1 ? 'file' : 'files'} failed to run` : '',
    counts.unhandledErrors > 0 ? `${counts.unhandledErrors} unhandled ${counts.unhandledErrors === 1 ? 'error' : 'errors'}` : '',
  ].filter((cause) => cause !== '');
  const failed = `${counts.failed} failed${causes.length > 0 ? ` (${causes.join(', ')})` : ''}`;
  return `tests: ${counts.passed} passed, ${failed}, ${counts.skipped} skipped`;
}

/**
 * Ends a run with one plain line, "N passed, N failed, N skipped", that any CI log reader can
 * count, and names why tests were skipped (the browser tests without Chromium). Files that fail
 * to run and unhandled errors count as failures, so the line never says "0 failed" for a red run.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: UnhandledErrors): void {
    if (!hasChromium) process.stdout.write(`${CHROMIUM_SKIP_REASON}\n`);
    process.stdout.write(`${summaryLine(countRun(testModules, unhandledErrors))}\n`);
  }
}
