import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { stringify } from 'yaml';
import { NODE_LABELS, type NodePoolSpec, type Taint, type TaintEffect } from '../spec/cluster';
import type { ValidatableObject } from './manifest';
import { acknowledgeObject } from '../policy/acknowledge';
import { container } from './pod';

/**
 * The pinned NVIDIA device plugin image.
 * @see https://github.com/NVIDIA/k8s-device-plugin/releases
 */
export const NVIDIA_DEVICE_PLUGIN_IMAGE = 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1';

/** Where the device plugin runs: beside the other node-critical add-ons. */
export const DEVICE_PLUGIN_NAMESPACE = 'kube-system';

/** The device plugin's own config file (format `v1`) for one pool. */
export function devicePluginConfig(pool: NodePoolSpec): Record<string, unknown> {
  const sharing = pool.gpu?.sharing;
  const config: Record<string, unknown> = {
    version: 'v1',
    flags: {
      // 'single': every GPU of the node is split with the same MIG profile, advertised as nvidia.com/gpu.
      migStrategy: sharing?.strategy === 'mig' ? 'single' : 'none',
      failOnInitError: true,
    },
  };
  if (sharing?.strategy === 'time-slicing') {
    config.sharing = {
      timeSlicing: { resources: [{ name: 'nvidia.com/gpu', replicas: sharing.replicas }] },
    };
  }
  return config;
}

/** Tolerations that let a pod land on a pool with these taints. */
export function tolerationsFor(
  taints: readonly Taint[],
): { key: string; operator: 'Exists'; effect: `${TaintEffect}` }[] {
  return taints.map((t) => ({ key: t.key, operator: 'Exists' as const, effect: t.effect }));
}

/**
 * The NVIDIA device plugin for each GPU pool: one ConfigMap and one DaemonSet a pool, selected by the
 * `mlstack.io/pool` node label, so that every pool gets its own time-slicing or MIG configuration.
 */
export function nvidiaDevicePlugin(pools: readonly NodePoolSpec[]): ValidatableObject[] {
  const objects: ValidatableObject[] = [];
  for (const pool of pools) {
    if (!pool.gpu) continue;
    const name = `nvidia-device-plugin-${pool.name}`;
    const labels = { 'app.kubernetes.io/name': 'nvidia-device-plugin', 'mlstack.io/pool': pool.name };
    objects.push(
      new ConfigMap({
        metadata: { name, namespace: DEVICE_PLUGIN_NAMESPACE, labels },
        data: { 'config.yaml': stringify(devicePluginConfig(pool)) },
      }),
      acknowledge(
        new DaemonSet({
          metadata: { name, namespace: DEVICE_PLUGIN_NAMESPACE, labels },
          spec: {
            selector: { matchLabels: labels },
            updateStrategy: { type: 'RollingUpdate' },
            template: {
              metadata: { labels },
              spec: {
                priorityClassName: 'system-node-critical',
                nodeSelector: { [NODE_LABELS.pool]: pool.name },
                tolerations: [
                  { key: 'CriticalAddonsOnly', operator: 'Exists' },
                  ...tolerationsFor(pool.taints),
                ],
                containers: [
                  container({
                    name: 'nvidia-device-plugin',
                    image: NVIDIA_DEVICE_PLUGIN_IMAGE,
                    args: ['--config-file=/etc/nvidia-device-plugin/config.yaml'],
                    exception: {
                      reason:
                        'The plugin writes its socket into the kubelet device-plugins hostPath, so its root filesystem stays writable; it needs no privileges, no capabilities and never escalates.',
                      securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
                    },
                    resources: {
                      requests: { cpu: '50m', memory: '64Mi' },
                      limits: { memory: '128Mi' },
                    },
                    volumeMounts: [
                      { name: 'device-plugin', mountPath: '/var/lib/kubelet/device-plugins' },
                      { name: 'config', mountPath: '/etc/nvidia-device-plugin', readOnly: true },
                    ],
                  }),
                ],
                volumes: [
                  { name: 'device-plugin', hostPath: { path: '/var/lib/kubelet/device-plugins' } },
                  { name: 'config', configMap: { name } },
                ],
              },
            },
          },
        }),
      ),
    );
  }
  return objects;
}

/** The device plugin's host access and runtime seccomp, acknowledged with their reasons (docs/policy.md). */
function acknowledge(d: DaemonSet): DaemonSet {
  acknowledgeObject(
    d,
    'MLS-K8S-HOST-ACCESS',
    'A device plugin registers with the kubelet through a socket in /var/lib/kubelet/device-plugins (hostPath); that is how nvidia.com/gpu becomes schedulable. It runs unprivileged with every capability dropped.',
  );
  return acknowledgeObject(
    d,
    'MLS-K8S-SECCOMP',
    "Runs under the container runtime's own default (as NVIDIA's manifests do): RuntimeDefault is not verified with NVML on a GPU node here (no GPU in CI), and a device plugin that fails leaves every GPU unschedulable.",
  );
}
