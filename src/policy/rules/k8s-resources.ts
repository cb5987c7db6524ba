import type { KubernetesRule } from '../rule';
import { containersOf, nameOf, podOf } from './pods';

/** Every container requests CPU and memory and has a memory limit. */
export const containerResources: KubernetesRule = {
  id: 'MLS-K8S-RESOURCES',
  level: 'error',
  target: 'kubernetes',
  title: 'Containers request CPU and memory and limit memory',
  description:
    'Without requests the scheduler packs pods blindly and the autoscaler cannot size nodes; without a memory limit one leak takes the node (and its GPUs) down with it.',
  fix: 'Set resources.requests.cpu, resources.requests.memory and resources.limits.memory on every container (init containers too).',
  check: ({ objects }) =>
    objects.flatMap((o) => {
      const pod = podOf(o);
      if (!pod) return [];
      const missing = containersOf(pod).flatMap((c) => {
        const lack = [
          ...(c.resources?.requests?.cpu === undefined ? ['requests.cpu'] : []),
          ...(c.resources?.requests?.memory === undefined ? ['requests.memory'] : []),
          ...(c.resources?.limits?.memory === undefined ? ['limits.memory'] : []),
        ];
        return lack.length ? [`${c.name} (${lack.join(', ')})`] : [];
      });
      return missing.length ? [{ object: o, message: `${nameOf(o)}: no ${missing.join('; ')}` }] : [];
    }),
};
