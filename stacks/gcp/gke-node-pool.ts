import { ContainerNodePool } from '@cdktf/provider-google/lib/container-node-pool';
import type { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { Construct } from 'constructs';
import { DEFAULT_GPU_TAINT, type NodePoolSpec, TaintEffect } from '../../src/spec/cluster';

/** Props of {@link GkeNodePool}. */
export interface GkeNodePoolProps {
  /** The cluster's id. */
  readonly clusterId: string;
  /** The least-privilege node service account. */
  readonly nodeServiceAccount: ServiceAccount;
  /** The cluster's location (region, or zone of a zonal cluster). */
  readonly location: string;
  /** Labels of the cluster's resources. */
  readonly resourceLabels: Readonly<Record<string, string>>;
  /** The pool, resolved for Google Cloud. */
  readonly pool: NodePoolSpec;
}

const GKE_TAINT_EFFECT: Record<TaintEffect, string> = {
  [TaintEffect.NO_SCHEDULE]: 'NO_SCHEDULE',
  [TaintEffect.PREFER_NO_SCHEDULE]: 'PREFER_NO_SCHEDULE',
  [TaintEffect.NO_EXECUTE]: 'NO_EXECUTE',
};

/**
 * One pool of a GpuCluster on GKE: an autoscaled node pool (GKE's cluster autoscaler scales it from its minimum,
 * zero included), COS with containerd, shielded nodes, the GKE metadata server, and for GPU pools the guest
 * accelerators with GKE's driver installation and time-sharing or MIG partitioning. The node pool is this
 * construct's default child.
 *
 * @example
 * GkeCluster.of(cluster).nodePool('inference').nodePool.putNetworkConfig({ enablePrivateNodes: true });
 */
export class GkeNodePool extends Construct {
  /** The node pool. */
  public readonly nodePool: ContainerNodePool;
  /** The pool it implements. */
  public readonly pool: NodePoolSpec;

  constructor(scope: Construct, id: string, props: GkeNodePoolProps) {
    super(scope, id);
    const pool = props.pool;
    this.pool = pool;
    const gpu = pool.gpu;
    // GKE taints GPU nodes with nvidia.com/gpu=present:NoSchedule itself; declaring it again makes a diff.
    const taints = pool.taints.filter(
      (t) =>
        !(
          gpu &&
          t.key === DEFAULT_GPU_TAINT.key &&
          t.value === DEFAULT_GPU_TAINT.value &&
          t.effect === DEFAULT_GPU_TAINT.effect
        ),
    );
    this.nodePool = new ContainerNodePool(this, 'Default', {
      name: pool.name,
      cluster: props.clusterId,
      location: props.location,
      ...(pool.zones ? { nodeLocations: [...pool.zones] } : {}),
      initialNodeCount: pool.role === 'system' ? 1 : 0,
      autoscaling: {
        totalMinNodeCount: pool.minNodes,
        totalMaxNodeCount: pool.maxNodes,
        // GPUs are scarce: take capacity in whichever zone has it.
        locationPolicy: gpu ? 'ANY' : 'BALANCED',
      },
      management: { autoRepair: true, autoUpgrade: true },
      upgradeSettings: { maxSurge: 1, maxUnavailable: 0 },
      nodeConfig: {
        machineType: pool.instanceType,
        diskSizeGb: pool.diskSizeGiB,
        diskType: 'pd-balanced',
        imageType: 'COS_CONTAINERD',
        serviceAccount: props.nodeServiceAccount.email,
        oauthScopes: ['https://www.googleapis.com/auth/cloud-platform'],
        labels: { ...pool.labels },
        resourceLabels: { ...props.resourceLabels },
        spot: pool.spot,
        shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
        workloadMetadataConfig: { mode: 'GKE_METADATA' },
        ...(taints.length
          ? {
              taint: taints.map((t) => ({
                key: t.key,
                value: t.value ?? '',
                effect: GKE_TAINT_EFFECT[t.effect],
              })),
            }
          : {}),
        ...(gpu
          ? {
              guestAccelerator: [
                {
                  type: gpu.acceleratorType ?? '',
                  count: gpu.count,
                  gpuDriverInstallationConfig: { gpuDriverVersion: 'LATEST' },
                  ...(gpu.sharing?.strategy === 'mig' ? { gpuPartitionSize: gpu.sharing.migProfile } : {}),
                  ...(gpu.sharing?.strategy === 'time-slicing'
                    ? {
                        gpuSharingConfig: {
                          gpuSharingStrategy: 'TIME_SHARING',
                          maxSharedClientsPerGpu: gpu.sharing.replicas ?? 2,
                        },
                      }
                    : {}),
                },
              ],
            }
          : {}),
      },
    });
  }
}
