import { Match } from 'aws-cdk-lib/assertions';
import { LayerVersion } from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { GpuSharing, KubernetesVersion } from '../src/spec/cluster';
import { GpuType } from '../src/spec/gpu';
import { definePlatform } from '../examples/platform';
import { awsStack, awsTemplate } from './support/synth';

describe('GpuCluster on AWS (EKS)', () => {
  const stack = awsStack();
  const cluster = new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml',
    version: KubernetesVersion.V1_33,
    gpuPools: [
      {
        name: 'l4',
        gpu: { type: GpuType.NVIDIA_L4 },
        maxNodes: 4,
        spot: true,
        sharing: GpuSharing.timeSlicing(4),
      },
      {
        name: 'h100',
        gpu: { type: GpuType.NVIDIA_H100_80GB, count: 8 },
        minNodes: 1,
        maxNodes: 2,
        diskSizeGiB: 1000,
      },
    ],
    tags: { team: 'ml' },
  });
  // Synthesis runs aws-cdk-lib's CloudFormation validator and cdk-nag's AwsSolutions pack: a finding throws.
  const template = awsTemplate(stack);

  it('is an EKS cluster of the requested version with encrypted secrets, private endpoint and all control-plane logs', () => {
    template.resourceCountIs('AWS::EKS::Cluster', 1);
    template.hasResourceProperties('AWS::EKS::Cluster', {
      Name: 'ml',
      Version: '1.33',
      EncryptionConfig: [{ Provider: { KeyArn: Match.anyValue() }, Resources: ['secrets'] }],
      ResourcesVpcConfig: Match.objectLike({ EndpointPrivateAccess: true, EndpointPublicAccess: false }),
      Logging: {
        ClusterLogging: {
          EnabledTypes: [
            { Type: 'api' },
            { Type: 'audit' },
            { Type: 'authenticator' },
            { Type: 'controllerManager' },
            { Type: 'scheduler' },
          ],
        },
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it('installs EKS Pod Identity for workload identity', () => {
    template.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent' });
  });

  it("enforces NetworkPolicies: the vpc-cni add-on with its network policy agent, taking over EKS's self-managed CNI", () => {
    template.hasResourceProperties('AWS::EKS::Addon', {
      AddonName: 'vpc-cni',
      ConfigurationValues: JSON.stringify({ enableNetworkPolicy: 'true' }),
      ResolveConflicts: 'OVERWRITE',
    });
  });

  it('runs nodes in private subnets of a VPC with flow logs', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });

  it("keeps each pool's minimum in a fixed managed node group: the system pool and the H100 pool's one node", () => {
    template.resourceCountIs('AWS::EKS::Nodegroup', 2);
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      AmiType: 'AL2023_x86_64_STANDARD',
      InstanceTypes: ['m6i.xlarge'],
      ScalingConfig: { MinSize: 2, MaxSize: 2, DesiredSize: 2 },
      Labels: { 'mlstack.io/pool': 'system' },
    });
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      AmiType: 'AL2023_x86_64_NVIDIA',
      InstanceTypes: ['p5.48xlarge'],
      CapacityType: 'ON_DEMAND',
      ScalingConfig: { MinSize: 1, MaxSize: 1, DesiredSize: 1 },
      DiskSize: 1000,
      Taints: [{ Key: 'nvidia.com/gpu', Value: 'present', Effect: 'NO_SCHEDULE' }],
    });
  });

  it('scales every pool above its minimum with a Karpenter NodePool of its instance type, labels and taints', () => {
    const byName = (kind: string, name: string) =>
      cluster.manifests.manifests.find((m) => m.kind === kind && m.metadata.name === name) as unknown as {
        spec: Record<string, never>;
      };
    const l4 = byName('NodePool', 'mlstack-l4').spec as unknown as {
      template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> };
      limits: Record<string, string>;
      disruption: Record<string, unknown>;
    };
    expect(l4.template.metadata.labels).toEqual({
      'mlstack.io/pool': 'l4',
      'mlstack.io/gpu': 'true',
      'mlstack.io/gpu-type': 'nvidia-l4',
    });
    expect(l4.template.spec).toMatchObject({
      nodeClassRef: { group: 'karpenter.k8s.aws', kind: 'EC2NodeClass', name: 'mlstack-l4' },
      requirements: [
        { key: 'node.kubernetes.io/instance-type', operator: 'In', values: ['g6.xlarge'] },
        // A spot pool falls back to on-demand when no spot GPU is left.
        { key: 'karpenter.sh/capacity-type', operator: 'In', values: ['spot', 'on-demand'] },
      ],
      taints: [{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }],
    });
    // From zero to four nodes of one GPU.
    expect(l4.limits).toEqual({ 'nvidia.com/gpu': '4', cpu: '16' });
    expect(l4.disruption).toEqual({
      consolidationPolicy: 'WhenEmpty',
      consolidateAfter: '5m',
      budgets: [{ nodes: '10%' }],
    });
    // The H100 pool's one node is the node group; Karpenter adds the second.
    expect((byName('NodePool', 'mlstack-h100').spec as unknown as { limits: unknown }).limits).toEqual({
      'nvidia.com/gpu': '8',
      cpu: '192',
    });
    const nodeClass = byName('EC2NodeClass', 'mlstack-l4').spec as unknown as Record<string, unknown>;
    expect(nodeClass).toMatchObject({
      amiSelectorTerms: [{ alias: 'al2023@latest' }],
      subnetSelectorTerms: [{ tags: { 'karpenter.sh/discovery': 'ml' } }],
      securityGroupSelectorTerms: [{ tags: { 'aws:eks:cluster-name': 'ml' } }],
      blockDeviceMappings: [
        { deviceName: '/dev/xvda', ebs: { volumeSize: '200Gi', volumeType: 'gp3', encrypted: true } },
      ],
      metadataOptions: { httpEndpoint: 'enabled', httpTokens: 'required', httpPutResponseHopLimit: 1 },
    });
    // The node role it names exists under that name, can join the cluster, and only Karpenter may pass it.
    template.hasResourceProperties('AWS::IAM::Role', {
      RoleName: nodeClass.role,
      AssumeRolePolicyDocument: {
        Statement: [Match.objectLike({ Principal: { Service: 'ec2.amazonaws.com' } })],
      },
    });
    template.hasResourceProperties('AWS::EKS::AccessEntry', { Type: 'EC2_LINUX' });
    for (const statement of [
      {
        Sid: 'AllowPassingInstanceRole',
        Action: 'iam:PassRole',
        Condition: { StringEquals: { 'iam:PassedToService': 'ec2.amazonaws.com' } },
      },
      {
        Sid: 'AllowScopedDeletion',
        Condition: Match.objectLike({
          StringEquals: { 'aws:ResourceTag/kubernetes.io/cluster/ml': 'owned' },
        }),
      },
    ]) {
      template.hasResourceProperties('AWS::IAM::Policy', {
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike(statement)]) },
      });
    }
  });

  it("runs Karpenter's controller with EKS Pod Identity and an interruption queue fed by EventBridge", () => {
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'kube-system',
      ServiceAccount: 'karpenter',
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 300,
      SqsManagedSseEnabled: true,
    });
    const rules = Object.values(template.findResources('AWS::Events::Rule')) as {
      Properties: { EventPattern: { 'detail-type': string[] } };
    }[];
    expect(rules.map((r) => r.Properties.EventPattern['detail-type'][0]).sort()).toEqual([
      'AWS Health Event',
      'EC2 Instance Rebalance Recommendation',
      'EC2 Instance State-change Notification',
      'EC2 Spot Instance Interruption Warning',
    ]);
    // Karpenter launches into the private subnets, which carry its discovery tag.
    template.hasResourceProperties('AWS::EC2::Subnet', {
      Tags: Match.arrayWith([{ Key: 'karpenter.sh/discovery', Value: 'ml' }]),
    });
    const chart = cluster.helmCharts.find((c) => c.release === 'karpenter')!;
    expect(chart).toMatchObject({
      repository: 'oci://public.ecr.aws/karpenter/karpenter',
      namespace: 'kube-system',
      values: {
        settings: { clusterName: 'ml', interruptionQueue: expect.stringMatching(/^ml-karpenter-/) },
        serviceAccount: { name: 'karpenter' },
        nodeSelector: { 'mlstack.io/pool': 'system' },
      },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      QueueName: (chart.values.settings as { interruptionQueue: string }).interruptionQueue,
    });
  });

  it('says what scales each pool, so that the wiring check passes', () => {
    expect(cluster.wiring.graph.pools.map((p) => [p.pool, p.scaler])).toEqual([
      ['system', 'Karpenter NodePool mlstack-system (2 nodes above the minimum)'],
      ['l4', 'Karpenter NodePool mlstack-l4 (4 nodes above the minimum)'],
      ['h100', 'Karpenter NodePool mlstack-h100 (1 nodes above the minimum)'],
    ]);
    expect(cluster.wiring.check()).toEqual([]);
  });

  it('outputs the cluster name and the kubeconfig command', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).some((k) => k.startsWith('GpusClusterName'))).toBe(true);
    expect(JSON.stringify(outputs)).toContain('aws eks update-kubeconfig --name');
  });

  it('deploys the NVIDIA device plugin per GPU pool (manifests only, no kubectl layer)', () => {
    expect(
      cluster.manifests.manifests
        .map((m) => `${m.kind}/${m.metadata.name}`)
        .filter((k) => k.includes('nvidia-device-plugin')),
    ).toEqual([
      'ConfigMap/nvidia-device-plugin-l4',
      'DaemonSet/nvidia-device-plugin-l4',
      'ConfigMap/nvidia-device-plugin-h100',
      'DaemonSet/nvidia-device-plugin-h100',
    ]);
    template.resourceCountIs('Custom::AWSCDK-EKS-KubernetesResource', 0);
  });

  it("matches the snapshot of the cluster's own resources", () => {
    // What mlstack configures: the VPC, key, cluster, add-on, node groups and their roles, and the outputs; not the
    // bootstrap parameters or aws-eks-v2's internal readiness barrier, which change with aws-cdk-lib.
    const t = template.toJSON() as {
      Resources: Record<string, { Type: string }>;
      Outputs: Record<string, unknown>;
    };
    const resources = Object.fromEntries(
      Object.entries(t.Resources).filter(([, r]) => r.Type !== 'AWS::SSM::Parameter'),
    );
    expect({ resources, outputs: t.Outputs }).toMatchSnapshot();
  });
});

