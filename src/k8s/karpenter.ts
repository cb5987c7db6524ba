import type { NodePoolSpec, Taint } from '../spec/cluster';
import { CustomResource, DNS_LABEL, DURATION } from './custom-resource';

/**
 * Karpenter's custom resources (`karpenter.sh/v1` NodePool, `karpenter.k8s.aws/v1` EC2NodeClass), checked against
 * the fields Karpenter v1 requires (the typed npm model needs Node 22).
 * @see https://karpenter.sh/docs/concepts/nodepools/
 * @see https://karpenter.sh/docs/concepts/nodeclasses/
 */

/** A scheduling requirement of a NodePool. */
export interface NodeSelectorRequirement {
  readonly key: string;
  readonly operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist' | 'Gt' | 'Lt';
  readonly values?: readonly string[];
}

/** Spec of a {@link KarpenterNodePool}. */
export interface KarpenterNodePoolSpec {
  readonly template: {
    readonly metadata: { readonly labels: Readonly<Record<string, string>> };
    readonly spec: {
      readonly nodeClassRef: { readonly group: string; readonly kind: string; readonly name: string };
      readonly requirements: readonly NodeSelectorRequirement[];
      readonly taints?: readonly { readonly key: string; readonly value?: string; readonly effect: string }[];
      readonly expireAfter: string;
    };
  };
  readonly limits: Readonly<Record<string, string>>;
  readonly disruption: {
    readonly consolidationPolicy: 'WhenEmpty' | 'WhenEmptyOrUnderutilized';
    readonly consolidateAfter: string;
    readonly budgets: readonly { readonly nodes: string; readonly reasons?: readonly string[] }[];
  };
}

/** A Karpenter NodePool: what nodes Karpenter may launch for pending pods, and how it takes them away. */
export class KarpenterNodePool extends CustomResource<KarpenterNodePoolSpec> {
  public readonly apiVersion = 'karpenter.sh/v1';
  public readonly kind = 'NodePool';

  public validate(): void {
    const t = this.spec.template;
    this.check(
      this.metadata.namespace === undefined,
      'metadata.namespace',
      'must be unset: NodePool is cluster-scoped',
    );
    this.check(DNS_LABEL.test(this.metadata.name), 'metadata.name', 'must be a DNS label');
    this.check(
      t.spec.nodeClassRef.group === 'karpenter.k8s.aws',
      'spec.template.spec.nodeClassRef.group',
      'must be karpenter.k8s.aws',
    );
    this.check(
      t.spec.nodeClassRef.kind === 'EC2NodeClass',
      'spec.template.spec.nodeClassRef.kind',
      'must be EC2NodeClass',
    );
    this.check(t.spec.requirements.length > 0, 'spec.template.spec.requirements', 'must not be empty');
    t.spec.requirements.forEach((r, i) => {
      const needsValues =
        r.operator === 'In' || r.operator === 'NotIn' || r.operator === 'Gt' || r.operator === 'Lt';
      this.check(!!r.key, `spec.template.spec.requirements[${i}].key`, 'is required');
      this.check(
        !needsValues || (r.values ?? []).length > 0,
        `spec.template.spec.requirements[${i}].values`,
        `must not be empty with ${r.operator}`,
      );
    });
    for (const [i, taint] of (t.spec.taints ?? []).entries()) {
      this.check(
        ['NoSchedule', 'PreferNoSchedule', 'NoExecute'].includes(taint.effect),
        `spec.template.spec.taints[${i}].effect`,
        'is not a taint effect',
      );
    }
    this.check(
      DURATION.test(t.spec.expireAfter) || t.spec.expireAfter === 'Never',
      'spec.template.spec.expireAfter',
      'must be a duration or Never',
    );
    this.check(
      DURATION.test(this.spec.disruption.consolidateAfter),
      'spec.disruption.consolidateAfter',
      'must be a duration',
    );
    for (const [k, v] of Object.entries(this.spec.limits)) {
      this.check(/^\d+(\.\d+)?(m|Ki|Mi|Gi|Ti)?$/.test(v), `spec.limits.${k}`, 'must be a quantity');
    }
    for (const [i, b] of this.spec.disruption.budgets.entries()) {
      this.check(
        /^\d+%?$/.test(b.nodes),
        `spec.disruption.budgets[${i}].nodes`,
        'must be a count or a percentage',
      );
    }
  }
}

/** Spec of a {@link KarpenterEC2NodeClass}. */
export interface EC2NodeClassSpec {
  /** The IAM role of the nodes (Karpenter makes their instance profile). */
  readonly role: string;
  readonly amiSelectorTerms: readonly { readonly alias?: string; readonly id?: string }[];
  readonly subnetSelectorTerms: readonly (
    { readonly tags: Readonly<Record<string, string>> } | { readonly id: string }
  )[];
  readonly securityGroupSelectorTerms: readonly { readonly tags: Readonly<Record<string, string>> }[];
  readonly blockDeviceMappings: readonly {
    readonly deviceName: string;
    readonly ebs: { readonly volumeSize: string; readonly volumeType: string; readonly encrypted: boolean };
  }[];
  readonly metadataOptions: {
    readonly httpEndpoint: 'enabled' | 'disabled';
    readonly httpTokens: 'required' | 'optional';
    readonly httpPutResponseHopLimit: number;
  };
  readonly tags: Readonly<Record<string, string>>;
}

