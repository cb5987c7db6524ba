import { type KServeDatatype, kserveFromTriton, tritonFromKserve } from './datatypes';
import type { ModelSignature, TensorSignature } from './inspect';
import { parseTextFormat, TextFormatError, TextIdent, type TextMessage, type TextValue } from './pbtxt';

/**
 * The part of Triton's `ModelConfig` that mlstack writes, reads and serves.
 * @see https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/model_configuration.html
 */
export interface TritonModelConfig {
  name: string;
  platform?: string;
  backend?: string;
  /** 0 when the model has no batch dimension (dims are then full shapes). */
  max_batch_size: number;
  input: TritonTensorConfig[];
  output: TritonTensorConfig[];
  dynamic_batching?: {
    preferred_batch_size?: number[];
    max_queue_delay_microseconds?: number;
    default_queue_policy?: { max_queue_size?: number };
  };
  instance_group?: {
    name?: string;
    kind?: 'KIND_GPU' | 'KIND_CPU' | 'KIND_AUTO';
    count?: number;
    gpus?: number[];
  }[];
  version_policy?:
    | { latest: { num_versions: number } }
    | { all: Record<string, never> }
    | { specific: { versions: number[] } };
}

/** One input or output in a Triton config. */
export interface TritonTensorConfig {
  name: string;
  /** `TYPE_FP32`, `TYPE_INT64`, `TYPE_STRING` … */
  data_type: string;
  /** Shape without the batch dimension when `max_batch_size > 0`; -1 for dynamic. */
  dims: number[];
  /** The shape the model sees, when it differs from `dims` (e.g. `dims: [1]` for a scalar per batch item). */
  reshape?: { shape: number[] };
  optional?: boolean;
}

/** Options of {@link tritonModelConfig}. */
export interface TritonConfigOptions {
  /** The model name (its folder in the repository). */
  readonly name: string;
  /**
   * Largest batch Triton may form. Must be 0 for a model without a dynamic first dimension.
   * @default 8 when the model has a dynamic batch dimension, else 0
   */
  readonly maxBatchSize?: number;
  /**
   * Dynamic batching; `false` turns it off.
   * @default - on when maxBatchSize > 0, with a 100 µs queue delay
   */
  readonly dynamicBatching?:
    | false
    | {
        /** @default - none: batches up to maxBatchSize */
        readonly preferredBatchSizes?: number[];
        /** @default 100 */
        readonly maxQueueDelayMicroseconds?: number;
        /** @default - unbounded in Triton; the mlstack server uses its own limit */
        readonly maxQueueSize?: number;
      };
  /**
   * Where instances run and how many.
   * @default { kind: 'cpu', count: 1 }
   */
  readonly instanceGroup?: { readonly kind: 'gpu' | 'cpu'; readonly count?: number };
}

/** Builds the Triton model config for an ONNX model's signature (`platform: "onnxruntime_onnx"`). */
export function tritonModelConfig(
  signature: ModelSignature,
  options: TritonConfigOptions,
): TritonModelConfig {
  const maxBatchSize = options.maxBatchSize ?? (signature.dynamicBatch ? 8 : 0);
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 0) {
    throw new Error(
      `tritonConfig '${options.name}': 'maxBatchSize' (${maxBatchSize}) must be an integer >= 0.`,
    );
  }
  if (maxBatchSize > 0 && !signature.dynamicBatch) {
    throw new Error(
      `tritonConfig '${options.name}': 'maxBatchSize' (${maxBatchSize}) needs a model whose inputs and outputs all have a dynamic first dimension; this one has none. Set maxBatchSize: 0.`,
    );
  }
  const tensor = (t: TensorSignature): TritonTensorConfig => {
    const dims = maxBatchSize > 0 ? t.shape.slice(1) : [...t.shape];
    // Triton needs at least one dim; a per-item scalar is dims [1] reshaped to [].
    if (dims.length === 0)
      return { name: t.name, data_type: tritonFromKserve(t.datatype), dims: [1], reshape: { shape: [] } };
    return { name: t.name, data_type: tritonFromKserve(t.datatype), dims };
  };
  const config: TritonModelConfig = {
    name: options.name,
    platform: 'onnxruntime_onnx',
    max_batch_size: maxBatchSize,
    input: signature.inputs.map(tensor),
    output: signature.outputs.map(tensor),
  };
  const db = options.dynamicBatching;
  if (maxBatchSize > 0 && db !== false) {
    const preferred = db?.preferredBatchSizes ?? [];
    for (const p of preferred) {
      if (!Number.isInteger(p) || p < 1 || p > maxBatchSize) {
        throw new Error(
          `tritonConfig '${options.name}': 'dynamicBatching.preferredBatchSizes' has ${p}; each must be between 1 and maxBatchSize (${maxBatchSize}).`,
        );
      }
    }
    config.dynamic_batching = {
      ...(preferred.length ? { preferred_batch_size: [...preferred] } : {}),
      max_queue_delay_microseconds: db?.maxQueueDelayMicroseconds ?? 100,
      ...(db?.maxQueueSize !== undefined
        ? { default_queue_policy: { max_queue_size: db.maxQueueSize } }
        : {}),
    };
  }
  const ig = options.instanceGroup ?? { kind: 'cpu' };
  config.instance_group = [{ count: ig.count ?? 1, kind: ig.kind === 'gpu' ? 'KIND_GPU' : 'KIND_CPU' }];
  return config;
}

