// The ONNX signature reader synth uses instead of onnxruntime: for every model here it reports what a real
// onnxruntime-node session reports (names, types, shapes, initializers left out), and it refuses what is not a model.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { onnx } from 'onnx-proto';
import { describe, expect, it } from 'vitest';
import { OnnxDecodeError, readOnnxSignature } from '../../src/inference/onnx-signature';
import { buildModel, FIXTURE_MODELS, OnnxType as T, slowModel } from '../support/onnx-builder';

const tensor = (
  name: string,
  elemType: number,
  shape?: (number | string | null)[],
): onnx.IValueInfoProto => ({
  name,
  type: {
    tensorType: {
      elemType,
      ...(shape
        ? {
            shape: {
              dim: shape.map((d) =>
                d === null ? {} : typeof d === 'number' ? { dimValue: d } : { dimParam: d },
              ),
            },
          }
        : {}),
    },
  },
});

const encode = (model: onnx.IModelProto) => onnx.ModelProto.encode(model).finish();

/** Models onnxruntime loads, covering what the reader must get right. */
const MODELS: Record<string, () => Uint8Array> = {
  ...FIXTURE_MODELS,
  'slow.onnx': () => slowModel(3),
  // IR 3: the weight is listed among the graph inputs, as an initializer: not a model input.
  'initializer-input.onnx': () =>
    encode({
      irVersion: 3,
      opsetImport: [{ domain: '', version: 9 }],
      graph: {
        name: 'g',
        input: [tensor('x', T.FLOAT, ['batch', 4]), tensor('w', T.FLOAT, [4, 2])],
        output: [tensor('y', T.FLOAT, ['batch', 2])],
        initializer: [{ name: 'w', dims: [4, 2], dataType: T.FLOAT, floatData: new Array(8).fill(0.5) }],
        node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
      },
    }),
  // Every element type an Identity can pass, with unknown, symbolic and fixed dims, and an unknown rank.
  'types.onnx': () => {
    const types = [
      T.FLOAT,
      T.UINT8,
      T.INT8,
      T.UINT16,
      T.INT16,
      T.INT32,
      T.INT64,
      T.STRING,
      T.BOOL,
      T.FLOAT16,
      T.DOUBLE,
      T.UINT32,
      T.UINT64,
    ];
    return encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        input: types.map((t, i) =>
          tensor(`in${i}`, t, i % 3 === 0 ? [null, 'n', 3] : i % 3 === 1 ? [7] : undefined),
        ),
        output: types.map((t, i) =>
          tensor(`out${i}`, t, i % 3 === 0 ? [null, 'n', 3] : i % 3 === 1 ? [7] : undefined),
        ),
        node: types.map((_, i) => ({ opType: 'Identity', input: [`in${i}`], output: [`out${i}`] })),
      },
    });
  },
  // A sequence output: not a tensor.
  'sequence.onnx': () =>
    encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        input: [tensor('a', T.FLOAT, [2])],
        output: [{ name: 's', type: { sequenceType: { elemType: { tensorType: { elemType: T.FLOAT } } } } }],
        node: [{ opType: 'SequenceConstruct', input: ['a'], output: ['s'] }],
      },
    }),
};

async function ortMetadata(bytes: Uint8Array) {
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'disabled' });
  try {
    const plain = (m: ort.InferenceSession.ValueMetadata) =>
      m.isTensor
        ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] }
        : { name: m.name, isTensor: false };
    return { inputs: session.inputMetadata.map(plain), outputs: session.outputMetadata.map(plain) };
  } finally {
    await session.release();
  }
}

describe('readOnnxSignature', () => {
  it.each(Object.keys(MODELS))('reads %s as onnxruntime does', async (name) => {
    const bytes = MODELS[name]();
    const ours = readOnnxSignature(bytes);
    const plain = (m: {
      name: string;
      isTensor: boolean;
      type: string;
      shape: readonly (number | string)[];
    }) =>
      m.isTensor
        ? { name: m.name, isTensor: true, type: m.type, shape: [...m.shape] }
        : { name: m.name, isTensor: false };
    expect({ inputs: ours.inputs.map(plain), outputs: ours.outputs.map(plain) }).toEqual(
      await ortMetadata(bytes),
    );
  });

  it('reads the committed fixture files byte for byte as built', () => {
    const dir = path.join(__dirname, '..', 'fixtures', 'models');
    for (const f of Object.keys(FIXTURE_MODELS)) {
      expect(readOnnxSignature(fs.readFileSync(path.join(dir, f))), f).toEqual(
        readOnnxSignature(FIXTURE_MODELS[f]()),
      );
    }
  });

  it('refuses every truncation of a model, and bytes that are not one', () => {
    const bytes = buildModel({
      name: 'g',
      inputs: [{ name: 'x', type: T.FLOAT, shape: ['b', 2] }],
      outputs: [{ name: 'y', type: T.FLOAT, shape: ['b', 2] }],
      nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    let refused = 0;
    for (let n = 1; n < bytes.length; n++) {
      try {
        const sig = readOnnxSignature(bytes.subarray(0, n));
        // A cut between top-level fields can leave a well-formed prefix; it must then lack what follows.
        expect(sig.outputs.length === 0 || sig.inputs.length === 0 || n >= bytes.length - 40).toBe(true);
      } catch (e) {
        expect(e).toBeInstanceOf(OnnxDecodeError);
        refused++;
      }
    }
    expect(refused).toBeGreaterThan(bytes.length / 2);
    expect(() => readOnnxSignature(new TextEncoder().encode('not a model at all'))).toThrow(OnnxDecodeError);
    expect(() => readOnnxSignature(encode({ irVersion: 8 }))).toThrow(/no graph/);
    expect(() => readOnnxSignature(new Uint8Array([0x08, 0xff, 0xff]))).toThrow(/truncated varint/);
  });

  it('skips initializer data without decoding it: a 64 MiB weight costs no more than its bytes', () => {
    const big = new Float32Array(16 * 1024 * 1024);
    const bytes = encode({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'g',
        input: [tensor('x', T.FLOAT, ['b', 4096])],
        output: [tensor('y', T.FLOAT, ['b', 4096])],
        initializer: [
          { name: 'w', dims: [4096, 4096], dataType: T.FLOAT, rawData: new Uint8Array(big.buffer) },
        ],
        node: [{ opType: 'MatMul', input: ['x', 'w'], output: ['y'] }],
      },
    });
    const before = process.memoryUsage().arrayBuffers;
    const sig = readOnnxSignature(bytes);
    expect(sig.inputs.map((i) => i.name)).toEqual(['x']);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(8 * 1024 * 1024);
  });
});
