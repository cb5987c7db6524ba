import { describe, expect, it } from 'vitest';
import { GpuCluster, type GpuClusterProps } from '../constructs/gpu-cluster';
import { GpuSharing, TaintEffect } from '../src/spec/cluster';
import { MlStackValidationError } from '../src/spec/errors';
import { CLOUDS, type Cloud, GpuType } from '../src/spec/gpu';
import { gcpStack, stackFor } from './support/synth';
import { Fn } from 'cdktf';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Construct } from 'constructs';

const l4 = { name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } };
const make = (cloud: Cloud, props: Partial<GpuClusterProps>) =>
  new GpuCluster(stackFor(cloud), 'Gpus', {
    gpuPools: [cloud === 'azure' ? { ...l4, gpu: { type: GpuType.NVIDIA_T4 } } : l4],
    ...props,
  });

describe('GpuCluster validation', () => {
  it('fails when the pool list is empty', () => {
    expect(() => make('aws', { gpuPools: [] })).toThrow(
      /GpuCluster 'test\/Gpus': 'gpuPools' \(\[\]\) must list at least one GPU pool\. Add a pool/,
    );
  });

  it('fails when the cloud does not offer the GPU type, naming the prop, the value and what the cloud offers', () => {
    expect(() => make('gcp', { gpuPools: [{ name: 'a10', gpu: { type: GpuType.NVIDIA_A10G } }] })).toThrow(
      /'gpuPools\[0\]\.gpu\.type' \("nvidia-a10g"\) Google Cloud does not offer NVIDIA A10G; it offers nvidia-t4, nvidia-l4.*Pick a GPU type this cloud offers/,
    );
    expect(() => make('azure', { gpuPools: [{ name: 'l40s', gpu: { type: GpuType.NVIDIA_L40S } }] })).toThrow(
      /Azure does not offer NVIDIA L40S/,
    );
  });

  it('fails when minNodes exceeds maxNodes', () => {
    expect(() => make('aws', { gpuPools: [{ ...l4, minNodes: 4, maxNodes: 2 }] })).toThrow(
      "GpuCluster 'test/Gpus': 'gpuPools[0].minNodes' (4) must not exceed 'gpuPools[0].maxNodes' (2). Set minNodes <= maxNodes.",
    );
    expect(() => make('aws', { systemPool: { minNodes: 5, maxNodes: 3 } })).toThrow(
      /'systemPool.minNodes' \(5\) must not exceed/,
    );
  });

  it('fails when no instance type holds that many GPUs', () => {
    expect(() => make('aws', { gpuPools: [{ ...l4, gpu: { type: GpuType.NVIDIA_L4, count: 3 } }] })).toThrow(
      /'gpuPools\[0\]\.gpu\.count' \(3\) AWS has no node type with 3 × NVIDIA L4; GPUs per node can be 1, 4, 8/,
    );
    expect(() =>
      make('aws', {
        gpuPools: [{ ...l4, gpu: { type: GpuType.NVIDIA_L4, count: 4 }, instanceType: 'g6.xlarge' }],
      }),
    ).toThrow(/g6.xlarge holds 1 GPU\(s\), not 4/);
  });

  it('fails when an instance type does not carry the GPU', () => {
    expect(() => make('aws', { gpuPools: [{ ...l4, instanceType: 'g5.xlarge' }] })).toThrow(
      /'gpuPools\[0\]\.instanceType' \("g5.xlarge"\) is not a AWS type with NVIDIA L4; use one of g6.xlarge/,
    );
  });

  it('fails when MIG is asked of a GPU without MIG, or with a profile the GPU lacks', () => {
    expect(() => make('aws', { gpuPools: [{ ...l4, sharing: GpuSharing.mig('1g.10gb') }] })).toThrow(
      /'gpuPools\[0\]\.sharing' \(mig\(1g.10gb\)\) is not possible: NVIDIA L4 has no MIG. Use GpuSharing.timeSlicing/,
    );
    expect(() =>
      make('aws', {
        gpuPools: [
          {
            name: 'a100',
            gpu: { type: GpuType.NVIDIA_A100_80GB, count: 8 },
            sharing: GpuSharing.mig('1g.5gb'),
          },
        ],
      }),
    ).toThrow(/is not a MIG profile of NVIDIA A100 80GB. Use one of 1g.10gb, 2g.20gb/);
  });

  it('fails on time-slicing replicas out of range', () => {
    expect(() => make('aws', { gpuPools: [{ ...l4, sharing: GpuSharing.timeSlicing(1) }] })).toThrow(
      /'gpuPools\[0\]\.sharing\.replicas' \(1\) must be an integer between 2 and 48/,
    );
  });

  it('fails on pool names that some cloud rejects, and on duplicates', () => {
    expect(() => make('aws', { gpuPools: [{ ...l4, name: 'gpu-pool-number-one' }] })).toThrow(
      /'gpuPools\[0\]\.name' \("gpu-pool-number-one"\) is not a valid pool name. Use 1-12 lowercase letters and digits/,
    );
    expect(() => make('aws', { gpuPools: [l4, l4] })).toThrow(
      /'gpuPools\[\]\.name' \("l4"\) is used by another pool/,
    );
    expect(() => make('aws', { gpuPools: [{ ...l4, name: 'system' }] })).toThrow(
      /is reserved for the system pool/,
    );
  });

  it('fails on a public endpoint without authorized networks, and on bad CIDRs', () => {
    expect(() => make('aws', { privateEndpoint: false })).toThrow(
      /'authorizedNetworks' \(\[\]\) is empty while privateEndpoint is false/,
    );
    expect(() => make('aws', { privateEndpoint: false, authorizedNetworks: ['10.0.0.0/33'] })).toThrow(
      /'authorizedNetworks\[0\]' \("10.0.0.0\/33"\) is not an IPv4 CIDR/,
    );
  });

  it('fails on tags that some cloud rejects', () => {
    expect(() => make('gcp', { tags: { Team: 'ml' } })).toThrow(
      /'tags.Team' \("Team"\) is not a valid tag key on every cloud/,
    );
    expect(() => make('gcp', { tags: { team: 'ML Platform' } })).toThrow(
      /'tags.team' \("ML Platform"\) is not a valid tag value/,
    );
  });

  it('fails on zones in another cloud notation', () => {
    expect(() =>
      make('azure', {
        gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 }, zones: ['westeurope-1'] }],
      }),
    ).toThrow(
      /'gpuPools\[0\]\.zones\[0\]' \("westeurope-1"\) is not a zone on this cloud. Use Azure zone numbers/,
    );
  });

  it('fails on bad taints', () => {
    expect(() =>
      make('aws', { gpuPools: [{ ...l4, taints: [{ key: 'bad key', effect: TaintEffect.NO_SCHEDULE }] }] }),
    ).toThrow(/'gpuPools\[0\]\.taints\[0\]\.key' \("bad key"\) is not a valid taint key/);
  });

  it('throws MlStackValidationError carrying the prop and the value', () => {
    try {
      make('aws', { gpuPools: [{ ...l4, maxNodes: 0 }] });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(MlStackValidationError);
      expect(e).toMatchObject({ prop: 'gpuPools[0].maxNodes', value: 0 });
    }
  });

  it('fails outside an mlstack stack', () => {
    const root = new Construct(undefined as unknown as Construct, '');
    expect(() => new GpuCluster(root, 'Gpus', { gpuPools: [l4] })).toThrow(
      /must be created inside an mlstack stack\. Use AwsMlStack, GcpMlStack or AzureMlStack, or keep your stack and enable it with one line: AwsMlStack\.enable\(stack\)/,
    );
  });

  it.each(CLOUDS)('accepts the same valid props on %s', (cloud) => {
    expect(() =>
      make(cloud, {
        gpuPools: [{ name: 'a100', gpu: { type: GpuType.NVIDIA_A100_80GB, count: cloud === 'aws' ? 8 : 1 } }],
      }),
    ).not.toThrow();
  });
});

describe('GpuCluster.addManifest', () => {
  it('refuses an object carrying a deploy-time token, since manifests are files written at synth', () => {
    const cluster = new GpuCluster(gcpStack(), 'Gpus', { gpuPools: [l4] });
    const token = Fn.lower('X');
    expect(() =>
      cluster.addManifest(
        'Bad',
        new ConfigMap({ metadata: { name: 'bad', namespace: 'default' }, data: { v: token } }),
      ),
    ).toThrow(/test\/Gpus\/Bad: ConfigMap bad would contain a value known only at deploy/);
  });
});
