/**
 * The GPU catalog: which NVIDIA GPUs each cloud offers, on which instance/VM types, with how many GPUs a node.
 *
 * Sources (vendor docs, read 2026-11):
 * - AWS accelerated computing instances: https://aws.amazon.com/ec2/instance-types/#Accelerated_Computing
 * - GCP GPU machine types: https://cloud.google.com/compute/docs/gpus
 * - Azure GPU VM sizes: https://learn.microsoft.com/azure/virtual-machines/sizes/overview#gpu-accelerated
 * - MIG profiles: https://docs.nvidia.com/datacenter/tesla/mig-user-guide/#supported-mig-profiles
 * Memory is the instance type's as the same pages list it (GiB).
 */

/** The clouds mlstack synthesizes for. */
export type Cloud = 'aws' | 'gcp' | 'azure';

/** All clouds, in the order mlstack reports them. */
export const CLOUDS: readonly Cloud[] = ['aws', 'gcp', 'azure'];

/**
 * An NVIDIA data-centre GPU model. Use the static members; the string inside is mlstack's stable id,
 * also written as the `mlstack.io/gpu-type` node label.
 */
export class GpuType {
  /** NVIDIA T4, 16 GB (Turing). AWS g4dn, GCP N1 + nvidia-tesla-t4, Azure NCasT4_v3. */
  public static readonly NVIDIA_T4 = new GpuType('nvidia-t4', 'NVIDIA T4', 16, []);
  /** NVIDIA A10G, 24 GB (Ampere). AWS g5 only. */
  public static readonly NVIDIA_A10G = new GpuType('nvidia-a10g', 'NVIDIA A10G', 24, []);
  /** NVIDIA L4, 24 GB (Ada). AWS g6, GCP G2. */
  public static readonly NVIDIA_L4 = new GpuType('nvidia-l4', 'NVIDIA L4', 24, []);
  /** NVIDIA L40S, 48 GB (Ada). AWS g6e. */
  public static readonly NVIDIA_L40S = new GpuType('nvidia-l40s', 'NVIDIA L40S', 48, []);
  /** NVIDIA A100 40 GB (Ampere, MIG). AWS p4d, GCP A2 high-GPU, Azure NDasrA100_v4. */
  public static readonly NVIDIA_A100_40GB = new GpuType('nvidia-a100-40gb', 'NVIDIA A100 40GB', 40, [
    '1g.5gb',
    '2g.10gb',
    '3g.20gb',
    '4g.20gb',
    '7g.40gb',
  ]);
  /** NVIDIA A100 80 GB (Ampere, MIG). AWS p4de, GCP A2 ultra-GPU, Azure NCads_A100_v4 / NDamsrA100_v4. */
  public static readonly NVIDIA_A100_80GB = new GpuType('nvidia-a100-80gb', 'NVIDIA A100 80GB', 80, [
    '1g.10gb',
    '2g.20gb',
    '3g.40gb',
    '4g.40gb',
    '7g.80gb',
  ]);
  /** NVIDIA H100 80 GB (Hopper, MIG). AWS p5, GCP A3 high-GPU, Azure NDisrH100_v5. */
  public static readonly NVIDIA_H100_80GB = new GpuType('nvidia-h100-80gb', 'NVIDIA H100 80GB', 80, [
    '1g.10gb',
    '1g.20gb',
    '2g.20gb',
    '3g.40gb',
    '4g.40gb',
    '7g.80gb',
  ]);

  /** Every GPU type in the catalog. */
  public static all(): GpuType[] {
    return [
      GpuType.NVIDIA_T4,
      GpuType.NVIDIA_A10G,
      GpuType.NVIDIA_L4,
      GpuType.NVIDIA_L40S,
      GpuType.NVIDIA_A100_40GB,
      GpuType.NVIDIA_A100_80GB,
      GpuType.NVIDIA_H100_80GB,
    ];
  }

  private constructor(
    /** Stable id, e.g. `nvidia-l4`. */
    public readonly id: string,
    /** Human name, e.g. `NVIDIA L4`. */
    public readonly displayName: string,
    /** Memory of one GPU in GB. */
    public readonly memoryGB: number,
    /** The MIG profiles this GPU supports; empty when it has no MIG. */
    public readonly migProfiles: readonly string[],
  ) {}

  /** Whether the GPU supports Multi-Instance GPU partitioning. */
  public get supportsMig(): boolean {
    return this.migProfiles.length > 0;
  }

  /** The id, so that error messages and labels read naturally. */
  public toString(): string {
    return this.id;
  }
}

