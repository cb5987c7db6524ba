import type { KubernetesObject, KubernetesRule } from '../rule';
import { nameOf } from './pods';

/** Node labels that only spot (preemptible) nodes carry, per cloud. */
const SPOT_NODE_LABELS: Readonly<Record<string, string>> = {
  'cloud.google.com/gke-spot': 'true',
  'cloud.google.com/gke-preemptible': 'true',
  'kubernetes.azure.com/scalesetpriority': 'spot',
  'karpenter.sh/capacity-type': 'spot',
  'eks.amazonaws.com/capacityType': 'SPOT',
};

type Labels = Readonly<Record<string, string>>;

const selects = (selector: Labels | undefined, labels: Labels | undefined): boolean =>
  !!selector &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

interface NodePoolSpec {
  template?: {
    metadata?: { labels?: Labels };
    spec?: { requirements?: { key?: string; operator?: string; values?: string[] }[] };
  };
}

/** The capacity types a Karpenter NodePool may launch (no requirement: on-demand only). */
function capacityTypes(pool: KubernetesObject): string[] {
  const req = ((pool.spec as NodePoolSpec).template?.spec?.requirements ?? []).find(
    (r) => r.key === 'karpenter.sh/capacity-type',
  );
  return req?.values ?? ['on-demand'];
}

/**
 * Whether the nodes a Karpenter NodePool launches can satisfy `nodeSelector`: each entry is one of the pool's
 * template labels, its `karpenter.sh/nodepool` name, or a value its requirements allow (`In`).
 */
function canHost(pool: KubernetesObject, nodeSelector: Labels): boolean {
  const spec = (pool.spec as NodePoolSpec).template;
  const labels: Labels = { ...spec?.metadata?.labels, 'karpenter.sh/nodepool': pool.metadata.name };
  return Object.entries(nodeSelector).every(
    ([k, v]) =>
      labels[k] === v ||
      (spec?.spec?.requirements ?? []).some(
        (r) => r.key === k && (r.operator ?? 'In') === 'In' && (r.values ?? []).includes(v),
      ),
  );
}

/**
 * Online serving on spot GPUs keeps a PodDisruptionBudget and an on-demand fallback, or says it has none: a spot
 * reclaim takes the nodes with two minutes' (AWS, Azure: 30 s) notice, and every replica can go at once.
 */
export const spotServing: KubernetesRule = {
  id: 'MLS-K8S-SPOT-SERVING',
  level: 'warning',
  target: 'kubernetes',
  title: 'Online serving on spot capacity has a PodDisruptionBudget and an on-demand fallback',
  description:
    'Spot capacity is reclaimed with little notice (EC2: two minutes; Azure and GCP: about 30 seconds) and often for a whole zone or instance type at once. A Deployment behind a Service that can only run on spot loses every replica together, and without a PodDisruptionBudget node drains take replicas down with no limit.',
  fix: "Give the Deployment a PodDisruptionBudget (TritonService makes one) and a pool that falls back to on-demand (Karpenter's capacity-type [spot, on-demand], mlstack's default on EKS), or run online serving on an on-demand pool; acknowledge a spot-only service whose outages you accept.",
  check: ({ objects }) => {
    const services = objects.filter((o) => o.kind === 'Service');
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget');
    const nodePools = objects.filter(
      (o) => o.kind === 'NodePool' && o.apiVersion.startsWith('karpenter.sh/'),
    );
    return objects
      .filter((o) => o.kind === 'Deployment')
      .flatMap((d) => {
        const template = (
          d.spec as { template?: { metadata?: { labels?: Labels }; spec?: { nodeSelector?: Labels } } }
        ).template;
        const podLabels = template?.metadata?.labels;
        const nodeSelector = template?.spec?.nodeSelector ?? {};
        const service = services.find(
          (s) =>
            s.metadata.namespace === d.metadata.namespace &&
            selects((s.spec as { selector?: Labels } | undefined)?.selector, podLabels),
        );
        if (!service) return [];
        const spotOnlyByLabel = Object.entries(SPOT_NODE_LABELS).some(([k, v]) => nodeSelector[k] === v);
        // The Karpenter pools the pods can land on (none when nothing constrains them).
        const pools = Object.keys(nodeSelector).length
          ? nodePools.filter((p) => canHost(p, nodeSelector)).map(capacityTypes)
          : [];
        const onSpot = spotOnlyByLabel || pools.some((types) => types.includes('spot'));
        if (!onSpot) return [];
        const spotOnly =
          spotOnlyByLabel || (pools.length > 0 && pools.every((types) => !types.includes('on-demand')));
        const budget = budgets.some(
          (b) =>
            b.metadata.namespace === d.metadata.namespace &&
            selects((b.spec as { selector?: { matchLabels?: Labels } }).selector?.matchLabels, podLabels),
        );
        const problems = [
          ...(spotOnly ? ['no on-demand fallback'] : []),
          ...(budget ? [] : ['no PodDisruptionBudget']),
        ];
        return problems.length
          ? [
              {
                object: d,
                message: `${nameOf(d)} serves Service ${service.metadata.name} from spot capacity with ${problems.join(' and ')}`,
              },
            ]
          : [];
      });
  },
};
