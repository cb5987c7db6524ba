import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { type KServeDatatype, kserveFromOrt } from './datatypes';

/** One input or output of a model. */
export interface TensorSignature {
  /** Tensor name in the graph. */
  readonly name: string;
  /** KServe/Triton datatype. */
  readonly datatype: KServeDatatype;
  /** Full shape including any batch dimension; -1 for a dynamic dimension. */
  readonly shape: readonly number[];
}

/** A model's signature, as onnxruntime reads it. */
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
function readModelFile(file: string): Buffer {
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
function loadError(file: string, message: string): ModelFileError {
  if (/protobuf parsing failed|parse/i.test(message)) {
    return new ModelFileError(file, 'is not an ONNX model or is truncated (protobuf parsing failed)');
  }
  return new ModelFileError(file, `onnxruntime cannot load it: ${message.split('\n')[0]}`);
}

/** Opens an onnxruntime session on a model file, turning every failure into a {@link ModelFileError}. */
export async function openSession(
  file: string,
  options: ort.InferenceSession.SessionOptions = {},
): Promise<ort.InferenceSession> {
  const bytes = readModelFile(file);
  try {
    return await ort.InferenceSession.create(bytes, options);
  } catch (e) {
    throw loadError(file, String((e as Error).message ?? e));
  }
}

/** The signature of an open session. */
export function sessionSignature(file: string, session: ort.InferenceSession): ModelSignature {
  return metadataSignature(file, session.inputMetadata, session.outputMetadata);
}

/** The signature from onnxruntime's input and output metadata. */
function metadataSignature(
  file: string,
  inputMetadata: readonly ort.InferenceSession.ValueMetadata[],
  outputMetadata: readonly ort.InferenceSession.ValueMetadata[],
): ModelSignature {
  const convert = (m: ort.InferenceSession.ValueMetadata, kind: string): TensorSignature => {
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
 * Reads an ONNX model's signature with onnxruntime-node: names, datatypes, shapes (dynamic dimensions as -1)
 * and whether the first dimension is a dynamic batch.
 * @throws {ModelFileError} naming the file and what is wrong with it
 */
export async function inspectModel(file: string): Promise<ModelSignature> {
  const session = await openSession(file, { graphOptimizationLevel: 'disabled' });
  try {
    return sessionSignature(file, session);
  } finally {
    await session.release();
  }
}

/**
 * {@link inspectModel} for synchronous callers (construct constructors run at synth and cannot await):
 * onnxruntime reads the model in a short-lived child process.
 * @throws {ModelFileError} naming the file and what is wrong with it
 */
export function inspectModelSync(file: string): ModelSignature {
  readModelFile(file);
  const script = `
    const ort = require(${JSON.stringify(require.resolve('onnxruntime-node'))});
    ort.InferenceSession.create(require('fs').readFileSync(${JSON.stringify(path.resolve(file))}), { graphOptimizationLevel: 'disabled' })
      .then((s) => process.stdout.write(JSON.stringify({ inputs: s.inputMetadata, outputs: s.outputMetadata })))
      .catch((e) => { process.stderr.write(String(e && e.message || e)); process.exit(2); });`;
  let out: string;
  try {
    out = execFileSync(process.execPath, ['-e', script], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (e) {
    throw loadError(file, String((e as { stderr?: string }).stderr ?? (e as Error).message));
  }
  const meta = JSON.parse(out) as {
    inputs: ort.InferenceSession.ValueMetadata[];
    outputs: ort.InferenceSession.ValueMetadata[];
  };
  return metadataSignature(file, meta.inputs, meta.outputs);
}
