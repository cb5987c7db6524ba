// mlstack constructs in stacks the user already has: a plain aws-cdk-lib Stack, a plain cdktf TerraformStack with
// or without its own providers. Nothing changes the user's base class, and no second provider appears.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { RandomProvider } from '@cdktf/provider-random/lib/provider';
import { App as TerraformApp, TerraformStack, Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { MlflowTracking } from '../constructs/mlflow-tracking';
import { GpuType } from '../src/spec/gpu';
import { AwsMlStack, EksCluster } from '../stacks/aws';
import { GcpMlStack, GkeCluster } from '../stacks/gcp';
import { AzureMlStack } from '../stacks/azure';
import { MlStack } from '../stacks/ml-stack';
import { awsApp } from './support/synth';
import { listFiles } from '../src/synth/files';

const pools = [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }];
const tfJson = (stack: TerraformStack) =>
  JSON.parse(Testing.synth(stack, true)) as {
    provider: Record<string, unknown[]>;
    resource: Record<string, Record<string, Record<string, unknown>>>;
  };

describe('a plain aws-cdk-lib Stack', () => {
  it('takes mlstack constructs as it is, with the AWS defaults', () => {
    const app = awsApp();
    const stack = new Stack(app, 'existing', { env: { region: 'eu-west-1', account: '123456789012' } });
    const cluster = new GpuCluster(stack, 'Gpus', { gpuPools: pools });
    expect(MlStack.of(cluster)).toMatchObject({ cloud: 'aws', stackName: 'existing' });
    expect(EksCluster.of(cluster).eksCluster.stack).toBe(stack);
    app.synth();
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::EKS::Cluster', 1);
    t.resourceCountIs('AWS::EC2::VPC', 1);
  });

  it('takes options through AwsMlStack.enable, once', () => {
    const app = awsApp();
    const stack = new Stack(app, 'existing', { env: { region: 'eu-west-1', account: '123456789012' } });
    AwsMlStack.enable(stack, { maxAzs: 2 });
    new GpuCluster(stack, 'Gpus', { gpuPools: pools });
    app.synth();
    Template.fromStack(stack).resourceCountIs('AWS::EC2::Subnet', 4);
    expect(() => AwsMlStack.enable(stack)).toThrow(/already an mlstack stack; enable it once/);
    expect(() => AwsMlStack.enable(new AwsMlStack(app, 'ml'))).toThrow(/already an mlstack stack/);
  });
});

