import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import { type IMlStack, MlStack, type ServerImageResolution } from '../ml-stack';
import {
  addTerraformWarning,
  configureBackend,
  exportTerraformDeployTimeValue,
  type TerraformBackendFactory,
} from '../private/terraform';
import { ConfigSyncFleet } from './config-sync-fleet';
import { GkeCluster } from './gke-cluster';

/** Props of {@link GcpMlStack}. */
export interface GcpMlStackProps {
  /** The Google Cloud project id. */
  readonly project: string;
  /**
   * The region; clusters are regional (control plane replicated across the region's zones).
   * @see https://cloud.google.com/compute/docs/regions-zones
   */
  readonly region: string;
  /**
   * The Terraform backend.
   * @default - a local backend at `terraform.<stack>.tfstate`, relative to the stack's folder
   */
  readonly backend?: TerraformBackendFactory;
}

/**
 * A CDK for Terraform stack with the `google` provider whose capabilities are Google Cloud services, each a
 * construct of its own file: {@link GkeCluster} (with {@link GkeNodePool}s, {@link GcsObjectStore}s,
 * {@link GkeWorkloadIdentity}s, {@link CloudSqlPostgres} and {@link GmpPrometheus}) and {@link ConfigSyncFleet}.
 */
export class GcpMlStack extends TerraformStack implements IMlStack {
  /** Always `gcp`. */
  public readonly cloud: Cloud = 'gcp';
  /** The stack name (its construct id). */
  public readonly stackName: string;
  /** The project id. */
  public readonly project: string;
  /** The region. */
  public readonly region: string;

  constructor(scope: Construct, id: string, props: GcpMlStackProps) {
    super(scope, id);
    MlStack.mark(this);
    this.stackName = id;
    if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(props.project ?? '')) {
      throw new Error(
        `GcpMlStack '${id}': 'project' (${JSON.stringify(props.project)}) is not a Google Cloud project id. Use 6-30 lowercase letters, digits and hyphens, starting with a letter.`,
      );
    }
    if (!/^[a-z]+-[a-z]+\d$/.test(props.region ?? '')) {
      throw new Error(
        `GcpMlStack '${id}': 'region' (${JSON.stringify(props.region)}) is not a Google Cloud region. Use a region name such as 'us-central1'.`,
      );
    }
    this.project = props.project;
    this.region = props.region;
    new GoogleProvider(this, 'google', { project: props.project, region: props.region });
    configureBackend(this, id, props.backend);
  }

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    new TerraformOutput(scope, id, { value, description });
  }

  /** @inheritdoc */
  public deployTimeValue(name: string, value: string, description: string): string {
    return exportTerraformDeployTimeValue(this, name, value, description);
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    addTerraformWarning(scope, message);
  }

  /** Terraform builds no images: the mlstack server image is a reference the user pushed (Artifact Registry). */
  public mlstackServerImage(): ServerImageResolution {
    return {
      reason: 'on gcp (Terraform does not build images)',
      fix: "Build docker/mlstack-server.Dockerfile, push it to your registry and pass its reference as 'image'.",
    };
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
