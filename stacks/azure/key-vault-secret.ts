import type { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import type { KeyVaultSecret } from '@cdktf/provider-azurerm/lib/key-vault-secret';
import type { SecretCapability, StoreCopyContainer } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';
import { AZ_LOGIN } from './private/az-login';

/**
 * A Key Vault secret that pods fetch at start with their Azure workload identity (the Azure CLI in an init
 * container).
 *
 * @example
 * const vault = AzureKeyVaultSecret.of(FlexiblePostgres.of(mlflow.database).connectionSecret).vault;
 */
export class AzureKeyVaultSecret implements SecretCapability {
  /**
   * The AzureKeyVaultSecret behind a secret capability.
   * @throws when another cloud's stack made it
   */
  public static of(secret: SecretCapability): AzureKeyVaultSecret {
    return capabilityOf(
      secret,
      AzureKeyVaultSecret,
      'an AzureKeyVaultSecret (a secret made by an AzureMlStack)',
    );
  }

  constructor(
    /** The secret's name in the vault. */
    public readonly name: string,
    /** The vault. */
    public readonly vault: KeyVault,
    /** The vault's name, concrete at synth. */
    public readonly vaultName: string,
    /** The secret. */
    public readonly secret: KeyVaultSecret,
  ) {}

  /** @inheritdoc */
  public fetchContainer(file: string): StoreCopyContainer {
    return {
      container: {
        ...storeCopyContainer({
          image: STORE_COPY_IMAGES.azure,
          command: [
            'sh',
            '-ec',
            [
              AZ_LOGIN,
              `az keyvault secret show --vault-name ${this.vaultName} --name ${this.name} --query value --output tsv > ${file}`,
            ].join('\n'),
          ],
          env: { HOME: '/tmp', AZURE_CONFIG_DIR: '/tmp/.azure' },
        }),
        name: 'fetch-db-secret',
      },
      localPath: file,
    };
  }
}
