import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { DaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { namespaceWithPodSecurity } from '../k8s/namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IVolume } from 'kubernetes-models/v1/Volume';
import type { ValidatableObject } from '../k8s/manifest';
import { allowIngress, defaultDenyIngress, defaultEgress, type IngressPeers } from '../k8s/network-policy';
import { container } from '../k8s/pod';
import { acknowledgeObject } from '../policy/acknowledge';
import { tolerationsFor } from '../k8s/nvidia-device-plugin';
import { NODE_LABELS, type Taint } from '../spec/cluster';
import type { GpuNodeLayout } from '../spec/clouds';

/**
 * The pinned dcgm-exporter image (DCGM 3.3.9, exporter 3.6.1).
 * @see https://catalog.ngc.nvidia.com/orgs/nvidia/teams/k8s/containers/dcgm-exporter
 */
export const DCGM_EXPORTER_IMAGE = 'nvcr.io/nvidia/k8s/dcgm-exporter:3.3.9-3.6.1-ubuntu22.04';

/** The port dcgm-exporter serves `/metrics` on. */
export const DCGM_EXPORTER_PORT = 9400;

/** One DCGM field the exporter collects: a line of its counters CSV. */
export interface DcgmCounter {
  readonly name: string;
  readonly type: 'gauge' | 'counter';
  readonly help: string;
}

/**
 * The fields mlstack enables, in dcgm-exporter's CSV form (`name, type, help`). Profiling fields (`DCGM_FI_PROF_*`)
 * need the exporter's SYS_ADMIN capability.
 * @see https://docs.nvidia.com/datacenter/dcgm/latest/dcgm-api/dcgm-api-field-ids.html
 */
export const DCGM_COUNTERS: readonly DcgmCounter[] = [
  { name: 'DCGM_FI_DEV_GPU_UTIL', type: 'gauge', help: 'GPU utilization (in %).' },
  { name: 'DCGM_FI_DEV_MEM_COPY_UTIL', type: 'gauge', help: 'Memory utilization (in %).' },
  {
    name: 'DCGM_FI_PROF_GR_ENGINE_ACTIVE',
    type: 'gauge',
    help: 'Ratio of time the graphics engine is active.',
  },
  { name: 'DCGM_FI_DEV_FB_USED', type: 'gauge', help: 'Framebuffer memory used (in MiB).' },
  { name: 'DCGM_FI_DEV_FB_FREE', type: 'gauge', help: 'Framebuffer memory free (in MiB).' },
  { name: 'DCGM_FI_DEV_GPU_TEMP', type: 'gauge', help: 'GPU temperature (in C).' },
  { name: 'DCGM_FI_DEV_MEMORY_TEMP', type: 'gauge', help: 'Memory temperature (in C).' },
  { name: 'DCGM_FI_DEV_POWER_USAGE', type: 'gauge', help: 'Power draw (in W).' },
  { name: 'DCGM_FI_DEV_SM_CLOCK', type: 'gauge', help: 'SM clock frequency (in MHz).' },
  { name: 'DCGM_FI_DEV_MEM_CLOCK', type: 'gauge', help: 'Memory clock frequency (in MHz).' },
  { name: 'DCGM_FI_DEV_XID_ERRORS', type: 'gauge', help: 'Value of the last XID error encountered.' },
  {
    name: 'DCGM_FI_DEV_ECC_SBE_VOL_TOTAL',
    type: 'counter',
    help: 'Total number of single-bit volatile ECC errors.',
  },
  {
    name: 'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL',
    type: 'counter',
    help: 'Total number of double-bit volatile ECC errors.',
  },
  { name: 'DCGM_FI_PROF_PCIE_TX_BYTES', type: 'gauge', help: 'PCIe bytes transmitted per second.' },
  { name: 'DCGM_FI_PROF_PCIE_RX_BYTES', type: 'gauge', help: 'PCIe bytes received per second.' },
  { name: 'DCGM_FI_PROF_NVLINK_TX_BYTES', type: 'gauge', help: 'NVLink bytes transmitted per second.' },
  { name: 'DCGM_FI_PROF_NVLINK_RX_BYTES', type: 'gauge', help: 'NVLink bytes received per second.' },
  {
    name: 'DCGM_FI_DEV_THERMAL_VIOLATION',
    type: 'counter',
    help: 'Throttling duration due to thermal constraints (in us).',
  },
  {
    name: 'DCGM_FI_DEV_POWER_VIOLATION',
    type: 'counter',
    help: 'Throttling duration due to power constraints (in us).',
  },
  {
    name: 'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS',
    type: 'gauge',
    help: 'Current clock throttle reasons (bitmask of DCGM_CLOCKS_THROTTLE_REASON_*).',
  },
];

/** The counters CSV that dcgm-exporter reads (`-f`/`DCGM_EXPORTER_COLLECTORS`). */
export function renderCounters(counters: readonly DcgmCounter[] = DCGM_COUNTERS): string {
  return [
    '# Format: DCGM field, Prometheus metric type, help message. Written by mlstack.',
    ...counters.map((c) => `${c.name}, ${c.type}, ${c.help}`),
    '',
  ].join('\n');
}

/** What the exporter manifests need to know. */
export interface DcgmExporterSpec {
  readonly namespace: string;
  /** Name of the DaemonSet, Service and friends. */
  readonly name: string;
  /** How the cluster's GPU nodes expose their GPUs (the cloud catalog's `gpuNodes`). */
  readonly gpuNodes: GpuNodeLayout;
  /** Taints of the GPU pools: the DaemonSet tolerates all of them. */
  readonly gpuTaints: readonly Taint[];
  /** Scrape interval of the ServiceMonitor, e.g. `30s`. */
  readonly scrapeInterval: string;
  /** Whether to emit the prometheus-operator ServiceMonitor (the in-cluster path). */
  readonly serviceMonitor: boolean;
  /** Who scrapes the exporter: the only ingress its namespace allows. */
  readonly scrapers: IngressPeers;
}

const COUNTERS_PATH = '/etc/dcgm-exporter';

/**
 * dcgm-exporter on GPU nodes only: Namespace, ServiceAccount, counters ConfigMap, DaemonSet, Service and (for an
 * in-cluster Prometheus) a ServiceMonitor that keeps the pod/namespace/container labels of the GPU's workload.
 */
export function dcgmExporterManifests(spec: DcgmExporterSpec): ValidatableObject[] {
  const labels = { 'app.kubernetes.io/name': spec.name, 'app.kubernetes.io/managed-by': 'mlstack' };
  const metadata = (name: string) => ({ name, namespace: spec.namespace, labels: { ...labels } });
  // GKE installs the driver under /home/kubernetes/bin/nvidia and exposes GPUs only to containers that request
  // them; elsewhere the NVIDIA container runtime is the node's default and NVIDIA_VISIBLE_DEVICES=all shows every GPU.
  const driver = spec.gpuNodes.driverHostPath;
  const privileged = spec.gpuNodes.devicesOnlyForPrivileged;
  const volumes: IVolume[] = [
    { name: 'counters', configMap: { name: `${spec.name}-counters` } },
    { name: 'pod-resources', hostPath: { path: '/var/lib/kubelet/pod-resources', type: 'Directory' } },
    { name: 'tmp', emptyDir: {} },
    ...(driver ? [{ name: 'nvidia', hostPath: { path: driver, type: 'Directory' as const } }] : []),
  ];
  const exporter = container({
    name: 'dcgm-exporter',
    image: DCGM_EXPORTER_IMAGE,
    env: [
      { name: 'DCGM_EXPORTER_COLLECTORS', value: `${COUNTERS_PATH}/counters.csv` },
      { name: 'DCGM_EXPORTER_LISTEN', value: `:${DCGM_EXPORTER_PORT}` },
      { name: 'DCGM_EXPORTER_KUBERNETES', value: 'true' },
      { name: 'NODE_NAME', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } },
      ...(driver
        ? [{ name: 'LD_LIBRARY_PATH', value: '/usr/local/nvidia/lib64' }]
        : [{ name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' }]),
    ],
    ports: [{ name: 'metrics', containerPort: DCGM_EXPORTER_PORT, protocol: 'TCP' }],
    exception: privileged
      ? {
          reason:
            'COS exposes the GPU device files only to privileged containers or to pods that request nvidia.com/gpu, and the exporter must see every GPU without taking one; uid 0 reads the root-only kubelet pod-resources socket.',
          securityContext: {
            privileged: true,
            runAsUser: 0,
            runAsNonRoot: false,
            readOnlyRootFilesystem: true,
          },
        }
      : {
          reason:
            "uid 0 reads the root-only kubelet pod-resources socket (which maps GPUs to pods); SYS_ADMIN is what DCGM's profiling fields (DCGM_FI_PROF_*: PCIe, NVLink, engine activity) need. Everything else is dropped.",
          securityContext: {
            runAsUser: 0,
            runAsNonRoot: false,
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] },
          },
        },
    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { cpu: '500m', memory: '512Mi' } },
    readinessProbe: { httpGet: { path: '/health', port: 'metrics' }, periodSeconds: 10 },
    livenessProbe: {
      httpGet: { path: '/health', port: 'metrics' },
      initialDelaySeconds: 30,
      periodSeconds: 30,
    },
    volumeMounts: [
      { name: 'counters', mountPath: COUNTERS_PATH, readOnly: true },
      { name: 'pod-resources', mountPath: '/var/lib/kubelet/pod-resources', readOnly: true },
      { name: 'tmp', mountPath: '/tmp' },
      ...(driver ? [{ name: 'nvidia', mountPath: '/usr/local/nvidia', readOnly: true }] : []),
    ],
  });
  const objects: ValidatableObject[] = [
    namespaceWithPodSecurity({
      name: spec.namespace,
      labels,
      podSecurity: 'privileged',
      reason:
        'dcgm-exporter reads the kubelet pod-resources socket through a hostPath (to label GPU metrics with their pods), which baseline forbids; on GKE it also runs privileged to reach the GPU devices and driver. Nothing else runs here.',
    }),
    new ServiceAccount({ metadata: metadata(spec.name), automountServiceAccountToken: false }),
    new ConfigMap({
      metadata: metadata(`${spec.name}-counters`),
      data: { 'counters.csv': renderCounters() },
    }),
    acknowledgeObject(
      acknowledgeObject(
        new DaemonSet({
          metadata: metadata(spec.name),
          spec: {
            selector: { matchLabels: { ...labels } },
            updateStrategy: { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: '25%' } },
            template: {
              metadata: { labels: { ...labels } },
              spec: {
                serviceAccountName: spec.name,
                automountServiceAccountToken: false,
                nodeSelector: { [NODE_LABELS.gpu]: 'true' },
                tolerations: tolerationsFor(spec.gpuTaints),
                containers: [exporter],
                volumes,
                terminationGracePeriodSeconds: 30,
              },
            },
          },
        }),
        'MLS-K8S-HOST-ACCESS',
        privileged
          ? `Reads the kubelet pod-resources socket (hostPath) to label GPU metrics with their pods, and the GKE driver under ${driver ?? 'the host'} (hostPath); privileged because COS shows GPU devices only to privileged containers or to pods that take a GPU. docs/dcgm.md ("On GKE") lists each privilege, why it remains and the managed alternative.`
          : 'Reads the kubelet pod-resources socket (hostPath, read-only) to label GPU metrics with the pods that use each GPU; not privileged, only SYS_ADMIN for the profiling fields.',
      ),
      'MLS-K8S-SECCOMP',
      "Runs under the container runtime's own default, as NVIDIA's dcgm-exporter chart does: DCGM's profiling fields with RuntimeDefault are not verified on a GPU node here (no GPU in CI).",
    ),
    new Service({
      metadata: metadata(spec.name),
      spec: {
        type: 'ClusterIP',
        selector: { ...labels },
        ports: [{ name: 'metrics', port: DCGM_EXPORTER_PORT, targetPort: 'metrics', protocol: 'TCP' }],
      },
    }),
    defaultDenyIngress(spec.namespace),
    // Egress: none. The exporter reads the GPUs and the kubelet's socket on its node and only answers scrapes.
    defaultEgress({ namespace: spec.namespace, identity: [], https: false, dns: false }),
    allowIngress({
      name: spec.name,
      namespace: spec.namespace,
      podLabels: labels,
      ports: [DCGM_EXPORTER_PORT],
      from: spec.scrapers,
    }),
  ];
  if (spec.serviceMonitor) {
    objects.push(
      new ServiceMonitor({
        metadata: metadata(spec.name),
        spec: {
          selector: { matchLabels: { ...labels } },
          namespaceSelector: { matchNames: [spec.namespace] },
          endpoints: [
            {
              port: 'metrics',
              path: '/metrics',
              interval: spec.scrapeInterval,
              // The exporter's pod/namespace/container labels name the workload holding the GPU: keep them.
              honorLabels: true,
              relabelings: [{ sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node' }],
            },
          ],
        },
      }),
    );
  }
  return objects;
}
