import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { parseTritonConfig } from '../../src/inference/triton-config';
import { ServingModel, writeModelRepository } from '../../src/serving/model-repository';
import { inferJson, plainValues, randomTensor } from '../support/kserve-client';
import { startServe } from '../support/serve-process';

const fixtures = path.join(__dirname, '..', 'fixtures', 'models');
const fixture = (n: string) => path.join(fixtures, `${n}.onnx`);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-serving-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('ServingModel.fromOnnxFile', () => {
  it('reads the signature at synth and generates the Triton config from it', () => {
    const m = ServingModel.fromOnnxFile(fixture('mlp'), {
      name: 'classifier',
      maxBatchSize: 16,
      dynamicBatching: { maxQueueDelayMicroseconds: 200 },
    });
    expect(m.name).toBe('classifier');
    expect(m.versions.map((v) => v.version)).toEqual([1]);
    expect(m.config).toMatchObject({
      name: 'classifier',
      platform: 'onnxruntime_onnx',
      max_batch_size: 16,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [16] }],
      dynamic_batching: { max_queue_delay_microseconds: 200 },
    });
    expect(m.withInstanceGroup('gpu', 2).config.instance_group).toEqual([{ count: 2, kind: 'KIND_GPU' }]);
  });

  it('fails on a bad name, a bad version, a model that cannot batch, and a corrupt file', () => {
    expect(() => ServingModel.fromOnnxFile(fixture('mlp'), { name: 'bad name' })).toThrow(
      /'name' \("bad name"\) is not a valid model name/,
    );
    expect(() => ServingModel.fromOnnxFile(fixture('mlp'), { name: 'm', version: 0 })).toThrow(
      /'version' \(0\) must be an integer >= 1/,
    );
    expect(() => ServingModel.fromOnnxFile(fixture('fixed_batch'), { name: 'f', maxBatchSize: 4 })).toThrow(
      /'maxBatchSize' \(4\) needs a model whose inputs and outputs all have a dynamic first dimension/,
    );
    expect(() => ServingModel.fromOnnxFile(path.join(fixtures, 'make-models.ts'), { name: 'x' })).toThrow(
      /make-models.ts: is not an ONNX model or is truncated/,
    );
  });
});

describe('ServingModel.fromRepository', () => {
  function repo(name: string, config?: string): string {
    const dir = path.join(tmp, name);
    fs.mkdirSync(path.join(dir, 'mlp', '1'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'mlp', '2'), { recursive: true });
    fs.copyFileSync(fixture('mlp'), path.join(dir, 'mlp', '1', 'model.onnx'));
    fs.copyFileSync(fixture('mlp'), path.join(dir, 'mlp', '2', 'model.onnx'));
    if (config) fs.writeFileSync(path.join(dir, 'mlp', 'config.pbtxt'), config);
    return dir;
  }

  it('keeps a matching config.pbtxt and serves the versions its policy names', () => {
    const [m] = ServingModel.fromRepository(
      repo(
        'ok',
        'name: "mlp"\nmax_batch_size: 4\ninput [ { name: "x" data_type: TYPE_FP32 dims: [16] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [4] } ]\nversion_policy: { all {} }\n',
      ),
    );
    expect(m.configGenerated).toBe(false);
    expect(m.config.max_batch_size).toBe(4);
    expect(m.versions.map((v) => v.version)).toEqual([1, 2]);
  });

  it('generates a config when there is none, serving the latest version', () => {
    const [m] = ServingModel.fromRepository(repo('gen'));
    expect(m.configGenerated).toBe(true);
    expect(m.versions.map((v) => v.version)).toEqual([2]);
  });

  it('fails on a config that does not match the model, naming the model, the field and both values', () => {
    const dir = repo(
      'bad',
      'name: "mlp"\nmax_batch_size: 4\ninput [ { name: "x" data_type: TYPE_FP16 dims: [16] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [4] } ]\n',
    );
    expect(() => ServingModel.fromRepository(dir)).toThrow(
      `ServingModel.fromRepository(${JSON.stringify(dir)}): model 'mlp' version 2: config.pbtxt input[x].data_type is TYPE_FP16 but the model has TYPE_FP32. Fix config.pbtxt or remove it to have it generated.`,
    );
  });

  it('reads configs as `mlstack serve` does: the name must be the directory, the policy must serve a version', () => {
    expect(() => ServingModel.fromRepository(repo('renamed', 'name: "other"\nmax_batch_size: 4\n'))).toThrow(
      /config.pbtxt: name "other" does not match the model directory "mlp"/,
    );
    expect(() =>
      ServingModel.fromRepository(
        repo(
          'nover',
          'name: "mlp"\nmax_batch_size: 4\ninput [ { name: "x" data_type: TYPE_FP32 dims: [16] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [4] } ]\nversion_policy: { specific: { versions: [7] } }\n',
        ),
      ),
    ).toThrow(
      /version_policy serves none of the versions present \(1, 2\)|version_policy serves none of the versions present \(2, 1\)/,
    );
  });

  it('fails on an empty or missing directory', () => {
    fs.mkdirSync(path.join(tmp, 'empty'));
    expect(() => ServingModel.fromRepository(path.join(tmp, 'empty'))).toThrow(/no models found/);
    expect(() => ServingModel.fromRepository(path.join(tmp, 'missing'))).toThrow(/no such file or directory/);
  });
});

describe('writeModelRepository', () => {
  it('writes a Triton repository that `mlstack serve` loads and answers like onnxruntime itself', async () => {
    const dir = path.join(tmp, 'written');
    const files = writeModelRepository(dir, [
      ServingModel.fromOnnxFile(fixture('two_inputs'), { name: 'pair', version: 3 }),
      ServingModel.fromOnnxFile(fixture('mlp'), { name: 'classifier', maxBatchSize: 16 }),
    ]);
    expect(files).toEqual([
      'classifier/1/model.onnx',
      'classifier/config.pbtxt',
      'pair/3/model.onnx',
      'pair/config.pbtxt',
    ]);
    expect(
      parseTritonConfig(fs.readFileSync(path.join(dir, 'classifier', 'config.pbtxt'), 'utf8')).max_batch_size,
    ).toBe(16);

    const srv = await startServe([dir]);
    try {
      const x = randomTensor([2, 16], 3);
      const session = await ort.InferenceSession.create(fixture('mlp'));
      const want = await session.run({ x });
      await session.release();
      const r = await inferJson(srv.url, 'classifier', { x });
      expect(r.status).toBe(200);
      expect(r.outputs.y.data).toEqual(plainValues(want.y));
      const p = await inferJson(srv.url, 'pair', {
        a: randomTensor([1, 4], 4),
        b: new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n, 4n]), [1, 4]),
      });
      expect(p.body.model_version).toBe('3');
      expect(p.outputs.b_plus_one.data).toEqual([2, 3, 4, 5]);
    } finally {
      srv.proc.kill('SIGTERM');
      expect(await srv.exited).toBe(0);
    }
  });

  it('fails on two models with one name', () => {
    const m = ServingModel.fromOnnxFile(fixture('mlp'), { name: 'same' });
    expect(() => writeModelRepository(path.join(tmp, 'dup'), [m, m])).toThrow(/two models are named 'same'/);
  });
});
