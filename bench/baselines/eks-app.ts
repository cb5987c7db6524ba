// Baseline: the least a bare aws-cdk-lib program needs for an EKS cluster with one GPU node group.
import { App, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';

const app = new App();
const stack = new Stack(app, 'bare-eks');
const cluster = new eks.Cluster(stack, 'Cluster', {
  version: eks.KubernetesVersion.V1_33,
  defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
  defaultCapacity: 0,
});
cluster.addNodegroupCapacity('gpu', {
  instanceTypes: [new ec2.InstanceType('g4dn.xlarge')],
  minSize: 0,
  maxSize: 2,
});
app.synth();
