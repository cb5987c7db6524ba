import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Annotations,
  CfnCondition,
  CfnOutput,
  Duration,
  Lazy,
  RemovalPolicy,
  Size,
  Stack,
  type StackProps,
  Tags,
  Token,
  Validations,
} from 'aws-cdk-lib';
import * as aps from 'aws-cdk-lib/aws-aps';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import * as greengrass from 'aws-cdk-lib/aws-greengrassv2';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { CfnAccessEntry, CfnPodIdentityAssociation } from 'aws-cdk-lib/aws-eks';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import type { Construct, IConstruct } from 'constructs';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { stringify } from 'yaml';
import type { KubernetesManifest } from '../../src/k8s/manifest';
import { renderRulesFile } from '../../src/monitoring/alerts';
import { type KubernetesClusterSpec, type NodePoolSpec, TaintEffect } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import {
  type IMlStack,
  type KubernetesClusterCapability,
  type EdgeFleetCapability,
  type EdgeFleetSpec,
  type ManagedPrometheusCapability,
  MlStack,
  type ObjectStoreCapability,
  type ScrapeTarget,
  type ObjectStoreSpec,
  type PostgresCapability,
  type PostgresSpec,
  type WorkloadIdentityCapability,
  type WorkloadIdentitySpec,
} from '../ml-stack';
import { physicalName } from '../private/naming';
import { STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';

/** Props of {@link AwsMlStack}. */
export interface AwsMlStackProps extends StackProps {
  /**
   * Makes the Lambda layer with `kubectl`, e.g. `(scope) => new KubectlV33Layer(scope, 'Kubectl')` from
   * `@aws-cdk/lambda-layer-kubectl-v33` (match the cluster's Kubernetes minor). When set, `cdk deploy` also
   * applies every Kubernetes manifest of the stack's clusters through the EKS kubectl provider.
   * @default - manifests are only written to the synth output (`k8s/`), for GitOps or `kubectl apply`
   * @see https://docs.aws.amazon.com/cdk/api/v2/docs/aws-eks-v2-readme.html
   */
  readonly kubectlLayer?: (scope: Construct) => lambda.ILayerVersion;
  /**
   * Maximum availability zones of the VPC that mlstack creates for each cluster.
   * @default 3
   */
  readonly maxAzs?: number;
}

const NODE_ROLE_REASON =
  'EKS managed node groups require the AWS managed policies AmazonEKSWorkerNodePolicy, AmazonEKS_CNI_Policy and AmazonEC2ContainerRegistryReadOnly on the node role (https://docs.aws.amazon.com/eks/latest/userguide/create-node-role.html).';

/**
 * An aws-cdk-lib `Stack` that builds mlstack's capabilities with AWS services: EKS (aws-eks-v2) with managed
 * node groups for Kubernetes clusters.
 */
export class AwsMlStack extends Stack implements IMlStack {
  /** Always `aws`. */
  public readonly cloud: Cloud = 'aws';
  private readonly kubectlLayerFactory?: (scope: Construct) => lambda.ILayerVersion;
  private kubectlLayer?: lambda.ILayerVersion;
  private readonly maxAzs: number;
  private readonly buckets = new Map<string, s3.IBucket>();
  private readonly secrets = new Map<string, secretsmanager.ISecret>();
  private serverImage?: string;

  constructor(scope: Construct, id: string, props: AwsMlStackProps = {}) {
    super(scope, id, props);
    MlStack.mark(this);
    this.kubectlLayerFactory = props.kubectlLayer;
    this.maxAzs = props.maxAzs ?? 3;
  }

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    new CfnOutput(scope, id, { value, description });
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    Annotations.of(scope).addWarningV2('mlstack:warning', message);
  }

  /**
   * The mlstack server image as a Docker image asset (built from `docker/mlstack-server.Dockerfile` and pushed
   * to the bootstrap ECR repository by `cdk deploy`). Its URI is only concrete when the stack has an account and
   * a region, which Kubernetes manifests written at synth need.
   */
  public mlstackServerImage(scope: Construct): string | undefined {
    if (this.serverImage) return this.serverImage;
    const root = packageRoot();
    const dockerfile = 'docker/mlstack-server.Dockerfile';
    if (!root || !fs.existsSync(path.join(root, dockerfile)) || !fs.existsSync(path.join(root, 'src'))) {
      return undefined;
    }
    if (Token.isUnresolved(this.account) || Token.isUnresolved(this.region)) return undefined;
    const asset = new ecrAssets.DockerImageAsset(this, 'MlstackServerImage', {
      directory: root,
      file: dockerfile,
      platform: ecrAssets.Platform.LINUX_AMD64,
      displayName: 'mlstack inference server',
    });
    const uri = this.resolve(asset.imageUri) as unknown;
    if (typeof uri !== 'string') {
      // The default synthesizer writes the URI with Fn::Sub placeholders; with a concrete env they are known.
      const repo = this.resolve(asset.repository.repositoryName) as unknown;
      const name = typeof repo === 'string' ? repo : undefined;
      if (!name) return undefined;
      const suffix = this.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
      this.serverImage = `${this.account}.dkr.ecr.${this.region}.${suffix}/${name}:${asset.assetHash}`;
    } else {
      this.serverImage = uri;
    }
    void scope;
    return this.serverImage;
  }

  /**
   * AWS IoT Greengrass v2: the package in a private, encrypted, versioned bucket, a component version whose recipe
   * unpacks it and runs `run.sh`, a thing group, and a deployment to it whose IoT job rolls out at the canary
   * rate, grows by the batch share and aborts (rolling back) above the failure share; the token-exchange role
   * (read on that bucket only), its role alias, and a least-privilege IoT policy for the core devices.
   */
  public addEdgeFleet(scope: Construct, id: string, spec: EdgeFleetSpec): EdgeFleetCapability {
    const bucket = new s3.Bucket(scope, `${id}Artifacts`, {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason:
        'The bucket holds component artifacts written only by cdk deploy and read by the token-exchange role.',
    });
    const prefix = `${spec.componentName}/${spec.version}`;
    const upload = new s3deploy.BucketDeployment(scope, `${id}Upload`, {
      sources: [s3deploy.Source.asset(path.dirname(spec.archive))],
      destinationBucket: bucket,
      destinationKeyPrefix: `${prefix}/`,
      prune: false,
      retainOnDelete: true,
      memoryLimit: 1024,
    });
    acknowledgeBucketDeploymentFindings(this, upload, bucket);
    const recipe = {
      RecipeFormatVersion: '2020-01-25',
      ComponentName: spec.componentName,
      ComponentVersion: spec.version,
      ComponentDescription: `mlstack inference server with model package ${spec.name} ${spec.version} (${spec.target.id})`,
      ComponentPublisher: 'mlstack',
      ComponentConfiguration: { DefaultConfiguration: { port: 8000 } },
      Manifests: [
        {
          Platform: { os: 'linux', architecture: spec.target.architecture },
          Lifecycle: {
            Install: {
              Script: `tar -xzf {artifacts:path}/package.tgz -C {work:path} && npm install --no-audit --no-fund --prefix {work:path}/server mlstack@${spec.mlstackVersion}`,
              Timeout: 1800,
            },
            Run: {
              Script:
                'MLSTACK_HOME={work:path}/server/node_modules/mlstack MLSTACK_PORT={configuration:/port} sh {work:path}/run.sh',
            },
          },
          Artifacts: [
            {
              Uri: `s3://${bucket.bucketName}/${prefix}/package.tgz`,
              Digest: Buffer.from(spec.archiveSha256, 'hex').toString('base64'),
              Algorithm: 'SHA-256',
              Unarchive: 'NONE',
              Permission: { Read: 'OWNER', Execute: 'NONE' },
            },
          ],
        },
      ],
    };
    const component = new greengrass.CfnComponentVersion(scope, `${id}Component`, {
      inlineRecipe: this.toJsonString(recipe),
    });
    component.node.addDependency(upload);
    const group = new iot.CfnThingGroup(scope, `${id}Group`, { thingGroupName: spec.group });
    const r = spec.rollout;
    const canary = Math.max(1, Math.ceil((r.fleetSize * r.canaryPercent) / 100));
    const batch = Math.max(canary, Math.ceil((r.fleetSize * r.batchPercent) / 100));
    const deployment = new greengrass.CfnDeployment(scope, `${id}Deployment`, {
      targetArn: group.attrArn,
      deploymentName: `${spec.name}-${spec.version}`,
      components: { [spec.componentName]: { componentVersion: spec.version } },
      deploymentPolicies: {
        failureHandlingPolicy: 'ROLLBACK',
        componentUpdatePolicy: { action: 'NOTIFY_COMPONENTS', timeoutInSeconds: 60 },
      },
      iotJobConfiguration: {
        jobExecutionsRolloutConfig: {
          exponentialRate: {
            baseRatePerMinute: canary,
            incrementFactor: Math.min(5, Math.max(1.1, Math.round((batch / canary) * 10) / 10)),
            // Typed `any` by aws-cdk-lib, so written in the template's own casing.
            rateIncreaseCriteria: { NumberOfSucceededThings: canary },
          },
          maximumPerMinute: batch,
        },
        abortConfig: {
          criteriaList: [
            {
              action: 'CANCEL',
              failureType: 'ALL',
              minNumberOfExecutedThings: canary,
              thresholdPercentage: r.maxFailurePercent,
            },
          ],
        },
      },
    });
    deployment.node.addDependency(component);
    const exchange = new iam.Role(scope, `${id}TokenExchangeRole`, {
      assumedBy: new iam.ServicePrincipal('credentials.iot.amazonaws.com'),
      description: `Greengrass token-exchange role of edge fleet ${spec.name}: reads its artifacts only`,
    });
    exchange.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${prefix}/*`)],
      }),
    );
    Validations.of(exchange).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${this.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${prefix}/*]`,
      reason: 'Read-only on the objects of this package version in the fleet artifact bucket.',
    });
    const alias = new iot.CfnRoleAlias(scope, `${id}RoleAlias`, {
      roleAlias: `${spec.name}-token-exchange`,
      roleArn: exchange.roleArn,
      credentialDurationSeconds: 3600,
    });
    const thing = this.formatArn({
      service: 'iot',
      resource: 'thing',
      resourceName: '${iot:Connection.Thing.ThingName}',
    });
    new iot.CfnPolicy(scope, `${id}DevicePolicy`, {
      policyName: `${spec.name}-core-devices`,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'iot:Connect',
            Resource: this.formatArn({
              service: 'iot',
              resource: 'client',
              resourceName: '${iot:Connection.Thing.ThingName}*',
            }),
          },
          {
            Effect: 'Allow',
            Action: ['iot:Publish', 'iot:Receive'],
            Resource: [
              this.formatArn({
                service: 'iot',
                resource: 'topic',
                resourceName: '$aws/things/${iot:Connection.Thing.ThingName}/*',
              }),
            ],
          },
          {
            Effect: 'Allow',
            Action: 'iot:Subscribe',
            Resource: [
              this.formatArn({
                service: 'iot',
                resource: 'topicfilter',
                resourceName: '$aws/things/${iot:Connection.Thing.ThingName}/*',
              }),
            ],
          },
          { Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: alias.attrRoleAliasArn },
          {
            Effect: 'Allow',
            Action: [
              'greengrass:GetComponentVersionArtifact',
              'greengrass:ResolveComponentCandidates',
              'greengrass:GetDeploymentConfiguration',
              'greengrass:ListThingGroupsForCoreDevice',
              'greengrass:PutCertificateAuthorities',
              'greengrass:VerifyClientDeviceIdentity',
            ],
            Resource: '*',
          },
          { Effect: 'Allow', Action: ['iot:GetThingShadow', 'iot:UpdateThingShadow'], Resource: thing },
        ],
      },
    });
    new CfnOutput(scope, `${id}ThingGroupArn`, { value: group.attrArn });
    return { files: [] };
  }

  /** EKS with secrets encryption, control-plane logging, Pod Identity, in a VPC of its own. */
  public addKubernetesCluster(
    scope: Construct,
    id: string,
    spec: KubernetesClusterSpec,
  ): KubernetesClusterCapability {
    const vpc = new ec2.Vpc(scope, 'Vpc', {
      // The VPC's default range, written out so that NetworkPolicies can name it at synth.
      ipAddresses: ec2.IpAddresses.cidr(VPC_CIDR),
      maxAzs: this.maxAzs,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'nodes', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 18 },
      ],
      flowLogs: {
        rejected: {
          destination: ec2.FlowLogDestination.toCloudWatchLogs(
            new logs.LogGroup(scope, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH }),
          ),
          trafficType: ec2.FlowLogTrafficType.REJECT,
        },
      },
    });
    let managed: ManagedPrometheusCapability | undefined;
    const secretsKey = new kms.Key(scope, 'SecretsKey', {
      description: `Envelope encryption of Kubernetes secrets of EKS cluster ${spec.name}`,
      enableKeyRotation: true,
    });
    const endpointAccess = spec.privateEndpoint
      ? eks.EndpointAccess.PRIVATE
      : eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...spec.authorizedNetworks);

    if (this.kubectlLayerFactory && !this.kubectlLayer) this.kubectlLayer = this.kubectlLayerFactory(this);
    const cluster = new eks.Cluster(scope, id, {
      clusterName: spec.name,
      version: eks.KubernetesVersion.of(spec.version.version),
      vpc,
      vpcSubnets: [{ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }],
      defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
      defaultCapacity: 0,
      secretsEncryptionKey: secretsKey,
      endpointAccess,
      clusterLogging: [
        eks.ClusterLoggingTypes.API,
        eks.ClusterLoggingTypes.AUDIT,
        eks.ClusterLoggingTypes.AUTHENTICATOR,
        eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
        eks.ClusterLoggingTypes.SCHEDULER,
      ],
      ...(this.kubectlLayer ? { kubectlProviderOptions: { kubectlLayer: this.kubectlLayer } } : {}),
      tags: { ...spec.tags },
    });
    for (const [k, v] of Object.entries(spec.tags)) Tags.of(scope).add(k, v);
    // Workload identity: EKS Pod Identity (IAM roles bound to Kubernetes service accounts).
    new eks.Addon(scope, 'PodIdentityAgent', { cluster, addonName: 'eks-pod-identity-agent' });

    for (const pool of spec.pools) this.addNodegroup(scope, cluster, spec.name, pool);

    new CfnOutput(scope, 'ClusterName', { value: cluster.clusterName });
    new CfnOutput(scope, 'KubeconfigCommand', {
      value: `aws eks update-kubeconfig --name ${cluster.clusterName} --region ${this.region}`,
    });

    acknowledgeEksFindings(scope);
    if (this.kubectlLayer) acknowledgeKubectlProviderFindings(this, cluster);
    return {
      clusterName: cluster.clusterName,
      managesGpuDevicePlugin: false,
      metricsCollectors: { namespaces: [], cidrs: [VPC_CIDR] },
      addNodePool: (poolScope, pool) => {
        this.addNodegroup(poolScope, cluster, spec.name, pool);
      },
      deployManifests: (manifestScope, manifestId, manifests: readonly KubernetesManifest[]) => {
        if (!this.kubectlLayer) return;
        new eks.KubernetesManifest(manifestScope, `Manifest-${manifestId}`, {
          cluster,
          manifest: manifests.map((m) => ({ ...m })),
          overwrite: true,
        });
      },
      addObjectStore: (storeScope, storeId, storeSpec) => this.addObjectStore(storeScope, storeId, storeSpec),
      addWorkloadIdentity: (idScope, idId, idSpec) =>
        this.addWorkloadIdentity(idScope, idId, cluster, idSpec),
      managedPrometheus: (monitoringScope) => {
        managed ??= this.managedPrometheus(monitoringScope, cluster, vpc);
        return managed;
      },
      addPostgres: (dbScope, dbId, dbSpec) => this.addPostgres(dbScope, dbId, dbSpec, cluster, vpc),
    };
  }

  /**
   * RDS for PostgreSQL in the cluster's VPC: reachable from the cluster's nodes only, storage encrypted, TLS
   * required (`rds.force_ssl`), automated backups, Multi-AZ when asked, deletion protection, retained when the
   * stack is deleted, logs to CloudWatch. The master credentials are generated into Secrets Manager under a
   * fixed name; the secret (with host, port and database) is what pods fetch.
   */
  private addPostgres(
    scope: Construct,
    id: string,
    spec: PostgresSpec,
    cluster: eks.Cluster,
    vpc: ec2.Vpc,
  ): PostgresCapability {
    if (Token.isUnresolved(this.region)) {
      throw new Error(
        `${scope.node.path}: the ${spec.purpose} on AWS needs the stack's region: pods fetch its credentials from Secrets Manager with the AWS CLI, which must be told the region in the Kubernetes manifests written at synth. Set env: { region: 'us-east-1' } (or your region) on the AwsMlStack.`,
      );
    }
    const securityGroup = new ec2.SecurityGroup(scope, `${id}SecurityGroup`, {
      vpc,
      description: `PostgreSQL of ${spec.purpose}: from the cluster nodes only`,
      allowAllOutbound: false,
    });
    securityGroup.addIngressRule(
      ec2.Peer.securityGroupId(cluster.clusterSecurityGroupId),
      ec2.Port.tcp(5432),
      'PostgreSQL from the EKS cluster',
    );
    const engine = rds.DatabaseInstanceEngine.postgres({ version: rds.PostgresEngineVersion.VER_16 });
    const secretName = `${this.stackName}/${scope.node.path.split('/').slice(1).join('/')}/${id}`.replace(
      /[^A-Za-z0-9/_+=.@-]/g,
      '-',
    );
    const db = new rds.DatabaseInstance(scope, id, {
      engine,
      instanceType: new ec2.InstanceType(spec.instanceType.replace(/^db\./, '')),
      vpc,
      vpcSubnets: {
        subnetType: spec.publiclyAccessible ? ec2.SubnetType.PUBLIC : ec2.SubnetType.PRIVATE_WITH_EGRESS,
      },
      securityGroups: [securityGroup],
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
    const secret = db.secret!;
    this.secrets.set(secretName, secret);
    Validations.of(db).acknowledge(
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
    Validations.of(db).acknowledge({
      id: 'AwsSolutions::AwsSolutions-SMG4',
      reason:
        'The MLflow pods read the credentials when they start; automatic rotation would break running pods. Rotate by updating the secret and restarting the Deployment.',
    });
    const region = this.region;
    return {
      description: 'Amazon RDS for PostgreSQL 16',
      connectionSecret: {
        name: secretName,
        fetchContainer: (file) => ({
          container: {
            ...storeCopyContainer({
              image: STORE_COPY_IMAGES.aws,
              command: [
                'sh',
                '-ec',
                `aws secretsmanager get-secret-value --secret-id '${secretName}' --query SecretString --output text > ${file}`,
              ],
              env: { HOME: '/tmp', AWS_REGION: region },
            }),
            name: 'fetch-db-secret',
          },
          localPath: file,
        }),
      },
    };
  }

  /**
   * Amazon Managed Service for Prometheus: a workspace, an agentless AWS managed scraper that collects the
   * cluster's targets from inside its VPC (with an EKS access entry and the Kubernetes RBAC it needs), and a rule
   * groups namespace per alert group.
   * @see https://docs.aws.amazon.com/prometheus/latest/userguide/AMP-collector-how-to.html
   */
  private managedPrometheus(
    scope: Construct,
    cluster: eks.Cluster,
    vpc: ec2.Vpc,
  ): ManagedPrometheusCapability {
    const workspace = new aps.CfnWorkspace(scope, 'PrometheusWorkspace', {
      alias: `${scope.node.path.replace(/\//g, '-')}-prometheus`.slice(0, 100),
    });
    const targets: ScrapeTarget[] = [];
    const scraper = new aps.CfnScraper(scope, 'PrometheusScraper', {
      alias: scope.node.path.replace(/\//g, '-').slice(0, 100),
      source: {
        eksConfiguration: {
          clusterArn: cluster.clusterArn,
          subnetIds: vpc.selectSubnets({ subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS }).subnetIds,
          securityGroupIds: [cluster.clusterSecurityGroupId],
        },
      },
      destination: { ampConfiguration: { workspaceArn: workspace.attrArn } },
      scrapeConfiguration: {
        configurationBlob: Lazy.string({
          produce: () => Buffer.from(scrapeConfiguration(targets)).toString('base64'),
        }),
      },
    });
    // The scraper authenticates as its service-linked role, mapped to the Kubernetes user the RBAC below binds.
    new CfnAccessEntry(scope, 'PrometheusScraperAccess', {
      clusterName: cluster.clusterName,
      principalArn: scraper.attrRoleArn,
      username: SCRAPER_USER,
    });
    new CfnOutput(scope, 'PrometheusRemoteWriteUrl', {
      value: `${workspace.attrPrometheusEndpoint}api/v1/remote_write`,
    });
    new CfnOutput(scope, 'PrometheusQueryUrl', { value: `${workspace.attrPrometheusEndpoint}api/v1/query` });
    let rbacEmitted = false;
    return {
      description: 'Amazon Managed Service for Prometheus',
      addScrapeTarget: (_scope, _id, t) => {
        targets.push(t);
        if (rbacEmitted) return [];
        rbacEmitted = true;
        return scraperRbac();
      },
      addRuleGroups: (groupScope, id, groups) => {
        new aps.CfnRuleGroupsNamespace(groupScope, id, {
          workspace: workspace.attrArn,
          name: `${groupScope.node.path.replace(/\//g, '-')}-${id}`.slice(0, 64),
          data: renderRulesFile(groups),
        });
        return [];
      },
    };
  }

  /**
   * An S3 bucket: versioned, SSE-S3 encrypted, public access blocked, TLS only, objects owned by the bucket
   * owner, old versions expired after 30 days, retained when the stack is deleted. `contents` are uploaded by a
   * `BucketDeployment` at `cdk deploy`, pruned per prefix.
   */
  private addObjectStore(scope: Construct, id: string, spec: ObjectStoreSpec): ObjectStoreCapability {
    const accountKnown = !Token.isUnresolved(this.account);
    const name =
      spec.name ??
      physicalName({
        readable: `${this.stackName}-${scope.node.id}-${id}`,
        identity: [accountKnown ? this.account : '', this.stackName, scope.node.path, id],
        maxLength: 63,
      });
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..')) {
      throw new Error(
        `${scope.node.path}: bucket name '${name}' is not a valid S3 bucket name. Use 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit.`,
      );
    }
    if (!spec.name && !accountKnown) {
      this.addWarning(
        scope,
        `The S3 bucket for the ${spec.purpose} is named '${name}', derived from the stack name and construct path because the stack has no account. S3 names are global: another account deploying the same program gets the same name and its deploy fails. Set env.account on the stack (the name then includes it) or choose a name.`,
      );
    }
    const bucket = new s3.Bucket(scope, id, {
      bucketName: name,
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'expire-old-versions',
          noncurrentVersionExpiration: Duration.days(spec.lifecycle?.noncurrentVersionDays ?? 30),
        },
        ...(spec.lifecycle?.infrequentAccessAfterDays
          ? [
              {
                id: 'infrequent-access',
                transitions: [
                  {
                    storageClass: s3.StorageClass.INFREQUENT_ACCESS,
                    transitionAfter: Duration.days(spec.lifecycle.infrequentAccessAfterDays),
                  },
                ],
              },
            ]
          : []),
      ],
      // Buckets are retained by default (RemovalPolicy.RETAIN), whatever spec.retain says.
    });
    Validations.of(bucket).acknowledge({
      id: 'AwsSolutions::AwsSolutions-S1',
      reason: `The bucket holds the ${spec.purpose}, written only by cdk deploy and read by one role; CloudTrail records its API calls. Server access logs would need a log bucket per stack.`,
    });
    spec.contents.forEach((c, i) => {
      // The upload function unpacks the zipped folder in its /tmp: size it for the zip and its content.
      const bytes = c.files.reduce((n, f) => n + fs.statSync(path.join(c.dir, f)).size, 0);
      const tmpMiB = Math.max(512, Math.ceil((2.2 * bytes) / 2 ** 20) + 256);
      if (tmpMiB > 10240) {
        throw new Error(
          `${scope.node.path}: the ${spec.purpose} is ${(bytes / 2 ** 30).toFixed(1)} GiB, more than the deploy-time upload (a Lambda function with at most 10 GiB of /tmp) can copy. Upload it yourself (aws s3 sync) and serve from that bucket.`,
        );
      }
      const upload = new s3deploy.BucketDeployment(scope, `${id}Upload${i === 0 ? '' : i}`, {
        sources: [s3deploy.Source.asset(c.dir)],
        destinationBucket: bucket,
        destinationKeyPrefix: `${c.prefix}/`,
        prune: true,
        retainOnDelete: true,
        memoryLimit: 1024,
        ephemeralStorageSize: Size.mebibytes(tmpMiB),
      });
      acknowledgeBucketDeploymentFindings(this, upload, bucket);
    });
    this.buckets.set(name, bucket);
    const region = Token.isUnresolved(this.region) ? undefined : this.region;
    return {
      name,
      pythonUri: (prefix) => `s3://${name}/${prefix}`,
      tritonReadsUri: false,
      uri: (prefix) => `s3://${name}/${prefix}`,
      uploadStep: (localDir, prefix) => ({
        image: STORE_COPY_IMAGES.aws,
        env: { HOME: '/tmp', ...(region ? { AWS_REGION: region } : {}) },
        script: [`aws s3 cp --recursive --only-show-errors ${localDir} "s3://${name}/${prefix}"`],
      }),
      copyContainer: (prefix, target) => ({
        container: storeCopyContainer({
          image: STORE_COPY_IMAGES.aws,
          command: [
            'aws',
            's3',
            'sync',
            '--no-progress',
            '--only-show-errors',
            `s3://${name}/${prefix}`,
            target,
          ],
          env: { HOME: '/tmp', ...(region ? { AWS_REGION: region } : {}) },
        }),
        localPath: target,
      }),
    };
  }

  /**
   * An IAM role for EKS Pod Identity (trusted by `pods.eks.amazonaws.com`), allowed to list and read the given
   * buckets only, and its association with the ServiceAccount: nothing to annotate on the Kubernetes side.
   */
  private addWorkloadIdentity(
    scope: Construct,
    id: string,
    cluster: eks.Cluster,
    spec: WorkloadIdentitySpec,
  ): WorkloadIdentityCapability {
    const role = new iam.Role(scope, id, {
      assumedBy: new iam.SessionTagsPrincipal(new iam.ServicePrincipal('pods.eks.amazonaws.com')),
      description: `EKS Pod Identity of ${spec.namespace}/${spec.serviceAccount}`,
    });
    const grant = (store: ObjectStoreCapability, write: boolean) => {
      const bucket = this.buckets.get(store.name);
      if (!bucket) throw new Error(`${scope.node.path}: bucket '${store.name}' is not one of this stack's.`);
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ['s3:ListBucket', 's3:GetBucketLocation'],
          resources: [bucket.bucketArn],
        }),
      );
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: write ? ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'] : ['s3:GetObject'],
          resources: [bucket.arnForObjects('*')],
        }),
      );
      Validations.of(role).acknowledge({
        id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${this.getLogicalId(
          bucket.node.defaultChild as s3.CfnBucket,
        )}.Arn>/*]`,
        reason: write
          ? 'Read and write (s3:GetObject, PutObject, DeleteObject) on the objects of the one bucket this workload owns.'
          : 'Read-only (s3:GetObject) on the objects of the one bucket this workload serves from.',
      });
    };
    for (const store of spec.read) grant(store, false);
    for (const store of spec.readWrite ?? []) grant(store, true);
    for (const secret of spec.secrets ?? []) {
      const resource = this.secrets.get(secret.name);
      if (!resource)
        throw new Error(`${scope.node.path}: secret '${secret.name}' is not one of this stack's.`);
      resource.grantRead(role);
    }
    new CfnPodIdentityAssociation(scope, `${id}Association`, {
      clusterName: cluster.clusterName,
      namespace: spec.namespace,
      serviceAccount: spec.serviceAccount,
      roleArn: role.roleArn,
    });
    return { serviceAccountAnnotations: {}, podLabels: {} };
  }

  private addNodegroup(
    scope: Construct,
    cluster: eks.Cluster,
    clusterName: string,
    pool: NodePoolSpec,
  ): eks.Nodegroup {
    const gpu = pool.gpu !== undefined;
    const nodegroup = new eks.Nodegroup(scope, `Pool-${pool.name}`, {
      cluster,
      // instanceTypes is set on the L1 below: aws-eks-v2 checks the AMI type against its own list of GPU
      // families (p2, p3, g2, g3, g4), which lacks g5, g6, g6e, p4d, p4de and p5 and would reject the NVIDIA AMI.
      // AL2023 NVIDIA AMIs ship the NVIDIA driver and container toolkit.
      amiType: gpu ? eks.NodegroupAmiType.AL2023_X86_64_NVIDIA : eks.NodegroupAmiType.AL2023_X86_64_STANDARD,
      capacityType: pool.spot ? eks.CapacityType.SPOT : eks.CapacityType.ON_DEMAND,
      minSize: pool.minNodes,
      maxSize: pool.maxNodes,
      desiredSize: pool.minNodes,
      diskSize: pool.diskSizeGiB,
      labels: { ...pool.labels },
      taints: pool.taints.map((t) => ({
        key: t.key,
        ...(t.value !== undefined ? { value: t.value } : {}),
        effect: TAINT_EFFECT[t.effect],
      })),
      subnets: {
        subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS,
        ...(pool.zones ? { availabilityZones: [...pool.zones] } : {}),
      },
      tags: autoscalerTemplateTags(clusterName, pool),
    });
    (nodegroup.node.defaultChild as eks.CfnNodegroup).instanceTypes = [pool.instanceType];
    return nodegroup;
  }
}

const SCRAPER_USER = 'aps-collector-user';
const VPC_CIDR = '10.0.0.0/16';

/**
 * The Prometheus configuration of the managed scraper: one job per target, each finding the Service's endpoints
 * by namespace, labels and port name.
 */
function scrapeConfiguration(targets: readonly ScrapeTarget[]): string {
  return stringify(
    {
      global: { scrape_interval: targets[0]?.interval ?? '30s' },
      scrape_configs: targets.map((t) => ({
        job_name: t.job,
        scrape_interval: t.interval,
        honor_labels: t.honorLabels,
        kubernetes_sd_configs: [{ role: 'endpoints', namespaces: { names: [t.namespace] } }],
        relabel_configs: [
          ...Object.entries(t.selector).map(([k, v]) => ({
            source_labels: [`__meta_kubernetes_service_label_${k.replace(/[^a-zA-Z0-9_]/g, '_')}`],
            regex: v,
            action: 'keep',
          })),
          { source_labels: ['__meta_kubernetes_endpoint_port_name'], regex: t.port, action: 'keep' },
          { source_labels: ['__meta_kubernetes_namespace'], target_label: 'namespace' },
          { source_labels: ['__meta_kubernetes_pod_name'], target_label: 'pod' },
          { source_labels: ['__meta_kubernetes_pod_node_name'], target_label: 'node' },
        ],
      })),
    },
    { lineWidth: 0 },
  );
}

/** What the managed scraper may read in the cluster (AWS's documented ClusterRole for the scraper user). */
function scraperRbac(): (ClusterRole | ClusterRoleBinding)[] {
  const labels = { 'app.kubernetes.io/managed-by': 'mlstack' };
  return [
    new ClusterRole({
      metadata: { name: 'aps-collector-role', labels },
      rules: [
        {
          apiGroups: [''],
          resources: ['nodes', 'nodes/proxy', 'nodes/metrics', 'services', 'endpoints', 'pods', 'configmaps'],
          verbs: ['get', 'list', 'watch'],
        },
        { apiGroups: ['discovery.k8s.io'], resources: ['endpointslices'], verbs: ['get', 'list', 'watch'] },
        { nonResourceURLs: ['/metrics'], verbs: ['get'] },
      ],
    }),
    new ClusterRoleBinding({
      metadata: { name: 'aps-collector-user-role-binding', labels },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: 'aps-collector-role' },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: SCRAPER_USER }],
    }),
  ];
}

