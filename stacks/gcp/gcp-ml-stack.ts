import type { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { TerraformStack } from 'cdktf';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import { TerraformState } from '../private/terraform-state';
import { type IMlStack, MlStack, type MlPlatform, type ServerImageResolution } from '../ml-stack';
import { defaultProvider } from '../private/terraform';
import { checkGcpPlatformProps, GcpPlatform, type GcpPlatformProps } from './gcp-platform';
import type { ConfigSyncFleet } from './config-sync-fleet';
import type { GkeCluster } from './gke-cluster';

/** Props of {@link GcpMlStack}. */
export interface GcpMlStackProps extends GcpPlatformProps {
  /**
   * Where Terraform keeps the stack's state (it holds generated passwords and connection strings).
   * @default - the GCS bucket `<project>-tfstate`, prefix `mlstack/<stack>` (TerraformState.defaultFor)
   */
  readonly state?: TerraformState;
}

/**
 * A CDK for Terraform stack with the `google` provider whose capabilities are Google Cloud services, each a
 * construct of its own file: {@link GkeCluster} (with {@link GkeNodePool}s, {@link GcsObjectStore}s,
 * {@link GkeWorkloadIdentity}s, {@link CloudSqlPostgres} and {@link GmpPrometheus}) and {@link ConfigSyncFleet}.
 *
 * A stack you already have works too: `GcpMlStack.enable(stack, { project, region })`, or nothing at all when it
 * has a `google` provider with its project and region set (mlstack then uses that provider).
 */
export class GcpMlStack extends TerraformStack implements IMlStack {
  /**
   * Lets mlstack constructs use `stack`, a cdktf `TerraformStack` of any class, in this project and region. Its
   * `google` provider is used when it has one (declared before this call); otherwise one is declared. Its backend
   * is left as it is.
   * @throws when the stack is already an mlstack stack, or its provider is for another project
   */
  public static enable(stack: TerraformStack, props: GcpPlatformProps): MlPlatform {
    return MlStack.enable(stack, new GcpPlatform(stack, props));
  }

  /** Always `gcp`. */
  public readonly cloud: Cloud = 'gcp';
  /** The stack name (its construct id). */
  public readonly stackName: string;
  /** The project id. */
  public readonly project: string;
  /** The region. */
  public readonly region: string;
  private readonly platform: GcpPlatform;

  constructor(scope: Construct, id: string, props: GcpMlStackProps) {
    super(scope, id);
    MlStack.mark(this);
    this.stackName = id;
    checkGcpPlatformProps(`GcpMlStack '${id}'`, props);
    this.platform = new GcpPlatform(this, props);
    this.project = this.platform.project;
    this.region = this.platform.region;
    (props.state ?? TerraformState.defaultFor({ cloud: 'gcp', project: this.project })).bind(
      this,
      `GcpMlStack '${id}'`,
    );
  }

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    this.platform.addOutput(scope, id, value, description);
  }

  /** @inheritdoc */
  public deployTimeValue(name: string, value: string, description: string): string {
    return this.platform.deployTimeValue(name, value, description);
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    this.platform.addWarning(scope, message);
  }

  /** Terraform builds no images: the mlstack server image is a reference the user pushed (Artifact Registry). */
  public mlstackServerImage(): ServerImageResolution {
    return this.platform.mlstackServerImage();
  }

  /** A {@link GkeCluster} as `scope`'s default child. */
  public addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): GkeCluster {
    return this.platform.addKubernetesCluster(scope, spec);
  }

  /** A {@link ConfigSyncFleet} as `scope`'s default child. */
  public addEdgeFleet(scope: Construct, spec: EdgeFleetSpec): ConfigSyncFleet {
    return this.platform.addEdgeFleet(scope, spec);
  }
}

// A cdktf stack with a google provider that names its project and region needs no enable() call.
MlStack.registerResolver((node) => {
  if (!(node instanceof TerraformStack)) return undefined;
  const provider = defaultProvider(node, 'google') as GoogleProvider | undefined;
  if (!provider?.project || !provider.region) return undefined;
  return new GcpPlatform(node, { project: provider.project, region: provider.region });
});
