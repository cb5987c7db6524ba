import type { KubernetesObject, KubernetesRule } from '../rule';
import { podOf } from './pods';

interface PolicySpec {
  podSelector?: Record<string, unknown>;
  policyTypes?: string[];
  ingress?: unknown[];
  egress?: { to?: unknown[]; ports?: unknown[] }[];
}

/** Every namespace with workloads denies ingress by default and limits egress. */
export const defaultDeny: KubernetesRule = {
  id: 'MLS-K8S-DEFAULT-DENY',
  level: 'warning',
  target: 'kubernetes',
  title: 'Namespaces with workloads deny ingress by default and limit egress',
  description:
    'Kubernetes allows all traffic between pods until a NetworkPolicy selects them. A default-deny ingress policy per namespace (an empty pod selector, policy type Ingress, no rules) makes every other policy an explicit allow; an egress policy over every pod of the namespace that never allows all ports to all destinations keeps a compromised pod from reaching what its workload does not need.',
  fix: 'Add a NetworkPolicy with `podSelector: {}`, `policyTypes: [Ingress]` and no ingress rules, and one with `policyTypes: [Egress]` allowing only the ports the workloads call (DNS, HTTPS, the cloud credential endpoints, a database), to each namespace.',
  check: ({ objects }) => {
    const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
    const covering = (o: KubernetesObject) => {
      const spec = o.spec as PolicySpec;
      return !spec.podSelector || Object.keys(spec.podSelector).length === 0;
    };
    const ingressDenied = new Set(
      policies
        .filter((o) => {
          const spec = o.spec as PolicySpec;
          return (
            covering(o) && (spec.policyTypes ?? []).includes('Ingress') && (spec.ingress ?? []).length === 0
          );
        })
        .map((o) => o.metadata.namespace ?? 'default'),
    );
    const egressLimited = new Set(
      policies
        .filter((o) => {
          const spec = o.spec as PolicySpec;
          // A rule with neither destinations nor ports allows everything.
          const open = (spec.egress ?? []).some((r) => !r.to?.length && !r.ports?.length);
          return covering(o) && (spec.policyTypes ?? []).includes('Egress') && !open;
        })
        .map((o) => o.metadata.namespace ?? 'default'),
    );
    const first = new Map<string, KubernetesObject>();
    for (const o of objects) {
      const ns = o.metadata.namespace ?? 'default';
      if (podOf(o) && !first.has(ns)) first.set(ns, o);
    }
    const namespaces = new Map(
      objects.filter((o) => o.kind === 'Namespace').map((o) => [o.metadata.name, o]),
    );
    return [...first]
      .filter(([ns]) => ns !== 'kube-system')
      .flatMap(([ns, o]) => {
        const missing = [
          ...(ingressDenied.has(ns) ? [] : ['no default-deny ingress NetworkPolicy']),
          ...(egressLimited.has(ns) ? [] : ['no egress NetworkPolicy limiting every pod']),
        ];
        return missing.length
          ? [
              {
                object: namespaces.get(ns) ?? o,
                message: `namespace ${ns} has workloads and ${missing.join(' and ')}`,
              },
            ]
          : [];
      });
  },
};
