import { KubernetesCluster } from '@cdktf/provider-azurerm/lib/kubernetes-cluster';
import { DataAzurermKubernetesCluster } from '@cdktf/provider-azurerm/lib/data-azurerm-kubernetes-cluster';
import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { Subnet } from '@cdktf/provider-azurerm/lib/subnet';
import { VirtualNetwork } from '@cdktf/provider-azurerm/lib/virtual-network';
import { TerraformOutput, TerraformStack } from 'cdktf';
import type { ManifestFile } from '../../src/synth/output';
import { addTerraformWarning, attachTerraformManifestFiles } from '../private/terraform';
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
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import type { AzureNetworkAccess, ResolvedNetworkAccess } from './network-access';
import { AksNetwork } from './aks-network';
import { AksExistingCluster } from './aks-existing-cluster';
import { AksNodePool } from './aks-node-pool';
import { AzureWorkloadIdentity } from './azure-workload-identity';
import { BlobObjectStore } from './blob-object-store';
import { FlexiblePostgres } from './flexible-postgres';
import { AzureMonitorPrometheus } from './managed-prometheus';
import { kedaChart } from '../../src/k8s/keda';
import type { HelmChartSpec } from '../../src/k8s/helm';

/** Props of {@link AksCluster}. */
export interface AksClusterProps {
  /** The validated cluster. */
  readonly spec: KubernetesClusterSpec;
  readonly subscriptionId: string;
  readonly location: string;
  /** The stack name, part of derived resource names. */
  readonly stackName: string;
  /** Who may reach the data plane of the stores and vaults next to the cluster. */
  readonly networkAccess: AzureNetworkAccess;
}

/**
 * A GpuCluster on Azure: an AKS cluster in a resource group and VNet of its own, with a managed identity, the OIDC
 * issuer and workload identity, Entra ID RBAC with local accounts disabled, Azure CNI overlay with Cilium network
 * policy, Azure Policy, Container insights, the Key Vault secrets store CSI driver, automatic patch upgrades, the
 * system pool as its default node pool and an autoscaled user node pool per GPU pool. It is the GpuCluster's
 * default child, so the resources keep the Terraform addresses they had when the GpuCluster made them itself.
 *
 * @example
 * AksCluster.of(cluster).cluster.putMaintenanceWindowAutoUpgrade({ frequency: 'Weekly', interval: 1, duration: 4, dayOfWeek: 'Sunday' });
 */
export class AksCluster extends Construct implements KubernetesClusterCapability {
  /**
   * The AksCluster of a GpuCluster (or the AksCluster itself).
   * @throws when the GpuCluster is not in an AzureMlStack
   */
  public static of(cluster: IConstruct): AksCluster {
    return capabilityOf(cluster, AksCluster, 'a GpuCluster of an AzureMlStack (AKS)');
  }

  /** Your cluster, read as a data source, with `existingCluster` (undefined when mlstack made it: {@link cluster}). */
  public readonly imported?: DataAzurermKubernetesCluster;
  /** The cluster's resource id, made or imported. */
  public readonly clusterId: string;
  private readonly created?: KubernetesCluster;
  /** The resource group of what mlstack makes: the cluster's, or `<name>-mlstack` next to an imported cluster. */
  public readonly resourceGroup: ResourceGroup;
  /** The VNet and node subnet mlstack made (undefined when the cluster joins yours: {@link subnetId}). */
  public readonly vnet?: VirtualNetwork;
  public readonly subnet?: Subnet;
  /** The node subnet's id (undefined for an imported cluster without `network`: pools go where AKS puts them). */
  public readonly subnetId?: string;
  /** The Log Analytics workspace of Container insights (undefined for an imported cluster). */
  public readonly logs?: LogAnalyticsWorkspace;
  /** @inheritdoc */
  public readonly clusterName: string;
  /** AKS installs the NVIDIA driver but not the device plugin: mlstack deploys it. */
  public readonly managesGpuDevicePlugin = false;
  /** The AKS metrics add-on runs in `kube-system`. */
  public readonly metricsCollectors = { namespaces: ['kube-system'], cidrs: [] as string[] };
  private readonly props: AksClusterProps;
  private readonly tags: Record<string, string>;
  private readonly nodePools = new Map<string, AksNodePool>();
  private prometheus?: AzureMonitorPrometheus;
  private databases = 0;
  private readonly userNetwork?: AksNetwork;
  private warnedAboutAccess = false;
  private totalMaxNodes = 0;
  private surgeNodes = 0;

