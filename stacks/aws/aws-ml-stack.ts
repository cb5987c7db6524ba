import { Annotations, CfnCondition, CfnOutput, Stack, type StackProps, Tags, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesManifest } from '../../src/k8s/manifest';
import { type KubernetesClusterSpec, type NodePoolSpec, TaintEffect } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import { type IMlStack, type KubernetesClusterCapability, MlStack } from '../ml-stack';

/** Props of {@link AwsMlStack}. */
export interface AwsMlStackProps extends StackProps {
  /**
   * Makes the Lambda layer with `kubectl`, e.g. `(scope) => new KubectlV33Layer(scope, 'Kubectl')` from
   * `@aws-cdk/lambda-layer-kubectl-v33` (match the cluster's Kubernetes minor). When set, `cdk deploy` also
   * applies every Kubernetes manifest of the stack's clusters through the EKS kubectl provider.
   * @default - manifests are only written to the synth output (`k8s/`), for GitOps or `kubectl apply`
   * @see https://docs.aws.amazon.com/cdk/api/v2/docs/aws-eks-v2-readme.html
   */
  readonly kubectlLayer?: (scope: Construct) => lambda.ILayerVersion;
  /**
   * Maximum availability zones of the VPC that mlstack creates for each cluster.
   * @default 3
   */
  readonly maxAzs?: number;
}

const NODE_ROLE_REASON =
  'EKS managed node groups require the AWS managed policies AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy and AmazonEC2ContainerRegistryReadOnly on the node role (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html).';

/**
 * An aws-cdk-lib `Stack` that builds mlstack's capabilities with AWS services: EKS (aws-eks-v2) with managed
 * node groups for Kubernetes clusters.
 */
export class AwsMlStack extends Stack implements IMlStack {
  /** Always `aws`. */
  public readonly cloud: Cloud = 'aws';
  private readonly kubectlLayerFactory?: (scope: Construct) => lambda.ILayerVersion;
  private kubectlLayer?: lambda.ILayerVersion;
  private readonly maxAzs: number;

  constructor(scope: Construct, id: string, props: AwsMlStackProps = {}) {
    super(scope, id, props);
    MlStack.mark(this);
    this.kubectlLayerFactory = props.kubectlLayer;
    this.maxAzs = props.maxAzs ?? 3;
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    Annotations.of(scope).addWarningV2('mlstack:warning', message);
  }

  /** EKS with secrets encryption, control-plane logging, Pod Identity, in a VPC of its own. */
  public addKubernetesCluster(
    scope: Construct,
    id: string,
    spec: KubernetesClusterSpec,
  ): KubernetesClusterCapability {
    const vpc = new ec2.Vpc(scope, 'Vpc', {
      maxAzs: this.maxAzs,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'nodes', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 18 },
      ],
      flowLogs: {
        rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(scope, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH }),
          ),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });
    const secretsKey = new kms.Key(scope, 'SecretsKey', {
      description: `Envelope encryption of Kubernetes secrets of EKS cluster ${spec.name}`,
      enableKeyRotation: true,
    });
    const endpointAccess = spec.privateEndpoint
      ? eks.EndpointAccess.PRIVATE
      : eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...spec.authorizedNetworks);

    if (this.kubectlLayerFactory && !this.kubectlLayer) this.kubectlLayer = this.kubectlLayerFactory(this);
    const cluster = new eks.Cluster(scope, id, {
      clusterName: spec.name,
      version: eks.KubernetesVersion.of(spec.version.version),
      vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      secretsEncryptionKey: secretsKey,
      endpointAccess,
      clusterLogging: [
        eks.ClusterLoggingTypes.API,
        eks.ClusterLoggingTypes.AUDIT,
        eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
        eks.ClusterLoggingTypes.SCHEDULER,
      ],
      ...(this.kubectlLayer ? { kubectlProviderOptions: { kubectlLayer: this.kubectlLayer } } : {}),
      tags: { ...spec.tags },
    });
    for (const [k, v] of Object.entries(spec.tags)) Tags.of(scope).add(k, v);
    // Workload identity: EKS Pod Identity (IAM roles bound to Kubernetes service accounts).
    new eks.Addon(scope, 'PodIdentityAgent', { cluster, addonName: 'eks-pod-identity-agent' });

    for (const pool of spec.pools) this.addNodegroup(scope, cluster, spec.name, pool);

    new CfnOutput(scope, 'ClusterName', { value: cluster.clusterName });
    new CfnOutput(scope, 'KubeconfigCommand', {
      value: `aws eks update-kubeconfig --name ${cluster.clusterName} --region ${this.region}`,
    });

    acknowledgeEksFindings(scope);
    if (this.kubectlLayer) acknowledgeKubectlProviderFindings(this, cluster);
    return {
      clusterName: cluster.clusterName,
      managesGpuDevicePlugin: false,
      addNodePool: (poolScope, pool) => {
        this.addNodegroup(poolScope, cluster, spec.name, pool);
      },
      deployManifests: (manifestScope, manifestId, manifests: readonly KubernetesManifest[]) => {
        if (!this.kubectlLayer) return;
        new eks.KubernetesManifest(manifestScope, `Manifest-${manifestId}`, {
          cluster,
          manifest: manifests.map((m) => ({ ...m })),
          overwrite: true,
        });
      },
    };
  }

  private addNodegroup(
    scope: Construct,
    cluster: eks.Cluster,
    clusterName: string,
    pool: NodePoolSpec,
  ): eks.Nodegroup {
    const gpu = pool.gpu !== undefined;
    const nodegroup = new eks.Nodegroup(scope, `Pool-${pool.name}`, {
      cluster,
      // instanceTypes is set on the L1 below: aws-eks-v2 checks the AMI type against its own list of GPU
      // families (p2, p3, g2, g3, g4), which lacks g5, g6, g6e, p4d, p4de and p5 and would reject the NVIDIA AMI.
      // AL2023 NVIDIA AMIs ship the NVIDIA driver and container toolkit.
      amiType: gpu ? eks.NodegroupAmiType.AL2023_X86_64_NVIDIA : eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      capacityType: pool.spot ? eks.CapacityType.SPOT : eks.CapacityType.ON_DEMAND,
      minSize: pool.minNodes,
      maxSize: pool.maxNodes,
      desiredSize: pool.minNodes,
      diskSize: pool.diskSizeGiB,
      labels: { ...pool.labels },
      taints: pool.taints.map((t) => ({
        key: t.key,
        ...(t.value !== undefined ? { value: t.value } : {}),
        effect: TAINT_EFFECT[t.effect],
      })),
      subnets: {
        subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
        ...(pool.zones ? { availabilityZones: [...pool.zones] } : {}),
      },
      tags: autoscalerTemplateTags(clusterName, pool),
    });
    (nodegroup.node.defaultChild as eks.CfnNodegroup).instanceTypes = [pool.instanceType];
    return nodegroup;
  }
}

