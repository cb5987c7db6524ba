import { HTTPRoute } from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1/HTTPRoute';
import { defaultDenyIngress, defaultEgress, type EgressEndpoint, peersOf } from '../k8s/network-policy';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler';
import { type ScaledObjectSpec, scaledObject } from '../k8s/keda';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { namespaceWithPodSecurity } from '../k8s/namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IContainer } from 'kubernetes-models/v1/Container';
import type { ValidatableObject } from '../k8s/manifest';
import { container, envFrom, restricted, RESTRICTED_POD_SECURITY } from '../k8s/pod';
import { tolerationsFor } from '../k8s/nvidia-device-plugin';
import { NODE_LABELS, type NodePoolSpec } from '../spec/cluster';

/**
 * The pinned Triton image.
 * @see https://catalog.ngc.nvidia.com/orgs/nvidia/containers/tritonserver
 */
export const TRITON_IMAGE = 'nvcr.io/nvidia/tritonserver:25.01-py3';

/** Ports of the serving contract: Triton's, which the mlstack server keeps (HTTP and metrics on one port there). */
export const SERVING_PORTS = { http: 8000, grpc: 8001, metrics: 8002 } as const;

/** Where the model repository comes from. */
export interface ModelRepositorySource {
  /** What the runtime is given as `--model-repository` (a bucket URI for Triton, a local path for mlstack serve). */
  readonly uri: string;
  /**
   * A container that copies the repository into the pod before the runtime starts (for runtimes that read local
   * folders only); it gets the `models` volume at `/models`.
   * @default - none: the runtime reads `uri` itself
   */
  readonly initContainer?: IContainer;
  /**
   * Where the repository is inside the pod once the init container finished (under `/models`).
   * @default /models
   */
  readonly localPath?: string;
}

/** Everything a serving workload needs, resolved: what `servingManifests` turns into Kubernetes objects. */
export interface ServingWorkloadSpec {
  /** Service name (DNS label); objects are named after it. */
  readonly name: string;
  readonly namespace: string;
  readonly runtime: 'triton' | 'onnxruntime';
  readonly image: string;
  readonly modelRepository: ModelRepositorySource;
  readonly serviceAccount: { readonly name: string; readonly annotations?: Readonly<Record<string, string>> };
  /** Extra pod labels (e.g. Azure workload identity's `azure.workload.identity/use`). */
  readonly podLabels?: Readonly<Record<string, string>>;
  readonly env?: Readonly<Record<string, string>>;
  readonly replicas: { readonly min: number; readonly max: number };
  /** CPU and memory requests; limits are set equal for memory and to twice the request for CPU. */
  readonly resources: { readonly cpu: string; readonly memory: string };
  /** GPUs per replica and the pool they come from. */
  readonly gpu?: { readonly count: number; readonly pool: NodePoolSpec };
  /** How replicas follow load. */
  readonly autoscaling: ServingAutoscaling;
  /** Namespaces whose pods may call the service. The service's own namespace always may. */
  readonly clientNamespaces: readonly string[];
  /** Namespace of the Prometheus that scrapes the metrics port. */
  readonly monitoringNamespace: string;
  /**
   * Where the cloud's managed Prometheus collectors scrape from, also admitted to the metrics port.
   * @default - none
   */
  readonly metricsCollectors?: {
    readonly namespaces?: readonly string[];
    readonly cidrs?: readonly string[];
  };
  /**
   * Whether to write a prometheus-operator ServiceMonitor (needs its CRDs on the cluster).
   * @default true
   */
  readonly serviceMonitor?: boolean;
  /** How long the runtime may take to load models before it counts as failed, in seconds. */
  readonly startupSeconds: number;
  /**
   * The cloud's credential endpoints the pods call (IDENTITY_ENDPOINTS), which the namespace's egress policy admits.
   * @default [] — none (Azure)
   */
  readonly identityEndpoints?: readonly EgressEndpoint[];
  /**
   * A second model version taking `weightPercent` of the replicas (and so of the traffic) behind the same Service;
   * with a gateway, an HTTPRoute also splits the gateway's traffic by exactly that weight.
   */
  readonly canary?: {
    readonly modelRepository: ModelRepositorySource;
    readonly weightPercent: number;
    readonly gateway?: GatewayRef;
  };
  /**
   * Request capture (the mlstack server only): the server samples requests into an emptyDir and a sidecar ships the
   * finished files to the model store every interval, with the pod's workload identity.
   * @default - no capture
   */
  readonly capture?: {
    readonly sampleRate: number;
    readonly intervalSeconds: number;
    /** Uploads {@link CAPTURE_SHIP_DIR} (files keep their `<model>/<date>/` paths) to the store. */
    readonly ship: {
      readonly image: string;
      readonly env: Readonly<Record<string, string>>;
      readonly script: readonly string[];
    };
  };
}

