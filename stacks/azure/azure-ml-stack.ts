// Resource classes are imported by deep path: the package index loads every resource of the provider.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import { FederatedIdentityCredential } from '@cdktf/provider-azurerm/lib/federated-identity-credential';
import { DataAzurermClientConfig } from '@cdktf/provider-azurerm/lib/data-azurerm-client-config';
import { Iothub } from '@cdktf/provider-azurerm/lib/iothub';
import { IothubDps } from '@cdktf/provider-azurerm/lib/iothub-dps';
import { IothubSharedAccessPolicyA as IothubSharedAccessPolicy } from '@cdktf/provider-azurerm/lib/iothub-shared-access-policy';
import { KeyVault } from '@cdktf/provider-azurerm/lib/key-vault';
import { KeyVaultSecret } from '@cdktf/provider-azurerm/lib/key-vault-secret';
import { KubernetesCluster } from '@cdktf/provider-azurerm/lib/kubernetes-cluster';
import { ManagementLock } from '@cdktf/provider-azurerm/lib/management-lock';
import { PostgresqlFlexibleServer } from '@cdktf/provider-azurerm/lib/postgresql-flexible-server';
import { PostgresqlFlexibleServerDatabase } from '@cdktf/provider-azurerm/lib/postgresql-flexible-server-database';
import { PrivateDnsZone } from '@cdktf/provider-azurerm/lib/private-dns-zone';
import { PrivateDnsZoneVirtualNetworkLink } from '@cdktf/provider-azurerm/lib/private-dns-zone-virtual-network-link';
import { StorageManagementPolicy } from '@cdktf/provider-azurerm/lib/storage-management-policy';
import { Password } from '@cdktf/provider-random/lib/password';
import { MonitorAlertPrometheusRuleGroup } from '@cdktf/provider-azurerm/lib/monitor-alert-prometheus-rule-group';
import { MonitorDataCollectionEndpoint } from '@cdktf/provider-azurerm/lib/monitor-data-collection-endpoint';
import { MonitorDataCollectionRule } from '@cdktf/provider-azurerm/lib/monitor-data-collection-rule';
import { MonitorDataCollectionRuleAssociation } from '@cdktf/provider-azurerm/lib/monitor-data-collection-rule-association';
import { MonitorWorkspace } from '@cdktf/provider-azurerm/lib/monitor-workspace';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { KubernetesClusterNodePool } from '@cdktf/provider-azurerm/lib/kubernetes-cluster-node-pool';
import { LogAnalyticsWorkspace } from '@cdktf/provider-azurerm/lib/log-analytics-workspace';
import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { RoleAssignment } from '@cdktf/provider-azurerm/lib/role-assignment';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { StorageBlob } from '@cdktf/provider-azurerm/lib/storage-blob';
import { StorageContainer } from '@cdktf/provider-azurerm/lib/storage-container';
import { Subnet } from '@cdktf/provider-azurerm/lib/subnet';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { VirtualNetwork } from '@cdktf/provider-azurerm/lib/virtual-network';
import { Fn, TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesManifest, ValidatableObject } from '../../src/k8s/manifest';
import type { KubernetesClusterSpec, NodePoolSpec } from '../../src/spec/cluster';
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
import { physicalName } from '../private/naming';
import { STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';
import {
  addTerraformWarning,
  randomProvider,
  type TerraformBackendFactory,
  configureBackend,
  uploadDirectory,
} from '../private/terraform';

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

/** An IoT Edge deployment manifest (`az iot edge deployment create --content`): edgeAgent, edgeHub, the mlstack module. */
function iotEdgeDeployment(spec: EdgeFleetSpec): object {
  return {
    content: {
      modulesContent: {
        $edgeAgent: {
          'properties.desired': {
            schemaVersion: '1.1',
            runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25', registryCredentials: {} } },
            systemModules: {
              edgeAgent: {
                type: 'docker',
                settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5', createOptions: '{}' },
              },
              edgeHub: {
                type: 'docker',
                status: 'running',
                restartPolicy: 'always',
                settings: {
                  image: 'mcr.microsoft.com/azureiotedge-hub:1.5',
                  createOptions: JSON.stringify({
                    HostConfig: { PortBindings: { '8883/tcp': [{ HostPort: '8883' }] } },
                  }),
                },
              },
            },
            modules: {
              mlstack: {
                version: spec.version,
                type: 'docker',
                status: 'running',
                restartPolicy: 'always',
                settings: {
                  image: spec.image,
                  createOptions: JSON.stringify({
                    Env: ['MLSTACK_HOST=0.0.0.0', 'MLSTACK_PORT=8000'],
                    HostConfig: {
                      PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '8000' }] },
                      ...(spec.target.executionProviders.includes('cuda') ? { Runtime: 'nvidia' } : {}),
                    },
                  }),
                },
              },
            },
          },
        },
        $edgeHub: {
          'properties.desired': {
            schemaVersion: '1.1',
            routes: { telemetry: 'FROM /messages/modules/mlstack/outputs/* INTO $upstream' },
            storeAndForwardConfiguration: { timeToLiveSecs: 7 * 24 * 3600 },
          },
        },
      },
    },
  };
}