/** The folder of the mlstack package (where package.json names it), if this code runs from one. */
function packageRoot(): string | undefined {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mlstack') return dir;
      } catch {
        // not ours
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}

/**
 * Findings on the Lambda function that `BucketDeployment` creates (aws-cdk-lib's own custom resource): it uses
 * the AWS managed basic execution policy and wildcard S3 actions to copy the asset into the destination.
 * Acknowledged on that function only, with the ids cdk-nag reports.
 */
function acknowledgeBucketDeploymentFindings(
  stack: Stack,
  upload: s3deploy.BucketDeployment,
  bucket: s3.Bucket,
): void {
  const reason =
    'aws-cdk-lib BucketDeployment uploads the asset at deploy: its Lambda function uses the AWS managed basic execution policy, reads the CDK asset bucket and syncs (get, put, delete, abort multipart) the objects of the destination bucket.';
  const iam5 = (what: string) => ({ id: `AwsSolutions::AwsSolutions-IAM5[${what}]`, reason });
  Validations.of(upload.handlerRole).acknowledge(
    {
      id: 'AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason,
    },
    ...['s3:GetObject*', 's3:GetBucket*', 's3:List*', 's3:DeleteObject*', 's3:Abort*'].map((a) =>
      iam5(`Action::${a}`),
    ),
    iam5(`Resource::<${stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/*`),
    iam5(
      `Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-${
        Token.isUnresolved(stack.account) ? '<AWS::AccountId>' : stack.account
      }-${Token.isUnresolved(stack.region) ? '<AWS::Region>' : stack.region}/*`,
    ),
  );
  const handler = upload.handlerRole.node.scope;
  if (handler) Validations.of(handler).acknowledge({ id: 'AwsSolutions::AwsSolutions-L1', reason });
}

