import type { KubernetesObject, KubernetesRule } from '../rule';
import { podOf } from './pods';

/** Every namespace with workloads denies ingress by default. */
export const defaultDeny: KubernetesRule = {
  id: 'MLS-K8S-DEFAULT-DENY',
  level: 'warning',
  target: 'kubernetes',
  title: 'Namespaces with workloads deny ingress by default',
  description:
    'Kubernetes allows all traffic between pods until a NetworkPolicy selects them. A default-deny policy per namespace (an empty pod selector, policy type Ingress, no rules) makes every other policy an explicit allow.',
  fix: 'Add a NetworkPolicy with `podSelector: {}`, `policyTypes: [Ingress]` and no ingress rules to each namespace, then allow exactly the clients, collectors and probes each workload needs.',
  check: ({ objects }) => {
    const denied = new Set(
      objects
        .filter((o) => o.kind === 'NetworkPolicy')
        .filter((o) => {
          const spec = o.spec as {
            podSelector?: Record<string, unknown>;
            policyTypes?: string[];
            ingress?: unknown[];
          };
          const all = !spec.podSelector || Object.keys(spec.podSelector).length === 0;
          return all && (spec.policyTypes ?? []).includes('Ingress') && (spec.ingress ?? []).length === 0;
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
      .filter(([ns]) => !denied.has(ns) && ns !== 'kube-system')
      .map(([ns, o]) => ({
        object: namespaces.get(ns) ?? o,
        message: `namespace ${ns} has workloads and no default-deny ingress NetworkPolicy`,
      }));
  },
};
