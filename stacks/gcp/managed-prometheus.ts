import type { ContainerCluster } from '@cdktf/provider-google/lib/container-cluster';
import { Construct } from 'constructs';
import { ClusterRules, PodMonitoring } from '../../src/k8s/gmp';
import type { ValidatableObject } from '../../src/k8s/manifest';
import type { AlertRuleGroup } from '../../src/monitoring/alerts';
import type { ManagedPrometheusCapability, ScrapeTarget } from '../capabilities';
import { capabilityOf } from '../private/capability-of';

/**
 * Google Cloud Managed Service for Prometheus for one cluster: managed collection turned on in the cluster's
 * `monitoring_config`, a PodMonitoring per target (its name is the `job` label) and ClusterRules objects for
 * managed rule evaluation. It makes no Terraform resource of its own.
 * @see https://cloud.google.com/stackdriver/docs/managed-prometheus/setup-managed
 *
 * @example
 * const gmp = GmpPrometheus.of(monitoring.managed!);
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

  constructor(scope: Construct, id: string, cluster: ContainerCluster) {
    super(scope, id);
    cluster.putMonitoringConfig({
      enableComponents: ['SYSTEM_COMPONENTS'],
      managedPrometheus: { enabled: true },
    });
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

  /** A ClusterRules object for `groups`. */
  public addRuleGroups(
    _scope: Construct,
    _id: string,
    groups: readonly AlertRuleGroup[],
  ): ValidatableObject[] {
    return [
      new ClusterRules(
        { name: groups[0]?.name ?? 'mlstack-rules', labels: { 'app.kubernetes.io/managed-by': 'mlstack' } },
        {
          groups: groups.map((g) => ({
            name: g.name,
            interval: g.interval ?? '30s',
            rules: g.rules.map((r) => ({
              ...r,
              labels: { ...r.labels },
              annotations: { ...r.annotations },
            })),
          })),
        },
      ),
    ];
  }
}
