import { ComputeGlobalAddress } from '@cdktf/provider-google/lib/compute-global-address';
import { ComputeNetwork } from '@cdktf/provider-google/lib/compute-network';
import { ComputeRouter } from '@cdktf/provider-google/lib/compute-router';
import { ComputeRouterNat } from '@cdktf/provider-google/lib/compute-router-nat';
import { ComputeSubnetwork } from '@cdktf/provider-google/lib/compute-subnetwork';
import { ContainerCluster } from '@cdktf/provider-google/lib/container-cluster';
import { DataGoogleContainerCluster } from '@cdktf/provider-google/lib/data-google-container-cluster';
import { DataGoogleProject } from '@cdktf/provider-google/lib/data-google-project';
import { KmsCryptoKey } from '@cdktf/provider-google/lib/kms-crypto-key';
import { KmsCryptoKeyIamMember } from '@cdktf/provider-google/lib/kms-crypto-key-iam-member';
import { KmsKeyRing } from '@cdktf/provider-google/lib/kms-key-ring';
import { ProjectIamMember } from '@cdktf/provider-google/lib/project-iam-member';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { ServiceNetworkingConnection } from '@cdktf/provider-google/lib/service-networking-connection';
import { TerraformOutput, TerraformStack } from 'cdktf';
import type { ManifestFile } from '../../src/synth/output';
import { attachTerraformManifestFiles } from '../private/terraform';
import { Construct, type IConstruct } from 'constructs';
import type { KubernetesClusterSpec, NodePoolSpec } from '../../src/spec/cluster';
import type {
  KubernetesClusterCapability,
  NodePoolResult,
  ObjectStoreSpec,
  PostgresSpec,
  WorkloadIdentityCapability,
  WorkloadIdentitySpec,
} from '../capabilities';
import { capabilityOf, poolByName } from '../private/capability-of';
import { validateAtSynth } from '../private/validation';
import { CloudSqlPostgres } from './cloud-sql-postgres';
import { GcsObjectStore } from './gcs-object-store';
import { GkeNodePool } from './gke-node-pool';
import { GkeWorkloadIdentity } from './gke-workload-identity';
import { GkeNetwork } from './gke-network';
import { GkeExistingCluster } from './gke-existing-cluster';
import { GmpPrometheus } from './managed-prometheus';
import { kedaChart } from '../../src/k8s/keda';
import type { HelmChartSpec } from '../../src/k8s/helm';

/** Props of {@link GkeCluster}. */
export interface GkeClusterProps {
  /** The validated cluster. */
  readonly spec: KubernetesClusterSpec;
  readonly project: string;
  readonly region: string;
  /** The stack name, part of derived resource names. */
  readonly stackName: string;
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

/**
 * A GpuCluster on Google Cloud: a regional GKE cluster, VPC-native in a network of its own with Cloud NAT, private
 * nodes, Workload Identity, shielded nodes, application-layer secrets encryption with a Cloud KMS key, Dataplane
 * V2, the regular release channel, a least-privilege node service account, and an autoscaled node pool per pool.
 * It is the GpuCluster's default child, so the resources keep the Terraform addresses they had when the GpuCluster
 * made them itself.
 *
 * @example
 * const gke = GkeCluster.of(cluster).cluster;
 * gke.putMaintenancePolicy({ dailyMaintenanceWindow: { startTime: '03:00' } });
 */
export class GkeCluster extends Construct implements KubernetesClusterCapability {
  /**
   * The GkeCluster of a GpuCluster (or the GkeCluster itself).
   * @throws when the GpuCluster is not in a GcpMlStack
   */
  public static of(cluster: IConstruct): GkeCluster {
    return capabilityOf(cluster, GkeCluster, 'a GpuCluster of a GcpMlStack (GKE)');
  }

