import * as os from 'node:os';
import type * as ort from 'onnxruntime-node';
import { Batcher } from './batcher';
import { type ModelSignature, ModelFileError } from './inspect';
import { type ComputePool, inProcessSession, type ModelSession } from './compute-pool';
import { openSession, sessionSignature } from './session';
import { findModels, type ModelSource, readModelSource, RepositoryError } from './repository-layout';

export {
  findModels,
  type ModelSource,
  readModelSource,
  RepositoryError,
  servedVersions,
} from './repository-layout';
import {
  checkTritonConfig,
  formatMismatches,
  type TritonModelConfig,
  tritonModelConfig,
} from './triton-config';

/** One served version of a model. */
export interface ModelVersion {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly config: TritonModelConfig;
  readonly signature: ModelSignature;
  /** Its sessions: on the server's compute threads, or in this thread. */
  readonly session: ModelSession;
  readonly batcher: Batcher;
}

/** A model and its served versions, highest first. */
export interface ServedModel {
  readonly name: string;
  readonly config: TritonModelConfig;
  readonly versions: readonly ModelVersion[];
  /** Whether the config came from `config.pbtxt` (else it was derived from the model, like Triton's auto-complete). */
  readonly configFromFile: boolean;
}

/** Options for loading models. */
export interface LoadOptions {
  /**
   * onnxruntime intra-op threads per session.
   * @default - onnxruntime's default (one per core)
   */
  readonly threads?: number;
  /**
   * onnxruntime execution providers in preference order (`tensorrt`, `cuda`, `cpu`). A provider whose libraries
   * the machine lacks is skipped for the next one, and `onFallback` is told.
   * @default - onnxruntime's default (CPU)
   */
  readonly executionProviders?: readonly string[];
  /** Told when an execution provider is unavailable and the next one is used. */
  readonly onFallback?: (message: string) => void;
  /**
   * Requests that may wait per model version before new ones get 503.
   * @default 1024, or the config's default_queue_policy.max_queue_size
   */
  readonly maxQueueSize?: number;
  /**
   * Turn dynamic batching off everywhere (each request runs alone), whatever the configs say.
   * @default false
   */
  readonly disableBatching?: boolean;
  /**
   * Threads to run the sessions on (the inference server makes one); without it sessions run in this thread.
   * @default - sessions run in this thread
   */
  readonly computePool?: ComputePool;
  /**
   * Models loaded at once.
   * @default - twice the number of CPUs
   */
  readonly loadConcurrency?: number;
}

/**
 * Opens a model version's sessions (`instances` of them on the compute pool, else one in this thread) with the
 * first execution provider of the list that this machine can load.
 */
async function openWithProviders(
  file: string,
  sessionOptions: ort.InferenceSession.SessionOptions,
  options: LoadOptions,
  instances: number,
): Promise<ModelSession> {
  let providers = [...(options.executionProviders ?? [])];
  const pool = options.computePool;
  for (;;) {
    const withProviders = providers.length
      ? { ...sessionOptions, executionProviders: providers }
      : sessionOptions;
    try {
      return pool
        ? await pool.open(file, withProviders, instances)
        : inProcessSession(await openSession(file, withProviders));
    } catch (e) {
      const unavailable = /ExecutionProvider|shared library|backend/i.test((e as Error).message);
      if (!unavailable || providers.length <= 1) throw e;
      options.onFallback?.(
        `${file}: execution provider ${providers[0]} is unavailable here; trying ${providers.slice(1).join(', ')}`,
      );
      providers = providers.slice(1);
    }
  }
}

async function loadModel(src: ModelSource, options: LoadOptions): Promise<ServedModel> {
  const { config: fileConfig, versions: wanted } = readModelSource(src);
  const sessionOptions: ort.InferenceSession.SessionOptions = {
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    interOpNumThreads: 1,
    ...(options.threads ? { intraOpNumThreads: options.threads } : {}),
  };
  let config: TritonModelConfig | undefined = fileConfig;
  const versions: ModelVersion[] = [];
  const instances = Math.max(
    1,
    (fileConfig?.instance_group ?? []).reduce((n, g) => n + (g.count ?? 1), 0),
  );
  for (const v of wanted) {
    const file = src.versions.get(v)!;
    const session = await openWithProviders(file, sessionOptions, options, instances);
    const signature = sessionSignature(file, session);
    if (!config) config = tritonModelConfig(signature, { name: src.name });
    const mismatches = checkTritonConfig(config, signature);
    if (mismatches.length) {
      await session.release();
      throw new RepositoryError(
        `${src.configFile}: does not match ${file}:\n${formatMismatches(mismatches)
          .split('\n')
          .map((l) => `  ${l}`)
          .join('\n')}`,
      );
    }
    const db = config.dynamic_batching;
    const batcher = new Batcher((feeds, owned) => session.run(feeds, owned), {
      dynamic: !options.disableBatching && config.max_batch_size > 0 && db !== undefined,
      maxBatchSize: Math.max(1, config.max_batch_size),
      maxQueueDelayUs: db?.max_queue_delay_microseconds ?? 0,
      preferredBatchSizes: db?.preferred_batch_size ?? [],
      maxQueueSize: db?.default_queue_policy?.max_queue_size || options.maxQueueSize || 1024,
      instances,
    });
    versions.push({ name: src.name, version: v, file, config, signature, session, batcher });
  }
  return { name: src.name, config: config!, versions, configFromFile: fileConfig !== undefined };
}

