import * as ort from 'onnxruntime-node';
import {
  loadError,
  metadataSignature,
  type ModelSignature,
  readModelFile,
  type ValueMetadata,
} from './inspect';

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

/** onnxruntime's metadata of an input or output as plain data (it crosses threads). */
export function plainMetadata(v: ort.InferenceSession.ValueMetadata): ValueMetadata {
  return v.isTensor
    ? { name: v.name, isTensor: true, type: v.type, shape: [...v.shape] }
    : { name: v.name, isTensor: false, type: 'non-tensor', shape: [] };
}

/** The signature of an open session, as onnxruntime reports it. */
export function sessionSignature(
  file: string,
  session: {
    readonly inputMetadata: readonly ValueMetadata[];
    readonly outputMetadata: readonly ValueMetadata[];
  },
): ModelSignature {
  return metadataSignature(file, session.inputMetadata, session.outputMetadata);
}
