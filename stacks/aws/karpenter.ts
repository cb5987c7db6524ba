import { Duration, Stack, Tags, Token, Validations } from 'aws-cdk-lib';
import type * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CfnPodIdentityAssociation } from 'aws-cdk-lib/aws-eks';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { HelmChartSpec } from '../../src/k8s/helm';
import { karpenterPool } from '../../src/k8s/karpenter';
import type { ValidatableObject } from '../../src/k8s/manifest';
import type { NodePoolSpec } from '../../src/spec/cluster';
import { physicalName } from '../private/naming';

/** Karpenter, pinned. @see https://karpenter.sh/docs/getting-started/getting-started-with-karpenter/ */
export const KARPENTER_CHART = {
  repository: 'oci://public.ecr.aws/karpenter/karpenter',
  version: '1.6.0',
} as const;

/** Where the controller runs and the ServiceAccount its Pod Identity is bound to. */
const NAMESPACE = 'kube-system';
const SERVICE_ACCOUNT = 'karpenter';

/** Props of {@link Karpenter}. */
export interface KarpenterProps {
  readonly cluster: eks.ICluster;
  /** The cluster's name as written at synth. */
  readonly clusterName: string;
  /**
   * The subnets Karpenter launches nodes into: those made in this app get the discovery tag, imported ones are
   * named by id.
   */
  readonly subnets: readonly ec2.ISubnet[];
  /** Cost tags of the nodes. */
  readonly tags: Readonly<Record<string, string>>;
  /**
   * Controller replicas: the chart keeps them on separate nodes that Karpenter does not manage (the system pool's
   * managed node group), so at most that group's size.
   * @default 2
   */
  readonly controllerReplicas?: number;
}

/**
 * Karpenter for the GPU pools of an EKS cluster: a pending pod that asks for `nvidia.com/gpu` of a pool's type brings
 * up a node of that pool, from zero. This builds what Karpenter needs on AWS — the nodes' IAM role (named, as the
 * EC2NodeClasses name it) with its EKS access entry, the controller's least-privilege role bound to its
 * ServiceAccount by EKS Pod Identity, the SQS interruption queue fed by EventBridge (spot interruptions, rebalance
 * recommendations, instance state changes, scheduled maintenance), the discovery tag on the private subnets — and the
 * chart and the per-pool NodePool and EC2NodeClass objects the cluster carries.
 *
 * The decision for Karpenter over EKS Auto Mode is in docs/gpu-cluster.md.
 *
 * @example
 * const karpenter = EksCluster.of(cluster).karpenter!;
 * karpenter.controllerRole.addToPrincipalPolicy(new iam.PolicyStatement({ actions: ['ec2:DescribeCapacityBlockOfferings'], resources: ['*'] }));
 */
export class Karpenter extends Construct {
  /** The role of the nodes Karpenter launches, and its name (concrete at synth: the EC2NodeClasses name it). */
  public readonly nodeRole: iam.Role;
  public readonly nodeRoleName: string;
  /** The controller's role (EKS Pod Identity). */
  public readonly controllerRole: iam.Role;
  /** Interruption notices for the controller, and the queue's name. */
  public readonly interruptionQueue: sqs.Queue;
  public readonly queueName: string;
  /** The chart the cluster installs. */
  public readonly chart: HelmChartSpec;
  private readonly poolNames: string[] = [];
  /** Subnets named by id in the EC2NodeClasses (imported, so not taggable). */
  private readonly subnetIds: string[] = [];
  private readonly props: KarpenterProps;