/** One instance/VM type that carries a GPU type. */
export interface GpuInstanceOffering {
  /** The cloud's instance type (AWS), machine type (GCP) or VM size (Azure). */
  readonly instanceType: string;
  /** GPUs attached to one node of this type. */
  readonly gpusPerNode: number;
  /** vCPUs of the node. */
  readonly vcpus: number;
  /** Memory of the node, in GiB (the instance type's, before the kubelet's reservations). */
  readonly memoryGiB: number;
  /** The accelerator name the cloud API takes (GCP `guest_accelerator.type`); undefined elsewhere. */
  readonly acceleratorType?: string;
}

type Catalog = Record<Cloud, Partial<Record<string, GpuInstanceOffering[]>>>;

const o = (
  instanceType: string,
  gpusPerNode: number,
  vcpus: number,
  memoryGiB: number,
  acceleratorType?: string,
): GpuInstanceOffering => ({
  instanceType,
  gpusPerNode,
  vcpus,
  memoryGiB,
  ...(acceleratorType ? { acceleratorType } : {}),
});

/**
 * Sizes of the AWS g-families that share one layout (xlarge..48xlarge): 4 GiB per vCPU (g5, g6), 8 GiB per vCPU
 * (g6e).
 */
function awsGFamily(family: string, gibPerVcpu = 4): GpuInstanceOffering[] {
  const single: [string, number][] = [
    ['xlarge', 4],
    ['2xlarge', 8],
    ['4xlarge', 16],
    ['8xlarge', 32],
    ['16xlarge', 64],
  ];
  return [
    ...single.map(([s, v]) => o(`${family}.${s}`, 1, v, v * gibPerVcpu)),
    o(`${family}.12xlarge`, 4, 48, 48 * gibPerVcpu),
    o(`${family}.24xlarge`, 4, 96, 96 * gibPerVcpu),
    o(`${family}.48xlarge`, 8, 192, 192 * gibPerVcpu),
  ];
}

/** Offerings ordered smallest first within each GPU count; the first match is the default. */
const CATALOG: Catalog = {
  aws: {
    'nvidia-t4': [
      o('g4dn.xlarge', 1, 4, 16),
      o('g4dn.2xlarge', 1, 8, 32),
      o('g4dn.4xlarge', 1, 16, 64),
      o('g4dn.8xlarge', 1, 32, 128),
      o('g4dn.16xlarge', 1, 64, 256),
      o('g4dn.12xlarge', 4, 48, 192),
      o('g4dn.metal', 8, 96, 384),
    ],
    'nvidia-a10g': awsGFamily('g5'),
    'nvidia-l4': awsGFamily('g6'),
    'nvidia-l40s': awsGFamily('g6e', 8),
    'nvidia-a100-40gb': [o('p4d.24xlarge', 8, 96, 1152)],
    'nvidia-a100-80gb': [o('p4de.24xlarge', 8, 96, 1152)],
    'nvidia-h100-80gb': [o('p5.4xlarge', 1, 16, 256), o('p5.48xlarge', 8, 192, 2048)],
  },
  gcp: {
    'nvidia-t4': [
      o('n1-standard-4', 1, 4, 15, 'nvidia-tesla-t4'),
      o('n1-standard-8', 1, 8, 30, 'nvidia-tesla-t4'),
      o('n1-standard-16', 1, 16, 60, 'nvidia-tesla-t4'),
      o('n1-standard-8', 2, 8, 30, 'nvidia-tesla-t4'),
      o('n1-standard-16', 2, 16, 60, 'nvidia-tesla-t4'),
      o('n1-standard-16', 4, 16, 60, 'nvidia-tesla-t4'),
      o('n1-standard-32', 4, 32, 120, 'nvidia-tesla-t4'),
    ],
    'nvidia-l4': [
      o('g2-standard-4', 1, 4, 16, 'nvidia-l4'),
      o('g2-standard-8', 1, 8, 32, 'nvidia-l4'),
      o('g2-standard-12', 1, 12, 48, 'nvidia-l4'),
      o('g2-standard-16', 1, 16, 64, 'nvidia-l4'),
      o('g2-standard-32', 1, 32, 128, 'nvidia-l4'),
      o('g2-standard-24', 2, 24, 96, 'nvidia-l4'),
      o('g2-standard-48', 4, 48, 192, 'nvidia-l4'),
      o('g2-standard-96', 8, 96, 384, 'nvidia-l4'),
    ],
    'nvidia-a100-40gb': [
      o('a2-highgpu-1g', 1, 12, 85, 'nvidia-tesla-a100'),
      o('a2-highgpu-2g', 2, 24, 170, 'nvidia-tesla-a100'),
      o('a2-highgpu-4g', 4, 48, 340, 'nvidia-tesla-a100'),
      o('a2-highgpu-8g', 8, 96, 680, 'nvidia-tesla-a100'),
      o('a2-megagpu-16g', 16, 96, 1360, 'nvidia-tesla-a100'),
    ],
    'nvidia-a100-80gb': [
      o('a2-ultragpu-1g', 1, 12, 170, 'nvidia-a100-80gb'),
      o('a2-ultragpu-2g', 2, 24, 340, 'nvidia-a100-80gb'),
      o('a2-ultragpu-4g', 4, 48, 680, 'nvidia-a100-80gb'),
      o('a2-ultragpu-8g', 8, 96, 1360, 'nvidia-a100-80gb'),
    ],
    'nvidia-h100-80gb': [
      o('a3-highgpu-1g', 1, 26, 234, 'nvidia-h100-80gb'),
      o('a3-highgpu-2g', 2, 52, 468, 'nvidia-h100-80gb'),
      o('a3-highgpu-4g', 4, 104, 936, 'nvidia-h100-80gb'),
      o('a3-highgpu-8g', 8, 208, 1872, 'nvidia-h100-80gb'),
    ],
  },
  azure: {
    'nvidia-t4': [
      o('Standard_NC4as_T4_v3', 1, 4, 28),
      o('Standard_NC8as_T4_v3', 1, 8, 56),
      o('Standard_NC16as_T4_v3', 1, 16, 110),
      o('Standard_NC64as_T4_v3', 4, 64, 440),
    ],
    'nvidia-a100-40gb': [o('Standard_ND96asr_v4', 8, 96, 900)],
    'nvidia-a100-80gb': [
      o('Standard_NC24ads_A100_v4', 1, 24, 220),
      o('Standard_NC48ads_A100_v4', 2, 48, 440),
      o('Standard_NC96ads_A100_v4', 4, 96, 880),
      o('Standard_ND96amsr_A100_v4', 8, 96, 1900),
    ],
    'nvidia-h100-80gb': [o('Standard_ND96isr_H100_v5', 8, 96, 1900)],
  },
};

