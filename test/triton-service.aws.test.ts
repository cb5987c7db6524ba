import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { DockerImageAsset } from 'aws-cdk-lib/aws-ecr-assets';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { ServingRuntime } from '../constructs/triton-service';
import { STORE_COPY_IMAGES } from '../stacks/private/store-copy';
import { TRITON_IMAGE } from '../src/serving/manifests';
import { awsStack, awsTemplate } from './support/synth';
import { classifierService, expectSchemaValid, objectOf, podSpecOf } from './support/serving';

describe('TritonService on AWS (S3 + EKS Pod Identity)', () => {
  const stack = awsStack();
  const service = classifierService(stack);
  // Synth runs the CloudFormation validator and cdk-nag's AwsSolutions: a finding fails here.
  const template = awsTemplate(stack);
  const bucketName = service.modelStore.name;

  it('names the bucket at synth, deterministically, and warns that the name is not account-specific', () => {
    expect(bucketName).toMatch(/^test-classifier-modelbucket-[0-9a-f]{10}$/);
    expect(classifierService(awsStack()).modelStore.name).toBe(bucketName);
    Annotations.fromStack(stack).hasWarning(
      '/test/Classifier',
      Match.stringLikeRegexp('S3 names are global: another account deploying the same program'),
    );
  });

  it('keeps the repository in a versioned, encrypted, private, TLS-only bucket that goes with the stack, emptied first', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: {
        BucketName: bucketName,
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: {
          BlockPublicAcls: true,
          BlockPublicPolicy: true,
          IgnorePublicAcls: true,
          RestrictPublicBuckets: true,
        },
        OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
        LifecycleConfiguration: {
          Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 30 } })],
        },
      },
      // Not retained (ObjectStoreSpec.retain is false for a model repository the deploy uploads): deleted with the
      // stack, after aws-cdk-lib's custom resource empties it of objects and old versions.
      UpdateReplacePolicy: 'Delete',
      DeletionPolicy: 'Delete',
    });
    template.resourceCountIs('Custom::S3AutoDeleteObjects', 1);
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it("logs the bucket's requests to the stack's retained access-log bucket, delivery granted to this bucket only", () => {
    const logs = Object.entries(template.findResources('AWS::S3::Bucket')).find(([k]) =>
      k.startsWith('MlstackAccessLogs'),
    )!;
    expect(logs[1]).toMatchObject({
      DeletionPolicy: 'Retain',
      Properties: {
        LifecycleConfiguration: { Rules: [{ ExpirationInDays: 365, Status: 'Enabled' }] },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
      },
    });
    const models = Object.entries(template.findResources('AWS::S3::Bucket')).find(([k]) =>
      k.startsWith('ClassifierModelBucket'),
    )!;
    expect(models[1].Properties.LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: logs[0] },
      LogFilePrefix: `${service.modelStore.name}/`,
    });
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logs[0] },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'logging.s3.amazonaws.com' },
            Action: 's3:PutObject',
            Condition: {
              ArnLike: { 'aws:SourceArn': { 'Fn::GetAtt': [models[0], 'Arn'] } },
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
            },
          }),
        ]),
      },
    });
  });

  it('uploads the stable and canary repositories at cdk deploy, each pruned under its prefix', () => {
    for (const prefix of ['stable/', 'canary/']) {
      template.hasResourceProperties('Custom::CDKBucketDeployment', {
        DestinationBucketKeyPrefix: prefix,
        Prune: true,
        RetainOnDelete: true,
      });
    }
    template.resourceCountIs('Custom::CDKBucketDeployment', 2);
  });

  it('gives the service an IAM role for EKS Pod Identity that can only list and read that bucket', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: { Description: 'EKS Pod Identity of classifier/classifier' },
    });
    const [roleId, role] = Object.entries(roles)[0];
    expect(Object.keys(roles)).toHaveLength(1);
    expect(role.Properties.AssumeRolePolicyDocument.Statement).toEqual([
      {
        Action: ['sts:AssumeRole', 'sts:TagSession'],
        Effect: 'Allow',
        Principal: { Service: 'pods.eks.amazonaws.com' },
      },
    ]);
    const policies = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }),
    );
    expect(policies).toHaveLength(1);
    const statements = policies[0].Properties.PolicyDocument.Statement as {
      Action: unknown;
      Resource: unknown;
    }[];
    expect(statements.map((s) => s.Action)).toEqual([
      ['s3:ListBucket', 's3:GetBucketLocation'],
      's3:GetObject',
    ]);
    const bucketId = Object.keys(
      template.findResources('AWS::S3::Bucket', { Properties: { BucketName: bucketName } }),
    )[0];
    expect(statements[0].Resource).toEqual({ 'Fn::GetAtt': [bucketId, 'Arn'] });
    expect(JSON.stringify(statements[1].Resource)).toContain(bucketId);
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'classifier',
      ServiceAccount: 'classifier',
      RoleArn: { 'Fn::GetAtt': [roleId, 'Arn'] },
    });
  });

  it('runs Triton from a pod-local copy that an AWS CLI init container syncs from the bucket', () => {
    const pod = podSpecOf(service.manifests, 'classifier');
    const init = pod.initContainers![0];
    expect(init.image).toBe(STORE_COPY_IMAGES.aws);
    expect(init.command).toEqual([
      'aws',
      's3',
      'sync',
      '--no-progress',
      '--only-show-errors',
      `s3://${bucketName}/stable`,
      '/models',
    ]);
    expect(init.env).toEqual([{ name: 'HOME', value: '/tmp' }]);
    const triton = pod.containers[0];
    expect(triton.image).toBe(TRITON_IMAGE);
    expect(triton.args).toContain('--model-repository=/models');
    expect(triton.args).toContain('--strict-model-config=true');
    expect(triton.resources!.limits).toMatchObject({ 'nvidia.com/gpu': '1' });
    expect(pod.nodeSelector).toEqual({ 'mlstack.io/gpu-type': 'nvidia-l4', 'mlstack.io/pool': 'inference' });
    const canary = podSpecOf(service.manifests, 'classifier-canary');
    expect(canary.initContainers![0].command).toContain(`s3://${bucketName}/canary`);
    // Pod Identity needs nothing on the ServiceAccount.
    expect(
      objectOf<IServiceAccount>(service.manifests, 'ServiceAccount').metadata!.annotations,
    ).toBeUndefined();
    expectSchemaValid(service.manifests);
  });

  it('names the account in the bucket and sets the region when the stack has an env', () => {
    const envStack = awsStack({ env: { account: '123456789012', region: 'eu-west-1' } });
    const s = classifierService(envStack);
    expect(s.modelStore.name).toMatch(/^test-classifier-modelbucket-[0-9a-f]{10}$/);
    expect(s.modelStore.name).not.toBe(bucketName);
    expect(podSpecOf(s.manifests, 'classifier').initContainers![0].env).toEqual([
      { name: 'HOME', value: '/tmp' },
      { name: 'AWS_REGION', value: 'eu-west-1' },
    ]);
  });

  it('builds the mlstack server image as a Docker image asset for the ONNX Runtime runtime', () => {
    const envStack = awsStack({ env: { account: '123456789012', region: 'eu-west-1' } });
    const s = classifierService(envStack, {
      runtime: ServingRuntime.ONNXRUNTIME,
      gpu: undefined,
      canary: undefined,
    });
    const container = podSpecOf(s.manifests, 'classifier').containers[0];
    expect(container.image).toMatch(
      /^123456789012\.dkr\.ecr\.eu-west-1\.amazonaws\.com\/cdk-hnb659fds-container-assets-123456789012-eu-west-1:[0-9a-f]{64}$/,
    );
    expect(container.args).toEqual([
      'serve',
      '/models',
      '--host',
      '0.0.0.0',
      '--port',
      '8000',
      '--grpc-port',
      '8001',
    ]);
    expect(container.resources!.limits).not.toHaveProperty('nvidia.com/gpu');
    const assets = envStack.node.findAll().filter((c) => c instanceof DockerImageAsset);
    expect(assets).toHaveLength(1);
    expect(container.image).toContain((assets[0] as DockerImageAsset).assetHash);
  });

  it('asks for an image or an env for the ONNX Runtime runtime in an env-agnostic stack', () => {
    expect(() =>
      classifierService(awsStack(), {
        runtime: ServingRuntime.ONNXRUNTIME,
        gpu: undefined,
        canary: undefined,
      }),
    ).toThrow(
      /'image' \(undefined\) is required for ServingRuntime.ONNXRUNTIME when the stack has no account and region.*Set env: \{ account, region \}/,
    );
  });

  it("admits the cloud's managed Prometheus collectors to the metrics port", () => {
    const policy = service.manifests.find(
      (m) => m.kind === 'NetworkPolicy' && !m.metadata.name.startsWith('default-'),
    ) as unknown as {
      spec: { ingress: { from: unknown[]; ports: { port: number }[] }[] };
    };
    const metrics = policy.spec.ingress[1];
    expect(metrics.from).toContainEqual({ ipBlock: { cidr: '10.0.0.0/16' } });
    expect(metrics.from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
    });
  });

  it('matches the snapshot', () => {
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    const serving = Object.fromEntries(
      Object.entries(resources).filter(
        ([id, r]) => id.startsWith('Classifier') || r.Type === 'Custom::CDKBucketDeployment',
      ),
    );
    expect({ resources: serving, manifests: service.manifests }).toMatchSnapshot();
  });
});
