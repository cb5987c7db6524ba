import type { NodePoolSpec } from '../spec/cluster';
import { Validator } from '../spec/errors';
import type { GpuType } from '../spec/gpu';

/** What a serving workload asks of the cluster, before it is checked. */
export interface ServingPlacementRequest {
  readonly runtime: 'triton' | 'onnxruntime';
  /** GPUs per replica; required for Triton on GPUs, not allowed with the ONNX Runtime server (CPU). */
  readonly gpu?: { readonly type: GpuType; readonly count?: number };
  readonly replicas?: { readonly min?: number; readonly max?: number };
  /** Allow fewer than two replicas (no redundancy during node drains and rollouts). */
  readonly allowSingleReplica?: boolean;
}

/** A placement that passed the checks. */
export interface ServingPlacement {
  /** The GPU pool replicas land on; undefined for CPU serving. */
  readonly pool?: NodePoolSpec;
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
): ServingPlacement {
  const { gpuCount: count, replicas } = checkServingRequest(where, req);
  const v = new Validator(where);
  if (!req.gpu) return { gpuCount: 0, replicas };
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
  return { pool, gpuCount: count, replicas };
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