const CLOUD_NAMES: Record<Cloud, string> = { aws: 'AWS', gcp: 'Google Cloud', azure: 'Azure' };

/** The human name of a cloud, for messages. */
export function cloudName(cloud: Cloud): string {
  return CLOUD_NAMES[cloud];
}

/** Every offering of a GPU type on a cloud; empty when the cloud does not offer it. */
export function gpuOfferings(cloud: Cloud, gpu: GpuType): readonly GpuInstanceOffering[] {
  return CATALOG[cloud][gpu.id] ?? [];
}

/** The GPU types a cloud offers. */
export function gpuTypesOn(cloud: Cloud): GpuType[] {
  return GpuType.all().filter((g) => gpuOfferings(cloud, g).length > 0);
}

/** The outcome of {@link resolveGpuInstance}: an offering, or why there is none. */
export type GpuInstanceResolution =
  | { readonly ok: true; readonly offering: GpuInstanceOffering }
  | { readonly ok: false; readonly field: 'type' | 'count' | 'instanceType'; readonly reason: string };

/**
 * Picks the instance type for `count` GPUs of `gpu` on `cloud`: the given `instanceType` when it is in the
 * catalog and holds exactly `count` GPUs, else the smallest one that does.
 */
export function resolveGpuInstance(
  cloud: Cloud,
  gpu: GpuType,
  count: number,
  instanceType?: string,
): GpuInstanceResolution {
  const offerings = gpuOfferings(cloud, gpu);
  if (offerings.length === 0) {
    const offered = gpuTypesOn(cloud)
      .map((g) => g.id)
      .join(', ');
    return {
      ok: false,
      field: 'type',
      reason: `${cloudName(cloud)} does not offer ${gpu.displayName}; it offers ${offered}`,
    };
  }
  if (instanceType !== undefined) {
    const named = offerings.filter((x) => x.instanceType === instanceType);
    if (named.length === 0) {
      return {
        ok: false,
        field: 'instanceType',
        reason: `is not a ${cloudName(cloud)} type with ${gpu.displayName}; use one of ${unique(offerings.map((x) => x.instanceType)).join(', ')}`,
      };
    }
    const exact = named.find((x) => x.gpusPerNode === count);
    if (!exact) {
      return {
        ok: false,
        field: 'count',
        reason: `${instanceType} holds ${named.map((x) => x.gpusPerNode).join(' or ')} GPU(s), not ${count}`,
      };
    }
    return { ok: true, offering: exact };
  }
  const match = offerings.find((x) => x.gpusPerNode === count);
  if (!match) {
    const counts = unique(offerings.map((x) => x.gpusPerNode)).sort((a, b) => a - b);
    return {
      ok: false,
      field: 'count',
      reason: `${cloudName(cloud)} has no node type with ${count} × ${gpu.displayName}; GPUs per node can be ${counts.join(', ')}`,
    };
  }
  return { ok: true, offering: match };
}

function unique<T>(xs: T[]): T[] {
  return [...new Set(xs)];
}
