import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { ServingRuntime } from '../constructs/triton-service';
import { STORE_COPY_IMAGES } from '../stacks/private/store-copy';
import { gcpStack, onlyResource, terraformJson, resourcesOf } from './support/synth';
import { classifierService, expectSchemaValid, objectOf, podSpecOf } from './support/serving';

describe('TritonService on Google Cloud (GCS + GKE Workload Identity)', () => {
  const stack = gcpStack();
  const service = classifierService(stack);
  const { json } = terraformJson(stack);
  const bucketName = service.modelStore.name;

  it('keeps the repository in a regional, versioned, private bucket named after the project', () => {
    expect(bucketName).toMatch(/^acme-ml-test-classifiermodelbucket-[0-9a-f]{10}$/);
    expect(onlyResource(json, 'google_storage_bucket')).toEqual({
      name: bucketName,
      location: 'US-CENTRAL1',
      uniform_bucket_level_access: true,
      public_access_prevention: 'enforced',
      versioning: { enabled: true },
      lifecycle_rule: [{ condition: { days_since_noncurrent_time: 30 }, action: { type: 'Delete' } }],
      // Not retained: `terraform destroy` deletes it with the objects the apply uploaded.
      force_destroy: true,
      labels: { purpose: 'mlstack-models' },
    });
  });

  it('uploads every file of the stable and canary repositories as an object from a Terraform asset', () => {
    const objects = Object.values(json.resource.google_storage_bucket_object);
    expect(objects.map((o) => o.name).sort()).toEqual([
      'canary/classifier/2/model.onnx',
      'canary/classifier/config.pbtxt',
      'stable/classifier/1/model.onnx',
      'stable/classifier/config.pbtxt',
    ]);
    for (const o of objects) {
      expect(o.bucket).toMatch(/^\$\{google_storage_bucket\.Classifier_ModelBucket_\w+\.name\}$/);
      expect(o.source).toMatch(
        new RegExp(
          `^assets/Classifier_ModelBucket-Asset[01]_\\w+/[0-9A-F]+/${String(o.name).split('/').slice(1).join('/')}$`,
        ),
      );
    }
  });

  it('binds the ServiceAccount to a Google service account that can read only that bucket', () => {
    const gsas = Object.values(json.resource.google_service_account).filter((a) =>
      String(a.display_name).startsWith('Kubernetes'),
    );
    expect(gsas).toHaveLength(1);
    const accountId = String(gsas[0].account_id);
    expect(accountId.length).toBeLessThanOrEqual(30);
    expect(accountId).toMatch(/^[a-z]([-a-z0-9]*[a-z0-9])$/);
    const members = Object.values(json.resource.google_storage_bucket_iam_member);
    expect(members.map((m) => m.role).sort()).toEqual([
      'roles/storage.legacyBucketReader',
      'roles/storage.objectViewer',
    ]);
    for (const m of members) {
      expect(m.bucket).toMatch(/google_storage_bucket\.Classifier_ModelBucket/);
      expect(m.member).toMatch(/google_service_account\.Classifier_Identity_\w+\.member/);
    }
    // No project-level grant for the service's identity.
    const projectGrants = Object.values(json.resource.google_project_iam_member);
    expect(projectGrants.every((g) => !String(g.member).includes('Classifier_Identity'))).toBe(true);
    expect(onlyResource(json, 'google_service_account_iam_member')).toMatchObject({
      role: 'roles/iam.workloadIdentityUser',
      member: 'serviceAccount:acme-ml-test.svc.id.goog[classifier/classifier]',
    });
    expect(objectOf<IServiceAccount>(service.manifests, 'ServiceAccount').metadata!.annotations).toEqual({
      'iam.gke.io/gcp-service-account': `${accountId}@acme-ml-test.iam.gserviceaccount.com`,
    });
  });

  it('points Triton at the bucket itself: its GCS client uses Workload Identity', () => {
    const pod = podSpecOf(service.manifests, 'classifier');
    expect(pod.initContainers).toEqual([]);
    expect(pod.containers[0].args).toContain(`--model-repository=gs://${bucketName}/stable`);
    expect(podSpecOf(service.manifests, 'classifier-canary').containers[0].args).toContain(
      `--model-repository=gs://${bucketName}/canary`,
    );
    expectSchemaValid(service.manifests);
  });

  it('copies the repository with the Google Cloud CLI for the ONNX Runtime server, from the image given', () => {
    const s = classifierService(gcpStack(), {
      runtime: ServingRuntime.ONNXRUNTIME,
      gpu: undefined,
      canary: undefined,
      image: 'us-docker.pkg.dev/acme/ml/mlstack-server:0.1.0',
    });
    const pod = podSpecOf(s.manifests, 'classifier');
    expect(pod.initContainers![0]).toMatchObject({
      image: STORE_COPY_IMAGES.gcp,
      command: ['gcloud', 'storage', 'rsync', '--recursive', `gs://${s.modelStore.name}/stable`, '/models'],
    });
    expect(pod.containers[0]).toMatchObject({
      image: 'us-docker.pkg.dev/acme/ml/mlstack-server:0.1.0',
      args: ['serve', '/models', '--host', '0.0.0.0', '--port', '8000', '--grpc-port', '8001'],
    });
    expect(() =>
      classifierService(gcpStack(), {
        runtime: ServingRuntime.ONNXRUNTIME,
        gpu: undefined,
        canary: undefined,
      }),
    ).toThrow(/'image' \(undefined\) is required for ServingRuntime.ONNXRUNTIME on gcp/);
  });

  it("admits the cloud's managed Prometheus collectors to the metrics port", () => {
    const policy = service.manifests.find(
      (m) => m.kind === 'NetworkPolicy' && !m.metadata.name.startsWith('default-'),
    ) as unknown as {
      spec: { ingress: { from: unknown[]; ports: { port: number }[] }[] };
    };
    const metrics = policy.spec.ingress[1];
    expect(metrics.from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'gmp-system' } },
    });
    expect(metrics.from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
    });
  });

  it('matches the snapshot', () => {
    const serving = resourcesOf(json, 'Classifier');
    expect({ resources: serving, manifests: service.manifests }).toMatchSnapshot();
  });
});