const TAINT_EFFECT: Record<TaintEffect, eks.TaintEffect> = {
  [TaintEffect.NO_SCHEDULE]: eks.TaintEffect.NO_SCHEDULE,
  [TaintEffect.PREFER_NO_SCHEDULE]: eks.TaintEffect.PREFER_NO_SCHEDULE,
  [TaintEffect.NO_EXECUTE]: eks.TaintEffect.NO_EXECUTE,
};

/**
 * Tags that let the Kubernetes Cluster Autoscaler scale a pool up from zero: it cannot see a node's labels,
 * taints or GPUs before one exists, so it reads them from these tags.
 * @see https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md#auto-discovery-setup
 */
function autoscalerTemplateTags(clusterName: string, pool: NodePoolSpec): Record<string, string> {
  const prefix = 'k8s.io/cluster-autoscaler/node-template';
  const tags: Record<string, string> = {
    'k8s.io/cluster-autoscaler/enabled': 'true',
    [`k8s.io/cluster-autoscaler/${clusterName}`]: 'owned',
  };
  for (const [k, v] of Object.entries(pool.labels)) tags[`${prefix}/label/${k}`] = v;
  for (const t of pool.taints) tags[`${prefix}/taint/${t.key}`] = `${t.value ?? ''}:${t.effect}`;
  if (pool.gpu) tags[`${prefix}/resources/nvidia.com/gpu`] = String(pool.gpu.count);
  return tags;
}

/**
 * Findings of cdk-nag's AwsSolutions pack that come from aws-eks-v2 itself or from AWS's own requirements,
 * each with its reason (cdk-nag 3 reads them through aws-cdk-lib's `Validations.acknowledge`).
 */
function acknowledgeEksFindings(scope: Construct): void {
  const managed = (policy: string) =>
    `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`;
  Validations.of(scope).acknowledge(
    ...['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly'].map(
      (p) => ({
        id: managed(p),
        reason: NODE_ROLE_REASON,
      }),
    ),
    {
      id: managed('AmazonEKSClusterPolicy'),
      reason:
        'The EKS cluster role requires the AWS managed AmazonEKSClusterPolicy (https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html).',
    },
    {
      id: 'CloudFormation-Validate::W9009',
      reason:
        'aws-eks-v2 writes EncryptionConfig.Resources: ["secrets"], the only value EKS accepts; the validator flags the property as deprecated in the schema, but it is what enables envelope encryption of secrets.',
    },
  );
}

/**
 * Findings on the kubectl provider that aws-eks-v2 creates when a kubectl layer is given: its Lambda roles
 * use the AWS managed Lambda execution policies and may invoke the handler's versions. The ids carry logical
 * ids, so they are computed from the provider's constructs.
 */
function acknowledgeKubectlProviderFindings(stack: Stack, cluster: eks.Cluster): void {
  const all = cluster.node.findAll();
  const handler = all.find(
    (c): c is lambda.CfnFunction =>
      c instanceof lambda.CfnFunction && c.node.path.endsWith('KubectlProvider/Handler/Resource'),
  );
  const ecrCondition = all.find(
    (c): c is CfnCondition => c instanceof CfnCondition && c.node.id.startsWith('HasEcrPublic'),
  );
  const reason =
    'The kubectl provider is made by aws-eks-v2: its Lambda functions run in the VPC with the AWS managed Lambda execution policies (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html) and the provider framework invokes any version of its handler.';
  const managed = (policy: string) =>
    `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`;
  Validations.of(cluster).acknowledge(
    { id: managed('service-role/AWSLambdaBasicExecutionRole'), reason },
    { id: managed('service-role/AWSLambdaVPCAccessExecutionRole'), reason },
    ...(ecrCondition
      ? [
          {
            id: `AwsSolutions::AwsSolutions-IAM4[Policy::${JSON.stringify({
              'Fn::If': [
                stack.getLogicalId(ecrCondition),
                {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly',
                    ],
                  ],
                },
                { Ref: 'AWS::NoValue' },
              ],
            })}]`,
            reason,
          },
        ]
      : []),
    ...(handler
      ? [{ id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${stack.getLogicalId(handler)}.Arn>:*]`, reason }]
      : []),
    {
      id: 'AwsSolutions::AwsSolutions-L1',
      reason: 'The Lambda runtimes of aws-eks-v2 custom resources are chosen by aws-cdk-lib.',
    },
  );
}
