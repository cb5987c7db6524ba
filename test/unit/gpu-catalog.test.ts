import { describe, expect, it } from 'vitest';
import { CLOUDS, GpuType, gpuOfferings, gpuTypesOn, resolveGpuInstance } from '../../src/spec/gpu';

describe('GPU catalog', () => {
  it('offers at least T4, A10G, L4, L40S, A100 40/80 GB and H100 80 GB somewhere', () => {
    for (const gpu of GpuType.all()) {
      expect(
        CLOUDS.some((c) => gpuOfferings(c, gpu).length > 0),
        gpu.id,
      ).toBe(true);
    }
    expect(GpuType.all().map((g) => g.id)).toEqual([
      'nvidia-t4',
      'nvidia-a10g',
      'nvidia-l4',
      'nvidia-l40s',
      'nvidia-a100-40gb',
      'nvidia-a100-80gb',
      'nvidia-h100-80gb',
    ]);
  });

  it.each([
    ['aws', GpuType.NVIDIA_L4, 1, 'g6.xlarge'],
    ['aws', GpuType.NVIDIA_L4, 4, 'g6.12xlarge'],
    ['aws', GpuType.NVIDIA_A10G, 8, 'g5.48xlarge'],
    ['aws', GpuType.NVIDIA_T4, 1, 'g4dn.xlarge'],
    ['aws', GpuType.NVIDIA_L40S, 1, 'g6e.xlarge'],
    ['aws', GpuType.NVIDIA_A100_40GB, 8, 'p4d.24xlarge'],
    ['aws', GpuType.NVIDIA_A100_80GB, 8, 'p4de.24xlarge'],
    ['aws', GpuType.NVIDIA_H100_80GB, 8, 'p5.48xlarge'],
    ['gcp', GpuType.NVIDIA_L4, 1, 'g2-standard-4'],
    ['gcp', GpuType.NVIDIA_L4, 2, 'g2-standard-24'],
    ['gcp', GpuType.NVIDIA_T4, 4, 'n1-standard-16'],
    ['gcp', GpuType.NVIDIA_A100_80GB, 1, 'a2-ultragpu-1g'],
    ['gcp', GpuType.NVIDIA_H100_80GB, 8, 'a3-highgpu-8g'],
    ['azure', GpuType.NVIDIA_T4, 1, 'Standard_NC4as_T4_v3'],
    ['azure', GpuType.NVIDIA_A100_80GB, 1, 'Standard_NC24ads_A100_v4'],
    ['azure', GpuType.NVIDIA_H100_80GB, 8, 'Standard_ND96isr_H100_v5'],
  ] as const)('%s: %s × %i → %s', (cloud, gpu, count, type) => {
    const r = resolveGpuInstance(cloud, gpu, count);
    expect(r).toMatchObject({ ok: true, offering: { instanceType: type, gpusPerNode: count } });
  });

  it('gives GCP accelerator names', () => {
    const r = resolveGpuInstance('gcp', GpuType.NVIDIA_A100_40GB, 2);
    expect(r).toMatchObject({
      ok: true,
      offering: { instanceType: 'a2-highgpu-2g', acceleratorType: 'nvidia-tesla-a100' },
    });
  });

  it('reports a GPU type the cloud does not offer, with what it offers', () => {
    const r = resolveGpuInstance('gcp', GpuType.NVIDIA_A10G, 1);
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.field).toBe('type');
      expect(r.reason).toContain('Google Cloud does not offer NVIDIA A10G');
      expect(r.reason).toContain('nvidia-l4');
    }
    expect(gpuTypesOn('azure').map((g) => g.id)).not.toContain('nvidia-l4');
  });

  it('reports a GPU count no node type holds, with the counts that exist', () => {
    const r = resolveGpuInstance('aws', GpuType.NVIDIA_L4, 3);
    expect(r).toMatchObject({ ok: false, field: 'count' });
    if (!r.ok) expect(r.reason).toContain('1, 4, 8');
  });

  it('checks an explicit instance type against the GPU and the count', () => {
    expect(resolveGpuInstance('aws', GpuType.NVIDIA_L4, 1, 'g6.8xlarge')).toMatchObject({
      ok: true,
      offering: { instanceType: 'g6.8xlarge', vcpus: 32 },
    });
    expect(resolveGpuInstance('aws', GpuType.NVIDIA_L4, 1, 'g5.xlarge')).toMatchObject({
      ok: false,
      field: 'instanceType',
    });
    expect(resolveGpuInstance('aws', GpuType.NVIDIA_L4, 2, 'g6.xlarge')).toMatchObject({
      ok: false,
      field: 'count',
    });
  });

  it('knows which GPUs have MIG', () => {
    expect(GpuType.NVIDIA_A100_80GB.supportsMig).toBe(true);
    expect(GpuType.NVIDIA_H100_80GB.migProfiles).toContain('1g.10gb');
    expect(GpuType.NVIDIA_L4.supportsMig).toBe(false);
  });
});
