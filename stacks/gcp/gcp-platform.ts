import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import type { TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import type { MlPlatform } from '../ml-stack';
import { defaultProvider, TerraformPlatform } from '../private/terraform';
import { ConfigSyncFleet } from './config-sync-fleet';
import { GkeCluster } from './gke-cluster';

/** Where a Google Cloud stack's resources go. */
export interface GcpPlatformProps {
  /** The Google Cloud project id. */
  readonly project: string;
  /**
   * The region; clusters are regional (control plane replicated across the region's zones).
   * @see https://cloud.google.com/compute/docs/regions-zones
   */
  readonly region: string;
}

/** Checks a project id and region, naming `where`. */
export function checkGcpPlatformProps(where: string, props: Partial<GcpPlatformProps>): GcpPlatformProps {
  if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(props.project ?? '')) {
    throw new Error(
      `${where}: 'project' (${JSON.stringify(props.project)}) is not a Google Cloud project id. Use 6-30 lowercase letters, digits and hyphens, starting with a letter.`,
    );
  }
  if (!/^[a-z]+-[a-z]+\d$/.test(props.region ?? '')) {
    throw new Error(
      `${where}: 'region' (${JSON.stringify(props.region)}) is not a Google Cloud region. Use a region name such as 'us-central1'.`,
    );
  }
  return { project: props.project!, region: props.region! };
}

/**
 * mlstack's capabilities on a cdktf `TerraformStack` for Google Cloud: what `GcpMlStack` is, for a stack of any
 * class (`GcpMlStack.enable(stack, { project, region })`). It uses the stack's `google` provider when it has one
 * and declares one otherwise; it never adds a second.
 */
export class GcpPlatform extends TerraformPlatform implements MlPlatform {
  /** Always `gcp`. */
  public readonly cloud: Cloud = 'gcp';
  /** The project id. */
  public readonly project: string;
  /** The region. */
  public readonly region: string;

  constructor(stack: TerraformStack, props: GcpPlatformProps) {
    super(stack);
    const { project, region } = checkGcpPlatformProps(stack.node.path, props);
    this.project = project;
    this.region = region;
    const existing = defaultProvider(stack, 'google') as GoogleProvider | undefined;
    if (!existing) new GoogleProvider(stack, 'google', { project, region });
    else if (existing.project !== undefined && existing.project !== project) {
      throw new Error(
        `${stack.node.path}: the stack's google provider is for project '${existing.project}', not '${project}'. Pass the provider's project, or leave the provider's project unset.`,
      );
    }
  }

  /** A {@link GkeCluster} as `scope`'s default child. */
  public addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): GkeCluster {
    return new GkeCluster(scope, 'Default', {
      spec,
      project: this.project,
      region: this.region,
      stackName: this.stackName,
    });
  }

  /** A {@link ConfigSyncFleet} as `scope`'s default child. */
  public addEdgeFleet(scope: Construct, spec: EdgeFleetSpec): ConfigSyncFleet {
    return new ConfigSyncFleet(scope, 'Default', { ...spec, project: this.project, region: this.region });
  }
}