  constructor(scope: Construct, id: string, props: AksClusterProps) {
    super(scope, id);
    this.props = props;
    const spec = props.spec;
    const name = spec.name;
    this.clusterName = name;
    const tags = { ...spec.tags };
    this.tags = tags;
    const existing = spec.existing ? AksExistingCluster.of(spec.existing) : undefined;
    if (existing && existing.subscriptionId !== props.subscriptionId.toLowerCase()) {
      throw new Error(
        `GpuCluster '${scope.node.path}': ${existing.description} is in subscription ${existing.subscriptionId}, not the stack's ${props.subscriptionId}. Put the GpuCluster in an AzureMlStack of that subscription.`,
      );
    }
    this.resourceGroup = new ResourceGroup(this, 'ResourceGroup', {
      name: existing ? `${name}-mlstack` : `${name}-rg`,
      location: props.location,
      tags,
    });
    const userNetwork = spec.network ? AksNetwork.of(spec.network) : undefined;
    this.userNetwork = userNetwork;
    if (existing) {
      this.subnetId = userNetwork?.props.subnetId;
      this.imported = new DataAzurermKubernetesCluster(this, 'Imported', {
        name: existing.name,
        resourceGroupName: existing.resourceGroupName,
        lifecycle: {
          postcondition: [
            {
              condition: '${self.oidc_issuer_enabled}',
              errorMessage: `mlstack federates managed identities with the cluster's OIDC issuer, which is off on AKS cluster ${existing.name}: az aks update -g ${existing.resourceGroupName} -n ${existing.name} --enable-oidc-issuer --enable-workload-identity`,
            },
          ],
        },
      });
      this.clusterId = this.imported.id;
      addTerraformWarning(
        this,
        `${existing.description}: mlstack's identities need workload identity on the cluster (az aks update -g ${existing.resourceGroupName} -n ${existing.name} --enable-workload-identity), which plan cannot check.`,
      );
    } else {
      const made = this.createCluster(props, userNetwork);
      this.created = made.cluster;
      this.logs = made.logs;
      this.vnet = made.vnet;
      this.subnet = made.subnet;
      this.subnetId = made.subnetId;
      this.clusterId = this.created.id;
    }

    // The subnet holds every pool at its maximum, pools added later included.
    if (userNetwork) {
      validateAtSynth(this, () => userNetwork.checkCapacity(name, this.totalMaxNodes, this.surgeNodes));
    }
    new TerraformOutput(this, 'ClusterName', { value: existing ? name : this.created!.name });
    new TerraformOutput(this, 'KubeconfigCommand', {
      value: `az aks get-credentials --resource-group ${existing?.resourceGroupName ?? `${name}-rg`} --name ${name}`,
    });
  }

  /**
   * The AKS cluster mlstack made.
   * @throws for an imported cluster, which is {@link imported}
   */
  public get cluster(): KubernetesCluster {
    if (this.created) return this.created;
    throw new Error(
      `${this.node.path}: cluster ${this.clusterName} is imported (existingCluster); use AksCluster.of(cluster).imported (a data source) or clusterId.`,
    );
  }

