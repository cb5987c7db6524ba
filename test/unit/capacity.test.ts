import { describe, expect, it } from 'vitest';
import { cpuCores, memoryGiB, nodeAllocatable, podsPerNode } from '../../src/serving/capacity';
import { DEFAULT_GPU_TAINT, GpuSharing, type NodePoolSpec } from '../../src/spec/cluster';
import { GpuType } from '../../src/spec/gpu';

const pool = (over: Partial<NodePoolSpec> = {}): NodePoolSpec => ({
  name: 'l4',
  role: 'gpu',
  instanceType: 'g6.xlarge',
  vcpus: 4,
  memoryGiB: 16,
  gpu: { type: GpuType.NVIDIA_L4, count: 1 },
  minNodes: 0,
  maxNodes: 6,
  spot: false,
  diskSizeGiB: 200,
  labels: {},
  taints: [DEFAULT_GPU_TAINT],
  ...over,
});

describe('node capacity', () => {
  it("takes the kubelet's reservations (GKE's formulas) and the node agents from a g6.xlarge", () => {
    const n = nodeAllocatable(pool());
    // CPU: 4 − (0.06 + 0.01 + 2 × 0.005) − (0.3 + 0.15) = 3.47
    expect(n.cpu).toBeCloseTo(3.47, 6);
    // Memory: 16 − (0.25 × 4 + 0.2 × 4 + 0.1 × 8) − 100 MiB − (0.5 + 320 MiB) = 12.490234375 GiB
    expect(n.memoryGiB).toBeCloseTo(16 - 2.6 - 100 / 1024 - 0.5 - 320 / 1024, 9);
    expect(n.gpus).toBe(1);
  });

  it('counts time-slices and MIG instances as schedulable GPUs', () => {
    expect(
      nodeAllocatable(
        pool({ gpu: { type: GpuType.NVIDIA_L4, count: 1, sharing: GpuSharing.timeSlicing(4) } }),
      ).gpus,
    ).toBe(4);
    expect(
      nodeAllocatable(
        pool({ gpu: { type: GpuType.NVIDIA_A100_80GB, count: 8, sharing: GpuSharing.mig('1g.10gb') } }),
      ).gpus,
    ).toBe(56);
    expect(nodeAllocatable(pool({ role: 'system', gpu: undefined })).gpus).toBe(0);
  });

  it('fits pods by the first resource to run out', () => {
    const sliced = pool({ gpu: { type: GpuType.NVIDIA_L4, count: 1, sharing: GpuSharing.timeSlicing(4) } });
    expect(podsPerNode(sliced, { cpu: '2', memory: '8Gi', gpus: 1 })).toMatchObject({
      pods: 1,
      limitedBy: 'cpu',
    });
    expect(podsPerNode(sliced, { cpu: '800m', memory: '3Gi', gpus: 1 }).pods).toBe(4);
    expect(podsPerNode(sliced, { cpu: '100m', memory: '5Gi', gpus: 1 })).toMatchObject({
      pods: 2,
      limitedBy: 'memory',
    });
  });

  it('reads Kubernetes quantities', () => {
    expect(cpuCores('500m')).toBe(0.5);
    expect(cpuCores('2')).toBe(2);
    expect(memoryGiB('512Mi')).toBe(0.5);
    expect(memoryGiB('2Gi')).toBe(2);
    expect(memoryGiB('1G')).toBeCloseTo(0.931, 3);
    expect(memoryGiB('lots')).toBeNaN();
  });
});