  /** Your cluster, read as a data source, with `existingCluster` (undefined when mlstack made it: {@link cluster}). */
  public readonly imported?: DataGoogleContainerCluster;
  /** The cluster's id (`projects/<p>/locations/<l>/clusters/<name>`), made or imported. */
  public readonly clusterId: string;
  /** Where the cluster is: the region, or a zone for an imported zonal cluster. */
  public readonly location: string;
  private readonly created?: ContainerCluster;
  /** The network and node subnetwork mlstack made (undefined when the cluster joins yours: {@link networkId}). */
  public readonly network?: ComputeNetwork;
  public readonly subnetwork?: ComputeSubnetwork;
  /** The network's and node subnetwork's ids. */
  public readonly networkId: string;
  public readonly subnetworkId: string;
  /** The node service account. */
  public readonly nodeServiceAccount: ServiceAccount;
  /** The Cloud KMS key that encrypts Kubernetes secrets (undefined for an imported cluster: its encryption is yours). */
  public readonly secretsKey?: KmsCryptoKey;
  /** @inheritdoc */
  public readonly clusterName: string;
  /**
   * GKE installs the NVIDIA driver and its own device plugin on pools with `gpu_driver_installation_config`, and
   * applies time-sharing/MIG from `gpu_sharing_config`/`gpu_partition_size`.
   */
  public readonly managesGpuDevicePlugin = true;
  /** GMP's collectors run in `gmp-system`. */
  public readonly metricsCollectors = { namespaces: ['gmp-system'], cidrs: [] as string[] };
  private readonly props: GkeClusterProps;
  private readonly labels: Record<string, string>;
  private readonly nodePools = new Map<string, GkeNodePool>();
  private prometheus?: GmpPrometheus;
  private privateServices?: ServiceNetworkingConnection;
  private readonly userNetwork?: GkeNetwork;
  private totalMaxNodes = 0;

