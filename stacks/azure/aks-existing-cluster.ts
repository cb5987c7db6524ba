import type { ExistingCluster } from '../../src/spec/cluster';
import { MlStackValidationError } from '../../src/spec/errors';

const CLUSTER_ID =
  /^\/subscriptions\/([0-9a-fA-F-]{36})\/resourceGroups\/([-\w._()]{1,90})\/providers\/Microsoft\.ContainerService\/managedClusters\/([a-zA-Z0-9][-_a-zA-Z0-9]{0,62})$/i;

/**
 * An AKS cluster you already run, for a `GpuCluster` on Azure: `existingCluster: AksExistingCluster.fromId(id)`.
 * mlstack then creates no cluster, VNet or Log Analytics workspace: it adds its node pools (user mode, in
 * `network`'s subnet when given, else where the cluster puts pools), managed identities federated with the
 * cluster's OIDC issuer, and every construct's resources, in a resource group of its own (`<name>-mlstack`). The
 * cluster is read as a Terraform data source whose postcondition fails `terraform plan` when its OIDC issuer is off.
 * The cluster must also run workload identity (`az aks update --enable-workload-identity`) and, when a construct
 * collects metrics, the managed Prometheus metrics add-on (`az aks update --enable-azure-monitor-metrics`); the
 * data source cannot tell those, so synth says so. A private database (MlflowTracking) needs `network` with a
 * delegated `databaseSubnetId`.
 *
 * @example
 * new GpuCluster(stack, 'Gpus', {
 *   existingCluster: AksExistingCluster.fromId(
 *     '/subscriptions/…/resourceGroups/platform/providers/Microsoft.ContainerService/managedClusters/prod',
 *   ),
 *   gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }],
 * });
 */
export class AksExistingCluster implements ExistingCluster {
  /**
   * The cluster with resource id `id` (`az aks show -g <rg> -n <name> --query id -o tsv`).
   * @throws naming the value when it is not an AKS cluster id
   */
  public static fromId(id: string): AksExistingCluster {
    const m = typeof id === 'string' ? CLUSTER_ID.exec(id) : null;
    if (!m) {
      throw new MlStackValidationError(
        'AksExistingCluster.fromId',
        'id',
        id,
        'is not an AKS cluster resource id',
        "Pass '/subscriptions/<subscription>/resourceGroups/<group>/providers/Microsoft.ContainerService/managedClusters/<name>' (az aks show --query id).",
      );
    }
    return new AksExistingCluster(id, m[1].toLowerCase(), m[2], m[3]);
  }

  /**
   * The AksExistingCluster that a GpuCluster's `existingCluster` prop holds.
   * @throws naming what to pass instead when it is another cloud's
   */
  public static of(cluster: ExistingCluster): AksExistingCluster {
    if (cluster instanceof AksExistingCluster) return cluster;
    throw new Error(
      `'existingCluster' (${cluster.description}) is not an AKS cluster: pass AksExistingCluster.fromId(id) from 'mlstack/azure'.`,
    );
  }

  /** Always `azure`. */
  public readonly cloud = 'azure' as const;

  private constructor(
    /** The cluster's resource id. */
    public readonly id: string,
    /** Its subscription. */
    public readonly subscriptionId: string,
    /** Its resource group. */
    public readonly resourceGroupName: string,
    /** Its name. */
    public readonly name: string,
  ) {}

  /** What it is, for messages. */
  public get description(): string {
    return `AKS cluster ${this.name} in resource group ${this.resourceGroupName} (imported)`;
  }
}
