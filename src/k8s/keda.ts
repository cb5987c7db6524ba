import { ClusterTriggerAuthentication } from '@kubernetes-models/keda/keda.sh/v1alpha1/ClusterTriggerAuthentication';
import { ScaledObject } from '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject';
import { NODE_LABELS } from '../spec/cluster';
import type { HelmChartSpec } from './helm';

/**
 * KEDA: event-driven autoscaling, here on Prometheus queries against the cloud's managed Prometheus. One install a
 * cluster (the chart, its operator's cloud identity, a ClusterTriggerAuthentication) and a ScaledObject a workload.
 * @see https://keda.sh/docs/2.18/scalers/prometheus/
 */
export const KEDA = {
  repository: 'https://kedacore.github.io/charts',
  chart: 'keda',
  version: '2.18.0',
  namespace: 'keda',
  /** The operator's ServiceAccount (the chart's default): the identity that queries Prometheus. */
  operatorServiceAccount: 'keda-operator',
  /** The ClusterTriggerAuthentication every mlstack ScaledObject of a cluster uses. */
  authentication: 'mlstack-managed-prometheus',
} as const;

/** How KEDA's operator reaches the managed Prometheus: the query URL, its auth and extra trigger metadata. */
export interface PrometheusConnection {
  /** The Prometheus HTTP API base the scaler appends `/api/v1/query` to (may hold a deploy-time placeholder). */
  readonly serverAddress: string;
  /** The TriggerAuthentication's pod identity (`aws`, `gcp`, `azure-workload` with the identity's client id). */
  readonly podIdentity: { readonly provider: 'aws' | 'gcp' | 'azure-workload'; readonly identityId?: string };
  /** Trigger metadata the cloud needs (`awsRegion`). */
  readonly metadata: Readonly<Record<string, string>>;
  /** A PromQL expression scoped to this cluster where the backend holds several (GMP: `cluster="<name>"`). */
  scope(expr: string): string;
}

/** The KEDA chart with mlstack's defaults: on the system pool, the operator's identity in `values`. */
export function kedaChart(values: Readonly<Record<string, unknown>>): HelmChartSpec {
  return {
    release: 'keda',
    chart: KEDA.chart,
    repository: KEDA.repository,
    version: KEDA.version,
    namespace: KEDA.namespace,
    purpose: 'autoscaling of TritonServices on Prometheus queries (their ScaledObjects are in the manifests)',
    values: {
      nodeSelector: { [NODE_LABELS.pool]: 'system' },
      ...values,
    },
  };
}

/** The cluster-wide authentication of mlstack's Prometheus triggers. */
export function prometheusAuthentication(connection: PrometheusConnection): ClusterTriggerAuthentication {
  return new ClusterTriggerAuthentication({
    metadata: { name: KEDA.authentication, labels: { 'app.kubernetes.io/managed-by': 'mlstack' } },
    spec: {
      podIdentity: {
        provider: connection.podIdentity.provider,
        ...(connection.podIdentity.identityId ? { identityId: connection.podIdentity.identityId } : {}),
      },
    },
  });
}

/**
 * Mean time a request waited in the server's queue over `window`, in microseconds, across every replica of the
 * scrape job (Triton and the mlstack server export the same counters); 0 when no request came.
 */
export function queueTimeQuery(
  job: { readonly name: string; readonly namespace: string },
  window: string,
): string {
  const sel = `{job="${job.name}", namespace="${job.namespace}"}`;
  return `sum(rate(nv_inference_queue_duration_us${sel}[${window}])) / (sum(rate(nv_inference_request_success${sel}[${window}])) > 0) or vector(0)`;
}

/** What a ScaledObject scales on. */
export interface ScaledObjectSpec {
  readonly name: string;
  readonly namespace: string;
  readonly labels: Readonly<Record<string, string>>;
  /** The Deployment. */
  readonly target: string;
  readonly minReplicas: number;
  readonly maxReplicas: number;
  /** Prometheus queries, each with the value (per the whole workload, not per replica) to hold it at. */
  readonly queries: readonly { readonly name: string; readonly query: string; readonly threshold: number }[];
  /** A CPU utilisation target too, when set. */
  readonly cpuUtilizationPercent?: number;
  readonly connection: PrometheusConnection;
}

/**
 * A ScaledObject: KEDA makes the HorizontalPodAutoscaler (named like the workload) and serves it the queries'
 * values as external metrics. `Value` targets: the HPA scales replicas by value ÷ threshold, as fits an average such
 * as queue time. Never to zero: `minReplicaCount` is the workload's minimum. Scale-down waits 5 minutes.
 */
export function scaledObject(spec: ScaledObjectSpec): ScaledObject {
  return new ScaledObject({
    metadata: { name: spec.name, namespace: spec.namespace, labels: { ...spec.labels } },
    spec: {
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: spec.target },
      minReplicaCount: spec.minReplicas,
      maxReplicaCount: spec.maxReplicas,
      pollingInterval: 15,
      advanced: {
        horizontalPodAutoscalerConfig: {
          name: spec.name,
          behavior: { scaleDown: { stabilizationWindowSeconds: 300 } },
        },
      },
      triggers: [
        ...spec.queries.map((q) => ({
          type: 'prometheus',
          name: q.name,
          metricType: 'Value',
          metadata: {
            serverAddress: spec.connection.serverAddress,
            query: spec.connection.scope(q.query),
            threshold: String(q.threshold),
            ...spec.connection.metadata,
          },
          authenticationRef: { kind: 'ClusterTriggerAuthentication', name: KEDA.authentication },
        })),
        ...(spec.cpuUtilizationPercent !== undefined
          ? [
              {
                type: 'cpu',
                metricType: 'Utilization',
                metadata: { value: String(spec.cpuUtilizationPercent) },
              },
            ]
          : []),
      ],
    },
  });
}
