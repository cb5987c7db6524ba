import type * as ort from 'onnxruntime-node';
import type { TensorSignature } from './inspect';
import type { ModelVersion } from './repository';
import { checkInputHeader, InferenceError, type RequestInput } from './tensors';

/**
 * Validates a request's inputs against the model and builds the feeds, for either front end: names, duplicates,
 * datatypes, shapes, batch sizes and missing inputs are checked here; `tensorOf` reads one input's data (JSON,
 * Triton's binary extension, or gRPC contents) once its header has passed. Nothing invalid reaches the batcher.
 */
export function buildFeeds(
  inputs: unknown,
  mv: ModelVersion,
  tensorOf: (input: RequestInput, sig: TensorSignature, index: number) => ort.Tensor,
): { feeds: Record<string, ort.Tensor>; batchSize: number } {
  if (!Array.isArray(inputs)) throw new InferenceError(400, "the request has no 'inputs' list");
  const maxBatch = mv.config.max_batch_size;
  const feeds: Record<string, ort.Tensor> = {};
  let batchSize = 1;
  const seen = new Set<string>();
  for (const [index, input] of (inputs as RequestInput[]).entries()) {
    if (typeof input !== 'object' || input === null || typeof input.name !== 'string') {
      throw new InferenceError(400, "every input needs a 'name'");
    }
    const sig = mv.signature.inputs.find((s) => s.name === input.name);
    if (!sig) {
      throw new InferenceError(
        400,
        `unknown input '${input.name}' for model '${mv.name}'; inputs are ${mv.signature.inputs.map((s) => s.name).join(', ')}`,
      );
    }
    if (seen.has(input.name)) throw new InferenceError(400, `input '${input.name}' is given twice`);
    seen.add(input.name);
    checkInputHeader(input, sig, maxBatch);
    feeds[input.name] = tensorOf(input, sig, index);
    if (maxBatch > 0) {
      if (seen.size === 1) batchSize = input.shape[0];
      else if (input.shape[0] !== batchSize) {
        throw new InferenceError(
          400,
          `input '${input.name}': batch size ${input.shape[0]} differs from the other inputs' ${batchSize}`,
        );
      }
    }
  }
  const missing = mv.signature.inputs.filter((s) => !seen.has(s.name)).map((s) => s.name);
  if (missing.length)
    throw new InferenceError(
      400,
      `missing input${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`,
    );
  return { feeds, batchSize };
}

/** An output a request asks for, and whether it goes back as binary data (HTTP's binary extension). */
export interface OutputChoice {
  readonly name: string;
  readonly binary: boolean;
}

/**
 * The outputs a request asks for (every output of the model when `outputs` is not given), each checked against
 * the model; `defaultBinary` applies where an output does not say `binary_data`.
 */
export function selectOutputs(outputs: unknown, mv: ModelVersion, defaultBinary = false): OutputChoice[] {
  if (outputs === undefined)
    return mv.signature.outputs.map((o) => ({ name: o.name, binary: defaultBinary }));
  if (!Array.isArray(outputs)) throw new InferenceError(400, "'outputs' must be a list");
  return (outputs as { name?: unknown; parameters?: Record<string, unknown> }[]).map((o) => {
    if (typeof o?.name !== 'string' || !mv.signature.outputs.some((s) => s.name === o.name)) {
      throw new InferenceError(
        400,
        `unknown output '${String(o?.name)}' for model '${mv.name}'; outputs are ${mv.signature.outputs.map((s) => s.name).join(', ')}`,
      );
    }
    const b = o.parameters?.binary_data;
    return { name: o.name, binary: b === undefined ? defaultBinary : b === true };
  });
}
