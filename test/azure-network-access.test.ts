import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { AlertDestination } from '../src/monitoring/destinations';
import { azurePublicNetwork } from '../src/policy/rules/az-public-network';
import { GpuType } from '../src/spec/gpu';
import { AksExistingCluster, AksNetwork, AzureMlStack, AzureNetworkAccess } from '../stacks/azure';
import { classifierService } from './support/serving';
import { type TerraformJson, terraformJson } from './support/synth';

const base = { subscriptionId: '00000000-0000-0000-0000-000000000000', location: 'westeurope' };
const SUBNET =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks';

function platform(networkAccess?: AzureNetworkAccess) {
  const stack = new AzureMlStack(Testing.app(), 'ml', {
    ...base,
    ...(networkAccess ? { networkAccess } : {}),
  });
  classifierService(stack);
  const { json } = terraformJson(stack);
  const warnings = stack.node
    .findAll()
    .flatMap((c) => c.node.metadata.filter((m) => m.type === 'mlstack:warning').map((m) => String(m.data)));
  return { json, warnings };
}

const accounts = (json: TerraformJson) => Object.values(json.resource.azurerm_storage_account);

describe('AzureNetworkAccess', () => {
  it("by default admits only the cluster's node subnet, through the service endpoints mlstack enables on it", () => {
    const { json, warnings } = platform();
    const subnet = Object.entries(json.resource.azurerm_subnet).find(([, s]) => s.name === 'nodes')!;
    expect(subnet[1].service_endpoints).toEqual(['Microsoft.KeyVault', 'Microsoft.Storage']);
    for (const a of accounts(json)) {
      expect(a.network_rules).toEqual({
        default_action: 'Deny',
        bypass: ['AzureServices'],
        ip_rules: [],
        virtual_network_subnet_ids: [`\${azurerm_subnet.${subnet[0]}.id}`],
      });
    }
    expect(azurePublicNetwork.check({ json: json as unknown as Record<string, unknown> })).toEqual([]);
    expect(warnings.join('\n')).toMatch(/admit only its node subnet: run 'terraform apply' from that VNet/);
  });

  it('admits the listed public addresses, writing /31 and /32 as single addresses as Azure Storage requires', () => {
    const { json, warnings } = platform(
      AzureNetworkAccess.firewall({
        allowedIpRanges: ['203.0.113.0/24', '198.51.100.7/32', '198.51.100.9/31', '192.0.2.1'],
      }),
    );
    expect(accounts(json)[0].network_rules).toMatchObject({
      ip_rules: ['203.0.113.0/24', '198.51.100.7', '198.51.100.8', '198.51.100.9', '192.0.2.1'],
    });
    expect(warnings.join('\n')).not.toMatch(/admit only its node subnet/);
  });

  it('closes the Key Vault of a database the same way', () => {
    const stack = new AzureMlStack(Testing.app(), 'ml', {
      ...base,
      networkAccess: AzureNetworkAccess.firewall({ allowedIpRanges: ['203.0.113.0/24'] }),
    });
    const cluster = new GpuCluster(stack, 'Gpus', {
      alerts: [AlertDestination.email('ml-oncall@example.com')],
      gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 }, maxNodes: 2 }],
    });
    cluster.addPostgres(stack, 'Db', {
      purpose: 'test',
      databaseName: 'db',
      username: 'app',
      instanceType: 'GP_Standard_D2ds_v5',
      version: '16',
      storageGiB: 32,
      backupRetentionDays: 7,
      highAvailability: false,
      publiclyAccessible: false,
    });
    const { json } = terraformJson(stack);
    expect(Object.values(json.resource.azurerm_key_vault)[0].network_acls).toMatchObject({
      default_action: 'Deny',
      bypass: 'AzureServices',
      ip_rules: ['203.0.113.0/24'],
    });
  });

  it('opens to public networks only when asked, with the reason acknowledging the finding', () => {
    const reason = 'A sandbox subscription without a VNet-connected runner; Entra ID roles are the gate.';
    const stack = new AzureMlStack(Testing.app(), 'ml', {
      ...base,
      networkAccess: AzureNetworkAccess.publicNetworks({ reason }),
    });
    classifierService(stack);
    const full = stack.toTerraform() as TerraformJson;
    const account = Object.values(full.resource.azurerm_storage_account)[0];
    expect(account.network_rules).toBeUndefined();
    expect(account['//']).toMatchObject({ mlstack_acknowledge: { 'MLS-AZ-PUBLIC-NETWORK': reason } });
  });

  it('asks a subnet of yours for its service endpoints, and an imported cluster for its subnet', () => {
    const stack = new AzureMlStack(Testing.app(), 'ml', base);
    classifierService(
      stack,
      {},
      new GpuCluster(stack, 'Gpus', {
        alerts: [AlertDestination.email('ml-oncall@example.com')],
        network: AksNetwork.fromSubnet({ subnetId: SUBNET }),
        gpuPools: [{ name: 'inference', gpu: { type: GpuType.NVIDIA_T4 }, maxNodes: 9 }],
      }),
    );
    const { json } = terraformJson(stack);
    expect(accounts(json)[0].network_rules).toMatchObject({ virtual_network_subnet_ids: [SUBNET] });
    const warnings = stack.node.findAll().flatMap((c) => c.node.metadata.map((m) => String(m.data)));
    expect(warnings.join('\n')).toMatch(
      /needs Microsoft.Storage and Microsoft.KeyVault in its service endpoints/,
    );

    const imported = new AzureMlStack(Testing.app(), 'ml', base);
    const cluster = new GpuCluster(imported, 'Gpus', {
      alerts: [AlertDestination.email('ml-oncall@example.com')],
      existingCluster: AksExistingCluster.fromId(
        '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/aks/providers/Microsoft.ContainerService/managedClusters/prod',
      ),
      gpuPools: [{ name: 'inference', gpu: { type: GpuType.NVIDIA_T4 }, maxNodes: 9 }],
    });
    expect(() => classifierService(imported, {}, cluster)).toThrow(
      /'networkAccess' \("firewall"\) needs the cluster's node subnet.*AksNetwork.fromSubnet/,
    );
  });

  it('fails on a private, malformed or tiny range and on a missing reason, naming the prop', () => {
    const make = (networkAccess: AzureNetworkAccess) => () =>
      new AzureMlStack(Testing.app(), 'ml', { ...base, networkAccess });
    expect(make(AzureNetworkAccess.firewall({ allowedIpRanges: ['10.0.0.0/8'] }))).toThrow(
      /'networkAccess.allowedIpRanges\[0\]' \("10.0.0.0\/8"\) is a private range/,
    );
    expect(make(AzureNetworkAccess.firewall({ allowedIpRanges: ['203.0.113.0/24', '300.1.1.1'] }))).toThrow(
      /'networkAccess.allowedIpRanges\[1\]' \("300.1.1.1"\) is not an IPv4 address or CIDR range/,
    );
    expect(make(AzureNetworkAccess.publicNetworks({ reason: 'dev' }))).toThrow(/'networkAccess.reason'/);
  });
});
