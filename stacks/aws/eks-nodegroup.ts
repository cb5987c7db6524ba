import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct } from 'constructs';
import { type NodePoolSpec, TaintEffect } from '../../src/spec/cluster';

/** Props of {@link EksNodegroup}. */
export interface EksNodegroupProps {
  /** The cluster. */
  readonly cluster: eks.ICluster;
  /** The cluster's name as written at synth (its Cluster Autoscaler discovery tag). */
  readonly clusterName: string;
  /** The pool, resolved for AWS. */
  readonly pool: NodePoolSpec;
  /**
   * A node group of exactly this many nodes (the pool's minimum; Karpenter adds the rest), without autoscaler tags.
   * @default - the pool's minNodes to maxNodes, tagged for the Cluster Autoscaler
   */
  readonly fixedSize?: number;
  /**
   * The cluster's node subnets.
   * @default - the VPC's private subnets with egress
   */
  readonly subnets?: ec2.SubnetSelection;
}

const TAINT_EFFECT: Record<TaintEffect, eks.TaintEffect> = {
  [TaintEffect.NO_SCHEDULE]: eks.TaintEffect.NO_SCHEDULE,
  [TaintEffect.PREFER_NO_SCHEDULE]: eks.TaintEffect.PREFER_NO_SCHEDULE,
  [TaintEffect.NO_EXECUTE]: eks.TaintEffect.NO_EXECUTE,
};

/**
 * One pool of a GpuCluster on EKS: a managed node group with the pool's instance type, capacity type (spot or
 * on-demand), size, disk, labels and taints, in the cluster's private subnets, on the AL2023 AMI (the NVIDIA one for
 * GPU pools, which ships the driver and the container toolkit). The node group is this construct's default child.
 *
 * @example
 * // Reach the node group of the system pool (a pool with minNodes 0 has none: Karpenter launches its nodes):
 * const nodegroup = EksCluster.of(cluster).nodegroup('system').nodegroup;
 */
export class EksNodegroup extends Construct {
  /** The managed node group. */
  public readonly nodegroup: eks.Nodegroup;
  /** The pool it implements. */
  public readonly pool: NodePoolSpec;

  constructor(scope: Construct, id: string, props: EksNodegroupProps) {
    super(scope, id);
    const pool = props.pool;
    this.pool = pool;
    const gpu = pool.gpu !== undefined;
    this.nodegroup = new eks.Nodegroup(this, 'Default', {
      cluster: props.cluster,
      // instanceTypes is set on the L1 below: aws-eks-v2 checks the AMI type against its own list of GPU
      // families (p2, p3, g2, g3, g4), which lacks g5, g6, g6e, p4d, p4de and p5 and would reject the NVIDIA AMI.
      amiType: gpu ? eks.NodegroupAmiType.AL2023_X86_64_NVIDIA : eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      capacityType: pool.spot ? eks.CapacityType.SPOT : eks.CapacityType.ON_DEMAND,
      minSize: props.fixedSize ?? pool.minNodes,
      maxSize: props.fixedSize ?? pool.maxNodes,
      desiredSize: props.fixedSize ?? pool.minNodes,
      diskSize: pool.diskSizeGiB,
      labels: { ...pool.labels },
      taints: pool.taints.map((t) => ({
        key: t.key,
        ...(t.value !== undefined ? { value: t.value } : {}),
        effect: TAINT_EFFECT[t.effect],
      })),
      subnets: {
        ...(props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }),
        ...(pool.zones ? { availabilityZones: [...pool.zones] } : {}),
      },
      // A group that scales (no fixedSize) carries the Cluster Autoscaler's discovery and scale-from-zero tags.
      ...(props.fixedSize === undefined ? { tags: autoscalerTemplateTags(props.clusterName, pool) } : {}),
    });
    (this.nodegroup.node.defaultChild as eks.CfnNodegroup).instanceTypes = [pool.instanceType];
  }
}

/**
 * Tags that let the Kubernetes Cluster Autoscaler scale a pool up from zero: it cannot see a node's labels,
 * taints or GPUs before one exists, so it reads them from these tags.
 * @see https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md#auto-discovery-setup
 */
function autoscalerTemplateTags(clusterName: string, pool: NodePoolSpec): Record<string, string> {
  const prefix = 'k8s.io/cluster-autoscaler/node-template';
  const tags: Record<string, string> = {
    'k8s.io/cluster-autoscaler/enabled': 'true',
    [`k8s.io/cluster-autoscaler/${clusterName}`]: 'owned',
  };
  for (const [k, v] of Object.entries(pool.labels)) tags[`${prefix}/label/${k}`] = v;
  for (const t of pool.taints) tags[`${prefix}/taint/${t.key}`] = `${t.value ?? ''}:${t.effect}`;
  if (pool.gpu) tags[`${prefix}/resources/nvidia.com/gpu`] = String(pool.gpu.count);
  return tags;
}
