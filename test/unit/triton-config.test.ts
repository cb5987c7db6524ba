import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspectModel, ModelFileError } from '../../src/inference/inspect';
import { parseTextFormat, TextIdent } from '../../src/inference/pbtxt';
import {
  checkTritonConfig,
  formatMismatches,
  parseTritonConfig,
  renderTritonConfig,
  tritonConfig,
  TritonConfigError,
  tritonModelConfig,
} from '../../src/inference/triton-config';
import { FIXTURE_MODELS } from '../support/onnx-builder';

const models = path.join(__dirname, '..', 'fixtures', 'models');
const model = (name: string) => path.join(models, `${name}.onnx`);

describe('inspectModel', () => {
  it('reads names, datatypes, dynamic dims as -1 and the batch dimension', async () => {
    expect(await inspectModel(model('two_inputs'))).toEqual({
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [-1, 4] },
        { name: 'b', datatype: 'INT64', shape: [-1, 4] },
      ],
      outputs: [
        { name: 'sum', datatype: 'FP32', shape: [-1, 4] },
        { name: 'b_plus_one', datatype: 'INT64', shape: [-1, 4] },
      ],
      dynamicBatch: true,
    });
    expect((await inspectModel(model('fixed_batch'))).dynamicBatch).toBe(false);
    expect((await inspectModel(model('cnn'))).inputs[0].shape).toEqual([-1, 3, 32, 32]);
  });

  it('maps every served datatype', async () => {
    const sig = await inspectModel(model('identity'));
    expect(sig.inputs.map((i) => i.datatype)).toEqual([
      'BOOL',
      'UINT8',
      'INT8',
      'INT16',
      'UINT16',
      'INT32',
      'INT64',
      'FP16',
      'FP32',
      'FP64',
      'BYTES',
    ]);
  });

  it('names the file and the problem for missing, empty, truncated and non-ONNX files', async () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-inspect-'));
    const empty = path.join(tmp, 'empty.onnx');
    const truncated = path.join(tmp, 'truncated.onnx');
    fs.writeFileSync(empty, '');
    fs.writeFileSync(truncated, fs.readFileSync(model('cnn')).subarray(0, 400));
    await expect(inspectModel(path.join(tmp, 'missing.onnx'))).rejects.toThrow(
      `${tmp}/missing.onnx: no such file`,
    );
    await expect(inspectModel(empty)).rejects.toThrow(`${empty}: is empty, not an ONNX model`);
    await expect(inspectModel(truncated)).rejects.toThrow(
      `${truncated}: is not an ONNX model or is truncated`,
    );
    await expect(inspectModel(path.join(models, 'make-models.ts'))).rejects.toThrow(ModelFileError);
    await expect(inspectModel(models)).rejects.toThrow(/is a directory/);
    fs.rmSync(tmp, { recursive: true });
  });
});

describe('fixture models', () => {
  it('regenerating them changes nothing', () => {
    for (const [file, make] of Object.entries(FIXTURE_MODELS)) {
      expect(Buffer.from(make()).equals(fs.readFileSync(path.join(models, file))), file).toBe(true);
    }
  });
});