/** A model of the repository that could not be loaded, and why (Triton's `UNAVAILABLE` state). */
export interface UnavailableModel {
  readonly name: string;
  readonly reason: string;
}

/** What loading a repository gave: the models served and those that could not be loaded. */
export interface RepositoryState {
  readonly models: Map<string, ServedModel>;
  readonly unavailable: Map<string, UnavailableModel>;
}

/**
 * Loads every model under `root` (a file or a Triton repository), several at once, checking each `config.pbtxt`
 * against its model. A model that cannot be loaded is `unavailable` with its reason and the others are served (as
 * Triton does with `--exit-on-error=false`); with `exitOnError`, the first failure stops the load. A repository
 * where no model can be loaded always fails, with the first model's reason.
 */
export async function loadRepositoryState(
  root: string,
  options: LoadOptions & {
    readonly exitOnError?: boolean;
    /** Load only these models; the others are listed unavailable, `not loaded` (explicit model control). */
    readonly only?: readonly string[];
  } = {},
): Promise<RepositoryState> {
  const all = findModels(root);
  const sources = options.only ? all.filter((s) => options.only!.includes(s.name)) : all;
  const notLoaded = options.only ? all.filter((s) => !options.only!.includes(s.name)) : [];
  for (const name of options.only ?? []) {
    if (!all.some((s) => s.name === name)) {
      throw new RepositoryError(
        `${root}: no model '${name}' to load; the models are ${all.map((s) => s.name).join(', ')}`,
      );
    }
  }
  const concurrency = Math.max(1, options.loadConcurrency ?? os.cpus().length * 2);
  const loaded = new Map<string, ServedModel>();
  const failures = new Map<string, Error>();
  let next = 0;
  const stop = () => options.exitOnError === true && failures.size > 0;
  const worker = async () => {
    while (!stop() && next < sources.length) {
      const src = sources[next++];
      try {
        loaded.set(src.name, await loadModel(src, options));
      } catch (e) {
        failures.set(
          src.name,
          e instanceof ModelFileError || e instanceof RepositoryError
            ? e
            : new RepositoryError(`${src.name}: ${(e as Error).message}`),
        );
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sources.length) }, worker));
  if (failures.size > 0 && (options.exitOnError === true || (loaded.size === 0 && !options.only))) {
    await releaseAll(loaded);
    throw [...failures.entries()].sort(([a], [b]) => a.localeCompare(b))[0][1];
  }
  const byName = <T>(m: Map<string, T>) => new Map([...m.entries()].sort(([a], [b]) => a.localeCompare(b)));
  return {
    models: byName(loaded),
    unavailable: byName(
      new Map([
        ...notLoaded.map((src) => [src.name, { name: src.name, reason: NOT_LOADED }] as const),
        ...[...failures.entries()].map(([name, e]) => [name, { name, reason: e.message }] as const),
      ]),
    ),
  };
}

/** The reason of a model that explicit model control has not loaded (or has unloaded). */
export const NOT_LOADED =
  'not loaded (--model-control-mode explicit: POST /v2/repository/models/<name>/load)';

/**
 * Loads one model of the repository at `root` afresh (its files as they are now), for explicit model control.
 * @throws RepositoryError or ModelFileError naming the model and the file
 */
export async function loadModelByName(
  root: string,
  name: string,
  options: LoadOptions = {},
): Promise<ServedModel> {
  const src = findModels(root).find((s) => s.name === name);
  if (!src) throw new RepositoryError(`${root}: no model '${name}' in the repository`);
  try {
    return await loadModel(src, options);
  } catch (e) {
    if (e instanceof ModelFileError || e instanceof RepositoryError) throw e;
    throw new RepositoryError(`${name}: ${(e as Error).message}`);
  }
}

/**
 * Loads every model under `root`, failing on the first model that cannot be served (Triton's `--exit-on-error`).
 */
export async function loadRepository(
  root: string,
  options: LoadOptions = {},
): Promise<Map<string, ServedModel>> {
  return (await loadRepositoryState(root, { ...options, exitOnError: true })).models;
}

/** Releases every session. */
export async function releaseAll(models: Map<string, ServedModel>): Promise<void> {
  for (const m of models.values()) for (const v of m.versions) await v.session.release();
}