const TAINT_EFFECT: Record<TaintEffect, eks.TaintEffect> = {
  [TaintEffect.NO_SCHEDULE]: eks.TaintEffect.NO_SCHEDULE,
  [TaintEffect.PREFER_NO_SCHEDULE]: eks.TaintEffect.PREFER_NO_SCHEDULE,
  [TaintEffect.NO_EXECUTE]: eks.TaintEffect.NO_EXECUTE,
};

/**
 * Tags that let the Kubernetes Cluster Autoscaler scale a pool up from zero: it cannot see a node's labels,
 * taints or GPUs before one exists, so it reads them from these tags.
 * @see https://github.com/kubernetes/autoscaler/blob/master/cluster-autoscaler/cloudprovider/aws/README.md#auto-discovery-setup
 */
function autoscalerTemplateTags(clusterName: string, pool: NodePoolSpec): Record<string, string> {
  const prefix = 'k8s.io/cluster-autoscaler/node-template';
  const tags: Record<string, string> = {
    'k8s.io/cluster-autoscaler/enabled': 'true',
    [`k8s.io/cluster-autoscaler/${clusterName}`]: 'owned',
  };
  for (const [k, v] of Object.entries(pool.labels)) tags[`${prefix}/label/${k}`] = v;
  for (const t of pool.taints) tags[`${prefix}/taint/${t.key}`] = `${t.value ?? ''}:${t.effect}`;
  if (pool.gpu) tags[`${prefix}/resources/nvidia.com/gpu`] = String(pool.gpu.count);
  return tags;
}

