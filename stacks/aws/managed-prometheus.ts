import { CfnOutput, Duration, Lazy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subs from 'aws-cdk-lib/aws-sns-subscriptions';
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
import type { AlertRoute } from '../../src/monitoring/destinations';
import type { PrometheusConnection } from '../../src/k8s/keda';
import type { ManagedPrometheusCapability, ScrapeTarget, WorkloadIdentityCapability } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { shortHash, visiblePath } from '../private/naming';
import { PodIdentity } from './pod-identity';
import { ALERT_FORWARDER_SOURCE } from './private/alert-forwarder';
import { exportDeployTimeValue } from './private/deploy-time';
import { acknowledgeAlertForwarderFindings } from './private/nag';

/** The Kubernetes user the managed scraper's role is mapped to (AWS's documented name). */
const SCRAPER_USER = 'aps-collector-user';

/** Props of {@link AmpPrometheus}. */
export interface AmpPrometheusProps {
  /** The cluster to collect. */
  readonly cluster: eks.ICluster;
  /** Its VPC: the scraper collects from inside it. */
  readonly vpc: ec2.IVpc;
  /**
   * The subnets the scraper runs in.
   * @default - the VPC's private subnets with egress
   */
  readonly subnets?: ec2.SubnetSelection;
  /** The cluster's name as written at synth (names the deploy-time outputs). */
  readonly clusterName: string;
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
  private readonly receivers = new Map<string, sns.Topic>();
  private alertsKey?: kms.Key;
  private rbacEmitted = false;
  private readonly props: AmpPrometheusProps;

  constructor(scope: Construct, id: string, props: AmpPrometheusProps) {
    super(scope, id);
    this.props = props;
    this.workspace = new aps.CfnWorkspace(this, 'Default', {
      alias: `${visiblePath(scope).replace(/\//g, '-')}-prometheus`.slice(0, 100),
      alertManagerDefinition: Lazy.string({ produce: () => this.alertmanagerDefinition() }),
    });
    this.scraper = new aps.CfnScraper(scope, 'PrometheusScraper', {
      alias: visiblePath(scope).replace(/\//g, '-').slice(0, 100),
      source: {
        eksConfiguration: {
          clusterArn: props.cluster.clusterArn,
          subnetIds: props.vpc.selectSubnets(
            props.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
          ).subnetIds,
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

  /**
   * Evaluates `groups` in the workspace (a rule groups namespace in `scope`); the workspace's Alertmanager sends what
   * fires to the route's SNS topic, labelled `mlstack_route` so that each construct's alerts reach its own
   * destinations.
   */
  public addRuleGroups(
    scope: Construct,
    id: string,
    groups: readonly AlertRuleGroup[],
    route: AlertRoute,
  ): ValidatableObject[] {
    const receiver = this.receiver(route);
    const routed = groups.map((g) => ({
      ...g,
      rules: g.rules.map((r) => ({
        ...r,
        labels: { ...r.labels, ...(receiver ? { mlstack_route: receiver } : {}) },
      })),
    }));
    this.ruleGroupsNamespaces.push(
      new aps.CfnRuleGroupsNamespace(scope, id, {
        workspace: this.workspace.attrArn,
        name: `${visiblePath(scope).replace(/\//g, '-')}-${id}`.slice(0, 64),
        data: renderRulesFile(routed),
      }),
    );
    return [];
  }

  /** The SNS topic and subscriptions of a route, made once; undefined when it has no destination. */
  private receiver(route: AlertRoute): string | undefined {
    const destinations = route.destinations.filter((d) => d.spec.kind !== 'none');
    if (destinations.length === 0) return undefined;
    const name = route.name === 'default' ? 'default' : `r-${shortHash([route.name], 10)}`;
    if (this.receivers.has(name)) return name;
    this.alertsKey ??= this.makeAlertsKey();
    const stack = Stack.of(this);
    const id = name === 'default' ? 'Alerts' : `Alerts-${name}`;
    const topic = new sns.Topic(this, id, {
      displayName: `mlstack alerts (${route.name})`,
      masterKey: this.alertsKey,
      enforceSSL: true,
    });
    new CfnOutput(this, `${id}TopicArn`, {
      description: `SNS topic of mlstack alerts (${route.name}): aws sns publish --topic-arn <this> --message test reaches every subscriber`,
      value: topic.topicArn,
    });
    // AMP's Alertmanager publishes as the service, for this workspace only.
    topic.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('aps.amazonaws.com')],
        actions: ['sns:Publish', 'sns:GetTopicAttributes'],
        resources: [topic.topicArn],
        conditions: {
          ArnEquals: { 'aws:SourceArn': this.workspace.attrArn },
          StringEquals: { 'aws:SourceAccount': stack.account },
        },
      }),
    );
    destinations.forEach((d, i) => {
      const spec = d.spec;
      switch (spec.kind) {
        case 'email':
          for (const address of spec.addresses) topic.addSubscription(new subs.EmailSubscription(address));
          break;
        case 'webhook':
          topic.addSubscription(
            new subs.UrlSubscription(spec.url, { protocol: sns.SubscriptionProtocol.HTTPS }),
          );
          break;
        case 'slack':
        case 'pagerduty': {
          const secretName = spec.kind === 'slack' ? spec.webhookUrl.name : spec.routingKey.name;
          const fn = new lambda.Function(this, `${id}-Forwarder${i}`, {
            runtime: lambda.Runtime.NODEJS_24_X,
            handler: 'index.handler',
            code: lambda.Code.fromInline(ALERT_FORWARDER_SOURCE),
            timeout: Duration.seconds(30),
            memorySize: 128,
            description: `Forwards mlstack alerts (${route.name}) to ${spec.kind === 'slack' ? 'Slack' : 'PagerDuty'}`,
            environment: { KIND: spec.kind, SECRET_NAME: secretName },
          });
          const secret = secretsmanager.Secret.fromSecretNameV2(this, `${id}-Secret${i}`, secretName);
          secret.grantRead(fn);
          topic.addSubscription(new subs.LambdaSubscription(fn));
          acknowledgeAlertForwarderFindings(stack, fn, secretName);
          break;
        }
        case 'none':
          break;
      }
    });
    this.receivers.set(name, topic);
    return name;
  }

  /** The key of the alert topics: AMP must be allowed to use it, which an AWS managed key cannot allow. */
  private makeAlertsKey(): kms.Key {
    const key = new kms.Key(this, 'AlertsKey', {
      description:
        'Encryption of the SNS topics that Amazon Managed Service for Prometheus alerts publish to',
      enableKeyRotation: true,
    });
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('aps.amazonaws.com')],
        actions: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        resources: ['*'],
      }),
    );
    return key;
  }

  /**
   * Lets KEDA's operator query the workspace (`aps:QueryMetrics`, `GetSeries`, `GetLabels`, `GetMetricMetadata` on
   * this workspace only) through EKS Pod Identity. The query URL holds the workspace id, known at deploy: it is a
   * deploy-time value (and so is the region of an environment-agnostic stack).
   */
  public autoscalerConnection(_scope: Construct, identity: WorkloadIdentityCapability): PrometheusConnection {
    PodIdentity.of(identity).role.addToPrincipalPolicy(
      new iam.PolicyStatement({
        actions: ['aps:QueryMetrics', 'aps:GetSeries', 'aps:GetLabels', 'aps:GetMetricMetadata'],
        resources: [this.workspace.attrArn],
      }),
    );
    const stack = Stack.of(this);
    const base = this.props.clusterName
      .split(/[^A-Za-z0-9]+/)
      .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
      .join('');
    const region = Token.isUnresolved(stack.region)
      ? exportDeployTimeValue(
          stack,
          `${base}PrometheusRegion`,
          stack.region,
          'Region of the AMP workspace (KEDA triggers)',
        )
      : stack.region;
    return {
      serverAddress: exportDeployTimeValue(
        stack,
        `${base}PrometheusServerAddress`,
        `https://aps-workspaces.${stack.region}.amazonaws.com/workspaces/${this.workspace.attrWorkspaceId}`,
        'Prometheus API of the AMP workspace, for KEDA (mlstack resolve writes it into the ScaledObjects)',
      ),
      podIdentity: { provider: 'aws' },
      metadata: { awsRegion: region },
      scope: (expr) => expr,
    };
  }

  /** The workspace's Alertmanager definition: a route per receiver, by the `mlstack_route` label. */
  private alertmanagerDefinition(): string | undefined {
    if (this.receivers.size === 0) return undefined;
    const names = [...this.receivers.keys()];
    const region = Stack.of(this).region;
    const config = {
      route: {
        receiver: this.receivers.has('default') ? 'default' : names[0],
        group_by: ['alertname', 'severity'],
        routes: names.map((n) => ({ receiver: n, matchers: [`mlstack_route="${n}"`] })),
      },
      receivers: names.map((n) => ({
        name: n,
        sns_configs: [
          {
            topic_arn: this.receivers.get(n)!.topicArn,
            sigv4: { region },
            attributes: { severity: '{{ .CommonLabels.severity }}' },
          },
        ],
      })),
    };
    return `alertmanager_config: |\n${stringify(config, { lineWidth: 0 })
      .split('\n')
      .map((l) => (l ? `  ${l}` : l))
      .join('\n')}`;
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
