// Acknowledgements of cdk-nag's AwsSolutions pack and of the CloudFormation validator for resources that aws-cdk-lib
// makes (aws-eks-v2, BucketDeployment) or that AWS requires, each with its reason, on the construct that has it.
import { CfnCondition, Stack, Token, Validations } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import type * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct } from 'constructs';

const NODE_ROLE_REASON =
  'EKS managed node groups require the AWS managed policies AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy and AmazonEC2ContainerRegistryReadOnly on the node role (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html).';

/**
 * Findings on the Lambda function that `BucketDeployment` creates (aws-cdk-lib's own custom resource): it uses
 * the AWS managed basic execution policy and wildcard S3 actions to copy the asset into the destination.
 * Acknowledged on that function only, with the ids cdk-nag reports.
 */
export function acknowledgeBucketDeploymentFindings(
  stack: Stack,
  upload: s3deploy.BucketDeployment,
  bucket: s3.IBucket,
): void {
  const reason =
    'aws-cdk-lib BucketDeployment uploads the asset at deploy: its Lambda function uses the AWS managed basic execution policy, reads the CDK asset bucket and syncs (get, put, delete, abort multipart) the objects of the destination bucket.';
  const iam5 = (what: string) => ({ id: `AwsSolutions::AwsSolutions-IAM5[${what}]`, reason });
  Validations.of(upload.handlerRole).acknowledge(
    {
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason,
    },
    ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((a) =>
      iam5(`Action::${a}`),
    ),
    iam5(`Resource::<${stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*`),
    iam5(
      `Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${
        Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account
      }-${Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region}/*`,
    ),
  );
  const handler = upload.handlerRole.node.scope;
  if (handler) Validations.of(handler).acknowledge({ id: 'AwsSolutions::AwsSolutions-L1', reason });
}

/**
 * Findings of cdk-nag's AwsSolutions pack that come from aws-eks-v2 itself or from AWS's own requirements,
 * each with its reason (cdk-nag 3 reads them through aws-cdk-lib's `Validations.acknowledge`).
 */
export function acknowledgeEksFindings(scope: Construct): void {
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
export function acknowledgeKubectlProviderFindings(stack: Stack, cluster: Construct): void {
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

/**
 * Findings on an alert forwarder function: the AWS managed basic execution policy (its logs) and the `-??????`
 * suffix Secrets Manager appends to secret ARNs, which a grant by name must allow.
 */
export function acknowledgeAlertForwarderFindings(
  stack: Stack,
  fn: lambda.Function,
  secretName: string,
): void {
  const reason =
    'The alert forwarder writes its own logs with the AWS managed basic execution policy and reads one secret, named by the user, whose ARN ends in the random suffix Secrets Manager appends.';
  Validations.of(fn).acknowledge(
    {
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason,
    },
    {
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:${
        Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region
      }:${Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account}:secret:${secretName}-??????]`,
      reason,
    },
  );
}
