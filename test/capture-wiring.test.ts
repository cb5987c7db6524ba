// The capture loop as synthesized, on every cloud: a TritonService with `capture` runs the mlstack server with
// --capture-dir and a shipper sidecar that uploads the files to its model bucket under capture/<service>/ with the
// service's identity; a DriftPipeline whose current window is DriftWindow.fromCapture(service) copies that prefix
// in and compares the last hours. Who writes each file the drift job reads is checked here, end to end.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { describe, expect, it } from 'vitest';
import { DriftPipeline, DriftWindow } from '../constructs/drift-pipeline';
import { GpuCluster } from '../constructs/gpu-cluster';
import { type ServingCaptureProps, ServingRuntime, TritonService } from '../constructs/triton-service';
import type { KubernetesManifest } from '../src/k8s/manifest';
import { restrictedViolations } from '../src/k8s/pod-security';
import { AlertDestination } from '../src/monitoring/destinations';
import { ServingModel } from '../src/serving/model-repository';
import { GpuType } from '../src/spec/gpu';
import type { IMlStack } from '../stacks/ml-stack';
import type { AwsMlStack } from '../stacks/aws';
import type { AzureMlStack } from '../stacks/azure';
import type { GcpMlStack } from '../stacks/gcp';
import { awsTemplate, stackFor, terraformJson } from './support/synth';

const CLASSIFIER = path.join(__dirname, '..', 'examples', 'models', 'classifier.onnx');
const IMAGE = 'registry.example.com/mlstack-server:0.1.0';

function platform(
  stack: IMlStack,
  capture: ServingCaptureProps | false = { sampleRate: 0.2, intervalSeconds: 120 },
) {
  const cluster = new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml',
    gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }],
    alerts: [AlertDestination.email('ml-oncall@example.com')],
  });
  const service = new TritonService(stack, 'Classifier', {
    cluster,
    runtime: ServingRuntime.ONNXRUNTIME,
    image: IMAGE,
    models: [ServingModel.fromOnnxFile(CLASSIFIER, { name: 'classifier', maxBatchSize: 8 })],
    replicas: { min: 2, max: 3 },
    serviceMonitor: false,
    ...(capture ? { capture } : {}),
  });
  return { cluster, service };
}

/** A DriftPipeline over the last `lastHours` of `service`'s captured requests. */
function captureDrift(stack: IMlStack, cluster: GpuCluster, service: TritonService, lastHours: number) {
  return new DriftPipeline(stack, 'Drift', {
    cluster,
    schedule: '0 * * * *',
    reference: 'reference.jsonl',
    current: DriftWindow.fromCapture(service, { lastHours }),
    image: IMAGE,
  });
}

function podOf(manifests: readonly KubernetesManifest[], kind: string, name: string): IPodSpec {
  const o = manifests.find((m) => m.kind === kind && m.metadata.name === name) as unknown as {
    spec: { template?: { spec: IPodSpec }; jobTemplate?: { spec: { template: { spec: IPodSpec } } } };
  };
  return (o.spec.template ?? o.spec.jobTemplate!.spec.template).spec;
}

