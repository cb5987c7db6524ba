import { SecretManagerSecretIamMember } from '@cdktf/provider-google/lib/secret-manager-secret-iam-member';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { ServiceAccountIamMember } from '@cdktf/provider-google/lib/service-account-iam-member';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { Construct } from 'constructs';
import type {
  ObjectStoreCapability,
  WorkloadIdentityCapability,
  WorkloadIdentitySpec,
} from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { physicalName, shortHash } from '../private/naming';
import { GcsObjectStore } from './gcs-object-store';
import { GcpSecret } from './secret-manager-secret';

/** Props of {@link GkeWorkloadIdentity}. */
export interface GkeWorkloadIdentityProps extends WorkloadIdentitySpec {
  /** The project. */
  readonly project: string;
  /** The stack name, part of the service account id's identity. */
  readonly stackName: string;
}

/**
 * GKE Workload Identity: a Google service account that may read (object viewer and bucket metadata) or read and
 * write (object user) the given buckets and read the given secrets only, which the Kubernetes ServiceAccount may
 * impersonate; the ServiceAccount carries the `iam.gke.io/gcp-service-account` annotation.
 *
 * The service account is this construct's default child; its IAM members are created next to it (`<id>-…`: the
 * construct ids of mlstack 0.1, kept so that Terraform addresses do not change).
 *
 * @example
 * new ProjectIamMember(stack, 'ServingLogs', {
 *   project: 'my-project', role: 'roles/logging.logWriter', member: GkeWorkloadIdentity.of(service.identity).serviceAccount.member,
 * });
 */
export class GkeWorkloadIdentity extends Construct implements WorkloadIdentityCapability {
  /**
   * The GkeWorkloadIdentity behind a workload identity capability (e.g. `TritonService.identity`).
   * @throws when another cloud's stack made it
   */
  public static of(identity: WorkloadIdentityCapability): GkeWorkloadIdentity {
    return capabilityOf(identity, GkeWorkloadIdentity, 'a GkeWorkloadIdentity (made by a GcpMlStack)');
  }

  /** The Google service account the pods act as. */
  public readonly serviceAccount: ServiceAccount;
  /** @inheritdoc */
  public readonly serviceAccountAnnotations: Readonly<Record<string, string>>;
  /** GKE needs no pod label. */
  public readonly podLabels: Readonly<Record<string, string>> = {};

  constructor(scope: Construct, id: string, props: GkeWorkloadIdentityProps) {
    super(scope, id);
    const accountId = physicalName({
      readable: `${props.namespace}-${props.serviceAccount}`,
      identity: [props.project, props.stackName, props.namespace, props.serviceAccount],
      maxLength: 30,
    });
    const gsa = new ServiceAccount(this, 'Default', {
      accountId,
      displayName: `Kubernetes ${props.namespace}/${props.serviceAccount}`.slice(0, 100),
    });
    this.serviceAccount = gsa;
    const grant = (store: ObjectStoreCapability, roles: string[]) => {
      const bucket = GcsObjectStore.of(store).bucket;
      for (const role of roles) {
        new StorageBucketIamMember(scope, `${id}-${role.split('.')[1]}-${shortHash([store.name], 6)}`, {
          bucket: bucket.name,
          role,
          member: gsa.member,
        });
      }
    };
    for (const store of props.read)
      grant(store, ['roles/storage.objectViewer', 'roles/storage.legacyBucketReader']);
    for (const store of props.readWrite ?? []) {
      grant(store, ['roles/storage.objectUser', 'roles/storage.legacyBucketReader']);
    }
    for (const { store, prefix } of props.createIn ?? []) {
      // objectCreator creates objects, and cannot read, replace or delete them; the condition keeps it to the prefix.
      new StorageBucketIamMember(scope, `${id}-objectCreator-${shortHash([store.name, prefix], 6)}`, {
        bucket: GcsObjectStore.of(store).bucket.name,
        role: 'roles/storage.objectCreator',
        member: gsa.member,
        condition: {
          title: `create under ${prefix}/`.slice(0, 100),
          description: `Objects under ${prefix}/ only`,
          expression: `resource.name.startsWith("projects/_/buckets/${store.name}/objects/${prefix}/")`,
        },
      });
    }
    for (const secret of props.secrets ?? []) {
      new SecretManagerSecretIamMember(scope, `${id}-SecretAccessor-${shortHash([secret.name], 6)}`, {
        secretId: GcpSecret.of(secret).secret.id,
        role: 'roles/secretmanager.secretAccessor',
        member: gsa.member,
      });
    }
    new ServiceAccountIamMember(scope, `${id}-WorkloadIdentityUser`, {
      serviceAccountId: gsa.name,
      role: 'roles/iam.workloadIdentityUser',
      member: `serviceAccount:${props.project}.svc.id.goog[${props.namespace}/${props.serviceAccount}]`,
    });
    this.serviceAccountAnnotations = {
      'iam.gke.io/gcp-service-account': `${accountId}@${props.project}.iam.gserviceaccount.com`,
    };
  }
}
