// Inference server throughput and latency: `mlstack serve` in a child process, a keep-alive load generator here.
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { inspectModel } from '../src/inference/inspect';
import { tritonConfig } from '../src/inference/triton-config';
import { call, generatedClient } from '../test/support/grpc-client';
import { metricValue } from '../test/support/kserve-client';
import { startServe } from '../test/support/serve-process';
import { median, percentile } from './stats';

const fixtures = path.join(__dirname, '..', 'test', 'fixtures', 'models');

interface ModelCase {
  name: string;
  file: string;
  input: string;
  dims: number[];
}

const MODELS: ModelCase[] = [
  { name: 'mlp', file: 'mlp.onnx', input: 'x', dims: [1, 16] },
  { name: 'cnn', file: 'cnn.onnx', input: 'image', dims: [1, 3, 32, 32] },
];

export interface BareRow {
  model: string;
  runsPerSec: number;
  p50Ms: number;
  /** Compute per inference when 64 run as one batch. */
  perItemAt64Ms: number;
}

export interface ServeRow {
  model: string;
  batching: boolean;
  /** Models on compute threads (the default) or on the event loop's thread (`--no-compute-threads`). */
  computeThreads: boolean;
  encoding: 'json' | 'binary';
  concurrency: number;
  requests: number;
  /** Inferences per model execution: the average batch the server formed. */
  avgBatch: number;
  /**
   * Share of the cell's wall time the model was computing (`session.run` of each batch, seen from the event loop:
   * with compute threads, the time a batch spends on its thread), from the server's compute counter.
   */
  computeBusy: number;
  inferPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

function input(m: ModelCase): Float32Array {
  const n = m.dims.reduce((a, b) => a * b, 1);
  return Float32Array.from({ length: n }, (_, i) => Math.sin(i) * 0.5);
}

function body(
  m: ModelCase,
  encoding: 'json' | 'binary',
): { body: Buffer; headers: Record<string, string | number> } {
  const data = input(m);
  if (encoding === 'json') {
    const text = JSON.stringify({
      inputs: [{ name: m.input, datatype: 'FP32', shape: m.dims, data: Array.from(data) }],
    });
    return { body: Buffer.from(text), headers: { 'Content-Type': 'application/json' } };
  }
  const header = Buffer.from(
    JSON.stringify({
      inputs: [
        { name: m.input, datatype: 'FP32', shape: m.dims, parameters: { binary_data_size: data.byteLength } },
      ],
      parameters: { binary_data_output: true },
    }),
  );
  return {
    body: Buffer.concat([header, Buffer.from(data.buffer)]),
    headers: { 'Content-Type': 'application/octet-stream', 'Inference-Header-Content-Length': header.length },
  };
}

/** Bare in-process `session.run` with batch 1, for `seconds`. */
async function bare(m: ModelCase, seconds: number): Promise<BareRow> {
  const session = await ort.InferenceSession.create(path.join(fixtures, m.file), {
    graphOptimizationLevel: 'all',
    intraOpNumThreads: 1,
  });
  const feeds = { [m.input]: new ort.Tensor('float32', input(m), m.dims) };
  for (let i = 0; i < 50; i++) await session.run(feeds);
  const lat: number[] = [];
  const end = Date.now() + seconds * 1000;
  while (Date.now() < end) {
    const t0 = process.hrtime.bigint();
    await session.run(feeds);
    lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const big = {
    [m.input]: new ort.Tensor('float32', new Float32Array(64 * input(m).length).fill(0.1), [
      64,
      ...m.dims.slice(1),
    ]),
  };
  for (let i = 0; i < 5; i++) await session.run(big);
  const t0 = process.hrtime.bigint();
  let runs = 0;
  while (Number(process.hrtime.bigint() - t0) < seconds * 1e9) {
    await session.run(big);
    runs++;
  }
  const perItemAt64Ms = Number(process.hrtime.bigint() - t0) / 1e6 / runs / 64;
  await session.release();
  return { model: m.name, runsPerSec: lat.length / seconds, p50Ms: median(lat), perItemAt64Ms };
}

/** Whether wrk (Debian package `wrk`) is installed: a C load generator that saturates after the server does. */
export function hasWrk(): boolean {
  try {
    execFileSync('wrk', ['--version'], { stdio: 'ignore' });
    return true;
  } catch (e) {
    // wrk --version exits 1 after printing its version
    return (e as { status?: number }).status === 1;
  }
}

/** One wrk run: one thread, `concurrency` connections, `seconds` long. */
function loadWrk(
  url: string,
  payload: { body: Buffer; headers: Record<string, string | number> },
  concurrency: number,
  seconds: number,
) {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-wrk-'));
  try {
    const bodyFile = path.join(tmp, 'body');
    fs.writeFileSync(bodyFile, payload.body);
    const r = spawnSync(
      'wrk',
      ['-t1', `-c${concurrency}`, `-d${seconds}s`, '-s', path.join(__dirname, 'wrk-post.lua'), url],
      {
        encoding: 'utf8',
        env: {
          ...process.env,
          MLSTACK_BODY: bodyFile,
          MLSTACK_CONTENT_TYPE: String(payload.headers['Content-Type']),
          MLSTACK_HEADER_LENGTH: String(payload.headers['Inference-Header-Content-Length'] ?? ''),
        },
      },
    );
    const m = /RESULT (\d+) (\d+) ([\d.]+) ([\d.]+) (\d+)/.exec(r.stdout);
    if (!m) throw new Error(`wrk gave no result: ${r.stdout} ${r.stderr}`);
    const [requests, durationUs, p50, p99, errors] = m.slice(1).map(Number);
    if (errors) throw new Error(`${errors} requests failed against ${url}`);
    return { requests, perSec: requests / (durationUs / 1e6), p50, p99 };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

/**
 * `concurrency` workers send requests back to back for `seconds`; bounded by time and by `maxRequests`. Without a
 * payload, `GET`.
 */
async function loadNode(
  url: string,
  payload: { body: Buffer; headers: Record<string, string | number> } | undefined,
  concurrency: number,
  seconds: number,
  maxRequests = 200_000,
) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const lat: number[] = [];
  let errors = 0;
  let sent = 0;
  const end = Date.now() + seconds * 1000;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = process.hrtime.bigint();
      const req = http.request(
        url,
        payload
          ? {
              method: 'POST',
              agent,
              headers: { ...payload.headers, 'Content-Length': payload.body.length },
            }
          : { method: 'GET', agent },
        (res) => {
          res.on('data', () => undefined);
          res.on('end', () => {
            if (res.statusCode === 200) lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
            else errors++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(payload?.body);
    });
  const worker = async () => {
    while (Date.now() < end && sent < maxRequests) {
      sent++;
      await one();
    }
  };
  const started = Date.now();
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (Date.now() - started) / 1000;
  agent.destroy();
  if (errors) throw new Error(`${errors} requests failed against ${url}`);
  return { requests: lat.length, perSec: lat.length / elapsed, p50: median(lat), p99: percentile(lat, 99) };
}

async function load(
  url: string,
  payload: { body: Buffer; headers: Record<string, string | number> },
  concurrency: number,
  seconds: number,
) {
  return hasWrk()
    ? loadWrk(url, payload, concurrency, seconds)
    : loadNode(url, payload, concurrency, seconds);
}

/**
 * Since the last call: inferences per model execution (the average batch the server formed), and the time the
 * model computed. Each request adds its batch's compute time to the counter, so a batch's time is its counter
 * share divided by its size; with batch 1 per request, the sum over batches is Δcompute / avg batch.
 */
async function serverCounters(
  base: string,
  model: string,
  last: { count: number; exec: number; computeUs: number },
): Promise<{ avgBatch: number; computeUs: number }> {
  const count = await metricValue(base, 'nv_inference_count', model);
  const exec = await metricValue(base, 'nv_inference_exec_count', model);
  const computeUs = await metricValue(base, 'nv_inference_compute_infer_duration_us', model);
  const avg = exec > last.exec ? (count - last.count) / (exec - last.exec) : 0;
  const busyUs = avg > 0 ? (computeUs - last.computeUs) / avg : 0;
  last.count = count;
  last.exec = exec;
  last.computeUs = computeUs;
  return { avgBatch: avg, computeUs: busyUs };
}

/** A repository with both models, dynamic batching up to 64 with a 500 µs queue delay. */
async function repository(): Promise<string> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-serve-'));
  for (const m of MODELS) {
    const file = path.join(fixtures, m.file);
    fs.mkdirSync(path.join(dir, m.name, '1'), { recursive: true });
    fs.copyFileSync(file, path.join(dir, m.name, '1', 'model.onnx'));
    fs.writeFileSync(
      path.join(dir, m.name, 'config.pbtxt'),
      tritonConfig(await inspectModel(file), {
        name: m.name,
        maxBatchSize: 64,
        dynamicBatching: { maxQueueDelayMicroseconds: 500 },
      }),
    );
  }
  return dir;
}

/** p50 of `GET /v2/health/live` at concurrency 1: the HTTP round trip with no model in it. */
async function httpFloor(base: string, seconds: number): Promise<number> {
  if (!hasWrk()) return (await loadNode(`${base}/v2/health/live`, undefined, 1, seconds)).p50;
  const r = spawnSync('wrk', ['-t1', '-c1', `-d${seconds}s`, '--latency', `${base}/v2/health/live`], {
    encoding: 'utf8',
  });
  const m = /50%\s+([\d.]+)(us|ms|s)/.exec(r.stdout);
  if (!m) return NaN;
  return Number(m[1]) * (m[2] === 'us' ? 1e-3 : m[2] === 's' ? 1e3 : 1);
}

/** One cell of the protocol comparison: the same requests over HTTP (binary extension) and gRPC, Node clients. */
export interface ProtocolRow {
  model: string;
  protocol: 'http' | 'grpc';
  concurrency: number;
  requests: number;
  inferPerSec: number;
  p50Ms: number;
  p99Ms: number;
}

/** `concurrency` calls in flight on one gRPC channel (HTTP/2 streams), back to back for `seconds`. */
async function loadGrpc(address: string, m: ModelCase, concurrency: number, seconds: number) {
  const client = generatedClient(address);
  const request = {
    model_name: m.name,
    inputs: [{ name: m.input, datatype: 'FP32', shape: m.dims }],
    raw_input_contents: [Buffer.from(input(m).buffer)],
  };
  const lat: number[] = [];
  const end = Date.now() + seconds * 1000;
  const worker = async () => {
    while (Date.now() < end) {
      const t0 = process.hrtime.bigint();
      await call(client, 'ModelInfer', request);
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  const started = Date.now();
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    client.close();
  }
  const elapsed = (Date.now() - started) / 1000;
  return { requests: lat.length, perSec: lat.length / elapsed, p50: median(lat), p99: percentile(lat, 99) };
}

/**
 * KServe v2 over gRPC against HTTP with the binary extension, on one server (batching on), each from a Node client
 * in this process, so that the two protocols meet the same generator costs.
 */
async function benchProtocols(dir: string, seconds: number): Promise<ProtocolRow[]> {
  const rows: ProtocolRow[] = [];
  const srv = await startServe([dir, '--threads', '1']);
  try {
    for (const m of MODELS) {
      const url = `${srv.url}/v2/models/${m.name}/infer`;
      const payload = body(m, 'binary');
      await loadNode(url, payload, 4, 1);
      await loadGrpc(srv.grpc, m, 4, 1);
      for (const concurrency of [1, 64]) {
        for (const protocol of ['http', 'grpc'] as const) {
          const r =
            protocol === 'http'
              ? await loadNode(url, payload, concurrency, seconds)
              : await loadGrpc(srv.grpc, m, concurrency, seconds);
          rows.push({
            model: m.name,
            protocol,
            concurrency,
            requests: r.requests,
            inferPerSec: r.perSec,
            p50Ms: r.p50,
            p99Ms: r.p99,
          });
          process.stderr.write(
            `${m.name} ${protocol} (node client) c=${concurrency}: ${r.perSec.toFixed(0)}/s p50 ${r.p50.toFixed(3)} ms\n`,
          );
        }
      }
    }
  } finally {
    srv.proc.kill('SIGTERM');
    await srv.exited;
  }
  return rows;
}

export async function benchServe(
  seconds: number,
): Promise<{ bareRows: BareRow[]; rows: ServeRow[]; protocolRows: ProtocolRow[]; floorMs: number }> {
  const bareRows: BareRow[] = [];
  for (const m of MODELS) {
    bareRows.push(await bare(m, seconds));
    process.stderr.write(`bare ${m.name}: ${bareRows.at(-1)!.runsPerSec.toFixed(0)} runs/s\n`);
  }
  const dir = await repository();
  const rows: ServeRow[] = [];
  let protocolRows: ProtocolRow[];
  let floorMs = NaN;
  // Every cell with compute threads; the binary cells at concurrency 1 and 64 also without, side by side.
  const configs = [
    {
      batching: false,
      computeThreads: true,
      encodings: ['json', 'binary'] as const,
      concurrencies: [1, 16, 64],
    },
    {
      batching: true,
      computeThreads: true,
      encodings: ['json', 'binary'] as const,
      concurrencies: [1, 16, 64],
    },
    { batching: false, computeThreads: false, encodings: ['binary'] as const, concurrencies: [1, 64] },
    { batching: true, computeThreads: false, encodings: ['binary'] as const, concurrencies: [1, 64] },
  ];
  try {
    for (const { batching, computeThreads, encodings, concurrencies } of configs) {
      const srv = await startServe([
        dir,
        '--threads',
        '1',
        ...(batching ? [] : ['--no-batching']),
        ...(computeThreads ? [] : ['--no-compute-threads']),
      ]);
      try {
        if (!batching && computeThreads) floorMs = await httpFloor(srv.url, seconds);
        for (const m of MODELS) {
          const last = { count: 0, exec: 0, computeUs: 0 };
          for (const encoding of encodings) {
            const payload = body(m, encoding);
            const url = `${srv.url}/v2/models/${m.name}/infer`;
            await load(url, payload, 4, 1); // warm-up
            await serverCounters(srv.url, m.name, last);
            for (const concurrency of concurrencies) {
              // Concurrency 1 is the latency cell: three runs, the one with the median p50.
              const runs = [];
              const started = Date.now();
              for (let i = 0; i < (concurrency === 1 ? 3 : 1); i++)
                runs.push(await load(url, payload, concurrency, seconds));
              const wallUs = (Date.now() - started) * 1000;
              const r = runs.sort((a, b) => a.p50 - b.p50)[Math.floor(runs.length / 2)];
              const { avgBatch, computeUs } = await serverCounters(srv.url, m.name, last);
              rows.push({
                model: m.name,
                batching,
                computeThreads,
                encoding,
                concurrency,
                requests: r.requests,
                avgBatch,
                computeBusy: computeUs / wallUs,
                inferPerSec: r.perSec,
                p50Ms: r.p50,
                p99Ms: r.p99,
              });
              process.stderr.write(
                `${m.name} batching=${batching} threads=${computeThreads} ${encoding} c=${concurrency}: ${r.perSec.toFixed(0)}/s p50 ${r.p50.toFixed(3)} ms p99 ${r.p99.toFixed(3)} ms\n`,
              );
            }
          }
        }
      } finally {
        srv.proc.kill('SIGTERM');
        await srv.exited;
      }
    }
    protocolRows = await benchProtocols(dir, seconds);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return { bareRows, rows, protocolRows, floorMs };
}

/** One configuration of the capture benchmark. */
export interface CaptureRow {
  readonly capture: string;
  /** Requests per second and p50 of each round. */
  readonly perSec: number[];
  readonly p50Ms: number[];
  /** Rows written by the server's capture. */
  readonly capturedRows: number;
}

/**
 * Serving with request capture off, at 10% and at 100% (the MLP, JSON, batching on, concurrency 16): the rounds of
 * the three servers interleave, so machine noise hits all of them alike.
 */
export async function benchCapture(seconds: number, rounds = 5): Promise<CaptureRow[]> {
  const dir = await repository();
  const configs = [
    { capture: 'off', args: [] as string[] },
    { capture: '10%', rate: '0.1' },
    { capture: '100%', rate: '1' },
  ];
  const captureRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-capture-'));
  const servers = [];
  try {
    for (const c of configs) {
      const args = c.rate
        ? [
            '--capture-dir',
            path.join(captureRoot, c.capture),
            '--capture-sample-rate',
            c.rate,
            '--capture-interval',
            '5s',
          ]
        : [];
      servers.push(await startServe([dir, '--threads', '1', ...args]));
    }
    const m = MODELS[0];
    const payload = body(m, 'json');
    const results = configs.map(() => ({ perSec: [] as number[], p50Ms: [] as number[] }));
    for (const srv of servers) await load(`${srv.url}/v2/models/${m.name}/infer`, payload, 4, 1);
    for (let round = 0; round < rounds; round++) {
      for (const [i, srv] of servers.entries()) {
        const r = await load(`${srv.url}/v2/models/${m.name}/infer`, payload, 16, seconds);
        results[i].perSec.push(r.perSec);
        results[i].p50Ms.push(r.p50);
        process.stderr.write(`capture ${configs[i].capture} round ${round + 1}: ${r.perSec.toFixed(0)}/s\n`);
      }
    }
    for (const srv of servers) {
      srv.proc.kill('SIGTERM');
      await srv.exited;
    }
    const countRows = (d: string): number =>
      fs.existsSync(d)
        ? fs
            .readdirSync(d, { recursive: true, withFileTypes: true })
            .filter((e) => e.isFile() && e.name.endsWith('.jsonl'))
            .reduce(
              (n, e) =>
                n +
                fs.readFileSync(path.join(e.parentPath, e.name), 'utf8').split('\n').filter(Boolean).length,
              0,
            )
        : 0;
    return configs.map((c, i) => ({
      capture: c.capture,
      ...results[i],
      capturedRows: countRows(path.join(captureRoot, c.capture)),
    }));
  } finally {
    for (const srv of servers) if (srv.proc.exitCode === null) srv.proc.kill('SIGKILL');
    fs.rmSync(dir, { recursive: true, force: true });
    fs.rmSync(captureRoot, { recursive: true, force: true });
  }
}
