import { workloadPodSpec } from '../../k8s/pod';
import type { KubernetesObject } from '../rule';

/** A container as the rules read it. */
export interface ContainerView {
  readonly name: string;
  readonly image?: string;
  readonly securityContext?: { privileged?: boolean; seccompProfile?: { type?: string } };
  readonly resources?: { requests?: Record<string, unknown>; limits?: Record<string, unknown> };
}

/** A pod template as the rules read it. */
export interface PodView {
  readonly containers?: ContainerView[];
  readonly initContainers?: ContainerView[];
  readonly hostNetwork?: boolean;
  readonly hostPID?: boolean;
  readonly hostIPC?: boolean;
  readonly volumes?: { name: string; hostPath?: unknown }[];
  readonly securityContext?: { seccompProfile?: { type?: string } };
  readonly nodeSelector?: Record<string, string>;
  readonly affinity?: { nodeAffinity?: unknown };
  readonly tolerations?: { key?: string; operator?: string; effect?: string }[];
}

/** The pod spec of a workload object (Pod, Deployment, StatefulSet, DaemonSet, ReplicaSet, Job, CronJob). */
export function podOf(o: KubernetesObject): PodView | undefined {
  return workloadPodSpec<PodView>(o);
}

/** Every container of a pod, init containers included. */
export function containersOf(pod: PodView): ContainerView[] {
  return [...(pod.initContainers ?? []), ...(pod.containers ?? [])];
}

/** `Kind namespace/name`, for messages. */
export function nameOf(o: KubernetesObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}
