import { Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { GpuSharing, KubernetesVersion, TaintEffect } from '../src/spec/cluster';
import { GpuType } from '../src/spec/gpu';
import { GcpMlStack } from '../stacks/gcp';
import { gcpStack, onlyResource, resourcesByName, terraformJson } from './support/synth';

describe('GpuCluster on Google Cloud (GKE)', () => {
  const stack = gcpStack();
  const cluster = new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml',
    version: KubernetesVersion.V1_33,
    gpuPools: [
      {
        name: 'l4',
        gpu: { type: GpuType.NVIDIA_L4 },
        maxNodes: 4,
        spot: true,
        sharing: GpuSharing.timeSlicing(4),
      },
      {
        name: 'a100',
        gpu: { type: GpuType.NVIDIA_A100_80GB, count: 2 },
        sharing: GpuSharing.mig('1g.10gb'),
        zones: ['us-central1-a', 'us-central1-c'],
        taints: [
          { key: 'nvidia.com/gpu', value: 'present', effect: TaintEffect.NO_SCHEDULE },
          { key: 'team', value: 'research', effect: TaintEffect.NO_EXECUTE },
        ],
      },
    ],
    tags: { team: 'ml' },
  });
  const { text, json } = terraformJson(stack);

  it('configures the google provider from props and remote state in the project state bucket', () => {
    expect(
      Testing.toHaveProviderWithProperties(text, 'google', {
        project: 'acme-ml-test',
        region: 'us-central1',
      }),
    ).toBe(true);
    expect(json.terraform.backend).toEqual({
      gcs: { bucket: 'acme-ml-test-tfstate', prefix: 'mlstack/test' },
    });
  });

  it('is a regional, private, shielded GKE cluster with Workload Identity and KMS secrets encryption', () => {
    const c = onlyResource(json, 'google_container_cluster');
    expect(c).toMatchObject({
      name: 'ml',
      location: 'us-central1',
      min_master_version: '1.33',
      release_channel: { channel: 'REGULAR' },
      networking_mode: 'VPC_NATIVE',
      datapath_provider: 'ADVANCED_DATAPATH',
      private_cluster_config: { enable_private_nodes: true, enable_private_endpoint: true },
      workload_identity_config: { workload_pool: 'acme-ml-test.svc.id.goog' },
      enable_shielded_nodes: true,
      remove_default_node_pool: true,
      deletion_protection: true,
      resource_labels: { team: 'ml' },
    });
    expect(c.database_encryption).toMatchObject({
      state: 'ENCRYPTED',
      key_name: expect.stringContaining('google_kms_crypto_key.'),
    });
    expect(onlyResource(json, 'google_kms_crypto_key')).toMatchObject({ rotation_period: '7776000s' });
    expect(onlyResource(json, 'google_kms_crypto_key_iam_member')).toMatchObject({
      role: 'roles/cloudkms.cryptoKeyEncrypterDecrypter',
      member: expect.stringContaining('@container-engine-robot.iam.gserviceaccount.com'),
    });
  });

  it('runs nodes as a dedicated least-privilege service account, not the default compute one', () => {
    const roles = Object.values(json.resource.google_project_iam_member).map((r) => r.role);
    expect(roles).toEqual(
      expect.arrayContaining(['roles/logging.logWriter', 'roles/monitoring.metricWriter']),
    );
    expect(roles).not.toContain('roles/editor');
    for (const pool of Object.values(json.resource.google_container_node_pool)) {
      expect((pool.node_config as Record<string, unknown>).service_account).toContain(
        'google_service_account.',
      );
    }
  });

  it('makes GPU node pools with guest accelerators, driver installation, spot, sharing and autoscaling from zero', () => {
    const pools = resourcesByName(json, 'google_container_node_pool');
    expect(Object.keys(pools).sort()).toEqual(['a100', 'l4', 'system']);
    expect(pools.l4).toMatchObject({
      initial_node_count: 0,
      autoscaling: { total_min_node_count: 0, total_max_node_count: 4, location_policy: 'ANY' },
      node_config: {
        machine_type: 'g2-standard-4',
        spot: true,
        guest_accelerator: [
          {
            type: 'nvidia-l4',
            count: 1,
            gpu_driver_installation_config: { gpu_driver_version: 'LATEST' },
            gpu_sharing_config: { gpu_sharing_strategy: 'TIME_SHARING', max_shared_clients_per_gpu: 4 },
          },
        ],
        labels: { 'mlstack.io/pool': 'l4', 'mlstack.io/gpu-type': 'nvidia-l4', 'mlstack.io/gpu': 'true' },
        workload_metadata_config: { mode: 'GKE_METADATA' },
      },
    });
    expect(pools.a100).toMatchObject({
      node_locations: ['us-central1-a', 'us-central1-c'],
      node_config: {
        machine_type: 'a2-ultragpu-2g',
        guest_accelerator: [{ type: 'nvidia-a100-80gb', count: 2, gpu_partition_size: '1g.10gb' }],
        // GKE adds nvidia.com/gpu=present:NoSchedule itself; only the extra taint is declared.
        taint: [{ key: 'team', value: 'research', effect: 'NO_EXECUTE' }],
      },
    });
    expect((pools.l4.node_config as Record<string, unknown>).taint).toBeUndefined();
    expect(pools.system).toMatchObject({
      node_config: { machine_type: 'e2-standard-4' },
      autoscaling: { total_min_node_count: 2 },
    });
  });

  it('relies on GKE for the device plugin: no device plugin manifests', () => {
    expect(cluster.manifests.size).toBe(0);
  });

  it('gives private nodes egress through Cloud NAT and logs subnet flows', () => {
    expect(Testing.toHaveResource(text, 'google_compute_router_nat')).toBe(true);
    expect(onlyResource(json, 'google_compute_subnetwork')).toMatchObject({
      private_ip_google_access: true,
      log_config: expect.objectContaining({ aggregation_interval: 'INTERVAL_5_SEC' }),
    });
  });

  it('outputs the kubeconfig command', () => {
    expect(JSON.stringify(json.output)).toContain(
      'gcloud container clusters get-credentials ml --region us-central1 --project acme-ml-test',
    );
  });

  it('matches the snapshot', () => {
    expect(json).toMatchSnapshot();
  });
});

describe('GcpMlStack', () => {
  it('fails when project or region is not valid', () => {
    expect(
      () => new GcpMlStack(Testing.app(), 's', { project: 'My Project', region: 'us-central1' }),
    ).toThrow(/'project' \("My Project"\) is not a Google Cloud project id/);
    expect(() => new GcpMlStack(Testing.app(), 's', { project: 'acme-ml', region: 'us-central1-a' })).toThrow(
      /'region' \("us-central1-a"\) is not a Google Cloud region/,
    );
  });

  it('opens a public endpoint only to the authorized networks', () => {
    const stack = gcpStack();
    new GpuCluster(stack, 'Gpus', {
      privateEndpoint: false,
      authorizedNetworks: ['203.0.113.0/24'],
      gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }],
    });
    const c = onlyResource(terraformJson(stack).json, 'google_container_cluster');
    expect(c).toMatchObject({
      private_cluster_config: { enable_private_endpoint: false, enable_private_nodes: true },
      master_authorized_networks_config: { cidr_blocks: [{ cidr_block: '203.0.113.0/24' }] },
    });
  });
});
