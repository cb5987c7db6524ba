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
 * The script a device runs: starts the mlstack server on the package's model repository, on 127.0.0.1:8000 by
 * default. `MLSTACK_HOME` is where mlstack is installed (the Greengrass install step, the container image).
 */
export const RUN_SCRIPT = `#!/bin/sh
# Starts the mlstack inference server on this package's model repository. Written by mlstack; the Greengrass
# Run step, the IoT Edge module and the tests run exactly this.
set -eu
PKG="$(cd "$(dirname "$0")" && pwd)"
: "\${MLSTACK_HOME:?set MLSTACK_HOME to the folder of the mlstack installation}"
exec node "$MLSTACK_HOME/bin/mlstack.js" serve "$PKG/models" --host "\${MLSTACK_HOST:-127.0.0.1}" --port "\${MLSTACK_PORT:-8000}"
`;

/**
 * Writes a device package under `dir`: `models/` (a Triton-layout repository the server reads, with the generated
 * `config.pbtxt`), `run.sh`, and `manifest.json` (fleet, version, target, execution providers, file hashes), and
 * archives it as `<dir>.tgz` with fixed timestamps so that the same content gives the same bytes.
 */
export async function writeEdgePackage(
  dir: string,
  opts: {
    readonly fleet: string;
    readonly version: string;
    readonly model: ServingModel;
    readonly target: EdgeTarget;
  },
): Promise<EdgePackage> {
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const modelFiles = writeModelRepository(path.join(dir, 'models'), [opts.model]).map((f) => `models/${f}`);
  fs.writeFileSync(path.join(dir, 'run.sh'), RUN_SCRIPT, { mode: 0o755 });
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
  const archive = `${dir}.tgz`;
  await tar.create(
    { gzip: { level: 9 }, file: archive, cwd: dir, portable: true, mtime: new Date(0), noDirRecurse: false },
    files,
  );
  const sha256 = createHash('sha256').update(fs.readFileSync(archive)).digest('hex');
  return { dir, archive, sha256, files };
}

/** Unpacks a device package as a device's install step does. */
export async function unpackEdgePackage(archive: string, into: string): Promise<void> {
  fs.mkdirSync(into, { recursive: true });
  await tar.extract({ file: archive, cwd: into, strict: true });
}
