// A consumer without the optional peers onnxruntime-node and @kubernetes/client-node: the constructs load and the
// example platform, whose services read ONNX model signatures, synthesizes; only `mlstack serve` and `mlstack
// apply` ask for them, each with the install line.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { cliEnv, repo } from './support/cli';

const run = promisify(execFile);
const hook = path.join(repo, 'test', 'support', 'no-onnxruntime.cjs');
const bin = path.join(repo, 'bin', 'mlstack.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-light-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

async function mlstackWithoutOrt(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const r = await run(process.execPath, ['-r', hook, bin, ...args], {
      cwd: repo,
      env: cliEnv,
      timeout: 300_000,
    });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('without onnxruntime-node', () => {
  it('synthesizes the example platform to the same files as with it', async () => {
    const out = path.join(tmp, 'out');
    const r = await mlstackWithoutOrt(['synth', '--out', out, '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const example = inject('example').out;
    const read = (root: string, f: string) => fs.readFileSync(path.join(root, f));
    for (const f of [
      'k8s/ml-platform-gcp/ml-platform/09-deployment-classifier-classifier.yaml',
      'models/ml-platform-aws/classifier/classifier/config.pbtxt',
    ]) {
      expect(read(out, f).equals(read(example, f)), f).toBe(true);
    }
  });

  it('inspects a model', async () => {
    const r = await mlstackWithoutOrt(['inspect', 'test/fixtures/models/mlp.onnx', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ dynamicBatch: true });
  });

  it('refuses to serve with one line that says what to install', async () => {
    const r = await mlstackWithoutOrt(['serve', 'test/fixtures/models/mlp.onnx', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "mlstack: mlstack serve needs onnxruntime-node, an optional peer dependency: run 'npm install onnxruntime-node@^1.30.0' (synth does not need it).\n",
    );
  });
});

describe('without @kubernetes/client-node', () => {
  it('refuses to apply with one line that says what to install', async () => {
    const cluster = path.join(inject('example').out, 'k8s', 'ml-platform-gcp', 'ml-platform');
    const r = await mlstackWithoutOrt(['apply', cluster, '--dry-run=server']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      "mlstack: mlstack apply needs @kubernetes/client-node, an optional peer dependency: run 'npm install @kubernetes/client-node@~1.4.0' (synth does not need it).\n",
    );
  });
});
