import * as ort from 'onnxruntime-node';
import { loadError, metadataSignature, type ModelSignature, readModelFile } from './inspect';

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

/** The signature of an open session, as onnxruntime reports it. */
export function sessionSignature(file: string, session: ort.InferenceSession): ModelSignature {
  const plain = (m: ort.InferenceSession.ValueMetadata) =>
    m.isTensor
      ? { name: m.name, isTensor: true, type: m.type, shape: m.shape }
      : { name: m.name, isTensor: false, type: 'non-tensor', shape: [] };
  return metadataSignature(file, session.inputMetadata.map(plain), session.outputMetadata.map(plain));
}
