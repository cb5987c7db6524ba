import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { isPinned, parseImageReference, pinImages } from '../src/k8s/image';
import { NVIDIA_DEVICE_PLUGIN_IMAGE } from '../src/k8s/nvidia-device-plugin';
import { imageDigest } from '../src/policy/rules/k8s-image-digest';
import { GpuType } from '../src/spec/gpu';
import type { KubernetesObject } from '../src/policy/rule';
import { awsStack } from './support/synth';
import { AlertDestination } from '../src/monitoring/destinations';

const DIGEST = `sha256:${'ab12'.repeat(16)}`;

describe('parseImageReference', () => {
  it.each([
    [
      'nvcr.io/nvidia/tritonserver:25.01-py3',
      { repository: 'nvcr.io/nvidia/tritonserver', tag: '25.01-py3' },
    ],
    ['localhost:5000/team/model', { repository: 'localhost:5000/team/model' }],
    ['busybox', { repository: 'busybox' }],
    [
      `ghcr.io/mlflow/mlflow:v2.19.0@${DIGEST}`,
      { repository: 'ghcr.io/mlflow/mlflow', tag: 'v2.19.0', digest: DIGEST },
    ],
    [
      `registry.example.com:443/a/b@${DIGEST}`,
      { repository: 'registry.example.com:443/a/b', digest: DIGEST },
    ],
  ])('reads %s', (ref, parsed) => {
    expect(parseImageReference(ref)).toEqual(parsed);
  });

  it.each([
    ['', /empty/],
    ['repo@sha256:abc', /not sha256:<64 hex digits>/],
    [`Repo/Upper:1@${DIGEST}`, /repository 'Repo\/Upper'/],
    ['repo:bad tag', /tag 'bad tag'/],
    ['repo:', /tag ''/],
  ])('says what is wrong with %j', (ref, problem) => {
    const parsed = parseImageReference(ref);
    expect('problem' in parsed && parsed.problem).toMatch(problem);
  });

  it('knows a pinned reference', () => {
    expect(isPinned(`a/b:1@${DIGEST}`)).toBe(true);
    expect(isPinned('a/b:1')).toBe(false);
  });
});

describe('pinImages', () => {
  it('pins containers, init containers and CronJob pods by their exact reference', () => {
    const objects = [
      {
        kind: 'Deployment',
        spec: { template: { spec: { initContainers: [{ image: 'a:1' }], containers: [{ image: 'b:2' }] } } },
      },
      {
        kind: 'CronJob',
        spec: {
          jobTemplate: {
            spec: { template: { spec: { containers: [{ image: 'a:1' }, { image: 'a:10' }] } } },
          },
        },
      },
      { kind: 'ConfigMap', data: { image: 'a:1' } },
    ];
    const used = pinImages(objects, { 'a:1': DIGEST, 'c:3': DIGEST });
    expect([...used]).toEqual(['a:1']);
    expect(JSON.stringify(objects).match(/@sha256/g)).toHaveLength(2);
    expect(JSON.stringify(objects)).toContain('"image":"a:10"');
  });
});

describe('GpuCluster imageDigests', () => {
  function cluster(imageDigests: Record<string, string>) {
    // On EKS the cluster runs NVIDIA's device plugin (GKE and AKS bring their own).
    const stack = awsStack();
    const c = new GpuCluster(stack, 'Gpus', {
      clusterName: 'ml',
      alerts: [AlertDestination.email('ml-oncall@example.com')],
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, maxNodes: 2 }],
      imageDigests,
    });
    return { stack, c };
  }

  it('pins every container of the cluster that runs a listed image, and the policy rule then passes on it', () => {
    const { c } = cluster({ [NVIDIA_DEVICE_PLUGIN_IMAGE]: DIGEST });
    const objects = c.manifests.manifests as unknown as KubernetesObject[];
    const plugin = objects.filter(
      (o) => o.kind === 'DaemonSet' && o.metadata.name.startsWith('nvidia-device-plugin'),
    );
    expect(plugin.length).toBeGreaterThan(0);
    expect(imageDigest.check({ objects: plugin })).toEqual([]);
    expect(JSON.stringify(plugin)).toContain(`${NVIDIA_DEVICE_PLUGIN_IMAGE}@${DIGEST}`);
    // The same objects unpinned fail the rule.
    expect(
      imageDigest.check({ objects: cluster({}).c.manifests.manifests as unknown as KubernetesObject[] })
        .length,
    ).toBeGreaterThan(0);
  });

  it('warns about a digest no container uses, naming what runs unpinned', () => {
    const { c } = cluster({ 'nvcr.io/nvidia/k8s-device-plugin:v0.16.0': DIGEST });
    void c.manifests.manifests;
    const warnings = c.node.metadata.filter((m) => m.type === 'aws:cdk:warning').map((m) => String(m.data));
    expect(warnings.join('\n')).toMatch(
      /imageDigests has 'nvcr.io\/nvidia\/k8s-device-plugin:v0.16.0', which no container of the cluster runs .*k8s-device-plugin:v0.17.1/,
    );
  });

  it('fails on a bad digest or a key that is not an image, naming the key', () => {
    expect(() => cluster({ [NVIDIA_DEVICE_PLUGIN_IMAGE]: 'sha256:123' })).toThrow(
      /'imageDigests\['nvcr.io\/nvidia\/k8s-device-plugin:v0.17.1'\]' \("sha256:123"\) is not an image digest/,
    );
    expect(() => cluster({ 'not an image': DIGEST })).toThrow(
      /imageDigests\['not an image'\].*is not an image reference/,
    );
    expect(() => cluster({ [`a/b:1@${DIGEST}`]: DIGEST })).toThrow(/already carries a digest/);
  });
});
