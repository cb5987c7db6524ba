import type { NodePoolSpec } from '../spec/cluster';
import { Validator } from '../spec/errors';
import { podsPerNode, round1 } from './capacity';
import { canarySplit } from './manifests';
import type { GpuType } from '../spec/gpu';

/** What a serving workload asks of the cluster, before it is checked. */
export interface ServingPlacementRequest {
  readonly runtime: 'triton' | 'onnxruntime';
  /** GPUs per replica; required for Triton on GPUs, not allowed with the ONNX Runtime server (CPU). */
  readonly gpu?: { readonly type: GpuType; readonly count?: number };
  readonly replicas?: { readonly min?: number; readonly max?: number };
  /** Allow fewer than two replicas (no redundancy during node drains and rollouts). */
  readonly allowSingleReplica?: boolean;
  /** CPU and memory requests of one replica (checked against the pool's nodes). */
  readonly resources?: { readonly cpu: string; readonly memory: string };
  /** The canary's share of the replicas, when there is one. */
  readonly canaryWeightPercent?: number;
}

/** A placement that passed the checks. */
export interface ServingPlacement {
  /** The GPU pool replicas land on; undefined for CPU serving. */
  readonly pool?: NodePoolSpec;
  /** Replicas one node of the pool holds, and the most pods the service runs at once (all replicas, a surge). */
  readonly podsPerNode?: number;
  readonly peakPods?: number;
  readonly gpuCount: number;
  readonly replicas: { readonly min: number; readonly max: number };
}

/**
 * Checks a serving workload against the cluster's pools at synth, with errors that name the prop, the value and
 * the fix: a GPU type no pool offers, more GPUs per replica than one node of the pool holds, `min > max`
 * replicas, fewer than two replicas without `allowSingleReplica`, GPUs asked of the CPU-only runtime.
 */
export function checkServingPlacement(
  where: string,
  req: ServingPlacementRequest,
  pools: readonly NodePoolSpec[],
  systemPool?: NodePoolSpec,
): ServingPlacement {
  const { gpuCount: count, replicas } = checkServingRequest(where, req);
  const v: Validator = new Validator(where);
  if (!req.gpu) {
    // CPU serving lands on the system pool (GPU pools are tainted).
    const fit = systemPool && req.resources ? checkCapacity(v, req, replicas, 0, systemPool) : {};
    return { gpuCount: 0, replicas, ...fit };
  }
  const candidates = pools.filter((p) => p.gpu?.type === req.gpu!.type);
  if (candidates.length === 0) {
    const offered = pools.filter((p) => p.gpu).map((p) => `${p.name} (${p.gpu!.type.id})`);
    v.fail(
      'gpu.type',
      req.gpu.type.id,
      `has no GPU pool on this cluster${offered.length ? `; its GPU pools are ${offered.join(', ')}` : ''}`,
      `Add a pool with gpu: { type: GpuType.${req.gpu.type.id
        .replace(/^nvidia-/, 'NVIDIA_')
        .replace(/-/g, '_')
        .toUpperCase()} } to the GpuCluster, or pick a type it has.`,
    );
  }
  const pool = candidates.find((p) => (p.gpu?.count ?? 0) >= count);
  if (!pool) {
    const most = Math.max(...candidates.map((p) => p.gpu!.count));
    v.fail(
      'gpu.count',
      count,
      `is more than one node of the ${req.gpu.type.displayName} pool${candidates.length > 1 ? 's' : ''} holds (${most})`,
      `Ask for at most ${most} GPUs per replica, or add a pool with more GPUs per node.`,
    );
  }
  const fit = req.resources ? checkCapacity(v, req, replicas, count, pool) : {};
  return { pool, gpuCount: count, replicas, ...fit };
}

/**
 * Whether the pool's nodes, at its maximum, hold the service at its peak: every replica the autoscaler may run
 * (stable and canary) and one more while a rollout surges. The error names the numbers and three ways out.
 */
