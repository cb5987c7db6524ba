import type { Cloud } from '../spec/gpu';

/**
 * The folders of a synth output, in one registry: `MlApp.synth` makes each anew (so a re-synth leaves nothing
 * stale), refuses a construct that writes outside them, and `mlstack diff` reads them.
 */
export const SYNTH_FOLDERS = [
  { name: 'aws', contents: 'the AWS CDK cloud assembly (`cdk deploy --app <out>/aws`)' },
  { name: 'gcp', contents: 'Terraform JSON of Google Cloud stacks (`stacks/<stack>/cdk.tf.json`)' },
  { name: 'azure', contents: 'Terraform JSON of Azure stacks (`stacks/<stack>/cdk.tf.json`)' },
  { name: 'k8s', contents: 'every Kubernetes object, one a file (`<stack>/<cluster>/*.yaml`)' },
  { name: 'models', contents: "each TritonService's model repository (`<stack>/<service>/`)" },
  { name: 'dashboards', contents: 'Grafana dashboards of DcgmMonitoring (`<stack>/<cluster>/*.json`)' },
  { name: 'edge', contents: 'EdgeFleet packages and device manifests (`<stack>/<fleet>/`)' },
] as const;

/** The name of a synth output folder. */
export type SynthFolder = (typeof SYNTH_FOLDERS)[number]['name'];

/** The folders that clouds' frameworks write (the others are mlstack's own). */
export const CLOUD_FOLDERS: readonly (SynthFolder & Cloud)[] = ['aws', 'gcp', 'azure'];

/**
 * Constructs that contribute folders to the synth output (besides the clouds' own files and the Kubernetes
 * manifests) define a function under this symbol; `MlApp.synth` copies what it returns.
 */
export const SYNTH_OUTPUT = Symbol.for('mlstack.synthOutput');

/** A folder to copy, or a file to write, into the synth output. */
export interface SynthOutputFolder {
  /** Path relative to the output folder, under one of {@link SYNTH_FOLDERS}, e.g. `models/<stack>/<service>`. */
  readonly path: string;
  /** The folder to copy. */
  readonly sourceDir?: string;
  /** The content of a file to write at `path`. */
  readonly content?: string;
  /** A file to copy to `path`. */
  readonly file?: string;
}

/**
 * The folders `construct` contributes, if it contributes any.
 * @throws when one is outside the registered folders (it would never be cleaned or diffed)
 */
export function synthOutputsOf(construct: object): SynthOutputFolder[] {
  const f = (construct as Record<symbol, unknown>)[SYNTH_OUTPUT];
  const outputs = typeof f === 'function' ? (f as () => SynthOutputFolder[])() : [];
  for (const o of outputs) {
    const top = o.path.split(/[\\/]/)[0];
    if (!SYNTH_FOLDERS.some((s) => s.name === top) || CLOUD_FOLDERS.includes(top as SynthFolder & Cloud)) {
      throw new Error(
        `A construct writes '${o.path}' into the synth output, outside mlstack's own folders (${SYNTH_FOLDERS.filter(
          (s) => !CLOUD_FOLDERS.includes(s.name as SynthFolder & Cloud),
        )
          .map((s) => s.name)
          .join(', ')}). Register the folder in src/synth/output.ts.`,
      );
    }
  }
  return outputs;
}

/**
 * Context set on the apps `MlApp` makes: it writes every cluster's Kubernetes objects to `k8s/`. A cluster in any
 * other app (a plain aws-cdk-lib or cdktf app) writes them next to that app's output itself.
 */
export const MLAPP_CONTEXT = 'mlstack:app';

/** One Kubernetes object as a file. */
export interface ManifestFile {
  /** `<nn>-<kind>-<namespace>-<name>.yaml`, in apply order. */
  readonly fileName: string;
  readonly content: string;
}
