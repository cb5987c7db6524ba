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

/** Node labels that name a Karpenter NodePool (mlstack's pool label, Karpenter's own). */
const POOL_LABELS = ['mlstack.io/pool', 'karpenter.sh/nodepool'];

type Labels = Readonly<Record<string, string>>;

const selects = (selector: Labels | undefined, labels: Labels | undefined): boolean =>
  !!selector &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels?.[k] === v);

/** The capacity types a Karpenter NodePool may launch (undefined: no requirement, so on-demand only). */
function capacityTypes(pool: KubernetesObject): string[] {
  const spec = pool.spec as {
    template?: { spec?: { requirements?: { key?: string; values?: string[] }[] } };
  };
  const req = (spec.template?.spec?.requirements ?? []).find((r) => r.key === 'karpenter.sh/capacity-type');
  return req?.values ?? ['on-demand'];
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
        const pool = nodePools.find((p) =>
          POOL_LABELS.some(
            (l) =>
              nodeSelector[l] === p.metadata.name ||
              nodeSelector[l] === p.metadata.name.replace(/^mlstack-/, ''),
          ),
        );
        const types = pool ? capacityTypes(pool) : [];
        const onSpot = spotOnlyByLabel || types.includes('spot');
        if (!onSpot) return [];
        const spotOnly = spotOnlyByLabel || (types.length > 0 && !types.includes('on-demand'));
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
