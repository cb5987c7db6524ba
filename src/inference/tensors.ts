import * as ort from 'onnxruntime-node';
import {
  elementSize,
  fromFloat16Bits,
  isKServeDatatype,
  type KServeDatatype,
  kserveFromOrt,
  ortFromKserve,
  toFloat16Bits,
} from './datatypes';
import type { TensorSignature } from './inspect';

/** A request error: becomes a KServe-style `{"error": …}` response with this status. */
export class InferenceError extends Error {
  constructor(
    public readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'InferenceError';
  }
}

const bad = (message: string) => new InferenceError(400, message);

/** One input of a KServe v2 inference request, as JSON. */
export interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters?: Record<string, unknown>;
  data?: unknown;
}

/** Integer ranges of the JSON-carried integer types. */
const INT_RANGE: Partial<Record<KServeDatatype, [number, number]>> = {
  UINT8: [0, 255],
  INT8: [-128, 127],
  UINT16: [0, 65535],
  INT16: [-32768, 32767],
  UINT32: [0, 4294967295],
  INT32: [-2147483648, 2147483647],
  INT64: [Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER],
  UINT64: [0, Number.MAX_SAFE_INTEGER],
};

function product(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** The typed array of each fixed-size datatype (FP16 as its raw bits, BOOL as bytes). */
const TYPED: Record<string, new (lengthOrBuffer: number | ArrayBuffer) => ArrayLike<number | bigint>> = {
  UINT8: Uint8Array,
  INT8: Int8Array,
  UINT16: Uint16Array,
  INT16: Int16Array,
  UINT32: Uint32Array,
  INT32: Int32Array,
  INT64: BigInt64Array,
  UINT64: BigUint64Array,
  FP16: Uint16Array,
  FP32: Float32Array,
  FP64: Float64Array,
  BOOL: Uint8Array,
};

/**
 * Flattens nested `data` arrays (row-major), as the protocol allows: at most one level of nesting per dimension of
 * the shape, so that a deeply nested body is the client's error (400), never a stack overflow.
 */
function flatten(data: unknown, name: string, rank: number): unknown[] {
  if (!Array.isArray(data)) throw bad(`input '${name}': 'data' must be an array`);
  if (!data.some(Array.isArray)) return data;
  const maxDepth = Math.max(1, rank);
  const out: unknown[] = [];
  const walk = (x: unknown[], depth: number) => {
    if (depth > maxDepth) {
      throw bad(`input '${name}': 'data' is nested deeper than the ${rank} dimension(s) of its shape`);
    }
    for (const y of x) {
      if (Array.isArray(y)) walk(y, depth + 1);
      else out.push(y);
    }
  };
  walk(data, 1);
  return out;
}

/** Checks a request input's name, datatype and shape against the model's, before any data is read. */
export function checkInputHeader(input: RequestInput, model: TensorSignature, maxBatchSize: number): void {
  const name = model.name;
  if (!isKServeDatatype(input.datatype)) {
    throw bad(`input '${name}': unknown datatype ${JSON.stringify(input.datatype)}`);
  }
  if (input.datatype !== model.datatype) {
    throw bad(`input '${name}': datatype ${input.datatype} does not match the model's ${model.datatype}`);
  }
  const shape = input.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw bad(
      `input '${name}': 'shape' must be a list of non-negative integers, got ${JSON.stringify(shape)}`,
    );
  }
  const expected = model.shape;
  const show = (s: readonly number[]) => `[${s.join(',')}]`;
  if (shape.length !== expected.length || shape.some((d, i) => expected[i] !== -1 && d !== expected[i])) {
    throw bad(
      `input '${name}': shape ${show(shape)} does not match the model's ${show(expected)} (-1 is any size)`,
    );
  }
  if (maxBatchSize > 0 && (shape[0] < 1 || shape[0] > maxBatchSize)) {
    throw bad(`input '${name}': batch size ${shape[0]} is outside 1..${maxBatchSize} (max_batch_size)`);
  }
}

