import { Token } from 'aws-cdk-lib';
import type { ExistingCluster } from '../../src/spec/cluster';
import { MlStackValidationError } from '../../src/spec/errors';

/** What mlstack needs to know about an EKS cluster you already run. */
export interface EksExistingClusterAttributes {
  /** The cluster's name. */
  readonly clusterName: string;
  /**
   * The cluster security group that EKS made for the cluster
   * (`aws eks describe-cluster --name <name> --query cluster.resourcesVpcConfig.clusterSecurityGroupId`): the managed
   * AWS scraper's interfaces and the databases' ingress use it; Karpenter's nodes find it by its
   * `aws:eks:cluster-name` tag.
   */
  readonly clusterSecurityGroupId: string;
  /**
   * Whether the EKS Pod Identity Agent add-on already runs on the cluster (`installed`) or mlstack adds it
   * (`install`). Every workload identity mlstack makes (model stores, MLflow, Karpenter, KEDA, drift) is an EKS
   * Pod Identity association, which needs the agent. Adding it where it exists fails the deploy, and a cluster
   * without it gives pods no AWS credentials, so there is no default: `aws eks describe-addon --cluster-name <name>
   * --addon-name eks-pod-identity-agent` tells.
   */
  readonly podIdentityAgent: 'installed' | 'install';
  /**
   * An IAM role the kubectl provider uses, already allowed to administer the cluster (an access entry with
   * `AmazonEKSClusterAdminPolicy`, or `system:masters` in `aws-auth`). Only read when the AwsMlStack has a
   * `kubectlLayer`.
   * @default - with a `kubectlLayer`, mlstack makes the provider's role and gives it an access entry with
   *   `AmazonEKSClusterAdminPolicy` (the cluster's authentication mode must include `API`)
   */
  readonly kubectlRoleArn?: string;
}

const NAME = /^[0-9A-Za-z][A-Za-z0-9\-_]{0,99}$/;
const SECURITY_GROUP = /^sg-[0-9a-f]{8,17}$/;
const ROLE_ARN = /^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/;

/**
 * An EKS cluster you already run, for a `GpuCluster` on AWS: `existingCluster: EksExistingCluster.fromAttributes(...)`
 * with `network: EksNetwork.fromVpc(vpc)` (the cluster's VPC). mlstack then creates no cluster, KMS key or
 * control-plane logging: it adds managed node groups and Karpenter for its pools, Pod Identity associations, the
 * managed scraper and its access entry, and every construct's resources to your cluster.
 *
 * @example
 * const vpc = ec2.Vpc.fromLookup(stack, 'Vpc', { vpcId: 'vpc-0123456789abcdef0' });
 * new GpuCluster(stack, 'Gpus', {
 *   existingCluster: EksExistingCluster.fromAttributes({
 *     clusterName: 'prod',
 *     clusterSecurityGroupId: 'sg-0123456789abcdef0',
 *     podIdentityAgent: 'installed',
 *   }),
 *   network: EksNetwork.fromVpc(vpc),
 *   gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
 * });
 */
export class EksExistingCluster implements ExistingCluster {
  /**
   * The cluster named `attrs.clusterName`.
   * @throws naming the attribute when one is malformed
   */
  public static fromAttributes(attrs: EksExistingClusterAttributes): EksExistingCluster {
    const where = 'EksExistingCluster.fromAttributes';
    const check = (prop: string, value: unknown, ok: boolean, problem: string, fix: string): void => {
      if (!ok) throw new MlStackValidationError(where, prop, value, problem, fix);
    };
    check(
      'clusterName',
      attrs.clusterName,
      typeof attrs.clusterName === 'string' &&
        (Token.isUnresolved(attrs.clusterName) || NAME.test(attrs.clusterName)),
      'is not an EKS cluster name',
      "Pass the cluster's name as `aws eks list-clusters` prints it.",
    );
    check(
      'clusterSecurityGroupId',
      attrs.clusterSecurityGroupId,
      typeof attrs.clusterSecurityGroupId === 'string' &&
        (Token.isUnresolved(attrs.clusterSecurityGroupId) ||
          SECURITY_GROUP.test(attrs.clusterSecurityGroupId)),
      'is not a security group id',
      "Pass the cluster security group: aws eks describe-cluster --query 'cluster.resourcesVpcConfig.clusterSecurityGroupId'.",
    );
    check(
      'podIdentityAgent',
      attrs.podIdentityAgent,
      attrs.podIdentityAgent === 'installed' || attrs.podIdentityAgent === 'install',
      "must be 'installed' or 'install'",
      "Say whether the eks-pod-identity-agent add-on runs on the cluster ('installed') or mlstack adds it ('install').",
    );
    if (attrs.kubectlRoleArn !== undefined) {
      check(
        'kubectlRoleArn',
        attrs.kubectlRoleArn,
        typeof attrs.kubectlRoleArn === 'string' &&
          (Token.isUnresolved(attrs.kubectlRoleArn) || ROLE_ARN.test(attrs.kubectlRoleArn)),
        'is not an IAM role ARN',
        "Pass the role's ARN, e.g. 'arn:aws:iam::123456789012:role/eks-admin'.",
      );
    }
    return new EksExistingCluster(attrs);
  }

  /**
   * The EksExistingCluster that a GpuCluster's `existingCluster` prop holds.
   * @throws naming what to pass instead when it is another cloud's
   */
  public static of(cluster: ExistingCluster): EksExistingCluster {
    if (cluster instanceof EksExistingCluster) return cluster;
    throw new Error(
      `'existingCluster' (${cluster.description}) is not an EKS cluster: pass EksExistingCluster.fromAttributes(...) from 'mlstack/aws'.`,
    );
  }

  /** Always `aws`. */
  public readonly cloud = 'aws' as const;

  private constructor(
    /** What was passed. */
    public readonly attributes: EksExistingClusterAttributes,
  ) {}

  /** The cluster's name. */
  public get name(): string {
    return this.attributes.clusterName;
  }

  /** What it is, for messages. */
  public get description(): string {
    return `EKS cluster ${this.name} (imported)`;
  }
}
