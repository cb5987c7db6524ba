// Builds small ONNX models with onnx-proto (protobufjs), for tests and benchmarks. Deterministic: the same
// call gives the same bytes.
import { onnx } from 'onnx-proto';

const T = onnx.TensorProto.DataType;
export { T as OnnxType };

export interface ValueInfo {
  name: string;
  type: onnx.TensorProto.DataType;
  /** Numbers are fixed dims, strings symbolic (dynamic) dims. */
  shape: (number | string)[];
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  attributes?: Record<string, number | number[] | string>;
}

export interface Initializer {
  name: string;
  dims: number[];
  /** FLOAT data. */
  floats?: number[];
  /** INT64 data. */
  int64s?: number[];
}

function valueInfo(v: ValueInfo): onnx.IValueInfoProto {
  return {
    name: v.name,
    type: {
      tensorType: {
        elemType: v.type,
        shape: { dim: v.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attribute(name: string, value: number | number[] | string): onnx.IAttributeProto {
  if (typeof value === 'string')
    return { name, type: onnx.AttributeProto.AttributeType.STRING, s: new TextEncoder().encode(value) };
  if (Array.isArray(value)) return { name, type: onnx.AttributeProto.AttributeType.INTS, ints: value };
  if (Number.isInteger(value)) return { name, type: onnx.AttributeProto.AttributeType.INT, i: value };
  return { name, type: onnx.AttributeProto.AttributeType.FLOAT, f: value };
}

/** Encodes a model (opset 17) with the given graph. */
export function buildModel(spec: {
  name: string;
  inputs: ValueInfo[];
  outputs: ValueInfo[];
  nodes: NodeSpec[];
  initializers?: Initializer[];
}): Uint8Array {
  const model: onnx.IModelProto = {
    irVersion: 8,
    producerName: 'mlstack-tests',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: spec.name,
      input: spec.inputs.map(valueInfo),
      output: spec.outputs.map(valueInfo),
      node: spec.nodes.map((n, i) => ({
        name: `${n.op}_${i}`,
        opType: n.op,
        input: n.inputs,
        output: n.outputs,
        attribute: Object.entries(n.attributes ?? {}).map(([k, v]) => attribute(k, v)),
      })),
      initializer: (spec.initializers ?? []).map((init) =>
        init.int64s
          ? { name: init.name, dims: init.dims, dataType: T.INT64, int64Data: init.int64s }
          : { name: init.name, dims: init.dims, dataType: T.FLOAT, floatData: init.floats ?? [] },
      ),
    },
  };
  return onnx.ModelProto.encode(onnx.ModelProto.create(model)).finish();
}

/** A seeded pseudo-random generator (mulberry32), so weights are the same on every run. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weights(n: number, seed: number, scale = 0.5): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => Math.round((r() * 2 - 1) * scale * 1e4) / 1e4);
}

/** MLP: x FP32 [batch, 16] → 32 → ReLU → y FP32 [batch, 4]. */
export function mlpModel(): Uint8Array {
  return buildModel({
    name: 'mlp',
    inputs: [{ name: 'x', type: T.FLOAT, shape: ['batch', 16] }],
    outputs: [{ name: 'y', type: T.FLOAT, shape: ['batch', 4] }],
    initializers: [
      { name: 'w1', dims: [16, 32], floats: weights(16 * 32, 1) },
      { name: 'b1', dims: [32], floats: weights(32, 2) },
      { name: 'w2', dims: [32, 4], floats: weights(32 * 4, 3) },
      { name: 'b2', dims: [4], floats: weights(4, 4) },
    ],
    nodes: [
      { op: 'MatMul', inputs: ['x', 'w1'], outputs: ['h0'] },
      { op: 'Add', inputs: ['h0', 'b1'], outputs: ['h1'] },
      { op: 'Relu', inputs: ['h1'], outputs: ['h2'] },
      { op: 'MatMul', inputs: ['h2', 'w2'], outputs: ['h3'] },
      { op: 'Add', inputs: ['h3', 'b2'], outputs: ['y'] },
    ],
  });
}

/** Small CNN: image FP32 [batch, 3, 32, 32] → two 3×3 convs → global pool → logits FP32 [batch, 10]. */
export function cnnModel(): Uint8Array {
  return buildModel({
    name: 'cnn',
    inputs: [{ name: 'image', type: T.FLOAT, shape: ['batch', 3, 32, 32] }],
    outputs: [{ name: 'logits', type: T.FLOAT, shape: ['batch', 10] }],
    initializers: [
      { name: 'c1w', dims: [16, 3, 3, 3], floats: weights(16 * 27, 11, 0.3) },
      { name: 'c1b', dims: [16], floats: weights(16, 12, 0.1) },
      { name: 'c2w', dims: [32, 16, 3, 3], floats: weights(32 * 144, 13, 0.1) },
      { name: 'c2b', dims: [32], floats: weights(32, 14, 0.1) },
      { name: 'fw', dims: [32, 10], floats: weights(320, 15) },
      { name: 'fb', dims: [10], floats: weights(10, 16, 0.1) },
    ],
    nodes: [
      { op: 'Conv', inputs: ['image', 'c1w', 'c1b'], outputs: ['a1'], attributes: { pads: [1, 1, 1, 1] } },
      { op: 'Relu', inputs: ['a1'], outputs: ['r1'] },
      {
        op: 'Conv',
        inputs: ['r1', 'c2w', 'c2b'],
        outputs: ['a2'],
        attributes: { pads: [1, 1, 1, 1], strides: [2, 2] },
      },
      { op: 'Relu', inputs: ['a2'], outputs: ['r2'] },
      { op: 'GlobalAveragePool', inputs: ['r2'], outputs: ['p'] },
      { op: 'Flatten', inputs: ['p'], outputs: ['f'], attributes: { axis: 1 } },
      { op: 'MatMul', inputs: ['f', 'fw'], outputs: ['m'] },
      { op: 'Add', inputs: ['m', 'fb'], outputs: ['logits'] },
    ],
  });
}

/** Two inputs of different types: a FP32 [batch, 4] and b INT64 [batch, 4] → sum FP32, b_plus_one INT64. */
export function twoInputsModel(): Uint8Array {
  return buildModel({
    name: 'two_inputs',
    inputs: [
      { name: 'a', type: T.FLOAT, shape: ['batch', 4] },
      { name: 'b', type: T.INT64, shape: ['batch', 4] },
    ],
    outputs: [
      { name: 'sum', type: T.FLOAT, shape: ['batch', 4] },
      { name: 'b_plus_one', type: T.INT64, shape: ['batch', 4] },
    ],
    initializers: [{ name: 'one', dims: [], int64s: [1] }],
    nodes: [
      { op: 'Cast', inputs: ['b'], outputs: ['bf'], attributes: { to: T.FLOAT } },
      { op: 'Add', inputs: ['a', 'bf'], outputs: ['sum'] },
      { op: 'Add', inputs: ['b', 'one'], outputs: ['b_plus_one'] },
    ],
  });
}

/** Fixed batch of one: x FP32 [1, 3] → y = 2x. No dynamic batch dimension. */
export function fixedBatchModel(): Uint8Array {
  return buildModel({
    name: 'fixed_batch',
    inputs: [{ name: 'x', type: T.FLOAT, shape: [1, 3] }],
    outputs: [{ name: 'y', type: T.FLOAT, shape: [1, 3] }],
    initializers: [{ name: 'two', dims: [], floats: [2] }],
    nodes: [{ op: 'Mul', inputs: ['x', 'two'], outputs: ['y'] }],
  });
}

/** Variable length: x FP32 [batch, len] → y = relu(x) [batch, len]; requests of different len cannot merge. */
export function variableLengthModel(): Uint8Array {
  return buildModel({
    name: 'varlen',
    inputs: [{ name: 'x', type: T.FLOAT, shape: ['batch', 'len'] }],
    outputs: [{ name: 'y', type: T.FLOAT, shape: ['batch', 'len'] }],
    nodes: [{ op: 'Relu', inputs: ['x'], outputs: ['y'] }],
  });
}

/**
 * A deliberately slow model for queueing and shutdown tests: x FP32 [batch, 1024] → `layers` × (MatMul with one
 * shared 1024×1024 weight, Tanh) → y. Built at test time, not committed (the weight is 4 MiB).
 */
export function slowModel(layers = 40): Uint8Array {
  const nodes: NodeSpec[] = [];
  let prev = 'x';
  for (let i = 0; i < layers; i++) {
    nodes.push(
      { op: 'MatMul', inputs: [prev, 'w'], outputs: [`m${i}`] },
      { op: 'Tanh', inputs: [`m${i}`], outputs: [i === layers - 1 ? 'y' : `t${i}`] },
    );
    prev = `t${i}`;
  }
  return buildModel({
    name: 'slow',
    inputs: [{ name: 'x', type: T.FLOAT, shape: ['batch', 1024] }],
    outputs: [{ name: 'y', type: T.FLOAT, shape: ['batch', 1024] }],
    initializers: [{ name: 'w', dims: [1024, 1024], floats: weights(1024 * 1024, 99, 0.03) }],
    nodes,
  });
}

/** The datatypes of {@link identityModel}, ONNX type by KServe name. */
export const IDENTITY_TYPES: Record<string, onnx.TensorProto.DataType> = {
  BOOL: T.BOOL,
  UINT8: T.UINT8,
  INT8: T.INT8,
  INT16: T.INT16,
  UINT16: T.UINT16,
  INT32: T.INT32,
  INT64: T.INT64,
  FP16: T.FLOAT16,
  FP32: T.FLOAT,
  FP64: T.DOUBLE,
  BYTES: T.STRING,
};

/** Identity for every served datatype (or those of `names`): input `in_<TYPE>` [batch, 2] → output `out_<TYPE>`. */
export function identityModel(names: readonly string[] = Object.keys(IDENTITY_TYPES)): Uint8Array {
  return buildModel({
    name: 'identity',
    inputs: names.map((n) => ({ name: `in_${n}`, type: IDENTITY_TYPES[n], shape: ['batch', 2] })),
    outputs: names.map((n) => ({ name: `out_${n}`, type: IDENTITY_TYPES[n], shape: ['batch', 2] })),
    nodes: names.map((n) => ({ op: 'Identity', inputs: [`in_${n}`], outputs: [`out_${n}`] })),
  });
}

/**
 * An embedding lookup: ids INT64 [batch, 1] → Gather on a 10 × 4 table (row i is i, i+0.25, i+0.5, i+0.75) →
 * vectors FP32 [batch, 1, 4]. An id outside 0..9 makes onnxruntime fail the whole run it is part of.
 */
export function embeddingModel(): Uint8Array {
  return buildModel({
    name: 'embedding',
    inputs: [{ name: 'ids', type: T.INT64, shape: ['batch', 1] }],
    outputs: [{ name: 'vectors', type: T.FLOAT, shape: ['batch', 1, 4] }],
    nodes: [{ op: 'Gather', inputs: ['table', 'ids'], outputs: ['vectors'], attributes: { axis: 0 } }],
    initializers: [
      {
        name: 'table',
        dims: [10, 4],
        floats: Array.from({ length: 40 }, (_, i) => Math.floor(i / 4) + (i % 4) / 4),
      },
    ],
  });
}

/**
 * A valid model onnxruntime cannot load: BitShift on UINT16, which ONNX defines and onnxruntime implements only
 * for 8-, 32- and 64-bit integers (as ONNX's own backend test `test_bitshift_left_uint16`).
 */
export function unsupportedModel(): Uint8Array {
  return buildModel({
    name: 'bitshift_uint16',
    inputs: [
      { name: 'x', type: T.UINT16, shape: [3] },
      { name: 'y', type: T.UINT16, shape: [3] },
    ],
    outputs: [{ name: 'z', type: T.UINT16, shape: [3] }],
    nodes: [{ op: 'BitShift', inputs: ['x', 'y'], outputs: ['z'], attributes: { direction: 'LEFT' } }],
  });
}

/** Every fixture model, by file name. */
export const FIXTURE_MODELS: Record<string, () => Uint8Array> = {
  'mlp.onnx': mlpModel,
  'cnn.onnx': cnnModel,
  'two_inputs.onnx': twoInputsModel,
  'fixed_batch.onnx': fixedBatchModel,
  'identity.onnx': () => identityModel(),
  'varlen.onnx': variableLengthModel,
};
