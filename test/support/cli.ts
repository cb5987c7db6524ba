// Runs the real `mlstack` command as a child process and collects its exit code and output.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** The repository root. */
export const repo = path.resolve(__dirname, '..', '..');

/**
 * `node_modules/.cache` of the checkout, made if missing (a fresh `npm ci` has none): for files that must resolve
 * the repository's packages as a checkout's would.
 */
export function cacheDir(): string {
  const dir = path.join(repo, 'node_modules', '.cache');
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}
const bin = path.join(repo, 'bin', 'mlstack.js');

/** The environment the CLI runs with: no CDK version check or telemetry, no inherited output folders. */
export const cliEnv: NodeJS.ProcessEnv = {
  ...process.env,
  CDK_DISABLE_VERSION_CHECK: '1',
  CDK_DISABLE_CLI_TELEMETRY: 'true',
};
delete cliEnv.MLSTACK_OUTDIR;
delete cliEnv.CDK_OUTDIR;

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** `mlstack <args>` in `cwd` (the repository by default), bounded to `timeoutMs` (five minutes). */
export async function mlstack(
  args: string[],
  cwd = repo,
  timeoutMs = 300_000,
  env: NodeJS.ProcessEnv = cliEnv,
): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [bin, ...args], { cwd, env, timeout: timeoutMs });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
