/**
 * Reads an ONNX model's inputs and outputs straight from its protobuf encoding, without onnxruntime: synth needs
 * only the signature, and this keeps onnxruntime-node (about 290 MB installed) out of a consumer's install.
 *
 * It decodes the few messages the signature lives in — ModelProto.graph, GraphProto.input/output/initializer,
 * ValueInfoProto, TypeProto.Tensor, TensorShapeProto — and skips everything else (node lists, initializer data)
 * without copying it. As onnxruntime does, graph inputs that are also initializers are not model inputs.
 * @see https://github.com/onnx/onnx/blob/main/onnx/onnx.proto
 */

/** An input or output as onnxruntime's session metadata describes it. */
export interface OnnxValueInfo {
  readonly name: string;
  readonly isTensor: boolean;
  /** onnxruntime's tensor type name (`float32`, `int64`, …); the ONNX type name when onnxruntime has none. */
  readonly type: string;
  /** Dimensions: a number when fixed, the symbol (or '') when dynamic. */
  readonly shape: readonly (number | string)[];
}

/** A model's graph inputs (initializers excluded) and outputs. */
export interface OnnxGraphSignature {
  readonly irVersion: number;
  readonly inputs: readonly OnnxValueInfo[];
  readonly outputs: readonly OnnxValueInfo[];
}

/** Malformed protobuf, or not a model. */
export class OnnxDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OnnxDecodeError';
  }
}

/** ONNX TensorProto.DataType → onnxruntime-node's tensor type names. */
const ELEM_TYPES: Readonly<Record<number, string>> = {
  1: 'float32',
  2: 'uint8',
  3: 'int8',
  4: 'uint16',
  5: 'int16',
  6: 'int32',
  7: 'int64',
  8: 'string',
  9: 'bool',
  10: 'float16',
  11: 'float64',
  12: 'uint32',
  13: 'uint64',
  14: 'complex64',
  15: 'complex128',
  16: 'bfloat16',
  17: 'float8e4m3fn',
  18: 'float8e4m3fnuz',
  19: 'float8e5m2',
  20: 'float8e5m2fnuz',
  21: 'uint4',
  22: 'int4',
};

const WIRE = { VARINT: 0, I64: 1, LEN: 2, I32: 5 } as const;

interface Field {
  readonly no: number;
  readonly wire: number;
  /** VARINT value. */
  readonly value: number;
  /** LEN payload bounds. */
  readonly start: number;
  readonly end: number;
}

/** Iterates the fields of one message in `buf[start, end)`. */
function* fields(buf: Uint8Array, start: number, end: number): Generator<Field> {
  let pos = start;
  const varint = (): number => {
    let result = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw new OnnxDecodeError('truncated varint');
      const b = buf[pos++];
      result += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return result;
      scale *= 128;
    }
    throw new OnnxDecodeError('varint longer than 10 bytes');
  };
  while (pos < end) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key % 8;
    if (no === 0) throw new OnnxDecodeError('field number 0');
    switch (wire) {
      case WIRE.VARINT:
        yield { no, wire, value: varint(), start: pos, end: pos };
        break;
      case WIRE.I64:
        if (pos + 8 > end) throw new OnnxDecodeError('truncated fixed64');
        pos += 8;
        break;
      case WIRE.I32:
        if (pos + 4 > end) throw new OnnxDecodeError('truncated fixed32');
        pos += 4;
        break;
      case WIRE.LEN: {
        const len = varint();
        if (pos + len > end) throw new OnnxDecodeError('length-delimited field runs past its message');
        yield { no, wire, value: len, start: pos, end: pos + len };
        pos += len;
        break;
      }
      default:
        throw new OnnxDecodeError(`wire type ${wire} is not one ONNX uses`);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: false });
const text = (buf: Uint8Array, f: Field) => utf8.decode(buf.subarray(f.start, f.end));

