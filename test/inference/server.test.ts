import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/inference/inspect';
import { InferenceServer } from '../../src/inference/server';
import { tritonConfig } from '../../src/inference/triton-config';
import {
  directRun,
  everyDatatypeFeeds,
  inferBinary,
  inferJson,
  json,
  metricValue,
  plainValues,
  randomTensor,
  request,
} from '../support/kserve-client';

const fixtures = path.join(__dirname, '..', 'fixtures', 'models');
const fixture = (name: string) => path.join(fixtures, `${name}.onnx`);

/** A Triton-layout repository: some models with config.pbtxt, some without, one with two versions. */
async function makeRepository(dir: string): Promise<void> {
  const put = async (name: string, version: string, from: string, config?: string) => {
    fs.mkdirSync(path.join(dir, name, version), { recursive: true });
    fs.copyFileSync(fixture(from), path.join(dir, name, version, 'model.onnx'));
    if (config) fs.writeFileSync(path.join(dir, name, 'config.pbtxt'), config);
  };
  const batching = { maxQueueDelayMicroseconds: 5000 };
  await put(
    'mlp',
    '1',
    'mlp',
    tritonConfig(await inspectModel(fixture('mlp')), {
      name: 'mlp',
      maxBatchSize: 16,
      dynamicBatching: batching,
    }),
  );
  await put(
    'varlen',
    '1',
    'varlen',
    tritonConfig(await inspectModel(fixture('varlen')), {
      name: 'varlen',
      maxBatchSize: 16,
      dynamicBatching: batching,
    }),
  );
  await put('two_inputs', '1', 'two_inputs');
  await put('fixed_batch', '1', 'fixed_batch');
  await put('identity', '1', 'identity');
  await put('cnn', '1', 'cnn');
  await put(
    'cnn',
    '3',
    'cnn',
    `${tritonConfig(await inspectModel(fixture('cnn')), { name: 'cnn', dynamicBatching: false })}version_policy: { all: {} }\n`,
  );
}