describe('GpuCluster on AWS with a kubectl layer', () => {
  it('applies the manifests through the EKS kubectl provider at cdk deploy', () => {
    const s2 = awsStack({
      kubectlLayer: (scope) =>
        LayerVersion.fromLayerVersionArn(
          scope,
          'Kubectl',
          'arn:aws:lambda:us-east-1:123456789012:layer:kubectl:1',
        ),
    });
    new GpuCluster(s2, 'Gpus', { gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }] });
    const template = awsTemplate(s2);
    // The device plugin, and Karpenter's NodePools of the two pools, and its chart.
    template.resourceCountIs('Custom::AWSCDK-EKS-KubernetesResource', 3);
    template.hasResourceProperties('Custom::AWSCDK-EKS-HelmChart', {
      Chart: 'karpenter',
      Repository: 'oci://public.ecr.aws/karpenter/karpenter',
      Namespace: 'kube-system',
    });
    template.hasResourceProperties('Custom::AWSCDK-EKS-KubernetesResource', {
      Manifest: Match.stringLikeRegexp('nvidia-device-plugin-l4'),
      Overwrite: true,
      // Objects dropped from the group on a later deploy are deleted, found by this label (as aws-eks-v2 prunes).
      PruneLabel: Match.stringLikeRegexp('^aws\\.cdk\\.eks/prune-c8[0-9a-f]+$'),
    });
    const resource = Object.values(
      template.findResources('Custom::AWSCDK-EKS-KubernetesResource', {
        Properties: { Manifest: Match.stringLikeRegexp('nvidia-device-plugin-l4') },
      }) as Record<string, { Properties: { Manifest: string; PruneLabel: string } }>,
    )[0].Properties;
    const objects = JSON.parse(resource.Manifest) as { metadata: { labels: Record<string, string> } }[];
    expect(objects.length).toBeGreaterThan(0);
    for (const o of objects) expect(o.metadata.labels).toHaveProperty(resource.PruneLabel, '');
  });
});

