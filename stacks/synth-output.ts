/**
 * Constructs that contribute folders to the synth output (besides the clouds' own files and the Kubernetes
 * manifests) define a function under this symbol; `MlApp.synth` copies what it returns.
 */
export const SYNTH_OUTPUT = Symbol.for('mlstack.synthOutput');

/** A folder to copy, or a file to write, into the synth output. */
export interface SynthOutputFolder {
  /** Path relative to the output folder, e.g. `models/<stack>/<service>`. */
  readonly path: string;
  /** The folder to copy. */
  readonly sourceDir?: string;
  /** The content of a file to write at `path`. */
  readonly content?: string;
  /** A file to copy to `path`. */
  readonly file?: string;
}

/** The folders `construct` contributes, if it contributes any. */
export function synthOutputsOf(construct: object): SynthOutputFolder[] {
  const f = (construct as Record<symbol, unknown>)[SYNTH_OUTPUT];
  return typeof f === 'function' ? (f as () => SynthOutputFolder[])() : [];
}
