import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { GpuSharing, KubernetesVersion, NodeSize } from '../src/spec/cluster';
import { GpuType } from '../src/spec/gpu';
import { AzureMlStack } from '../stacks/azure';
import { azureStack, onlyResource, resourcesByName, terraformJson } from './support/synth';

describe('GpuCluster on Azure (AKS)', () => {
  const stack = azureStack();
  const cluster = new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml',
    version: KubernetesVersion.V1_33,
    systemPool: { size: NodeSize.XLARGE2, minNodes: 3, maxNodes: 5, zones: ['1', '2', '3'] },
    gpuPools: [
      {
        name: 't4',
        gpu: { type: GpuType.NVIDIA_T4 },
        maxNodes: 4,
        spot: true,
        sharing: GpuSharing.timeSlicing(2),
      },
      { name: 'a100', gpu: { type: GpuType.NVIDIA_A100_80GB }, sharing: GpuSharing.mig('3g.40gb') },
    ],
    tags: { team: 'ml' },
  });
  const { text, json } = terraformJson(stack);

  it('configures the azurerm provider from props and remote state in the subscription state account', () => {
    expect(
      Testing.toHaveProviderWithProperties(text, 'azurerm', {
        subscription_id: '00000000-0000-0000-0000-000000000000',
      }),
    ).toBe(true);
    expect(json.terraform.backend).toEqual({
      azurerm: {
        resource_group_name: 'tfstate',
        storage_account_name: 'tfstate12b9377cbe',
        container_name: 'tfstate',
        key: 'mlstack/test.tfstate',
        use_azuread_auth: true,
      },
    });
  });

  it('is a private AKS cluster with managed identity, OIDC issuer, workload identity and Entra RBAC', () => {
    expect(onlyResource(json, 'azurerm_kubernetes_cluster')).toMatchObject({
      name: 'ml',
      location: 'westeurope',
      kubernetes_version: '1.33',
      private_cluster_enabled: true,
      identity: { type: 'SystemAssigned' },
      oidc_issuer_enabled: true,
      workload_identity_enabled: true,
      local_account_disabled: true,
      azure_active_directory_role_based_access_control: { azure_rbac_enabled: true },
      azure_policy_enabled: true,
      network_profile: { network_plugin: 'azure', network_policy: 'cilium' },
      key_vault_secrets_provider: { secret_rotation_enabled: true },
      default_node_pool: {
        name: 'system',
        vm_size: 'Standard_D8s_v5',
        auto_scaling_enabled: true,
        min_count: 3,
        max_count: 5,
        zones: ['1', '2', '3'],
      },
      tags: { team: 'ml' },
    });
    expect(onlyResource(json, 'azurerm_kubernetes_cluster').oms_agent).toBeDefined();
  });

  it('makes GPU node pools with GPU VM sizes, driver install, Spot with eviction policy and MIG instances', () => {
    const pools = resourcesByName(json, 'azurerm_kubernetes_cluster_node_pool');
    expect(Object.keys(pools).sort()).toEqual(['a100', 't4']);
    expect(pools.t4).toMatchObject({
      vm_size: 'Standard_NC4as_T4_v3',
      mode: 'User',
      auto_scaling_enabled: true,
      min_count: 0,
      max_count: 4,
      priority: 'Spot',
      eviction_policy: 'Delete',
      spot_max_price: -1,
      gpu_driver: 'Install',
      node_taints: [
        'nvidia.com/gpu=present:NoSchedule',
        'kubernetes.azure.com/scalesetpriority=spot:NoSchedule',
      ],
      node_labels: expect.objectContaining({
        'mlstack.io/gpu-type': 'nvidia-t4',
        'kubernetes.azure.com/scalesetpriority': 'spot',
      }),
    });
    expect(pools.a100).toMatchObject({ vm_size: 'Standard_NC24ads_A100_v4', gpu_instance: 'MIG3g' });
    expect(pools.a100.priority).toBeUndefined();
  });

  it('deploys the NVIDIA device plugin, tolerating the Spot taint', () => {
    const ds = cluster.manifests.manifests.find(
      (m) => m.kind === 'DaemonSet' && m.metadata.name === 'nvidia-device-plugin-t4',
    );
    expect(JSON.stringify(ds)).toContain('kubernetes.azure.com/scalesetpriority');
    expect(cluster.manifests.manifests.filter((m) => m.kind === 'DaemonSet')).toHaveLength(2);
  });

  it('outputs the kubeconfig command', () => {
    expect(JSON.stringify(json.output)).toContain('az aks get-credentials --resource-group ml-rg --name ml');
  });

  it('matches the snapshot', () => {
    expect(json).toMatchSnapshot();
  });
});

describe('AzureMlStack', () => {
  it('fails when subscriptionId or location is not valid', () => {
    expect(
      () => new AzureMlStack(Testing.app(), 's', { subscriptionId: 'abc', location: 'westeurope' }),
    ).toThrow(/'subscriptionId' \("abc"\) is not a subscription id/);
    expect(
      () =>
        new AzureMlStack(Testing.app(), 's', {
          subscriptionId: '00000000-0000-0000-0000-000000000000',
          location: 'West Europe',
        }),
    ).toThrow(/'location' \("West Europe"\) is not an Azure region name/);
  });

  it('opens a public API server only to the authorized networks', () => {
    const stack = azureStack();
    new GpuCluster(stack, 'Gpus', {
      privateEndpoint: false,
      authorizedNetworks: ['203.0.113.0/24'],
      gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }],
    });
    expect(onlyResource(terraformJson(stack).json, 'azurerm_kubernetes_cluster')).toMatchObject({
      private_cluster_enabled: false,
      api_server_access_profile: { authorized_ip_ranges: ['203.0.113.0/24'] },
    });
  });
});
