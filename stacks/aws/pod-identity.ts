import { Stack, Validations } from 'aws-cdk-lib';
import { CfnPodIdentityAssociation } from 'aws-cdk-lib/aws-eks';
import type * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type {
  ObjectStoreCapability,
  WorkloadIdentityCapability,
  WorkloadIdentitySpec,
} from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { S3ObjectStore } from './s3-object-store';
import { SecretsManagerSecret } from './secrets-manager-secret';

/** Props of {@link PodIdentity}. */
export interface PodIdentityProps extends WorkloadIdentitySpec {
  /** The cluster whose ServiceAccount the role is bound to. */
  readonly cluster: eks.ICluster;
}

/**
 * EKS Pod Identity: an IAM role trusted by `pods.eks.amazonaws.com`, allowed exactly the given stores (list and
 * read, or read and write) and secrets, and its association with the ServiceAccount — nothing to annotate on the
 * Kubernetes side.
 *
 * The role is this construct's default child; the association is created next to it as `<id>Association`.
 *
 * @example
 * // Let the serving pods also read a bucket of your own:
 * PodIdentity.of(service.identity).role.addToPrincipalPolicy(
 *   new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: [`${myBucket.bucketArn}/*`] }),
 * );
 */
export class PodIdentity extends Construct implements WorkloadIdentityCapability {
  /**
   * The PodIdentity behind a workload identity capability (e.g. `TritonService.identity`).
   * @throws when another cloud's stack made it
   */
  public static of(identity: WorkloadIdentityCapability): PodIdentity {
    return capabilityOf(identity, PodIdentity, 'a PodIdentity (a workload identity made by an AwsMlStack)');
  }

  /** The IAM role the pods act as. */
  public readonly role: iam.Role;
  /** The association of the role with the ServiceAccount. */
  public readonly association: CfnPodIdentityAssociation;
  /** Pod Identity needs no ServiceAccount annotation. */
  public readonly serviceAccountAnnotations: Readonly<Record<string, string>> = {};
  /** Pod Identity needs no pod label. */
  public readonly podLabels: Readonly<Record<string, string>> = {};

  constructor(scope: Construct, id: string, props: PodIdentityProps) {
    super(scope, id);
    this.role = new iam.Role(this, 'Default', {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      description: `EKS Pod Identity of ${props.namespace}/${props.serviceAccount}`,
    });
    for (const store of props.read) this.grant(store, false);
    for (const store of props.readWrite ?? []) this.grant(store, true);
    for (const { store, prefix } of props.createIn ?? []) {
      const bucket = S3ObjectStore.of(store).bucket;
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:PutObject'],
          resources: [bucket.arnForObjects(`${prefix}/*`)],
        }),
      );
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(
          bucket.node.defaultChild as s3.CfnBucket,
        )}.Arn>/${prefix}/*]`,
        reason: `Create only (s3:PutObject) under ${prefix}/ of the bucket, where this workload ships what it captures; file names are new each time.`,
      });
    }
    for (const secret of props.secrets ?? []) SecretsManagerSecret.of(secret).secret.grantRead(this.role);
    this.association = new CfnPodIdentityAssociation(scope, `${id}Association`, {
      clusterName: props.cluster.clusterName,
      namespace: props.namespace,
      serviceAccount: props.serviceAccount,
      roleArn: this.role.roleArn,
    });
  }

  private grant(store: ObjectStoreCapability, write: boolean): void {
    const bucket = S3ObjectStore.of(store).bucket;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:ListBucket', 's3:GetBucketLocation'],
        resources: [bucket.bucketArn],
      }),
    );
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: write ? ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'] : ['s3:GetObject'],
        resources: [bucket.arnForObjects('*')],
      }),
    );
    Validations.of(this.role).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${Stack.of(this).getLogicalId(
        bucket.node.defaultChild as s3.CfnBucket,
      )}.Arn>/*]`,
      reason: write
        ? 'Read and write (s3:GetObject, PutObject, DeleteObject) on the objects of the one bucket this workload owns.'
        : 'Read-only (s3:GetObject) on the objects of the one bucket this workload serves from.',
    });
  }
}
