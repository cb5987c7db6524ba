import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';

/** Volume types the `restricted` Pod Security Standard allows. */
const RESTRICTED_VOLUMES = new Set([
  'configMap',
  'csi',
  'downwardAPI',
  'emptyDir',
  'ephemeral',
  'persistentVolumeClaim',
  'projected',
  'secret',
]);

/**
 * What in a pod breaks the Kubernetes `restricted` Pod Security Standard (the checks Pod Security Admission makes
 * for host namespaces, privileged containers, capabilities, host paths and ports, volume types, privilege
 * escalation, running as non-root and seccomp); empty when it meets it.
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 */
export function restrictedViolations(pod: IPodSpec): string[] {
  const out: string[] = [];
  if (pod.hostNetwork) out.push('hostNetwork');
  if (pod.hostPID) out.push('hostPID');
  if (pod.hostIPC) out.push('hostIPC');
  for (const v of pod.volumes ?? []) {
    const type = Object.keys(v).find((k) => k !== 'name');
    if (type && !RESTRICTED_VOLUMES.has(type)) out.push(`volume ${v.name} is ${type}`);
  }
  const podNonRoot = pod.securityContext?.runAsNonRoot === true;
  const podSeccomp = pod.securityContext?.seccompProfile?.type;
  if (pod.securityContext?.runAsUser === 0) out.push('pod runAsUser 0');
  const containers = [...(pod.initContainers ?? []), ...pod.containers];
  for (const c of containers) {
    const sc = c.securityContext ?? {};
    const where = `container ${c.name}`;
    if (sc.privileged) out.push(`${where} is privileged`);
    if (sc.allowPrivilegeEscalation !== false) out.push(`${where} may escalate privileges`);
    if (!(sc.capabilities?.drop ?? []).includes('ALL')) out.push(`${where} does not drop ALL capabilities`);
    for (const cap of sc.capabilities?.add ?? []) {
      if (cap !== 'NET_BIND_SERVICE') out.push(`${where} adds capability ${cap}`);
    }
    if (!(sc.runAsNonRoot === true || (podNonRoot && sc.runAsNonRoot !== false))) {
      out.push(`${where} may run as root`);
    }
    if (sc.runAsUser === 0) out.push(`${where} runs as user 0`);
    const seccomp = sc.seccompProfile?.type ?? podSeccomp;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') out.push(`${where} has no seccomp profile`);
    for (const p of c.ports ?? []) if (p.hostPort) out.push(`${where} uses hostPort ${p.hostPort}`);
  }
  return out;
}
