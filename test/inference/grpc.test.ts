// The KServe v2 gRPC service on 127.0.0.1: a client generated from proto/grpc_service.proto (as a stock client
// is generated from the protocol's proto), and requests encoded byte for byte from the protocol's documented field
// numbers, independent of that file.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/inference/inspect';
import { InferenceServer } from '../../src/inference/server';
import { tritonConfig } from '../../src/inference/triton-config';
import { call, callError, generatedClient, type Unary } from '../support/grpc-client';
import {
  binaryOf,
  directRun,
  everyDatatypeFeeds,
  KSERVE,
  randomTensor,
  request,
} from '../support/kserve-client';
import { IDENTITY_TYPES, identityModel, slowModel } from '../support/onnx-builder';
import {
  bytesField,
  decodeMessage,
  packedFloats,
  packedVarints,
  unpackVarints,
  varintField,
} from '../support/protobuf-wire';

const fixtures = path.join(__dirname, '..', 'fixtures', 'models');
const fixture = (name: string) => path.join(fixtures, `${name}.onnx`);

/** Raw tensor of an output of `raw_output_contents`, by datatype. */
function rawValues(datatype: string, b: Buffer): unknown[] {
  const copy = new Uint8Array(b).buffer;
  switch (datatype) {
    case 'FP32':
      return Array.from(new Float32Array(copy));
    case 'INT64':
      return Array.from(new BigInt64Array(copy));
    default:
      throw new Error(datatype);
  }
}

