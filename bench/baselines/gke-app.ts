// Baseline: the least a bare cdktf program needs for a GKE cluster with one GPU node pool (deep imports).
import { ContainerCluster } from '@cdktf/provider-google/lib/container-cluster';
import { ContainerNodePool } from '@cdktf/provider-google/lib/container-node-pool';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { App, TerraformStack } from 'cdktf';

const app = new App({ outdir: process.env.BENCH_OUT });
const stack = new TerraformStack(app, 'bare-gke');
new GoogleProvider(stack, 'google', { project: 'acme-ml', region: 'us-central1' });
const cluster = new ContainerCluster(stack, 'Cluster', {
  name: 'bare',
  location: 'us-central1',
  removeDefaultNodePool: true,
  initialNodeCount: 1,
});
new ContainerNodePool(stack, 'Gpu', {
  cluster: cluster.id,
  autoscaling: { totalMinNodeCount: 0, totalMaxNodeCount: 2 },
  nodeConfig: { machineType: 'n1-standard-4', guestAccelerator: [{ type: 'nvidia-tesla-t4', count: 1 }] },
});
app.synth();