describe('tritonConfig', () => {
  it('writes max_batch_size, dims without the batch dimension, dynamic batching and instances', async () => {
    const sig = await inspectModel(model('mlp'));
    const text = tritonConfig(sig, {
      name: 'mlp',
      maxBatchSize: 16,
      dynamicBatching: { preferredBatchSizes: [4, 8], maxQueueDelayMicroseconds: 500, maxQueueSize: 64 },
      instanceGroup: { kind: 'gpu', count: 2 },
    });
    expect(text).toBe(
      [
        'name: "mlp"',
        'platform: "onnxruntime_onnx"',
        'max_batch_size: 16',
        'input [',
        '  {',
        '    name: "x"',
        '    data_type: TYPE_FP32',
        '    dims: [ 16 ]',
        '  }',
        ']',
        'output [',
        '  {',
        '    name: "y"',
        '    data_type: TYPE_FP32',
        '    dims: [ 4 ]',
        '  }',
        ']',
        'dynamic_batching {',
        '  preferred_batch_size: [ 4, 8 ]',
        '  max_queue_delay_microseconds: 500',
        '  default_queue_policy { max_queue_size: 64 }',
        '}',
        'instance_group [',
        '  { count: 2 kind: KIND_GPU }',
        ']',
        '',
      ].join('\n'),
    );
  });

  it('uses max_batch_size 0 and full dims for a model without a dynamic batch dimension', async () => {
    const c = tritonModelConfig(await inspectModel(model('fixed_batch')), { name: 'fixed' });
    expect(c.max_batch_size).toBe(0);
    expect(c.input[0]).toEqual({ name: 'x', data_type: 'TYPE_FP32', dims: [1, 3] });
    expect(c.dynamic_batching).toBeUndefined();
  });

  it('writes TYPE_STRING for BYTES tensors and reshapes per-item scalars', () => {
    const c = tritonModelConfig(
      {
        inputs: [{ name: 's', datatype: 'BYTES', shape: [-1] }],
        outputs: [{ name: 'o', datatype: 'FP32', shape: [-1, 2] }],
        dynamicBatch: true,
      },
      { name: 'm' },
    );
    expect(c.input[0]).toEqual({ name: 's', data_type: 'TYPE_STRING', dims: [1], reshape: { shape: [] } });
  });

  it('fails when batching is asked of a model that cannot batch, or a preferred size exceeds the max', async () => {
    const fixed = await inspectModel(model('fixed_batch'));
    expect(() => tritonModelConfig(fixed, { name: 'f', maxBatchSize: 4 })).toThrow(
      /'maxBatchSize' \(4\) needs a model whose inputs and outputs all have a dynamic first dimension/,
    );
    const mlp = await inspectModel(model('mlp'));
    expect(() =>
      tritonModelConfig(mlp, { name: 'm', maxBatchSize: 4, dynamicBatching: { preferredBatchSizes: [8] } }),
    ).toThrow(/preferredBatchSizes' has 8/);
  });

  it('round-trips through parseTritonConfig', async () => {
    for (const name of ['mlp', 'cnn', 'two_inputs', 'fixed_batch', 'identity']) {
      const c = tritonModelConfig(await inspectModel(model(name)), {
        name,
        dynamicBatching: { preferredBatchSizes: [2] },
      });
      expect(parseTritonConfig(renderTritonConfig(c))).toEqual(c);
    }
  });
});

describe('parseTritonConfig', () => {
  it('reads configs as people write them: comments, colons before blocks or not, angle brackets, list syntax', () => {
    const c = parseTritonConfig(`
      # a hand-written config
      name: "resnet"
      platform: "onnxruntime_onnx"
      max_batch_size: 8
      input [
        { name: "input__0", data_type: TYPE_FP32, dims: [ 3, 224, 224 ] }
      ]
      output { name: 'out' data_type: TYPE_FP32 dims: 1000 }
      dynamic_batching < preferred_batch_size: 4 preferred_batch_size: 8 max_queue_delay_microseconds: 100 >
      instance_group: [ { kind: KIND_GPU, count: 2, gpus: [0, 1] } ]
      version_policy: { specific: { versions: [1, 3] } }
      optimization { execution_accelerators { gpu_execution_accelerator: [ { name: "tensorrt" } ] } }
    `);
    expect(c).toEqual({
      name: 'resnet',
      platform: 'onnxruntime_onnx',
      max_batch_size: 8,
      input: [{ name: 'input__0', data_type: 'TYPE_FP32', dims: [3, 224, 224] }],
      output: [{ name: 'out', data_type: 'TYPE_FP32', dims: [1000] }],
      dynamic_batching: { preferred_batch_size: [4, 8], max_queue_delay_microseconds: 100 },
      instance_group: [{ kind: 'KIND_GPU', count: 2, gpus: [0, 1] }],
      version_policy: { specific: { versions: [1, 3] } },
    });
  });

  it('reads version policies', () => {
    expect(parseTritonConfig('name: "a" version_policy: { all {} }').version_policy).toEqual({ all: {} });
    expect(
      parseTritonConfig('name: "a" version_policy: { latest { num_versions: 2 } }').version_policy,
    ).toEqual({ latest: { num_versions: 2 } });
  });

  it('reports syntax errors with line and column', () => {
    expect(() => parseTritonConfig('name: "a"\nmax_batch_size 8', 'm/config.pbtxt')).toThrow(
      "m/config.pbtxt: line 2, column 16: expected ':' or '{' after 'max_batch_size', found '8'",
    );
    expect(() => parseTritonConfig('name: "a\n')).toThrow(/line 1, column 7: unterminated string/);
    expect(() => parseTritonConfig('input [ { name: "x" }')).toThrow(TritonConfigError);
  });

  it('reports wrong value kinds and unknown data types', () => {
    expect(() => parseTritonConfig('name: "a" max_batch_size: "8"')).toThrow(
      `config.pbtxt: 'max_batch_size' must be an integer, not "8"`,
    );
    expect(() =>
      parseTritonConfig('name: "a" input { name: "x" data_type: TYPE_COMPLEX dims: [1] }'),
    ).toThrow(/input 'x' has data_type TYPE_COMPLEX, which mlstack cannot serve/);
  });

  it('text format reader: idents, numbers, adjacent strings', () => {
    const m = parseTextFormat('a: -1.5e2 b: 0x10 c: "x" "y" d: true');
    expect(m.get('a')).toEqual([-150]);
    expect(m.get('b')).toEqual([16]);
    expect(m.get('c')).toEqual(['xy']);
    expect(m.get('d')).toEqual([new TextIdent('true')]);
  });
});

describe('checkTritonConfig', () => {
  it('finds nothing wrong with a generated config', async () => {
    for (const name of ['mlp', 'two_inputs', 'fixed_batch', 'identity']) {
      const sig = await inspectModel(model(name));
      expect(checkTritonConfig(tritonModelConfig(sig, { name }), sig)).toEqual([]);
    }
  });

  it('reports every mismatch: names, types, dims, batching, platform', async () => {
    const sig = await inspectModel(model('two_inputs'));
    const config = parseTritonConfig(`
      name: "two_inputs"
      platform: "tensorrt_plan"
      max_batch_size: 8
      input [
        { name: "a", data_type: TYPE_FP16, dims: [ 8 ] },
        { name: "c", data_type: TYPE_INT64, dims: [ 4 ] }
      ]
      output [ { name: "sum", data_type: TYPE_FP32, dims: [ 4 ] } ]
    `);
    const ms = checkTritonConfig(config, sig);
    expect(ms).toEqual([
      { field: 'platform', model: '"onnxruntime_onnx"', config: '"tensorrt_plan"' },
      { field: 'input[a].data_type', model: 'TYPE_FP32', config: 'TYPE_FP16' },
      { field: 'input[a].dims', model: '[4]', config: '[8]' },
      { field: 'input[b]', model: 'present', config: 'missing' },
      { field: 'input[c]', model: 'absent', config: 'present' },
    ]);
    expect(formatMismatches(ms)).toContain('input[a].dims: model [4], config [8]');
  });

  it('reports batching on a model without a batch dimension', async () => {
    const sig = await inspectModel(model('fixed_batch'));
    const config = parseTritonConfig(
      'name: "f" max_batch_size: 4 input { name: "x" data_type: TYPE_FP32 dims: [ 3 ] } output { name: "y" data_type: TYPE_FP32 dims: [3] }',
    );
    expect(checkTritonConfig(config, sig).map((m) => m.field)).toEqual(['max_batch_size']);
  });
});