  constructor(scope: Construct, id: string, props: GkeClusterProps) {
    super(scope, id);
    this.props = props;
    const spec = props.spec;
    const name = spec.name;
    this.clusterName = name;
    this.labels = { ...spec.tags };
    const existing = spec.existing ? GkeExistingCluster.of(spec.existing) : undefined;
    this.location = existing?.props.location ?? props.region;
    if (existing && this.location !== props.region && !this.location.startsWith(`${props.region}-`)) {
      throw new Error(
        `GpuCluster '${scope.node.path}': ${existing.description} is not in the stack's region ${props.region}. Put the GpuCluster in a GcpMlStack of region ${this.location.replace(/-[a-z]$/, '')}.`,
      );
    }
    if (existing) this.imported = this.importCluster(existing, props.project);

    const userNetwork = spec.network ? GkeNetwork.of(spec.network) : undefined;
    this.userNetwork = userNetwork;
    let nodesCidr = '10.0.0.0/20';
    if (userNetwork) {
      this.networkId = userNetwork.props.network;
      this.subnetworkId = userNetwork.props.subnetwork;
      nodesCidr = userNetwork.props.subnetworkCidr;
      validateAtSynth(this, () => userNetwork.checkCapacity(name, this.totalMaxNodes));
    } else if (this.imported) {
      this.networkId = this.imported.network;
      this.subnetworkId = this.imported.subnetwork;
    } else {
      this.network = new ComputeNetwork(this, 'Network', {
        name: `${name}-net`,
        autoCreateSubnetworks: false,
      });
      this.subnetwork = new ComputeSubnetwork(this, 'Subnet', {
        name: `${name}-nodes`,
        network: this.network.id,
        region: props.region,
        ipCidrRange: nodesCidr,
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
      const router = new ComputeRouter(this, 'Router', {
        name: `${name}-router`,
        network: this.network.id,
        region: props.region,
      });
      new ComputeRouterNat(this, 'Nat', {
        name: `${name}-nat`,
        router: router.name,
        region: props.region,
        natIpAllocateOption: 'AUTO_ONLY',
        sourceSubnetworkIpRangesToNat: 'ALL_SUBNETWORKS_ALL_IP_RANGES',
        logConfig: { enable: true, filter: 'ERRORS_ONLY' },
      });
      this.networkId = this.network!.id;
      this.subnetworkId = this.subnetwork!.id;
    }

    this.nodeServiceAccount = new ServiceAccount(this, 'NodeServiceAccount', {
      accountId: `${name}-nodes`.slice(0, 30),
      displayName: `GKE nodes of ${name}`,
    });
    for (const role of NODE_ROLES) {
      new ProjectIamMember(this, `NodeRole-${role.replace('roles/', '')}`, {
        project: props.project,
        role,
        member: this.nodeServiceAccount.member,
      });
    }

    if (this.imported) {
      this.clusterId = this.imported.id;
    } else {
      const made = this.createCluster(props, userNetwork, nodesCidr);
      this.created = made.cluster;
      this.secretsKey = made.secretsKey;
      this.clusterId = this.created.id;
    }

    new TerraformOutput(this, 'ClusterName', { value: existing ? name : this.created!.name });
    new TerraformOutput(this, 'KubeconfigCommand', {
      value: `gcloud container clusters get-credentials ${name} --${this.location === props.region ? 'region' : 'zone'} ${this.location} --project ${props.project}`,
    });
  }

  /**
   * The GKE cluster mlstack made.
   * @throws for an imported cluster, which is {@link imported}
   */
  public get cluster(): ContainerCluster {
    if (this.created) return this.created;
    throw new Error(
      `${this.node.path}: cluster ${this.clusterName} is imported (existingCluster); use GkeCluster.of(cluster).imported (a data source) or clusterId.`,
    );
  }

  /**
   * Your cluster as a data source, with the postcondition that Workload Identity is on with the project's pool
   * (every identity mlstack binds relies on it): `terraform plan` fails with the fix when it is not.
   */
  private importCluster(existing: GkeExistingCluster, project: string): DataGoogleContainerCluster {
    return new DataGoogleContainerCluster(this, 'Imported', {
      name: existing.name,
      location: existing.props.location,
      project,
      lifecycle: {
        postcondition: [
          {
            condition: `\${length(self.workload_identity_config) > 0 && self.workload_identity_config[0].workload_pool == "${project}.svc.id.goog"}`,
            errorMessage: `mlstack binds Kubernetes service accounts to Google service accounts with Workload Identity, which is off on cluster ${existing.name}: gcloud container clusters update ${existing.name} --location ${existing.props.location} --workload-pool=${project}.svc.id.goog`,
          },
        ],
      },
    });
  }

  /** The cluster mlstack makes, with its KMS key for secrets. */
  private createCluster(
    props: GkeClusterProps,
    userNetwork: GkeNetwork | undefined,
    nodesCidr: string,
  ): { cluster: ContainerCluster; secretsKey: KmsCryptoKey } {
    const spec = props.spec;
    const name = spec.name;
    const project = new DataGoogleProject(this, 'Project', { projectId: props.project });
    const keyRing = new KmsKeyRing(this, 'KeyRing', { name: `${name}-secrets`, location: props.region });
    const secretsKey = new KmsCryptoKey(this, 'SecretsKey', {
      name: `${name}-etcd`,
      keyRing: keyRing.id,
      rotationPeriod: '7776000s',
      lifecycle: { preventDestroy: true },
    });
    const keyGrant = new KmsCryptoKeyIamMember(this, 'SecretsKeyGkeAgent', {
      cryptoKeyId: secretsKey.id,
      role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
      member: `serviceAccount:service-${project.number}@container-engine-robot.iam.gserviceaccount.com`,
    });
    const cluster = new ContainerCluster(this, 'Resource', {
      name,
      location: props.region,
      minMasterVersion: spec.version.version,
      releaseChannel: { channel: 'REGULAR' },
      network: this.networkId,
      subnetwork: this.subnetworkId,
      networkingMode: 'VPC_NATIVE',
      ipAllocationPolicy: {
        clusterSecondaryRangeName: userNetwork?.props.podsRange ?? 'pods',
        servicesSecondaryRangeName: userNetwork?.props.servicesRange ?? 'services',
      },
      datapathProvider: 'ADVANCED_DATAPATH',
      privateClusterConfig: {
        enablePrivateNodes: true,
        enablePrivateEndpoint: spec.privateEndpoint,
        masterIpv4CidrBlock: userNetwork?.props.masterCidr ?? '172.16.0.0/28',
      },
      masterAuthorizedNetworksConfig: {
        cidrBlocks: spec.privateEndpoint
          ? [{ cidrBlock: nodesCidr, displayName: 'nodes' }]
          : spec.authorizedNetworks.map((c) => ({ cidrBlock: c, displayName: c })),
      },
      workloadIdentityConfig: { workloadPool: `${props.project}.svc.id.goog` },
      databaseEncryption: { state: 'ENCRYPTED', keyName: secretsKey.id },
      enableShieldedNodes: true,
      removeDefaultNodePool: true,
      initialNodeCount: 1,
      // The default pool is removed right after creation; it still must not run as the default compute SA.
      nodeConfig: {
        serviceAccount: this.nodeServiceAccount.email,
        oauthScopes: ['https://www.googleapis.com/auth/cloud-platform'],
        shieldedInstanceConfig: { enableSecureBoot: true, enableIntegrityMonitoring: true },
        workloadMetadataConfig: { mode: 'GKE_METADATA' },
      },
      resourceLabels: this.labels,
      deletionProtection: true,
      dependsOn: [keyGrant],
    });
    return { cluster, secretsKey };
  }

  /** The node pool of a pool, by pool name. */
  public nodePool(pool: string): GkeNodePool {
    return poolByName(this.nodePools, this, pool);
  }

  /** Adds a node pool for `pool`, scaled by GKE's cluster autoscaler between its minimum and maximum. */
  public addNodePool(pool: NodePoolSpec): NodePoolResult {
    this.totalMaxNodes += pool.maxNodes;
    this.nodePools.set(
      pool.name,
      new GkeNodePool(this, `Pool-${pool.name}`, {
        clusterId: this.clusterId,
        nodeServiceAccount: this.nodeServiceAccount,
        location: this.location,
        resourceLabels: this.props.spec.tags,
        pool,
      }),
    );
    return {
      autoscaler: `GKE cluster autoscaler (node pool ${pool.name}, ${pool.minNodes} to ${pool.maxNodes} nodes)`,
      manifests: [],
      charts: [],
    };
  }

  /** Terraform JSON carries no Kubernetes objects: they are in the synth output's `k8s/` folder. */
  public deployManifests(): void {}

  /** Terraform installs no charts: they are in the synth output's `k8s/<stack>/<cluster>/charts/`. */
  public deployHelmChart(): void {}

  /**
   * In a plain cdktf app, writes the cluster's objects into the app's output as `k8s/<stack>/<cluster>/` at synth
   * and warns that Terraform does not apply them (`MlApp` writes them itself).
   */
  public attachManifestFiles(files: () => readonly ManifestFile[]): void {
    attachTerraformManifestFiles(this, TerraformStack.of(this), this.clusterName, files);
  }

  /** @inheritdoc */
  public addObjectStore(scope: Construct, id: string, spec: ObjectStoreSpec): GcsObjectStore {
    return new GcsObjectStore(scope, id, {
      ...spec,
      project: this.props.project,
      region: this.props.region,
      stackName: this.props.stackName,
      labels: this.labels,
    });
  }

  /** @inheritdoc */
  public addWorkloadIdentity(scope: Construct, id: string, spec: WorkloadIdentitySpec): GkeWorkloadIdentity {
    return new GkeWorkloadIdentity(scope, id, {
      ...spec,
      project: this.props.project,
      stackName: this.props.stackName,
    });
  }

  /** @inheritdoc */
  public addPostgres(scope: Construct, id: string, spec: PostgresSpec): CloudSqlPostgres {
    if (this.imported && !this.userNetwork) {
      throw new Error(
        `${scope.node.path}: a private database (${spec.purpose}) next to an imported cluster needs the cluster's network: GpuCluster 'network: GkeNetwork.fromNetwork({ network, subnetwork, subnetworkCidr, podsRange, servicesRange, privateServicesAccess })' (privateServicesAccess 'existing' when the network already peers with servicenetworking.googleapis.com).`,
      );
    }
    if ((this.userNetwork?.props.privateServicesAccess ?? 'create') === 'create') {
      this.privateServices ??= this.privateServiceAccess();
    }
    return new CloudSqlPostgres(scope, id, {
      ...spec,
      project: this.props.project,
      region: this.props.region,
      stackName: this.props.stackName,
      networkId: this.networkId,
      ...(this.privateServices ? { privateServices: this.privateServices } : {}),
      labels: this.labels,
    });
  }

  /** KEDA's operator acts as a Google service account through Workload Identity (the chart's `podIdentity.gcp`). */
  public kedaChart(operator: WorkloadIdentityCapability): HelmChartSpec {
    return kedaChart({
      podIdentity: {
        gcp: {
          enabled: true,
          gcpIAMServiceAccount: operator.serviceAccountAnnotations['iam.gke.io/gcp-service-account'],
        },
      },
    });
  }

  /** Google Cloud Managed Service for Prometheus on this cluster, turned on at first use. */
  public managedPrometheus(): GmpPrometheus {
    this.prometheus ??= new GmpPrometheus(this, 'ManagedPrometheus', {
      cluster: this.created ?? this.imported!,
      clusterName: this.clusterName,
      project: this.props.project,
    });
    return this.prometheus;
  }

  /** Private services access on the cluster's network: the peering Cloud SQL private IPs come through. */
  private privateServiceAccess(): ServiceNetworkingConnection {
    const range = new ComputeGlobalAddress(this, 'PrivateServicesRange', {
      name: `${this.clusterName}-services`,
      purpose: 'VPC_PEERING',
      addressType: 'INTERNAL',
      prefixLength: 20,
      network: this.networkId,
    });
    return new ServiceNetworkingConnection(this, 'PrivateServicesConnection', {
      network: this.networkId,
      service: 'servicenetworking.googleapis.com',
      reservedPeeringRanges: [range.name],
    });
  }
}
