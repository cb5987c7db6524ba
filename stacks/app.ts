import * as fs from 'node:fs';
import * as path from 'node:path';
import type { App as AwsApp } from 'aws-cdk-lib';
import type { App as TerraformApp } from 'cdktf';
import type { Construct, IConstruct } from 'constructs';
import { GpuCluster } from '../constructs/gpu-cluster';
import type { Cloud } from '../src/spec/gpu';
import { MlStack } from './ml-stack';
import { type OutputRef, placeholdersIn } from '../src/synth/deploy-time';
import { listFiles } from '../src/synth/files';
import { CLOUD_FOLDERS, MLAPP_CONTEXT, SYNTH_FOLDERS, synthOutputsOf } from '../src/synth/output';
import {
  registerApp,
  type SynthesizableApp,
  type SynthResult,
  type SynthWarning,
} from '../src/synth/registry';

/** Props of {@link MlApp}. */
export interface MlAppProps {
  /**
   * Where `synth()` writes. `mlstack synth --out` sets it through `MLSTACK_OUTDIR`. Run by the AWS CDK CLI
   * (`cdk synth` / `cdk deploy` with a `cdk.json`, which sets `CDK_OUTDIR`), it writes into the CLI's cloud assembly
   * folder, the AWS assembly at its root and the other folders (`k8s/`, `models/` …) beside it.
   * @default - `$MLSTACK_OUTDIR`, else the CDK CLI's `$CDK_OUTDIR`, else `mlstack.out`
   */
  readonly outdir?: string;
  /**
   * Context for the AWS app (what `cdk.json` would hold), e.g. answers of environment lookups.
   * @default {}
   */
  readonly awsContext?: Record<string, unknown>;
  /**
   * Run cdk-nag's AwsSolutions pack on the AWS stacks at synth (aws-cdk-lib policy validation: an unacknowledged
   * finding fails synth, each acknowledgement carries its reason). cdk-nag is an optional peer: when it is not
   * installed the checks are skipped and synth says so.
   * @default true
   */
  readonly awsSolutionsChecks?: boolean;
}

const WARNING_TYPES = new Set(['aws:cdk:warning', 'mlstack:warning']);
/**
 * Folders of the output that `synth()` makes anew: every registered one but `aws/`, because aws-cdk-lib stages
 * assets into its assembly folder while constructs are created, long before `synth()`, so that folder is emptied
 * when the AWS app is made instead.
 */
const RENEWED_AT_SYNTH = SYNTH_FOLDERS.map((f) => f.name).filter((f) => f !== 'aws');

/**
 * Context of the AWS app that keeps the assembly free of absolute paths (stack traces of the machine that ran the
 * synth), so that it is byte-identical whatever folder the checkout or the output lives in.
 */
const DETERMINISTIC_AWS_CONTEXT = {
  'aws:cdk:disable-stack-trace': true,
  'aws:cdk:disable-creation-stack-traces': true,
};

/**
 * One program, every cloud: holds an AWS CDK app and a CDK for Terraform app per cloud (created when first
 * used) and synthesizes them together into one folder:
 *
 * - `aws/`: the cloud assembly (`cdk deploy --app <outdir>/aws`)
 * - `gcp/stacks/<stack>/cdk.tf.json`, `azure/stacks/<stack>/cdk.tf.json` (`terraform -chdir=… apply`)
 * - `k8s/<stack>/<cluster>/*.yaml`: every Kubernetes object, one a file
 * - `models/<stack>/<service>/`: the model repository of each `TritonService` (what its bucket receives)
 *
 * An AWS-only program may use a plain `aws-cdk-lib` `App` instead; `MlApp` only adds the other clouds and the
 * Kubernetes manifest files.
 */
export class MlApp implements SynthesizableApp {
  /** The output folder. */
  public readonly outdir: string;
  private readonly awsContext: Record<string, unknown>;
  private readonly awsSolutionsChecks: boolean;
  /** The policy pack that checks the AWS stacks at synth (`awsSolutionsChecks`), once the AWS app exists. */
  public awsChecks?: 'AwsSolutions' | 'cdk-nag not installed';
  /** What the last `synth()` wrote; undefined before it ran. */
  public lastSynth?: SynthResult;
  private awsApp?: AwsApp;
  /** The AWS cloud assembly: `<outdir>/aws`, or the CDK CLI's folder itself. */
  private readonly awsOutdir: string;
  private gcpApp?: TerraformApp;
  private azureApp?: TerraformApp;

