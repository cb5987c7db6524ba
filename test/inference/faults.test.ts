import * as fs from 'node:fs';
import * as http from 'node:http';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InferenceServer } from '../../src/inference/server';
import { inferJson, json, randomTensor, request } from '../support/kserve-client';
import { startServe } from '../support/serve-process';
import { embeddingModel, slowModel, unsupportedModel } from '../support/onnx-builder';

const fixtures = path.join(__dirname, '..', 'fixtures', 'models');

const good = () => ({
  inputs: [
    { name: 'a', datatype: 'FP32', shape: [1, 4], data: [1, 2, 3, 4] },
    { name: 'b', datatype: 'INT64', shape: [1, 4], data: [1, 1, 1, 1] },
  ],
});

describe('bad requests get KServe-style errors and the server keeps serving', () => {
  let server: InferenceServer;
  let base: string;
  const url = () => `${base}/v2/models/two_inputs/infer`;
  const post = (body: string | Buffer, headers: Record<string, string | number> = {}) =>
    request(url(), 'POST', body, headers);

  beforeAll(async () => {
    server = await InferenceServer.start(path.join(fixtures, 'two_inputs.onnx'), {
      port: 0,
      maxBodyBytes: 64 * 1024,
    });
    base = server.url;
  });
  afterAll(() => server?.close());

  /** After every bad request, a good one must succeed with the right answer. */
  async function thenGood(): Promise<void> {
    const r = await post(JSON.stringify(good()));
    expect(r.status).toBe(200);
    expect((json(r).outputs as { data: number[] }[])[0].data).toEqual([2, 3, 4, 5]);
  }

  const cases: [string, () => Promise<{ status: number; body: Buffer }>, number, RegExp][] = [
    [
      'unknown model',
      () => request(`${base}/v2/models/nope/infer`, 'POST', JSON.stringify(good())),
      404,
      /unknown model 'nope'/,
    ],
    [
      'unknown version',
      () => request(`${base}/v2/models/two_inputs/versions/7/infer`, 'POST', '{}'),
      404,
      /unknown version '7'.*served versions: 1/,
    ],
    ['unknown route', () => request(`${base}/v2/nothing`, 'GET'), 404, /no route/],
    ['GET on infer', () => request(url(), 'GET'), 405, /use POST/],
    ['malformed JSON', () => post('{"inputs": [ {"name": "a",'), 400, /malformed JSON/],
    ['not an object', () => post('[1,2]'), 400, /must be a JSON object/],
    ['no inputs', () => post('{}'), 400, /no 'inputs' list/],
    ['missing input', () => post(JSON.stringify({ inputs: [good().inputs[0]] })), 400, /missing input 'b'/],
    [
      'unknown input',
      () =>
        post(
          JSON.stringify({
            inputs: [...good().inputs, { name: 'c', datatype: 'FP32', shape: [1], data: [1] }],
          }),
        ),
      400,
      /unknown input 'c'.*inputs are a, b/,
    ],
    [
      'wrong datatype',
      () => post(JSON.stringify({ inputs: [{ ...good().inputs[0], datatype: 'INT32' }, good().inputs[1]] })),
      400,
      /input 'a': datatype INT32 does not match the model's FP32/,
    ],
    [
      'unknown datatype',
      () => post(JSON.stringify({ inputs: [{ ...good().inputs[0], datatype: 'FLOAT' }, good().inputs[1]] })),
      400,
      /input 'a': unknown datatype "FLOAT"/,
    ],
    [
      'wrong shape',
      () =>
        post(
          JSON.stringify({
            inputs: [{ ...good().inputs[0], shape: [1, 5], data: [1, 2, 3, 4, 5] }, good().inputs[1]],
          }),
        ),
      400,
      /input 'a': shape \[1,5\] does not match the model's \[-1,4\]/,
    ],
    [
      'data length not matching the shape',
      () => post(JSON.stringify({ inputs: [{ ...good().inputs[0], data: [1, 2, 3] }, good().inputs[1]] })),
      400,
      /input 'a': data has 3 elements but shape \[1,4\] needs 4/,
    ],
    [
      'wrong element type',
      () =>
        post(JSON.stringify({ inputs: [good().inputs[0], { ...good().inputs[1], data: [1, 2.5, 3, 4] }] })),
      400,
      /input 'b': element 1 \(2.5\) is not an integer/,
    ],
    [
      'string where a number belongs',
      () =>
        post(JSON.stringify({ inputs: [{ ...good().inputs[0], data: ['1', 2, 3, 4] }, good().inputs[1]] })),
      400,
      /input 'a': element 0 \("1"\) is not a number/,
    ],
    [
      'batch over max_batch_size',
      () =>
        post(
          JSON.stringify({
            inputs: [
              { name: 'a', datatype: 'FP32', shape: [9, 4], data: new Array(36).fill(0) },
              { name: 'b', datatype: 'INT64', shape: [9, 4], data: new Array(36).fill(0) },
            ],
          }),
        ),
      400,
      /batch size 9 is outside 1..8/,
    ],
    [
      'inputs with different batch sizes',
      () =>
        post(
          JSON.stringify({
            inputs: [
              { name: 'a', datatype: 'FP32', shape: [2, 4], data: new Array(8).fill(0) },
              { name: 'b', datatype: 'INT64', shape: [1, 4], data: [1, 1, 1, 1] },
            ],
          }),
        ),
      400,
      /batch size 1 differs/,
    ],
    [
      'unknown output',
      () => post(JSON.stringify({ ...good(), outputs: [{ name: 'nope' }] })),
      400,
      /unknown output 'nope'/,
    ],
    [
      'body over the limit',
      () => post(JSON.stringify({ ...good(), pad: 'x'.repeat(100 * 1024) })),
      413,
      /exceeds the limit of 65536 bytes/,
    ],
    [
      'truncated binary data',
      () => {
        const header = Buffer.from(
          JSON.stringify({
            inputs: [
              { name: 'a', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 16 } },
              { name: 'b', datatype: 'INT64', shape: [1, 4], parameters: { binary_data_size: 32 } },
            ],
          }),
        );
        return post(Buffer.concat([header, Buffer.alloc(20)]), {
          'Inference-Header-Content-Length': header.length,
        });
      },
      400,
      /input 'b': binary_data_size 32 runs past the end of the binary data \(4 bytes left\)/,
    ],
    [
      'binary size not matching the shape',
      () => {
        const header = Buffer.from(
          JSON.stringify({
            inputs: [
              { name: 'a', datatype: 'FP32', shape: [1, 4], parameters: { binary_data_size: 12 } },
              { name: 'b', datatype: 'INT64', shape: [1, 4], parameters: { binary_data_size: 32 } },
            ],
          }),
        );
        return post(Buffer.concat([header, Buffer.alloc(44)]), {
          'Inference-Header-Content-Length': header.length,
        });
      },
      400,
      /input 'a': binary data has 12 bytes but shape \[1,4\] of FP32 needs 16/,
    ],
    [
      'bad header length',
      () => post('{}', { 'Inference-Header-Content-Length': 999 }),
      400,
      /Inference-Header-Content-Length \(999\)/,
    ],
  ];

  it.each(cases)('%s', async (_name, send, status, message) => {
    const r = await send();
    expect(r.status).toBe(status);
    const body = JSON.parse(r.body.toString()) as { error: string };
    expect(Object.keys(body)).toEqual(['error']);
    expect(body.error).toMatch(message);
    await thenGood();
  });

  it('counts rejected requests as failures and good ones as successes', async () => {
    const text = (await request(`${base}/metrics`, 'GET')).body.toString();
    expect(text).toMatch(
      /nv_inference_request_failure\{model="two_inputs",version="1",reason="REJECTED"\} [1-9]/,
    );
    expect(text).toMatch(/nv_inference_request_success\{model="two_inputs",version="1"\} [1-9]/);
  });

  it('survives a bounded storm of malformed, oversized, truncated and wrong-type requests mixed with good ones', async () => {
    const bad = [
      () => post('{"inputs":'),
      () => post(JSON.stringify({ inputs: [{ name: 'a', datatype: 'FP32', shape: [1, 4], data: [1] }] })),
      () => post(Buffer.alloc(70 * 1024, 0x20)),
      () => post(JSON.stringify({ inputs: [{ ...good().inputs[0], datatype: 'BOOL' }, good().inputs[1]] })),
      () => post(Buffer.from('{"inputs":[]}xxxx'), { 'Inference-Header-Content-Length': 13 }),
    ];
    const deadline = Date.now() + 10_000;
    let goodOk = 0;
    for (let round = 0; round < 20 && Date.now() < deadline; round++) {
      const batch = await Promise.all([
        ...bad.map((b) => b()),
        ...Array.from({ length: 5 }, () => post(JSON.stringify(good()))),
      ]);
      for (const r of batch.slice(0, bad.length)) expect([400, 413]).toContain(r.status);
      for (const r of batch.slice(bad.length)) {
        expect(r.status).toBe(200);
        goodOk++;
      }
    }
    expect(goodOk).toBeGreaterThanOrEqual(50);
    expect((await request(`${base}/v2/health/ready`, 'GET')).status).toBe(200);
  });
});

