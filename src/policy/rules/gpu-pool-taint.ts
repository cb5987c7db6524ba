import type { CloudFormationRule, KubernetesRule, TerraformRule } from '../rule';

/** The taint GPU nodes carry so that only pods that tolerate it (GPU workloads) land on them. */
const GPU_TAINT_KEY = 'nvidia.com/gpu';

const DESCRIPTION =
  'An untainted GPU node takes any pod: system and CPU workloads fill it, GPU pods then wait for a scale-up of the most expensive nodes, and the pool never scales back to zero while a stray pod runs there.';
const FIX = `Taint GPU pools with ${GPU_TAINT_KEY}=present:NoSchedule (GpuCluster's default; keep it in a pool's \`taints\`).`;

/** EC2 instance families with NVIDIA GPUs (g4dn, g5, g6, g6e, p3, p4d, p5 …), not AWS's own accelerators. */
const AWS_GPU_INSTANCE = /^(g\d|p\d)[a-z]*\.\w+$/;
/** Azure N-series sizes (NC, ND, NV): the GPU VMs. */
const AZURE_GPU_SIZE = /^Standard_N[CDV]/i;

/** Karpenter NodePools that launch GPU instances are tainted. */
export const gpuPoolTaintKarpenter: KubernetesRule = {
  id: 'MLS-K8S-GPU-POOL-TAINT',
  level: 'error',
  target: 'kubernetes',
  title: 'Karpenter GPU NodePools are tainted',
  description: DESCRIPTION,
  fix: FIX,
  check: ({ objects }) =>
    objects
      .filter((o) => o.kind === 'NodePool' && o.apiVersion.startsWith('karpenter.sh/'))
      .flatMap((o) => {
        const spec = o.spec as {
          limits?: Record<string, unknown>;
          template?: {
            spec?: {
              taints?: { key?: string }[];
              requirements?: { key?: string; values?: string[] }[];
            };
          };
        };
        const requirements = spec.template?.spec?.requirements ?? [];
        const gpus =
          spec.limits?.[GPU_TAINT_KEY] !== undefined ||
          requirements.some(
            (r) =>
              r.key === 'karpenter.k8s.aws/instance-gpu-count' ||
              r.key === 'karpenter.k8s.aws/instance-gpu-manufacturer' ||
              (r.key === 'node.kubernetes.io/instance-type' &&
                (r.values ?? []).some((v) => AWS_GPU_INSTANCE.test(v))),
          );
        if (!gpus || (spec.template?.spec?.taints ?? []).some((t) => t.key === GPU_TAINT_KEY)) return [];
        return [
          {
            object: o,
            message: `NodePool ${o.metadata.name} launches GPU nodes without the ${GPU_TAINT_KEY} taint`,
          },
        ];
      }),
};

/** GKE and AKS GPU node pools are tainted. */
export const gpuPoolTaintTerraform: TerraformRule = {
  id: 'MLS-TF-GPU-POOL-TAINT',
  level: 'error',
  target: 'terraform',
  title: 'GKE and AKS GPU node pools are tainted',
  description: `${DESCRIPTION} GKE taints GPU nodes ${GPU_TAINT_KEY}=present:NoSchedule itself, so a GKE pool with guest accelerators passes; AKS does not.`,
  fix: FIX,
  check: ({ json }) =>
    Object.entries(json.resource?.azurerm_kubernetes_cluster_node_pool ?? {}).flatMap(([name, r]) => {
      if (!AZURE_GPU_SIZE.test(String(r.vm_size ?? ''))) return [];
      const taints = (r.node_taints as string[] | undefined) ?? [];
      if (taints.some((t) => t.startsWith(`${GPU_TAINT_KEY}=`) || t.startsWith(`${GPU_TAINT_KEY}:`)))
        return [];
      return [
        {
          resource: `azurerm_kubernetes_cluster_node_pool.${name}`,
          message: `AKS node pool ${String(r.name ?? name)} (${String(r.vm_size)}) has GPUs and no ${GPU_TAINT_KEY} taint`,
        },
      ];
    }),
};

/** EKS managed node groups of GPU instances are tainted. */
export const gpuPoolTaintCloudFormation: CloudFormationRule = {
  id: 'MLS-AWS-GPU-POOL-TAINT',
  level: 'error',
  target: 'cloudformation',
  title: 'EKS GPU node groups are tainted',
  description: DESCRIPTION,
  fix: FIX,
  check: ({ template }) =>
    Object.entries(template.Resources ?? {})
      .filter(([, r]) => r.Type === 'AWS::EKS::Nodegroup')
      .flatMap(([id, r]) => {
        const p = (r.Properties ?? {}) as { InstanceTypes?: unknown[]; Taints?: { Key?: string }[] };
        const types = (p.InstanceTypes ?? []).filter((t): t is string => typeof t === 'string');
        if (!types.some((t) => AWS_GPU_INSTANCE.test(t))) return [];
        if ((p.Taints ?? []).some((t) => t.Key === GPU_TAINT_KEY)) return [];
        return [
          {
            resource: id,
            message: `node group ${id} (${types.join(', ')}) has GPUs and no ${GPU_TAINT_KEY} taint`,
          },
        ];
      }),
};
