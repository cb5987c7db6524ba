import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import { Construct } from 'constructs';
import type { PostgresCapability, PostgresSpec } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { visiblePath } from '../private/naming';
import { SecretsManagerSecret } from './secrets-manager-secret';

/** Props of {@link RdsPostgres}. */
export interface RdsPostgresProps extends PostgresSpec {
  /** The cluster's VPC. */
  readonly vpc: ec2.IVpc;
  /**
   * Private subnets for the database (unless it is public).
   * @default - the VPC's private subnets with egress
   */
  readonly privateSubnets?: ec2.SubnetSelection;
  /** The security group of the cluster's nodes: the only peer allowed to connect. */
  readonly clusterSecurityGroupId: string;
}

/**
 * RDS for PostgreSQL in the cluster's VPC: reachable from the cluster's nodes only, storage encrypted, TLS required
 * (`rds.force_ssl`), automated backups, Multi-AZ when asked, deletion protection, retained when the stack is
 * deleted, logs to CloudWatch. The master credentials are generated into Secrets Manager under a fixed name; the
 * secret (with host, port and database) is what pods fetch.
 *
 * The instance is this construct's default child; its security group and parameter group are created next to it
 * as `<id>SecurityGroup` and `<id>Parameters` (the construct ids of mlstack 0.1, kept so that logical ids do not
 * change).
 *
 * @example
 * // The MLflow database, as its aws-cdk-lib type:
 * const instance = RdsPostgres.of(mlflow.database).instance;
 * instance.metricCPUUtilization().createAlarm(stack, 'MlflowDbCpu', { threshold: 80, evaluationPeriods: 3 });
 */
export class RdsPostgres extends Construct implements PostgresCapability {
  /**
   * The RdsPostgres behind a database capability (e.g. `MlflowTracking.database`).
   * @throws when another cloud's stack made it
   */
  public static of(database: PostgresCapability): RdsPostgres {
    return capabilityOf(database, RdsPostgres, 'an RdsPostgres (a database made by an AwsMlStack)');
  }

  /** @inheritdoc */
  public readonly description = 'Amazon RDS for PostgreSQL 16';
  /** The database instance. */
  public readonly instance: rds.DatabaseInstance;
  /** Its security group (PostgreSQL from the cluster's nodes only). */
  public readonly securityGroup: ec2.SecurityGroup;
  /** The connection JSON (`host`, `port`, `username`, `password`, `dbname`) in Secrets Manager. */
  public readonly connectionSecret: SecretsManagerSecret;

  constructor(scope: Construct, id: string, spec: RdsPostgresProps) {
    super(scope, id);
    const stack = Stack.of(this);
    if (Token.isUnresolved(stack.region)) {
      throw new Error(
        `${scope.node.path}: the ${spec.purpose} on AWS needs the stack's region: pods fetch its credentials from Secrets Manager with the AWS CLI, which must be told the region in the Kubernetes manifests written at synth. Set env: { region: 'us-east-1' } (or your region) on the AwsMlStack.`,
      );
    }
    this.securityGroup = new ec2.SecurityGroup(scope, `${id}SecurityGroup`, {
      vpc: spec.vpc,
      description: `PostgreSQL of ${spec.purpose}: from the cluster nodes only`,
      allowAllOutbound: false,
    });
    this.securityGroup.addIngressRule(
      ec2.Peer.securityGroupId(spec.clusterSecurityGroupId),
      ec2.Port.tcp(5432),
      'PostgreSQL from the EKS cluster',
    );
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 });
    const secretName = `${stack.stackName}/${visiblePath(scope).split('/').slice(1).join('/')}/${id}`.replace(
      /[^A-Za-z0-9/_+=.@-]/g,
      '-',
    );
    // The subnet group the instance would make itself, with the description it gave it when it was the `id` child.
    const subnetGroup = new rds.SubnetGroup(this, 'SubnetGroup', {
      description: `Subnet group for ${id} database`,
      vpc: spec.vpc,
      vpcSubnets: spec.publiclyAccessible
        ? { subnetType: ec2.SubnetType.PUBLIC }
        : (spec.privateSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }),
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.instance = new rds.DatabaseInstance(this, 'Default', {
      subnetGroup,
      engine,
      instanceType: new ec2.InstanceType(spec.instanceType.replace(/^db\./, '')),
      vpc: spec.vpc,
      vpcSubnets: spec.publiclyAccessible
        ? { subnetType: ec2.SubnetType.PUBLIC }
        : (spec.privateSubnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }),
      securityGroups: [this.securityGroup],
      publiclyAccessible: spec.publiclyAccessible,
      credentials: rds.Credentials.fromGeneratedSecret(spec.username, {
        secretName,
        // Only characters that need no escaping in a connection URI.
        excludeCharacters: ' %+~`#$&*()|[]{}:;<>?!\'/@"\\,=^',
      }),
      databaseName: spec.databaseName,
      allocatedStorage: spec.storageGiB,
      maxAllocatedStorage: spec.storageGiB * 4,
      storageType: rds.StorageType.GP3,
      storageEncrypted: true,
      multiAz: spec.highAvailability,
      backupRetention: Duration.days(spec.backupRetentionDays),
      deletionProtection: true,
      removalPolicy: RemovalPolicy.RETAIN,
      parameterGroup: new rds.ParameterGroup(scope, `${id}Parameters`, {
        engine,
        description: `TLS required for ${spec.purpose}`,
        parameters: { 'rds.force_ssl': '1' },
      }),
      cloudwatchLogsExports: ['postgresql'],
      autoMinorVersionUpgrade: true,
      copyTagsToSnapshot: true,
    });
    // The database outlives its stack (Retain), so does the secret that unlocks it: deleting the stack leaves both,
    // and a new stack of the same name must import or remove them first (the secret's name is fixed).
    // (`instance.secret` is the attachment; the generated secret is the instance's `Secret` child.)
    (this.instance.node.findChild('Secret') as rds.DatabaseSecret).applyRemovalPolicy(RemovalPolicy.RETAIN);
    this.connectionSecret = new SecretsManagerSecret(secretName, this.instance.secret!, stack.region);
    Validations.of(this.instance).acknowledge(
      {
        id: 'AwsSolutions::AwsSolutions-RDS11',
        reason:
          'PostgreSQL listens on its default port inside a private VPC, reachable from the cluster nodes only.',
      },
      ...(spec.highAvailability
        ? []
        : [
            {
              id: 'AwsSolutions::AwsSolutions-RDS3',
              reason: 'Multi-AZ is off for a non-production tracking server (highAvailability: false).',
            },
          ]),
    );
    // The generated secret is the instance's child (db.secret is its attachment).
    Validations.of(this.instance).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The MLflow pods read the credentials when they start; automatic rotation would break running pods. Rotate by updating the secret and restarting the Deployment.',
    });
  }
}
