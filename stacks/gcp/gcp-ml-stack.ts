// Resource classes are imported by deep path: the package index loads every resource of the provider
// (~2 s, ~450 MB); a deep import loads one (~0.2 s).
import { ComputeNetwork } from '@cdktf/provider-google/lib/compute-network';
import { ComputeRouter } from '@cdktf/provider-google/lib/compute-router';
import { ComputeRouterNat } from '@cdktf/provider-google/lib/compute-router-nat';
import { ComputeSubnetwork } from '@cdktf/provider-google/lib/compute-subnetwork';
import { ContainerCluster } from '@cdktf/provider-google/lib/container-cluster';
import { ContainerNodePool } from '@cdktf/provider-google/lib/container-node-pool';
import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project';
import { KmsCryptoKey } from '@cdktf/provider-google/lib/kms-crypto-key';
import { KmsCryptoKeyIamMember } from '@cdktf/provider-google/lib/kms-crypto-key-iam-member';
import { KmsKeyRing } from '@cdktf/provider-google/lib/kms-key-ring';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { ServiceAccountIamMember } from '@cdktf/provider-google/lib/service-account-iam-member';
import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository';
import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address';
import { GkeHubFeature } from '@cdktf/provider-google/lib/gke-hub-feature';
import { SecretManagerSecret } from '@cdktf/provider-google/lib/secret-manager-secret';
import { SecretManagerSecretIamMember } from '@cdktf/provider-google/lib/secret-manager-secret-iam-member';
import { SecretManagerSecretVersion } from '@cdktf/provider-google/lib/secret-manager-secret-version';
import { ServiceNetworkingConnection } from '@cdktf/provider-google/lib/service-networking-connection';
import { SqlDatabase } from '@cdktf/provider-google/lib/sql-database';
import { SqlDatabaseInstance } from '@cdktf/provider-google/lib/sql-database-instance';
import { SqlUser } from '@cdktf/provider-google/lib/sql-user';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketIamMember } from '@cdktf/provider-google/lib/storage-bucket-iam-member';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object';
import { Password } from '@cdktf/provider-random/lib/password';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Fn, TerraformOutput, TerraformStack } from 'cdktf';
import { Construct, type IConstruct } from 'constructs';
import {
  DEFAULT_GPU_TAINT,
  type KubernetesClusterSpec,
  type NodePoolSpec,
  TaintEffect,
} from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import {
  type IMlStack,
  type KubernetesClusterCapability,
  type EdgeFleetCapability,
  type EdgeFleetSpec,
  type ManagedPrometheusCapability,
  MlStack,
  type ObjectStoreCapability,
  type ObjectStoreSpec,
  type PostgresCapability,
  type PostgresSpec,
  type WorkloadIdentityCapability,
  type WorkloadIdentitySpec,
} from '../ml-stack';
import { ClusterRules, PodMonitoring } from '../../src/k8s/gmp';
import { physicalName, shortHash } from '../private/naming';
import { STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';
import {
  addTerraformWarning,
  randomProvider,
  type TerraformBackendFactory,
  configureBackend,
  uploadDirectory,
} from '../private/terraform';

/** Props of {@link GcpMlStack}. */
export interface GcpMlStackProps {
  /** The Google Cloud project id. */
  readonly project: string;
  /**
   * The region; clusters are regional (control plane replicated across the region's zones).
   * @see https://cloud.google.com/compute/docs/regions-zones
   */
  readonly region: string;
  /**
   * The Terraform backend.
   * @default - a local backend at `terraform.<stack>.tfstate`, relative to the stack's folder
   */
  readonly backend?: TerraformBackendFactory;
}

/** Roles the node service account needs, and no more (GKE hardening guide). */
const NODE_ROLES = [
  'roles/logging.logWriter',
  'roles/monitoring.metricWriter',
  'roles/monitoring.viewer',
  'roles/stackdriver.resourceMetadata.writer',
  'roles/autoscaling.metricsWriter',
  'roles/artifactregistry.reader',
];

const GKE_TAINT_EFFECT: Record<TaintEffect, string> = {
  [TaintEffect.NO_SCHEDULE]: 'NO_SCHEDULE',
  [TaintEffect.PREFER_NO_SCHEDULE]: 'PREFER_NO_SCHEDULE',
  [TaintEffect.NO_EXECUTE]: 'NO_EXECUTE',
};

/**
 * A CDK for Terraform stack with the `google` provider that builds mlstack's capabilities with Google Cloud
 * services: GKE for Kubernetes clusters.
 */
export class GcpMlStack extends TerraformStack implements IMlStack {
  /** Always `gcp`. */
  public readonly cloud: Cloud = 'gcp';
  /** The stack name (its construct id). */
  public readonly stackName: string;
  /** The project id. */
  public readonly project: string;
  /** The region. */
  public readonly region: string;

  constructor(scope: Construct, id: string, props: GcpMlStackProps) {
    super(scope, id);
    MlStack.mark(this);
    this.stackName = id;
    if (!/^[a-z][a-z0-9-]{4,28}[a-z0-9]$/.test(props.project ?? '')) {
      throw new Error(
        `GcpMlStack '${id}': 'project' (${JSON.stringify(props.project)}) is not a Google Cloud project id. Use 6-30 lowercase letters, digits and hyphens, starting with a letter.`,
      );
    }
    if (!/^[a-z]+-[a-z]+\d$/.test(props.region ?? '')) {
      throw new Error(
        `GcpMlStack '${id}': 'region' (${JSON.stringify(props.region)}) is not a Google Cloud region. Use a region name such as 'us-central1'.`,
      );
    }
    this.project = props.project;
    this.region = props.region;
    new GoogleProvider(this, 'google', { project: props.project, region: props.region });
    configureBackend(this, id, props.backend);
  }

  private readonly buckets = new Map<string, StorageBucket>();
  private readonly secrets = new Map<string, SecretManagerSecret>();

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    new TerraformOutput(scope, id, { value, description });
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    addTerraformWarning(scope, message);
  }

  /**
   * Google Cloud has no device service since IoT Core's retirement: devices run a small Kubernetes (k3s) registered
   * as GKE fleet members, and Config Sync on the fleet pulls a bundle (Namespace, Deployment of the image holding
   * the package, Service on 127.0.0.1:8000 of the device) from Artifact Registry as an OCI artifact. This builds the
   * Artifact Registry repository and the fleet's Config Sync default, and writes the bundle to the synth output;
   * staged percentages and automatic rollback have no equivalent (a synth warning and docs/edge-fleet.md say so).
   */
  public addEdgeFleet(scope: Construct, id: string, spec: EdgeFleetSpec): EdgeFleetCapability {
    if (!spec.image)
      throw new Error(`${scope.node.path}: a fleet bundle needs an image holding the package.`);
    const repo = new ArtifactRegistryRepository(scope, `${id}-Registry`, {
      repositoryId: `${spec.name}-edge`,
      location: this.region,
      format: 'DOCKER',
      description: `Images and Config Sync bundles of edge fleet ${spec.name}`,
    });
    const bundle = `${this.region}-docker.pkg.dev/${this.project}/${spec.name}-edge/bundle`;
    new GkeHubFeature(scope, `${id}-ConfigSync`, {
      name: 'configmanagement',
      location: 'global',
      fleetDefaultMemberConfig: {
        configmanagement: {
          configSync: {
            enabled: true,
            sourceFormat: 'unstructured',
            oci: {
              syncRepo: `${bundle}:${spec.version}`,
              policyDir: '.',
              secretType: 'gcpserviceaccount',
              syncWaitSecs: '60',
            },
          },
        },
      },
      dependsOn: [repo],
    });
    new TerraformOutput(scope, `${id}-push-command`, {
      value: `oras push ${bundle}:${spec.version} bundle/`,
      description: `Publishes the Config Sync bundle of ${spec.name} ${spec.version} (run in its synth folder).`,
    }).overrideLogicalId(`${spec.name}-bundle-push-command`);
    this.addWarning(
      scope,
      `Edge fleet ${spec.name}: GKE fleets with Config Sync roll out to every member at once — no ${spec.rollout.canaryPercent}% canary, no batches, no automatic rollback on ${spec.rollout.maxFailurePercent}% failures; roll back by pointing the sync at the previous bundle tag (docs/edge-fleet.md).`,
    );
    const labels = { 'app.kubernetes.io/name': spec.name, 'app.kubernetes.io/managed-by': 'mlstack' };
    const probe = (p: string) => ({ httpGet: { path: p, port: 8000, host: '127.0.0.1' } });
    const objects = [
      new Namespace({ metadata: { name: 'mlstack-edge', labels } }),
      new Deployment({
        metadata: { name: spec.name, namespace: 'mlstack-edge', labels },
        spec: {
          replicas: 1,
          selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              hostNetwork: true,
              containers: [
                {
                  name: 'mlstack-server',
                  image: spec.image,
                  args: ['serve', '/models', '--host', '127.0.0.1', '--port', '8000'],
                  readinessProbe: probe('/v2/health/ready'),
                  livenessProbe: probe('/v2/health/live'),
                  securityContext: {
                    runAsNonRoot: true,
                    runAsUser: 1000,
                    allowPrivilegeEscalation: false,
                    readOnlyRootFilesystem: true,
                    capabilities: { drop: ['ALL'] },
                  },
                  volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                },
              ],
              volumes: [{ name: 'tmp', emptyDir: {} }],
            },
          },
        },
      }),
    ];
    for (const o of objects) o.validate();
    return {
      files: objects.map((o) => ({
        path: `bundle/${o.kind.toLowerCase()}-${o.metadata!.name}.json`,
        content: `${JSON.stringify(o.toJSON(), null, 2)}\n`,
      })),
    };
  }

  /** Terraform builds no images: the mlstack server image is a reference the user pushed (Artifact Registry). */
  public mlstackServerImage(): string | undefined {
    return undefined;
  }

  /**
   * A regional GKE cluster: VPC-native in a network of its own with Cloud NAT, private nodes, Workload Identity,
   * shielded nodes, application-layer secrets encryption with a Cloud KMS key, Dataplane V2, release channel.
   */
  public addKubernetesCluster(
    scope: Construct,
    id: string,
    spec: KubernetesClusterSpec,
  ): KubernetesClusterCapability {
    const name = spec.name;
    const labels = { ...spec.tags };
    const project = new DataGoogleProject(scope, 'Project', { projectId: this.project });

    const network = new ComputeNetwork(scope, 'Network', {
      name: `${name}-net`,
      autoCreateSubnetworks: false,
    });
    const subnet = new ComputeSubnetwork(scope, 'Subnet', {
      name: `${name}-nodes`,
      network: network.id,
      region: this.region,
      ipCidrRange: '10.0.0.0/20',
      privateIpGoogleAccess: true,
      secondaryIpRange: [
        { rangeName: 'pods', ipCidrRange: '10.16.0.0/14' },
        { rangeName: 'services', ipCidrRange: '10.20.0.0/20' },
      ],
      logConfig: {
        aggregationInterval: 'INTERVAL_5_SEC',
        flowSampling: 0.5,
        metadata: 'INCLUDE_ALL_METADATA',
      },
    });
    // Private nodes have no external IP: Cloud NAT gives them egress to pull images.
    const router = new ComputeRouter(scope, 'Router', {
      name: `${name}-router`,
      network: network.id,
      region: this.region,
    });
    new ComputeRouterNat(scope, 'Nat', {
      name: `${name}-nat`,
      router: router.name,
      region: this.region,
      natIpAllocateOption: 'AUTO_ONLY',
      sourceSubnetworkIpRangesToNat: 'ALL_SUBNETWORKS_ALL_IP_RANGES',
      logConfig: { enable: true, filter: 'ERRORS_ONLY' },
    });

    const keyRing = new KmsKeyRing(scope, 'KeyRing', { name: `${name}-secrets`, location: this.region });
    const key = new KmsCryptoKey(scope, 'SecretsKey', {
      name: `${name}-etcd`,
      keyRing: keyRing.id,
      rotationPeriod: '7776000s',
      lifecycle: { preventDestroy: true },
    });
    const keyGrant = new KmsCryptoKeyIamMember(scope, 'SecretsKeyGkeAgent', {
      cryptoKeyId: key.id,
      role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
      member: `serviceAccount:service-${project.number}@container-engine-robot.iam.gserviceaccount.com`,
    });

    const nodeSa = new ServiceAccount(scope, 'NodeServiceAccount', {
      accountId: `${name}-nodes`.slice(0, 30),
      displayName: `GKE nodes of ${name}`,
    });
    for (const role of NODE_ROLES) {
      new ProjectIamMember(scope, `NodeRole-${role.replace('roles/', '')}`, {
        project: this.project,
        role,
        member: nodeSa.member,
      });
    }

    const cluster = new ContainerCluster(scope, id, {
      name,
      location: this.region,
      minMasterVersion: spec.version.version,
      releaseChannel: { channel: 'REGULAR' },
      network: network.id,
      subnetwork: subnet.id,
      networkingMode: 'VPC_NATIVE',
      ipAllocationPolicy: { clusterSecondaryRangeName: 'pods', servicesSecondaryRangeName: 'services' },
      datapathProvider: 'ADVANCED_DATAPATH',
      privateClusterConfig: {
        enablePrivateNodes: true,
        enablePrivateEndpoint: spec.privateEndpoint,
        masterIpv4CidrBlock: '172.16.0.0/28',
      },
      masterAuthorizedNetworksConfig: {
        cidrBlocks: spec.privateEndpoint
          ? [{ cidrBlock: '10.0.0.0/20', displayName: 'nodes' }]
          : spec.authorizedNetworks.map((c) => ({ cidrBlock: c, displayName: c })),
      },
      workloadIdentityConfig: { workloadPool: `${this.project}.svc.id.goog` },
      databaseEncryption: { state: 'ENCRYPTED', keyName: key.id },
      enableShieldedNodes: true,
      removeDefaultNodePool: true,
      initialNodeCount: 1,
      // The default pool is removed right after creation; it still must not run as the default compute SA.
      nodeConfig: {
        serviceAccount: nodeSa.email,
        oauthScopes: ['https://www.googleapis.com/auth/cloud-platform'],
        shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
        workloadMetadataConfig: { mode: 'GKE_METADATA' },
      },
      resourceLabels: labels,
      deletionProtection: true,
      dependsOn: [keyGrant],
    });

    const addPool = (poolScope: Construct, pool: NodePoolSpec) =>
      this.addNodePool(poolScope, cluster, nodeSa, spec, pool);
    let managed: ManagedPrometheusCapability | undefined;
    let privateServices: ServiceNetworkingConnection | undefined;
    for (const pool of spec.pools) addPool(scope, pool);

    new TerraformOutput(scope, 'ClusterName', { value: cluster.name });
    new TerraformOutput(scope, 'KubeconfigCommand', {
      value: `gcloud container clusters get-credentials ${name} --region ${this.region} --project ${this.project}`,
    });
    return {
      clusterName: name,
      // GKE installs the NVIDIA driver and its own device plugin on pools with gpu_driver_installation_config,
      // and applies time-sharing/MIG from gpu_sharing_config/gpu_partition_size.
      managesGpuDevicePlugin: true,
      metricsCollectors: { namespaces: ['gmp-system'], cidrs: [] },
      addNodePool: addPool,
      deployManifests() {
        // Terraform JSON carries no Kubernetes objects: they are in the synth output's k8s/ folder.
      },
      addObjectStore: (storeScope, storeId, storeSpec) =>
        this.addObjectStore(storeScope, storeId, storeSpec, labels),
      addWorkloadIdentity: (idScope, idId, idSpec) => this.addWorkloadIdentity(idScope, idId, idSpec),
      managedPrometheus: () => {
        managed ??= this.managedPrometheus(cluster);
        return managed;
      },
      addPostgres: (dbScope, dbId, dbSpec) => {
        privateServices ??= this.privateServiceAccess(scope, name, network);
        return this.addPostgres(dbScope, dbId, dbSpec, network, privateServices, labels);
      },
    };
  }

  /** Private services access on the cluster's network: the peering Cloud SQL private IPs come through. */
  private privateServiceAccess(
    scope: Construct,
    clusterName: string,
    network: ComputeNetwork,
  ): ServiceNetworkingConnection {
    const range = new ComputeGlobalAddress(scope, 'PrivateServicesRange', {
      name: `${clusterName}-services`,
      purpose: 'VPC_PEERING',
      addressType: 'INTERNAL',
      prefixLength: 20,
      network: network.id,
    });
    return new ServiceNetworkingConnection(scope, 'PrivateServicesConnection', {
      network: network.id,
      service: 'servicenetworking.googleapis.com',
      reservedPeeringRanges: [range.name],
    });
  }

  /**
   * Cloud SQL for PostgreSQL with a private IP on the cluster's network only (no public IP), TLS required,
   * automated backups with point-in-time recovery, regional availability when asked, deletion protection in
   * Cloud SQL and in Terraform. The password is generated by Terraform (`random_password`) and the connection
   * is kept as JSON in Secret Manager: neither appears in `cdk.tf.json`.
   */
  private addPostgres(
    scope: Construct,
    id: string,
    spec: PostgresSpec,
    network: ComputeNetwork,
    privateServices: ServiceNetworkingConnection,
    labels: Record<string, string>,
  ): PostgresCapability {
    const name = physicalName({
      readable: `${scope.node.id}-${id}`,
      identity: [this.project, this.stackName, scope.node.path, id],
      maxLength: 80,
    });
    const instance = new SqlDatabaseInstance(scope, id, {
      name,
      region: this.region,
      databaseVersion: `POSTGRES_${spec.version}`,
      deletionProtection: true,
      settings: {
        tier: spec.instanceType,
        edition: 'ENTERPRISE',
        availabilityType: spec.highAvailability ? 'REGIONAL' : 'ZONAL',
        diskType: 'PD_SSD',
        diskSize: spec.storageGiB,
        diskAutoresize: true,
        deletionProtectionEnabled: true,
        backupConfiguration: {
          enabled: spec.backupRetentionDays > 0,
          pointInTimeRecoveryEnabled: spec.backupRetentionDays > 0,
          startTime: '02:00',
          ...(spec.backupRetentionDays > 0
            ? {
                backupRetentionSettings: { retainedBackups: spec.backupRetentionDays },
                transactionLogRetentionDays: Math.min(7, spec.backupRetentionDays),
              }
            : {}),
        },
        ipConfiguration: {
          ipv4Enabled: spec.publiclyAccessible,
          privateNetwork: network.id,
          sslMode: 'ENCRYPTED_ONLY',
        },
        userLabels: { ...labels },
      },
      lifecycle: { preventDestroy: true },
      dependsOn: [privateServices],
    });
    new SqlDatabase(scope, `${id}-Database`, { name: spec.databaseName, instance: instance.name });
    randomProvider(this);
    const password = new Password(scope, `${id}-Password`, { length: 32, special: false });
    new SqlUser(scope, `${id}-User`, {
      name: spec.username,
      instance: instance.name,
      password: password.result,
    });
    const secretName = physicalName({
      readable: `${scope.node.id}-${id}-connection`,
      identity: [this.project, this.stackName, scope.node.path, id, 'secret'],
      maxLength: 255,
    });
    const secret = new SecretManagerSecret(scope, `${id}-Secret`, {
      secretId: secretName,
      replication: { auto: {} },
      labels: { ...labels },
    });
    new SecretManagerSecretVersion(scope, `${id}-SecretValue`, {
      secret: secret.id,
      secretData: Fn.jsonencode({
        host: instance.privateIpAddress,
        port: 5432,
        username: spec.username,
        password: password.result,
        dbname: spec.databaseName,
      }),
    });
    this.secrets.set(secretName, secret);
    new TerraformOutput(scope, `${id}-ConnectionName`, { value: instance.connectionName });
    return {
      description: 'Cloud SQL for PostgreSQL 16',
      connectionSecret: {
        name: secretName,
        fetchContainer: (file) => ({
          container: {
            ...storeCopyContainer({
              image: STORE_COPY_IMAGES.gcp,
              command: [
                'gcloud',
                'secrets',
                'versions',
                'access',
                'latest',
                `--secret=${secretName}`,
                `--project=${this.project}`,
                `--out-file=${file}`,
              ],
              env: { HOME: '/tmp', CLOUDSDK_CONFIG: '/tmp/gcloud' },
            }),
            name: 'fetch-db-secret',
          },
          localPath: file,
        }),
      },
    };
  }

  /**
   * Google Cloud Managed Service for Prometheus: managed collection on the cluster (`monitoring_config`), a
   * PodMonitoring per target (its name is the `job` label) and Rules objects for managed rule evaluation.
   */
  private managedPrometheus(cluster: ContainerCluster): ManagedPrometheusCapability {
    cluster.putMonitoringConfig({
      enableComponents: ['SYSTEM_COMPONENTS'],
      managedPrometheus: { enabled: true },
    });
    return {
      description: 'Google Cloud Managed Service for Prometheus',
      addScrapeTarget: (_scope, _id, t) => [
        new PodMonitoring(
          { name: t.job, namespace: t.namespace, labels: { 'app.kubernetes.io/managed-by': 'mlstack' } },
          {
            selector: { matchLabels: { ...t.selector } },
            endpoints: [{ port: t.podPort, path: '/metrics', interval: t.interval }],
          },
        ),
      ],
      addRuleGroups: (_scope, _id, groups) => [
        new ClusterRules(
          { name: groups[0]?.name ?? 'mlstack-rules', labels: { 'app.kubernetes.io/managed-by': 'mlstack' } },
          {
            groups: groups.map((g) => ({
              name: g.name,
              interval: g.interval ?? '30s',
              rules: g.rules.map((r) => ({
                ...r,
                labels: { ...r.labels },
                annotations: { ...r.annotations },
              })),
            })),
          },
        ),
      ],
    };
  }

  /**
   * A regional GCS bucket: uniform bucket-level access, public access prevention enforced, versioned (old versions
   * deleted after 30 days), encrypted at rest by Google (always on), not force-destroyed. `contents` become
   * `google_storage_bucket_object`s whose sources are Terraform assets next to `cdk.tf.json`.
   */
  private addObjectStore(
    scope: Construct,
    id: string,
    spec: ObjectStoreSpec,
    labels: Record<string, string>,
  ): ObjectStoreCapability {
    const name =
      spec.name ??
      physicalName({
        prefix: this.project,
        readable: `${scope.node.id}${id}`,
        identity: [this.project, this.stackName, scope.node.path, id],
        maxLength: 63,
      });
    if (!/^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$/.test(name) || name.startsWith('goog')) {
      throw new Error(
        `${scope.node.path}: bucket name '${name}' is not a valid Cloud Storage bucket name. Use 3-63 lowercase letters, digits, '-', '_' and '.', not starting with 'goog'.`,
      );
    }
    const bucket = new StorageBucket(scope, id, {
      name,
      location: this.region.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      lifecycleRule: [
        {
          condition: { daysSinceNoncurrentTime: spec.lifecycle?.noncurrentVersionDays ?? 30 },
          action: { type: 'Delete' },
        },
        ...(spec.lifecycle?.infrequentAccessAfterDays
          ? [
              {
                condition: { age: spec.lifecycle.infrequentAccessAfterDays },
                action: { type: 'SetStorageClass', storageClass: 'NEARLINE' },
              },
            ]
          : []),
      ],
      forceDestroy: false,
      ...(spec.retain ? { lifecycle: { preventDestroy: true } } : {}),
      labels: { ...labels, purpose: 'mlstack-models' },
    });
    uploadDirectory(scope, id, spec.contents, (objectId, key, source) => {
      new StorageBucketObject(scope, objectId, { bucket: bucket.name, name: key, source });
    });
    this.buckets.set(name, bucket);
    return {
      name,
      pythonUri: (prefix) => `gs://${name}/${prefix}`,
      tritonReadsUri: true,
      uri: (prefix) => `gs://${name}/${prefix}`,
      uploadStep: (localDir, prefix) => ({
        image: STORE_COPY_IMAGES.gcp,
        env: { HOME: '/tmp', CLOUDSDK_CONFIG: '/tmp/gcloud' },
        script: [`gcloud storage cp --recursive ${localDir}/* "gs://${name}/${prefix}/"`],
      }),
      copyContainer: (prefix, target) => ({
        container: storeCopyContainer({
          image: STORE_COPY_IMAGES.gcp,
          command: ['gcloud', 'storage', 'rsync', '--recursive', `gs://${name}/${prefix}`, target],
          env: { HOME: '/tmp', CLOUDSDK_CONFIG: '/tmp/gcloud' },
        }),
        localPath: target,
      }),
    };
  }

  /**
   * GKE Workload Identity: a Google service account that may read the given buckets only (object viewer and
   * bucket metadata), which the Kubernetes ServiceAccount may impersonate; the ServiceAccount carries the
   * `iam.gke.io/gcp-service-account` annotation.
   */
  private addWorkloadIdentity(
    scope: Construct,
    id: string,
    spec: WorkloadIdentitySpec,
  ): WorkloadIdentityCapability {
    const accountId = physicalName({
      readable: `${spec.namespace}-${spec.serviceAccount}`,
      identity: [this.project, this.stackName, spec.namespace, spec.serviceAccount],
      maxLength: 30,
    });
    const gsa = new ServiceAccount(scope, id, {
      accountId,
      displayName: `Kubernetes ${spec.namespace}/${spec.serviceAccount}`.slice(0, 100),
    });
    const grant = (store: ObjectStoreCapability, roles: string[]) => {
      const bucket = this.buckets.get(store.name);
      if (!bucket) throw new Error(`${scope.node.path}: bucket '${store.name}' is not one of this stack's.`);
      for (const role of roles) {
        new StorageBucketIamMember(scope, `${id}-${role.split('.')[1]}-${shortHash([store.name], 6)}`, {
          bucket: bucket.name,
          role,
          member: gsa.member,
        });
      }
    };
    for (const store of spec.read)
      grant(store, ['roles/storage.objectViewer', 'roles/storage.legacyBucketReader']);
    for (const store of spec.readWrite ?? []) {
      grant(store, ['roles/storage.objectUser', 'roles/storage.legacyBucketReader']);
    }
    for (const secret of spec.secrets ?? []) {
      const resource = this.secrets.get(secret.name);
      if (!resource)
        throw new Error(`${scope.node.path}: secret '${secret.name}' is not one of this stack's.`);
      new SecretManagerSecretIamMember(scope, `${id}-SecretAccessor-${shortHash([secret.name], 6)}`, {
        secretId: resource.id,
        role: 'roles/secretmanager.secretAccessor',
        member: gsa.member,
      });
    }
    new ServiceAccountIamMember(scope, `${id}-WorkloadIdentityUser`, {
      serviceAccountId: gsa.name,
      role: 'roles/iam.workloadIdentityUser',
      member: `serviceAccount:${this.project}.svc.id.goog[${spec.namespace}/${spec.serviceAccount}]`,
    });
    return {
      serviceAccountAnnotations: {
        'iam.gke.io/gcp-service-account': `${accountId}@${this.project}.iam.gserviceaccount.com`,
      },
      podLabels: {},
    };
  }

  private addNodePool(
    scope: Construct,
    cluster: ContainerCluster,
    nodeSa: ServiceAccount,
    spec: KubernetesClusterSpec,
    pool: NodePoolSpec,
  ): ContainerNodePool {
    const gpu = pool.gpu;
    // GKE taints GPU nodes with nvidia.com/gpu=present:NoSchedule itself; declaring it again makes a diff.
    const taints = pool.taints.filter(
      (t) =>
        !(
          gpu &&
          t.key === DEFAULT_GPU_TAINT.key &&
          t.value === DEFAULT_GPU_TAINT.value &&
          t.effect === DEFAULT_GPU_TAINT.effect
        ),
    );
    return new ContainerNodePool(scope, `Pool-${pool.name}`, {
      name: pool.name,
      cluster: cluster.id,
      location: this.region,
      ...(pool.zones ? { nodeLocations: [...pool.zones] } : {}),
      initialNodeCount: pool.role === 'system' ? 1 : 0,
      autoscaling: {
        totalMinNodeCount: pool.minNodes,
        totalMaxNodeCount: pool.maxNodes,
        // GPUs are scarce: take capacity in whichever zone has it.
        locationPolicy: gpu ? 'ANY' : 'BALANCED',
      },
      management: { autoRepair: true, autoUpgrade: true },
      upgradeSettings: { maxSurge: 1, maxUnavailable: 0 },
      nodeConfig: {
        machineType: pool.instanceType,
        diskSizeGb: pool.diskSizeGiB,
        diskType: 'pd-balanced',
        imageType: 'COS_CONTAINERD',
        serviceAccount: nodeSa.email,
        oauthScopes: ['https://www.googleapis.com/auth/cloud-platform'],
        labels: { ...pool.labels },
        resourceLabels: { ...spec.tags },
        spot: pool.spot,
        shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
        workloadMetadataConfig: { mode: 'GKE_METADATA' },
        ...(taints.length
          ? {
              taint: taints.map((t) => ({
                key: t.key,
                value: t.value ?? '',
                effect: GKE_TAINT_EFFECT[t.effect],
              })),
            }
          : {}),
        ...(gpu
          ? {
              guestAccelerator: [
                {
                  type: gpu.acceleratorType ?? '',
                  count: gpu.count,
                  gpuDriverInstallationConfig: { gpuDriverVersion: 'LATEST' },
                  ...(gpu.sharing?.strategy === 'mig' ? { gpuPartitionSize: gpu.sharing.migProfile } : {}),
                  ...(gpu.sharing?.strategy === 'time-slicing'
                    ? {
                        gpuSharingConfig: {
                          gpuSharingStrategy: 'TIME_SHARING',
                          maxSharedClientsPerGpu: gpu.sharing.replicas ?? 2,
                        },
                      }
                    : {}),
                },
              ],
            }
          : {}),
      },
    });
  }
}