describe.each(['aws', 'gcp', 'azure'] as const)('capture → drift on %s', (cloud) => {
  it('ships captured requests to the model bucket and the drift job reads the last hours of them', () => {
    const stack = stackFor(cloud);
    const { cluster, service } = platform(stack);
    const drift = captureDrift(stack, cluster, service, 6);
    expect(service.capturePrefix).toBe('capture/classifier');

    const pod = podOf(service.manifests, 'Deployment', 'classifier');
    const [server, shipper] = pod.containers;
    expect(server.args![0]).toBe('serve');
    expect(server.args!.slice(-6)).toEqual([
      '--capture-dir',
      '/capture',
      '--capture-sample-rate',
      '0.2',
      '--capture-interval',
      '120s',
    ]);
    expect(server.volumeMounts).toContainEqual({ name: 'capture', mountPath: '/capture' });
    expect(shipper.name).toBe('capture-shipper');
    expect(shipper.volumeMounts).toContainEqual({ name: 'capture', mountPath: '/capture' });
    const script = shipper.command!.join(' ');
    // Every interval, finished files move to .ship and are uploaded under capture/<service>/ of the model bucket.
    expect(script).toMatch(/while true; do sleep 120 & wait \$!; ship; done/);
    expect(script).toMatch(/! -name '\.\*'/);
    expect(script).toContain(service.modelStore.name);
    expect(script).toContain('capture/classifier');
    expect(script).toContain('/capture/.ship');
    expect(script).toMatch(/trap 'sleep 35; ship; exit 0' TERM/);
    expect(pod.volumes).toContainEqual({ name: 'capture', emptyDir: { sizeLimit: '2Gi' } });
    expect(restrictedViolations(pod)).toEqual([]);

    // The drift job copies capture/classifier/classifier/ of the service's bucket and compares its last 6 hours.
    const job = podOf(drift.manifests, 'CronJob', 'drift');
    const fetch = job.initContainers!.find((c) => c.name === 'fetch-capture')!;
    expect(JSON.stringify(fetch)).toContain(service.modelStore.name);
    expect(JSON.stringify(fetch)).toContain('capture/classifier/classifier');
    const run = job.containers.find((c) => c.name === 'drift')!;
    // The copy keeps the prefix's path on some clouds: the window is where the copy says it is.
    expect(run.command!.join(' ')).toMatch(
      /--current \/capture(\/capture\/classifier\/classifier)? --since 6h/,
    );
    expect(run.volumeMounts).toContainEqual({ name: 'capture', mountPath: '/capture', readOnly: true });
    expect(restrictedViolations(job)).toEqual([]);
    const config = drift.manifests.find(
      (m) => m.kind === 'ConfigMap' && m.metadata.name === 'drift-config',
    ) as { data: Record<string, string> } | undefined;
    expect(JSON.parse(config!.data['config.json'])).toMatchObject({ timestampColumn: 'timestamp' });
  });
});

/** The UTC date `daysBack` days before now, as the fetch script names date folders. */
const dayBefore = (daysBack: number) =>
  new Date(Date.now() - daysBack * 86_400_000).toISOString().slice(0, 10);

/**
 * Runs a fetch container's script with the cloud CLI replaced by a stub that records its arguments (and, for
 * `gcloud storage ls`, lists the date folders in `listed`): which date folders the drift job asks the bucket for.
 */
