import * as fs from 'node:fs';
import * as path from 'node:path';
import { inspectModelSync, type ModelSignature } from '../inference/inspect';
import { findModels, readModelSource, RepositoryError } from '../inference/repository-layout';
import {
  checkTritonConfig,
  renderTritonConfig,
  type TritonConfigOptions,
  type TritonModelConfig,
  tritonModelConfig,
} from '../inference/triton-config';

/** Options of {@link ServingModel.fromOnnxFile}. */
export interface ServingModelOptions {
  /** Model name: its folder in the repository and its name in inference URLs. */
  readonly name: string;
  /**
   * Version folder.
   * @default 1
   */
  readonly version?: number;
  /**
   * Largest batch the runtime may form.
   * @default 8 when the model has a dynamic batch dimension, else 0
   */
  readonly maxBatchSize?: number;
  /**
   * Dynamic batching; `false` turns it off.
   * @default - on when maxBatchSize > 0, 100 µs queue delay
   */
  readonly dynamicBatching?: TritonConfigOptions['dynamicBatching'];
  /**
   * Where instances run and how many.
   * @default { kind: 'cpu', count: 1 }
   */
  readonly instanceGroup?: TritonConfigOptions['instanceGroup'];
}

/** One version of a model: its file and signature. */
export interface ServingModelVersion {
  readonly version: number;
  readonly file: string;
  readonly signature: ModelSignature;
}

const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/**
 * A model to serve, laid out for Triton: `<name>/config.pbtxt` and `<name>/<version>/model.onnx`. Its signature
 * is read at synth (onnxruntime), its config generated from it or read from an existing repository and checked
 * against every version.
 */
export class ServingModel {
  /** One ONNX file, with a `config.pbtxt` generated from its signature. */
  public static fromOnnxFile(file: string, options: ServingModelOptions): ServingModel {
    const where = `ServingModel.fromOnnxFile(${JSON.stringify(file)})`;
    if (typeof options?.name !== 'string' || !MODEL_NAME.test(options.name)) {
      throw new Error(
        `${where}: 'name' (${JSON.stringify(options?.name)}) is not a valid model name. Use letters, digits, '_', '.' and '-', starting with a letter or digit.`,
      );
    }
    const version = options.version ?? 1;
    if (!Number.isInteger(version) || version < 1) {
      throw new Error(`${where}: 'version' (${version}) must be an integer >= 1.`);
    }
    const signature = inspectModelSync(file);
    let config: TritonModelConfig;
    try {
      config = tritonModelConfig(signature, {
        name: options.name,
        ...(options.maxBatchSize !== undefined ? { maxBatchSize: options.maxBatchSize } : {}),
        ...(options.dynamicBatching !== undefined ? { dynamicBatching: options.dynamicBatching } : {}),
        ...(options.instanceGroup ? { instanceGroup: options.instanceGroup } : {}),
      });
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
    }
    return new ServingModel(options.name, config, [{ version, file: path.resolve(file), signature }], true);
  }

  /**
   * Every model of an existing Triton-layout repository. Each `config.pbtxt` is checked against the signature of
   * every version it serves; a mismatch is an error naming the model, the field and both values. A model without
   * `config.pbtxt` gets one generated, as Triton's auto-complete would.
   */
  public static fromRepository(dir: string): ServingModel[] {
    const where = `ServingModel.fromRepository(${JSON.stringify(dir)})`;
    let sources;
    try {
      sources = findModels(dir);
    } catch (e) {
      throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
    }
    return sources.map((src) => {
      let source;
      try {
        source = readModelSource(src);
      } catch (e) {
        throw new Error(`${where}: ${(e as Error).message}`, { cause: e });
      }
      let config = source.config;
      const served = source.versions;
      const versions = served
        .map((v) => ({
          version: Number(v),
          file: src.versions.get(v)!,
          signature: inspectModelSync(src.versions.get(v)!),
        }))
        .sort((a, b) => a.version - b.version);
      config ??= tritonModelConfig(versions[versions.length - 1].signature, { name: src.name });
      for (const v of versions) {
        const mismatches = checkTritonConfig(config, v.signature);
        if (mismatches.length) {
          const m = mismatches[0];
          throw new Error(
            `${where}: model '${src.name}' version ${v.version}: config.pbtxt ${m.field} is ${m.config} but the model has ${m.model}` +
              (mismatches.length > 1
                ? ` (and ${mismatches.length - 1} more: ${mismatches
                    .slice(1)
                    .map((x) => x.field)
                    .join(', ')})`
                : '') +
              '. Fix config.pbtxt or remove it to have it generated.',
          );
        }
      }
      return new ServingModel(src.name, config, versions, !src.configFile);
    });
  }

  private constructor(
    /** The model name. */
    public readonly name: string,
    /** The Triton config the repository will carry. */
    public readonly config: TritonModelConfig,
    /** The versions served, lowest first. */
    public readonly versions: readonly ServingModelVersion[],
    /** Whether the config was generated by mlstack (else it came from the repository). */
    public readonly configGenerated: boolean,
  ) {}

  /** The signature of the highest version. */
  public get signature(): ModelSignature {
    return this.versions[this.versions.length - 1].signature;
  }

  /** The same model with its instance group set (a runtime on GPUs or CPUs); a config read from a repository keeps its own. */
  public withInstanceGroup(kind: 'gpu' | 'cpu', count = 1): ServingModel {
    if (!this.configGenerated) return this;
    const config = {
      ...this.config,
      instance_group: [{ count, kind: kind === 'gpu' ? ('KIND_GPU' as const) : ('KIND_CPU' as const) }],
    };
    return new ServingModel(this.name, config, this.versions, true);
  }
}

/**
 * Writes models as a Triton model repository under `dir`: `<name>/config.pbtxt` and
 * `<name>/<version>/model.onnx`. Returns the files written, relative and sorted.
 */
export function writeModelRepository(dir: string, models: readonly ServingModel[]): string[] {
  const seen = new Set<string>();
  const files: string[] = [];
  for (const m of models) {
    if (seen.has(m.name))
      throw new RepositoryError(
        `two models are named '${m.name}'; model names must be unique in a repository`,
      );
    seen.add(m.name);
    fs.mkdirSync(path.join(dir, m.name), { recursive: true });
    fs.writeFileSync(path.join(dir, m.name, 'config.pbtxt'), renderTritonConfig(m.config));
    files.push(`${m.name}/config.pbtxt`);
    for (const v of m.versions) {
      fs.mkdirSync(path.join(dir, m.name, String(v.version)), { recursive: true });
      fs.copyFileSync(v.file, path.join(dir, m.name, String(v.version), 'model.onnx'));
      files.push(`${m.name}/${v.version}/model.onnx`);
    }
  }
  return files.sort();
}
