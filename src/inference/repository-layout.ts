import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseTritonConfig, type TritonModelConfig, TritonConfigError } from './triton-config';

// The layout of a Triton model repository, read without onnxruntime (synth reads it; serving loads it).

/** A repository that cannot be served: each problem names the model and the file. */
export class RepositoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RepositoryError';
  }
}

/** A model found in a repository: its name, its `config.pbtxt` if any, and its version files. */
export interface ModelSource {
  name: string;
  configFile?: string;
  /** version → model file */
  versions: Map<string, string>;
}

/**
 * Whether a directory entry is a directory, following a symbolic link (git-sync's worktrees and Kubernetes
 * ConfigMap volumes put models behind them).
 */
function isDirectory(dir: string, entry: fs.Dirent): boolean {
  if (entry.isDirectory()) return true;
  if (!entry.isSymbolicLink()) return false;
  try {
    return fs.statSync(path.join(dir, entry.name)).isDirectory();
  } catch {
    return false; // a dangling link
  }
}

/** Finds the models of a path: one `.onnx` file, or a Triton-layout repository. */
export function findModels(root: string): ModelSource[] {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(root);
  } catch {
    throw new RepositoryError(`${root}: no such file or directory`);
  }
  if (stat.isFile()) {
    return [{ name: path.basename(root).replace(/\.onnx$/i, ''), versions: new Map([['1', root]]) }];
  }
  const sources: ModelSource[] = [];
  for (const entry of fs.readdirSync(root, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || !isDirectory(root, entry)) continue;
    const dir = path.join(root, entry.name);
    const versions = new Map<string, string>();
    for (const v of fs.readdirSync(dir, { withFileTypes: true })) {
      if (/^\d+$/.test(v.name) && isDirectory(dir, v)) {
        const file = path.join(dir, v.name, 'model.onnx');
        if (fs.existsSync(file)) versions.set(v.name, file);
      }
    }
    const configFile = path.join(dir, 'config.pbtxt');
    if (versions.size === 0) {
      if (fs.existsSync(configFile))
        throw new RepositoryError(`${dir}: has config.pbtxt but no <version>/model.onnx`);
      continue;
    }
    sources.push({ name: entry.name, versions, ...(fs.existsSync(configFile) ? { configFile } : {}) });
  }
  if (sources.length === 0) {
    throw new RepositoryError(
      `${root}: no models found; expected <model>/<version>/model.onnx (Triton layout) or an .onnx file`,
    );
  }
  return sources.sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * The versions a config's version policy serves (Triton's default, also without a config: the latest one).
 */
export function servedVersions(
  config: TritonModelConfig | undefined,
  available: readonly string[],
): string[] {
  const sorted = [...available].sort((a, b) => Number(b) - Number(a));
  const vp = config?.version_policy;
  if (!vp || 'latest' in vp) return sorted.slice(0, vp && 'latest' in vp ? vp.latest.num_versions : 1);
  if ('all' in vp) return sorted;
  return sorted.filter((v) => vp.specific.versions.includes(Number(v)));
}

/**
 * A model's `config.pbtxt` (undefined when it has none) and the versions it serves, as Triton reads them: the
 * config's name, when given, must be the directory's, and the version policy must serve at least one version.
 */
export function readModelSource(src: ModelSource): { config?: TritonModelConfig; versions: string[] } {
  let config: TritonModelConfig | undefined;
  if (src.configFile) {
    try {
      config = parseTritonConfig(fs.readFileSync(src.configFile, 'utf8'), src.configFile);
    } catch (e) {
      if (e instanceof TritonConfigError) throw new RepositoryError(e.message);
      throw e;
    }
    if (config.name && config.name !== src.name) {
      throw new RepositoryError(
        `${src.configFile}: name "${config.name}" does not match the model directory "${src.name}"`,
      );
    }
    config.name ||= src.name;
    if (config.max_batch_size === 0 && config.dynamic_batching) {
      throw new RepositoryError(
        `${src.configFile}: dynamic_batching needs max_batch_size > 0 (the first dimension of every input is then the batch); with max_batch_size 0 no request could be merged. Set max_batch_size, or remove dynamic_batching.`,
      );
    }
  }
  const available = [...src.versions.keys()];
  const versions = servedVersions(config, available);
  if (versions.length === 0) {
    throw new RepositoryError(
      `${src.configFile ?? src.name}: version_policy serves none of the versions present (${available.join(', ')})`,
    );
  }
  return { ...(config ? { config } : {}), versions };
}