/** A Karpenter EC2NodeClass: how nodes are launched (AMI, subnets, security groups, disks, IMDS). */
export class KarpenterEC2NodeClass extends CustomResource<EC2NodeClassSpec> {
  public readonly apiVersion = 'karpenter.k8s.aws/v1';
  public readonly kind = 'EC2NodeClass';

  public validate(): void {
    this.check(
      this.metadata.namespace === undefined,
      'metadata.namespace',
      'must be unset: EC2NodeClass is cluster-scoped',
    );
    this.check(DNS_LABEL.test(this.metadata.name), 'metadata.name', 'must be a DNS label');
    this.check(/^[\w+=,.@-]{1,64}$/.test(this.spec.role), 'spec.role', 'must be an IAM role name');
    this.check(this.spec.amiSelectorTerms.length > 0, 'spec.amiSelectorTerms', 'must not be empty');
    this.check(this.spec.subnetSelectorTerms.length > 0, 'spec.subnetSelectorTerms', 'must not be empty');
    this.check(
      this.spec.securityGroupSelectorTerms.length > 0,
      'spec.securityGroupSelectorTerms',
      'must not be empty',
    );
    for (const [i, b] of this.spec.blockDeviceMappings.entries()) {
      this.check(
        /^\d+Gi$/.test(b.ebs.volumeSize),
        `spec.blockDeviceMappings[${i}].ebs.volumeSize`,
        'must be a size in Gi',
      );
    }
  }
}

/** The label keys and values Karpenter puts on the nodes it launches for `pool`, and their taints. */
export interface KarpenterPoolOptions {
  readonly pool: NodePoolSpec;
  /** The cluster's name: subnets carry `karpenter.sh/discovery: <name>`, EKS tags the cluster security group. */
  readonly clusterName: string;
  /** The IAM role of the nodes. */
  readonly nodeRoleName: string;
  /** Tags of the instances and volumes (cost allocation). */
  readonly tags: Readonly<Record<string, string>>;
  /**
   * Subnets named by id (subnets that cannot be tagged, such as imported ones), besides those tagged for discovery.
   * @default []
   */
  readonly subnetIds?: readonly string[];
  /**
   * Whether some of the cluster's subnets carry `karpenter.sh/discovery: <cluster>`.
   * @default true
   */
  readonly taggedSubnets?: boolean;
}

/**
 * The NodePool and EC2NodeClass of one GpuCluster pool: its instance type, capacity type (spot pools may fall back
 * to on-demand when no spot capacity is left), zones, labels and taints; at most `maxNodes − minNodes` nodes
 * (the first `minNodes` are a managed node group); empty nodes removed after 5 minutes, 10% at a time.
 */
export function karpenterPool(opts: KarpenterPoolOptions): [KarpenterEC2NodeClass, KarpenterNodePool] {
  const { pool } = opts;
  const name = `mlstack-${pool.name}`;
  const labels = { 'app.kubernetes.io/managed-by': 'mlstack' };
  const nodeClass = new KarpenterEC2NodeClass(
    { name, labels },
    {
      role: opts.nodeRoleName,
      // AL2023 picks its NVIDIA variant (driver and container toolkit) for GPU instance types.
      amiSelectorTerms: [{ alias: 'al2023@latest' }],
      subnetSelectorTerms: [
        ...((opts.taggedSubnets ?? true) ? [{ tags: { 'karpenter.sh/discovery': opts.clusterName } }] : []),
        ...(opts.subnetIds ?? []).map((id) => ({ id })),
      ],
      securityGroupSelectorTerms: [{ tags: { 'aws:eks:cluster-name': opts.clusterName } }],
      blockDeviceMappings: [
        {
          deviceName: '/dev/xvda',
          ebs: { volumeSize: `${pool.diskSizeGiB}Gi`, volumeType: 'gp3', encrypted: true },
        },
      ],
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
      tags: { ...opts.tags, 'mlstack.io/pool': pool.name },
    },
  );
  const burst = pool.maxNodes - pool.minNodes;
  const nodePool = new KarpenterNodePool(
    { name, labels },
    {
      template: {
        metadata: { labels: { ...pool.labels } },
        spec: {
          nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name },
          requirements: [
            { key: 'node.kubernetes.io/instance-type', operator: 'In', values: [pool.instanceType] },
            {
              key: 'karpenter.sh/capacity-type',
              operator: 'In',
              values: pool.spot ? ['spot', 'on-demand'] : ['on-demand'],
            },
            ...(pool.zones
              ? [{ key: 'topology.kubernetes.io/zone', operator: 'In' as const, values: [...pool.zones] }]
              : []),
          ],
          ...(pool.taints.length ? { taints: pool.taints.map(karpenterTaint) } : {}),
          expireAfter: '720h',
        },
      },
      limits: {
        ...(pool.gpu ? { 'nvidia.com/gpu': String(burst * pool.gpu.count) } : {}),
        cpu: String(burst * pool.vcpus),
      },
      disruption: { consolidationPolicy: 'WhenEmpty', consolidateAfter: '5m', budgets: [{ nodes: '10%' }] },
    },
  );
  return [nodeClass, nodePool];
}

function karpenterTaint(t: Taint): { key: string; value?: string; effect: string } {
  return { key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect };
}