/** Renders a Triton model config in protobuf text format, as `config.pbtxt`. */
export function renderTritonConfig(config: TritonModelConfig): string {
  const out: string[] = [];
  const ind = (n: number) => '  '.repeat(n);
  const list = (xs: readonly number[]) => `[ ${xs.join(', ')} ]`;
  const tensors = (key: string, ts: TritonTensorConfig[]) => {
    out.push(`${key} [`);
    ts.forEach((t, i) => {
      out.push(`${ind(1)}{`);
      out.push(`${ind(2)}name: ${JSON.stringify(t.name)}`);
      out.push(`${ind(2)}data_type: ${t.data_type}`);
      out.push(`${ind(2)}dims: ${list(t.dims)}`);
      if (t.reshape) out.push(`${ind(2)}reshape: { shape: ${list(t.reshape.shape)} }`);
      if (t.optional) out.push(`${ind(2)}optional: true`);
      out.push(`${ind(1)}}${i < ts.length - 1 ? ',' : ''}`);
    });
    out.push(']');
  };
  out.push(`name: ${JSON.stringify(config.name)}`);
  if (config.platform) out.push(`platform: ${JSON.stringify(config.platform)}`);
  if (config.backend) out.push(`backend: ${JSON.stringify(config.backend)}`);
  out.push(`max_batch_size: ${config.max_batch_size}`);
  tensors('input', config.input);
  tensors('output', config.output);
  const db = config.dynamic_batching;
  if (db) {
    out.push('dynamic_batching {');
    if (db.preferred_batch_size?.length)
      out.push(`${ind(1)}preferred_batch_size: ${list(db.preferred_batch_size)}`);
    if (db.max_queue_delay_microseconds !== undefined) {
      out.push(`${ind(1)}max_queue_delay_microseconds: ${db.max_queue_delay_microseconds}`);
    }
    if (db.default_queue_policy?.max_queue_size !== undefined) {
      out.push(`${ind(1)}default_queue_policy { max_queue_size: ${db.default_queue_policy.max_queue_size} }`);
    }
    out.push('}');
  }
  if (config.instance_group?.length) {
    out.push('instance_group [');
    config.instance_group.forEach((g, i) => {
      const parts = [
        g.name !== undefined ? `name: ${JSON.stringify(g.name)}` : undefined,
        g.count !== undefined ? `count: ${g.count}` : undefined,
        g.kind ? `kind: ${g.kind}` : undefined,
        g.gpus?.length ? `gpus: ${list(g.gpus)}` : undefined,
      ].filter(Boolean);
      out.push(`${ind(1)}{ ${parts.join(' ')} }${i < config.instance_group!.length - 1 ? ',' : ''}`);
    });
    out.push(']');
  }
  const vp = config.version_policy;
  if (vp) {
    if ('latest' in vp) out.push(`version_policy: { latest: { num_versions: ${vp.latest.num_versions} } }`);
    else if ('all' in vp) out.push('version_policy: { all: {} }');
    else out.push(`version_policy: { specific: { versions: ${list(vp.specific.versions)} } }`);
  }
  return `${out.join('\n')}\n`;
}

/** `config.pbtxt` text for an ONNX model's signature. */
export function tritonConfig(signature: ModelSignature, options: TritonConfigOptions): string {
  return renderTritonConfig(tritonModelConfig(signature, options));
}

/** A `config.pbtxt` that cannot be read, with where and why. */
export class TritonConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TritonConfigError';
  }
}