/** Builds an onnxruntime tensor from a JSON `data` field, checking count, types and ranges. */
export function tensorFromJson(input: RequestInput, datatype: KServeDatatype): ort.Tensor {
  const name = input.name;
  if (input.data === undefined) throw bad(`input '${name}': no 'data' and no binary_data_size`);
  const flat = flatten(input.data, name, Array.isArray(input.shape) ? input.shape.length : 1);
  const count = product(input.shape);
  if (flat.length !== count) {
    throw bad(
      `input '${name}': data has ${flat.length} elements but shape [${input.shape.join(',')}] needs ${count}`,
    );
  }
  const type = ortFromKserve(datatype);
  const wrong = (i: number, want: string) =>
    bad(`input '${name}': element ${i} (${JSON.stringify(flat[i])}) is not ${want} for datatype ${datatype}`);
  switch (datatype) {
    case 'BYTES':
      flat.forEach((v, i) => {
        if (typeof v !== 'string') throw wrong(i, 'a string');
      });
      return new ort.Tensor('string', flat as string[], input.shape);
    case 'BOOL': {
      const out = new Uint8Array(count);
      flat.forEach((v, i) => {
        if (typeof v !== 'boolean') throw wrong(i, 'true or false');
        out[i] = v ? 1 : 0;
      });
      return new ort.Tensor('bool', out, input.shape);
    }
    case 'FP16': {
      const out = new Uint16Array(count);
      flat.forEach((v, i) => {
        if (typeof v !== 'number') throw wrong(i, 'a number');
        out[i] = toFloat16Bits(v);
      });
      return new ort.Tensor('float16', out, input.shape);
    }
    case 'FP32':
    case 'FP64': {
      const out = datatype === 'FP32' ? new Float32Array(count) : new Float64Array(count);
      flat.forEach((v, i) => {
        if (typeof v !== 'number') throw wrong(i, 'a number');
        out[i] = v;
      });
      return new ort.Tensor(type, out, input.shape);
    }
    case 'INT64':
    case 'UINT64': {
      const out = datatype === 'INT64' ? new BigInt64Array(count) : new BigUint64Array(count);
      const [lo, hi] = INT_RANGE[datatype]!;
      // JSON numbers are exact up to 2^53; a bigint (gRPC's 64-bit contents) may use the type's whole range.
      const [blo, bhi] = datatype === 'INT64' ? [-(1n << 63n), (1n << 63n) - 1n] : [0n, (1n << 64n) - 1n];
      flat.forEach((v, i) => {
        if (typeof v === 'bigint') {
          if (v < blo || v > bhi) throw wrong(i, `an integer in ${blo}..${bhi}`);
          out[i] = v;
          return;
        }
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
          throw wrong(i, `an integer in ${lo}..${hi}`);
        out[i] = BigInt(v);
      });
      return new ort.Tensor(type, out, input.shape);
    }
    default: {
      const [lo, hi] = INT_RANGE[datatype]!;
      const out = new TYPED[datatype](count) as Int32Array;
      flat.forEach((v, i) => {
        if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi)
          throw wrong(i, `an integer in ${lo}..${hi}`);
        out[i] = v;
      });
      return new ort.Tensor(type, out, input.shape);
    }
  }
}

/** Builds a tensor from Triton's binary tensor data (little-endian; BYTES as 4-byte length + bytes). */
export function tensorFromBinary(input: RequestInput, datatype: KServeDatatype, bytes: Buffer): ort.Tensor {
  const name = input.name;
  const count = product(input.shape);
  if (datatype === 'BYTES') {
    const out: string[] = [];
    let off = 0;
    while (off < bytes.length) {
      if (off + 4 > bytes.length)
        throw bad(`input '${name}': binary BYTES element ${out.length} has a truncated length prefix`);
      const len = bytes.readUInt32LE(off);
      off += 4;
      if (off + len > bytes.length)
        throw bad(`input '${name}': binary BYTES element ${out.length} is truncated`);
      out.push(bytes.toString('utf8', off, off + len));
      off += len;
    }
    if (out.length !== count) {
      throw bad(
        `input '${name}': binary data has ${out.length} elements but shape [${input.shape.join(',')}] needs ${count}`,
      );
    }
    return new ort.Tensor('string', out, input.shape);
  }
  const size = elementSize(datatype);
  if (bytes.length !== count * size) {
    throw bad(
      `input '${name}': binary data has ${bytes.length} bytes but shape [${input.shape.join(',')}] of ${datatype} needs ${count * size}`,
    );
  }
  // Copy into an aligned buffer of its own: the request body slice may start at any offset.
  const buf = new ArrayBuffer(bytes.length);
  new Uint8Array(buf).set(bytes);
  const Ctor = TYPED[datatype];
  return new ort.Tensor(ortFromKserve(datatype), new Ctor(buf) as never, input.shape);
}

