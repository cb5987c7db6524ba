// Every workload of the example platform has somewhere to run, read from the synth output as a scheduler and a
// node autoscaler would: its node selector is a subset of a pool's node labels, its tolerations cover that pool's
// taints, the pool has GPUs when the pod asks for them, and the pool has nodes or something that adds them (GKE's
// and AKS's autoscalers, Karpenter's NodePool on EKS).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import { listFiles } from '../src/synth/files';

interface Taint {
  readonly key: string;
  readonly value?: string;
  readonly effect: string;
}

/** A pool as the scheduler sees its nodes. */
interface Pool {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly taints: readonly Taint[];
  readonly gpus: boolean;
  /** Nodes it keeps, and who adds more (undefined: nobody). */
  readonly minNodes: number;
  readonly scaler?: string;
}

interface Toleration {
  readonly key?: string;
  readonly operator?: 'Exists' | 'Equal';
  readonly value?: string;
  readonly effect?: string;
}

interface PodSpec {
  readonly nodeSelector?: Record<string, string>;
  readonly tolerations?: readonly Toleration[];
  readonly containers: readonly { resources?: { limits?: Record<string, string> } }[];
}

interface Workload {
  readonly file: string;
  readonly kind: string;
  readonly pod: PodSpec;
}

const { out } = inject('example');
const readJson = (f: string) => JSON.parse(fs.readFileSync(path.join(out, f), 'utf8'));
const TF_EFFECT: Record<string, string> = {
  NO_SCHEDULE: 'NoSchedule',
  PREFER_NO_SCHEDULE: 'PreferNoSchedule',
  NO_EXECUTE: 'NoExecute',
};
const GPU_TAINT: Taint = { key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' };

function awsPools(stack: string, cluster: string): Pool[] {
  const template = readJson(`aws/${stack}.template.json`) as {
    Resources: Record<string, { Type: string; Properties: unknown }>;
  };
  const pools: Pool[] = [];
  for (const r of Object.values(template.Resources).filter((r) => r.Type === 'AWS::EKS::Nodegroup')) {
    const p = r.Properties as {
      Labels: Record<string, string>;
      Taints?: { Key: string; Value?: string; Effect: string }[];
      ScalingConfig: { MinSize: number; MaxSize: number };
      AmiType: string;
    };
    pools.push({
      name: `node group ${p.Labels['mlstack.io/pool']}`,
      labels: p.Labels,
      taints: (p.Taints ?? []).map((t) => ({ key: t.Key, value: t.Value, effect: TF_EFFECT[t.Effect] })),
      gpus: p.AmiType.includes('NVIDIA'),
      minNodes: p.ScalingConfig.MinSize,
    });
  }
  const dir = path.join(out, 'k8s', stack, cluster);
  for (const f of fs.readdirSync(dir).filter((f) => f.includes('-nodepool-'))) {
    const np = parse(fs.readFileSync(path.join(dir, f), 'utf8')) as {
      metadata: { name: string };
      spec: {
        template: { metadata: { labels: Record<string, string> }; spec: { taints?: Taint[] } };
        limits: Record<string, string>;
      };
    };
    pools.push({
      name: `NodePool ${np.metadata.name}`,
      labels: { ...np.spec.template.metadata.labels, 'karpenter.sh/nodepool': np.metadata.name },
      taints: np.spec.template.spec.taints ?? [],
      gpus: Number(np.spec.limits['nvidia.com/gpu'] ?? 0) > 0,
      minNodes: 0,
      scaler: 'Karpenter',
    });
  }
  return pools;
}

function gcpPools(stack: string): Pool[] {
  const tf = readJson(`gcp/stacks/${stack}/cdk.tf.json`);
  return Object.values(
    tf.resource.google_container_node_pool as Record<
      string,
      {
        name: string;
        node_config: {
          labels: Record<string, string>;
          taint?: { key: string; value: string; effect: string }[];
          guest_accelerator?: unknown[];
          spot?: boolean;
        };
        autoscaling?: { total_min_node_count: number; total_max_node_count: number };
        initial_node_count?: number;
      }
    >,
  ).map((p) => {
    const gpus = (p.node_config.guest_accelerator ?? []).length > 0;
    const taints = (p.node_config.taint ?? []).map((t) => ({ ...t, effect: TF_EFFECT[t.effect] }));
    return {
      name: `node pool ${p.name}`,
      // GKE labels Spot VM nodes itself.
      labels: {
        ...p.node_config.labels,
        ...(p.node_config.spot ? { 'cloud.google.com/gke-spot': 'true' } : {}),
      },
      // GKE taints every GPU node itself.
      taints: gpus ? [...taints, GPU_TAINT] : taints,
      gpus,
      minNodes: p.autoscaling?.total_min_node_count ?? p.initial_node_count ?? 0,
      ...(p.autoscaling && p.autoscaling.total_max_node_count > 0
        ? { scaler: 'GKE cluster autoscaler' }
        : {}),
    };
  });
}

function azurePools(stack: string): Pool[] {
  const tf = readJson(`azure/stacks/${stack}/cdk.tf.json`);
  type AksPool = {
    name: string;
    vm_size: string;
    node_labels?: Record<string, string>;
    node_taints?: string[];
    auto_scaling_enabled?: boolean;
    min_count?: number;
    max_count?: number;
    node_count?: number;
  };
  const fromAks = (p: AksPool): Pool => ({
    name: `node pool ${p.name}`,
    labels: p.node_labels ?? {},
    taints: (p.node_taints ?? []).map((t) => {
      const m = /^([^=]+)=([^:]*):(\w+)$/.exec(t)!;
      return { key: m[1], value: m[2], effect: m[3] };
    }),
    gpus: /^Standard_N/.test(p.vm_size),
    minNodes: p.auto_scaling_enabled ? (p.min_count ?? 0) : (p.node_count ?? 0),
    ...(p.auto_scaling_enabled && (p.max_count ?? 0) > 0 ? { scaler: 'AKS cluster autoscaler' } : {}),
  });
  const clusters = Object.values(
    tf.resource.azurerm_kubernetes_cluster as Record<string, { default_node_pool: AksPool }>,
  );
  return [
    ...clusters.map((c) => fromAks(c.default_node_pool)),
    ...Object.values(tf.resource.azurerm_kubernetes_cluster_node_pool as Record<string, AksPool>).map(
      fromAks,
    ),
  ];
}

function workloads(stack: string, cluster: string): Workload[] {
  const dir = path.join('k8s', stack, cluster);
  const found: Workload[] = [];
  for (const f of listFiles(path.join(out, dir)).filter((f) => !f.includes('charts/'))) {
    const obj = parse(fs.readFileSync(path.join(out, dir, f), 'utf8')) as {
      kind: string;
      spec?: {
        template?: { spec: PodSpec };
        jobTemplate?: { spec: { template: { spec: PodSpec } } };
      };
    };
    const pod = obj.spec?.template?.spec ?? obj.spec?.jobTemplate?.spec.template.spec;
    if (pod && ['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob'].includes(obj.kind)) {
      found.push({ file: f, kind: obj.kind, pod });
    }
  }
  return found;
}

const tolerates = (tolerations: readonly Toleration[], taint: Taint) =>
  taint.effect === 'PreferNoSchedule' ||
  tolerations.some(
    (t) =>
      (t.key === undefined ? t.operator === 'Exists' : t.key === taint.key) &&
      (t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '')) &&
      (t.effect === undefined || t.effect === taint.effect),
  );