/** Reads Triton's `config.pbtxt` (protobuf text format) into a {@link TritonModelConfig}. */
export function parseTritonConfig(text: string, source = 'config.pbtxt'): TritonModelConfig {
  let msg: TextMessage;
  try {
    msg = parseTextFormat(text);
  } catch (e) {
    if (e instanceof TextFormatError) throw new TritonConfigError(`${source}: ${e.message}`);
    throw e;
  }
  const r = new Reader(source);
  const config: TritonModelConfig = {
    name: r.string(msg, 'name') ?? '',
    max_batch_size: r.int(msg, 'max_batch_size') ?? 0,
    input: r.messages(msg, 'input').map((m) => r.tensor(m, 'input')),
    output: r.messages(msg, 'output').map((m) => r.tensor(m, 'output')),
  };
  const platform = r.string(msg, 'platform');
  if (platform !== undefined) config.platform = platform;
  const backend = r.string(msg, 'backend');
  if (backend !== undefined) config.backend = backend;
  const db = r.messages(msg, 'dynamic_batching')[0];
  if (db) {
    config.dynamic_batching = {};
    const preferred = r.ints(db, 'preferred_batch_size');
    if (preferred.length) config.dynamic_batching.preferred_batch_size = preferred;
    const delay = r.int(db, 'max_queue_delay_microseconds');
    if (delay !== undefined) config.dynamic_batching.max_queue_delay_microseconds = delay;
    const policy = r.messages(db, 'default_queue_policy')[0];
    const maxQueue = policy ? r.int(policy, 'max_queue_size') : undefined;
    if (maxQueue !== undefined) config.dynamic_batching.default_queue_policy = { max_queue_size: maxQueue };
  }
  const groups = r.messages(msg, 'instance_group');
  if (groups.length) {
    config.instance_group = groups.map((g) => {
      const kind = r.ident(g, 'kind');
      if (kind !== undefined && !['KIND_GPU', 'KIND_CPU', 'KIND_AUTO'].includes(kind)) {
        throw new TritonConfigError(
          `${source}: instance_group kind ${kind} is not served; use KIND_GPU, KIND_CPU or KIND_AUTO`,
        );
      }
      const name = r.string(g, 'name');
      const count = r.int(g, 'count');
      const gpus = r.ints(g, 'gpus');
      return {
        ...(name !== undefined ? { name } : {}),
        ...(kind ? { kind: kind as 'KIND_GPU' | 'KIND_CPU' | 'KIND_AUTO' } : {}),
        ...(count !== undefined ? { count } : {}),
        ...(gpus.length ? { gpus } : {}),
      };
    });
  }
  const vp = r.messages(msg, 'version_policy')[0];
  if (vp) {
    const latest = r.messages(vp, 'latest')[0];
    const specific = r.messages(vp, 'specific')[0];
    if (latest) config.version_policy = { latest: { num_versions: r.int(latest, 'num_versions') ?? 1 } };
    else if (specific) config.version_policy = { specific: { versions: r.ints(specific, 'versions') } };
    else if (vp.has('all')) config.version_policy = { all: {} };
  }
  return config;
}

class Reader {
  constructor(private readonly source: string) {}

  private fail(field: string, want: string, got: TextValue): never {
    const shown = got instanceof Map ? '{…}' : JSON.stringify(String(got));
    throw new TritonConfigError(`${this.source}: '${field}' must be ${want}, not ${shown}`);
  }

  private last(m: TextMessage, field: string): TextValue | undefined {
    const vs = m.get(field);
    return vs?.[vs.length - 1];
  }

  string(m: TextMessage, field: string): string | undefined {
    const v = this.last(m, field);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') this.fail(field, 'a string', v);
    return v;
  }

  ident(m: TextMessage, field: string): string | undefined {
    const v = this.last(m, field);
    if (v === undefined) return undefined;
    if (!(v instanceof TextIdent)) this.fail(field, 'an enum name', v);
    return v.name;
  }

