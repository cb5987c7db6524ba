import type { KubernetesRule } from '../rule';
import { containersOf, nameOf, podOf } from './pods';

/** Pods run under a seccomp profile. */
export const seccomp: KubernetesRule = {
  id: 'MLS-K8S-SECCOMP',
  level: 'error',
  target: 'kubernetes',
  title: 'Pods run with a seccomp profile',
  description:
    'Without a seccomp profile a container may make every system call the kernel offers; RuntimeDefault blocks the ones containers do not need and is what the restricted Pod Security level requires.',
  fix: 'Set securityContext.seccompProfile.type: RuntimeDefault on the pod (or on each container).',
  check: ({ objects }) =>
    objects.flatMap((o) => {
      const pod = podOf(o);
      if (!pod || pod.securityContext?.seccompProfile?.type) return [];
      const bare = containersOf(pod)
        .filter((c) => !c.securityContext?.seccompProfile?.type)
        .map((c) => c.name);
      return bare.length
        ? [{ object: o, message: `${nameOf(o)}: no seccomp profile (${bare.join(', ')})` }]
        : [];
    }),
};