describe('KServe v2 gRPC (inference.GRPCInferenceService on 127.0.0.1)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-grpc-'));
  let server: InferenceServer;
  let client: grpc.Client & Record<string, Unary>;

  beforeAll(async () => {
    const put = (name: string, from: string, config?: string) => {
      fs.mkdirSync(path.join(tmp, name, '1'), { recursive: true });
      fs.copyFileSync(fixture(from), path.join(tmp, name, '1', 'model.onnx'));
      if (config) fs.writeFileSync(path.join(tmp, name, 'config.pbtxt'), config);
    };
    put(
      'mlp',
      'mlp',
      tritonConfig(await inspectModel(fixture('mlp')), {
        name: 'mlp',
        maxBatchSize: 16,
        dynamicBatching: { maxQueueDelayMicroseconds: 20_000 },
      }),
    );
    put('cnn', 'cnn');
    put('identity', 'identity');
    put('two_inputs', 'two_inputs');
    // Every datatype with a typed contents field (FP16 has none, and a request is all typed or all raw).
    fs.mkdirSync(path.join(tmp, 'typed', '1'), { recursive: true });
    fs.writeFileSync(
      path.join(tmp, 'typed', '1', 'model.onnx'),
      identityModel(Object.keys(IDENTITY_TYPES).filter((t) => t !== 'FP16')),
    );
    server = await InferenceServer.start(tmp, {
      port: 0,
      grpcPort: 0,
      maxBodyBytes: 256 * 1024,
      version: '0.1.0',
    });
    client = generatedClient(`127.0.0.1:${server.grpcPort}`);
  });
  afterAll(async () => {
    client?.close();
    await server?.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('answers ServerLive, ServerReady, ServerMetadata, ModelReady and ModelMetadata', async () => {
    expect(await call(client, 'ServerLive', {})).toEqual({ live: true });
    expect(await call(client, 'ServerReady', {})).toEqual({ ready: true });
    expect(await call(client, 'ServerMetadata', {})).toEqual({
      name: 'mlstack',
      version: '0.1.0',
      extensions: ['binary_tensor_data', 'model_configuration', 'model_repository', 'statistics'],
    });
    expect(await call(client, 'ModelReady', { name: 'mlp' })).toEqual({ ready: true });
    expect(await call(client, 'ModelReady', { name: 'mlp', version: '1' })).toEqual({ ready: true });
    expect(await call(client, 'ModelReady', { name: 'mlp', version: '7' })).toEqual({ ready: false });
    expect(await call(client, 'ModelReady', { name: 'nope' })).toEqual({ ready: false });
    expect(await call(client, 'ModelMetadata', { name: 'two_inputs' })).toEqual({
      name: 'two_inputs',
      versions: ['1'],
      platform: 'onnxruntime_onnx',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: ['-1', '4'] },
        { name: 'b', datatype: 'INT64', shape: ['-1', '4'] },
      ],
      outputs: [
        { name: 'sum', datatype: 'FP32', shape: ['-1', '4'] },
        { name: 'b_plus_one', datatype: 'INT64', shape: ['-1', '4'] },
      ],
    });
    expect(await callError(client, 'ModelMetadata', { name: 'nope' })).toEqual({
      code: 'NOT_FOUND',
      details: "unknown model 'nope'",
    });
  });

  it('ModelInfer with raw_input_contents equals session.run; outputs come back in raw_output_contents', async () => {
    const image = randomTensor([2, 3, 32, 32], 5);
    const want = (await directRun('cnn', { image })).logits;
    const res = await call(client, 'ModelInfer', {
      model_name: 'cnn',
      id: 'req-1',
      inputs: [{ name: 'image', datatype: 'FP32', shape: [2, 3, 32, 32] }],
      raw_input_contents: [binaryOf(image)],
    });
    expect(res).toMatchObject({ model_name: 'cnn', model_version: '1', id: 'req-1' });
    expect(res.outputs).toEqual([
      { name: 'logits', datatype: 'FP32', shape: ['2', '10'], parameters: {}, contents: null },
    ]);
    expect(res.raw_output_contents).toHaveLength(1);
    expect(rawValues('FP32', res.raw_output_contents![0])).toEqual(Array.from(want.data as Float32Array));
  });

  it('ModelInfer with typed contents equals session.run, for every datatype with a contents field', async () => {
    const feeds = everyDatatypeFeeds([-5n, 5n, (1n << 62n) + 1n, 0n]);
    const contents = (t: ort.Tensor): Record<string, unknown> => {
      const d = t.data as ArrayLike<unknown>;
      switch (t.type) {
        case 'bool':
          return { bool_contents: Array.from(d as Uint8Array, (v) => v === 1) };
        case 'int8':
        case 'int16':
        case 'int32':
          return { int_contents: Array.from(d) };
        case 'uint8':
        case 'uint16':
          return { uint_contents: Array.from(d) };
        case 'int64':
          return { int64_contents: Array.from(d as BigInt64Array, String) };
        case 'float32':
          return { fp32_contents: Array.from(d) };
        case 'float64':
          return { fp64_contents: Array.from(d) };
        case 'string':
          return { bytes_contents: (d as unknown as string[]).map((s) => Buffer.from(s)) };
        default:
          throw new Error(t.type);
      }
    };
    const { in_FP16, ...typed } = feeds;
    const inputs = Object.entries(typed).map(([name, t]) => ({
      name,
      datatype: KSERVE[t.type],
      shape: t.dims,
      contents: contents(t),
    }));
    const viaTyped = await call(client, 'ModelInfer', { model_name: 'typed', inputs });
    expect(viaTyped.outputs!.map((o) => o.name)).toEqual(
      Object.keys(typed).map((n) => n.replace('in_', 'out_')),
    );
    viaTyped.outputs!.forEach((o, i) => {
      expect(
        viaTyped.raw_output_contents![i].equals(binaryOf(typed[o.name.replace('out_', 'in_')])),
        o.name,
      ).toBe(true);
      expect(o.shape).toEqual(['2', '2']);
    });
    // FP16 has no typed field: it can only travel raw, so a model with an FP16 input takes raw requests.
    const fp16 = await callError(client, 'ModelInfer', {
      model_name: 'identity',
      inputs: [...inputs, { name: 'in_FP16', datatype: 'FP16', shape: [2, 2], contents: {} }],
    });
    expect(fp16).toEqual({
      code: 'INVALID_ARGUMENT',
      details: "input 'in_FP16': FP16 has no typed contents field; send it in raw_input_contents",
    });
    // All raw: every datatype, FP16 included, byte for byte as session.run gives them.
    const want = await directRun('identity', feeds);
    const raw = await call(client, 'ModelInfer', {
      model_name: 'identity',
      inputs: Object.entries(feeds).map(([name, t]) => ({ name, datatype: KSERVE[t.type], shape: t.dims })),
      raw_input_contents: Object.values(feeds).map(binaryOf),
    });
    expect(raw.outputs).toHaveLength(11);
    raw.outputs!.forEach((o, i) => {
      expect(raw.raw_output_contents![i].equals(binaryOf(want[o.name])), o.name).toBe(true);
      expect(o.datatype).toBe(KSERVE[want[o.name].type]);
    });
    // A request is all raw or all typed.
    const mixed = await callError(client, 'ModelInfer', {
      model_name: 'identity',
      inputs: [...inputs, { name: 'in_FP16', datatype: 'FP16', shape: [2, 2] }],
      raw_input_contents: [binaryOf(in_FP16)],
    });
    expect(mixed).toEqual({
      code: 'INVALID_ARGUMENT',
      details:
        'raw_input_contents has 1 entries for 11 inputs: give one per input, in the order of inputs, or none',
    });
    const two = await call(client, 'ModelInfer', {
      model_name: 'two_inputs',
      inputs: [
        { name: 'a', datatype: 'FP32', shape: [1, 4], contents: { fp32_contents: [1, 2, 3, 4] } },
        {
          name: 'b',
          datatype: 'INT64',
          shape: [1, 4],
          contents: { int64_contents: ['9007199254740993', '-1', '0', '2'] },
        },
      ],
      outputs: [{ name: 'b_plus_one' }],
    });
    expect(two.outputs!.map((o) => o.name)).toEqual(['b_plus_one']);
    expect(rawValues('INT64', two.raw_output_contents![0])).toEqual([9007199254740994n, 0n, 1n, 3n]);
  });

  it('answers bad requests with INVALID_ARGUMENT, NOT_FOUND or RESOURCE_EXHAUSTED and keeps serving', async () => {
    const x = { name: 'x', datatype: 'FP32', shape: [1, 16], contents: { fp32_contents: Array(16).fill(1) } };
    const cases: [object, string, string][] = [
      [{ model_name: 'nope', inputs: [x] }, 'NOT_FOUND', "unknown model 'nope'"],
      [
        { model_name: 'mlp', model_version: '9', inputs: [x] },
        'NOT_FOUND',
        "unknown version '9' of model 'mlp'; served versions: 1",
      ],
      [
        { model_name: 'mlp', inputs: [{ ...x, datatype: 'INT32' }] },
        'INVALID_ARGUMENT',
        "input 'x': datatype INT32 does not match the model's FP32",
      ],
      [
        { model_name: 'mlp', inputs: [{ ...x, contents: { fp32_contents: [1, 2] } }] },
        'INVALID_ARGUMENT',
        "input 'x': data has 2 elements but shape [1,16] needs 16",
      ],
      [
        { model_name: 'mlp', inputs: [{ ...x, contents: { int_contents: [1] } }] },
        'INVALID_ARGUMENT',
        "input 'x': datatype FP32 takes fp32_contents, not int_contents",
      ],
      [
        {
          model_name: 'mlp',
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16] }],
          raw_input_contents: [Buffer.alloc(3)],
        },
        'INVALID_ARGUMENT',
        "input 'x': binary data has 3 bytes but shape [1,16] of FP32 needs 64",
      ],
      [
        { model_name: 'mlp', inputs: [x], outputs: [{ name: 'z' }] },
        'INVALID_ARGUMENT',
        "unknown output 'z' for model 'mlp'; outputs are y",
      ],
      [
        { model_name: 'mlp', inputs: [{ ...x, shape: [17, 16] }] },
        'INVALID_ARGUMENT',
        "input 'x': batch size 17 is outside 1..16 (max_batch_size)",
      ],
    ];
    for (const [req, code, details] of cases) {
      expect(await callError(client, 'ModelInfer', req), details).toEqual({ code, details });
    }
    const big = await callError(client, 'ModelInfer', {
      model_name: 'mlp',
      inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16] }],
      raw_input_contents: [Buffer.alloc(300 * 1024)],
    });
    expect(big.code).toBe('RESOURCE_EXHAUSTED');
    const ok = await call(client, 'ModelInfer', { model_name: 'mlp', inputs: [x] });
    expect(ok.raw_output_contents![0]).toHaveLength(16);
  });

  it('batches concurrent gRPC calls in the same batcher, counted in the same metrics as HTTP', async () => {
    const before = await server.metrics.registry.getSingleMetric('nv_inference_exec_count')!.get();
    const execBefore = before.values.find((v) => v.labels.model === 'mlp')?.value ?? 0;
    const inputs = Array.from({ length: 12 }, (_, i) => randomTensor([1, 16], 100 + i));
    const results = await Promise.all(
      inputs.map((t) =>
        call(client, 'ModelInfer', {
          model_name: 'mlp',
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 16] }],
          raw_input_contents: [binaryOf(t)],
        }),
      ),
    );
    for (const [i, r] of results.entries()) {
      const want = (await directRun('mlp', { x: inputs[i] })).y;
      const got = rawValues('FP32', r.raw_output_contents![0]) as number[];
      (want.data as Float32Array).forEach((v, j) => expect(got[j]).toBeCloseTo(v, 5));
    }
    const text = await server.metrics.registry.metrics();
    const value = (name: string, extra = '') =>
      Number(new RegExp(`^${name}\\{model="mlp",version="1"${extra}\\} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
    const execs = value('nv_inference_exec_count') - execBefore;
    expect(execs).toBeGreaterThanOrEqual(1);
    expect(execs).toBeLessThan(12);
    expect(value('nv_inference_request_success')).toBeGreaterThanOrEqual(12);
    expect(value('nv_inference_request_failure', ',reason="REJECTED"')).toBeGreaterThanOrEqual(6);
  });

  it('serves requests encoded byte for byte from the protocol documentation', async () => {
    const raw = (method: string, body: Buffer) =>
      new Promise<Buffer>((resolve, reject) =>
        client.makeUnaryRequest(
          `/inference.GRPCInferenceService/${method}`,
          (b: Buffer) => b,
          (b: Buffer) => b,
          body,
          (err, res) => (err ? reject(err) : resolve(res!)),
        ),
      );
    // ServerLiveResponse { bool live = 1 }
    expect([...(await raw('ServerLive', Buffer.alloc(0)))]).toEqual([0x08, 0x01]);
    // ModelReadyRequest { string name = 1; string version = 2 } -> ModelReadyResponse { bool ready = 1 }
    expect([...(await raw('ModelReady', Buffer.concat([bytesField(1, 'mlp'), bytesField(2, '1')])))]).toEqual(
      [0x08, 0x01],
    );
    // ModelInferRequest { model_name = 1; id = 3; inputs = 5 { name = 1; datatype = 2; shape = 3 (packed);
    // contents = 5 { fp32_contents = 6 (packed) } } }
    const x = randomTensor([1, 16], 9);
    const input = Buffer.concat([
      bytesField(1, 'x'),
      bytesField(2, 'FP32'),
      packedVarints(3, [1, 16]),
      bytesField(5, packedFloats(6, Array.from(x.data as Float32Array))),
    ]);
    const typed = await raw(
      'ModelInfer',
      Buffer.concat([bytesField(1, 'mlp'), bytesField(3, 'wire-1'), bytesField(5, input)]),
    );
    // ModelInferResponse { model_name = 1; model_version = 2; id = 3; outputs = 5 { name = 1; datatype = 2;
    // shape = 3 }; raw_output_contents = 6 }
    const res = decodeMessage(typed);
    expect(res.get(1)![0].toString()).toBe('mlp');
    expect(res.get(2)![0].toString()).toBe('1');
    expect(res.get(3)![0].toString()).toBe('wire-1');
    const out = decodeMessage(res.get(5)![0] as Buffer);
    expect(out.get(1)![0].toString()).toBe('y');
    expect(out.get(2)![0].toString()).toBe('FP32');
    expect(unpackVarints(out.get(3)![0] as Buffer)).toEqual([1n, 4n]);
    const want = (await directRun('mlp', { x })).y;
    const got = new Float32Array(new Uint8Array(res.get(6)![0] as Buffer).buffer);
    (want.data as Float32Array).forEach((v, j) => expect(got[j]).toBeCloseTo(v, 5));
    // The same input as raw_input_contents = 7, shape unpacked (both encodings are valid proto3).
    const rawInput = Buffer.concat([
      bytesField(1, 'x'),
      bytesField(2, 'FP32'),
      varintField(3, 1),
      varintField(3, 16),
    ]);
    const viaRaw = decodeMessage(
      await raw(
        'ModelInfer',
        Buffer.concat([bytesField(1, 'mlp'), bytesField(5, rawInput), bytesField(7, binaryOf(x))]),
      ),
    );
    expect((viaRaw.get(6)![0] as Buffer).equals(res.get(6)![0] as Buffer)).toBe(true);
    // Bytes that are no ModelInferRequest (protobufjs skips what it cannot read): an error naming what is
    // missing, and the server keeps serving.
    const broken = await raw('ModelInfer', Buffer.from([0x0f, 0x01])).catch((e: grpc.ServiceError) => e);
    expect(broken).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'model_name is empty' });
    expect([...(await raw('ServerLive', Buffer.alloc(0)))]).toEqual([0x08, 0x01]);
  });

  it("answers ModelConfig with the config.pbtxt the model serves, in Triton's ModelConfig message", async () => {
    expect(await call(client, 'ModelConfig', { name: 'mlp' })).toEqual({
      config: expect.objectContaining({
        name: 'mlp',
        platform: 'onnxruntime_onnx',
        max_batch_size: 16,
        // Enums as numbers, as a client without enum names reads them: TYPE_FP32 = 11, KIND_CPU = 2.
        input: [expect.objectContaining({ name: 'x', data_type: 11, dims: ['16'] })],
        output: [expect.objectContaining({ name: 'y', data_type: 11, dims: ['4'] })],
        instance_group: [expect.objectContaining({ kind: 2, count: 1 })],
        dynamic_batching: expect.objectContaining({ max_queue_delay_microseconds: '20000' }),
      }),
    });
    expect(await callError(client, 'ModelConfig', { name: 'nope' })).toEqual({
      code: 'NOT_FOUND',
      details: "unknown model 'nope'",
    });
    // On the wire, as model_config.proto numbers them: ModelConfigResponse.config = 1 → ModelConfig
    // max_batch_size = 4, input = 5 → ModelInput data_type = 2 (TYPE_FP32 = 11), dims = 4.
    const bytes = await new Promise<Buffer>((resolve, reject) =>
      client.makeUnaryRequest(
        '/inference.GRPCInferenceService/ModelConfig',
        (b: Buffer) => b,
        (b: Buffer) => b,
        bytesField(1, 'mlp'),
        (err, res) => (err ? reject(err) : resolve(res!)),
      ),
    );
    const config = decodeMessage(decodeMessage(bytes).get(1)![0] as Buffer);
    expect(config.get(1)![0].toString()).toBe('mlp');
    expect(config.get(4)).toEqual([16n]);
    const input = decodeMessage(config.get(5)![0] as Buffer);
    expect(input.get(2)).toEqual([11n]);
    expect(unpackVarints(input.get(4)![0] as Buffer)).toEqual([16n]);
  });

  it('answers ModelStatistics (and HTTP /stats) with the counts and durations of the metrics', async () => {
    const before = await call(client, 'ModelStatistics', { name: 'cnn' });
    const image = randomTensor([1, 3, 32, 32], 8);
    for (let i = 0; i < 3; i++) {
      await call(client, 'ModelInfer', {
        model_name: 'cnn',
        inputs: [{ name: 'image', datatype: 'FP32', shape: [1, 3, 32, 32] }],
        raw_input_contents: [binaryOf(image)],
      });
    }
    await callError(client, 'ModelInfer', { model_name: 'cnn', inputs: [] });
    const after = await call(client, 'ModelStatistics', { name: 'cnn' });
    type Stats = {
      model_stats: {
        name: string;
        version: string;
        inference_count: string;
        execution_count: string;
        last_inference: string;
        inference_stats: Record<string, { count: string; ns: string }>;
      }[];
    };
    const [b, a] = [before as unknown as Stats, after as unknown as Stats].map((x) => x.model_stats[0]);
    expect(a).toMatchObject({ name: 'cnn', version: '1' });
    const delta = (k: string) =>
      Number(a.inference_stats[k].count) - Number(b?.inference_stats[k].count ?? 0);
    expect(delta('success')).toBe(3);
    expect(delta('fail')).toBe(1);
    expect(delta('queue')).toBe(3);
    expect(delta('compute_infer')).toBe(3);
    expect(Number(a.inference_count) - Number(b?.inference_count ?? 0)).toBe(3);
    expect(Number(a.inference_stats.compute_infer.ns)).toBeGreaterThan(0);
    expect(Number(a.last_inference)).toBeGreaterThan(Date.now() - 60_000);
    // The same numbers over HTTP, Triton's GET /v2/models/<name>/stats.
    const http = JSON.parse(
      (await request(`${server.url}/v2/models/cnn/stats`, 'GET')).body.toString(),
    ) as Stats;
    expect(http.model_stats[0].inference_stats.success.count).toBe(Number(a.inference_stats.success.count));
    const all = JSON.parse((await request(`${server.url}/v2/models/stats`, 'GET')).body.toString()) as Stats;
    expect(all.model_stats.map((x) => x.name)).toContain('cnn');
    expect(await callError(client, 'ModelStatistics', { name: 'nope' })).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('leaves RPCs it does not serve UNIMPLEMENTED', async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      client.makeUnaryRequest(
        '/inference.GRPCInferenceService/SystemSharedMemoryStatus',
        (b: Buffer) => b,
        (b: Buffer) => b,
        Buffer.alloc(0),
        (e) => resolve(e!),
      ),
    );
    expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
  });
});

describe('KServe v2 gRPC repository RPCs', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-grpc-repo-'));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  beforeAll(() => {
    for (const name of ['mlp', 'cnn', 'broken']) fs.mkdirSync(path.join(tmp, name, '1'), { recursive: true });
    fs.copyFileSync(fixture('mlp'), path.join(tmp, 'mlp', '1', 'model.onnx'));
    fs.copyFileSync(fixture('cnn'), path.join(tmp, 'cnn', '1', 'model.onnx'));
    fs.writeFileSync(path.join(tmp, 'broken', '1', 'model.onnx'), 'not an onnx model');
  });

  it('lists models with their states, and loads and unloads them with explicit model control', async () => {
    const server = await InferenceServer.start(tmp, {
      port: 0,
      grpcPort: 0,
      modelControlMode: 'explicit',
      loadModels: ['mlp', 'broken'],
    });
    const client = generatedClient(`127.0.0.1:${server.grpcPort}`);
    try {
      const index = await call(client, 'RepositoryIndex', {});
      const models = index.models as { name: string; version: string; state: string; reason: string }[];
      expect(models.map((m) => [m.name, m.version, m.state])).toEqual([
        ['broken', '', 'UNAVAILABLE'],
        ['cnn', '', 'UNAVAILABLE'],
        ['mlp', '1', 'READY'],
      ]);
      expect(models[0].reason).toContain('model.onnx');
      expect(models[1].reason).toMatch(/^not loaded/);
      expect(await call(client, 'RepositoryIndex', { ready: true })).toEqual({
        models: [{ name: 'mlp', version: '1', state: 'READY', reason: '' }],
      });
      expect(await call(client, 'ServerReady', {})).toEqual({ ready: false });
      expect(await callError(client, 'ModelMetadata', { name: 'broken' })).toMatchObject({
        code: 'UNAVAILABLE',
      });

      expect(await call(client, 'RepositoryModelLoad', { model_name: 'cnn' })).toEqual({});
      expect(await call(client, 'ModelReady', { name: 'cnn' })).toEqual({ ready: true });
      expect(await call(client, 'RepositoryModelUnload', { model_name: 'broken' })).toEqual({});
      expect(await call(client, 'ServerReady', {})).toEqual({ ready: true });
      expect(await call(client, 'RepositoryModelUnload', { model_name: 'mlp' })).toEqual({});
      expect(await call(client, 'ModelReady', { name: 'mlp' })).toEqual({ ready: false });

      expect(await callError(client, 'RepositoryModelLoad', { model_name: 'nope' })).toMatchObject({
        code: 'INVALID_ARGUMENT',
      });
      expect(
        await callError(client, 'RepositoryModelLoad', { repository_name: 'elsewhere', model_name: 'mlp' }),
      ).toMatchObject({ code: 'NOT_FOUND' });
      expect(
        await callError(client, 'RepositoryModelLoad', {
          model_name: 'mlp',
          parameters: { config: { string_param: '{}' } },
        }),
      ).toEqual({
        code: 'INVALID_ARGUMENT',
        details:
          'parameters config are not supported: mlstack loads a model from its files in the repository',
      });
      expect(
        await call(client, 'RepositoryModelLoad', { repository_name: path.basename(tmp), model_name: 'mlp' }),
      ).toEqual({});
    } finally {
      client.close();
      await server.close();
    }
  });

  it('refuses model control unless it is explicit; shutdown lets in-flight calls finish', async () => {
    // A slow model without batching (one run at a time, ~10 ms each), so that calls wait in its queue.
    const slow = path.join(tmp, 'slow.onnx');
    fs.writeFileSync(slow, slowModel(10));
    const server = await InferenceServer.start(slow, {
      port: 0,
      grpcPort: 0,
      disableBatching: true,
      threads: 1,
    });
    const client = generatedClient(`127.0.0.1:${server.grpcPort}`);
    try {
      expect(await callError(client, 'RepositoryModelUnload', { model_name: 'slow' })).toEqual({
        code: 'INVALID_ARGUMENT',
        details: 'model control is disabled: start the server with --model-control-mode explicit',
      });
      const x = randomTensor([1, 1024], 1);
      const inflight = Array.from({ length: 8 }, () =>
        call(client, 'ModelInfer', {
          model_name: 'slow',
          inputs: [{ name: 'x', datatype: 'FP32', shape: [1, 1024] }],
          raw_input_contents: [binaryOf(x)],
        }),
      );
      for (let i = 0; i < 1000 && server.activeRequests < 8; i++) await new Promise((r) => setImmediate(r));
      expect(server.activeRequests).toBeGreaterThan(1);
      const arrived = server.activeRequests;
      const closed = server.close();
      const results = await Promise.allSettled(inflight);
      await closed;
      // Every call the server had taken is answered; none is cut.
      expect(results.filter((r) => r.status === 'fulfilled').length).toBeGreaterThanOrEqual(arrived);
      for (const r of results) {
        if (r.status === 'rejected')
          expect((r.reason as grpc.ServiceError).code).toBe(grpc.status.UNAVAILABLE);
      }
    } finally {
      client.close();
      await server.close();
    }
  });
});
