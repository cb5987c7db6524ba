import { S3Backend, Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { remoteState } from '../src/policy/rules/tf-remote-state';
import { AzureMlStack, TerraformState as AzureState } from '../stacks/azure';
import { GcpMlStack, TerraformState } from '../stacks/gcp';

function backendOf(stack: GcpMlStack | AzureMlStack): Record<string, unknown> {
  return (JSON.parse(Testing.synth(stack)) as { terraform: { backend: Record<string, unknown> } }).terraform
    .backend;
}

const gcp = { project: 'acme-ml', region: 'us-central1' };
const azure = { subscriptionId: '11111111-2222-3333-4444-555555555555', location: 'westeurope' };

describe('TerraformState', () => {
  it('is one class for both Terraform clouds', () => {
    expect(AzureState).toBe(TerraformState);
  });

  it('keeps state in the project bucket by default on Google Cloud', () => {
    expect(backendOf(new GcpMlStack(Testing.app(), 'ml', gcp))).toEqual({
      gcs: { bucket: 'acme-ml-tfstate', prefix: 'mlstack/ml' },
    });
  });

  it('keeps state in a per-subscription account with Entra ID auth by default on Azure', () => {
    const one = backendOf(new AzureMlStack(Testing.app(), 'ml', azure));
    const other = backendOf(
      new AzureMlStack(Testing.app(), 'ml', {
        ...azure,
        subscriptionId: '99999999-2222-3333-4444-555555555555',
      }),
    );
    const b = one.azurerm as Record<string, unknown>;
    expect(b).toMatchObject({
      resource_group_name: 'tfstate',
      container_name: 'tfstate',
      key: 'mlstack/ml.tfstate',
      use_azuread_auth: true,
    });
    expect(b.storage_account_name).toMatch(/^tfstate[0-9a-f]{10}$/);
    expect((other.azurerm as Record<string, unknown>).storage_account_name).not.toBe(b.storage_account_name);
  });

  it('takes a GCS bucket, prefix and KMS key', () => {
    const state = TerraformState.gcs({
      bucket: 'acme-state',
      prefix: 'platform',
      kmsEncryptionKey: 'projects/p/k',
    });
    expect(backendOf(new GcpMlStack(Testing.app(), 'ml', { ...gcp, state }))).toEqual({
      gcs: { bucket: 'acme-state', prefix: 'platform', kms_encryption_key: 'projects/p/k' },
    });
  });

  it('takes an azurerm account, container and key', () => {
    const state = TerraformState.azurerm({
      resourceGroupName: 'rg-state',
      storageAccountName: 'acmestate',
      containerName: 'state',
      key: 'ml.tfstate',
    });
    expect(backendOf(new AzureMlStack(Testing.app(), 'ml', { ...azure, state }))).toEqual({
      azurerm: {
        resource_group_name: 'rg-state',
        storage_account_name: 'acmestate',
        container_name: 'state',
        key: 'ml.tfstate',
        use_azuread_auth: true,
      },
    });
  });

  it('takes any other cdktf backend', () => {
    const state = TerraformState.custom(
      (s) => new S3Backend(s, { bucket: 'b', key: 'k', region: 'us-east-1' }),
    );
    expect(Object.keys(backendOf(new GcpMlStack(Testing.app(), 'ml', { ...gcp, state })))).toEqual(['s3']);
  });

  it('keeps local state only when asked, with a warning and the reason acknowledging the finding', () => {
    const reason = 'A throwaway test environment, destroyed after each CI run.';
    const stack = new GcpMlStack(Testing.app(), 'ml', { ...gcp, state: TerraformState.local({ reason }) });
    // toTerraform keeps the "//" metadata that Testing.synth strips.
    const json = stack.toTerraform() as Record<string, unknown>;
    expect((json.terraform as { backend: unknown }).backend).toEqual({
      local: { path: 'terraform.ml.tfstate' },
    });
    expect(stack.node.metadata.map((m) => String(m.data)).join('\n')).toMatch(/local file/);
    expect(remoteState.check({ json })).toHaveLength(1);
    // The stack-level acknowledgement the checker reads beside the finding.
    expect(json['//']).toMatchObject({ mlstack_acknowledge: { 'MLS-TF-REMOTE-STATE': reason } });
  });

  it('fails on a bad bucket, account name or a missing reason, naming the prop', () => {
    expect(
      () =>
        new GcpMlStack(Testing.app(), 'ml', { ...gcp, state: TerraformState.gcs({ bucket: 'Bad_Bucket!' }) }),
    ).toThrow(/'state.bucket' \("Bad_Bucket!"\) is not a GCS bucket name/);
    expect(
      () =>
        new AzureMlStack(Testing.app(), 'ml', {
          ...azure,
          state: TerraformState.azurerm({ resourceGroupName: 'rg', storageAccountName: 'Has-Dashes' }),
        }),
    ).toThrow(/'state.storageAccountName'/);
    expect(
      () => new GcpMlStack(Testing.app(), 'ml', { ...gcp, state: TerraformState.local({ reason: 'tmp' }) }),
    ).toThrow(/'state.reason'/);
  });
});