describe('InferenceServer (KServe v2 over HTTP on 127.0.0.1)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-serve-'));
  let server: InferenceServer;
  let base: string;

  beforeAll(async () => {
    await makeRepository(tmp);
    server = await InferenceServer.start(tmp, { port: 0, maxBodyBytes: 1024 * 1024, version: '0.1.0' });
    base = server.url;
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('answers health, server metadata and readiness', async () => {
    expect((await request(`${base}/v2/health/live`, 'GET')).status).toBe(200);
    expect((await request(`${base}/v2/health/ready`, 'GET')).status).toBe(200);
    expect(json(await request(`${base}/v2`, 'GET'))).toEqual({
      name: 'mlstack',
      version: '0.1.0',
      extensions: ['binary_tensor_data', 'model_configuration', 'model_repository', 'statistics'],
    });
    expect((await request(`${base}/v2/models/mlp/ready`, 'GET')).status).toBe(200);
    expect((await request(`${base}/v2/models/cnn/versions/3/ready`, 'GET')).status).toBe(200);
  });

  it('describes models and versions; serves every version the policy asks for, highest by default', async () => {
    expect(json(await request(`${base}/v2/models/two_inputs`, 'GET'))).toEqual({
      name: 'two_inputs',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [-1, 4] },
        { name: 'b', datatype: 'INT64', shape: [-1, 4] },
      ],
      outputs: [
        { name: 'sum', datatype: 'FP32', shape: [-1, 4] },
        { name: 'b_plus_one', datatype: 'INT64', shape: [-1, 4] },
      ],
    });
    expect(json(await request(`${base}/v2/models/cnn`, 'GET')).versions).toEqual(['3', '1']);
    expect(json(await request(`${base}/v2/models/cnn/versions/1`, 'GET')).versions).toEqual(['1']);
    const r = await inferJson(base, 'cnn', { image: randomTensor([1, 3, 32, 32], 1) });
    expect(r.body.model_version).toBe('3');
  });

  it('returns the config: from config.pbtxt, or derived from the model like Triton auto-complete', async () => {
    expect(json(await request(`${base}/v2/models/mlp/config`, 'GET'))).toMatchObject({
      name: 'mlp',
      max_batch_size: 16,
      dynamic_batching: { max_queue_delay_microseconds: 5000 },
    });
    expect(json(await request(`${base}/v2/models/fixed_batch/config`, 'GET'))).toMatchObject({
      name: 'fixed_batch',
      max_batch_size: 0,
      input: [{ name: 'x', data_type: 'TYPE_FP32', dims: [1, 3] }],
    });
  });

  it('JSON inference equals a direct session.run, echoes the id, accepts nested data', async () => {
    const a = randomTensor([3, 4], 7);
    const b = new ort.Tensor(
      'int64',
      BigInt64Array.from([1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, -9n, 10n, 11n, 9007199254740991n]),
      [3, 4],
    );
    const want = await directRun('two_inputs', { a, b });
    const r = await inferJson(base, 'two_inputs', { a, b }, { id: 'req-42' });
    expect(r.status).toBe(200);
    expect(r.body.id).toBe('req-42');
    expect(r.outputs.sum).toEqual({
      name: 'sum',
      datatype: 'FP32',
      shape: [3, 4],
      data: plainValues(want.sum),
    });
    expect(r.outputs.b_plus_one.data).toEqual(plainValues(want.b_plus_one));
    // 2^53 - 1 + 1 is written in full, not rounded through a double
    const raw = await request(
      `${base}/v2/models/two_inputs/infer`,
      'POST',
      JSON.stringify({
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [1, 4], data: [[1, 2, 3, 4]] },
          { name: 'b', datatype: 'INT64', shape: [1, 4], data: [[0, 0, 0, 9007199254740991]] },
        ],
      }),
    );
    expect(raw.body.toString()).toContain('"data":[1,1,1,9007199254740992]');
  });

  it('serves every datatype onnxruntime supports: BOOL, UINT8, INT8, INT16, UINT16, INT32, INT64, FP16, FP32, FP64, BYTES', async () => {
    const feeds = everyDatatypeFeeds([-5n, 5n, 1n << 40n, 0n]);
    const want = await directRun('identity', feeds);
    const viaJson = await inferJson(base, 'identity', feeds);
    expect(viaJson.status).toBe(200);
    for (const [k, t] of Object.entries(want)) {
      const expected = t.type === 'float16' ? [1.5, -2, 0.25, 65504] : plainValues(t);
      expect(viaJson.outputs[k].data, k).toEqual(expected);
      expect(viaJson.outputs[k].shape, k).toEqual([2, 2]);
    }
    const viaBinary = await inferBinary(base, 'identity', feeds);
    expect(viaBinary.status).toBe(200);
    for (const [k, t] of Object.entries(want)) {
      expect(Array.from(viaBinary.outputs[k].data as ArrayLike<unknown>), k).toEqual(
        Array.from(t.data as ArrayLike<unknown>),
      );
    }
  });

  it('binary tensor extension (as tritonclient.http sends it) equals session.run', async () => {
    const image = randomTensor([2, 3, 32, 32], 3);
    const want = await directRun('cnn', { image });
    const r = await inferBinary(base, 'cnn', { image });
    expect(r.status).toBe(200);
    expect(r.header).toMatchObject({
      model_name: 'cnn',
      outputs: [{ name: 'logits', datatype: 'FP32', shape: [2, 10] }],
    });
    expect(Array.from(r.outputs.logits.data as Float32Array)).toEqual(
      Array.from(want.logits.data as Float32Array),
    );
  });

  it('returns only the requested outputs, each in JSON or binary as asked', async () => {
    const a = randomTensor([1, 4], 9);
    const b = new ort.Tensor('int64', BigInt64Array.from([1n, 2n, 3n, 4n]), [1, 4]);
    const r = await inferJson(base, 'two_inputs', { a, b }, { outputs: [{ name: 'b_plus_one' }] });
    expect(Object.keys(r.outputs)).toEqual(['b_plus_one']);
    const mixed = await request(
      `${base}/v2/models/two_inputs/infer`,
      'POST',
      JSON.stringify({
        inputs: [
          { name: 'a', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] },
          { name: 'b', datatype: 'INT64', shape: [1, 4], data: [1, 2, 3, 4] },
        ],
        outputs: [{ name: 'sum', parameters: { binary_data: true } }, { name: 'b_plus_one' }],
      }),
    );
    const n = Number(mixed.headers['inference-header-content-length']);
    const head = JSON.parse(mixed.body.subarray(0, n).toString());
    expect(head.outputs[0]).toEqual({
      name: 'sum',
      datatype: 'FP32',
      shape: [1, 4],
      parameters: { binary_data_size: 16 },
    });
    expect(head.outputs[1].data).toEqual([2, 3, 4, 5]);
    expect(Array.from(new Float32Array(new Uint8Array(mixed.body.subarray(n)).buffer))).toEqual([2, 4, 6, 8]);
  });

  it('serves a model with a fixed batch of one (max_batch_size 0)', async () => {
    const r = await inferJson(base, 'fixed_batch', {
      x: new ort.Tensor('float32', Float32Array.from([1, 2, 3]), [1, 3]),
    });
    expect(r.outputs.y.data).toEqual([2, 4, 6]);
    const bad = await inferJson(base, 'fixed_batch', {
      x: new ort.Tensor('float32', new Float32Array(6), [2, 3]),
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error).toMatch(/shape \[2,3\] does not match the model's \[1,3\]/);
  });

  it('merges concurrent requests into batches and splits the results back exactly', async () => {
    const before = await metricValue(base, 'nv_inference_exec_count', 'mlp');
    const sizes = Array.from({ length: 24 }, (_, i) => 1 + (i % 3));
    const inputs = sizes.map((n, i) => randomTensor([n, 16], 100 + i));
    const wants = await Promise.all(inputs.map((x) => directRun('mlp', { x })));
    const results = await Promise.all(inputs.map((x) => inferJson(base, 'mlp', { x })));
    results.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.outputs.y.shape).toEqual([sizes[i], 4]);
      expect(r.outputs.y.data).toEqual(plainValues(wants[i].y));
    });
    const execs = (await metricValue(base, 'nv_inference_exec_count', 'mlp')) - before;
    expect(execs).toBeGreaterThan(0);
    expect(execs).toBeLessThan(sizes.length); // some requests shared a run
    const total = sizes.reduce((a, b) => a + b, 0);
    expect(await metricValue(base, 'nv_inference_count', 'mlp')).toBeGreaterThanOrEqual(total);
  });

  it('does not merge requests whose non-batch shapes differ', async () => {
    const inputs = Array.from({ length: 12 }, (_, i) => randomTensor([1 + (i % 2), i % 2 ? 3 : 5], 200 + i));
    const results = await Promise.all(inputs.map((x) => inferJson(base, 'varlen', { x })));
    results.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect(r.outputs.y.shape).toEqual(inputs[i].dims);
      expect(r.outputs.y.data).toEqual(Array.from(inputs[i].data as Float32Array, (v) => Math.max(0, v)));
    });
  });

  it('exports Prometheus metrics with Triton names, labelled by model and version', async () => {
    const r = await request(`${base}/metrics`, 'GET');
    expect(r.status).toBe(200);
    const text = r.body.toString();
    for (const name of [
      'nv_inference_request_success',
      'nv_inference_request_failure',
      'nv_inference_count',
      'nv_inference_exec_count',
      'nv_inference_request_duration_us',
      'nv_inference_queue_duration_us',
      'nv_inference_compute_infer_duration_us',
      'nv_inference_compute_input_duration_us',
      'nv_inference_compute_output_duration_us',
      'mlstack_inference_request_duration_seconds_bucket',
    ]) {
      expect(text).toContain(name);
    }
    // Where the time of the requests so far went: decoding, queue, compute and encoding each took some, and
    // together no more than the requests' total.
    const total = (name: string) =>
      Number(new RegExp(`${name}\\{model="mlp",version="1"\\} (\\d+)`).exec(text)?.[1] ?? NaN);
    const parts = [
      'nv_inference_compute_input_duration_us',
      'nv_inference_queue_duration_us',
      'nv_inference_compute_infer_duration_us',
      'nv_inference_compute_output_duration_us',
    ].map(total);
    for (const p of parts) expect(p).toBeGreaterThan(0);
    expect(parts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(total('nv_inference_request_duration_us'));
    expect(text).toMatch(/nv_inference_request_success\{model="mlp",version="1"\} \d+/);
  });
});
