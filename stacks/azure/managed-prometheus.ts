import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { KubernetesCluster } from '@cdktf/provider-azurerm/lib/kubernetes-cluster';
import { DataAzurermKeyVaultSecret } from '@cdktf/provider-azurerm/lib/data-azurerm-key-vault-secret';
import { MonitorActionGroup } from '@cdktf/provider-azurerm/lib/monitor-action-group';
import { MonitorAlertPrometheusRuleGroup } from '@cdktf/provider-azurerm/lib/monitor-alert-prometheus-rule-group';
import { MonitorDataCollectionEndpoint } from '@cdktf/provider-azurerm/lib/monitor-data-collection-endpoint';
import { MonitorDataCollectionRule } from '@cdktf/provider-azurerm/lib/monitor-data-collection-rule';
import { MonitorDataCollectionRuleAssociation } from '@cdktf/provider-azurerm/lib/monitor-data-collection-rule-association';
import { MonitorWorkspace } from '@cdktf/provider-azurerm/lib/monitor-workspace';
import type { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { TerraformOutput, TerraformStack } from 'cdktf';
import { addTerraformWarning } from '../private/terraform';
import { Construct } from 'constructs';
import type { KubernetesManifest, ValidatableObject } from '../../src/k8s/manifest';
import type { AlertRuleGroup } from '../../src/monitoring/alerts';
import type { AlertRoute } from '../../src/monitoring/destinations';
import type { ManagedPrometheusCapability, ScrapeTarget, WorkloadIdentityCapability } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { exportTerraformDeployTimeValue } from '../private/terraform';
import { AzureWorkloadIdentity } from './azure-workload-identity';
import type { PrometheusConnection } from '../../src/k8s/keda';
import { shortHash } from '../private/naming';

/** Props of {@link AzureMonitorPrometheus}. */
export interface AzureMonitorPrometheusProps {
  /** The cluster name (resource names derive from it). */
  readonly name: string;
  readonly location: string;
  readonly resourceGroup: ResourceGroup;
  /**
   * The cluster: one mlstack made gets the metrics add-on (`monitor_metrics`); for an imported one (its id and name)
   * synth warns that the add-on must be on.
   */
  readonly cluster:
    KubernetesCluster | { readonly id: string; readonly name: string; readonly description: string };
  readonly tags: Readonly<Record<string, string>>;
}

/** Azure Monitor alert severities: 0 critical … 4 verbose. */
const AZURE_SEVERITY = { critical: 0, warning: 2, info: 3 } as const;

/** A Prometheus `for` duration (`10m`, `0m`) as Azure's ISO 8601 duration (`PT10M`); Azure's minimum is PT1M. */
function isoMinutes(d: string): string {
  const m = /^(\d+)m$/.exec(d);
  if (!m) throw new Error(`alert duration '${d}' is not whole minutes`);
  return `PT${Math.max(1, Number(m[1]))}M`;
}

/** A prometheus-operator ServiceMonitor, moved to the Azure Monitor metrics add-on's API group. */
function azureMonitorServiceMonitor(monitor: ServiceMonitor): ValidatableObject {
  const json = monitor.toJSON() as KubernetesManifest;
  return {
    ...json,
    apiVersion: 'azmonitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    validate: () => monitor.validate(),
    toJSON: () => ({ ...json, apiVersion: 'azmonitoring.coreos.com/v1' }),
  };
}

/**
 * Azure Monitor managed Prometheus for one cluster: an Azure Monitor workspace, the data collection endpoint, rule
 * and association that send the cluster's metrics to it, the AKS metrics add-on (`monitor_metrics`), an
 * `azmonitoring.coreos.com/v1` ServiceMonitor per target (read by the add-on) and a Prometheus rule group per alert
 * group, evaluated by Azure.
 *
 * The workspace is this construct's default child; the collection endpoint, rule, association and output are
 * created next to it (`PrometheusEndpoint`, …: the construct ids of mlstack 0.1, kept so that Terraform addresses do
 * not change).
 * @see https://learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable
 *
 * @example
 * const workspaceId = AzureMonitorPrometheus.of(monitoring.managed!).workspace.id;
 */
export class AzureMonitorPrometheus extends Construct implements ManagedPrometheusCapability {
  /**
   * The AzureMonitorPrometheus behind a managed Prometheus capability (e.g. `DcgmMonitoring.managed`).
   * @throws when another cloud's stack made it
   */
  public static of(prometheus: ManagedPrometheusCapability): AzureMonitorPrometheus {
    return capabilityOf(
      prometheus,
      AzureMonitorPrometheus,
      'an AzureMonitorPrometheus (managed Prometheus made by an AzureMlStack)',
    );
  }

  /** @inheritdoc */
  public readonly description = 'Azure Monitor managed Prometheus';
  /** The Azure Monitor workspace. */
  public readonly workspace: MonitorWorkspace;
  /** The rule groups, one per alert group. */
  public readonly ruleGroups: MonitorAlertPrometheusRuleGroup[] = [];
  private readonly props: AzureMonitorPrometheusProps;
  private readonly actionGroups = new Map<string, MonitorActionGroup | undefined>();

  constructor(scope: Construct, id: string, props: AzureMonitorPrometheusProps) {
    super(scope, id);
    this.props = props;
    const { name, location, tags } = props;
    const rg = props.resourceGroup;
    this.workspace = new MonitorWorkspace(this, 'Default', {
      name: `${name}-prometheus`,
      resourceGroupName: rg.name,
      location,
      tags: { ...tags },
    });
    const endpoint = new MonitorDataCollectionEndpoint(scope, 'PrometheusEndpoint', {
      name: `MSProm-${location}-${name}`.slice(0, 44),
      resourceGroupName: rg.name,
      location,
      kind: 'Linux',
      tags: { ...tags },
    });
    const rule = new MonitorDataCollectionRule(scope, 'PrometheusCollection', {
      name: `MSProm-${location}-${name}`.slice(0, 64),
      resourceGroupName: rg.name,
      location,
      kind: 'Linux',
      dataCollectionEndpointId: endpoint.id,
      destinations: { monitorAccount: [{ monitorAccountId: this.workspace.id, name: 'MonitoringAccount1' }] },
      dataFlow: [{ streams: ['Microsoft-PrometheusMetrics'], destinations: ['MonitoringAccount1'] }],
      dataSources: {
        prometheusForwarder: [{ name: 'PrometheusDataSource', streams: ['Microsoft-PrometheusMetrics'] }],
      },
      tags: { ...tags },
    });
    new MonitorDataCollectionRuleAssociation(scope, 'PrometheusCollectionAssociation', {
      name: `MSProm-${name}`,
      targetResourceId: props.cluster.id,
      dataCollectionRuleId: rule.id,
    });
    if (props.cluster instanceof KubernetesCluster) props.cluster.putMonitorMetrics({});
    else {
      addTerraformWarning(
        this,
        `${props.cluster.description}: the managed Prometheus metrics add-on must run on it to collect mlstack's targets: az aks update --enable-azure-monitor-metrics --azure-monitor-workspace-resource-id <the workspace this stack makes> (mlstack adds the data collection rule and its association).`,
      );
    }
    new TerraformOutput(scope, 'PrometheusQueryEndpoint', { value: this.workspace.queryEndpoint });
  }

  /**
   * Lets KEDA's operator query the workspace: Monitoring Data Reader on it for the operator's managed identity, which
   * the trigger authentication names (its client id, known at apply). The query endpoint is named by Azure at apply:
   * a deploy-time value.
   */
  public autoscalerConnection(scope: Construct, identity: WorkloadIdentityCapability): PrometheusConnection {
    const azure = AzureWorkloadIdentity.of(identity);
    new RoleAssignment(scope, 'KedaMonitoringDataReader', {
      scope: this.workspace.id,
      roleDefinitionName: 'Monitoring Data Reader',
      principalId: azure.identity.principalId,
      principalType: 'ServicePrincipal',
    });
    const pascal = this.props.name
      .split(/[^A-Za-z0-9]+/)
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('');
    return {
      serverAddress: exportTerraformDeployTimeValue(
        TerraformStack.of(this),
        `${pascal}PrometheusServerAddress`,
        this.workspace.queryEndpoint,
        'Prometheus query endpoint of the Azure Monitor workspace, for KEDA (mlstack resolve writes it into the ScaledObjects)',
      ),
      podIdentity: {
        provider: 'azure-workload',
        identityId: identity.serviceAccountAnnotations['azure.workload.identity/client-id'],
      },
      metadata: {},
      scope: (expr) => expr,
    };
  }

  /** An `azmonitoring.coreos.com/v1` ServiceMonitor for `t`, read by the AKS metrics add-on. */
  public addScrapeTarget(_scope: Construct, _id: string, t: ScrapeTarget): ValidatableObject[] {
    // The add-on reads the prometheus-operator schema under its own API group.
    const monitor = new ServiceMonitor({
      metadata: {
        name: `${t.job}-ama`,
        namespace: t.namespace,
        labels: { 'app.kubernetes.io/managed-by': 'mlstack' },
      },
      spec: {
        selector: { matchLabels: { ...t.selector } },
        namespaceSelector: { matchNames: [t.namespace] },
        endpoints: [
          {
            port: t.port,
            path: '/metrics',
            interval: t.interval,
            honorLabels: t.honorLabels,
            relabelings: [
              { targetLabel: 'job', replacement: t.job, action: 'replace' },
              {
                sourceLabels: ['__meta_kubernetes_pod_node_name'],
                targetLabel: 'node',
                action: 'replace',
              },
            ],
          },
        ],
      },
    });
    monitor.validate();
    return [azureMonitorServiceMonitor(monitor)];
  }

  /** A Prometheus rule group per alert group, in `scope`, each rule firing the route's action group. */
  public addRuleGroups(
    scope: Construct,
    id: string,
    groups: readonly AlertRuleGroup[],
    route: AlertRoute,
  ): ValidatableObject[] {
    const actionGroup = this.actionGroupOf(route);
    groups.forEach((g, i) => {
      this.ruleGroups.push(
        new MonitorAlertPrometheusRuleGroup(scope, `${id}-${i}`, {
          name: g.name,
          resourceGroupName: this.props.resourceGroup.name,
          location: this.props.location,
          clusterName: this.props.cluster.name,
          ruleGroupEnabled: true,
          interval: 'PT1M',
          scopes: [this.workspace.id, this.props.cluster.id],
          rule: g.rules.map((r) => ({
            alert: r.alert,
            expression: r.expr,
            for: isoMinutes(r.for),
            severity: AZURE_SEVERITY[r.labels.severity],
            enabled: true,
            labels: { ...r.labels },
            annotations: { ...r.annotations },
            alertResolution: { autoResolved: true, timeToResolve: 'PT10M' },
            ...(actionGroup ? { action: [{ actionGroupId: actionGroup.id }] } : {}),
          })),
          tags: { ...this.props.tags },
        }),
      );
    });
    return [];
  }

  /** The action group of a route, made once; undefined when the route has no destination. */
  private actionGroupOf(route: AlertRoute): MonitorActionGroup | undefined {
    if (this.actionGroups.has(route.name)) return this.actionGroups.get(route.name);
    const emails: { name: string; emailAddress: string; useCommonAlertSchema: boolean }[] = [];
    const webhooks: { name: string; serviceUri: string; useCommonAlertSchema: boolean }[] = [];
    const prefix = route.name === 'default' ? 'Alerts' : `Alerts-${shortHash([route.name], 8)}`;
    route.destinations.forEach((d, i) => {
      const spec = d.spec;
      switch (spec.kind) {
        case 'email':
          spec.addresses.forEach((emailAddress, j) =>
            emails.push({ name: `email-${i}-${j}`, emailAddress, useCommonAlertSchema: true }),
          );
          break;
        case 'webhook':
          webhooks.push({ name: `webhook-${i}`, serviceUri: spec.url, useCommonAlertSchema: true });
          break;
        case 'pagerduty': {
          // PagerDuty's Azure integration takes Azure's alert schema at a URL that holds the key: kept in Key Vault
          // and read by Terraform at apply (in the state, never in cdk.tf.json).
          const vault = spec.routingKey.azureKeyVaultId;
          if (!vault) {
            throw new Error(
              `${this.node.path}: AlertDestination.pagerDuty(SecretReference.named(${JSON.stringify(spec.routingKey.name)})) needs the Key Vault on Azure: SecretReference.named(name, { azureKeyVaultId }), the secret holding the PagerDuty Azure integration URL.`,
            );
          }
          const url = new DataAzurermKeyVaultSecret(this, `${prefix}-${i}-Url`, {
            name: spec.routingKey.name,
            keyVaultId: vault,
          });
          webhooks.push({ name: `pagerduty-${i}`, serviceUri: url.value, useCommonAlertSchema: true });
          break;
        }
        case 'slack':
          throw new Error(
            `${this.node.path}: Azure Monitor action groups post Azure's alert schema, which a Slack incoming webhook refuses. Use AlertDestination.email(...), .pagerDuty(...) or .webhook(...) on Azure (a Logic App can relay to Slack).`,
          );
        case 'none':
          break;
      }
    });
    if (emails.length === 0 && webhooks.length === 0) {
      this.actionGroups.set(route.name, undefined);
      return undefined;
    }
    const group = new MonitorActionGroup(this, prefix, {
      name: `${this.props.name}-${route.name === 'default' ? 'alerts' : `alerts-${shortHash([route.name], 8)}`}`,
      shortName: `ml${shortHash([this.props.name, route.name], 8)}`,
      resourceGroupName: this.props.resourceGroup.name,
      location: 'global',
      ...(emails.length ? { emailReceiver: emails } : {}),
      ...(webhooks.length ? { webhookReceiver: webhooks } : {}),
      tags: { ...this.props.tags },
    });
    this.actionGroups.set(route.name, group);
    return group;
  }
}
