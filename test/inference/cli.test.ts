import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTritonConfig } from '../../src/inference/triton-config';
import { call, generatedClient } from '../support/grpc-client';
import { json, request } from '../support/kserve-client';
import { startServe } from '../support/serve-process';
import { mlstack } from '../support/cli';

const model = (n: string) => path.join('test', 'fixtures', 'models', `${n}.onnx`);

describe('mlstack inspect (child process)', () => {
  it('prints the signature as a table', async () => {
    const r = await mlstack(['inspect', model('two_inputs')]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        model('two_inputs'),
        'kind    name        datatype  shape',
        'input   a           FP32      [-1, 4]',
        'input   b           INT64     [-1, 4]',
        'output  sum         FP32      [-1, 4]',
        'output  b_plus_one  INT64     [-1, 4]',
        'dynamic batch: yes (first dimension)',
        '',
      ].join('\n'),
    );
  });

  it('prints JSON', async () => {
    const r = await mlstack(['inspect', model('fixed_batch'), '--json']);
    expect(JSON.parse(r.stdout)).toEqual({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 3] }],
      outputs: [{ name: 'y', datatype: 'FP32', shape: [1, 3] }],
      dynamicBatch: false,
    });
  });

  it('prints the generated config.pbtxt', async () => {
    const r = await mlstack([
      'inspect',
      model('mlp'),
      '--triton-config',
      '--name',
      'classifier',
      '--max-batch-size',
      '32',
    ]);
    expect(r.code).toBe(0);
    expect(parseTritonConfig(r.stdout)).toMatchObject({
      name: 'classifier',
      max_batch_size: 32,
      input: [{ name: 'x', dims: [16] }],
    });
  });

  it.each([
    ['a missing file', 'nope.onnx', 'mlstack: nope.onnx: no such file\n'],
    [
      'a non-ONNX file',
      'README.md',
      'mlstack: README.md: is not an ONNX model or is truncated (protobuf parsing failed)\n',
    ],
  ])('prints one line naming %s and exits non-zero', async (_what, file, line) => {
    const r = await mlstack(['inspect', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(line);
  });
});

describe('mlstack serve (child process)', () => {
  it('serves a single .onnx file under its file name', async () => {
    const srv = await startServe([model('two_inputs')]);
    try {
      expect(srv.stderr()).toMatch(/loaded 1 model\(s\) in \d+ ms: two_inputs@1/);
      const meta = json(await request(`${srv.url}/v2/models/two_inputs`, 'GET'));
      expect(meta.name).toBe('two_inputs');
      // The same model over KServe v2 gRPC, on the port the log line names.
      const client = generatedClient(srv.grpc);
      try {
        expect(await call(client, 'ModelMetadata', { name: 'two_inputs' })).toMatchObject({
          name: 'two_inputs',
          versions: ['1'],
        });
      } finally {
        client.close();
      }
    } finally {
      srv.proc.kill('SIGTERM');
      expect(await srv.exited).toBe(0);
    }
  });

  it('fails to start on a corrupt model with one line naming the file', async () => {
    const r = await mlstack(['serve', 'README.md', '--port', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'mlstack: README.md: is not an ONNX model or is truncated (protobuf parsing failed)\n',
    );
  });

  it('says why a static-batch model cannot start with max_batch_size > 0, without --verbose', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-static-'));
    try {
      fs.mkdirSync(path.join(dir, 'fixed', '1'), { recursive: true });
      fs.copyFileSync(model('fixed_batch'), path.join(dir, 'fixed', '1', 'model.onnx'));
      fs.writeFileSync(path.join(dir, 'fixed', 'config.pbtxt'), 'name: "fixed"\nmax_batch_size: 8\n');
      const r = await mlstack(['serve', dir, '--port', '0']);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('config.pbtxt: does not match');
      expect(r.stderr).toMatch(
        /mlstack: {3}max_batch_size: model 0 \(no dynamic first dimension on every input and output\), config 8/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects a bad port', async () => {
    const r = await mlstack(['serve', model('mlp'), '--port', 'eighty']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--port ("eighty") must be a non-negative integer');
  });
});