/** Logs the Azure CLI in with the federated token that Azure workload identity mounts into the pod. */
const AZ_LOGIN =
  'az login --service-principal --username "$AZURE_CLIENT_ID" --tenant "$AZURE_TENANT_ID"' +
  ' --federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --allow-no-subscriptions --output none';

/** The smallest storage size flexible server offers that holds `gib`. */
function azureStorageMb(gib: number): number {
  const sizes = [32768, 65536, 131072, 262144, 524288, 1048576, 2097152, 4193280, 4194304, 8388608, 16777216];
  return sizes.find((mb) => mb >= gib * 1024) ?? sizes[sizes.length - 1];
}

/** Azure Monitor alert severities: 0 critical … 4 verbose. */
const AZURE_SEVERITY = { critical: 0, warning: 2, info: 3 } as const;

/** A Prometheus `for` duration (`10m`, `0m`) as Azure's ISO 8601 duration (`PT10M`); Azure's minimum is PT1M. */
function isoMinutes(d: string): string {
  const m = /^(\d+)m$/.exec(d);
  if (!m) throw new Error(`alert duration '${d}' is not whole minutes`);
  return `PT${Math.max(1, Number(m[1]))}M`;
}

/** A prometheus-operator ServiceMonitor, moved to the Azure Monitor metrics add-on's API group. */
function azureMonitorServiceMonitor(monitor: ServiceMonitor): ValidatableObject {
  const json = monitor.toJSON() as KubernetesManifest;
  return {
    ...json,
    apiVersion: 'azmonitoring.coreos.com/v1',
    kind: 'ServiceMonitor',
    validate: () => monitor.validate(),
    toJSON: () => ({ ...json, apiVersion: 'azmonitoring.coreos.com/v1' }),
  };
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
  /** The subscription id. */
  public readonly subscriptionId: string;
  private readonly containers = new Map<string, StorageContainer>();
  private readonly secrets = new Map<string, { vault: KeyVault; secret: KeyVaultSecret }>();
  private databases = 0;

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
    this.subscriptionId = props.subscriptionId;
    // Storage accounts disable shared keys: the provider manages containers and blobs with Entra ID.
    new AzurermProvider(this, 'azurerm', {
      features: [{}],
      subscriptionId: props.subscriptionId,
      storageUseAzuread: true,
    });
    configureBackend(this, id, props.backend);
  }

  /**
   * Azure IoT Hub with the Device Provisioning Service linked to it, and two IoT Edge deployment manifests written
   * to the synth output — the canary (devices of the group tagged `canary`, higher priority) and the fleet — with
   * `$edgeAgent`, `$edgeHub` and the mlstack module (the image holding the package). Terraform has no resource
   * for IoT Edge deployments: the outputs give the `az iot edge deployment create` commands that apply them.
   */
  public addEdgeFleet(scope: Construct, id: string, spec: EdgeFleetSpec): EdgeFleetCapability {
    if (!spec.image)
      throw new Error(`${scope.node.path}: an IoT Edge module needs an image holding the package.`);
    const identity = [this.subscriptionId, this.stackName, scope.node.path, id];
    const rg = new ResourceGroup(scope, `${id}-ResourceGroup`, {
      name: `${spec.name}-edge-rg`,
      location: this.location,
    });
    const hubName = physicalName({ readable: `${spec.name}-hub`, identity, maxLength: 50 });
    const hub = new Iothub(scope, `${id}-Hub`, {
      name: hubName,
      resourceGroupName: rg.name,
      location: this.location,
      sku: { name: 'S1', capacity: 1 },
      minTlsVersion: '1.2',
      localAuthenticationEnabled: true,
    });
    const policy = new IothubSharedAccessPolicy(scope, `${id}-DpsAccess`, {
      name: 'dps-link',
      resourceGroupName: rg.name,
      iothubName: hub.name,
      registryRead: true,
      registryWrite: true,
      serviceConnect: true,
      deviceConnect: true,
    });
    new IothubDps(scope, `${id}-Dps`, {
      name: physicalName({ readable: `${spec.name}-dps`, identity, maxLength: 64 }),
      resourceGroupName: rg.name,
      location: this.location,
      sku: { name: 'S1', capacity: 1 },
      allocationPolicy: 'Hashed',
      linkedHub: [{ connectionString: policy.primaryConnectionString, location: this.location }],
    });
    const files = (['canary', 'fleet'] as const).map((stage) => ({
      path: `iotedge-deployment.${stage}.json`,
      content: `${JSON.stringify(iotEdgeDeployment(spec), null, 2)}\n`,
    }));
    const condition = (stage: 'canary' | 'fleet') =>
      stage === 'canary' ? `tags.group='${spec.group}' AND tags.canary=true` : `tags.group='${spec.group}'`;
    for (const stage of ['canary', 'fleet'] as const) {
      new TerraformOutput(scope, `${id}-${stage}-command`, {
        value:
          `az iot edge deployment create --hub-name ${hubName} --deployment-id ${spec.name}-${spec.version.replace(/\./g, '-')}-${stage}` +
          ` --content iotedge-deployment.${stage}.json --target-condition "${condition(stage)}" --priority ${stage === 'canary' ? 20 : 10}`,
        description: `Applies the ${stage} IoT Edge deployment of ${spec.name} ${spec.version}.`,
      }).overrideLogicalId(`${spec.name}-${stage}-deployment-command`);
    }
    this.addWarning(
      scope,
      `IoT Edge rolls out by device tags, not percentages: tag about ${spec.rollout.canaryPercent}% of the '${spec.group}' devices with tags.canary=true for the canary stage; IoT Hub does not abort on a failure share (watch the module's reported status) — see docs/edge-fleet.md.`,
    );
    return { files };
  }

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    new TerraformOutput(scope, id, { value, description });
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    addTerraformWarning(scope, message);
  }

  /** Terraform builds no images: the mlstack server image is a reference the user pushed (Azure Container Registry). */
  public mlstackServerImage(): string | undefined {
    return undefined;
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
    let managed: ManagedPrometheusCapability | undefined;
    for (const pool of spec.pools) if (pool.role !== 'system') addPool(scope, pool);

    new TerraformOutput(scope, 'ClusterName', { value: cluster.name });
    new TerraformOutput(scope, 'KubeconfigCommand', {
      value: `az aks get-credentials --resource-group ${name}-rg --name ${name}`,
    });
    return {
      clusterName: name,
      managesGpuDevicePlugin: false,
      metricsCollectors: { namespaces: ['kube-system'], cidrs: [] },
      addNodePool: addPool,
      deployManifests() {
        // Terraform JSON carries no Kubernetes objects: they are in the synth output's k8s/ folder.
      },
      addObjectStore: (storeScope, storeId, storeSpec) =>
        this.addObjectStore(storeScope, storeId, storeSpec, rg, tags),
      addWorkloadIdentity: (idScope, idId, idSpec) =>
        this.addWorkloadIdentity(idScope, idId, idSpec, rg, cluster, tags),
      managedPrometheus: (monitoringScope) => {
        managed ??= this.managedPrometheus(monitoringScope, name, rg, cluster, tags);
        return managed;
      },
      addPostgres: (dbScope, dbId, dbSpec) => this.addPostgres(dbScope, dbId, dbSpec, rg, vnet, tags),
    };
  }

  /**
   * Azure Database for PostgreSQL flexible server with VNet integration (a delegated subnet of the cluster's VNet
   * and a private DNS zone; no public access), TLS required (the server's default), backups with a retention,
   * zone-redundant high availability when asked, a CanNotDelete lock and Terraform `prevent_destroy`. The
   * administrator password is generated by Terraform (`random_password`); the connection is kept as JSON in a
   * Key Vault with RBAC and purge protection: neither appears in `cdk.tf.json`.
   */
  private addPostgres(
    scope: Construct,
    id: string,
    spec: PostgresSpec,
    rg: ResourceGroup,
    vnet: VirtualNetwork,
    tags: Record<string, string>,
  ): PostgresCapability {
    const index = this.databases++;
    const identity = [this.subscriptionId, this.stackName, scope.node.path, id];
    const serverName = physicalName({ readable: `${scope.node.id}-${id}`, identity, maxLength: 63 });
    const subnet = new Subnet(scope, `${id}-Subnet`, {
      name: `${id.toLowerCase()}-db`,
      resourceGroupName: rg.name,
      virtualNetworkName: vnet.name,
      addressPrefixes: [`10.1.${16 + index}.0/24`],
      delegation: [
        {
          name: 'postgres',
          serviceDelegation: {
            name: 'Microsoft.DBforPostgreSQL/flexibleServers',
            actions: ['Microsoft.Network/virtualNetworks/subnets/join/action'],
          },
        },
      ],
    });
    const zone = new PrivateDnsZone(scope, `${id}-DnsZone`, {
      name: `${serverName}.private.postgres.database.azure.com`,
      resourceGroupName: rg.name,
      tags,
    });
    const link = new PrivateDnsZoneVirtualNetworkLink(scope, `${id}-DnsLink`, {
      name: `${serverName}-link`,
      resourceGroupName: rg.name,
      privateDnsZoneName: zone.name,
      virtualNetworkId: vnet.id,
      tags,
    });
    randomProvider(this);
    const password = new Password(scope, `${id}-Password`, { length: 32, special: false });
    const server = new PostgresqlFlexibleServer(scope, id, {
      name: serverName,
      resourceGroupName: rg.name,
      location: this.location,
      version: spec.version,
      skuName: spec.instanceType,
      storageMb: azureStorageMb(spec.storageGiB),
      autoGrowEnabled: true,
      zone: '1',
      ...(spec.highAvailability
        ? { highAvailability: { mode: 'ZoneRedundant', standbyAvailabilityZone: '2' } }
        : {}),
      backupRetentionDays: spec.backupRetentionDays,
      geoRedundantBackupEnabled: spec.highAvailability,
      delegatedSubnetId: spec.publiclyAccessible ? undefined : subnet.id,
      privateDnsZoneId: spec.publiclyAccessible ? undefined : zone.id,
      publicNetworkAccessEnabled: spec.publiclyAccessible,
      administratorLogin: spec.username,
      administratorPassword: password.result,
      authentication: { passwordAuthEnabled: true, activeDirectoryAuthEnabled: false },
      tags,
      lifecycle: {
        preventDestroy: true,
        ignoreChanges: ['zone', 'high_availability[0].standby_availability_zone'],
      },
      dependsOn: [link],
    });
    new ManagementLock(scope, `${id}-Lock`, {
      name: `${serverName}-lock`,
      scope: server.id,
      lockLevel: 'CanNotDelete',
      notes: `Database of ${spec.purpose}: remove this lock to delete it.`,
    });
    new PostgresqlFlexibleServerDatabase(scope, `${id}-Database`, {
      name: spec.databaseName,
      serverId: server.id,
      charset: 'UTF8',
      collation: 'en_US.utf8',
      lifecycle: { preventDestroy: true },
    });
    const client = new DataAzurermClientConfig(scope, `${id}-Client`, {});
    const vaultName = physicalName({ prefix: 'kv', readable: id, identity, maxLength: 24, alnumOnly: true });
    const vault = new KeyVault(scope, `${id}-Vault`, {
      name: vaultName,
      resourceGroupName: rg.name,
      location: this.location,
      tenantId: client.tenantId,
      skuName: 'standard',
      rbacAuthorizationEnabled: true,
      purgeProtectionEnabled: true,
      softDeleteRetentionDays: 90,
      tags,
    });
    // Whoever runs terraform writes the secret; the workload identity only reads it.
    const officer = new RoleAssignment(scope, `${id}-VaultOfficer`, {
      scope: vault.id,
      roleDefinitionName: 'Key Vault Secrets Officer',
      principalId: client.objectId,
    });
    const secretName = `${id.toLowerCase()}-connection`;
    const secret = new KeyVaultSecret(scope, `${id}-Secret`, {
      name: secretName,
      keyVaultId: vault.id,
      contentType: 'application/json',
      value: Fn.jsonencode({
        host: server.fqdn,
        port: 5432,
        username: spec.username,
        password: password.result,
        dbname: spec.databaseName,
      }),
      dependsOn: [officer],
    });
    this.secrets.set(secretName, { vault, secret });
    return {
      description: 'Azure Database for PostgreSQL flexible server 16',
      connectionSecret: {
        name: secretName,
        fetchContainer: (file) => ({
          container: {
            ...storeCopyContainer({
              image: STORE_COPY_IMAGES.azure,
              command: [
                'sh',
                '-ec',
                [
                  AZ_LOGIN,
                  `az keyvault secret show --vault-name ${vaultName} --name ${secretName} --query value --output tsv > ${file}`,
                ].join('\n'),
              ],
              env: { HOME: '/tmp', AZURE_CONFIG_DIR: '/tmp/.azure' },
            }),
            name: 'fetch-db-secret',
          },
          localPath: file,
        }),
      },
    };
  }

  /**
   * Azure Monitor managed Prometheus: an Azure Monitor workspace, the data collection endpoint, rule and
   * association that send the cluster's metrics to it, the AKS metrics add-on (`monitor_metrics`), a
   * `azmonitoring.coreos.com/v1` ServiceMonitor per target (read by the add-on) and a Prometheus rule group per
   * alert group, evaluated by Azure.
   * @see https://learn.microsoft.com/azure/azure-monitor/containers/kubernetes-monitoring-enable
   */
  private managedPrometheus(
    scope: Construct,
    name: string,
    rg: ResourceGroup,
    cluster: KubernetesCluster,
    tags: Record<string, string>,
  ): ManagedPrometheusCapability {
    const workspace = new MonitorWorkspace(scope, 'PrometheusWorkspace', {
      name: `${name}-prometheus`,
      resourceGroupName: rg.name,
      location: this.location,
      tags,
    });
    const endpoint = new MonitorDataCollectionEndpoint(scope, 'PrometheusEndpoint', {
      name: `MSProm-${this.location}-${name}`.slice(0, 44),
      resourceGroupName: rg.name,
      location: this.location,
      kind: 'Linux',
      tags,
    });
    const rule = new MonitorDataCollectionRule(scope, 'PrometheusCollection', {
      name: `MSProm-${this.location}-${name}`.slice(0, 64),
      resourceGroupName: rg.name,
      location: this.location,
      kind: 'Linux',
      dataCollectionEndpointId: endpoint.id,
      destinations: { monitorAccount: [{ monitorAccountId: workspace.id, name: 'MonitoringAccount1' }] },
      dataFlow: [{ streams: ['Microsoft-PrometheusMetrics'], destinations: ['MonitoringAccount1'] }],
      dataSources: {
        prometheusForwarder: [{ name: 'PrometheusDataSource', streams: ['Microsoft-PrometheusMetrics'] }],
      },
      tags,
    });
    new MonitorDataCollectionRuleAssociation(scope, 'PrometheusCollectionAssociation', {
      name: `MSProm-${name}`,
      targetResourceId: cluster.id,
      dataCollectionRuleId: rule.id,
    });
    cluster.putMonitorMetrics({});
    new TerraformOutput(scope, 'PrometheusQueryEndpoint', { value: workspace.queryEndpoint });
    return {
      description: 'Azure Monitor managed Prometheus',
      addScrapeTarget: (_scope, _id, t) => {
        // The add-on reads the prometheus-operator schema under its own API group.
        const monitor = new ServiceMonitor({
          metadata: {
            name: `${t.job}-ama`,
            namespace: t.namespace,
            labels: { 'app.kubernetes.io/managed-by': 'mlstack' },
          },
          spec: {
            selector: { matchLabels: { ...t.selector } },
            namespaceSelector: { matchNames: [t.namespace] },
            endpoints: [
              {
                port: t.port,
                path: '/metrics',
                interval: t.interval,
                honorLabels: t.honorLabels,
                relabelings: [
                  { targetLabel: 'job', replacement: t.job, action: 'replace' },
                  {
                    sourceLabels: ['__meta_kubernetes_pod_node_name'],
                    targetLabel: 'node',
                    action: 'replace',
                  },
                ],
              },
            ],
          },
        });
        monitor.validate();
        return [azureMonitorServiceMonitor(monitor)];
      },
      addRuleGroups: (groupScope, id, groups) => {
        groups.forEach((g, i) => {
          new MonitorAlertPrometheusRuleGroup(groupScope, `${id}-${i}`, {
            name: g.name,
            resourceGroupName: rg.name,
            location: this.location,
            clusterName: cluster.name,
            ruleGroupEnabled: true,
            interval: 'PT1M',
            scopes: [workspace.id, cluster.id],
            rule: g.rules.map((r) => ({
              alert: r.alert,
              expression: r.expr,
              for: isoMinutes(r.for),
              severity: AZURE_SEVERITY[r.labels.severity],
              enabled: true,
              labels: { ...r.labels },
              annotations: { ...r.annotations },
              alertResolution: { autoResolved: true, timeToResolve: 'PT10M' },
            })),
            tags,
          });
        });
        return [];
      },
    };
  }

  /**
   * A storage account with one private container `models`: shared keys disabled (Entra ID only), TLS 1.2,
   * HTTPS only, no public blobs, infrastructure (double) encryption, blob versioning and 30-day soft delete,
   * zone-redundant. `contents` become `azurerm_storage_blob`s from Terraform assets next to `cdk.tf.json`.
   */
  private addObjectStore(
    scope: Construct,
    id: string,
    spec: ObjectStoreSpec,
    rg: ResourceGroup,
    tags: Record<string, string>,
  ): ObjectStoreCapability {
    const name =
      spec.name ??
      physicalName({
        prefix: 'ml',
        readable: `${scope.node.id}${id}`,
        identity: [this.subscriptionId, this.stackName, scope.node.path, id],
        maxLength: 24,
        alnumOnly: true,
      });
    if (!/^[a-z0-9]{3,24}$/.test(name)) {
      throw new Error(
        `${scope.node.path}: storage account name '${name}' is not valid. Use 3-24 lowercase letters and digits.`,
      );
    }
    const account = new StorageAccount(scope, id, {
      name,
      resourceGroupName: rg.name,
      location: this.location,
      accountKind: 'StorageV2',
      accountTier: 'Standard',
      accountReplicationType: 'ZRS',
      minTlsVersion: 'TLS1_2',
      httpsTrafficOnlyEnabled: true,
      allowNestedItemsToBePublic: false,
      sharedAccessKeyEnabled: false,
      defaultToOauthAuthentication: true,
      infrastructureEncryptionEnabled: true,
      blobProperties: {
        versioningEnabled: true,
        deleteRetentionPolicy: { days: 30 },
        containerDeleteRetentionPolicy: { days: 30 },
      },
      tags: { ...tags, purpose: 'mlstack-data' },
      ...(spec.retain ? { lifecycle: { preventDestroy: true } } : {}),
    });
    new StorageManagementPolicy(scope, `${id}-Lifecycle`, {
      storageAccountId: account.id,
      rule: [
        {
          name: 'old-versions',
          enabled: true,
          filters: { blobTypes: ['blockBlob'] },
          actions: {
            version: { deleteAfterDaysSinceCreation: spec.lifecycle?.noncurrentVersionDays ?? 30 },
            ...(spec.lifecycle?.infrequentAccessAfterDays
              ? {
                  baseBlob: {
                    tierToCoolAfterDaysSinceModificationGreaterThan: spec.lifecycle.infrequentAccessAfterDays,
                  },
                }
              : {}),
          },
        },
      ],
    });
    const container = new StorageContainer(scope, `${id}-Container`, {
      name: 'models',
      storageAccountId: account.id,
      containerAccessType: 'private',
    });
    uploadDirectory(scope, id, spec.contents, (objectId, key, source, file) => {
      new StorageBlob(scope, objectId, {
        name: key,
        storageAccountName: account.name,
        storageContainerName: container.name,
        type: 'Block',
        source,
        contentMd5: createHash('md5').update(fs.readFileSync(file)).digest('hex'),
      });
    });
    this.containers.set(name, container);
    return {
      name,
      pythonUri: (prefix) => `wasbs://models@${name}.blob.core.windows.net/${prefix}`,
      tritonReadsUri: false,
      uri: (prefix) => `as://${name}/models/${prefix}`,
      uploadStep: (localDir, prefix) => ({
        image: STORE_COPY_IMAGES.azure,
        env: { HOME: '/tmp', AZURE_CONFIG_DIR: '/tmp/.azure' },
        script: [
          AZ_LOGIN,
          `az storage blob upload-batch --auth-mode login --account-name ${name} --destination models --destination-path "${prefix}" --source ${localDir} --output none`,
        ],
      }),
      copyContainer: (prefix, target) => ({
        container: storeCopyContainer({
          image: STORE_COPY_IMAGES.azure,
          command: [
            'sh',
            '-ec',
            [
              AZ_LOGIN,
              `az storage blob download-batch --auth-mode login --account-name ${name} --source models` +
                ` --pattern '${prefix}/*' --destination ${target} --overwrite --output none`,
            ].join('\n'),
          ],
          env: { HOME: '/tmp', AZURE_CONFIG_DIR: '/tmp/.azure' },
        }),
        localPath: `${target}/${prefix}`,
      }),
    };
  }

  /**
   * Azure workload identity: a user-assigned managed identity with Storage Blob Data Reader on the given
   * containers only, federated with the cluster's OIDC issuer for the ServiceAccount. Its client id is only known
   * after `terraform apply`, so the ServiceAccount annotation is applied with the command in the
   * `<namespace>-<serviceAccount>-annotate-command` output (a synth warning says so).
   */
  private addWorkloadIdentity(
    scope: Construct,
    id: string,
    spec: WorkloadIdentitySpec,
    rg: ResourceGroup,
    cluster: KubernetesCluster,
    tags: Record<string, string>,
  ): WorkloadIdentityCapability {
    const identity = new UserAssignedIdentity(scope, id, {
      name: `${spec.namespace}-${spec.serviceAccount}`.slice(0, 128),
      resourceGroupName: rg.name,
      location: this.location,
      tags,
    });
    new FederatedIdentityCredential(scope, `${id}-Federation`, {
      name: 'kubernetes',
      resourceGroupName: rg.name,
      parentId: identity.id,
      audience: ['api://AzureADTokenExchange'],
      issuer: cluster.oidcIssuerUrl,
      subject: `system:serviceaccount:${spec.namespace}:${spec.serviceAccount}`,
    });
    const assign = (what: string, scopeId: string, role: string) =>
      new RoleAssignment(scope, `${id}-${role.replace(/\W/g, '')}-${what}`, {
        scope: scopeId,
        roleDefinitionName: role,
        principalId: identity.principalId,
        principalType: 'ServicePrincipal',
      });
    const container = (store: ObjectStoreCapability) => {
      const c = this.containers.get(store.name);
      if (!c)
        throw new Error(`${scope.node.path}: storage account '${store.name}' is not one of this stack's.`);
      return c;
    };
    for (const store of spec.read) {
      assign(store.name, container(store).resourceManagerId, 'Storage Blob Data Reader');
    }
    for (const store of spec.readWrite ?? []) {
      assign(store.name, container(store).resourceManagerId, 'Storage Blob Data Contributor');
    }
    for (const secret of spec.secrets ?? []) {
      const s = this.secrets.get(secret.name);
      if (!s) throw new Error(`${scope.node.path}: secret '${secret.name}' is not one of this stack's.`);
      assign(secret.name, `${s.vault.id}/secrets/${secret.name}`, 'Key Vault Secrets User');
    }
    const annotate = `kubectl annotate serviceaccount --namespace ${spec.namespace} ${spec.serviceAccount} --overwrite azure.workload.identity/client-id=`;
    const outputName = `${spec.namespace}-${spec.serviceAccount}-annotate-command`;
    new TerraformOutput(scope, `${id}-AnnotateCommand`, {
      value: `${annotate}${identity.clientId}`,
      description: `Run once after apply: binds ${spec.namespace}/${spec.serviceAccount} to its managed identity.`,
    }).overrideLogicalId(outputName);
    this.addWarning(
      scope,
      `ServiceAccount ${spec.namespace}/${spec.serviceAccount} needs the client id of its managed identity, which Azure assigns at apply: after 'terraform apply', run 'terraform output -raw ${outputName}' and the command it prints, once (kubectl apply of the k8s/ folder keeps the annotation).`,
    );
    return { serviceAccountAnnotations: {}, podLabels: { 'azure.workload.identity/use': 'true' } };
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
