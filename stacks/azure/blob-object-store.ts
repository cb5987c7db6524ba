import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import type { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageBlob } from '@cdktf/provider-azurerm/lib/storage-blob';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import {
  StorageManagementPolicy,
  type StorageManagementPolicyRule,
} from '@cdktf/provider-azurerm/lib/storage-management-policy';
import { Construct } from 'constructs';
import type {
  CopyOptions,
  ObjectStoreCapability,
  ObjectStoreSpec,
  StoreCopyContainer,
} from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { expiryRuleName, physicalName, visiblePath } from '../private/naming';
import { forEachRecentDay, STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';
import { uploadDirectory } from '../private/terraform';
import { AZ_LOGIN } from './private/az-login';
import { acknowledgePublicAccess, type ResolvedNetworkAccess, storageNetworkRules } from './network-access';

/** Props of {@link BlobObjectStore}. */
export interface BlobObjectStoreProps extends ObjectStoreSpec {
  readonly subscriptionId: string;
  readonly location: string;
  readonly stackName: string;
  /** The cluster's resource group. */
  readonly resourceGroup: ResourceGroup;
  readonly tags: Readonly<Record<string, string>>;
  /** Who may reach the account's data plane (AzureNetworkAccess of the stack). */
  readonly networkAccess: ResolvedNetworkAccess;
}

/**
 * A storage account with one private container `models`: a firewall that admits the cluster's subnet and the
 * stack's allowed addresses (AzureNetworkAccess), shared keys disabled (Entra ID only), TLS 1.2, HTTPS
 * only, no public blobs, infrastructure (double) encryption, blob versioning and 30-day soft delete, zone-redundant.
 * With `retain` it has Terraform `prevent_destroy`; without, `terraform destroy` deletes it with its blobs.
 * `contents` become `azurerm_storage_blob`s from Terraform assets next to `cdk.tf.json`.
 *
 * The storage account is this construct's default child; the lifecycle policy, container and blobs are created
 * next to it (`<id>-Lifecycle`, `<id>-Container`, …: the construct ids of mlstack 0.1, kept so that Terraform
 * addresses do not change).
 *
 * @example
 * BlobObjectStore.of(service.modelStore).account.putNetworkRules({ defaultAction: 'Deny', bypass: ['AzureServices'] });
 */
export class BlobObjectStore extends Construct implements ObjectStoreCapability {
  /**
   * The BlobObjectStore behind an object store capability (e.g. `TritonService.modelStore`).
   * @throws when another cloud's stack made it
   */
  public static of(store: ObjectStoreCapability): BlobObjectStore {
    return capabilityOf(
      store,
      BlobObjectStore,
      'a BlobObjectStore (an object store made by an AzureMlStack)',
    );
  }

  /** The storage account name, concrete at synth. */
  public readonly name: string;
  /** The storage account. */
  public readonly account: StorageAccount;
  /** The `models` container. */
  public readonly container: StorageContainer;
  /** The uploaded blobs. */
  public readonly blobs: StorageBlob[] = [];
  /** Triton's Azure client takes account keys only, which are disabled: a copy container fills a folder. */
  public readonly tritonReadsUri = false;
  /** The account's lifecycle policy and its rules (expireObjects adds to them). */
  private readonly policy: StorageManagementPolicy;
  private readonly rules: StorageManagementPolicyRule[] = [];

  constructor(scope: Construct, id: string, props: BlobObjectStoreProps) {
    super(scope, id);
    const name =
      props.name ??
      physicalName({
        prefix: 'ml',
        readable: `${scope.node.id}${id}`,
        identity: [props.subscriptionId, props.stackName, visiblePath(scope), id],
        maxLength: 24,
        alnumOnly: true,
      });
    if (!/^[a-z0-9]{3,24}$/.test(name)) {
      throw new Error(
        `${scope.node.path}: storage account name '${name}' is not valid. Use 3-24 lowercase letters and digits.`,
      );
    }
    this.name = name;
    this.account = new StorageAccount(this, 'Default', {
      name,
      resourceGroupName: props.resourceGroup.name,
      location: props.location,
      accountKind: 'StorageV2',
      accountTier: 'Standard',
      accountReplicationType: 'ZRS',
      minTlsVersion: 'TLS1_2',
      httpsTrafficOnlyEnabled: true,
      allowNestedItemsToBePublic: false,
      sharedAccessKeyEnabled: false,
      defaultToOauthAuthentication: true,
      infrastructureEncryptionEnabled: true,
      blobProperties: {
        versioningEnabled: true,
        deleteRetentionPolicy: { days: 30 },
        containerDeleteRetentionPolicy: { days: 30 },
      },
      ...storageNetworkRules(props.networkAccess),
      tags: { ...props.tags, purpose: 'mlstack-data' },
      ...(props.retain ? { lifecycle: { preventDestroy: true } } : {}),
    });
    acknowledgePublicAccess(props.networkAccess, this.account);
    this.rules.push({
      name: 'old-versions',
      enabled: true,
      filters: { blobTypes: ['blockBlob'] },
      actions: {
        version: { deleteAfterDaysSinceCreation: props.lifecycle?.noncurrentVersionDays ?? 30 },
        ...(props.lifecycle?.infrequentAccessAfterDays
          ? {
              baseBlob: {
                tierToCoolAfterDaysSinceModificationGreaterThan: props.lifecycle.infrequentAccessAfterDays,
              },
            }
          : {}),
      },
    });
    this.policy = new StorageManagementPolicy(scope, `${id}-Lifecycle`, {
      storageAccountId: this.account.id,
      rule: this.rules,
    });
    this.container = new StorageContainer(scope, `${id}-Container`, {
      name: 'models',
      storageAccountId: this.account.id,
      containerAccessType: 'private',
    });
    uploadDirectory(scope, id, props.contents, (objectId, key, source, file) => {
      this.blobs.push(
        new StorageBlob(scope, objectId, {
          name: key,
          storageAccountName: this.account.name,
          storageContainerName: this.container.name,
          type: 'Block',
          source,
          contentMd5: createHash('md5').update(fs.readFileSync(file)).digest('hex'),
        }),
      );
    });
  }

  /** `as://<account>/models/<prefix>`, the form Triton reads. */
  public uri(prefix: string): string {
    return `as://${this.name}/models/${prefix}`;
  }

  /** @inheritdoc */
  public pythonUri(prefix: string): string {
    return `wasbs://models@${this.name}.blob.core.windows.net/${prefix}`;
  }

  /** @inheritdoc */
  public expireObjects(prefix: string, days: number): void {
    this.rules.push({
      name: expiryRuleName(prefix),
      enabled: true,
      // Prefixes of a management policy start with the container's name.
      filters: { blobTypes: ['blockBlob'], prefixMatch: [`models/${prefix}/`] },
      actions: { baseBlob: { deleteAfterDaysSinceModificationGreaterThan: days } },
    });
    this.policy.putRule(this.rules);
  }

  /** @inheritdoc */
  public uploadStep(localDir: string, prefix: string) {
    return {
      image: STORE_COPY_IMAGES.azure,
      env: { HOME: '/tmp', AZURE_CONFIG_DIR: '/tmp/.azure' },
      script: [
        AZ_LOGIN,
        `az storage blob upload-batch --auth-mode login --account-name ${this.name} --destination models --destination-path "${prefix}" --source ${localDir} --output none`,
      ],
    };
  }

  /** @inheritdoc */
  public copyContainer(prefix: string, target: string, options: CopyOptions = {}): StoreCopyContainer {
    const download = (pattern: string) =>
      `az storage blob download-batch --auth-mode login --account-name ${this.name} --source models` +
      ` --pattern ${pattern} --destination ${target} --overwrite --output none`;
    return {
      container: storeCopyContainer({
        image: STORE_COPY_IMAGES.azure,
        command: [
          'sh',
          '-ec',
          [
            AZ_LOGIN,
            // A pattern that matches nothing (no requests that day) downloads nothing.
            ...(options.recentHours === undefined
              ? [download(`'${prefix}/*'`)]
              : forEachRecentDay(options.recentHours, [download(`"${prefix}/$day/*"`)])),
          ].join('\n'),
        ],
        env: { HOME: '/tmp', AZURE_CONFIG_DIR: '/tmp/.azure' },
      }),
      localPath: `${target}/${prefix}`,
    };
  }
}
