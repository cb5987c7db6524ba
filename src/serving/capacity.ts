import type { NodePoolSpec } from '../spec/cluster';

/**
 * How many pods of a given size fit on the nodes of a pool, estimated at synth from the instance type.
 *
 * Allocatable is the node minus the kubelet's reservations, computed with GKE's documented formulas (EKS and AKS
 * reserve similar amounts): CPU 6% of the first core, 1% of the second, 0.5% of the next two and 0.25% above four;
 * memory 25% of the first 4 GiB, 20% of the next 4, 10% of the next 8, 6% of the next 112 and 2% above 128, plus
 * a 100 MiB eviction threshold. From that the DaemonSets every node runs are taken: mlstack's on GPU nodes (device
 * plugin 50m/64Mi, dcgm-exporter 100m/256Mi) and an allowance for the cloud's node agents (kube-proxy, CNI, CSI,
 * log and metric collectors: 300m/512Mi).
 * @see https://cloud.google.com/kubernetes-engine/docs/concepts/plan-node-sizes#cpu_reservations
 */
export interface NodeAllocatable {
  /** vCPUs pods can request. */
  readonly cpu: number;
  /** GiB pods can request. */
  readonly memoryGiB: number;
  /** Schedulable `nvidia.com/gpu`: GPUs × time-slices, or MIG instances. */
  readonly gpus: number;
}

/** What the cloud's agents on every node take, beyond the kubelet's reservations. */
const NODE_AGENTS = { cpu: 0.3, memoryGiB: 0.5 } as const;
/** mlstack's DaemonSets on GPU nodes: the device plugin and dcgm-exporter. */
const GPU_NODE_AGENTS = { cpu: 0.15, memoryGiB: (64 + 256) / 1024 } as const;

/** MIG instances of one profile that fit on one GPU (NVIDIA's MIG user guide). */
const MIG_INSTANCES: Record<string, number> = {
  '1g.5gb': 7,
  '1g.10gb': 7,
  '1g.20gb': 4,
  '2g.10gb': 3,
  '2g.20gb': 3,
  '3g.20gb': 2,
  '3g.40gb': 2,
  '4g.20gb': 1,
  '4g.40gb': 1,
  '7g.40gb': 1,
  '7g.80gb': 1,
};

function tiered(amount: number, tiers: readonly (readonly [number, number])[]): number {
  let left = amount;
  let reserved = 0;
  for (const [size, share] of tiers) {
    const part = Math.min(left, size);
    reserved += part * share;
    left -= part;
    if (left <= 0) break;
  }
  return reserved;
}

/** What pods can request on one node of `pool`. */
export function nodeAllocatable(pool: NodePoolSpec): NodeAllocatable {
  const cpuReserved = tiered(pool.vcpus, [
    [1, 0.06],
    [1, 0.01],
    [2, 0.005],
    [Infinity, 0.0025],
  ]);
  const memReserved =
    tiered(pool.memoryGiB, [
      [4, 0.25],
      [4, 0.2],
      [8, 0.1],
      [112, 0.06],
      [Infinity, 0.02],
    ]) +
    100 / 1024;
  const agents = pool.gpu
    ? {
        cpu: NODE_AGENTS.cpu + GPU_NODE_AGENTS.cpu,
        memoryGiB: NODE_AGENTS.memoryGiB + GPU_NODE_AGENTS.memoryGiB,
      }
    : NODE_AGENTS;
  const sharing = pool.gpu?.sharing;
  const perGpu =
    sharing?.strategy === 'time-slicing'
      ? (sharing.replicas ?? 1)
      : sharing?.strategy === 'mig'
        ? (MIG_INSTANCES[sharing.migProfile ?? ''] ?? 1)
        : 1;
  return {
    cpu: Math.max(0, pool.vcpus - cpuReserved - agents.cpu),
    memoryGiB: Math.max(0, pool.memoryGiB - memReserved - agents.memoryGiB),
    gpus: (pool.gpu?.count ?? 0) * perGpu,
  };
}

/** CPU cores of a Kubernetes quantity (`2`, `0.5`, `500m`). */
export function cpuCores(q: string): number {
  return q.endsWith('m') ? Number(q.slice(0, -1)) / 1000 : Number(q);
}

/** GiB of a Kubernetes memory quantity (`8Gi`, `512Mi`, `1G`, bytes). */
export function memoryGiB(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|Ti|k|M|G|T)?$/.exec(q);
  if (!m) return NaN;
  const factor: Record<string, number> = {
    '': 1 / 2 ** 30,
    Ki: 1 / 2 ** 20,
    Mi: 1 / 2 ** 10,
    Gi: 1,
    Ti: 2 ** 10,
    k: 1e3 / 2 ** 30,
    M: 1e6 / 2 ** 30,
    G: 1e9 / 2 ** 30,
    T: 1e12 / 2 ** 30,
  };
  return Number(m[1]) * factor[m[2] ?? ''];
}

/** A pod's requests. */
export interface PodSize {
  readonly cpu: string;
  readonly memory: string;
  /** `nvidia.com/gpu` per pod. */
  readonly gpus: number;
}

/** How many pods of `size` fit on one node of `pool`, and what limits it. */
export function podsPerNode(
  pool: NodePoolSpec,
  size: PodSize,
): { readonly pods: number; readonly limitedBy: 'cpu' | 'memory' | 'gpu'; readonly node: NodeAllocatable } {
  const node = nodeAllocatable(pool);
  const fits: [number, 'cpu' | 'memory' | 'gpu'][] = [
    [Math.floor(node.cpu / cpuCores(size.cpu) + 1e-9), 'cpu'],
    [Math.floor(node.memoryGiB / memoryGiB(size.memory) + 1e-9), 'memory'],
    ...(size.gpus > 0 ? [[Math.floor(node.gpus / size.gpus), 'gpu'] as [number, 'gpu']] : []),
  ];
  const [pods, limitedBy] = fits.reduce((a, b) => (b[0] < a[0] ? b : a));
  return { pods, limitedBy, node };
}

/** One decimal, without a trailing `.0`. */
export function round1(n: number): string {
  return String(Math.round(n * 10) / 10);
}
