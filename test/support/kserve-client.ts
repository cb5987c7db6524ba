import * as path from 'node:path';
// A small KServe v2 HTTP client for tests and benchmarks: JSON requests, and Triton's binary tensor extension
// the way tritonclient.http sends it (JSON header, then raw little-endian tensors).
import * as http from 'node:http';
import * as ort from 'onnxruntime-node';
import { fromFloat16Bits, toFloat16Bits } from '../../src/inference/datatypes';

export const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** Options of {@link request}. */
export interface RequestOptions {
  /** A new connection instead of a pooled keep-alive one. */
  fresh?: boolean;
  /** Called once the request's connection is established. */
  onConnect?: () => void;
  /** The agent to use instead of the shared keep-alive one. */
  agent?: http.Agent;
}

/** One HTTP request to 127.0.0.1. */
export function request(
  url: string,
  method: string,
  body?: Buffer | string,
  headers: Record<string, string | number> = {},
  options: RequestOptions = {},
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      {
        method,
        agent: options.fresh ? false : (options.agent ?? agent),
        headers: body !== undefined ? { 'Content-Length': Buffer.byteLength(body), ...headers } : headers,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (options.onConnect) {
      const onConnect = options.onConnect;
      req.on('socket', (socket) => (socket.connecting ? socket.once('connect', onConnect) : onConnect()));
    }
    req.setTimeout(30_000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    if (body !== undefined) req.write(body);
    req.end();
  });
}

export const json = (r: HttpResponse): Record<string, unknown> =>
  JSON.parse(r.body.toString('utf8')) as Record<string, unknown>;

/** KServe datatype of an ORT tensor type. */
export const KSERVE: Record<string, string> = {
  bool: 'BOOL',
  uint8: 'UINT8',
  int8: 'INT8',
  uint16: 'UINT16',
  int16: 'INT16',
  int32: 'INT32',
  int64: 'INT64',
  float16: 'FP16',
  float32: 'FP32',
  float64: 'FP64',
  string: 'BYTES',
};

export interface OutputTensor {
  name: string;
  datatype: string;
  shape: number[];
  data: unknown[];
}

/** Plain values of an ORT tensor, as the JSON protocol carries them (bigints as numbers, bools as booleans). */
export function plainValues(t: ort.Tensor): unknown[] {
  const d = t.data as ArrayLike<unknown>;
  if (t.type === 'bool') return Array.from(d as Uint8Array, (v) => v === 1);
  if (t.type === 'int64' || t.type === 'uint64') return Array.from(d as BigInt64Array, Number);
  return Array.from(d);
}

/** Sends an inference request with JSON data. */
export async function inferJson(
  base: string,
  model: string,
  inputs: Record<string, ort.Tensor>,
  extra: Record<string, unknown> = {},
): Promise<{ status: number; body: Record<string, unknown>; outputs: Record<string, OutputTensor> }> {
  const req = {
    ...extra,
    inputs: Object.entries(inputs).map(([name, t]) => ({
      name,
      datatype: KSERVE[t.type],
      shape: t.dims,
      data: t.type === 'float16' ? Array.from(t.data as Uint16Array, fromFloat16Bits) : plainValues(t),
    })),
  };
  const r = await request(`${base}/v2/models/${model}/infer`, 'POST', JSON.stringify(req), {
    'Content-Type': 'application/json',
  });
  const body = json(r);
  const outputs: Record<string, OutputTensor> = {};
  for (const o of (body.outputs as OutputTensor[] | undefined) ?? []) outputs[o.name] = o;
  return { status: r.status, body, outputs };
}

