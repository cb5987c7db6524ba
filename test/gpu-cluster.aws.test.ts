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

  it('runs nodes in private subnets of a VPC with flow logs', () => {
    template.hasResourceProperties('AWS::EC2::FlowLog', { TrafficType: 'REJECT' });
  });

  it('makes a system node group and one node group per GPU pool with NVIDIA AMIs', () => {
    template.resourceCountIs('AWS::EKS::Nodegroup', 3);
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      AmiType: 'AL2023_x86_64_STANDARD',
      InstanceTypes: ['m6i.xlarge'],
      ScalingConfig: { MinSize: 2, MaxSize: 4, DesiredSize: 2 },
      Labels: { 'mlstack.io/pool': 'system' },
    });
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      AmiType: 'AL2023_x86_64_NVIDIA',
      InstanceTypes: ['g6.xlarge'],
      CapacityType: 'SPOT',
      ScalingConfig: { MinSize: 0, MaxSize: 4, DesiredSize: 0 },
      DiskSize: 200,
      Labels: { 'mlstack.io/pool': 'l4', 'mlstack.io/gpu': 'true', 'mlstack.io/gpu-type': 'nvidia-l4' },
      Taints: [{ Key: 'nvidia.com/gpu', Value: 'present', Effect: 'NO_SCHEDULE' }],
    });
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      InstanceTypes: ['p5.48xlarge'],
      CapacityType: 'ON_DEMAND',
      ScalingConfig: { MinSize: 1, MaxSize: 2, DesiredSize: 1 },
      DiskSize: 1000,
    });
  });

  it('tags GPU node groups so the Cluster Autoscaler can scale them from zero', () => {
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      InstanceTypes: ['g6.xlarge'],
      Tags: Match.objectLike({
        'k8s.io/cluster-autoscaler/enabled': 'true',
        'k8s.io/cluster-autoscaler/ml': 'owned',
        'k8s.io/cluster-autoscaler/node-template/resources/nvidia.com/gpu': '1',
        'k8s.io/cluster-autoscaler/node-template/taint/nvidia.com/gpu': 'present:NoSchedule',
        'k8s.io/cluster-autoscaler/node-template/label/mlstack.io/pool': 'l4',
        team: 'ml',
      }),
    });
  });

  it('outputs the cluster name and the kubeconfig command', () => {
    const outputs = template.findOutputs('*');
    expect(Object.keys(outputs).some((k) => k.startsWith('GpusClusterName'))).toBe(true);
    expect(JSON.stringify(outputs)).toContain('aws eks update-kubeconfig --name');
  });

  it('deploys the NVIDIA device plugin per GPU pool (manifests only, no kubectl layer)', () => {
    expect(cluster.manifests.manifests.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
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
    template.resourceCountIs('Custom::AWSCDK-EKS-KubernetesResource', 1);
    template.hasResourceProperties('Custom::AWSCDK-EKS-KubernetesResource', {
      Manifest: Match.stringLikeRegexp('nvidia-device-plugin-l4'),
      Overwrite: true,
      // Objects dropped from the group on a later deploy are deleted, found by this label (as aws-eks-v2 prunes).
      PruneLabel: Match.stringLikeRegexp('^aws\\.cdk\\.eks/prune-c8[0-9a-f]+$'),
    });
    const resource = Object.values(
      template.findResources('Custom::AWSCDK-EKS-KubernetesResource') as Record<
        string,
        { Properties: { Manifest: string; PruneLabel: string } }
      >,
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
    const template = awsTemplate(stack);
    template.hasResourceProperties('AWS::EKS::Nodegroup', {
      InstanceTypes: ['p4de.24xlarge'],
      Labels: Match.objectLike({ 'nvidia.com/mig.config': 'all-3g.40gb' }),
    });
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
