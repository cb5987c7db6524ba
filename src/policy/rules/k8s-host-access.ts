import type { KubernetesRule } from '../rule';
import { containersOf, nameOf, podOf } from './pods';

/** Privileged containers and host access (network, PID, IPC, paths) only with a reason. */
export const hostAccess: KubernetesRule = {
  id: 'MLS-K8S-HOST-ACCESS',
  level: 'error',
  target: 'kubernetes',
  title: 'Privileged containers and host access only where a reason is given',
  description:
    'A privileged container, or one with the host network, PID or IPC namespace or a hostPath volume, can take over its node. GPU system components (device plugin, DCGM exporter) need some of it; nothing else does.',
  fix: 'Remove the privilege or host access; where a GPU system component needs it, acknowledge MLS-K8S-HOST-ACCESS on the workload with what it needs and why.',
  check: ({ objects }) =>
    objects.flatMap((o) => {
      const pod = podOf(o);
      if (!pod) return [];
      const what = [
        ...containersOf(pod)
          .filter((c) => c.securityContext?.privileged)
          .map((c) => `container ${c.name} is privileged`),
        ...(pod.hostNetwork ? ['hostNetwork'] : []),
        ...(pod.hostPID ? ['hostPID'] : []),
        ...(pod.hostIPC ? ['hostIPC'] : []),
        ...(pod.volumes ?? []).filter((v) => v.hostPath).map((v) => `hostPath volume ${v.name}`),
      ];
      return what.length ? [{ object: o, message: `${nameOf(o)}: ${what.join(', ')}` }] : [];
    }),
};
