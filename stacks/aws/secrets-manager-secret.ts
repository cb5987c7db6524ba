import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import type { SecretCapability, StoreCopyContainer } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';

/**
 * A Secrets Manager secret that pods fetch at start with their EKS Pod Identity (the AWS CLI in an init container).
 *
 * @example
 * // The MLflow database credentials, as their aws-cdk-lib type:
 * const secret = SecretsManagerSecret.of(RdsPostgres.of(mlflow.database).connectionSecret).secret;
 */
export class SecretsManagerSecret implements SecretCapability {
  /**
   * The SecretsManagerSecret behind a secret capability.
   * @throws when another cloud's stack made it
   */
  public static of(secret: SecretCapability): SecretsManagerSecret {
    return capabilityOf(
      secret,
      SecretsManagerSecret,
      'a SecretsManagerSecret (a secret made by an AwsMlStack)',
    );
  }

  constructor(
    /** The secret's name (fixed, so manifests can name it at synth). */
    public readonly name: string,
    /** The secret. */
    public readonly secret: secretsmanager.ISecret,
    /** The region the CLI calls. */
    private readonly region: string,
  ) {}

  /** @inheritdoc */
  public fetchContainer(file: string): StoreCopyContainer {
    return {
      container: {
        ...storeCopyContainer({
          image: STORE_COPY_IMAGES.aws,
          command: [
            'sh',
            '-ec',
            `aws secretsmanager get-secret-value --secret-id '${this.name}' --query SecretString --output text > ${file}`,
          ],
          env: { HOME: '/tmp', AWS_REGION: this.region },
        }),
        name: 'fetch-db-secret',
      },
      localPath: file,
    };
  }
}