describe('GpuCluster MIG on AWS', () => {
  it('labels nodes for the MIG manager and warns that EKS has no managed MIG', () => {
    const stack = awsStack();
    new GpuCluster(stack, 'Gpus', {
      gpuPools: [
        {
          name: 'a100',
          gpu: { type: GpuType.NVIDIA_A100_80GB, count: 8 },
          sharing: GpuSharing.mig('3g.40gb'),
        },
      ],
    });
    const cluster = stack.node.findChild('Gpus') as GpuCluster;
    awsTemplate(stack);
    const pool = cluster.manifests.manifests.find(
      (m) => m.kind === 'NodePool' && m.metadata.name === 'mlstack-a100',
    ) as unknown as {
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    expect(pool.spec.template.metadata.labels).toMatchObject({ 'nvidia.com/mig.config': 'all-3g.40gb' });
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'aws:cdk:warning'));
    expect(JSON.stringify(warnings)).toContain('EKS has no managed MIG partitioning');
  });
});

describe('the example platform on AWS', () => {
  it('passes the CloudFormation validator and cdk-nag AwsSolutions', () => {
    const stack = awsStack({ env: { region: 'us-east-1' } });
    definePlatform(stack);
    expect(() => awsTemplate(stack)).not.toThrow();
  });
});
