import type { SecretManagerSecret } from '@cdktf/provider-google/lib/secret-manager-secret';
import type { SecretCapability, StoreCopyContainer } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';

/**
 * A Secret Manager secret that pods fetch at start with their GKE Workload Identity (gcloud in an init container).
 *
 * @example
 * const secret = GcpSecret.of(CloudSqlPostgres.of(mlflow.database).connectionSecret).secret;
 */
export class GcpSecret implements SecretCapability {
  /**
   * The GcpSecret behind a secret capability.
   * @throws when another cloud's stack made it
   */
  public static of(secret: SecretCapability): GcpSecret {
    return capabilityOf(secret, GcpSecret, 'a GcpSecret (a secret made by a GcpMlStack)');
  }

  constructor(
    /** The secret id (fixed, so manifests can name it at synth). */
    public readonly name: string,
    /** The secret. */
    public readonly secret: SecretManagerSecret,
    /** Its project. */
    private readonly project: string,
  ) {}

  /** @inheritdoc */
  public fetchContainer(file: string): StoreCopyContainer {
    return {
      container: {
        ...storeCopyContainer({
          image: STORE_COPY_IMAGES.gcp,
          command: [
            'gcloud',
            'secrets',
            'versions',
            'access',
            'latest',
            `--secret=${this.name}`,
            `--project=${this.project}`,
            `--out-file=${file}`,
          ],
          env: { HOME: '/tmp', CLOUDSDK_CONFIG: '/tmp/gcloud' },
        }),
        name: 'fetch-db-secret',
      },
      localPath: file,
    };
  }
}
