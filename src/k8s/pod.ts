import type { IContainer } from 'kubernetes-models/v1/Container';
import type { IPodSecurityContext } from 'kubernetes-models/v1/PodSecurityContext';
import type { IProbe } from 'kubernetes-models/v1/Probe';
import type { ISecurityContext } from 'kubernetes-models/v1/SecurityContext';

/**
 * The container security context of every mlstack container unless it states an exception: no privilege
 * escalation, a read-only root filesystem (write to a mounted `/tmp`), every Linux capability dropped. With
 * {@link RESTRICTED_POD_SECURITY} it meets the Kubernetes `restricted` Pod Security Standard.
 * @see https://kubernetes.io/docs/concepts/security/pod-security-standards/#restricted
 */
export const RESTRICTED_CONTAINER_SECURITY: Readonly<ISecurityContext> = {
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
};

/** The pod security context of every mlstack pod: a fixed non-root user and group, the runtime's seccomp profile. */
export const RESTRICTED_POD_SECURITY: Readonly<IPodSecurityContext> = {
  runAsNonRoot: true,
  runAsUser: 1000,
  runAsGroup: 1000,
  fsGroup: 1000,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** CPU and memory of a container. */
export interface ContainerResources {
  readonly requests: { readonly cpu: string; readonly memory: string };
  /** Limits; memory should be set (a container without a memory limit can take the node's). */
  readonly limits: Readonly<Record<string, string>>;
}

/** A container, before mlstack's defaults are applied. */
export interface ContainerOptions {
  readonly name: string;
  readonly image: string;
  readonly command?: readonly string[];
  readonly args?: readonly string[];
  /** Environment variables, in order. */
  readonly env?: IContainer['env'];
  readonly ports?: IContainer['ports'];
  /** Requests and limits: required, so that no container is scheduled without them. */
  readonly resources: ContainerResources;
  readonly readinessProbe?: IProbe;
  readonly livenessProbe?: IProbe;
  readonly startupProbe?: IProbe;
  readonly volumeMounts?: IContainer['volumeMounts'];
  /**
   * Fields added to the restricted security context (e.g. a fixed `runAsUser` for a pod without a pod-level one).
   * @default - {@link RESTRICTED_CONTAINER_SECURITY} as is
   */
  readonly securityContext?: Readonly<ISecurityContext>;
  /**
   * A documented exception: this security context replaces the restricted one. Only for what cannot run without
   * (a GPU monitoring agent that reads root-only sockets, a device plugin that writes a kubelet socket); the reason
   * is required so that it sits next to the code that needs it.
   * @default - no exception
   */
  readonly exception?: { readonly reason: string; readonly securityContext: Readonly<ISecurityContext> };
}

/**
 * A container with mlstack's secure defaults: the restricted security context (or a stated exception) and the
 * resources it was given. Every container mlstack writes is built here.
 */
export function container(opts: ContainerOptions): IContainer {
  if (opts.exception && !opts.exception.reason.trim()) {
    throw new Error(`container '${opts.name}': a security context exception needs its reason.`);
  }
  return {
    name: opts.name,
    image: opts.image,
    ...(opts.command ? { command: [...opts.command] } : {}),
    ...(opts.args ? { args: [...opts.args] } : {}),
    ...(opts.env ? { env: [...opts.env] } : {}),
    ...(opts.ports ? { ports: [...opts.ports] } : {}),
    resources: {
      requests: { ...opts.resources.requests },
      limits: { ...opts.resources.limits },
    },
    ...(opts.readinessProbe ? { readinessProbe: opts.readinessProbe } : {}),
    ...(opts.livenessProbe ? { livenessProbe: opts.livenessProbe } : {}),
    ...(opts.startupProbe ? { startupProbe: opts.startupProbe } : {}),
    securityContext: opts.exception
      ? { ...opts.exception.securityContext }
      : { ...RESTRICTED_CONTAINER_SECURITY, ...(opts.securityContext ?? {}) },
    ...(opts.volumeMounts ? { volumeMounts: [...opts.volumeMounts] } : {}),
  };
}

/**
 * A container made elsewhere (a capability's copy or fetch container) with the restricted security context and
 * extra volume mounts.
 */
export function restricted(c: IContainer, volumeMounts: IContainer['volumeMounts'] = []): IContainer {
  if (!c.resources?.requests || !c.resources.limits) {
    throw new Error(`container '${c.name}': requests and limits are required.`);
  }
  return {
    ...c,
    securityContext: { ...RESTRICTED_CONTAINER_SECURITY },
    ...(c.volumeMounts || volumeMounts?.length
      ? { volumeMounts: [...(c.volumeMounts ?? []), ...(volumeMounts ?? [])] }
      : {}),
  };
}

/** Environment variables from a record, in its order. */
export function envFrom(vars: Readonly<Record<string, string>>): NonNullable<IContainer['env']> {
  return Object.entries(vars).map(([name, value]) => ({ name, value }));
}

/** Kinds whose pod template is `spec.template` (a CronJob's is under its job template; a Pod is its own spec). */
const POD_TEMPLATE_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet', 'Job']);

/**
 * The pod spec of a workload object (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob), as the
 * caller reads it; undefined for any other kind.
 */
export function workloadPodSpec<P>(o: { readonly kind?: string; readonly spec?: unknown }): P | undefined {
  const spec = o.spec as Record<string, unknown> | undefined;
  if (!spec) return undefined;
  if (o.kind === 'Pod') return spec as P;
  if (o.kind !== undefined && POD_TEMPLATE_KINDS.has(o.kind)) {
    return (spec.template as { spec?: P } | undefined)?.spec;
  }
  if (o.kind === 'CronJob') {
    return (spec.jobTemplate as { spec?: { template?: { spec?: P } } } | undefined)?.spec?.template?.spec;
  }
  return undefined;
}