  /** The cluster mlstack makes, its VNet (unless `userNetwork`) and Container insights' workspace. */
  private createCluster(
    props: AksClusterProps,
    userNetwork: AksNetwork | undefined,
  ): {
    cluster: KubernetesCluster;
    logs: LogAnalyticsWorkspace;
    vnet?: VirtualNetwork;
    subnet?: Subnet;
    subnetId: string;
  } {
    const spec = props.spec;
    const name = spec.name;
    const tags = this.tags;
    const rg = this.resourceGroup;
    const logs = new LogAnalyticsWorkspace(this, 'Logs', {
      name: `${name}-logs`,
      location: props.location,
      resourceGroupName: rg.name,
      sku: 'PerGB2018',
      retentionInDays: 30,
      tags,
    });
    let subnetId: string;
    let vnet: VirtualNetwork | undefined;
    let subnet: Subnet | undefined;
    if (userNetwork) {
      subnetId = userNetwork.props.subnetId;
    } else {
      vnet = new VirtualNetwork(this, 'Network', {
        name: `${name}-vnet`,
        location: props.location,
        resourceGroupName: rg.name,
        addressSpace: ['10.1.0.0/16'],
        tags,
      });
      subnet = new Subnet(this, 'Subnet', {
        name: 'nodes',
        resourceGroupName: rg.name,
        virtualNetworkName: vnet.name,
        addressPrefixes: ['10.1.0.0/20'],
        // The stores' and vaults' firewalls allow the nodes through these (AzureNetworkAccess).
        serviceEndpoints: ['Microsoft.KeyVault', 'Microsoft.Storage'],
      });
      subnetId = subnet.id;
    }

    const system = spec.pools.find((p) => p.role === 'system');
    if (!system) throw new Error(`GpuCluster '${name}': AKS needs a system pool.`);
    const cluster = new KubernetesCluster(this, 'Resource', {
      name,
      location: props.location,
      resourceGroupName: rg.name,
      dnsPrefix: name,
      kubernetesVersion: spec.version.version,
      automaticUpgradeChannel: 'patch',
      nodeOsUpgradeChannel: 'NodeImage',
      skuTier: 'Standard',
      privateClusterEnabled: spec.privateEndpoint,
      ...(spec.privateEndpoint
        ? {}
        : { apiServerAccessProfile: { authorizedIpRanges: [...spec.authorizedNetworks] } }),
      identity: { type: 'SystemAssigned' },
      oidcIssuerEnabled: true,
      workloadIdentityEnabled: true,
      roleBasedAccessControlEnabled: true,
      localAccountDisabled: true,
      azureActiveDirectoryRoleBasedAccessControl: { azureRbacEnabled: true },
      azurePolicyEnabled: true,
      omsAgent: { logAnalyticsWorkspaceId: logs.id, msiAuthForMonitoringEnabled: true },
      keyVaultSecretsProvider: { secretRotationEnabled: true },
      networkProfile: {
        networkPlugin: 'azure',
        networkPluginMode: 'overlay',
        networkDataPlane: 'cilium',
        networkPolicy: 'cilium',
        loadBalancerSku: 'standard',
      },
      defaultNodePool: {
        name: system.name,
        vmSize: system.instanceType,
        autoScalingEnabled: true,
        minCount: system.minNodes,
        maxCount: system.maxNodes,
        osDiskSizeGb: system.diskSizeGiB,
        osSku: 'AzureLinux',
        vnetSubnetId: subnetId,
        nodeLabels: { ...system.labels },
        temporaryNameForRotation: 'systemtmp',
        upgradeSettings: { maxSurge: '33%' },
        ...(system.zones ? { zones: [...system.zones] } : {}),
        tags,
      },
      tags,
    });

    this.totalMaxNodes = system.maxNodes;
    this.surgeNodes = Math.ceil(system.maxNodes * 0.33);
    if (userNetwork) {
      // AKS joins nodes and internal load balancers to a subnet it does not own through the cluster identity.
      new RoleAssignment(this, 'SubnetNetworkContributor', {
        scope: userNetwork.props.subnetId,
        roleDefinitionName: 'Network Contributor',
        principalId: cluster.identity.principalId,
        principalType: 'ServicePrincipal',
      });
    }

    return { cluster, logs, subnetId, ...(vnet ? { vnet } : {}), ...(subnet ? { subnet } : {}) };
  }

  /** The node pool of a user pool, by pool name. */
  public nodePool(pool: string): AksNodePool {
    return poolByName(this.nodePools, this, pool);
  }

