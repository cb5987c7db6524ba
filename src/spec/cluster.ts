import type { Cloud, GpuType } from './gpu';

/**
 * A Kubernetes minor version. Every cloud runs the same minor; patch versions are the cloud's choice.
 * @see https://docs.aws.amazon.com/eks/latest/userguide/kubernetes-versions.html
 * @see https://cloud.google.com/kubernetes-engine/docs/release-schedule
 * @see https://learn.microsoft.com/azure/aks/supported-kubernetes-versions
 */
export class KubernetesVersion {
  /** Kubernetes 1.32. */
  public static readonly V1_32 = new KubernetesVersion('1.32');
  /** Kubernetes 1.33. */
  public static readonly V1_33 = new KubernetesVersion('1.33');
  /** Kubernetes 1.34. */
  public static readonly V1_34 = new KubernetesVersion('1.34');

  /** A version not listed here yet, as `major.minor` (e.g. `1.35`). */
  public static of(version: string): KubernetesVersion {
    if (!/^1\.\d{2}$/.test(version)) {
      throw new Error(`KubernetesVersion.of('${version}'): use a 'major.minor' version such as '1.33'.`);
    }
    return new KubernetesVersion(version);
  }

  private constructor(
    /** `major.minor`, e.g. `1.33`. */
    public readonly version: string,
  ) {}

  /** The version string. */
  public toString(): string {
    return this.version;
  }
}

/**
 * The size of a CPU node, mapped to a general-purpose type on each cloud (current-generation, 4 GiB per vCPU).
 */
export class NodeSize {
  /** 2 vCPU, 8 GiB: m6i.large, e2-standard-2, Standard_D2s_v5. */
  public static readonly LARGE = new NodeSize('large', 2, {
    aws: 'm6i.large',
    gcp: 'e2-standard-2',
    azure: 'Standard_D2s_v5',
  });
  /** 4 vCPU, 16 GiB: m6i.xlarge, e2-standard-4, Standard_D4s_v5. */
  public static readonly XLARGE = new NodeSize('xlarge', 4, {
    aws: 'm6i.xlarge',
    gcp: 'e2-standard-4',
    azure: 'Standard_D4s_v5',
  });
  /** 8 vCPU, 32 GiB: m6i.2xlarge, e2-standard-8, Standard_D8s_v5. */
  public static readonly XLARGE2 = new NodeSize('2xlarge', 8, {
    aws: 'm6i.2xlarge',
    gcp: 'e2-standard-8',
    azure: 'Standard_D8s_v5',
  });

  /**
   * A size given as each cloud's own instance type.
   * @param memoryGiB memory of one node; default 4 GiB per vCPU
   */
  public static of(
    instanceTypes: Readonly<Record<Cloud, string>>,
    vcpus: number,
    memoryGiB?: number,
  ): NodeSize {
    return new NodeSize('custom', vcpus, instanceTypes, memoryGiB ?? vcpus * 4);
  }

  private constructor(
    /** A short name, for messages. */
    public readonly name: string,
    /** vCPUs of one node. */
    public readonly vcpus: number,
    private readonly types: Readonly<Record<Cloud, string>>,
    /** Memory of one node, in GiB. */
    public readonly memoryGiB: number = vcpus * 4,
  ) {}

  /** The instance/machine type/VM size on a cloud. */
  public instanceType(cloud: Cloud): string {
    return this.types[cloud];
  }

  /** The name, so that messages read naturally. */
  public toString(): string {
    return this.name;
  }
}

/** How a taint repels pods. */
export enum TaintEffect {
  /** Pods without a toleration are not scheduled. */
  NO_SCHEDULE = 'NoSchedule',
  /** The scheduler avoids the node. */
  PREFER_NO_SCHEDULE = 'PreferNoSchedule',
  /** Running pods without a toleration are evicted. */
  NO_EXECUTE = 'NoExecute',
}

/** A Kubernetes node taint. */
export interface Taint {
  /** Taint key, e.g. `nvidia.com/gpu`. */
  readonly key: string;
  /**
   * Taint value.
   * @default - no value
   */
  readonly value?: string;
  /** The effect on pods that do not tolerate it. */
  readonly effect: TaintEffect;
}

/** How a GPU is shared between pods. */
export class GpuSharing {
  /**
   * CUDA time-slicing: each GPU is advertised as `replicas` schedulable `nvidia.com/gpu`, with no memory or
   * fault isolation between them.
   * @see https://docs.nvidia.com/datacenter/cloud-native/gpu-operator/latest/gpu-sharing.html
   */
  public static timeSlicing(replicas: number): GpuSharing {
    return new GpuSharing('time-slicing', replicas, undefined);
  }

  /**
   * Multi-Instance GPU: each GPU is split into isolated instances of one profile (e.g. `1g.10gb`);
   * only A100 and H100 support it.
   * @see https://docs.nvidia.com/datacenter/tesla/mig-user-guide/
   */
  public static mig(profile: string): GpuSharing {
    return new GpuSharing('mig', undefined, profile);
  }