  constructor(scope: Construct, id: string, props: KarpenterProps) {
    super(scope, id);
    this.props = props;
    const stack = Stack.of(this);
    const name = props.clusterName;
    const identity = [Token.isUnresolved(stack.account) ? '' : stack.account, stack.stackName, name];

    this.nodeRoleName = physicalName({ readable: `${name}-karpenter-node`, identity, maxLength: 64 });
    this.nodeRole = new iam.Role(this, 'NodeRole', {
      roleName: this.nodeRoleName,
      assumedBy: new iam.ServicePrincipal('ec2.amazonaws.com'),
      description: `Nodes Karpenter launches for EKS cluster ${name}`,
      managedPolicies: [
        'AmazonEKSWorkerNodePolicy',
        'AmazonEKS_CNI_Policy',
        'AmazonEC2ContainerRegistryReadOnly',
      ].map((p) => iam.ManagedPolicy.fromAwsManagedPolicyName(p)),
    });
    new eks.AccessEntry(this, 'NodeAccess', {
      cluster: props.cluster,
      principal: this.nodeRole.roleArn,
      accessEntryType: eks.AccessEntryType.EC2_LINUX,
      accessPolicies: [],
    });

    this.queueName = physicalName({ readable: `${name}-karpenter`, identity, maxLength: 80 });
    this.interruptionQueue = new sqs.Queue(this, 'InterruptionQueue', {
      queueName: this.queueName,
      retentionPeriod: Duration.minutes(5),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
    });
    const notices: [string, events.EventPattern][] = [
      ['SpotInterruption', { source: ['aws.ec2'], detailType: ['EC2 Spot Instance Interruption Warning'] }],
      ['Rebalance', { source: ['aws.ec2'], detailType: ['EC2 Instance Rebalance Recommendation'] }],
      [
        'InstanceStateChange',
        { source: ['aws.ec2'], detailType: ['EC2 Instance State-change Notification'] },
      ],
      ['ScheduledChange', { source: ['aws.health'], detailType: ['AWS Health Event'] }],
    ];
    for (const [ruleId, eventPattern] of notices) {
      new events.Rule(this, ruleId, {
        eventPattern,
        targets: [new targets.SqsQueue(this.interruptionQueue)],
      });
    }

    this.controllerRole = new iam.Role(this, 'ControllerRole', {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      description: `Karpenter controller of EKS cluster ${name}`,
    });
    const policy = this.controllerPolicy();
    for (const statement of policy) this.controllerRole.addToPolicy(statement);
    new CfnPodIdentityAssociation(this, 'ControllerIdentity', {
      clusterName: props.cluster.clusterName,
      namespace: NAMESPACE,
      serviceAccount: SERVICE_ACCOUNT,
      roleArn: this.controllerRole.roleArn,
    });

    // Karpenter launches nodes into the subnets with this tag.
    for (const subnet of props.subnets) {
      if (Token.isUnresolved(subnet.subnetId)) {
        // The subnet only: its route table is a child of the same construct.
        Tags.of(subnet).add('karpenter.sh/discovery', name, { includeResourceTypes: ['AWS::EC2::Subnet'] });
      } else this.subnetIds.push(subnet.subnetId);
    }

    this.chart = {
      release: 'karpenter',
      chart: 'karpenter',
      repository: KARPENTER_CHART.repository,
      version: KARPENTER_CHART.version,
      namespace: NAMESPACE,
      purpose: 'node autoscaling of the GPU pools (NodePools and EC2NodeClasses are in the manifests)',
      values: {
        settings: { clusterName: name, interruptionQueue: this.queueName },
        serviceAccount: { name: SERVICE_ACCOUNT },
        replicas: props.controllerReplicas ?? 2,
        nodeSelector: { 'mlstack.io/pool': 'system' },
        controller: {
          resources: { requests: { cpu: '250m', memory: '512Mi' }, limits: { memory: '1Gi' } },
        },
      },
    };
    acknowledgeKarpenterFindings(this, policy);
  }

  /** The pools Karpenter scales, by name (each has a NodePool `mlstack-<pool>`). */
  public get pools(): readonly string[] {
    return [...this.poolNames];
  }