  constructor(props: MlAppProps = {}) {
    const underCdkCli = !props.outdir && !process.env.MLSTACK_OUTDIR && !!process.env.CDK_OUTDIR;
    this.outdir = path.resolve(
      props.outdir ?? process.env.MLSTACK_OUTDIR ?? process.env.CDK_OUTDIR ?? 'mlstack.out',
    );
    this.awsOutdir = underCdkCli ? this.outdir : path.join(this.outdir, 'aws');
    this.awsContext = props.awsContext ?? {};
    this.awsSolutionsChecks = props.awsSolutionsChecks ?? true;
    registerApp(this);
  }

  /**
   * The AWS CDK app (an aws-cdk-lib `App`): the scope of `AwsMlStack`s. Typed as a `Construct` so that the
   * declarations of a program for other clouds need no aws-cdk-lib types.
   */
  public get aws(): Construct {
    if (!this.awsApp) {
      // Loaded on first use, so that a GCP-only program never loads aws-cdk-lib.
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const { App } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
      const outdir = this.awsOutdir;
      // A clean assembly folder before any construct stages an asset into it (the CDK CLI's is already).
      if (outdir !== this.outdir) fs.rmSync(outdir, { recursive: true, force: true });
      fs.mkdirSync(outdir, { recursive: true });
      this.awsApp = new App({
        outdir,
        context: { ...DETERMINISTIC_AWS_CONTEXT, [MLAPP_CONTEXT]: true, ...this.awsContext },
        autoSynth: false,
      });
      if (this.awsSolutionsChecks) this.awsChecks = addAwsSolutionsChecks(this.awsApp);
    }
    return this.awsApp;
  }

  /** The CDK for Terraform app for Google Cloud (a cdktf `App`, typed as a `Construct`): the scope of `GcpMlStack`s. */
  public get gcp(): Construct {
    this.gcpApp ??= this.terraformApp('gcp');
    return this.gcpApp;
  }

  /** The CDK for Terraform app for Azure (a cdktf `App`, typed as a `Construct`): the scope of `AzureMlStack`s. */
  public get azure(): Construct {
    this.azureApp ??= this.terraformApp('azure');
    return this.azureApp;
  }