  private constructor(
    /** The strategy. */
    public readonly strategy: 'time-slicing' | 'mig',
    /** Time-slicing replicas per GPU. */
    public readonly replicas: number | undefined,
    /** MIG profile. */
    public readonly migProfile: string | undefined,
  ) {}

  /** `time-slicing(4)` or `mig(1g.10gb)`. */
  public toString(): string {
    return this.strategy === 'mig' ? `mig(${this.migProfile})` : `time-slicing(${this.replicas})`;
  }
}

/** Labels mlstack puts on every node so that workloads select pools the same way on every cloud. */
export const NODE_LABELS = {
  /** The mlstack pool name. */
  pool: 'mlstack.io/pool',
  /** The GPU type id (`GpuType.id`), only on GPU pools. */
  gpuType: 'mlstack.io/gpu-type',
  /** `true` on GPU pools. */
  gpu: 'mlstack.io/gpu',
} as const;

/** The taint GPU pools carry unless told otherwise. */
export const DEFAULT_GPU_TAINT: Taint = {
  key: 'nvidia.com/gpu',
  value: 'present',
  effect: TaintEffect.NO_SCHEDULE,
};

/** A node pool after validation, with its instance type resolved for the stack's cloud. */
export interface NodePoolSpec {
  /** DNS-label pool name, unique in the cluster. */
  readonly name: string;
  /** The system pool runs cluster add-ons; GPU pools run GPU workloads. */
  readonly role: 'system' | 'gpu';
  /** Instance/machine type/VM size on the stack's cloud. */
  readonly instanceType: string;
  /** vCPUs and memory (GiB) of one node of that type, for capacity checks. */
  readonly vcpus: number;
  readonly memoryGiB: number;
  /** The GPUs of one node; undefined for CPU pools. */
  readonly gpu?: {
    readonly type: GpuType;
    readonly count: number;
    /** GCP accelerator name. */
    readonly acceleratorType?: string;
    readonly sharing?: GpuSharing;
  };
  readonly minNodes: number;
  readonly maxNodes: number;
  readonly spot: boolean;
  /**
   * Labels that only the pool's spot nodes carry (set by the cloud or declared by mlstack), which workloads on a
   * spot-only pool select too, so that their manifests say they run on spot (`MLS-K8S-SPOT-SERVING` reads it);
   * empty where a pool mixes capacity types (Karpenter falls back to on-demand).
   */
  readonly spotSelector?: Readonly<Record<string, string>>;
  readonly diskSizeGiB: number;
  /** Node labels, including {@link NODE_LABELS}. */
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  /** Zones in the cloud's own notation; undefined means every zone of the region. */
  readonly zones?: readonly string[];
}

/**
 * A network that a cluster joins instead of one mlstack creates: `EksNetwork.fromVpc(vpc)` (mlstack/aws),
 * `GkeNetwork.fromNetwork(...)` (mlstack/gcp), `AksNetwork.fromSubnet(...)` (mlstack/azure). The cloud's cluster
 * reads the rest; the construct only checks that it belongs to the stack's cloud.
 */
export interface ClusterNetwork {
  /** The cloud whose network it is. */
  readonly cloud: 'aws' | 'gcp' | 'azure';
  /** What it is, for messages (e.g. `VPC vpc-0abc…, 3 private subnets`). */
  readonly description: string;
}

/**
 * A cluster you already run, that a GpuCluster adds its pools and workloads to instead of creating one:
 * `EksExistingCluster.fromAttributes(...)` (mlstack/aws), `GkeExistingCluster.fromName(...)` (mlstack/gcp),
 * `AksExistingCluster.fromId(...)` (mlstack/azure). The cloud's cluster reads the rest.
 */
export interface ExistingCluster {
  /** The cloud whose cluster it is. */
  readonly cloud: 'aws' | 'gcp' | 'azure';
  /** The cluster's name as the cloud knows it. */
  readonly name: string;
  /** What it is, for messages (e.g. `EKS cluster prod (imported)`). */
  readonly description: string;
}

/** A Kubernetes cluster after validation: what a stack needs to build it on its cloud. */
export interface KubernetesClusterSpec {
  /** Cluster name (DNS label). */
  readonly name: string;
  readonly version: KubernetesVersion;
  /** The system pool first, then GPU pools. */
  readonly pools: readonly NodePoolSpec[];
  /** Whether the API server is reachable only from inside the network. */
  readonly privateEndpoint: boolean;
  /** CIDRs allowed to reach a public endpoint; empty means any. */
  readonly authorizedNetworks: readonly string[];
  /** Cost-allocation tags/labels for every resource of the cluster. */
  readonly tags: Readonly<Record<string, string>>;
  /**
   * The user's network.
   * @default - the cloud's cluster creates one
   */
  readonly network?: ClusterNetwork;
  /**
   * The user's cluster, which the stack adds pools and workloads to.
   * @default - the cloud's cluster creates one
   */
  readonly existing?: ExistingCluster;
}
