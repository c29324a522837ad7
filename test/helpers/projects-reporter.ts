import { writeFileSync } from 'node:fs';
import type { Reporter, TestModule } from 'vitest/node';

/**
 * A vitest reporter for CI (`.ci/run`): writes, to the file named by FPT_PROJECTS_REPORT, how many
 * tests passed, failed and were skipped in each project (unit, sdk, pglite, postgres). vitest's JSON
 * report names each file but not its project, and the integration files run in two projects under
 * the same names, so a whole engine running no test could not be told from it.
 */
export default class ProjectsReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const out = process.env.FPT_PROJECTS_REPORT;
    if (!out) return;
    const counts: Record<string, { passed: number; failed: number; skipped: number }> = {};
    for (const m of testModules) {
      const c = (counts[m.project.name] ??= { passed: 0, failed: 0, skipped: 0 });
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === 'passed') c.passed++;
        else if (state === 'failed') c.failed++;
        else c.skipped++;
      }
    }
    writeFileSync(out, `${JSON.stringify(counts, null, 2)}\n`);
  }
}
