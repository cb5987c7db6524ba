import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { GpuSharing } from '../src/spec/cluster';
import { GpuType } from '../src/spec/gpu';
import { MlApp } from '../stacks/app';
import { AwsMlStack } from '../stacks/aws';
import { GcpMlStack } from '../stacks/gcp';

describe('MlApp', () => {
  it('fails when two clouds use one stack name, since k8s/<stack>/ would collide', () => {
    const app = new MlApp({ outdir: fs.mkdtempSync(path.join(os.tmpdir(), 'mlapp-')) });
    new AwsMlStack(app.aws, 'platform');
    new GcpMlStack(app.gcp, 'platform', { project: 'acme-ml', region: 'us-central1' });
    expect(() => app.synth()).toThrow(
      "Stack name 'platform' is used on aws and on gcp: Kubernetes manifests are written to k8s/<stack>/, so stack names must be unique across clouds. Rename one, e.g. 'platform-gcp'.",
    );
  });

  it('creates only the apps a program uses, and reports stacks, files and warnings', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlapp-'));
    const app = new MlApp({ outdir, awsContext: { 'aws:cdk:disable-asset-staging': true } });
    const stack = new AwsMlStack(app.aws, 'only-aws');
    new GpuCluster(stack, 'Gpus', {
      gpuPools: [
        {
          name: 'a100',
          gpu: { type: GpuType.NVIDIA_A100_80GB, count: 8 },
          sharing: GpuSharing.mig('1g.10gb'),
        },
      ],
    });
    const result = app.synth();
    expect(result.stacks).toEqual([{ cloud: 'aws', name: 'only-aws' }]);
    expect(fs.readdirSync(outdir).sort()).toEqual(['aws', 'k8s']);
    expect(result.files).toContain(
      'k8s/only-aws/gpus/09-daemonset-kube-system-nvidia-device-plugin-a100.yaml',
    );
    expect(result.warnings).toEqual([
      { path: 'only-aws/Gpus', message: expect.stringContaining('EKS has no managed MIG partitioning') },
    ]);
    expect(app.lastSynth).toBe(result);
  });
});
