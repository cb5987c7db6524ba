import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkOutput, failing, type Finding, type PolicyReport } from './check';
import { PolicyPack } from './registry';
import { toSarif } from './sarif';

/** Where a synth output keeps the policy report (`report.json`) and its SARIF (`results.sarif`). */
export const POLICY_DIR = 'policy';

/**
 * Checks a synth output with the policy pack, writes `policy/report.json` and `policy/results.sarif` into it,
 * logs a line per stack and every finding that counts, and returns those (unacknowledged errors; with `strict`,
 * warnings too).
 */
export function runPolicy(
  out: string,
  opts: { strict: boolean; version: string; log: (line: string) => void },
): { report: PolicyReport; failures: Finding[] } {
  const report = checkOutput(out, PolicyPack.rules());
  const dir = path.join(out, POLICY_DIR);
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  fs.writeFileSync(
    path.join(dir, 'results.sarif'),
    `${JSON.stringify(toSarif(report, opts.version), null, 2)}\n`,
  );
  for (const s of report.stacks) {
    opts.log(
      `policy ${s.stack}: ${s.errors} error${s.errors === 1 ? '' : 's'}, ${s.warnings} warning${s.warnings === 1 ? '' : 's'}, ${s.acknowledged} acknowledged`,
    );
  }
  const failures = failing(report, opts.strict);
  for (const f of failures) opts.log(`${f.level}: ${f.rule} ${f.file}:${f.line} ${f.message}`);
  const rel = path.relative(process.cwd(), dir) || '.';
  opts.log(`policy report: ${rel}/report.json, ${rel}/results.sarif (docs/policy.md lists the rules)`);
  return { report, failures };
}
