import { CfnOutput, Lazy } from 'aws-cdk-lib';
import * as aps from 'aws-cdk-lib/aws-aps';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CfnAccessEntry } from 'aws-cdk-lib/aws-eks';
import type * as eks from 'aws-cdk-lib/aws-eks-v2';
import { Construct } from 'constructs';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { stringify } from 'yaml';
import type { ValidatableObject } from '../../src/k8s/manifest';
import { type AlertRuleGroup, renderRulesFile } from '../../src/monitoring/alerts';
import type { ManagedPrometheusCapability, ScrapeTarget } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { visiblePath } from '../private/naming';

/** The Kubernetes user the managed scraper's role is mapped to (AWS's documented name). */
const SCRAPER_USER = 'aps-collector-user';

/** Props of {@link AmpPrometheus}. */
export interface AmpPrometheusProps {
  /** The cluster to collect. */
  readonly cluster: eks.ICluster;
  /** Its VPC: the scraper collects from inside it. */
  readonly vpc: ec2.IVpc;
}

/**
 * Amazon Managed Service for Prometheus for one cluster: a workspace, an agentless AWS managed scraper that collects
 * the cluster's targets from inside its VPC (with an EKS access entry and the Kubernetes RBAC it needs), and a rule
 * groups namespace per alert group.
 *
 * The workspace is this construct's default child; the scraper, its access entry and the outputs are created next
 * to it (`PrometheusScraper`, `PrometheusScraperAccess`, `PrometheusRemoteWriteUrl`, `PrometheusQueryUrl`: the
 * construct ids of mlstack 0.1, kept so that logical ids do not change).
 * @see https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html
 *
 * @example
 * const amp = AmpPrometheus.of(monitoring.managed!);
 * new CfnOutput(stack, 'AmpWorkspaceArn', { value: amp.workspace.attrArn });
 */
export class AmpPrometheus extends Construct implements ManagedPrometheusCapability {
  /**
   * The AmpPrometheus behind a managed Prometheus capability (e.g. `DcgmMonitoring.managed`).
   * @throws when another cloud's stack made it
   */
  public static of(prometheus: ManagedPrometheusCapability): AmpPrometheus {
    return capabilityOf(
      prometheus,
      AmpPrometheus,
      'an AmpPrometheus (managed Prometheus made by an AwsMlStack)',
    );
  }

  /** @inheritdoc */
  public readonly description = 'Amazon Managed Service for Prometheus';
  /** The workspace. */
  public readonly workspace: aps.CfnWorkspace;
  /** The agentless scraper. */
  public readonly scraper: aps.CfnScraper;
  /** The rule groups namespaces, one per call of `addRuleGroups`. */
  public readonly ruleGroupsNamespaces: aps.CfnRuleGroupsNamespace[] = [];
  private readonly targets: ScrapeTarget[] = [];
  private rbacEmitted = false;

  constructor(scope: Construct, id: string, props: AmpPrometheusProps) {
    super(scope, id);
    this.workspace = new aps.CfnWorkspace(this, 'Default', {
      alias: `${visiblePath(scope).replace(/\//g, '-')}-prometheus`.slice(0, 100),
    });
    this.scraper = new aps.CfnScraper(scope, 'PrometheusScraper', {
      alias: visiblePath(scope).replace(/\//g, '-').slice(0, 100),
      source: {
        eksConfiguration: {
          clusterArn: props.cluster.clusterArn,
          subnetIds: props.vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
          securityGroupIds: [props.cluster.clusterSecurityGroupId],
        },
      },
      destination: { ampConfiguration: { workspaceArn: this.workspace.attrArn } },
      scrapeConfiguration: {
        configurationBlob: Lazy.string({
          produce: () => Buffer.from(scrapeConfiguration(this.targets)).toString('base64'),
        }),
      },
    });
    // The scraper authenticates as its service-linked role, mapped to the Kubernetes user the RBAC below binds.
    new CfnAccessEntry(scope, 'PrometheusScraperAccess', {
      clusterName: props.cluster.clusterName,
      principalArn: this.scraper.attrRoleArn,
      username: SCRAPER_USER,
    });
    new CfnOutput(scope, 'PrometheusRemoteWriteUrl', {
      value: `${this.workspace.attrPrometheusEndpoint}api/v1/remote_write`,
    });
    new CfnOutput(scope, 'PrometheusQueryUrl', {
      value: `${this.workspace.attrPrometheusEndpoint}api/v1/query`,
    });
  }

  /** Collects `target` with the managed scraper; the first call also returns the RBAC the scraper needs. */
  public addScrapeTarget(_scope: Construct, _id: string, target: ScrapeTarget): ValidatableObject[] {
    this.targets.push(target);
    if (this.rbacEmitted) return [];
    this.rbacEmitted = true;
    return scraperRbac();
  }

  /** Evaluates `groups` in the workspace: a rule groups namespace in `scope`. */
  public addRuleGroups(scope: Construct, id: string, groups: readonly AlertRuleGroup[]): ValidatableObject[] {
    this.ruleGroupsNamespaces.push(
      new aps.CfnRuleGroupsNamespace(scope, id, {
        workspace: this.workspace.attrArn,
        name: `${visiblePath(scope).replace(/\//g, '-')}-${id}`.slice(0, 64),
        data: renderRulesFile(groups),
      }),
    );
    return [];
  }
}

/**
 * The Prometheus configuration of the managed scraper: one job per target, each finding the Service's endpoints
 * by namespace, labels and port name.
 */
function scrapeConfiguration(targets: readonly ScrapeTarget[]): string {
  return stringify(
    {
      global: { scrape_interval: targets[0]?.interval ?? '30s' },
      scrape_configs: targets.map((t) => ({
        job_name: t.job,
        scrape_interval: t.interval,
        honor_labels: t.honorLabels,
        kubernetes_sd_configs: [{ role: 'endpoints', namespaces: { names: [t.namespace] } }],
        relabel_configs: [
          ...Object.entries(t.selector).map(([k, v]) => ({
            source_labels: [`__meta_kubernetes_service_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`],
            regex: v,
            action: 'keep',
          })),
          { source_labels: ['__meta_kubernetes_endpoint_port_name'], regex: t.port, action: 'keep' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'node' },
        ],
      })),
    },
    { lineWidth: 0 },
  );
}

/** What the managed scraper may read in the cluster (AWS's documented ClusterRole for the scraper user). */
function scraperRbac(): (ClusterRole | ClusterRoleBinding)[] {
  const labels = { 'app.kubernetes.io/managed-by': 'mlstack' };
  return [
    new ClusterRole({
      metadata: { name: 'aps-collector-role', labels },
      rules: [
        {
          apiGroups: [''],
          resources: ['nodes', 'nodes/proxy', 'nodes/metrics', 'services', 'endpoints', 'pods', 'configmaps'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ],
    }),
    new ClusterRoleBinding({
      metadata: { name: 'aps-collector-user-role-binding', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'aps-collector-role' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: SCRAPER_USER }],
    }),
  ];
}