  int(m: TextMessage, field: string): number | undefined {
    const v = this.last(m, field);
    if (v === undefined) return undefined;
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, 'an integer', v);
    return v;
  }

  ints(m: TextMessage, field: string): number[] {
    return (m.get(field) ?? []).map((v) => {
      if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, 'a list of integers', v);
      return v;
    });
  }

  bool(m: TextMessage, field: string): boolean | undefined {
    const v = this.last(m, field);
    if (v === undefined) return undefined;
    if (v instanceof TextIdent && (v.name === 'true' || v.name === 'false')) return v.name === 'true';
    return this.fail(field, 'true or false', v);
  }

  messages(m: TextMessage, field: string): TextMessage[] {
    return (m.get(field) ?? []).map((v) => {
      if (!(v instanceof Map)) this.fail(field, 'a message { … }', v);
      return v;
    });
  }

  tensor(m: TextMessage, kind: string): TritonTensorConfig {
    const name = this.string(m, 'name');
    if (!name) throw new TritonConfigError(`${this.source}: an ${kind} has no name`);
    const dataType = this.ident(m, 'data_type');
    if (!dataType) throw new TritonConfigError(`${this.source}: ${kind} '${name}' has no data_type`);
    if (!kserveFromTriton(dataType)) {
      throw new TritonConfigError(
        `${this.source}: ${kind} '${name}' has data_type ${dataType}, which mlstack cannot serve`,
      );
    }
    const t: TritonTensorConfig = { name, data_type: dataType, dims: this.ints(m, 'dims') };
    const reshape = this.messages(m, 'reshape')[0];
    if (reshape) t.reshape = { shape: this.ints(reshape, 'shape') };
    const optional = this.bool(m, 'optional');
    if (optional !== undefined) t.optional = optional;
    return t;
  }
}

/** One difference between a Triton config and the model it configures. */
export interface ConfigMismatch {
  /** Where, e.g. `input[x].dims` or `max_batch_size`. */
  readonly field: string;
  /** What the model needs. */
  readonly model: string;
  /** What the config says. */
  readonly config: string;
}

/** The model-side shape a config tensor describes (reshape wins), with the batch dimension put back. */
function configShape(t: TritonTensorConfig, maxBatchSize: number): number[] {
  const shape = t.reshape ? t.reshape.shape : t.dims;
  return maxBatchSize > 0 ? [-1, ...shape] : [...shape];
}

const fmtShape = (s: readonly number[]) => `[${s.join(', ')}]`;

/**
 * Every mismatch between a Triton config and the model's signature — names, datatypes, dims, batching,
 * platform — the commonest reason a Triton deployment fails at start. Empty when they agree.
 */
export function checkTritonConfig(config: TritonModelConfig, signature: ModelSignature): ConfigMismatch[] {
  const out: ConfigMismatch[] = [];
  if (config.platform !== undefined && config.platform !== 'onnxruntime_onnx') {
    out.push({ field: 'platform', model: '"onnxruntime_onnx"', config: JSON.stringify(config.platform) });
  }
  if (config.backend !== undefined && config.backend !== 'onnxruntime') {
    out.push({ field: 'backend', model: '"onnxruntime"', config: JSON.stringify(config.backend) });
  }
  if (config.max_batch_size > 0 && !signature.dynamicBatch) {
    out.push({
      field: 'max_batch_size',
      model: '0 (no dynamic first dimension on every input and output)',
      config: String(config.max_batch_size),
    });
  }
  const compare = (
    kind: 'input' | 'output',
    model: readonly TensorSignature[],
    conf: TritonTensorConfig[],
  ) => {
    for (const t of model) {
      const c = conf.find((x) => x.name === t.name);
      if (!c) {
        // Triton completes missing outputs but needs every input listed.
        if (kind === 'input') out.push({ field: `input[${t.name}]`, model: 'present', config: 'missing' });
        continue;
      }
      const dt = kserveFromTriton(c.data_type) as KServeDatatype | undefined;
      if (dt !== t.datatype) {
        out.push({
          field: `${kind}[${t.name}].data_type`,
          model: tritonFromKserve(t.datatype),
          config: c.data_type,
        });
      }
      const cs = configShape(c, config.max_batch_size);
      const ms = t.shape;
      const field = `${kind}[${t.name}].${c.reshape ? 'reshape.shape' : 'dims'}`;
      const expected = config.max_batch_size > 0 ? ms.slice(1) : ms;
      // With batching, the batch dimension is implied; whether the model has one is the max_batch_size check.
      const from = config.max_batch_size > 0 ? 1 : 0;
      if (cs.length !== ms.length || cs.some((d, i) => i >= from && ms[i] !== -1 && d !== ms[i])) {
        out.push({
          field,
          model: fmtShape(expected),
          config: fmtShape(c.reshape ? c.reshape.shape : c.dims),
        });
      }
    }
    for (const c of conf) {
      if (!model.some((t) => t.name === c.name))
        out.push({ field: `${kind}[${c.name}]`, model: 'absent', config: 'present' });
    }
  };
  compare('input', signature.inputs, config.input);
  compare('output', signature.outputs, config.output);
  return out;
}

/** One line per mismatch: `input[x].dims: model [16], config [8]`. */
export function formatMismatches(ms: readonly ConfigMismatch[]): string {
  return ms.map((m) => `${m.field}: model ${m.model}, config ${m.config}`).join('\n');
}
