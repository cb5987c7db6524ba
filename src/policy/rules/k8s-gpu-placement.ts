import type { KubernetesRule } from '../rule';
import { containersOf, nameOf, podOf } from './pods';

const GPU = 'nvidia.com/gpu';

/** Pods that use GPUs tolerate the GPU taint and select GPU nodes. */
export const gpuPlacement: KubernetesRule = {
  id: 'MLS-K8S-GPU-PLACEMENT',
  level: 'error',
  target: 'kubernetes',
  title: 'GPU workloads tolerate the GPU taint and select their pool',
  description:
    'GPU pools are tainted nvidia.com/gpu so that other pods stay off them. A GPU pod without the toleration never schedules; one without a node selector or affinity can land on any GPU pool (the wrong GPU type, or a pool that must scale up).',
  fix: "Place the workload with mlstack's placement (TritonService `gpu`, GpuCluster pools): it adds the toleration and the pool's node selector.",
  check: ({ objects }) =>
    objects.flatMap((o) => {
      const pod = podOf(o);
      if (!pod) return [];
      const gpus = containersOf(pod).some(
        (c) => c.resources?.limits?.[GPU] !== undefined || c.resources?.requests?.[GPU] !== undefined,
      );
      if (!gpus) return [];
      const problems: string[] = [];
      const tolerates = (pod.tolerations ?? []).some(
        (t) => t.key === GPU || (t.operator === 'Exists' && t.key === undefined),
      );
      if (!tolerates) problems.push(`no toleration for the ${GPU} taint`);
      if (!pod.nodeSelector && !pod.affinity?.nodeAffinity)
        problems.push('no node selector or node affinity for its GPU pool');
      return problems.length
        ? [{ object: o, message: `${nameOf(o)} requests ${GPU} with ${problems.join(' and ')}` }]
        : [];
    }),
};
