import type { ContainerCluster } from '@cdktf/provider-google/lib/container-cluster';
import { DataGoogleContainerCluster } from '@cdktf/provider-google/lib/data-google-container-cluster';
import { DataGoogleSecretManagerSecretVersion } from '@cdktf/provider-google/lib/data-google-secret-manager-secret-version';
import { MonitoringAlertPolicy } from '@cdktf/provider-google/lib/monitoring-alert-policy';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { MonitoringNotificationChannel } from '@cdktf/provider-google/lib/monitoring-notification-channel';
import { Construct } from 'constructs';
import { PodMonitoring } from '../../src/k8s/gmp';
import type { ValidatableObject } from '../../src/k8s/manifest';
import type { AlertRuleGroup } from '../../src/monitoring/alerts';
import type { AlertRoute } from '../../src/monitoring/destinations';
import { withMatcher } from '../../src/monitoring/promql';
import type { PrometheusConnection } from '../../src/k8s/keda';
import type { ManagedPrometheusCapability, ScrapeTarget, WorkloadIdentityCapability } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { GkeWorkloadIdentity } from './gke-workload-identity';
import { shortHash } from '../private/naming';

/** Props of {@link GmpPrometheus}. */
export interface GmpPrometheusProps {
  /**
   * The cluster: one mlstack made gets managed collection turned on; an imported one (a data source) gets a
   * postcondition that it is on.
   */
  readonly cluster: ContainerCluster | DataGoogleContainerCluster;
  /** The cluster's name: every alert query reads this cluster's series only. */
  readonly clusterName: string;
  readonly project: string;
}

const SEVERITY: Record<string, string> = { critical: 'CRITICAL', warning: 'WARNING', info: 'WARNING' };

/** `10m`, `0m`, `60s` as seconds with Cloud Monitoring's `s` suffix. */
function seconds(d: string): string {
  const m = /^(\d+)([sm])$/.exec(d);
  if (!m) throw new Error(`duration '${d}' is not seconds or minutes`);
  return `${Number(m[1]) * (m[2] === 'm' ? 60 : 1)}s`;
}

/**
 * Google Cloud Managed Service for Prometheus for one cluster: managed collection turned on in the cluster's
 * `monitoring_config`, a PodMonitoring per target (its name is the `job` label), and each alert rule as a Cloud
 * Monitoring alerting policy with a PromQL condition scoped to the cluster (`cluster="<name>"`), sent to the
 * route's notification channels. Cloud Monitoring, not GMP's managed Alertmanager, delivers the alerts: its channels
 * take secrets by reference (a PagerDuty key from Secret Manager), where an Alertmanager configuration would have
 * to hold them.
 * @see https://cloud.google.com/stackdriver/docs/managed-prometheus/setup-managed
 * @see https://cloud.google.com/monitoring/promql/create-promql-alerts-console
 *
 * @example
 * const policies = GmpPrometheus.of(monitoring.managed!).alertPolicies;
 */
export class GmpPrometheus extends Construct implements ManagedPrometheusCapability {
  /**
   * The GmpPrometheus behind a managed Prometheus capability (e.g. `DcgmMonitoring.managed`).
   * @throws when another cloud's stack made it
   */
  public static of(prometheus: ManagedPrometheusCapability): GmpPrometheus {
    return capabilityOf(
      prometheus,
      GmpPrometheus,
      'a GmpPrometheus (managed Prometheus made by a GcpMlStack)',
    );
  }

  /** @inheritdoc */
  public readonly description = 'Google Cloud Managed Service for Prometheus';
  /** One alerting policy per alert rule. */
  public readonly alertPolicies: MonitoringAlertPolicy[] = [];
  /** The notification channels of each route, by route name. */
  public readonly channels = new Map<string, MonitoringNotificationChannel[]>();
  private readonly props: GmpPrometheusProps;

  constructor(scope: Construct, id: string, props: GmpPrometheusProps) {
    super(scope, id);
    this.props = props;
    if (props.cluster instanceof DataGoogleContainerCluster) {
      const lifecycle = props.cluster.lifecycle ?? {};
      props.cluster.lifecycle = {
        ...lifecycle,
        postcondition: [
          ...(lifecycle.postcondition ?? []),
          {
            condition:
              '${length(self.monitoring_config) > 0 && length(self.monitoring_config[0].managed_prometheus) > 0 && self.monitoring_config[0].managed_prometheus[0].enabled}',
            errorMessage: `mlstack's metrics and alerts read Google Cloud Managed Service for Prometheus, whose managed collection is off on cluster ${props.clusterName}: gcloud container clusters update ${props.clusterName} --location ${props.cluster.locationInput ?? '<location>'} --enable-managed-prometheus`,
          },
        ],
      };
    } else {
      props.cluster.putMonitoringConfig({
        enableComponents: ['SYSTEM_COMPONENTS'],
        managedPrometheus: { enabled: true },
      });
    }
  }

