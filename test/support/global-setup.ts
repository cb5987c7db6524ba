// Synthesizes the example platform once per test run with the real CLI (a child process), for every test file
// that reads a synth output: they get its folder and what the CLI printed through `inject('example')`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { TestProject } from 'vitest/node' with { 'resolution-mode': 'import' };
import { mlstack } from './cli';

/** The shared synth of `examples/app.ts`. */
export interface ExampleSynth {
  /** The output folder (read-only for tests: copy it before changing anything). */
  readonly out: string;
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    example: ExampleSynth;
  }
}

export default async function setup(project: TestProject): Promise<() => void> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-example-'));
  const out = path.join(tmp, 'out');
  // No timeout of its own beyond the CLI helper's: global setup runs before any test, on an idle machine.
  // --check: aws-cdk-lib's CloudFormation validator runs on the example, its findings errors.
  const r = await mlstack(['synth', '--out', out, '--check'], undefined, 600_000);
  project.provide('example', { out, code: r.code, stdout: r.stdout, stderr: r.stderr });
  return () => fs.rmSync(tmp, { recursive: true, force: true });
}