function checkCapacity(
  v: Validator,
  req: ServingPlacementRequest,
  replicas: { readonly min: number; readonly max: number },
  gpus: number,
  pool: NodePoolSpec,
): { podsPerNode: number; peakPods: number } {
  const resources = req.resources!;
  const split =
    req.canaryWeightPercent !== undefined ? canarySplit(replicas.min, req.canaryWeightPercent) : undefined;
  const peakPods =
    (split ? Math.max(split.stable, replicas.max - split.canary) + split.canary : replicas.max) + 1;
  const fit = podsPerNode(pool, { cpu: resources.cpu, memory: resources.memory, gpus });
  const capacity = fit.pods * pool.maxNodes;
  if (capacity >= peakPods) return { podsPerNode: fit.pods, peakPods };
  const n = fit.node;
  const wanted = Math.ceil(peakPods / pool.maxNodes);
  const gpuText = pool.gpu
    ? `, ${n.gpus} schedulable GPU${n.gpus === 1 ? '' : 's'}${pool.gpu.sharing ? ` (${pool.gpu.count} × ${pool.gpu.sharing})` : ''}`
    : '';
  const fixes = [
    ...(wanted <= n.gpus || gpus === 0
      ? [
          `requests of at most ${fitCpu(n.cpu / wanted)} CPU and ${fitMemory(n.memoryGiB / wanted)} memory fit ${wanted} a node`,
        ]
      : []),
    fit.pods > 0
      ? `raise the pool's maxNodes to ${Math.ceil(peakPods / fit.pods)}`
      : 'use a larger instance type for the pool',
    ...(fit.pods > 0 && capacity - 1 >= replicas.min ? [`lower replicas.max to ${capacity - 1}`] : []),
  ];
  return v.fail(
    'replicas.max',
    replicas.max,
    `needs ${peakPods} pods at its peak (every replica${split ? ' with the canary' : ''} and one more in a rollout), but pool '${pool.name}' holds ${capacity}: ${pool.maxNodes} nodes × ${fit.pods} (one ${pool.instanceType} has ${pool.vcpus} vCPU and ${pool.memoryGiB} GiB, about ${round1(n.cpu)} vCPU and ${round1(n.memoryGiB)} GiB allocatable${gpuText}; a replica asks ${resources.cpu} CPU, ${resources.memory} memory${gpus ? `, ${gpus} GPU` : ''}; ${fit.limitedBy} runs out first)`,
    `Fix one of: ${fixes.join('; ')}.`,
  );
}

/** A CPU request at most `cores`, in millicores rounded down to 50m. */
function fitCpu(cores: number): string {
  return `${Math.max(50, Math.floor((cores * 1000) / 50) * 50)}m`;
}

/** A memory request at most `gib`, in MiB rounded down to 128Mi. */
function fitMemory(gib: number): string {
  return `${Math.max(128, Math.floor((gib * 1024) / 128) * 128)}Mi`;
}

/**
 * The checks of a serving request that need no pool: replica bounds, GPUs asked of the CPU-only runtime, the GPU
 * type and count. They run when the construct is made; the pool is found at synth ({@link checkServingPlacement}),
 * so that pools added later count.
 */
export function checkServingRequest(
  where: string,
  req: ServingPlacementRequest,
): { readonly gpuCount: number; readonly replicas: { readonly min: number; readonly max: number } } {
  const v = new Validator(where);
  const min = req.replicas?.min ?? 2;
  const max = req.replicas?.max ?? Math.max(min, 4);
  v.integer('replicas.min', min, 1, 1000);
  v.integer('replicas.max', max, 1, 1000);
  if (min > max) v.fail('replicas.min', min, `must not exceed 'replicas.max' (${max})`, 'Set min <= max.');
  if (min < 2 && !req.allowSingleReplica) {
    v.fail(
      'replicas.min',
      min,
      'leaves no replica serving while a node is drained or a rollout replaces the pod',
      'Use at least 2, or set allowSingleReplica: true for a dev environment.',
    );
  }
  // Triton without gpu runs on CPU instances (KIND_CPU), like the ONNX Runtime server.
  if (!req.gpu) return { gpuCount: 0, replicas: { min, max } };
  if (req.runtime === 'onnxruntime') {
    v.fail(
      'gpu',
      req.gpu.type.id,
      'is not used by the ONNX Runtime server, which runs on CPU',
      'Use ServingRuntime.TRITON for GPUs, or remove gpu.',
    );
  }
  if (!req.gpu.type || typeof req.gpu.type !== 'object' || !('migProfiles' in req.gpu.type)) {
    v.fail(
      'gpu.type',
      req.gpu.type,
      'is not a GpuType',
      'Use one of the GpuType members, e.g. GpuType.NVIDIA_L4.',
    );
  }
  const count = req.gpu.count ?? 1;
  v.integer('gpu.count', count, 1, 16);
  return { gpuCount: count, replicas: { min, max } };
}