/**
 * Findings of cdk-nag's AwsSolutions pack that come from aws-eks-v2 itself or from AWS's own requirements,
 * each with its reason (cdk-nag 3 reads them through aws-cdk-lib's `Validations.acknowledge`).
 */
function acknowledgeEksFindings(scope: Construct): void {
  const managed = (policy: string) =>
    `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`;
  Validations.of(scope).acknowledge(
    ...['AmazonEKSWorkerNodePolicy', 'AmazonEKS_CNI_Policy', 'AmazonEC2ContainerRegistryReadOnly'].map(
      (p) => ({
        id: managed(p),
        reason: NODE_ROLE_REASON,
      }),
    ),
    {
      id: managed('AmazonEKSClusterPolicy'),
      reason:
        'The EKS cluster role requires the AWS managed AmazonEKSClusterPolicy (https://docs.aws.amazon.com/eks/latest/userguide/cluster-iam-role.html).',
    },
    {
      id: 'CloudFormation-Validate::W9009',
      reason:
        'aws-eks-v2 writes EncryptionConfig.Resources: ["secrets"], the only value EKS accepts; the validator flags the property as deprecated in the schema, but it is what enables envelope encryption of secrets.',
    },
  );
}

/**
 * Findings on the kubectl provider that aws-eks-v2 creates when a kubectl layer is given: its Lambda roles
 * use the AWS managed Lambda execution policies and may invoke the handler's versions. The ids carry logical
 * ids, so they are computed from the provider's constructs.
 */
