import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { IServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { describe, expect, it } from 'vitest';
import { STORE_COPY_IMAGES } from '../stacks/private/store-copy';
import { azureStack, onlyResource, terraformJson, resourcesOf } from './support/synth';
import { classifierService, expectSchemaValid, fixtureModel, objectOf, podSpecOf } from './support/serving';

describe('TritonService on Azure (Blob storage + Azure workload identity)', () => {
  const stack = azureStack();
  const service = classifierService(stack);
  const { json } = terraformJson(stack);
  const account = service.modelStore.name;

  it('keeps the repository in a storage account with shared keys off, no public blobs, versioning and double encryption', () => {
    expect(account).toMatch(/^mlclassifiermode[0-9a-f]{8}$/);
    expect(onlyResource(json, 'azurerm_storage_account')).toMatchObject({
      name: account,
      account_kind: 'StorageV2',
      account_replication_type: 'ZRS',
      min_tls_version: 'TLS1_2',
      https_traffic_only_enabled: true,
      allow_nested_items_to_be_public: false,
      shared_access_key_enabled: false,
      default_to_oauth_authentication: true,
      infrastructure_encryption_enabled: true,
      blob_properties: {
        versioning_enabled: true,
        delete_retention_policy: { days: 30 },
        container_delete_retention_policy: { days: 30 },
      },
    });
    expect(onlyResource(json, 'azurerm_storage_container')).toMatchObject({
      name: 'models',
      container_access_type: 'private',
    });
    // Shared keys are off, so the provider must manage blobs with Entra ID.
    expect(json.provider.azurerm[0]).toMatchObject({ storage_use_azuread: true });
  });

  it('uploads every file as a block blob with its MD5, so a changed model is uploaded again', () => {
    const blobs = Object.values(json.resource.azurerm_storage_blob);
    expect(blobs.map((b) => b.name).sort()).toEqual([
      'canary/classifier/2/model.onnx',
      'canary/classifier/config.pbtxt',
      'stable/classifier/1/model.onnx',
      'stable/classifier/config.pbtxt',
    ]);
    const model = blobs.find((b) => b.name === 'stable/classifier/1/model.onnx')!;
    expect(model).toMatchObject({
      type: 'Block',
      content_md5: createHash('md5')
        .update(fs.readFileSync(fixtureModel('mlp')))
        .digest('hex'),
    });
  });

  it('federates a managed identity with the ServiceAccount and lets it read only the models container', () => {
    expect(onlyResource(json, 'azurerm_federated_identity_credential')).toMatchObject({
      audience: ['api://AzureADTokenExchange'],
      issuer: expect.stringMatching(/azurerm_kubernetes_cluster\.Gpus_\w+\.oidc_issuer_url/),
      subject: 'system:serviceaccount:classifier:classifier',
    });
    expect(onlyResource(json, 'azurerm_role_assignment')).toMatchObject({
      role_definition_name: 'Storage Blob Data Reader',
      scope: expect.stringMatching(
        /azurerm_storage_container\.Classifier_ModelBucket-Container_\w+\.resource_manager_id/,
      ),
      principal_id: expect.stringMatching(
        /azurerm_user_assigned_identity\.Classifier_Identity_\w+\.principal_id/,
      ),
    });
    // The client id is assigned at apply: exported, and a placeholder in the ServiceAccount that mlstack resolve fills.
    expect(json.output!.ClassifierClassifierClientId.value).toBe(
      '${azurerm_user_assigned_identity.Classifier_Identity_55C61991.client_id}',
    );
    const pod = objectOf<{ spec: { template: { metadata: { labels: Record<string, string> } } } }>(
      service.manifests,
      'Deployment',
      'classifier',
    );
    expect(pod.spec.template.metadata.labels['azure.workload.identity/use']).toBe('true');
    expect(objectOf<IServiceAccount>(service.manifests, 'ServiceAccount').metadata!.annotations).toEqual({
      'azure.workload.identity/client-id': '${mlstack:output:test/ClassifierClassifierClientId}',
    });
  });

  it('asks for no manual step after apply: no warning about the client id', () => {
    const warnings = service.node.metadata
      .filter((m) => m.type === 'mlstack:warning')
      .map((m) => String(m.data));
    expect(warnings.filter((w) => /client.id|annotate/i.test(w))).toEqual([]);
  });

  it('copies the repository with the Azure CLI logged in by the federated token (Triton 25.01 reads as:// with keys only)', () => {
    const pod = podSpecOf(service.manifests, 'classifier');
    const init = pod.initContainers![0];
    expect(init.image).toBe(STORE_COPY_IMAGES.azure);
    const script = init.command![2];
    expect(script).toContain('--federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")"');
    expect(script).toContain(
      `--auth-mode login --account-name ${account} --source models --pattern 'stable/*' --destination /models`,
    );
    expect(pod.containers[0].args).toContain('--model-repository=/models/stable');
    expect(podSpecOf(service.manifests, 'classifier-canary').containers[0].args).toContain(
      '--model-repository=/models/canary',
    );
    expectSchemaValid(service.manifests);
  });

  it("admits the cloud's managed Prometheus collectors to the metrics port", () => {
    const policy = service.manifests.find(
      (m) => m.kind === 'NetworkPolicy' && !m.metadata.name.startsWith('default-'),
    ) as unknown as {
      spec: { ingress: { from: unknown[]; ports: { port: number }[] }[] };
    };
    const metrics = policy.spec.ingress[1];
    expect(metrics.from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
    });
    expect(metrics.from).toContainEqual({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } },
    });
  });

  it('matches the snapshot', () => {
    const serving = resourcesOf(json, 'Classifier');
    expect({ resources: serving, outputs: json.output, manifests: service.manifests }).toMatchSnapshot();
  });
});