function runFetch(command: string[], listed: string[] = []): string[] {
  const bin = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-fetch-'));
  try {
    const log = path.join(bin, 'calls.log');
    const stub = [
      '#!/bin/sh',
      `echo "$*" >> ${log}`,
      `if [ "$1 $2" = "storage ls" ]; then for d in ${listed.join(' ')}; do echo "$3$d/"; done; fi`,
    ].join('\n');
    for (const cli of ['aws', 'gcloud', 'az'])
      fs.writeFileSync(path.join(bin, cli), `${stub}\n`, { mode: 0o755 });
    expect(command.slice(0, 2)).toEqual(['sh', '-ec']);
    const target = path.join(bin, 'target');
    execFileSync('sh', ['-ec', command[2].replace(/(["\s])\/capture/g, `$1${target}`)], {
      env: { ...process.env, PATH: `${bin}:${process.env.PATH}` },
    });
    return fs.readFileSync(log, 'utf8').trim().split('\n');
  } finally {
    fs.rmSync(bin, { recursive: true, force: true });
  }
}

describe('captured requests expire', () => {
  it.each(['aws', 'gcp', 'azure'] as const)('on %s, after capture.retentionDays', (cloud) => {
    const stack = stackFor(cloud);
    platform(stack, { retentionDays: 14 });
    if (cloud === 'aws') {
      const rules = Object.values(awsTemplate(stack as AwsMlStack).findResources('AWS::S3::Bucket'))
        .map((b) => (b as { Properties: { LifecycleConfiguration?: { Rules: unknown[] } } }).Properties)
        .flatMap((p) => p.LifecycleConfiguration?.Rules ?? []);
      expect(rules).toContainEqual({
        Id: 'expire-capture-classifier',
        Prefix: 'capture/classifier/',
        ExpirationInDays: 14,
        Status: 'Enabled',
      });
    } else if (cloud === 'gcp') {
      const { json } = terraformJson(stack as GcpMlStack);
      const rules = Object.values(json.resource.google_storage_bucket).flatMap(
        (b) => b.lifecycle_rule as unknown[],
      );
      expect(rules).toContainEqual({
        condition: { age: 14, matches_prefix: ['capture/classifier/'] },
        action: { type: 'Delete' },
      });
    } else {
      const { json } = terraformJson(stack as AzureMlStack);
      const rules = Object.values(json.resource.azurerm_storage_management_policy).flatMap(
        (p) => p.rule as unknown[],
      );
      expect(rules).toContainEqual({
        name: 'expire-capture-classifier',
        enabled: true,
        filters: { blob_types: ['blockBlob'], prefix_match: ['models/capture/classifier/'] },
        actions: { base_blob: { delete_after_days_since_modification_greater_than: 14 } },
      });
    }
  });

  it.each(['aws', 'gcp', 'azure'] as const)(
    'on %s, the shipper may only create objects under capture/<service>/ (models stay read-only)',
    (cloud) => {
      const stack = stackFor(cloud);
      platform(stack);
      if (cloud === 'aws') {
        // The service's own identity (the deploy-time BucketDeployment role uploads the models).
        const statements = Object.entries(awsTemplate(stack as AwsMlStack).findResources('AWS::IAM::Policy'))
          .filter(([id]) => id.startsWith('ClassifierIdentity'))
          .flatMap(
            ([, p]) =>
              (p as { Properties: { PolicyDocument: { Statement: unknown[] } } }).Properties.PolicyDocument
                .Statement,
          )
          .map((st) => JSON.stringify(st));
        const writes = statements.filter((st) => /s3:(PutObject|DeleteObject)/.test(st));
        expect(writes).toHaveLength(1);
        expect(writes[0]).toContain('"Action":"s3:PutObject"');
        expect(writes[0]).toContain('/capture/classifier/*');
      } else if (cloud === 'gcp') {
        const { json } = terraformJson(stack as GcpMlStack);
        const members = Object.values(json.resource.google_storage_bucket_iam_member).filter((m) =>
          String(m.member).includes('Classifier_Identity'),
        );
        const roles = members.map((m) => m.role).sort();
        expect(roles).toEqual([
          'roles/storage.legacyBucketReader',
          'roles/storage.objectCreator',
          'roles/storage.objectViewer',
        ]);
        const creator = members.find((m) => m.role === 'roles/storage.objectCreator')!;
        expect((creator.condition as { expression: string }).expression).toMatch(
          /^resource\.name\.startsWith\("projects\/_\/buckets\/[^/]+\/objects\/capture\/classifier\/"\)$/,
        );
      } else {
        const { json } = terraformJson(stack as AzureMlStack);
        const assignments = Object.values(json.resource.azurerm_role_assignment).filter((a) =>
          String(a.principal_id).includes('Classifier'),
        );
        const byRole = Object.fromEntries(assignments.map((a) => [String(a.role_definition_name), a]));
        expect(Object.keys(byRole).sort()).toEqual([
          'Storage Blob Data Contributor',
          'Storage Blob Data Reader',
        ]);
        const contributor = byRole['Storage Blob Data Contributor'];
        expect(contributor.condition_version).toBe('2.0');
        expect(contributor.condition).toContain("blobs:path] StringStartsWith 'capture/classifier/'");
        expect(contributor.condition).toContain(
          "!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/delete'})",
        );
      }
    },
  );

  it('a drift window longer than the retention fails at synth', () => {
    const stack = stackFor('gcp');
    const { cluster, service } = platform(stack, { retentionDays: 7 });
    expect(() => captureDrift(stack, cluster, service, 200)).toThrow(
      /current.lastHours.*200.*reaches past the 7 days.*retentionDays/s,
    );
  });
});

describe('the drift job fetches only the date folders of its window', () => {
  const fetchOf = (cloud: 'aws' | 'gcp' | 'azure', lastHours: number) => {
    const stack = stackFor(cloud);
    const { cluster, service } = platform(stack);
    const drift = captureDrift(stack, cluster, service, lastHours);
    const job = podOf(drift.manifests, 'CronJob', 'drift');
    return job.initContainers!.find((c) => c.name === 'fetch-capture')!.command!;
  };

  it('AWS syncs today and yesterday for 24 hours (a missing day syncs nothing)', () => {
    const calls = runFetch(fetchOf('aws', 24));
    expect(calls).toHaveLength(2);
    for (const [i, call] of calls.entries()) {
      expect(call).toMatch(
        new RegExp(`^s3 sync .*s3://[^/]+/capture/classifier/classifier/${dayBefore(i)} `),
      );
    }
  });

  it('Google Cloud lists the date folders and copies those of the last 72 hours that exist', () => {
    const listed = [dayBefore(9), dayBefore(3), dayBefore(1), dayBefore(0)];
    const calls = runFetch(fetchOf('gcp', 72), listed);
    expect(calls[0]).toMatch(/^storage ls gs:\/\/[^/]+\/capture\/classifier\/classifier\/$/);
    const copied = calls.slice(1).map((c) => /classifier\/classifier\/(\d{4}-\d{2}-\d{2}) /.exec(c)![1]);
    // 72 hours span four dates at most; of those, the listed ones — never the folder nine days old.
    expect(copied).toEqual([dayBefore(0), dayBefore(1), dayBefore(3)]);
  });

  it('Azure downloads the blobs of each date of the last 6 hours', () => {
    const calls = runFetch(fetchOf('azure', 6));
    const downloads = calls.filter((c) => c.startsWith('storage blob download-batch'));
    expect(downloads.map((c) => /--pattern (\S+)/.exec(c)![1])).toEqual([
      `capture/classifier/classifier/${dayBefore(0)}/*`,
      `capture/classifier/classifier/${dayBefore(1)}/*`,
    ]);
  });
});

describe('capture refusals', () => {
  it('refuses capture on Triton, a window of a service that does not capture, and an ambiguous model', () => {
    const stack = stackFor('gcp');
    const cluster = new GpuCluster(stack, 'Gpus', {
      clusterName: 'ml',
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
      alerts: [AlertDestination.none('test')],
    });
    expect(
      () =>
        new TritonService(stack, 'OnTriton', {
          cluster,
          models: [ServingModel.fromOnnxFile(CLASSIFIER, { name: 'classifier' })],
          gpu: { type: GpuType.NVIDIA_L4 },
          capture: {},
        }),
    ).toThrow(/'capture' .* is not possible with the Triton runtime.*ServingRuntime.ONNXRUNTIME/);
    const plain = new TritonService(stack, 'Plain', {
      cluster,
      runtime: ServingRuntime.ONNXRUNTIME,
      image: IMAGE,
      models: [ServingModel.fromOnnxFile(CLASSIFIER, { name: 'classifier' })],
      replicas: { min: 2, max: 3 },
      serviceMonitor: false,
    });
    const drift = (current: DriftWindow) =>
      new DriftPipeline(stack, `Drift${Math.random().toString(36).slice(2, 6)}`, {
        cluster,
        schedule: '0 * * * *',
        reference: 'reference.jsonl',
        current,
        image: IMAGE,
      });
    expect(() => drift(DriftWindow.fromCapture(plain))).toThrow(
      /reads requests that TritonService 'test\/Plain' does not capture. Set capture/,
    );
    const two = new TritonService(stack, 'Two', {
      cluster,
      runtime: ServingRuntime.ONNXRUNTIME,
      image: IMAGE,
      models: [
        ServingModel.fromOnnxFile(CLASSIFIER, { name: 'a' }),
        ServingModel.fromOnnxFile(CLASSIFIER, { name: 'b' }),
      ],
      replicas: { min: 2, max: 3 },
      serviceMonitor: false,
      capture: { sampleRate: 0.5 },
    });
    expect(() => drift(DriftWindow.fromCapture(two))).toThrow(
      /'current.model' \(undefined\) is not one model of the service \(it serves a, b\)/,
    );
    expect(() => drift(DriftWindow.fromCapture(two, { model: 'b', lastHours: 0 }))).toThrow(
      /'current.lastHours' \(0\) must be an integer between 1 and 720/,
    );
    expect(
      () =>
        new TritonService(stack, 'Rate', {
          cluster,
          runtime: ServingRuntime.ONNXRUNTIME,
          image: IMAGE,
          models: [ServingModel.fromOnnxFile(CLASSIFIER, { name: 'classifier' })],
          replicas: { min: 2, max: 3 },
          capture: { sampleRate: 2 },
        }),
    ).toThrow(/'capture.sampleRate' \(2\) must be above 0 and at most 1/);
  });
});