function acknowledgeKubectlProviderFindings(stack: Stack, cluster: eks.Cluster): void {
  const all = cluster.node.findAll();
  const handler = all.find(
    (c): c is lambda.CfnFunction =>
      c instanceof lambda.CfnFunction && c.node.path.endsWith('KubectlProvider/Handler/Resource'),
  );
  const ecrCondition = all.find(
    (c): c is CfnCondition => c instanceof CfnCondition && c.node.id.startsWith('HasEcrPublic'),
  );
  const reason =
    'The kubectl provider is made by aws-eks-v2: its Lambda functions run in the VPC with the AWS managed Lambda execution policies (https://docs.aws.amazon.com/lambda/latest/dg/lambda-intro-execution-role.html) and the provider framework invokes any version of its handler.';
  const managed = (policy: string) =>
    `AwsSolutions::AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/${policy}]`;
  Validations.of(cluster).acknowledge(
    { id: managed('service-role/AWSLambdaBasicExecutionRole'), reason },
    { id: managed('service-role/AWSLambdaVPCAccessExecutionRole'), reason },
    ...(ecrCondition
      ? [
          {
            id: `AwsSolutions::AwsSolutions-IAM4[Policy::${JSON.stringify({
              'Fn::If': [
                stack.getLogicalId(ecrCondition),
                {
                  'Fn::Join': [
                    '',
                    [
                      'arn:',
                      { Ref: 'AWS::Partition' },
                      ':iam::aws:policy/AmazonElasticContainerRegistryPublicReadOnly',
                    ],
                  ],
                },
                { Ref: 'AWS::NoValue' },
              ],
            })}]`,
            reason,
          },
        ]
      : []),
    ...(handler
      ? [{ id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${stack.getLogicalId(handler)}.Arn>:*]`, reason }]
      : []),
    {
      id: 'AwsSolutions::AwsSolutions-L1',
      reason: 'The Lambda runtimes of aws-eks-v2 custom resources are chosen by aws-cdk-lib.',
    },
  );
}
