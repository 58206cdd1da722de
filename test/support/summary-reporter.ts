import type { Reporter, TestModule } from 'vitest/node';
import { CHROMIUM_SKIP_REASON, hasChromium } from './chromium.js';

/**
 * Ends a run with one plain line, "N passed, N failed, N skipped", that any CI log reader can
 * count, and names why tests were skipped (the browser tests without Chromium).
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
    }
    if (!hasChromium) process.stdout.write(`${CHROMIUM_SKIP_REASON}\n`);
    process.stdout.write(`tests: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped\n`);
  }
}
