import type { OutputRef } from './deploy-time';
import type { Cloud } from '../spec/gpu';

/** A synth-time warning, with the construct path it is about. */
export interface SynthWarning {
  readonly path: string;
  readonly message: string;
}

/** What one synthesis of an app wrote. */
export interface SynthResult {
  /** The output folder. */
  readonly outdir: string;
  /** Stacks per cloud. */
  readonly stacks: { readonly cloud: Cloud; readonly name: string }[];
  /** Files written, relative to `outdir`, sorted. */
  readonly files: string[];
  /** Warnings recorded by constructs. */
  readonly warnings: SynthWarning[];
  /**
   * Kubernetes folders whose objects hold values known only after the cloud deploy, with the stack outputs they
   * read (`mlstack resolve` fills them).
   */
  readonly deployTimeValues: readonly { readonly folder: string; readonly outputs: readonly OutputRef[] }[];
  /** The policy pack that checked the AWS stacks during synth, when there were any. */
  readonly awsChecks?: 'AwsSolutions' | 'cdk-nag not installed';
}

/** An app that `mlstack synth` can synthesize: `MlApp` registers itself here when it is made. */
export interface SynthesizableApp {
  /** What the last synth wrote; undefined before one ran. */
  readonly lastSynth?: SynthResult;
  /** Synthesizes every stack of the app. */
  synth(): SynthResult;
}

const APPS = Symbol.for('mlstack.apps');

/**
 * Every app made in this process, so that `mlstack synth` can synthesize an app that did not synthesize itself.
 * @internal
 */
export function createdApps(): SynthesizableApp[] {
  const g = globalThis as unknown as Record<symbol, SynthesizableApp[] | undefined>;
  g[APPS] ??= [];
  return g[APPS];
}

/**
 * Records an app for `mlstack synth`.
 * @internal
 */
export function registerApp(app: SynthesizableApp): void {
  createdApps().push(app);
}
