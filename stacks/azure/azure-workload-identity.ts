import { FederatedIdentityCredential } from '@cdktf/provider-azurerm/lib/federated-identity-credential';
import type { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { Construct } from 'constructs';
import type { WorkloadIdentityCapability, WorkloadIdentitySpec } from '../capabilities';
import { MlStack } from '../ml-stack';
import { capabilityOf } from '../private/capability-of';
import { shortHash } from '../private/naming';
import { BlobObjectStore } from './blob-object-store';
import { AzureKeyVaultSecret } from './key-vault-secret';

/** Props of {@link AzureWorkloadIdentity}. */
export interface AzureWorkloadIdentityProps extends WorkloadIdentitySpec {
  readonly location: string;
  readonly resourceGroup: ResourceGroup;
  /** The OIDC issuer URL of the cluster whose service account the identity trusts. */
  readonly oidcIssuerUrl: string;
  readonly tags: Readonly<Record<string, string>>;
}

/**
 * Azure workload identity: a user-assigned managed identity with Storage Blob Data Reader (or Contributor) on the
 * given containers and Key Vault Secrets User on the given secrets only, federated with the cluster's OIDC issuer
 * for the ServiceAccount. Its client id is only known after `terraform apply`: the ServiceAccount's
 * `azure.workload.identity/client-id` annotation is a deploy-time value, exported as the output
 * `<Namespace><ServiceAccount>ClientId` and filled by `mlstack resolve` from `terraform output -json`.
 *
 * The identity is this construct's default child; the federation and role assignments are created next to
 * it (`<id>-…`: the construct ids of mlstack 0.1, kept so that Terraform addresses do not change).
 *
 * @example
 * new RoleAssignment(stack, 'ReadAcr', {
 *   scope: registry.id, roleDefinitionName: 'AcrPull', principalId: AzureWorkloadIdentity.of(service.identity).identity.principalId,
 * });
 */
export class AzureWorkloadIdentity extends Construct implements WorkloadIdentityCapability {
  /**
   * The AzureWorkloadIdentity behind a workload identity capability (e.g. `TritonService.identity`).
   * @throws when another cloud's stack made it
   */
  public static of(identity: WorkloadIdentityCapability): AzureWorkloadIdentity {
    return capabilityOf(
      identity,
      AzureWorkloadIdentity,
      'an AzureWorkloadIdentity (made by an AzureMlStack)',
    );
  }

  /** The user-assigned managed identity. */
  public readonly identity: UserAssignedIdentity;
  /** The client id, as a deploy-time value (see the class doc). */
  public readonly serviceAccountAnnotations: Readonly<Record<string, string>>;
  /** The label the workload identity webhook looks for. */
  public readonly podLabels: Readonly<Record<string, string>> = { 'azure.workload.identity/use': 'true' };

  constructor(scope: Construct, id: string, props: AzureWorkloadIdentityProps) {
    super(scope, id);
    const identity = new UserAssignedIdentity(this, 'Default', {
      name: `${props.namespace}-${props.serviceAccount}`.slice(0, 128),
      resourceGroupName: props.resourceGroup.name,
      location: props.location,
      tags: { ...props.tags },
    });
    this.identity = identity;
    new FederatedIdentityCredential(scope, `${id}-Federation`, {
      name: 'kubernetes',
      resourceGroupName: props.resourceGroup.name,
      parentId: identity.id,
      audience: ['api://AzureADTokenExchange'],
      issuer: props.oidcIssuerUrl,
      subject: `system:serviceaccount:${props.namespace}:${props.serviceAccount}`,
    });
    const assign = (what: string, scopeId: string, role: string) =>
      new RoleAssignment(scope, `${id}-${role.replace(/\W/g, '')}-${what}`, {
        scope: scopeId,
        roleDefinitionName: role,
        principalId: identity.principalId,
        principalType: 'ServicePrincipal',
      });
    for (const store of props.read) {
      assign(store.name, BlobObjectStore.of(store).container.resourceManagerId, 'Storage Blob Data Reader');
    }
    for (const store of props.readWrite ?? []) {
      assign(
        store.name,
        BlobObjectStore.of(store).container.resourceManagerId,
        'Storage Blob Data Contributor',
      );
    }
    for (const { store, prefix } of props.createIn ?? []) {
      const blobs = 'Microsoft.Storage/storageAccounts/blobServices/containers/blobs';
      // Contributor, with an ABAC condition: writes only under the prefix, no delete or move anywhere.
      new RoleAssignment(scope, `${id}-CreateIn-${shortHash([store.name, prefix], 6)}`, {
        scope: BlobObjectStore.of(store).container.resourceManagerId,
        roleDefinitionName: 'Storage Blob Data Contributor',
        principalId: identity.principalId,
        principalType: 'ServicePrincipal',
        conditionVersion: '2.0',
        condition: [
          `((!(ActionMatches{'${blobs}/write'}) AND !(ActionMatches{'${blobs}/add/action'}))`,
          ` OR (@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'models'`,
          ` AND @Resource[${blobs}:path] StringStartsWith '${prefix}/'))`,
          ` AND (!(ActionMatches{'${blobs}/delete'}) AND !(ActionMatches{'${blobs}/move/action'}))`,
        ].join(''),
      });
    }
    for (const secret of props.secrets ?? []) {
      const s = AzureKeyVaultSecret.of(secret);
      assign(secret.name, `${s.vault.id}/secrets/${secret.name}`, 'Key Vault Secrets User');
    }
    const pascal = (x: string) =>
      x
        .split(/[^A-Za-z0-9]+/)
        .map((w) => w.charAt(0).toUpperCase() + w.slice(1))
        .join('');
    this.serviceAccountAnnotations = {
      'azure.workload.identity/client-id': MlStack.of(this).deployTimeValue(
        `${pascal(props.namespace)}${pascal(props.serviceAccount)}ClientId`,
        identity.clientId,
        `Client id of the managed identity of ServiceAccount ${props.namespace}/${props.serviceAccount} (mlstack resolve writes it into the ServiceAccount).`,
      ),
    };
  }
}
