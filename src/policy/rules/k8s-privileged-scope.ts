import type { KubernetesRule } from '../rule';
import { containersOf, nameOf, podOf } from './pods';

const ENFORCE = 'pod-security.kubernetes.io/enforce';

/**
 * Privileged containers only in node agents (DaemonSets: the GPU device plugin, DCGM exporter) and only in a
 * namespace that enforces the `privileged` Pod Security level — where Pod Security admission would otherwise
 * reject the pod at deploy.
 */
export const privilegedScope: KubernetesRule = {
  id: 'MLS-K8S-PRIVILEGED-SCOPE',
  level: 'error',
  target: 'kubernetes',
  title: 'Privileged containers run only as node agents, in namespaces that admit them',
  description:
    'A privileged container owns its node. GPU system components are node agents (one per GPU node, a DaemonSet); a privileged Deployment, Job or StatefulSet is a workload that escaped its limits. In a namespace whose Pod Security level is not `privileged`, admission rejects the pod at deploy, which synth can say first.',
  fix: 'Run the privileged part as a DaemonSet in a GPU system namespace labelled pod-security.kubernetes.io/enforce=privileged (with its reason), or drop the privilege.',
  check: ({ objects }) => {
    const levels = new Map(
      objects
        .filter((o) => o.kind === 'Namespace')
        .map((o) => [o.metadata.name, o.metadata.labels?.[ENFORCE]] as const),
    );
    return objects.flatMap((o) => {
      const pod = podOf(o);
      if (!pod) return [];
      const privileged = containersOf(pod)
        .filter((c) => c.securityContext?.privileged)
        .map((c) => c.name);
      if (privileged.length === 0) return [];
      const ns = o.metadata.namespace ?? 'default';
      const problems = [
        ...(o.kind === 'DaemonSet' ? [] : [`is a ${o.kind}, not a node agent (DaemonSet)`]),
        // Namespaces defined elsewhere (kube-system, a namespace of the user's) are not judged here.
        ...(levels.has(ns) && levels.get(ns) !== 'privileged'
          ? [`its namespace ${ns} enforces '${levels.get(ns) ?? 'no level'}', which rejects privileged pods`]
          : []),
      ];
      return problems.length
        ? [
            {
              object: o,
              message: `${nameOf(o)} runs privileged ${privileged.join(', ')} and ${problems.join(' and ')}`,
            },
          ]
        : [];
    });
  },
};