  /** Synthesizes every app that was used, then writes the Kubernetes manifests of every cluster. */
  public synth(): SynthResult {
    const roots = this.roots();
    const stacks = roots.flatMap(({ cloud, root }) =>
      MlStack.all(root).map((s) => ({ cloud, name: s.stackName })),
    );
    const seen = new Map<string, Cloud>();
    for (const s of stacks) {
      const other = seen.get(s.name);
      if (other) {
        throw new Error(
          `Stack name '${s.name}' is used on ${other} and on ${s.cloud}: Kubernetes manifests are written to k8s/<stack>/, so stack names must be unique across clouds. Rename one, e.g. '${s.name}-${s.cloud}'.`,
        );
      }
      seen.set(s.name, s.cloud);
    }

    fs.mkdirSync(this.outdir, { recursive: true });
    // A clean slate, so that a removed stack or object leaves no stale file behind; the Terraform apps' folders
    // are made again because cdktf expects the one it made at construction.
    for (const d of RENEWED_AT_SYNTH) fs.rmSync(path.join(this.outdir, d), { recursive: true, force: true });
    if (!this.awsApp && this.awsOutdir !== this.outdir)
      fs.rmSync(this.awsOutdir, { recursive: true, force: true });
    for (const { cloud } of roots) {
      if (cloud !== 'aws' && CLOUD_FOLDERS.includes(cloud))
        fs.mkdirSync(path.join(this.outdir, cloud, 'stacks'), { recursive: true });
    }

    if (this.awsApp && !process.env.MLSTACK_STACK_TRACES) dropStackTraces(this.awsApp);
    for (const { root } of roots) (root as unknown as { synth(): void }).synth();

    const deployTimeValues: { folder: string; outputs: OutputRef[] }[] = [];
    for (const { root } of roots) {
      for (const c of root.node.findAll().filter(GpuCluster.isGpuCluster)) {
        const folder = path.posix.join('k8s', MlStack.of(c).stackName, c.spec.name);
        const dir = path.join(this.outdir, folder);
        fs.mkdirSync(dir, { recursive: true });
        const refs = new Map<string, OutputRef>();
        for (const f of c.outputFiles()) {
          fs.mkdirSync(path.dirname(path.join(dir, f.fileName)), { recursive: true });
          fs.writeFileSync(path.join(dir, f.fileName), f.content);
          for (const r of placeholdersIn(f.content)) refs.set(`${r.stack}/${r.output}`, r);
        }
        if (refs.size > 0) deployTimeValues.push({ folder, outputs: [...refs.values()] });
      }
    }

    for (const { root } of roots) {
      for (const c of root.node.findAll()) {
        for (const out of synthOutputsOf(c)) {
          const target = path.join(this.outdir, out.path);
          if (out.sourceDir) fs.cpSync(out.sourceDir, target, { recursive: true });
          if (out.file) {
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.copyFileSync(out.file, target);
          }
          if (out.content !== undefined) {
            fs.mkdirSync(path.dirname(target), { recursive: true });
            fs.writeFileSync(target, out.content);
          }
        }
      }
    }

    const warnings: SynthWarning[] = [];
    for (const { root } of roots) {
      for (const c of root.node.findAll()) {
        for (const m of c.node.metadata) {
          if (WARNING_TYPES.has(m.type)) warnings.push({ path: c.node.path, message: String(m.data) });
        }
      }
    }
    this.lastSynth = {
      outdir: this.outdir,
      stacks,
      files: listFiles(this.outdir),
      warnings: dedupe(warnings),
      deployTimeValues,
      ...(this.awsChecks ? { awsChecks: this.awsChecks } : {}),
    };
    return this.lastSynth;
  }

  private roots(): { cloud: Cloud; root: IConstruct }[] {
    const out: { cloud: Cloud; root: IConstruct }[] = [];
    if (this.awsApp) out.push({ cloud: 'aws', root: this.awsApp });
    if (this.gcpApp) out.push({ cloud: 'gcp', root: this.gcpApp });
    if (this.azureApp) out.push({ cloud: 'azure', root: this.azureApp });
    return out;
  }

  private terraformApp(cloud: 'gcp' | 'azure'): TerraformApp {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { App } = require('cdktf') as typeof import('cdktf');
    // cdktf makes its folder at construction, without parents.
    fs.mkdirSync(this.outdir, { recursive: true });
    return new App({
      outdir: path.join(this.outdir, cloud),
      skipValidation: false,
      stackTraces: false,
      context: { [MLAPP_CONTEXT]: true },
    });
  }
}

/**
 * Removes the stack traces that aws-cdk-lib records with every metadata entry it cannot be told to skip
 * (acknowledgements keep theirs whatever the context says): they carry absolute paths of the machine that ran the
 * synth into `*.metadata.json` and `validation-report.json`. `MLSTACK_STACK_TRACES=1` keeps them for debugging.
 */
function dropStackTraces(root: IConstruct): void {
  for (const c of root.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.trace) delete (m as { trace?: string[] }).trace;
    }
  }
}

function dedupe(ws: SynthWarning[]): SynthWarning[] {
  const seen = new Set<string>();
  return ws.filter((w) => {
    const k = `${w.path}\u0000${w.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

/**
 * Adds cdk-nag's AwsSolutions pack to an aws-cdk-lib app as a policy validation plugin, when cdk-nag is installed.
 * @returns whether it was added
 */
function addAwsSolutionsChecks(app: import('aws-cdk-lib').App): 'AwsSolutions' | 'cdk-nag not installed' {
  let nag: typeof import('cdk-nag');
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    nag = require('cdk-nag') as typeof import('cdk-nag');
  } catch {
    return 'cdk-nag not installed';
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { Validations } = require('aws-cdk-lib') as typeof import('aws-cdk-lib');
  Validations.of(app).addPlugins(new nag.AwsSolutionsChecks(app));
  return 'AwsSolutions';
}
