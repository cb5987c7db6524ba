import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import {
  devicePluginConfig,
  nvidiaDevicePlugin,
  NVIDIA_DEVICE_PLUGIN_IMAGE,
} from '../../src/k8s/nvidia-device-plugin';
import { toManifest } from '../../src/k8s/manifest';
import { DEFAULT_GPU_TAINT, GpuSharing, type NodePoolSpec } from '../../src/spec/cluster';
import { GpuType } from '../../src/spec/gpu';

const pool = (sharing?: GpuSharing): NodePoolSpec => ({
  name: 'l4',
  role: 'gpu',
  instanceType: 'g6.xlarge',
  vcpus: 4,
  memoryGiB: 16,
  gpu: { type: GpuType.NVIDIA_L4, count: 1, ...(sharing ? { sharing } : {}) },
  minNodes: 0,
  maxNodes: 2,
  spot: false,
  diskSizeGiB: 200,
  labels: { 'mlstack.io/pool': 'l4' },
  taints: [DEFAULT_GPU_TAINT],
});

describe('NVIDIA device plugin', () => {
  it('whole GPUs: no sharing, no MIG', () => {
    expect(devicePluginConfig(pool())).toEqual({
      version: 'v1',
      flags: { migStrategy: 'none', failOnInitError: true },
    });
  });

  it('time-slicing advertises replicas per GPU', () => {
    expect(devicePluginConfig(pool(GpuSharing.timeSlicing(4)))).toMatchObject({
      sharing: { timeSlicing: { resources: [{ name: 'nvidia.com/gpu', replicas: 4 }] } },
    });
  });

  it('MIG uses the single strategy', () => {
    expect(devicePluginConfig(pool(GpuSharing.mig('1g.10gb')))).toMatchObject({
      flags: { migStrategy: 'single' },
    });
  });

  it('one schema-valid ConfigMap and DaemonSet per pool, pinned, on the pool only, tolerating its taints', () => {
    const [cm, ds] = nvidiaDevicePlugin([pool(GpuSharing.timeSlicing(2))]).map(toManifest) as unknown as [
      { data: Record<string, string> },
      { spec: { template: { spec: Record<string, unknown> } } },
    ];
    expect(parse(cm.data['config.yaml'])).toMatchObject({ version: 'v1' });
    const podSpec = ds.spec.template.spec as {
      nodeSelector: Record<string, string>;
      tolerations: unknown[];
      containers: { image: string; securityContext: unknown }[];
    };
    expect(podSpec.nodeSelector).toEqual({ 'mlstack.io/pool': 'l4' });
    expect(podSpec.tolerations).toContainEqual({
      key: 'nvidia.com/gpu',
      operator: 'Exists',
      effect: 'NoSchedule',
    });
    expect(podSpec.containers[0].image).toBe(NVIDIA_DEVICE_PLUGIN_IMAGE);
    expect(podSpec.containers[0].image).toMatch(/:v\d+\.\d+\.\d+$/);
    expect(podSpec.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
    });
  });
});
