import { AzurermBackend, GcsBackend, LocalBackend, type TerraformBackend, type TerraformStack } from 'cdktf';
import { acknowledgeTerraform } from '../../src/policy/acknowledge';
import { Validator } from '../../src/spec/errors';
import { shortHash } from './naming';
import { addTerraformWarning } from './terraform';

/** The policy rule that local state raises (and that `TerraformState.local` acknowledges with its reason). */
const REMOTE_STATE_RULE = 'MLS-TF-REMOTE-STATE';

/** Props of {@link TerraformState.gcs}. */
export interface GcsStateProps {
  /** The GCS bucket that holds the state (create it once, with versioning: docs/deploy.md). */
  readonly bucket: string;
  /**
   * The object prefix of this stack's state.
   * @default `mlstack/<stack>`
   */
  readonly prefix?: string;
  /**
   * A Cloud KMS key (`projects/…/cryptoKeys/…`) that encrypts the state instead of Google's default encryption.
   * @default - Google-managed encryption at rest
   */
  readonly kmsEncryptionKey?: string;
}

/** Props of {@link TerraformState.azurerm}. */
export interface AzurermStateProps {
  /** The resource group of the storage account. */
  readonly resourceGroupName: string;
  /** The storage account that holds the state (3–24 lower-case letters and digits). */
  readonly storageAccountName: string;
  /**
   * The blob container.
   * @default 'tfstate'
   */
  readonly containerName?: string;
  /**
   * The blob name of this stack's state.
   * @default `mlstack/<stack>.tfstate`
   */
  readonly key?: string;
}

/** Props of {@link TerraformState.local}. */
export interface LocalStateProps {
  /**
   * Why local state is right here (e.g. a throwaway test environment). It acknowledges the `MLS-TF-REMOTE-STATE`
   * finding, and the report shows it.
   */
  readonly reason: string;
  /**
   * The state file, relative to the stack's folder.
   * @default `terraform.<stack>.tfstate`
   */
  readonly path?: string;
}

/** What the default state of a stack is derived from. */
export type DefaultStateIdentity =
  | { readonly cloud: 'gcp'; readonly project: string }
  | { readonly cloud: 'azure'; readonly subscriptionId: string };

/**
 * Where a Terraform stack keeps its state. State holds every attribute Terraform knows — generated database
 * passwords, connection strings — so mlstack stacks keep it remotely by default, in the cloud's object store
 * (encrypted at rest, with locking): a GCS bucket `<project>-tfstate` on Google Cloud, the storage account
 * `tfstate<hash of the subscription>` in resource group `tfstate` on Azure (see {@link TerraformState.defaultFor}).
 *
 * ```ts
 * new GcpMlStack(app.gcp, 'ml-platform', { project, region, state: TerraformState.gcs({ bucket: 'acme-tfstate' }) });
 * ```
 */
export abstract class TerraformState {
  /** State in a GCS bucket (encrypted at rest; locks with the bucket's generation preconditions). */
  public static gcs(props: GcsStateProps): TerraformState {
    return new GcsState(props);
  }

  /** State in an Azure blob container, reached with Entra ID (`use_azuread_auth`, no account keys). */
  public static azurerm(props: AzurermStateProps): TerraformState {
    return new AzurermState(props);
  }

  /**
   * State in a local file, for a throwaway environment: synth warns, and the policy finding is acknowledged with
   * `reason`.
   */
  public static local(props: LocalStateProps): TerraformState {
    return new LocalState(props);
  }

  /** Any other cdktf backend, e.g. `(stack) => new S3Backend(stack, {...})`. */
  public static custom(factory: (stack: TerraformStack) => TerraformBackend): TerraformState {
    return new CustomState(factory);
  }

  /**
   * The default of a stack: GCS bucket `<project>-tfstate` (prefix `mlstack/<stack>`) on Google Cloud; on Azure the
   * container `tfstate` of storage account `tfstate<10 hex digits of the subscription id's hash>` in resource group
   * `tfstate` (key `mlstack/<stack>.tfstate`). Create them once per project or subscription (docs/deploy.md).
   */
  public static defaultFor(identity: DefaultStateIdentity): TerraformState {
    return identity.cloud === 'gcp'
      ? new GcsState({ bucket: `${identity.project}-tfstate` })
      : new AzurermState({
          resourceGroupName: 'tfstate',
          storageAccountName: `tfstate${shortHash([identity.subscriptionId], 10)}`,
        });
  }

  /**
   * Checks the props and configures `stack`'s backend.
   * @internal
   */
  public abstract bind(stack: TerraformStack, where: string): void;
}

class GcsState extends TerraformState {
  constructor(private readonly props: GcsStateProps) {
    super();
  }

  public bind(stack: TerraformStack, where: string): void {
    const v = new Validator(where);
    const { bucket } = this.props;
    if (!/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/.test(bucket)) {
      v.fail(
        'state.bucket',
        bucket,
        'is not a GCS bucket name',
        'Use 3–63 lower-case letters, digits, dashes, underscores or dots, starting and ending with a letter or digit.',
      );
    }
    new GcsBackend(stack, {
      bucket,
      prefix: this.props.prefix ?? `mlstack/${stack.node.id}`,
      ...(this.props.kmsEncryptionKey ? { kmsEncryptionKey: this.props.kmsEncryptionKey } : {}),
    });
  }
}

class AzurermState extends TerraformState {
  constructor(private readonly props: AzurermStateProps) {
    super();
  }

  public bind(stack: TerraformStack, where: string): void {
    const v = new Validator(where);
    const { storageAccountName } = this.props;
    if (!/^[a-z0-9]{3,24}$/.test(storageAccountName)) {
      v.fail(
        'state.storageAccountName',
        storageAccountName,
        'is not a storage account name',
        'Use 3–24 lower-case letters and digits.',
      );
    }
    new AzurermBackend(stack, {
      resourceGroupName: this.props.resourceGroupName,
      storageAccountName,
      containerName: this.props.containerName ?? 'tfstate',
      key: this.props.key ?? `mlstack/${stack.node.id}.tfstate`,
      useAzureadAuth: true,
    });
  }
}

class LocalState extends TerraformState {
  constructor(private readonly props: LocalStateProps) {
    super();
  }

  public bind(stack: TerraformStack, where: string): void {
    new Validator(where).reason(
      'state.reason',
      this.props.reason,
      'local state is right here',
      'Give the reason in a sentence (e.g. "A throwaway test environment, destroyed after each run.").',
    );
    // cdktf's default local backend writes an absolute path, which would make `cdk.tf.json` differ between
    // machines and checkouts: the path is relative to the stack's folder.
    new LocalBackend(stack, { path: this.props.path ?? `terraform.${stack.node.id}.tfstate` });
    acknowledgeTerraform(stack, REMOTE_STATE_RULE, this.props.reason);
    addTerraformWarning(
      stack,
      `${where} keeps its Terraform state in a local file: generated passwords and connection strings sit unencrypted on one machine, and two applies at once corrupt it. Use TerraformState.gcs/azurerm for anything shared.`,
    );
  }
}

class CustomState extends TerraformState {
  constructor(private readonly factory: (stack: TerraformStack) => TerraformBackend) {
    super();
  }

  public bind(stack: TerraformStack): void {
    this.factory(stack);
  }
}