/** The first LEN field `no` of a message, if any. */
function child(buf: Uint8Array, start: number, end: number, no: number): Field | undefined {
  for (const f of fields(buf, start, end)) if (f.no === no && f.wire === WIRE.LEN) return f;
  return undefined;
}

function readShape(buf: Uint8Array, shape: Field): (number | string)[] {
  const dims: (number | string)[] = [];
  for (const d of fields(buf, shape.start, shape.end)) {
    if (d.no !== 1 || d.wire !== WIRE.LEN) continue;
    let dim: number | string = '';
    for (const x of fields(buf, d.start, d.end)) {
      // dim_value is an int64: a negative one arrives as a ten-byte two's complement varint.
      if (x.no === 1 && x.wire === WIRE.VARINT) dim = x.value > Number.MAX_SAFE_INTEGER ? -1 : x.value;
      if (x.no === 2 && x.wire === WIRE.LEN) dim = text(buf, x);
    }
    dims.push(dim);
  }
  return dims;
}

function readValueInfo(buf: Uint8Array, v: Field): OnnxValueInfo {
  let name = '';
  let type: Field | undefined;
  for (const f of fields(buf, v.start, v.end)) {
    if (f.no === 1 && f.wire === WIRE.LEN) name = text(buf, f);
    if (f.no === 2 && f.wire === WIRE.LEN) type = f;
  }
  if (!type) return { name, isTensor: false, type: 'unknown', shape: [] };
  for (const t of fields(buf, type.start, type.end)) {
    if (t.wire !== WIRE.LEN) continue;
    if (t.no === 1) {
      let elem = 0;
      let shape: (number | string)[] = [];
      for (const x of fields(buf, t.start, t.end)) {
        if (x.no === 1 && x.wire === WIRE.VARINT) elem = x.value;
        if (x.no === 2 && x.wire === WIRE.LEN) shape = readShape(buf, x);
      }
      return { name, isTensor: true, type: ELEM_TYPES[elem] ?? `onnx type ${elem}`, shape };
    }
    const kinds: Record<number, string> = { 4: 'sequence', 5: 'map', 8: 'sparse tensor', 9: 'optional' };
    if (kinds[t.no]) return { name, isTensor: false, type: kinds[t.no], shape: [] };
  }
  return { name, isTensor: false, type: 'unknown', shape: [] };
}

/**
 * The signature of an encoded ONNX model.
 * @throws {OnnxDecodeError} when the bytes are not a well-formed model
 */
export function readOnnxSignature(buf: Uint8Array): OnnxGraphSignature {
  let irVersion = 0;
  let graph: Field | undefined;
  for (const f of fields(buf, 0, buf.length)) {
    if (f.no === 1 && f.wire === WIRE.VARINT) irVersion = f.value;
    if (f.no === 7 && f.wire === WIRE.LEN) graph = f;
  }
  if (!graph) throw new OnnxDecodeError('no graph');
  if (irVersion === 0) throw new OnnxDecodeError('no ir_version');
  const inputs: OnnxValueInfo[] = [];
  const outputs: OnnxValueInfo[] = [];
  const initializers = new Set<string>();
  for (const f of fields(buf, graph.start, graph.end)) {
    if (f.wire !== WIRE.LEN) continue;
    if (f.no === 11) inputs.push(readValueInfo(buf, f));
    else if (f.no === 12) outputs.push(readValueInfo(buf, f));
    else if (f.no === 5) {
      const name = child(buf, f.start, f.end, 8);
      if (name) initializers.add(text(buf, name));
    } else if (f.no === 15) {
      // SparseTensorProto.values is a TensorProto whose name is the initializer's.
      const values = child(buf, f.start, f.end, 1);
      const name = values && child(buf, values.start, values.end, 8);
      if (name) initializers.add(text(buf, name));
    }
  }
  return { irVersion, inputs: inputs.filter((i) => !initializers.has(i.name)), outputs };
}