const asksForGpu = (pod: PodSpec) =>
  pod.containers.some((c) => Number(c.resources?.limits?.['nvidia.com/gpu'] ?? 0) > 0);

/** The pools `w` can run on. */
function poolsFor(w: Workload, pools: readonly Pool[]): Pool[] {
  return pools.filter(
    (p) =>
      Object.entries(w.pod.nodeSelector ?? {}).every(([k, v]) => p.labels[k] === v) &&
      p.taints.every((t) => tolerates(w.pod.tolerations ?? [], t)) &&
      (!asksForGpu(w.pod) || p.gpus),
  );
}

const clouds = {
  aws: () => awsPools('ml-platform-aws', 'ml-platform'),
  gcp: () => gcpPools('ml-platform-gcp'),
  azure: () => azurePools('ml-platform-azure'),
};

describe.each(Object.entries(clouds))('placement of every workload on %s', (cloud, readPools) => {
  const pools = readPools();
  const all = workloads(`ml-platform-${cloud}`, 'ml-platform');

  it('reads the pools and the workloads', () => {
    expect(pools.filter((p) => p.gpus).length).toBeGreaterThanOrEqual(2);
    expect(all.filter((w) => asksForGpu(w.pod)).length).toBeGreaterThanOrEqual(2);
    expect(all.some((w) => w.kind === 'DaemonSet')).toBe(true);
  });

  it('gives every workload a pool that has nodes or a scaler that adds them', () => {
    for (const w of all) {
      const fits = poolsFor(w, pools);
      expect(
        fits.map((p) => p.name),
        `${w.file} fits no pool`,
      ).not.toEqual([]);
      expect(
        fits.some((p) => p.minNodes > 0 || p.scaler !== undefined),
        `${w.file}: its pools (${fits.map((p) => p.name).join(', ')}) have no node and no scaler`,
      ).toBe(true);
    }
  });

  it('puts every GPU workload on GPU pools only, each of which can grow from zero', () => {
    for (const w of all.filter((w) => asksForGpu(w.pod))) {
      for (const p of poolsFor(w, pools)) {
        expect(p.gpus, `${w.file} on ${p.name}`).toBe(true);
        if (p.minNodes === 0) expect(p.scaler, `${w.file} on ${p.name}`).toBeDefined();
      }
    }
  });

  it('keeps workloads that ask for no GPU off the GPU pools', () => {
    for (const w of all.filter((w) => !asksForGpu(w.pod) && w.kind !== 'DaemonSet')) {
      const gpuPools = poolsFor(w, pools).filter((p) => p.gpus);
      expect(
        gpuPools.map((p) => p.name),
        w.file,
      ).toEqual([]);
    }
  });
});