/**
 * A repository with one deliberately slow model (~20 ms a run on one thread), so that requests pile up
 * while it runs whatever the machine's load.
 */
function slowRepository(queue: string, layers = 200): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-slow-'));
  fs.mkdirSync(path.join(dir, 'slow', '1'), { recursive: true });
  fs.writeFileSync(path.join(dir, 'slow', '1', 'model.onnx'), slowModel(layers));
  fs.writeFileSync(
    path.join(dir, 'slow', 'config.pbtxt'),
    `name: "slow"\nmax_batch_size: 1\ninput [ { name: "x" data_type: TYPE_FP32 dims: [1024] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [1024] } ]\ndynamic_batching { max_queue_delay_microseconds: 0 ${queue} }\n`,
  );
  return dir;
}

/** One binary request body for the slow model, built once. */
function slowBody(): { body: Buffer; headers: Record<string, number> } {
  const data = randomTensor([1, 1024], 5).data as Float32Array;
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: 'x', datatype: 'FP32', shape: [1, 1024], parameters: { binary_data_size: data.byteLength } },
      ],
    }),
  );
  return {
    body: Buffer.concat([header, Buffer.from(data.buffer)]),
    headers: { 'Inference-Header-Content-Length': header.length },
  };
}

describe('a full queue answers 503 (mlstack serve as a child process)', () => {
  it('refuses requests beyond max_queue_size and serves again once the queue drains', async () => {
    const dir = slowRepository('default_queue_policy { max_queue_size: 2 }');
    const srv = await startServe([dir, '--threads', '1']);
    try {
      const { body, headers } = slowBody();
      // 40 keep-alive connections opened and accepted first: while a model runs on the server's event loop, new
      // connections wait in the kernel's accept queue, so only requests on accepted connections can fill the queue.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 40 });
      const warm = await Promise.all(
        Array.from({ length: 40 }, () =>
          request(`${srv.url}/v2/health/ready`, 'GET', undefined, {}, { agent }),
        ),
      );
      expect(warm.every((r) => r.status === 200)).toBe(true);
      const results = await Promise.all(
        Array.from({ length: 40 }, () =>
          request(`${srv.url}/v2/models/slow/infer`, 'POST', body, headers, { agent }),
        ),
      );
      const statuses = results.map((r) => r.status);
      expect(statuses).toContain(503);
      expect(statuses).toContain(200);
      expect(statuses.every((s) => s === 200 || s === 503)).toBe(true);
      expect(JSON.parse(results.find((r) => r.status === 503)!.body.toString()).error).toMatch(
        /queue is full \(2 requests waiting\)/,
      );
      const after = await request(`${srv.url}/v2/models/slow/infer`, 'POST', body, headers, { agent });
      expect(after.status).toBe(200);
      agent.destroy();
    } finally {
      srv.proc.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('SIGTERM (mlstack serve as a child process)', () => {
  it('finishes every in-flight request, exits 0, then refuses connections', async () => {
    const dir = slowRepository('');
    const srv = await startServe([dir, '--threads', '1']);
    try {
      const { body, headers } = slowBody();
      // 24 keep-alive connections of this test's own, opened and accepted before the slow work starts: a
      // connection still in the kernel's accept queue at the signal is not in flight, and would be reset.
      const agent = new http.Agent({ keepAlive: true, maxSockets: 24 });
      const warm = await Promise.all(
        Array.from({ length: 24 }, () =>
          request(`${srv.url}/v2/health/ready`, 'GET', undefined, {}, { agent }),
        ),
      );
      expect(warm.every((r) => r.status === 200)).toBe(true);
      let done = 0;
      const inflight = Array.from({ length: 24 }, () =>
        request(`${srv.url}/v2/models/slow/infer`, 'POST', body, headers, { agent }).finally(() => done++),
      );
      // Each run takes ~20 ms, one at a time: signal once two responses are back, bounded to 20 s. A run in which
      // nothing was still in flight at the signal fails rather than passing without testing the drain.
      const deadline = Date.now() + 20_000;
      while (done < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1));
      expect(done).toBeGreaterThanOrEqual(2);
      expect(done).toBeLessThan(24);
      srv.proc.kill('SIGTERM');
      const results = await Promise.all(inflight);
      expect(results.map((r) => r.status)).toEqual(new Array(24).fill(200));
      expect(await srv.exited).toBe(0);
      expect(srv.stderr()).toMatch(/SIGTERM: draining in-flight requests\n.*stopped/s);
      await expect(
        request(`${srv.url}/v2/health/live`, 'GET', undefined, {}, { fresh: true }),
      ).rejects.toThrow(/ECONNREFUSED/);
      agent.destroy();
    } finally {
      srv.proc.kill('SIGKILL');
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('graceful close in process', () => {
  it('turns not ready and refuses new connections once closed', async () => {
    const server = await InferenceServer.start(path.join(fixtures, 'mlp.onnx'), { port: 0 });
    const base = server.url;
    expect((await inferJson(base, 'mlp', { x: randomTensor([1, 16], 1) })).status).toBe(200);
    await server.close(0);
    await expect(request(`${base}/v2/health/live`, 'GET')).rejects.toThrow(
      /ECONNREFUSED|ECONNRESET|socket hang up/,
    );
  });
});

/** A repository with the MLP fixture as model `mlp` and `config` as its config.pbtxt. */
function mlpWithConfig(config: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-mlp-config-'));
  fs.mkdirSync(path.join(dir, 'mlp', '1'), { recursive: true });
  fs.copyFileSync(path.join(fixtures, 'mlp.onnx'), path.join(dir, 'mlp', '1', 'model.onnx'));
  fs.writeFileSync(path.join(dir, 'mlp', 'config.pbtxt'), config);
  return dir;
}

describe('model files that cannot be served', () => {
  it('names the file of a corrupt model', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bad-'));
    fs.mkdirSync(path.join(dir, 'broken', '1'), { recursive: true });
    const file = path.join(dir, 'broken', '1', 'model.onnx');
    fs.writeFileSync(file, fs.readFileSync(path.join(fixtures, 'cnn.onnx')).subarray(0, 300));
    await expect(InferenceServer.start(dir, { port: 0 })).rejects.toThrow(
      `${file}: is not an ONNX model or is truncated`,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a config.pbtxt that does not match its model, naming the field and both values', async () => {
    const dir = mlpWithConfig(
      'name: "mlp"\nmax_batch_size: 4\ninput [ { name: "x" data_type: TYPE_FP32 dims: [ 8 ] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [ 4 ] } ]\n',
    );
    await expect(InferenceServer.start(dir, { port: 0 })).rejects.toThrow(
      /config.pbtxt: does not match .*model.onnx:\n {2}input\[x\]\.dims: model \[16\], config \[8\]/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('refuses an empty repository and a missing path', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-empty-'));
    await expect(InferenceServer.start(dir, { port: 0 })).rejects.toThrow(/no models found/);
    await expect(InferenceServer.start(path.join(dir, 'nope'), { port: 0 })).rejects.toThrow(
      /no such file or directory/,
    );
    fs.rmSync(dir, { recursive: true, force: true });
  });
});

describe('a repository of hundreds of models', () => {
  it('loads 200 models, each with and without config.pbtxt, and serves any of them', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-many-'));
    const model = fs.readFileSync(path.join(fixtures, 'mlp.onnx'));
    for (let i = 0; i < 200; i++) {
      const name = `m${String(i).padStart(3, '0')}`;
      fs.mkdirSync(path.join(dir, name, '1'), { recursive: true });
      fs.writeFileSync(path.join(dir, name, '1', 'model.onnx'), model);
      if (i % 2) {
        fs.writeFileSync(
          path.join(dir, name, 'config.pbtxt'),
          `name: "${name}"\nmax_batch_size: 8\ninput [ { name: "x" data_type: TYPE_FP32 dims: [16] } ]\noutput [ { name: "y" data_type: TYPE_FP32 dims: [4] } ]\n`,
        );
      }
    }
    const server = await InferenceServer.start(dir, { port: 0, threads: 1 });
    try {
      expect(server.models.size).toBe(200);
      for (const name of ['m000', 'm101', 'm199']) {
        const r = await inferJson(server.url, name, { x: randomTensor([1, 16], 1) });
        expect(r.status).toBe(200);
      }
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a request the model cannot run on fails alone', () => {
  let server: InferenceServer;
  let dir: string;
  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-embedding-'));
    fs.mkdirSync(path.join(dir, 'embedding', '1'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'embedding', '1', 'model.onnx'), embeddingModel());
    // A long batching window, so that concurrent requests are merged into one run.
    fs.writeFileSync(
      path.join(dir, 'embedding', 'config.pbtxt'),
      'name: "embedding"\nmax_batch_size: 8\ninput [ { name: "ids" data_type: TYPE_INT64 dims: [1] } ]\noutput [ { name: "vectors" data_type: TYPE_FP32 dims: [1, 4] } ]\ndynamic_batching { max_queue_delay_microseconds: 20000 }\n',
    );
    server = await InferenceServer.start(dir, { port: 0 });
  });
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const infer = (id: number) =>
    request(
      `${server.url}/v2/models/embedding/infer`,
      'POST',
      JSON.stringify({ inputs: [{ name: 'ids', datatype: 'INT64', shape: [1, 1], data: [id] }] }),
    );

  it('an out-of-range id beside 7 valid ones: the 7 are answered, it gets 400 without node names', async () => {
    for (let round = 0; round < 5; round++) {
      const ids = [0, 1, 2, 3, 1000, 5, 6, 9];
      const results = await Promise.all(ids.map(infer));
      results.forEach((r, i) => {
        if (ids[i] === 1000) {
          expect(r.status).toBe(400);
          const error = String(json(r).error);
          expect(error).toMatch(/^the model could not run on this request's input: .*out of (data )?bounds/i);
          expect(error).not.toMatch(/Gather_0|Name:/);
        } else {
          expect(r.status, `id ${ids[i]}`).toBe(200);
          const out = (json(r).outputs as { data: number[] }[])[0].data;
          expect(out).toEqual([0, 0.25, 0.5, 0.75].map((f) => ids[i] + f));
        }
      });
    }
    // Client errors are not backend failures.
    const metrics = (await request(`${server.url}/metrics`, 'GET')).body.toString();
    expect(metrics).toMatch(
      /nv_inference_request_failure\{model="embedding",version="1",reason="REJECTED"\} 5/,
    );
    expect(metrics).not.toMatch(/reason="BACKEND"\} [1-9]/);
  });

  it('malformed percent-encoding and 20,000 levels of nesting are 400s, and the server keeps serving', async () => {
    const bad = await request(`${server.url}/v2/models/%E0%A4%A/infer`, 'POST', '{}');
    expect(bad.status).toBe(400);
    expect(String(json(bad).error)).toMatch(/malformed percent-encoding/);
    const deep = '['.repeat(20_000) + '1' + ']'.repeat(20_000);
    const nested = await request(
      `${server.url}/v2/models/embedding/infer`,
      'POST',
      `{"inputs":[{"name":"ids","datatype":"INT64","shape":[1,1],"data":${deep}}]}`,
    );
    expect(nested.status).toBe(400);
    expect(String(json(nested).error)).toMatch(/nested deeper than the 2 dimension\(s\) of its shape/);
    expect((await infer(4)).status).toBe(200);
  });
});

describe('one model that cannot be loaded does not take the repository down', () => {
  let dir: string;
  let linked: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-partial-'));
    // mlp: a model directory that is a symbolic link, as git-sync and ConfigMap volumes make them.
    linked = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-worktree-'));
    fs.mkdirSync(path.join(linked, 'mlp', '1'), { recursive: true });
    fs.copyFileSync(path.join(fixtures, 'mlp.onnx'), path.join(linked, 'mlp', '1', 'model.onnx'));
    fs.symlinkSync(path.join(linked, 'mlp'), path.join(dir, 'mlp'), 'dir');
    // bitshift: a valid ONNX model onnxruntime has no kernel for.
    fs.mkdirSync(path.join(dir, 'bitshift', '1'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'bitshift', '1', 'model.onnx'), unsupportedModel());
  });
  afterAll(() => {
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(linked, { recursive: true, force: true });
  });

  it('serves the rest; the broken model is UNAVAILABLE with its reason, not ready, and answers 503', async () => {
    const server = await InferenceServer.start(dir, { port: 0 });
    try {
      const index = await request(`${server.url}/v2/repository/index`, 'POST', '{}');
      expect(index.status).toBe(200);
      expect(json(index)).toEqual([
        { name: 'bitshift', state: 'UNAVAILABLE', reason: expect.stringMatching(/BitShift/) },
        { name: 'mlp', version: '1', state: 'READY' },
      ]);
      const ready = await request(`${server.url}/v2/repository/index`, 'POST', '{"ready": true}');
      expect(json(ready)).toEqual([{ name: 'mlp', version: '1', state: 'READY' }]);
      expect((await request(`${server.url}/v2/models/bitshift/ready`, 'GET')).status).toBe(400);
      expect((await request(`${server.url}/v2/models/mlp/ready`, 'GET')).status).toBe(200);
      const infer = await request(`${server.url}/v2/models/bitshift/infer`, 'POST', '{}');
      expect(infer.status).toBe(503);
      expect(String(json(infer).error)).toMatch(/^model 'bitshift' is unavailable: .*BitShift/);
      const mlp = await inferJson(server.url, 'mlp', { x: randomTensor([1, 16], 3) });
      expect(mlp.status).toBe(200);
      // Triton's --strict-readiness (the default): the server is not ready while a model is unavailable.
      expect((await request(`${server.url}/v2/health/ready`, 'GET')).status).toBe(503);
      expect((await request(`${server.url}/v2/health/live`, 'GET')).status).toBe(200);
    } finally {
      await server.close();
    }
    const lenient = await InferenceServer.start(dir, { port: 0, strictReadiness: false });
    try {
      expect((await request(`${lenient.url}/v2/health/ready`, 'GET')).status).toBe(200);
    } finally {
      await lenient.close();
    }
  });

  it("stops at start with exitOnError (Triton's --exit-on-error), naming the model's file", async () => {
    await expect(InferenceServer.start(dir, { port: 0, exitOnError: true })).rejects.toThrow(
      /bitshift.*model\.onnx|BitShift/,
    );
  });
});

describe('config.pbtxt mistakes say why at start', () => {
  it('max_batch_size 0 with dynamic_batching is a config error naming the file', async () => {
    const dir = mlpWithConfig('name: "mlp"\nmax_batch_size: 0\ndynamic_batching { }\n');
    try {
      await expect(InferenceServer.start(dir, { port: 0 })).rejects.toThrow(
        /mlp\/config\.pbtxt: dynamic_batching needs max_batch_size > 0/,
      );
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('slow clients are answered 408 and do not hold shutdown', () => {
  /** Opens a raw connection, writes `text`, and resolves with everything the server sends until it closes. */
  const raw = (url: string, text: string, limitMs = 10_000) =>
    new Promise<{ reply: string; ms: number }>((resolve, reject) => {
      const { hostname, port } = new URL(url);
      const started = Date.now();
      const socket = net.connect(Number(port), hostname, () => socket.write(text));
      let reply = '';
      socket.on('data', (d) => (reply += d.toString()));
      socket.on('close', () => resolve({ reply, ms: Date.now() - started }));
      socket.on('error', reject);
      socket.setTimeout(limitMs, () => {
        socket.destroy();
        resolve({ reply, ms: Date.now() - started });
      });
    });

  it('a client that stops inside its headers, or inside its body, gets 408 and the server keeps serving', async () => {
    const server = await InferenceServer.start(path.join(fixtures, 'two_inputs.onnx'), {
      port: 0,
      headersTimeoutMs: 500,
      bodyTimeoutMs: 500,
    });
    try {
      const headers = await raw(server.url, 'POST /v2/models/two_inputs/infer HTTP/1.1\r\nHost: x\r\n');
      expect(headers.reply).toMatch(/^HTTP\/1\.1 408/);
      expect(headers.ms).toBeLessThan(5000);
      const body = await raw(
        server.url,
        'POST /v2/models/two_inputs/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"inputs": [',
      );
      expect(body.reply).toMatch(/^HTTP\/1\.1 408/);
      expect(body.reply).toMatch(/the request body stalled: no byte for 500 ms/);
      expect(body.ms).toBeLessThan(5000);
      const ok = await request(`${server.url}/v2/models/two_inputs/infer`, 'POST', JSON.stringify(good()));
      expect(ok.status).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('shutdown cuts a stalled upload after 1 s instead of waiting out the 30 s drain', async () => {
    const server = await InferenceServer.start(path.join(fixtures, 'two_inputs.onnx'), { port: 0 });
    const stalled = raw(
      server.url,
      'POST /v2/models/two_inputs/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{',
      20_000,
    );
    await new Promise((r) => setTimeout(r, 200)); // the server has read the headers
    const started = Date.now();
    await server.close();
    expect(Date.now() - started).toBeLessThan(5000);
    expect((await stalled).reply).toMatch(/^HTTP\/1\.1 408/);
  });
});

describe('request bodies are bounded per request and in total', () => {
  it('a JSON body over the JSON limit gets 413 naming the binary extension; the same tensor as binary is served', async () => {
    const server = await InferenceServer.start(path.join(fixtures, 'mlp.onnx'), {
      port: 0,
      maxJsonBytes: 1024,
    });
    try {
      const x = randomTensor([4, 16], 9);
      const jsonBody = JSON.stringify({
        inputs: [{ name: 'x', datatype: 'FP32', shape: [4, 16], data: Array.from(x.data as Float32Array) }],
      });
      expect(jsonBody.length).toBeGreaterThan(1024);
      const refused = await request(`${server.url}/v2/models/mlp/infer`, 'POST', jsonBody);
      expect(refused.status).toBe(413);
      expect(String(json(refused).error)).toMatch(
        /exceeds the limit of 1024 bytes for JSON .*binary tensor extension/,
      );
      const header = Buffer.from(
        JSON.stringify({
          inputs: [
            { name: 'x', datatype: 'FP32', shape: [4, 16], parameters: { binary_data_size: 4 * 16 * 4 } },
          ],
        }),
      );
      const data = x.data as Float32Array;
      const binary = await request(
        `${server.url}/v2/models/mlp/infer`,
        'POST',
        Buffer.concat([header, Buffer.from(data.buffer, data.byteOffset, data.byteLength)]),
        { 'Inference-Header-Content-Length': header.length },
      );
      expect(binary.status, binary.body.toString()).toBe(200);
    } finally {
      await server.close();
    }
  });

  it('a request that would take the bodies held over the total gets 503, and is served once they are gone', async () => {
    const server = await InferenceServer.start(path.join(fixtures, 'two_inputs.onnx'), {
      port: 0,
      maxTotalBodyBytes: 1000,
      bodyTimeoutMs: 1000,
    });
    try {
      // An upload of 800 declared bytes that stalls holds its share until its body timeout.
      const { port } = new URL(server.url);
      const socket = net.connect(Number(port), '127.0.0.1', () =>
        socket.write('POST /v2/models/two_inputs/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 800\r\n\r\n{'),
      );
      socket.on('error', () => {});
      await new Promise((r) => setTimeout(r, 200));
      const busy = await request(
        `${server.url}/v2/models/two_inputs/infer`,
        'POST',
        JSON.stringify(good()) + ' '.repeat(300),
      );
      expect(busy.status).toBe(503);
      expect(String(json(busy).error)).toMatch(/holds 800 bytes of request bodies \(limit 1000\)/);
      await new Promise((r) => setTimeout(r, 1500)); // the stalled upload timed out and released its share
      const ok = await request(`${server.url}/v2/models/two_inputs/infer`, 'POST', JSON.stringify(good()));
      expect(ok.status).toBe(200);
      socket.destroy();
    } finally {
      await server.close();
    }
  });
});

describe("explicit model control (Triton's --model-control-mode explicit)", () => {
  it('loads the models asked for, then loads, reloads and unloads on request; a failed reload keeps serving', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-control-'));
    for (const m of ['mlp', 'two_inputs']) {
      fs.mkdirSync(path.join(dir, m, '1'), { recursive: true });
      fs.copyFileSync(path.join(fixtures, `${m}.onnx`), path.join(dir, m, '1', 'model.onnx'));
    }
    const server = await InferenceServer.start(dir, {
      port: 0,
      modelControlMode: 'explicit',
      loadModels: ['mlp'],
    });
    const post = (p: string, body = '') => request(`${server.url}${p}`, 'POST', body);
    const index = async () =>
      json(await post('/v2/repository/index')) as unknown as { name: string; state: string }[];
    try {
      expect((await index()).map((e) => [e.name, e.state])).toEqual([
        ['mlp', 'READY'],
        ['two_inputs', 'UNAVAILABLE'],
      ]);
      // A model not loaded on purpose does not make the server unready.
      expect((await request(`${server.url}/v2/health/ready`, 'GET')).status).toBe(200);
      expect((await post('/v2/models/two_inputs/infer', JSON.stringify(good()))).status).toBe(503);

      expect((await post('/v2/repository/models/two_inputs/load')).status).toBe(200);
      const answered = await post('/v2/models/two_inputs/infer', JSON.stringify(good()));
      expect(answered.status).toBe(200);
      expect((json(answered).outputs as { data: number[] }[])[0].data).toEqual([2, 3, 4, 5]);

      // A reload of a broken file fails with the reason, and the loaded version keeps serving.
      fs.writeFileSync(path.join(dir, 'mlp', '1', 'model.onnx'), Buffer.from('not a model'));
      const reload = await post('/v2/repository/models/mlp/load');
      expect(reload.status).toBe(400);
      expect(String(json(reload).error)).toMatch(
        /^failed to load 'mlp': .*model\.onnx: is not an ONNX model/,
      );
      expect((await inferJson(server.url, 'mlp', { x: randomTensor([1, 16], 3) })).status).toBe(200);

      expect((await post('/v2/repository/models/two_inputs/unload')).status).toBe(200);
      expect((await post('/v2/models/two_inputs/infer', JSON.stringify(good()))).status).toBe(503);
      expect((await index()).find((e) => e.name === 'two_inputs')?.state).toBe('UNAVAILABLE');
      expect((await post('/v2/repository/models/nope/unload')).status).toBe(400);
    } finally {
      await server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is refused when the server does not run with explicit model control', async () => {
    const server = await InferenceServer.start(path.join(fixtures, 'mlp.onnx'), { port: 0 });
    try {
      const r = await request(`${server.url}/v2/repository/models/mlp/load`, 'POST', '');
      expect(r.status).toBe(400);
      expect(String(json(r).error)).toMatch(
        /model control is disabled: start the server with --model-control-mode explicit/,
      );
    } finally {
      await server.close();
    }
  });
});
