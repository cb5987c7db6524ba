import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as tar from 'tar';
import { type ServingModel, writeModelRepository } from '../serving/model-repository';

/** A kind of device: its platform, the execution providers it offers, and how big a model it takes. */
export class EdgeTarget {
  /** NVIDIA Jetson Orin (aarch64, JetPack): TensorRT and CUDA, FP16, 4 GiB of model. */
  public static readonly JETSON_ORIN = new EdgeTarget(
    'jetson-orin',
    'aarch64',
    ['tensorrt', 'cuda', 'cpu'],
    true,
    4096,
  );
  /** A Linux x86-64 box without an accelerator: CPU, 2 GiB of model. */
  public static readonly LINUX_X86_64 = new EdgeTarget('linux-x86_64', 'amd64', ['cpu'], false, 2048);
  /** A Linux ARM64 box without an accelerator: CPU, 1 GiB of model. */
  public static readonly LINUX_ARM64 = new EdgeTarget('linux-arm64', 'aarch64', ['cpu'], false, 1024);
  /** Raspberry Pi 4/5 (64-bit OS): CPU, 256 MiB of model. */
  public static readonly RASPBERRY_PI = new EdgeTarget('raspberry-pi', 'aarch64', ['cpu'], false, 256);

  private constructor(
    /** Stable id. */
    public readonly id: string,
    /** The platform architecture as Greengrass and container runtimes name it. */
    public readonly architecture: 'amd64' | 'aarch64',
    /** onnxruntime execution providers, in preference order. */
    public readonly executionProviders: readonly ('tensorrt' | 'cuda' | 'cpu')[],
    /** Whether the hardware computes FP16 natively. */
    public readonly fp16: boolean,
    /** The largest model file the device is sized for, in MiB. */
    public readonly sizeBudgetMiB: number,
  ) {}
}

/** Problems of a model on a target, as messages; empty when it fits. */
export function checkEdgeModel(model: ServingModel, target: EdgeTarget): string[] {
  const problems: string[] = [];
  const sig = model.signature;
  const floats = [...sig.inputs, ...sig.outputs].filter((t) => /^FP(16|32|64)$|^BF16$/.test(t.datatype));
  if (!target.fp16 && floats.length > 0 && floats.every((t) => t.datatype === 'FP16')) {
    problems.push(
      `model '${model.name}' computes in FP16 only, which target ${target.id} (execution providers ${target.executionProviders.join(', ')}) runs slowly or not at all: export an FP32 model for it, or use EdgeTarget.JETSON_ORIN`,
    );
  }
  for (const v of model.versions) {
    const mib = fs.statSync(v.file).size / 2 ** 20;
    if (mib > target.sizeBudgetMiB) {
      problems.push(
        `model '${model.name}' version ${v.version} is ${mib.toFixed(1)} MiB, over the ${target.sizeBudgetMiB} MiB budget of target ${target.id}: quantize or prune it, or pick a larger target`,
      );
    }
  }
  return problems;
}

/** What {@link writeEdgePackage} wrote. */
export interface EdgePackage {
  /** The package folder (unpacked form). */
  readonly dir: string;
  /** `package.tgz` next to it: what devices download. */
  readonly archive: string;
  /** SHA-256 of the archive, for recipes and manifests. */
  readonly sha256: string;
  /** Files of the package, relative, sorted. */
  readonly files: readonly string[];
}

/**
 * The script a device runs: starts the mlstack server on the package's model repository with the target's
 * execution providers in preference order (one the device cannot load is skipped), on 127.0.0.1:8000 (HTTP) and
 * 8001 (gRPC) by default.
 * `MLSTACK_HOME` is where mlstack is installed (the Greengrass install step, the container image).
 */
export function runScript(target: EdgeTarget): string {
  return `#!/bin/sh
# Starts the mlstack inference server on this package's model repository. Written by mlstack; the Greengrass
# Run step, the IoT Edge module and the tests run exactly this.
set -eu
PKG="$(cd "$(dirname "$0")" && pwd)"
: "\${MLSTACK_HOME:?set MLSTACK_HOME to the folder of the mlstack installation}"
exec node "$MLSTACK_HOME/bin/mlstack.js" serve "$PKG/models" --execution-providers ${target.executionProviders.join(',')} \\
  --host "\${MLSTACK_HOST:-127.0.0.1}" --port "\${MLSTACK_PORT:-8000}" --grpc-port "\${MLSTACK_GRPC_PORT:-8001}"
`;
}

