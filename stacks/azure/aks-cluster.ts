import { KubernetesCluster } from '@cdktf/provider-azurerm/lib/kubernetes-cluster';
import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { Subnet } from '@cdktf/provider-azurerm/lib/subnet';
import { VirtualNetwork } from '@cdktf/provider-azurerm/lib/virtual-network';
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
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { AksNetwork } from './aks-network';
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

  /** The AKS cluster. */
  public readonly cluster: KubernetesCluster;
  /** The cluster's resource group. */
  public readonly resourceGroup: ResourceGroup;
  /** The VNet and node subnet mlstack made (undefined when the cluster joins yours: {@link subnetId}). */
  public readonly vnet?: VirtualNetwork;
  public readonly subnet?: Subnet;
  /** The node subnet's id. */
  public readonly subnetId: string;
  /** The Log Analytics workspace of Container insights. */
  public readonly logs: LogAnalyticsWorkspace;
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
    this.resourceGroup = new ResourceGroup(this, 'ResourceGroup', {
      name: `${name}-rg`,
      location: props.location,
      tags,
    });
    const rg = this.resourceGroup;
    this.logs = new LogAnalyticsWorkspace(this, 'Logs', {
      name: `${name}-logs`,
      location: props.location,
      resourceGroupName: rg.name,
      sku: 'PerGB2018',
      retentionInDays: 30,
      tags,
    });
    const userNetwork = spec.network ? AksNetwork.of(spec.network) : undefined;
    this.userNetwork = userNetwork;
    if (userNetwork) {
      this.subnetId = userNetwork.props.subnetId;
    } else {
      this.vnet = new VirtualNetwork(this, 'Network', {
        name: `${name}-vnet`,
        location: props.location,
        resourceGroupName: rg.name,
        addressSpace: ['10.1.0.0/16'],
        tags,
      });
      this.subnet = new Subnet(this, 'Subnet', {
        name: 'nodes',
        resourceGroupName: rg.name,
        virtualNetworkName: this.vnet.name,
        addressPrefixes: ['10.1.0.0/20'],
      });
      this.subnetId = this.subnet.id;
    }

    const system = spec.pools.find((p) => p.role === 'system');
    if (!system) throw new Error(`GpuCluster '${name}': AKS needs a system pool.`);
    this.cluster = new KubernetesCluster(this, 'Resource', {
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
      omsAgent: { logAnalyticsWorkspaceId: this.logs.id, msiAuthForMonitoringEnabled: true },
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
        vnetSubnetId: this.subnetId,
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
        principalId: this.cluster.identity.principalId,
        principalType: 'ServicePrincipal',
      });
      validateAtSynth(this, () => userNetwork.checkCapacity(name, this.totalMaxNodes, this.surgeNodes));
    }

    new TerraformOutput(this, 'ClusterName', { value: this.cluster.name });
    new TerraformOutput(this, 'KubeconfigCommand', {
      value: `az aks get-credentials --resource-group ${name}-rg --name ${name}`,
    });
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
    if (pool.role === 'system') return { autoscaler, manifests: [], charts: [] };
    this.totalMaxNodes += pool.maxNodes;
    if (!pool.spot) this.surgeNodes += 1;
    this.nodePools.set(
      pool.name,
      new AksNodePool(this, `Pool-${pool.name}`, {
        cluster: this.cluster,
        subnetId: this.subnetId,
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

  /** @inheritdoc */
  public addObjectStore(scope: Construct, id: string, spec: ObjectStoreSpec): BlobObjectStore {
    return new BlobObjectStore(scope, id, {
      ...spec,
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
      cluster: this.cluster,
      tags: this.tags,
    });
  }

  /** @inheritdoc */
  public addPostgres(scope: Construct, id: string, spec: PostgresSpec): FlexiblePostgres {
    return new FlexiblePostgres(scope, id, {
      ...spec,
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
      cluster: this.cluster,
      tags: this.tags,
    });
    return this.prometheus;
  }
}