/** A Gateway API Gateway that routes to the service. */
export interface GatewayRef {
  readonly name: string;
  readonly namespace: string;
  /**
   * The listener of the Gateway to attach to.
   * @default - every listener that allows the route
   */
  readonly sectionName?: string;
  /**
   * Host names the route answers.
   * @default - every host name of the listener
   */
  readonly hostnames?: readonly string[];
}

/**
 * The metrics both runtimes export on their metrics port, with Triton's names (Triton with summaries on, and the
 * mlstack server, which adds a histogram).
 */
export const SERVING_METRICS: readonly (string | RegExp)[] = [
  'nv_inference_request_success',
  'nv_inference_request_failure',
  'nv_inference_count',
  'nv_inference_exec_count',
  'nv_inference_request_duration_us',
  'nv_inference_queue_duration_us',
  'nv_inference_compute_infer_duration_us',
  'nv_inference_compute_input_duration_us',
  'nv_inference_compute_output_duration_us',
  'nv_inference_pending_request_count',
  'nv_inference_request_summary_us',
  /^nv_inference_request_summary_us_(sum|count)$/,
  /^mlstack_inference_request_duration_seconds_(bucket|sum|count)$/,
];

/**
 * CPU utilisation through a HorizontalPodAutoscaler, or Prometheus queries (and CPU when set) through a KEDA
 * ScaledObject, which makes the HPA itself.
 */
export type ServingAutoscaling =
  | { readonly cpuUtilizationPercent: number }
  | {
      readonly keda: Pick<ScaledObjectSpec, 'connection' | 'queries' | 'cpuUtilizationPercent'>;
    };

/** Replica counts of the stable and canary Deployments for a total and a canary weight. */
export function canarySplit(total: number, weightPercent: number): { stable: number; canary: number } {
  const canary = Math.min(total - 1, Math.max(1, Math.round((total * weightPercent) / 100)));
  return { stable: total - canary, canary };
}

/** Where the server writes captured requests in the pod. */
const CAPTURE_DIR = '/capture';
/** Where the shipper gathers finished capture files to upload them: what the `ship` step uploads. */
export const CAPTURE_SHIP_DIR = `${CAPTURE_DIR}/.ship`;

/**
 * The capture shipper: every interval it moves the server's finished files (never its hidden temporary ones) to
 * `/capture/.ship`, uploads that folder, and empties it once the upload succeeded; on SIGTERM it waits for the server
 * to drain and write its last file (the server's drain is at most 30 s), then ships once more.
 */
function shipScript(intervalSeconds: number, upload: readonly string[]): string {
  return [
    'ship() {',
    `  cd ${CAPTURE_DIR} || return 0`,
    `  find . -path ./.ship -prune -o -type f -name '*.jsonl' ! -name '.*' -print | while read -r f; do`,
    `    mkdir -p "${CAPTURE_SHIP_DIR}/$(dirname "$f")" && mv "$f" "${CAPTURE_SHIP_DIR}/$f"`,
    '  done',
    `  if [ -n "$(find ${CAPTURE_SHIP_DIR} -type f -name '*.jsonl' 2>/dev/null | head -n 1)" ]; then`,
    `    if ( set -e; ${upload.join('; ')} ); then rm -rf ${CAPTURE_SHIP_DIR}; else echo "capture upload failed; retrying next interval" >&2; fi`,
    '  fi',
    '}',
    "trap 'sleep 35; ship; exit 0' TERM",
    `while true; do sleep ${intervalSeconds} & wait $!; ship; done`,
  ].join('\n');
}