  /** A PodMonitoring for `target`. */
  public addScrapeTarget(_scope: Construct, _id: string, t: ScrapeTarget): ValidatableObject[] {
    return [
      new PodMonitoring(
        { name: t.job, namespace: t.namespace, labels: { 'app.kubernetes.io/managed-by': 'mlstack' } },
        {
          selector: { matchLabels: { ...t.selector } },
          endpoints: [{ port: t.podPort, path: '/metrics', interval: t.interval }],
        },
      ),
    ];
  }

  /** An alerting policy per rule, in `scope`, notifying the route's channels. */
  public addRuleGroups(
    scope: Construct,
    id: string,
    groups: readonly AlertRuleGroup[],
    route: AlertRoute,
  ): ValidatableObject[] {
    const channels = this.channelsOf(route).map((c) => c.id);
    for (const g of groups) {
      for (const r of g.rules) {
        const annotations = r.annotations as Readonly<Record<string, string>>;
        this.alertPolicies.push(
          new MonitoringAlertPolicy(scope, `${id}-${r.alert}`, {
            displayName: `${this.props.clusterName}: ${r.alert}`,
            combiner: 'OR',
            severity: SEVERITY[r.labels.severity] ?? 'WARNING',
            conditions: [
              {
                displayName: r.alert,
                conditionPrometheusQueryLanguage: {
                  query: withMatcher(r.expr, 'cluster', this.props.clusterName),
                  duration: seconds(r.for),
                  evaluationInterval: seconds(g.interval ?? '60s'),
                  labels: { ...r.labels },
                  alertRule: r.alert,
                  ruleGroup: g.name,
                },
              },
            ],
            documentation: {
              content: [annotations.summary, annotations.description, annotations.runbook_url]
                .filter(Boolean)
                .join('\n\n'),
              mimeType: 'text/markdown',
            },
            notificationChannels: channels,
            userLabels: { 'mlstack-cluster': this.props.clusterName },
          }),
        );
      }
    }
    return [];
  }

  /** The notification channels of a route, made once. */
  /**
   * Lets KEDA's operator query GMP through Workload Identity: `roles/monitoring.viewer` on the project for its
   * Google service account. GMP serves the Prometheus API for the whole project, so queries are scoped to this
   * cluster (`cluster="<name>"`).
   * @see https://cloud.google.com/stackdriver/docs/managed-prometheus/query-api-ui
   */
  public autoscalerConnection(scope: Construct, identity: WorkloadIdentityCapability): PrometheusConnection {
    new ProjectIamMember(scope, 'KedaMonitoringViewer', {
      project: this.props.project,
      role: 'roles/monitoring.viewer',
      member: GkeWorkloadIdentity.of(identity).serviceAccount.member,
    });
    return {
      serverAddress: `https://monitoring.googleapis.com/v1/projects/${this.props.project}/location/global/prometheus`,
      podIdentity: { provider: 'gcp' },
      metadata: {},
      scope: (expr) => withMatcher(expr, 'cluster', this.props.clusterName),
    };
  }

  private channelsOf(route: AlertRoute): MonitoringNotificationChannel[] {
    const existing = this.channels.get(route.name);
    if (existing) return existing;
    const prefix = route.name === 'default' ? 'Alerts' : `Alerts-${shortHash([route.name], 8)}`;
    const made: MonitoringNotificationChannel[] = [];
    route.destinations.forEach((d, i) => {
      const spec = d.spec;
      const name = `mlstack ${this.props.clusterName} ${route.name}`;
      switch (spec.kind) {
        case 'email':
          spec.addresses.forEach((address, j) =>
            made.push(
              new MonitoringNotificationChannel(this, `${prefix}-${i}-${j}`, {
                displayName: `${name}: ${address}`,
                type: 'email',
                labels: { email_address: address },
              }),
            ),
          );
          break;
        case 'webhook':
          made.push(
            new MonitoringNotificationChannel(this, `${prefix}-${i}`, {
              displayName: `${name}: webhook`,
              type: 'webhook_tokenauth',
              labels: { url: spec.url },
            }),
          );
          break;
        case 'pagerduty': {
          // The key is read by Terraform at apply from Secret Manager: in the state, never in cdk.tf.json.
          const key = new DataGoogleSecretManagerSecretVersion(this, `${prefix}-${i}-Key`, {
            secret: spec.routingKey.name,
            project: this.props.project,
          });
          made.push(
            new MonitoringNotificationChannel(this, `${prefix}-${i}`, {
              displayName: `${name}: PagerDuty`,
              type: 'pagerduty',
              sensitiveLabels: { serviceKey: key.secretData },
            }),
          );
          break;
        }
        case 'slack':
          throw new Error(
            `${this.node.path}: Cloud Monitoring cannot post to a Slack incoming webhook (its Slack channels need the Slack app's OAuth grant, made in the console). Use AlertDestination.email(...), .pagerDuty(...) or .webhook(...) on Google Cloud, or connect Slack to a notification channel in the console and pass AlertDestination.none('Slack channel set up in the console').`,
          );
        case 'none':
          break;
      }
    });
    this.channels.set(route.name, made);
    return made;
  }
}
