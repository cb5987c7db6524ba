import * as fs from 'node:fs';
import { type KServeDatatype, kserveFromOrt } from './datatypes';
import { OnnxDecodeError, type OnnxValueInfo, readOnnxSignature } from './onnx-signature';

/** One input or output of a model. */
export interface TensorSignature {
  /** Tensor name in the graph. */
  readonly name: string;
  /** KServe/Triton datatype. */
  readonly datatype: KServeDatatype;
  /** Full shape including any batch dimension; -1 for a dynamic dimension. */
  readonly shape: readonly number[];
}

/** A model's signature: what onnxruntime's session metadata reports, read from the file without onnxruntime. */
export interface ModelSignature {
  readonly inputs: readonly TensorSignature[];
  readonly outputs: readonly TensorSignature[];
  /**
   * Whether every input and output has a dynamic first dimension, which Triton can use as the batch
   * dimension (`max_batch_size > 0`).
   */
  readonly dynamicBatch: boolean;
}

/** A model file that cannot be used: missing, empty, truncated, not ONNX, or with tensors mlstack cannot serve. */
export class ModelFileError extends Error {
  constructor(
    /** The file. */
    public readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`);
    this.name = 'ModelFileError';
  }
}

/** Reads a model file, turning a missing, unreadable or empty file into a {@link ModelFileError}. */
export function readModelFile(file: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ModelFileError(
      file,
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'is a directory, not an .onnx file'
          : `cannot be read (${code})`,
    );
  }
  if (bytes.length === 0) throw new ModelFileError(file, 'is empty, not an ONNX model');
  return bytes;
}

/** The {@link ModelFileError} for an onnxruntime load failure. */
export function loadError(file: string, message: string): ModelFileError {
  if (/protobuf parsing failed|parse/i.test(message)) {
    return new ModelFileError(file, 'is not an ONNX model or is truncated (protobuf parsing failed)');
  }
  return new ModelFileError(file, `onnxruntime cannot load it: ${message.split('\n')[0]}`);
}

/** Tensor metadata as onnxruntime reports it (its `ValueMetadata`), or as the file declares it. */
export interface ValueMetadata {
  readonly name: string;
  readonly isTensor: boolean;
  readonly type: string;
  readonly shape: readonly (number | string)[];
}

/** The signature from input and output metadata. */
export function metadataSignature(
  file: string,
  inputMetadata: readonly ValueMetadata[],
  outputMetadata: readonly ValueMetadata[],
): ModelSignature {
  const convert = (m: ValueMetadata, kind: string): TensorSignature => {
    if (!m.isTensor)
      throw new ModelFileError(
        file,
        `${kind} '${m.name}' is not a tensor; only tensor inputs and outputs can be served`,
      );
    const datatype = kserveFromOrt(m.type);
    if (!datatype)
      throw new ModelFileError(
        file,
        `${kind} '${m.name}' has type ${m.type}, which the KServe v2 protocol cannot carry`,
      );
    return { name: m.name, datatype, shape: m.shape.map((d) => (typeof d === 'number' && d >= 0 ? d : -1)) };
  };
  const inputs = inputMetadata.map((m) => convert(m, 'input'));
  const outputs = outputMetadata.map((m) => convert(m, 'output'));
  const all = [...inputs, ...outputs];
  const dynamicBatch = all.length > 0 && all.every((t) => t.shape.length > 0 && t.shape[0] === -1);
  return { inputs, outputs, dynamicBatch };
}

/**
 * Reads an ONNX model's signature from the file: names, datatypes, shapes (dynamic dimensions as -1) and whether
 * the first dimension is a dynamic batch — the same as onnxruntime's session metadata, without loading
 * onnxruntime (synth runs in the user's IaC repo, which need not install it). It does not check that onnxruntime
 * can run the graph: serving does, when it loads the model.
 * @throws {ModelFileError} naming the file and what is wrong with it
 */
export function inspectModelSync(file: string): ModelSignature {
  const bytes = readModelFile(file);
  let graph: { inputs: readonly OnnxValueInfo[]; outputs: readonly OnnxValueInfo[] };
  try {
    graph = readOnnxSignature(bytes);
  } catch (e) {
    if (e instanceof OnnxDecodeError) {
      throw new ModelFileError(
        file,
        e.message === 'no graph' || e.message === 'no ir_version'
          ? `is not an ONNX model (${e.message})`
          : 'is not an ONNX model or is truncated (protobuf parsing failed)',
      );
    }
    throw e;
  }
  if (graph.outputs.length === 0)
    throw new ModelFileError(file, 'is not an ONNX model (its graph has no outputs)');
  return metadataSignature(file, graph.inputs, graph.outputs);
}

/** {@link inspectModelSync}, for callers that await. */
export async function inspectModel(file: string): Promise<ModelSignature> {
  return inspectModelSync(file);
}
