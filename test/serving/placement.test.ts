import { describe, expect, it } from 'vitest';
import { checkServingPlacement } from '../../src/serving/placement';
import { DEFAULT_GPU_TAINT, type NodePoolSpec } from '../../src/spec/cluster';
import { GpuType } from '../../src/spec/gpu';

const pool = (name: string, type: GpuType, count: number): NodePoolSpec => ({
  name,
  role: 'gpu',
  instanceType: 'x',
  vcpus: 8 * count,
  memoryGiB: 32 * count,
  gpu: { type, count },
  minNodes: 0,
  maxNodes: 2,
  spot: false,
  diskSizeGiB: 200,
  labels: {},
  taints: [DEFAULT_GPU_TAINT],
});
const pools = [
  pool('l4', GpuType.NVIDIA_L4, 1),
  pool('l4x4', GpuType.NVIDIA_L4, 4),
  pool('a100', GpuType.NVIDIA_A100_80GB, 8),
];
const where = "TritonService 'stack/Classifier'";

describe('checkServingPlacement', () => {
  it('picks the first pool of the GPU type that holds the GPUs of a replica', () => {
    expect(
      checkServingPlacement(where, { runtime: 'triton', gpu: { type: GpuType.NVIDIA_L4 } }, pools).pool?.name,
    ).toBe('l4');
    expect(
      checkServingPlacement(where, { runtime: 'triton', gpu: { type: GpuType.NVIDIA_L4, count: 2 } }, pools)
        .pool?.name,
    ).toBe('l4x4');
    expect(checkServingPlacement(where, { runtime: 'onnxruntime' }, pools)).toEqual({
      gpuCount: 0,
      replicas: { min: 2, max: 4 },
    });
  });

  it('fails when no pool has the GPU type, listing the pools there are', () => {
    expect(() =>
      checkServingPlacement(where, { runtime: 'triton', gpu: { type: GpuType.NVIDIA_H100_80GB } }, pools),
    ).toThrow(
      `${where}: 'gpu.type' ("nvidia-h100-80gb") has no GPU pool on this cluster; its GPU pools are l4 (nvidia-l4), l4x4 (nvidia-l4), a100 (nvidia-a100-80gb). Add a pool with gpu: { type: GpuType.NVIDIA_H100_80GB } to the GpuCluster, or pick a type it has.`,
    );
  });

  it('fails when a replica needs more GPUs than a node of the pool holds', () => {
    expect(() =>
      checkServingPlacement(where, { runtime: 'triton', gpu: { type: GpuType.NVIDIA_L4, count: 8 } }, pools),
    ).toThrow(/'gpu.count' \(8\) is more than one node of the NVIDIA L4 pools holds \(4\)/);
  });

  it('fails on min > max, on fewer than two replicas without allowSingleReplica, and on GPUs for the CPU runtime', () => {
    expect(() =>
      checkServingPlacement(where, { runtime: 'onnxruntime', replicas: { min: 5, max: 3 } }, pools),
    ).toThrow(/'replicas.min' \(5\) must not exceed 'replicas.max' \(3\)/);
    expect(() =>
      checkServingPlacement(where, { runtime: 'onnxruntime', replicas: { min: 1 } }, pools),
    ).toThrow(/'replicas.min' \(1\) leaves no replica serving.*allowSingleReplica: true/);
    expect(
      checkServingPlacement(
        where,
        { runtime: 'onnxruntime', replicas: { min: 1, max: 1 }, allowSingleReplica: true },
        pools,
      ).replicas,
    ).toEqual({ min: 1, max: 1 });
    expect(() =>
      checkServingPlacement(where, { runtime: 'onnxruntime', gpu: { type: GpuType.NVIDIA_L4 } }, pools),
    ).toThrow(/'gpu' \("nvidia-l4"\) is not used by the ONNX Runtime server/);
  });
});
