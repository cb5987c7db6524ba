import { KubernetesClusterNodePool } from '@cdktf/provider-azurerm/lib/kubernetes-cluster-node-pool';
import { Construct } from 'constructs';
import type { NodePoolSpec } from '../../src/spec/cluster';

/** Props of {@link AksNodePool}. */
export interface AksNodePoolProps {
  /** The cluster's resource id. */
  readonly clusterId: string;
  /**
   * The node subnet's id.
   * @default - where AKS puts the cluster's pools (an imported cluster's own VNet)
   */
  readonly subnetId?: string;
  readonly tags: Readonly<Record<string, string>>;
  /** The pool, resolved for Azure. */
  readonly pool: NodePoolSpec;
}

/**
 * One user pool of a GpuCluster on AKS: an autoscaled node pool (the AKS cluster autoscaler scales it from its
 * minimum, zero included) on Azure Linux, Spot with eviction by deletion when asked, and for GPU pools the NVIDIA
 * driver installed by AKS and MIG partitioning (`gpu_instance`). The node pool is this construct's default child.
 *
 * @example
 * AksCluster.of(cluster).nodePool('inference').nodePool.maxPods = 60;
 */
export class AksNodePool extends Construct {
  /** The node pool. */
  public readonly nodePool: KubernetesClusterNodePool;
  /** The pool it implements. */
  public readonly pool: NodePoolSpec;

  constructor(scope: Construct, id: string, props: AksNodePoolProps) {
    super(scope, id);
    const pool = props.pool;
    this.pool = pool;
    const gpu = pool.gpu;
    const mig = gpu?.sharing?.strategy === 'mig' ? `MIG${gpu.sharing.migProfile?.split('.')[0]}` : undefined;
    this.nodePool = new KubernetesClusterNodePool(this, 'Default', {
      name: pool.name,
      kubernetesClusterId: props.clusterId,
      mode: 'User',
      vmSize: pool.instanceType,
      osSku: 'AzureLinux',
      autoScalingEnabled: true,
      minCount: pool.minNodes,
      maxCount: pool.maxNodes,
      nodeCount: pool.minNodes,
      osDiskSizeGb: pool.diskSizeGiB,
      ...(props.subnetId !== undefined ? { vnetSubnetId: props.subnetId } : {}),
      nodeLabels: { ...pool.labels },
      nodeTaints: pool.taints.map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`),
      ...(pool.zones ? { zones: [...pool.zones] } : {}),
      ...(pool.spot
        ? { priority: 'Spot', evictionPolicy: 'Delete', spotMaxPrice: -1 }
        : { upgradeSettings: { maxSurge: '1' } }),
      // AKS installs the NVIDIA driver; the device plugin comes from mlstack's manifests.
      ...(gpu ? { gpuDriver: 'Install' } : {}),
      ...(mig ? { gpuInstance: mig } : {}),
      tags: { ...props.tags },
    });
  }
}