/** The KServe datatype of an output tensor. */
export function tensorDatatype(t: ort.Tensor): KServeDatatype {
  const dt = kserveFromOrt(t.type);
  if (!dt) throw new InferenceError(500, `output of type ${t.type} cannot be returned`);
  return dt;
}

/** JSON text of a tensor's data, flat; 64-bit integers are written in full. */
export function tensorDataJson(t: ort.Tensor): string {
  const dt = tensorDatatype(t);
  const data = t.data as ArrayLike<unknown>;
  switch (dt) {
    case 'BYTES':
      return JSON.stringify(data);
    case 'BOOL':
      return `[${Array.from(data as Uint8Array, (v) => (v ? 'true' : 'false')).join(',')}]`;
    case 'FP16':
      return JSON.stringify(Array.from(data as Uint16Array, fromFloat16Bits));
    case 'INT64':
    case 'UINT64':
      return `[${Array.from(data as BigInt64Array, String).join(',')}]`;
    default:
      return JSON.stringify(Array.from(data as Float32Array));
  }
}

/** Triton's binary form of a tensor's data. */
export function tensorDataBinary(t: ort.Tensor): Buffer {
  if (t.type === 'string') {
    const parts: Buffer[] = [];
    for (const s of t.data as string[]) {
      const b = Buffer.from(s, 'utf8');
      const len = Buffer.alloc(4);
      len.writeUInt32LE(b.length);
      parts.push(len, b);
    }
    return Buffer.concat(parts);
  }
  const v = t.data as Uint8Array;
  return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Concatenates tensors of one input along the first dimension. */
export function concatBatch(tensors: readonly ort.Tensor[]): ort.Tensor {
  if (tensors.length === 1) return tensors[0];
  const first = tensors[0];
  const batch = tensors.reduce((n, t) => n + t.dims[0], 0);
  const dims = [batch, ...first.dims.slice(1)];
  if (first.type === 'string') {
    return new ort.Tensor(
      'string',
      tensors.flatMap((t) => t.data as string[]),
      dims,
    );
  }
  const total = tensors.reduce((n, t) => n + (t.data as Uint8Array).length, 0);
  const Ctor = (first.data as Uint8Array).constructor as new (n: number) => Uint8Array;
  const out = new Ctor(total);
  let off = 0;
  for (const t of tensors) {
    out.set(t.data as Uint8Array, off);
    off += (t.data as Uint8Array).length;
  }
  return new ort.Tensor(first.type, out as never, dims);
}

/** Splits a batched output back into per-request tensors of the given batch sizes. */
export function splitBatch(t: ort.Tensor, sizes: readonly number[]): ort.Tensor[] {
  if (sizes.length === 1) return [t];
  const total = sizes.reduce((a, b) => a + b, 0);
  if (t.dims[0] !== total) {
    throw new InferenceError(
      500,
      `model output has first dimension ${t.dims[0]}, expected the batch size ${total}`,
    );
  }
  const per = product(t.dims.slice(1));
  const out: ort.Tensor[] = [];
  let off = 0;
  for (const n of sizes) {
    const dims = [n, ...t.dims.slice(1)];
    const data =
      t.type === 'string'
        ? (t.data as string[]).slice(off * per, (off + n) * per)
        : (t.data as Uint8Array).slice(off * per, (off + n) * per);
    out.push(new ort.Tensor(t.type, data as never, dims));
    off += n;
  }
  return out;
}