  /**
   * Adds an autoscaled user node pool for `pool` (the system pool is the cluster's default node pool, already made),
   * scaled by the AKS cluster autoscaler between its minimum and maximum.
   */
  public addNodePool(pool: NodePoolSpec): NodePoolResult {
    const autoscaler = `AKS cluster autoscaler (node pool ${pool.name}, ${pool.minNodes} to ${pool.maxNodes} nodes)`;
    // The system pool of a cluster mlstack made is its default node pool; next to an imported one it is a user pool.
    if (pool.role === 'system' && this.created) return { autoscaler, manifests: [], charts: [] };
    this.totalMaxNodes += pool.maxNodes;
    if (!pool.spot) this.surgeNodes += 1;
    this.nodePools.set(
      pool.name,
      new AksNodePool(this, `Pool-${pool.name}`, {
        clusterId: this.clusterId,
        ...(this.subnetId !== undefined ? { subnetId: this.subnetId } : {}),
        tags: this.tags,
        pool,
      }),
    );
    return { autoscaler, manifests: [], charts: [] };
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

  /**
   * The data-plane access of a store or vault of `scope`, with the stack's warnings about it on first use: where
   * `terraform apply` must run, and the service endpoints a subnet of yours needs.
   */
  private dataPlaneAccess(scope: Construct): ResolvedNetworkAccess {
    const access = this.props.networkAccess.resolve(
      this.subnetId,
      `AzureMlStack '${this.props.stackName}' (${scope.node.path})`,
    );
    if (!this.warnedAboutAccess && access.kind === 'firewall') {
      this.warnedAboutAccess = true;
      if (access.ipRanges.length === 0) {
        addTerraformWarning(
          this,
          `The storage accounts and key vaults of cluster ${this.clusterName} admit only its node subnet: run 'terraform apply' from that VNet (it uploads blobs and writes the database secret through their data plane), or list your public addresses in AzureNetworkAccess.firewall({ allowedIpRanges }).`,
        );
      }
      if (this.userNetwork) {
        addTerraformWarning(
          this,
          `The storage accounts and key vaults of cluster ${this.clusterName} admit its subnet ${this.userNetwork.props.subnetId} through service endpoints: the subnet needs Microsoft.Storage and Microsoft.KeyVault in its service endpoints (Azure refuses the firewall rules otherwise).`,
        );
      }
    }
    return access;
  }

  /** @inheritdoc */
  public addObjectStore(scope: Construct, id: string, spec: ObjectStoreSpec): BlobObjectStore {
    return new BlobObjectStore(scope, id, {
      ...spec,
      networkAccess: this.dataPlaneAccess(scope),
      subscriptionId: this.props.subscriptionId,
      location: this.props.location,
      stackName: this.props.stackName,
      resourceGroup: this.resourceGroup,
      tags: this.tags,
    });
  }

  /** @inheritdoc */
  public addWorkloadIdentity(
    scope: Construct,
    id: string,
    spec: WorkloadIdentitySpec,
  ): AzureWorkloadIdentity {
    return new AzureWorkloadIdentity(scope, id, {
      ...spec,
      location: this.props.location,
      resourceGroup: this.resourceGroup,
      oidcIssuerUrl: (this.created ?? this.imported!).oidcIssuerUrl,
      tags: this.tags,
    });
  }

  /** @inheritdoc */
  public addPostgres(scope: Construct, id: string, spec: PostgresSpec): FlexiblePostgres {
    if (this.imported && !this.userNetwork && !spec.publiclyAccessible) {
      throw new Error(
        `${scope.node.path}: a private database (${spec.purpose}) next to an imported cluster needs the cluster's network: GpuCluster 'network: AksNetwork.fromSubnet({ subnetId, databaseSubnetId })', with a subnet of the cluster's VNet delegated to Microsoft.DBforPostgreSQL/flexibleServers.`,
      );
    }
    return new FlexiblePostgres(scope, id, {
      ...spec,
      networkAccess: this.dataPlaneAccess(scope),
      subscriptionId: this.props.subscriptionId,
      location: this.props.location,
      stackName: this.props.stackName,
      resourceGroup: this.resourceGroup,
      network:
        this.userNetwork && !spec.publiclyAccessible
          ? (() => {
              const db = this.userNetwork.database(this.clusterName);
              return { delegatedSubnetId: db.subnetId, virtualNetworkId: db.virtualNetworkId };
            })()
          : this.vnet
            ? { vnet: this.vnet, index: this.databases++ }
            : { publicOnly: true as const },
      tags: this.tags,
    });
  }

  /**
   * KEDA's operator acts as a managed identity through workload identity (the chart's `podIdentity.azureWorkload`,
   * its client id a deploy-time value). The chart rather than the AKS KEDA add-on: Microsoft's walkthrough for the
   * add-on with workload identity restarts its operator after the identity is set up, while the chart is installed
   * once the cluster and the federated credential exist, pinned with the cluster's other charts.
   */
  public kedaChart(operator: WorkloadIdentityCapability): HelmChartSpec {
    return kedaChart({
      podIdentity: {
        azureWorkload: {
          enabled: true,
          clientId: operator.serviceAccountAnnotations['azure.workload.identity/client-id'],
        },
      },
    });
  }

  /** Azure Monitor managed Prometheus for this cluster, made on first use. */
  public managedPrometheus(): AzureMonitorPrometheus {
    this.prometheus ??= new AzureMonitorPrometheus(this, 'PrometheusWorkspace', {
      name: this.clusterName,
      location: this.props.location,
      resourceGroup: this.resourceGroup,
      cluster: this.created ?? {
        id: this.clusterId,
        name: this.clusterName,
        description: AksExistingCluster.of(this.props.spec.existing!).description,
      },
      tags: this.tags,
    });
    return this.prometheus;
  }
}