/** Triton's binary form of a tensor (little-endian; BYTES as 4-byte length + bytes). */
export function binaryOf(t: ort.Tensor): Buffer {
  if (t.type === 'string') {
    return Buffer.concat(
      (t.data as string[]).flatMap((s) => {
        const b = Buffer.from(s);
        const l = Buffer.alloc(4);
        l.writeUInt32LE(b.length);
        return [l, b];
      }),
    );
  }
  const v = t.data as Uint8Array;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Sends an inference request with Triton's binary tensor extension and asks for binary outputs. */
export async function inferBinary(
  base: string,
  model: string,
  inputs: Record<string, ort.Tensor>,
): Promise<{ status: number; header: Record<string, unknown>; outputs: Record<string, ort.Tensor> }> {
  const blobs = Object.values(inputs).map(binaryOf);
  const header = Buffer.from(
    JSON.stringify({
      inputs: Object.entries(inputs).map(([name, t], i) => ({
        name,
        datatype: KSERVE[t.type],
        shape: t.dims,
        parameters: { binary_data_size: blobs[i].length },
      })),
      parameters: { binary_data_output: true },
    }),
  );
  const r = await request(`${base}/v2/models/${model}/infer`, 'POST', Buffer.concat([header, ...blobs]), {
    'Content-Type': 'application/octet-stream',
    'Inference-Header-Content-Length': header.length,
  });
  if (r.status !== 200) return { status: r.status, header: json(r), outputs: {} };
  const n = Number(r.headers['inference-header-content-length']);
  const head = JSON.parse(r.body.subarray(0, n).toString('utf8')) as {
    outputs: { name: string; datatype: string; shape: number[]; parameters: { binary_data_size: number } }[];
  };
  let off = n;
  const outputs: Record<string, ort.Tensor> = {};
  for (const o of head.outputs) {
    const size = o.parameters.binary_data_size;
    const bytes = r.body.subarray(off, off + size);
    off += size;
    const copy = new Uint8Array(size);
    copy.set(bytes);
    const type = Object.keys(KSERVE).find((k) => KSERVE[k] === o.datatype) as ort.Tensor.Type;
    if (type === 'string') {
      const strs: string[] = [];
      let p = 0;
      while (p < bytes.length) {
        const len = bytes.readUInt32LE(p);
        strs.push(bytes.toString('utf8', p + 4, p + 4 + len));
        p += 4 + len;
      }
      outputs[o.name] = new ort.Tensor('string', strs, o.shape);
    } else {
      const Ctor = {
        bool: Uint8Array,
        uint8: Uint8Array,
        int8: Int8Array,
        uint16: Uint16Array,
        int16: Int16Array,
        int32: Int32Array,
        int64: BigInt64Array,
        float16: Uint16Array,
        float32: Float32Array,
        float64: Float64Array,
      }[type as 'float32'];
      outputs[o.name] = new ort.Tensor(type, new Ctor(copy.buffer) as never, o.shape);
    }
  }
  return { status: r.status, header: head as unknown as Record<string, unknown>, outputs };
}

/** A deterministic FP32 tensor. */
export function randomTensor(dims: number[], seed: number): ort.Tensor {
  const n = dims.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = Math.round(((s / 2 ** 32) * 2 - 1) * 1000) / 1000;
  }
  return new ort.Tensor('float32', data, dims);
}

/** A counter of one model (any version) from the server's /metrics; 0 when it has no sample yet. */
export async function metricValue(base: string, name: string, model: string): Promise<number> {
  const text = (await request(`${base}/metrics`, 'GET')).body.toString();
  const m = new RegExp(`^${name}\\{model="${model}",version="\\d+"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

/** What onnxruntime itself answers for a fixture model (`test/fixtures/models/<model>.onnx`): the oracle of the tests. */
export async function directRun(
  model: string,
  feeds: Record<string, ort.Tensor>,
): Promise<Record<string, ort.Tensor>> {
  const s = await ort.InferenceSession.create(
    path.join(__dirname, '..', 'fixtures', 'models', `${model}.onnx`),
  );
  try {
    return await s.run(feeds);
  } finally {
    await s.release();
  }
}

/**
 * One [2, 2] tensor per input of the identity fixture model, with each datatype's extremes; `int64` the INT64
 * values (JSON carries integers exactly only up to 2^53, gRPC's int64 contents every bit).
 */
export function everyDatatypeFeeds(int64: readonly bigint[]): Record<string, ort.Tensor> {
  return {
    in_BOOL: new ort.Tensor('bool', Uint8Array.from([1, 0, 0, 1]), [2, 2]),
    in_UINT8: new ort.Tensor('uint8', Uint8Array.from([0, 255, 7, 8]), [2, 2]),
    in_INT8: new ort.Tensor('int8', Int8Array.from([-128, 127, 0, -1]), [2, 2]),
    in_INT16: new ort.Tensor('int16', Int16Array.from([-32768, 32767, 1, 2]), [2, 2]),
    in_UINT16: new ort.Tensor('uint16', Uint16Array.from([0, 65535, 3, 4]), [2, 2]),
    in_INT32: new ort.Tensor('int32', Int32Array.from([-2147483648, 2147483647, 5, 6]), [2, 2]),
    in_INT64: new ort.Tensor('int64', BigInt64Array.from(int64), [2, 2]),
    in_FP16: new ort.Tensor('float16', Uint16Array.from([1.5, -2, 0.25, 65504].map(toFloat16Bits)), [2, 2]),
    in_FP32: new ort.Tensor('float32', Float32Array.from([1.25, -3.5, 1e-7, 3.4e38]), [2, 2]),
    in_FP64: new ort.Tensor('float64', Float64Array.from([Math.PI, -Math.E, 1e-300, 1e300]), [2, 2]),
    in_BYTES: new ort.Tensor('string', ['héllo', '', 'wörld', '🚀'], [2, 2]),
  };
}
