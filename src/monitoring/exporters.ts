import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { ValidatableObject } from '../k8s/manifest';
import { container, RESTRICTED_POD_SECURITY } from '../k8s/pod';

/**
 * Prometheus Pushgateway, pinned: short-lived jobs push their metrics here and the cluster's Prometheus scrapes them
 * (with the pushed labels kept).
 * @see https://github.com/prometheus/pushgateway
 */
export const PUSHGATEWAY_IMAGE = 'quay.io/prometheus/pushgateway:v1.11.0';
/** kube-state-metrics, pinned: object state (Jobs, CronJobs) as metrics. */
export const KUBE_STATE_METRICS_IMAGE = 'registry.k8s.io/kube-state-metrics/kube-state-metrics:v2.15.0';

/** A small in-cluster exporter and how to reach its metrics. */
export interface Exporter {
  readonly objects: ValidatableObject[];
  /** Labels of its Service and pods. */
  readonly selector: Readonly<Record<string, string>>;
  /** The port name on the Service and the port number on the pods. */
  readonly port: string;
  readonly podPort: number;
  /** The in-cluster URL. */
  readonly url: string;
}

function labelsOf(name: string): Record<string, string> {
  return { 'app.kubernetes.io/name': name, 'app.kubernetes.io/managed-by': 'mlstack' };
}

function deployment(
  name: string,
  namespace: string,
  serviceAccountName: string,
  spec: Parameters<typeof container>[0],
): Deployment {
  const labels = labelsOf(name);
  return new Deployment({
    metadata: { name, namespace, labels },
    spec: {
      replicas: 1,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: {
          serviceAccountName,
          automountServiceAccountToken: serviceAccountName !== 'default',
          securityContext: {
            ...RESTRICTED_POD_SECURITY,
            runAsUser: 65534,
            runAsGroup: 65534,
            fsGroup: 65534,
          },
          containers: [container(spec)],
        },
      },
    },
  });
}

function service(name: string, namespace: string, port: number): Service {
  return new Service({
    metadata: { name, namespace, labels: labelsOf(name) },
    spec: {
      type: 'ClusterIP',
      selector: labelsOf(name),
      ports: [{ name: 'metrics', port, targetPort: 'metrics', protocol: 'TCP' }],
    },
  });
}

/**
 * A Pushgateway for one namespace's jobs: Deployment (no API access, nothing persisted: the next run pushes again)
 * and Service.
 */
export function pushgateway(name: string, namespace: string): Exporter {
  const port = 9091;
  const probe = { httpGet: { path: '/-/ready', port: 'metrics' }, periodSeconds: 10 };
  return {
    objects: [
      deployment(name, namespace, 'default', {
        name: 'pushgateway',
        image: PUSHGATEWAY_IMAGE,
        args: [`--web.listen-address=:${port}`],
        ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }],
        resources: { requests: { cpu: '50m', memory: '64Mi' }, limits: { memory: '256Mi' } },
        readinessProbe: probe,
        livenessProbe: { ...probe, httpGet: { path: '/-/healthy', port: 'metrics' } },
      }),
      service(name, namespace, port),
    ],
    selector: labelsOf(name),
    port: 'metrics',
    podPort: port,
    url: `http://${name}.${namespace}.svc:${port}`,
  };
}

/**
 * kube-state-metrics for the Jobs and CronJobs of one namespace only, with a Role that can list exactly those:
 * the metrics a job's alerts read (`kube_job_status_failed`, `kube_cronjob_status_last_successful_time`), without
 * the cluster-wide cardinality and rights of a full install.
 */
export function jobStateMetrics(name: string, namespace: string): Exporter {
  const port = 8080;
  const labels = labelsOf(name);
  const probe = { httpGet: { path: '/healthz', port: 'metrics' }, periodSeconds: 10 };
  return {
    objects: [
      new ServiceAccount({ metadata: { name, namespace, labels } }),
      new Role({
        metadata: { name, namespace, labels },
        rules: [{ apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['list', 'watch'] }],
      }),
      new RoleBinding({
        metadata: { name, namespace, labels },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
        subjects: [{ kind: 'ServiceAccount', name, namespace }],
      }),
      deployment(name, namespace, name, {
        name: 'kube-state-metrics',
        image: KUBE_STATE_METRICS_IMAGE,
        args: [`--port=${port}`, '--resources=cronjobs,jobs', `--namespaces=${namespace}`],
        ports: [{ name: 'metrics', containerPort: port, protocol: 'TCP' }],
        resources: { requests: { cpu: '20m', memory: '64Mi' }, limits: { memory: '256Mi' } },
        readinessProbe: probe,
        livenessProbe: probe,
      }),
      service(name, namespace, port),
    ],
    selector: labels,
    port: 'metrics',
    podPort: port,
    url: `http://${name}.${namespace}.svc:${port}`,
  };
}