describe('a plain cdktf TerraformStack', () => {
  it('with its own google provider: uses it, adds none, and finds project and region on it', () => {
    const stack = new TerraformStack(Testing.app(), 'existing');
    new GoogleProvider(stack, 'Google', { project: 'acme-infra', region: 'europe-west4' });
    new StorageBucket(stack, 'Theirs', { name: 'acme-infra-theirs', location: 'EU' });
    const cluster = new GpuCluster(stack, 'Gpus', { gpuPools: pools });
    expect(MlStack.of(cluster)).toMatchObject({ cloud: 'gcp', stackName: 'existing' });
    expect(GkeCluster.of(cluster).cluster.terraformResourceType).toBe('google_container_cluster');
    const json = tfJson(stack);
    expect(json.provider.google).toHaveLength(1);
    expect(json.resource.google_storage_bucket).toHaveProperty('Theirs');
    expect(Object.values(json.resource.google_container_cluster).map((c) => c.location)).toEqual([
      'europe-west4',
    ]);
  });

  it('with its own random provider: generated passwords use it', () => {
    const stack = new TerraformStack(Testing.app(), 'existing');
    new GoogleProvider(stack, 'google', { project: 'acme-infra', region: 'europe-west4' });
    new RandomProvider(stack, 'rnd');
    const cluster = new GpuCluster(stack, 'Gpus', { gpuPools: pools });
    new MlflowTracking(stack, 'Mlflow', { cluster, production: true });
    const json = tfJson(stack);
    expect(json.provider.random).toHaveLength(1);
    expect(json.provider.google).toHaveLength(1);
  });

  it('without a provider: GcpMlStack.enable declares one and leaves the backend alone', () => {
    const stack = new TerraformStack(Testing.app(), 'existing');
    GcpMlStack.enable(stack, { project: 'acme-infra', region: 'us-central1' });
    new GpuCluster(stack, 'Gpus', { gpuPools: pools });
    const json = tfJson(stack) as unknown as {
      provider: Record<string, unknown[]>;
      terraform: { backend?: unknown };
    };
    expect(json.provider.google).toEqual([{ project: 'acme-infra', region: 'us-central1' }]);
    expect(json.terraform.backend).toBeUndefined();
  });

  it('without a provider nor enable: says which one line to add', () => {
    const stack = new TerraformStack(Testing.app(), 'existing');
    expect(() => new GpuCluster(stack, 'Gpus', { gpuPools: pools })).toThrow(
      /existing\/Gpus: mlstack constructs must be created inside an mlstack stack.*GcpMlStack\.enable\(stack, \{ project, region \}\)/,
    );
  });

  it('refuses a provider for another project', () => {
    const stack = new TerraformStack(Testing.app(), 'existing');
    new GoogleProvider(stack, 'google', { project: 'acme-other', region: 'us-central1' });
    expect(() => GcpMlStack.enable(stack, { project: 'acme-infra', region: 'us-central1' })).toThrow(
      /provider is for project 'acme-other', not 'acme-infra'/,
    );
  });

  it("on Azure: uses the stack's azurerm provider when it manages storage with Entra ID, and says so when not", () => {
    const ok = new TerraformStack(Testing.app({ enableFutureFlags: false }), 'existing');
    new AzurermProvider(ok, 'azure', { features: [{}], storageUseAzuread: true });
    AzureMlStack.enable(ok, {
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      location: 'westeurope',
    });
    new GpuCluster(ok, 'Gpus', { gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }] });
    expect(tfJson(ok).provider.azurerm).toHaveLength(1);

    const bad = new TerraformStack(Testing.app(), 'other');
    new AzurermProvider(bad, 'azurerm', { features: [{}] });
    expect(() =>
      AzureMlStack.enable(bad, {
        subscriptionId: '00000000-0000-0000-0000-000000000000',
        location: 'westeurope',
      }),
    ).toThrow(/azurerm provider must set storageUseAzuread: true/);
  });

  it('writes the Kubernetes objects next to cdk.tf.json at app.synth(), and warns that Terraform does not apply them', () => {
    const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-cdktf-'));
    try {
      const app = new TerraformApp({ outdir, skipValidation: true });
      const stack = new TerraformStack(app, 'existing');
      new AzurermProvider(stack, 'azurerm', { features: [{}], storageUseAzuread: true });
      AzureMlStack.enable(stack, {
        subscriptionId: '00000000-0000-0000-0000-000000000000',
        location: 'westeurope',
      });
      // AKS runs mlstack's NVIDIA device plugin: objects to write.
      const cluster = new GpuCluster(stack, 'Gpus', {
        gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }],
      });
      app.synth();
      const dir = path.join(outdir, 'k8s', 'existing', cluster.clusterName);
      const written = listFiles(dir).sort();
      expect(written).toEqual(
        cluster
          .outputFiles()
          .map((f) => f.fileName)
          .sort(),
      );
      expect(written.join(' ')).toMatch(/nvidia-device-plugin/);
      for (const f of cluster.outputFiles()) {
        expect(fs.readFileSync(path.join(dir, f.fileName), 'utf8')).toBe(f.content);
      }
      expect(fs.existsSync(path.join(outdir, 'stacks', 'existing', 'cdk.tf.json'))).toBe(true);
      expect(stack.node.findAll().flatMap((c) => c.node.metadata.map((m) => m.data))).toContainEqual(
        expect.stringMatching(/written to <cdktf output>\/k8s\/existing\/.* not applied by Terraform/),
      );
    } finally {
      fs.rmSync(outdir, { recursive: true, force: true });
    }
  });
});
