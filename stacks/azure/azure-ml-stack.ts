// Resource classes are imported by deep path: the package index loads every resource of the provider.
import { KubernetesCluster } from '@cdktf/provider-azurerm/lib/kubernetes-cluster';
import { KubernetesClusterNodePool } from '@cdktf/provider-azurerm/lib/kubernetes-cluster-node-pool';
import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { Subnet } from '@cdktf/provider-azurerm/lib/subnet';
import { VirtualNetwork } from '@cdktf/provider-azurerm/lib/virtual-network';
import { TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec, NodePoolSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import { type IMlStack, type KubernetesClusterCapability, MlStack } from '../ml-stack';
import { addTerraformWarning, type TerraformBackendFactory, configureBackend } from '../private/terraform';

/** Props of {@link AzureMlStack}. */
export interface AzureMlStackProps {
  /** The Azure subscription id (a GUID). */
  readonly subscriptionId: string;
  /**
   * The Azure region, e.g. `westeurope`.
   * @see https://learn.microsoft.com/azure/reliability/regions-list
   */
  readonly location: string;
  /**
   * The Terraform backend.
   * @default - a local backend at `terraform.<stack>.tfstate`, relative to the stack's folder
   */
  readonly backend?: TerraformBackendFactory;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A CDK for Terraform stack with the `azurerm` provider that builds mlstack's capabilities with Azure
 * services: AKS for Kubernetes clusters.
 */
export class AzureMlStack extends TerraformStack implements IMlStack {
  /** Always `azure`. */
  public readonly cloud: Cloud = 'azure';
  /** The stack name (its construct id). */
  public readonly stackName: string;
  /** The region. */
  public readonly location: string;

  constructor(scope: Construct, id: string, props: AzureMlStackProps) {
    super(scope, id);
    MlStack.mark(this);
    this.stackName = id;
    if (!GUID.test(props.subscriptionId ?? '')) {
      throw new Error(
        `AzureMlStack '${id}': 'subscriptionId' (${JSON.stringify(props.subscriptionId)}) is not a subscription id. Use the GUID that 'az account show --query id' prints.`,
      );
    }
    if (!/^[a-z0-9]+$/.test(props.location ?? '')) {
      throw new Error(
        `AzureMlStack '${id}': 'location' (${JSON.stringify(props.location)}) is not an Azure region name. Use a name such as 'westeurope' ('az account list-locations -o table').`,
      );
    }
    this.location = props.location;
    new AzurermProvider(this, 'azurerm', { features: [{}], subscriptionId: props.subscriptionId });
    configureBackend(this, id, props.backend);
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    addTerraformWarning(scope, message);
  }

  /**
   * An AKS cluster: managed identity, OIDC issuer and workload identity, Entra ID RBAC with local accounts
   * disabled, Azure CNI overlay with Cilium network policy, Azure Policy, Container insights, the Key Vault
   * secrets store CSI driver, automatic patch upgrades, in a VNet of its own.
   */
  public addKubernetesCluster(
    scope: Construct,
    id: string,
    spec: KubernetesClusterSpec,
  ): KubernetesClusterCapability {
    const name = spec.name;
    const tags = { ...spec.tags };
    const rg = new ResourceGroup(scope, 'ResourceGroup', {
      name: `${name}-rg`,
      location: this.location,
      tags,
    });
    const logs = new LogAnalyticsWorkspace(scope, 'Logs', {
      name: `${name}-logs`,
      location: this.location,
      resourceGroupName: rg.name,
      sku: 'PerGB2018',
      retentionInDays: 30,
      tags,
    });
    const vnet = new VirtualNetwork(scope, 'Network', {
      name: `${name}-vnet`,
      location: this.location,
      resourceGroupName: rg.name,
      addressSpace: ['10.1.0.0/16'],
      tags,
    });
    const subnet = new Subnet(scope, 'Subnet', {
      name: 'nodes',
      resourceGroupName: rg.name,
      virtualNetworkName: vnet.name,
      addressPrefixes: ['10.1.0.0/20'],
    });

    const system = spec.pools.find((p) => p.role === 'system');
    if (!system) throw new Error(`GpuCluster '${name}': AKS needs a system pool.`);
    const cluster = new KubernetesCluster(scope, id, {
      name,
      location: this.location,
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
        vnetSubnetId: subnet.id,
        nodeLabels: { ...system.labels },
        temporaryNameForRotation: 'systemtmp',
        upgradeSettings: { maxSurge: '33%' },
        ...(system.zones ? { zones: [...system.zones] } : {}),
        tags,
      },
      tags,
    });

    const addPool = (poolScope: Construct, pool: NodePoolSpec) =>
      this.addNodePool(poolScope, cluster, subnet, tags, pool);
    for (const pool of spec.pools) if (pool.role !== 'system') addPool(scope, pool);

    new TerraformOutput(scope, 'ClusterName', { value: cluster.name });
    new TerraformOutput(scope, 'KubeconfigCommand', {
      value: `az aks get-credentials --resource-group ${name}-rg --name ${name}`,
    });
    return {
      clusterName: name,
      managesGpuDevicePlugin: false,
      addNodePool: addPool,
      deployManifests() {
        // Terraform JSON carries no Kubernetes objects: they are in the synth output's k8s/ folder.
      },
    };
  }

  private addNodePool(
    scope: Construct,
    cluster: KubernetesCluster,
    subnet: Subnet,
    tags: Record<string, string>,
    pool: NodePoolSpec,
  ): KubernetesClusterNodePool {
    const gpu = pool.gpu;
    const mig = gpu?.sharing?.strategy === 'mig' ? `MIG${gpu.sharing.migProfile?.split('.')[0]}` : undefined;
    return new KubernetesClusterNodePool(scope, `Pool-${pool.name}`, {
      name: pool.name,
      kubernetesClusterId: cluster.id,
      mode: 'User',
      vmSize: pool.instanceType,
      osSku: 'AzureLinux',
      autoScalingEnabled: true,
      minCount: pool.minNodes,
      maxCount: pool.maxNodes,
      nodeCount: pool.minNodes,
      osDiskSizeGb: pool.diskSizeGiB,
      vnetSubnetId: subnet.id,
      nodeLabels: { ...pool.labels },
      nodeTaints: pool.taints.map((t) => `${t.key}${t.value !== undefined ? `=${t.value}` : ''}:${t.effect}`),
      ...(pool.zones ? { zones: [...pool.zones] } : {}),
      ...(pool.spot
        ? { priority: 'Spot', evictionPolicy: 'Delete', spotMaxPrice: -1 }
        : { upgradeSettings: { maxSurge: '1' } }),
      // AKS installs the NVIDIA driver; the device plugin comes from mlstack's manifests.
      ...(gpu ? { gpuDriver: 'Install' } : {}),
      ...(mig ? { gpuInstance: mig } : {}),
      tags,
    });
  }
}