/**
 * Writes a device package under `dir`: `models/` (a Triton-layout repository the server reads, with the generated
 * `config.pbtxt`), `run.sh`, and `manifest.json` (fleet, version, target, execution providers, file hashes), and
 * archives it as `<dir>.tgz` with fixed timestamps so that the same content gives the same bytes.
 */
export function writeEdgePackage(
  dir: string,
  opts: {
    readonly fleet: string;
    readonly version: string;
    readonly model: ServingModel;
    readonly target: EdgeTarget;
  },
  archive = `${dir}.tgz`,
): EdgePackage {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const modelFiles = writeModelRepository(path.join(dir, 'models'), [opts.model]).map((f) => `models/${f}`);
  fs.writeFileSync(path.join(dir, 'run.sh'), runScript(opts.target), { mode: 0o755 });
  const hashes = Object.fromEntries(
    [...modelFiles, 'run.sh'].map((f) => [
      f,
      createHash('sha256')
        .update(fs.readFileSync(path.join(dir, f)))
        .digest('hex'),
    ]),
  );
  const manifest = {
    fleet: opts.fleet,
    version: opts.version,
    target: opts.target.id,
    architecture: opts.target.architecture,
    executionProviders: opts.target.executionProviders,
    model: { name: opts.model.name, versions: opts.model.versions.map((v) => v.version) },
    files: hashes,
  };
  fs.writeFileSync(path.join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  const files = ['manifest.json', 'run.sh', ...modelFiles].sort();
  fs.mkdirSync(path.dirname(archive), { recursive: true });
  tar.create(
    { sync: true, gzip: { level: 9 }, file: archive, cwd: dir, portable: true, mtime: new Date(0) },
    files,
  );
  const sha256 = createHash('sha256').update(fs.readFileSync(archive)).digest('hex');
  return { dir, archive, sha256, files };
}

/** Unpacks a device package as a device's install step does. */
export function unpackEdgePackage(archive: string, into: string): void {
  fs.mkdirSync(into, { recursive: true });
  tar.extract({ sync: true, file: archive, cwd: into, strict: true });
}

/** The Dockerfile of a device image: the mlstack server image with the package's model repository. */
export function edgeDockerfile(serverImage: string): string {
  return [
    '# The device image of an edge fleet: the mlstack server with this package. Build it in this folder:',
    '#   docker build -t <registry>/<fleet>:<version> . && docker push <registry>/<fleet>:<version>',
    `FROM ${serverImage}`,
    'COPY package/models /models',
    '',
  ].join('\n');
}

/**
 * Problems of a Greengrass v2 component recipe (JSON form), by the recipe reference: the required keys and their
 * types, lifecycle steps and artifacts. Empty when valid.
 * @see https://docs.aws.amazon.com/greengrass/v2/developerguide/component-recipe-reference.html
 */
export function greengrassRecipeProblems(recipe: unknown): string[] {
  const p: string[] = [];
  const r = recipe as Record<string, unknown>;
  if (typeof r !== 'object' || r === null) return ['recipe is not an object'];
  if (r.RecipeFormatVersion !== '2020-01-25') p.push('RecipeFormatVersion must be 2020-01-25');
  if (typeof r.ComponentName !== 'string' || !/^[A-Za-z0-9._-]{1,128}$/.test(r.ComponentName))
    p.push('ComponentName is missing or invalid');
  if (typeof r.ComponentVersion !== 'string' || !/^\d+\.\d+\.\d+/.test(r.ComponentVersion))
    p.push('ComponentVersion must be a semantic version');
  const manifests = r.Manifests as Record<string, unknown>[] | undefined;
  if (!Array.isArray(manifests) || manifests.length === 0)
    return [...p, 'Manifests must list at least one platform'];
  manifests.forEach((m, i) => {
    const platform = m.Platform as Record<string, unknown> | undefined;
    if (!platform || typeof platform.os !== 'string') p.push(`Manifests[${i}].Platform.os is required`);
    const lifecycle = m.Lifecycle as Record<string, unknown> | undefined;
    if (!lifecycle || (!lifecycle.Run && !lifecycle.Startup))
      p.push(`Manifests[${i}].Lifecycle needs a Run or Startup step`);
    for (const [step, v] of Object.entries(lifecycle ?? {})) {
      const script = typeof v === 'string' ? v : (v as { Script?: unknown })?.Script;
      if (typeof script !== 'string' || script.trim() === '')
        p.push(`Manifests[${i}].Lifecycle.${step} has no script`);
    }
    ((m.Artifacts as Record<string, unknown>[] | undefined) ?? []).forEach((a, j) => {
      if (typeof a.Uri !== 'string' && typeof a.URI !== 'string')
        p.push(`Manifests[${i}].Artifacts[${j}].Uri is required`);
      if (a.Unarchive !== undefined && !['NONE', 'ZIP'].includes(String(a.Unarchive)))
        p.push(`Manifests[${i}].Artifacts[${j}].Unarchive must be NONE or ZIP`);
    });
  });
  return p;
}

/**
 * Problems of an IoT Edge deployment manifest (`{ content: { modulesContent } }`) by its schema: `$edgeAgent` with
 * schema version, Docker runtime, both system modules and every module's version, type, status, restart policy
 * and image; `$edgeHub` with routes and store-and-forward. Empty when valid.
 * @see https://learn.microsoft.com/azure/iot-edge/module-composition
 */
export function iotEdgeManifestProblems(manifest: unknown): string[] {
  const p: string[] = [];
  const mc = (manifest as { content?: { modulesContent?: Record<string, Record<string, unknown>> } })?.content
    ?.modulesContent;
  if (!mc) return ['content.modulesContent is required'];
  const agent = mc.$edgeAgent?.['properties.desired'] as Record<string, unknown> | undefined;
  const hub = mc.$edgeHub?.['properties.desired'] as Record<string, unknown> | undefined;
  if (!agent) return ['$edgeAgent properties.desired is required'];
  if (!hub) p.push('$edgeHub properties.desired is required');
  if (!['1.0', '1.1'].includes(String(agent.schemaVersion)))
    p.push('$edgeAgent schemaVersion must be 1.0 or 1.1');
  if ((agent.runtime as { type?: string })?.type !== 'docker')
    p.push('$edgeAgent runtime.type must be docker');
  const system = agent.systemModules as Record<string, { settings?: { image?: string } }> | undefined;
  for (const name of ['edgeAgent', 'edgeHub']) {
    if (!system?.[name]?.settings?.image)
      p.push(`$edgeAgent systemModules.${name}.settings.image is required`);
  }
  const modules = (agent.modules ?? {}) as Record<string, Record<string, unknown>>;
  for (const [name, m] of Object.entries(modules)) {
    for (const key of ['version', 'type', 'status', 'restartPolicy'])
      if (typeof m[key] !== 'string') p.push(`module ${name}.${key} is required`);
    if (!['running', 'stopped'].includes(String(m.status)))
      p.push(`module ${name}.status must be running or stopped`);
    const settings = m.settings as { image?: string; createOptions?: string } | undefined;
    if (!settings?.image) p.push(`module ${name}.settings.image is required`);
    if (settings?.createOptions !== undefined) {
      try {
        JSON.parse(settings.createOptions);
      } catch {
        p.push(`module ${name}.settings.createOptions is not JSON`);
      }
    }
  }
  if (hub) {
    if (typeof hub.routes !== 'object' || hub.routes === null) p.push('$edgeHub routes is required');
    if (
      typeof (hub.storeAndForwardConfiguration as { timeToLiveSecs?: unknown })?.timeToLiveSecs !== 'number'
    ) {
      p.push('$edgeHub storeAndForwardConfiguration.timeToLiveSecs is required');
    }
  }
  return p;
}