  /** The NodePool and EC2NodeClass of `pool`. */
  public poolObjects(pool: NodePoolSpec): ValidatableObject[] {
    this.poolNames.push(pool.name);
    return karpenterPool({
      pool,
      clusterName: this.props.clusterName,
      nodeRoleName: this.nodeRoleName,
      tags: this.props.tags,
      subnetIds: this.subnetIds,
      taggedSubnets: this.subnetIds.length < this.props.subnets.length,
    });
  }

  /**
   * What the controller may do, scoped to this cluster where the API allows: launch instances from launch templates
   * it tagged for this cluster, tag and terminate only those, pass only the node role, manage only the instance
   * profiles it tagged, read prices, AMIs and the interruption queue.
   * @see https://karpenter.sh/docs/reference/cloudformation/
   */
  private controllerPolicy(): iam.PolicyStatement[] {
    const stack = Stack.of(this);
    const name = this.props.clusterName;
    const region = stack.region;
    const ec2 = (resource: string) => `arn:${stack.partition}:ec2:${region}:*:${resource}`;
    const owned = { [`aws:ResourceTag/kubernetes.io/cluster/${name}`]: 'owned' };
    const requestOwned = {
      [`aws:RequestTag/kubernetes.io/cluster/${name}`]: 'owned',
      'aws:RequestTag/eks:eks-cluster-name': name,
    };
    const launched = [
      'fleet/*',
      'instance/*',
      'volume/*',
      'network-interface/*',
      'launch-template/*',
      'spot-instances-request/*',
    ].map(ec2);
    return [
      new iam.PolicyStatement({
        sid: 'AllowScopedEC2InstanceAccessActions',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
        resources: [
          `arn:${stack.partition}:ec2:${region}::image/*`,
          `arn:${stack.partition}:ec2:${region}::snapshot/*`,
          ec2('security-group/*'),
          ec2('subnet/*'),
          ec2('capacity-reservation/*'),
        ],
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedEC2LaunchTemplateAccessActions',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet'],
        resources: [ec2('launch-template/*')],
        conditions: { StringEquals: owned, StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedEC2InstanceActionsWithTags',
        actions: ['ec2:RunInstances', 'ec2:CreateFleet', 'ec2:CreateLaunchTemplate'],
        resources: launched,
        conditions: {
          StringEquals: requestOwned,
          StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' },
        },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedResourceCreationTagging',
        actions: ['ec2:CreateTags'],
        resources: launched,
        conditions: {
          StringEquals: {
            ...requestOwned,
            'ec2:CreateAction': ['RunInstances', 'CreateFleet', 'CreateLaunchTemplate'],
          },
          StringLike: { 'aws:RequestTag/karpenter.sh/nodepool': '*' },
        },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedResourceTagging',
        actions: ['ec2:CreateTags'],
        resources: [ec2('instance/*')],
        conditions: {
          StringEquals: owned,
          StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' },
          'ForAllValues:StringEquals': {
            'aws:TagKeys': ['eks:eks-cluster-name', 'karpenter.sh/nodeclaim', 'Name'],
          },
        },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedDeletion',
        actions: ['ec2:TerminateInstances', 'ec2:DeleteLaunchTemplate'],
        resources: [ec2('instance/*'), ec2('launch-template/*')],
        conditions: { StringEquals: owned, StringLike: { 'aws:ResourceTag/karpenter.sh/nodepool': '*' } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowRegionalReadActions',
        actions: [
          'ec2:DescribeAvailabilityZones',
          'ec2:DescribeCapacityReservations',
          'ec2:DescribeImages',
          'ec2:DescribeInstances',
          'ec2:DescribeInstanceTypeOfferings',
          'ec2:DescribeInstanceTypes',
          'ec2:DescribeLaunchTemplates',
          'ec2:DescribeSecurityGroups',
          'ec2:DescribeSpotPriceHistory',
          'ec2:DescribeSubnets',
        ],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:RequestedRegion': region } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowSSMReadActions',
        actions: ['ssm:GetParameter'],
        resources: [`arn:${stack.partition}:ssm:${region}::parameter/aws/service/*`],
      }),
      new iam.PolicyStatement({
        sid: 'AllowPricingReadActions',
        actions: ['pricing:GetProducts'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'AllowInterruptionQueueActions',
        actions: ['sqs:DeleteMessage', 'sqs:GetQueueUrl', 'sqs:ReceiveMessage'],
        resources: [this.interruptionQueue.queueArn],
      }),
      new iam.PolicyStatement({
        sid: 'AllowPassingInstanceRole',
        actions: ['iam:PassRole'],
        resources: [this.nodeRole.roleArn],
        conditions: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      }),
      new iam.PolicyStatement({
        sid: 'AllowScopedInstanceProfileActions',
        actions: [
          'iam:CreateInstanceProfile',
          'iam:TagInstanceProfile',
          'iam:AddRoleToInstanceProfile',
          'iam:RemoveRoleFromInstanceProfile',
          'iam:DeleteInstanceProfile',
        ],
        resources: [`arn:${stack.partition}:iam::${stack.account}:instance-profile/*`],
        conditions: {
          StringEquals: {
            [`aws:ResourceTag/kubernetes.io/cluster/${name}`]: 'owned',
            'aws:ResourceTag/topology.kubernetes.io/region': region,
          },
          StringLike: { 'aws:ResourceTag/karpenter.k8s.aws/ec2nodeclass': '*' },
        },
      }),
      new iam.PolicyStatement({
        sid: 'AllowInstanceProfileReadActions',
        actions: ['iam:GetInstanceProfile', 'iam:ListInstanceProfiles'],
        resources: ['*'],
      }),
      new iam.PolicyStatement({
        sid: 'AllowAPIServerEndpointDiscovery',
        actions: ['eks:DescribeCluster'],
        resources: [this.props.cluster.clusterArn],
      }),
    ];
  }
}

/** Karpenter's documented policy is scoped by tags and conditions, which cdk-nag's wildcard check cannot see. */
function acknowledgeKarpenterFindings(karpenter: Karpenter, policy: readonly iam.PolicyStatement[]): void {
  const stack = Stack.of(karpenter);
  // cdk-nag names a finding by the resource as written, deploy-time values as <AWS::…>.
  const nagName = (r: string) =>
    [
      [stack.partition, '<AWS::Partition>'],
      [stack.region, '<AWS::Region>'],
      [stack.account, '<AWS::AccountId>'],
    ].reduce((out, [token, name]) => (Token.isUnresolved(token) ? out.split(token).join(name) : out), r);
  const wildcards = [
    ...new Set(policy.flatMap((st) => st.resources.filter((r) => r.includes('*')).map(nagName))),
  ];
  const reason =
    "Karpenter's controller policy (karpenter.sh CloudFormation reference): wildcards are on resources it creates itself (instances, launch templates, fleets, instance profiles), scoped by this cluster's ownership tags and karpenter.sh/nodepool in the conditions, and on regional read-only Describe and pricing calls that take no resource.";
  Validations.of(karpenter.controllerRole).acknowledge(
    ...wildcards.map((r) => ({ id: `AwsSolutions::AwsSolutions-IAM5[Resource::${r}]`, reason })),
  );
  Validations.of(karpenter.nodeRole).acknowledge({
    id: 'AwsSolutions::AwsSolutions-IAM4',
    reason:
      'EKS worker nodes require the AWS managed policies AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy and AmazonEC2ContainerRegistryReadOnly on their role (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html).',
  });
  Validations.of(karpenter.interruptionQueue).acknowledge({
    id: 'AwsSolutions::AwsSolutions-SQS3',
    reason:
      'Interruption notices are acted on at once or are useless after the two-minute spot warning; the queue keeps them 5 minutes and a dead-letter queue would only hold stale notices.',
  });
}
