import { GpuCluster, GpuSharing, GpuType, type IMlStack, KubernetesVersion } from '../index';

/**
 * The example ML platform, written once against the cloud-neutral API: every cloud's stack gets the same
 * constructs. Pools whose GPU a cloud does not offer are chosen per cloud from the catalog.
 */
export function definePlatform(stack: IMlStack): void {
  const inferenceGpu = stack.cloud === 'azure' ? GpuType.NVIDIA_T4 : GpuType.NVIDIA_L4;
  new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml-platform',
    version: KubernetesVersion.V1_33,
    gpuPools: [
      {
        name: 'inference',
        gpu: { type: inferenceGpu, count: 1 },
        minNodes: 0,
        maxNodes: 6,
        spot: true,
        sharing: GpuSharing.timeSlicing(4),
      },
      {
        name: 'training',
        gpu: { type: GpuType.NVIDIA_A100_80GB, count: stack.cloud === 'aws' ? 8 : 1 },
        minNodes: 0,
        maxNodes: 2,
        diskSizeGiB: 500,
      },
    ],
    tags: { team: 'ml-platform', 'cost-center': 'ml-1234' },
  });
}
