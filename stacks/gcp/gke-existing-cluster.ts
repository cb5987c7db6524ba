import type { ExistingCluster } from '../../src/spec/cluster';
import { MlStackValidationError } from '../../src/spec/errors';

/** What mlstack needs to know about a GKE cluster you already run. */
export interface GkeExistingClusterProps {
  /** The cluster's name. */
  readonly name: string;
  /**
   * Its location: the stack's region for a regional cluster, or one of the region's zones for a zonal one.
   */
  readonly location: string;
}

/**
 * A GKE Standard cluster you already run, in the stack's project, for a `GpuCluster` on Google Cloud:
 * `existingCluster: GkeExistingCluster.fromName({ name, location })`. mlstack then creates no cluster, network or
 * KMS key: it adds its node pools (with a least-privilege node service account of their own), Workload Identity
 * bindings and every construct's resources. The cluster is read as a Terraform data source whose postconditions
 * fail `terraform plan` when it lacks what mlstack relies on: Workload Identity on the project's pool, and Managed
 * Service for Prometheus when a construct collects metrics (`gcloud container clusters update <name>
 * --enable-managed-prometheus`). A private database (MlflowTracking) needs the cluster's network as `network`.
 *
 * @example
 * new GpuCluster(stack, 'Gpus', {
 *   existingCluster: GkeExistingCluster.fromName({ name: 'prod', location: 'us-central1' }),
 *   gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
 * });
 */
export class GkeExistingCluster implements ExistingCluster {
  /**
   * The cluster `props.name` at `props.location`, in the stack's project.
   * @throws naming the field when one is malformed
   */
  public static fromName(props: GkeExistingClusterProps): GkeExistingCluster {
    const where = 'GkeExistingCluster.fromName';
    if (typeof props.name !== 'string' || !/^[a-z]([-a-z0-9]{0,38}[a-z0-9])?$/.test(props.name)) {
      throw new MlStackValidationError(
        where,
        'name',
        props.name,
        'is not a GKE cluster name',
        'Pass the name `gcloud container clusters list` prints.',
      );
    }
    if (typeof props.location !== 'string' || !/^[a-z]+-[a-z]+\d(-[a-z])?$/.test(props.location)) {
      throw new MlStackValidationError(
        where,
        'location',
        props.location,
        'is not a Google Cloud region or zone',
        "Pass the cluster's location, e.g. 'us-central1' (regional) or 'us-central1-a' (zonal).",
      );
    }
    return new GkeExistingCluster(props);
  }

  /**
   * The GkeExistingCluster that a GpuCluster's `existingCluster` prop holds.
   * @throws naming what to pass instead when it is another cloud's
   */
  public static of(cluster: ExistingCluster): GkeExistingCluster {
    if (cluster instanceof GkeExistingCluster) return cluster;
    throw new Error(
      `'existingCluster' (${cluster.description}) is not a GKE cluster: pass GkeExistingCluster.fromName({ name, location }) from 'mlstack/gcp'.`,
    );
  }

  /** Always `gcp`. */
  public readonly cloud = 'gcp' as const;

  private constructor(
    /** What was passed. */
    public readonly props: GkeExistingClusterProps,
  ) {}

  /** The cluster's name. */
  public get name(): string {
    return this.props.name;
  }

  /** What it is, for messages. */
  public get description(): string {
    return `GKE cluster ${this.name} in ${this.props.location} (imported)`;
  }
}
