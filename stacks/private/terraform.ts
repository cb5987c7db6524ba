import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import * as path from 'node:path';
import { replaceFolder } from '../../src/synth/files';
import {
  Annotations,
  AssetType,
  TerraformAsset,
  TerraformOutput,
  TerraformProvider,
  type TerraformStack,
} from 'cdktf';
import { placeholder } from '../../src/synth/deploy-time';
import { MLAPP_CONTEXT } from '../../src/synth/output';
import type { ManifestFile } from '../../src/synth/output';
import type { Construct, IConstruct, Node } from 'constructs';
import type { Cloud } from '../../src/spec/gpu';
import type { MlPlatform, ObjectStoreContents, ServerImageResolution } from '../ml-stack';
import { shortHash } from './naming';

/**
 * Records a synth warning on a Terraform stack's construct: as a cdktf annotation (printed by `cdktf synth`)
 * and as `mlstack:warning` metadata (printed by `mlstack synth`).
 */
export function addTerraformWarning(scope: IConstruct, message: string): void {
  Annotations.of(scope).addWarning(message);
  scope.node.addMetadata('mlstack:warning', message);
}

/**
 * Exports a deploy-time value as the Terraform output `name` (so `terraform output -json` lists it under that name)
 * and returns its placeholder.
 */
export function exportTerraformDeployTimeValue(
  stack: TerraformStack,
  name: string,
  value: string,
  description: string,
): string {
  const ref = placeholder({ stack: stack.node.id, output: name });
  new TerraformOutput(stack, `DeployTime-${name}`, { value, description }).overrideLogicalId(name);
  return ref;
}

/**
 * Makes each folder of `contents` a Terraform asset (copied next to `cdk.tf.json` at synth) and calls `object`
 * for every file with a construct id, the object key (`<prefix>/<file>`), the file's path in the asset and on disk.
 */
export function uploadDirectory(
  scope: Construct,
  id: string,
  contents: readonly ObjectStoreContents[],
  object: (objectId: string, key: string, source: string, localFile: string) => void,
): void {
  contents.forEach((c, i) => {
    const asset = new TerraformAsset(scope, `${id}-Asset${i}`, { path: c.dir, type: AssetType.DIRECTORY });
    for (const file of c.files) {
      const key = `${c.prefix}/${file}`;
      object(`${id}-Object-${shortHash([key], 10)}`, key, `${asset.path}/${file}`, path.join(c.dir, file));
    }
  });
}

/**
 * The stack's default (unaliased) provider of a type, e.g. `google`, declared by the user or by mlstack; undefined
 * when there is none.
 */
export function defaultProvider(stack: TerraformStack, type: string): TerraformProvider | undefined {
  return stack.node.children.find(
    (c): c is TerraformProvider =>
      c instanceof TerraformProvider && c.terraformResourceType === type && !c.alias,
  );
}

/** Declares the `random` provider (for generated passwords) once per stack, unless the stack has one. */
export function randomProvider(stack: TerraformStack): void {
  if (defaultProvider(stack, 'random') || stack.node.tryFindChild('random')) return;
  new RandomProvider(stack, 'random');
}

/** cdktf's hook for constructs that write files at synth (`Symbol.for('cdktf/customSynthesis')`, as in aws-cdk-lib). */
const CDKTF_CUSTOM_SYNTHESIS = Symbol.for('cdktf/customSynthesis');

/**
 * In a plain cdktf app (not `MlApp`, which writes them itself), writes a cluster's Kubernetes objects into the
 * app's output at synth as `k8s/<stack>/<cluster>/` (e.g. `cdktf.out/k8s/…`), and warns that Terraform does not
 * apply them.
 */
export function attachTerraformManifestFiles(
  cluster: IConstruct,
  stack: TerraformStack,
  clusterName: string,
  files: () => readonly ManifestFile[],
): void {
  if (cluster.node.tryGetContext(MLAPP_CONTEXT)) return;
  const folder = path.join('k8s', stack.node.id, clusterName);
  Object.defineProperty(cluster, CDKTF_CUSTOM_SYNTHESIS, {
    enumerable: false,
    value: {
      onSynthesize: (session: { readonly outdir: string }) =>
        replaceFolder(path.join(session.outdir, folder), files()),
    },
  });
  addTerraformWarning(
    cluster,
    `The Kubernetes objects of cluster ${clusterName} are written to <cdktf output>/${folder}/ (e.g. cdktf.out/${folder}/) and not applied by Terraform: apply them with 'kubectl apply -f' after 'cdktf deploy' (docs/deploy.md).`,
  );
}

/**
 * What the platforms of the Terraform clouds share: a cdktf stack's outputs, deploy-time values and warnings, and
 * no image builds (Terraform builds no images).
 */
export abstract class TerraformPlatform implements Pick<
  MlPlatform,
  'node' | 'stackName' | 'addOutput' | 'deployTimeValue' | 'addWarning' | 'mlstackServerImage'
> {
  /** The cloud. */
  public abstract readonly cloud: Cloud;

  constructor(
    /** The stack. */
    public readonly stack: TerraformStack,
  ) {}

  /** The stack's construct node. */
  public get node(): Node {
    return this.stack.node;
  }

  /** The stack name (its construct id, its folder under `<cloud>/stacks/`). */
  public get stackName(): string {
    return this.stack.node.id;
  }

  /** Adds a `TerraformOutput`. */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    new TerraformOutput(scope, id, { value, description });
  }

  /** Exports the value as the Terraform output `name` and returns its placeholder. */
  public deployTimeValue(name: string, value: string, description: string): string {
    return exportTerraformDeployTimeValue(this.stack, name, value, description);
  }

  /** Records a cdktf annotation and `mlstack:warning` metadata. */
  public addWarning(scope: IConstruct, message: string): void {
    addTerraformWarning(scope, message);
  }

  /** Terraform builds no images: the mlstack server image is a reference the user pushed to their registry. */
  public mlstackServerImage(): ServerImageResolution {
    return {
      reason: `on ${this.cloud} (Terraform does not build images)`,
      fix: "Build docker/mlstack-server.Dockerfile, push it to your registry and pass its reference as 'image'.",
    };
  }
}
