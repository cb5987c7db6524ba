// Prints the slowest test files at the end of a run (import plus tests, as vitest measures them per file), so a
// regression in the suite's time shows in every CI log.
import * as path from 'node:path';
import type { Reporter, TestModule } from 'vitest/node' with { 'resolution-mode': 'import' };

/** How many files to list. */
const SHOWN = 8;

export default class SlowestFilesReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rows = testModules
      .map((m) => {
        const d = m.diagnostic();
        return {
          file: path.relative(process.cwd(), m.moduleId),
          importMs: d.collectDuration,
          testMs: d.duration,
        };
      })
      .sort((a, b) => b.importMs + b.testMs - (a.importMs + a.testMs))
      .slice(0, SHOWN);
    if (rows.length === 0) return;
    const lines = [`\nSlowest ${rows.length} test files (import + tests):`];
    for (const r of rows) {
      lines.push(
        `  ${((r.importMs + r.testMs) / 1000).toFixed(1).padStart(6)} s  ${r.file} (import ${(r.importMs / 1000).toFixed(1)} s)`,
      );
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  }
}