function runtimeArgs(spec: ServingWorkloadSpec, repository: string): { command?: string[]; args: string[] } {
  if (spec.runtime === 'triton') {
    return {
      command: ['tritonserver'],
      args: [
        `--model-repository=${repository}`,
        '--strict-model-config=true',
        '--exit-on-error=true',
        `--http-port=${SERVING_PORTS.http}`,
        `--grpc-port=${SERVING_PORTS.grpc}`,
        `--metrics-port=${SERVING_PORTS.metrics}`,
        // Latency summaries (nv_inference_request_summary_us with quantiles) for p99 alerts and dashboards.
        '--metrics-config=summary_latencies=true',
      ],
    };
  }
  const capture = spec.capture;
  return {
    args: [
      'serve',
      repository,
      '--host',
      '0.0.0.0',
      '--port',
      String(SERVING_PORTS.http),
      '--grpc-port',
      String(SERVING_PORTS.grpc),
      ...(capture
        ? [
            '--capture-dir',
            CAPTURE_DIR,
            '--capture-sample-rate',
            String(capture.sampleRate),
            '--capture-interval',
            `${capture.intervalSeconds}s`,
          ]
        : []),
    ],
  };
}

/**
 * The Kubernetes objects of a model-serving workload: Namespace, ServiceAccount, Deployment (and a canary
 * Deployment), Service, HorizontalPodAutoscaler (autoscaling/v2), PodDisruptionBudget, ServiceMonitor and
 * NetworkPolicy — non-root, read-only root filesystem, no privilege escalation, all capabilities dropped,
 * requests and limits set, spread across zones.
 */
export function servingManifests(spec: ServingWorkloadSpec): ValidatableObject[] {
  const app = { 'app.kubernetes.io/name': spec.name, 'app.kubernetes.io/managed-by': 'mlstack' };
  const metadata = (name: string, extra: Record<string, string> = {}) => ({
    name,
    namespace: spec.namespace,
    labels: { ...app, ...extra },
  });
  const metricsPort = spec.runtime === 'triton' ? SERVING_PORTS.metrics : SERVING_PORTS.http;
  const ports = [
    { name: 'http', containerPort: SERVING_PORTS.http, protocol: 'TCP' as const },
    { name: 'grpc', containerPort: SERVING_PORTS.grpc, protocol: 'TCP' as const },
    ...(spec.runtime === 'triton'
      ? [{ name: 'metrics', containerPort: SERVING_PORTS.metrics, protocol: 'TCP' as const }]
      : []),
  ];

  const deployment = (name: string, track: string, replicas: number, repo: ModelRepositorySource) => {
    const labels = { ...app, 'mlstack.io/track': track };
    const local = repo.initContainer !== undefined;
    const { command, args } = runtimeArgs(spec, local ? (repo.localPath ?? '/models') : repo.uri);
    const capture = spec.capture;
    const probe = (path: string) => ({ httpGet: { path, port: 'http' } });
    const server = container({
      name: spec.runtime === 'triton' ? 'triton' : 'mlstack-server',
      image: spec.image,
      ...(command ? { command } : {}),
      args,
      ports,
      env: envFrom(spec.env ?? {}),
      resources: {
        requests: { cpu: spec.resources.cpu, memory: spec.resources.memory },
        limits: {
          memory: spec.resources.memory,
          ...(spec.gpu ? { 'nvidia.com/gpu': String(spec.gpu.count) } : {}),
        },
      },
      readinessProbe: { ...probe('/v2/health/ready'), periodSeconds: 5, failureThreshold: 3 },
      livenessProbe: { ...probe('/v2/health/live'), periodSeconds: 10, failureThreshold: 3 },
      startupProbe: {
        ...probe('/v2/health/ready'),
        periodSeconds: 10,
        failureThreshold: Math.ceil(spec.startupSeconds / 10),
      },
      volumeMounts: [
        { name: 'tmp', mountPath: '/tmp' },
        ...(local ? [{ name: 'models', mountPath: '/models', readOnly: true }] : []),
        ...(capture ? [{ name: 'capture', mountPath: CAPTURE_DIR }] : []),
      ],
    });
    const shipper = capture
      ? [
          container({
            name: 'capture-shipper',
            image: capture.ship.image,
            command: ['sh', '-c', shipScript(capture.intervalSeconds, capture.ship.script)],
            env: envFrom({ HOME: '/tmp', ...capture.ship.env }),
            resources: { requests: { cpu: '50m', memory: '128Mi' }, limits: { memory: '256Mi' } },
            volumeMounts: [
              { name: 'capture', mountPath: CAPTURE_DIR },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          }),
        ]
      : [];
    const init = repo.initContainer
      ? [
          restricted(repo.initContainer, [
            { name: 'models', mountPath: '/models' },
            { name: 'tmp', mountPath: '/tmp' },
          ]),
        ]
      : [];
    return new Deployment({
      metadata: metadata(name, { 'mlstack.io/track': track }),
      spec: {
        replicas,
        selector: { matchLabels: labels },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: {
          metadata: { labels: { ...labels, ...(spec.podLabels ?? {}) } },
          spec: {
            serviceAccountName: spec.serviceAccount.name,
            automountServiceAccountToken: true,
            securityContext: { ...RESTRICTED_POD_SECURITY },
            ...(spec.gpu
              ? {
                  nodeSelector: {
                    [NODE_LABELS.gpuType]: spec.gpu.pool.gpu!.type.id,
                    [NODE_LABELS.pool]: spec.gpu.pool.name,
                    ...(spec.gpu.pool.spotSelector ?? {}),
                  },
                  tolerations: tolerationsFor(spec.gpu.pool.taints),
                }
              : {}),
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'topology.kubernetes.io/zone',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: labels },
              },
              {
                maxSkew: 1,
                topologyKey: 'kubernetes.io/hostname',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: labels },
              },
            ],
            terminationGracePeriodSeconds: 60,
            initContainers: init,
            containers: [server, ...shipper],
            volumes: [
              { name: 'tmp', emptyDir: {} },
              ...(local ? [{ name: 'models', emptyDir: {} }] : []),
              ...(capture ? [{ name: 'capture', emptyDir: { sizeLimit: '2Gi' } }] : []),
            ],
          },
        },
      },
    });
  };

  const split = spec.canary
    ? canarySplit(spec.replicas.min, spec.canary.weightPercent)
    : { stable: spec.replicas.min, canary: 0 };
  const objects: ValidatableObject[] = [
    namespaceWithPodSecurity({ name: spec.namespace, labels: app, podSecurity: 'restricted' }),
    new ServiceAccount({
      metadata: {
        ...metadata(spec.serviceAccount.name),
        ...(Object.keys(spec.serviceAccount.annotations ?? {}).length
          ? { annotations: { ...spec.serviceAccount.annotations } }
          : {}),
      },
    }),
    deployment(spec.name, 'stable', split.stable, spec.modelRepository),
  ];
  if (spec.canary)
    objects.push(deployment(`${spec.name}-canary`, 'canary', split.canary, spec.canary.modelRepository));
  objects.push(
    new Service({
      metadata: metadata(spec.name),
      spec: {
        type: 'ClusterIP',
        selector: { ...app },
        ports: [
          { name: 'http', port: SERVING_PORTS.http, targetPort: 'http', protocol: 'TCP' },
          { name: 'grpc', port: SERVING_PORTS.grpc, targetPort: 'grpc', protocol: 'TCP' },
          ...(spec.runtime === 'triton'
            ? [
                {
                  name: 'metrics',
                  port: SERVING_PORTS.metrics,
                  targetPort: 'metrics',
                  protocol: 'TCP' as const,
                },
              ]
            : [
                {
                  name: 'metrics',
                  port: SERVING_PORTS.metrics,
                  targetPort: 'http',
                  protocol: 'TCP' as const,
                },
              ]),
        ],
      },
    }),
    'keda' in spec.autoscaling
      ? scaledObject({
          ...spec.autoscaling.keda,
          name: spec.name,
          namespace: spec.namespace,
          labels: metadata(spec.name).labels,
          target: spec.name,
          minReplicas: split.stable,
          maxReplicas: Math.max(split.stable, spec.replicas.max - split.canary),
        })
      : new HorizontalPodAutoscaler({
          metadata: metadata(spec.name),
          spec: {
            scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: spec.name },
            minReplicas: split.stable,
            maxReplicas: Math.max(split.stable, spec.replicas.max - split.canary),
            metrics: [
              {
                type: 'Resource',
                resource: {
                  name: 'cpu',
                  target: { type: 'Utilization', averageUtilization: spec.autoscaling.cpuUtilizationPercent },
                },
              },
            ],
          },
        }),
    new PodDisruptionBudget({
      metadata: metadata(spec.name),
      spec: { maxUnavailable: 1, selector: { matchLabels: { ...app, 'mlstack.io/track': 'stable' } } },
    }),
    // The canary serves its share of the traffic too: a drain takes at most one of its replicas at a time.
    ...(spec.canary
      ? [
          new PodDisruptionBudget({
            metadata: metadata(`${spec.name}-canary`),
            spec: { maxUnavailable: 1, selector: { matchLabels: { ...app, 'mlstack.io/track': 'canary' } } },
          }),
        ]
      : []),
    ...(spec.serviceMonitor === false
      ? []
      : [
          new ServiceMonitor({
            metadata: metadata(spec.name),
            spec: {
              selector: { matchLabels: { ...app } },
              namespaceSelector: { matchNames: [spec.namespace] },
              endpoints: [{ port: 'metrics', path: '/metrics', interval: '30s' }],
            },
          }),
        ]),
    defaultDenyIngress(spec.namespace),
    // Egress: DNS, HTTPS (the model store, the capture shipper's uploads) and the cloud's credentials only.
    defaultEgress({ namespace: spec.namespace, identity: spec.identityEndpoints ?? [] }),
    new NetworkPolicy({
      metadata: metadata(spec.name),
      spec: {
        podSelector: { matchLabels: { ...app } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              ...new Set([
                spec.namespace,
                ...spec.clientNamespaces,
                ...(spec.canary?.gateway ? [spec.canary.gateway.namespace] : []),
              ]),
            ].map((ns) => ({
              namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
            })),
            ports: ports
              .filter((p) => p.name !== 'metrics')
              .map((p) => ({ port: p.containerPort, protocol: 'TCP' as const })),
          },
          {
            from: peersOf({
              namespaces: [spec.monitoringNamespace, ...(spec.metricsCollectors?.namespaces ?? [])],
              cidrs: spec.metricsCollectors?.cidrs ?? [],
            }),
            ports: [{ port: metricsPort, protocol: 'TCP' as const }],
          },
        ],
      },
    }),
  );
  const gateway = spec.canary?.gateway;
  if (gateway && spec.canary) {
    // One Service per track, so that the route can weigh them; the main Service keeps serving both tracks to
    // in-cluster callers in the replicas' ratio.
    for (const track of ['stable', 'canary']) {
      objects.push(
        new Service({
          metadata: metadata(`${spec.name}-${track}`, { 'mlstack.io/track': track }),
          spec: {
            type: 'ClusterIP',
            selector: { ...app, 'mlstack.io/track': track },
            ports: [{ name: 'http', port: SERVING_PORTS.http, targetPort: 'http', protocol: 'TCP' }],
          },
        }),
      );
    }
    objects.push(
      new HTTPRoute({
        metadata: metadata(spec.name),
        spec: {
          parentRefs: [
            {
              group: 'gateway.networking.k8s.io',
              kind: 'Gateway',
              name: gateway.name,
              namespace: gateway.namespace,
              ...(gateway.sectionName ? { sectionName: gateway.sectionName } : {}),
            },
          ],
          ...(gateway.hostnames?.length ? { hostnames: [...gateway.hostnames] } : {}),
          rules: [
            {
              matches: [{ path: { type: 'PathPrefix', value: '/v2' } }],
              backendRefs: [
                {
                  kind: 'Service',
                  name: `${spec.name}-stable`,
                  port: SERVING_PORTS.http,
                  weight: 100 - spec.canary.weightPercent,
                },
                {
                  kind: 'Service',
                  name: `${spec.name}-canary`,
                  port: SERVING_PORTS.http,
                  weight: spec.canary.weightPercent,
                },
              ],
            },
          ],
        },
      }),
    );
  }
  return objects;
}
