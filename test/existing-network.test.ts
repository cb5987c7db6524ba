// GpuCluster on a network the user already has: an ec2.IVpc (+ subnet selection) on AWS, a network/subnetwork with
// secondary ranges on Google Cloud, a VNet subnet on Azure. mlstack then creates no second network, puts nodes,
// databases and scrapers on the given one, and checks at synth what it can (public subnets, zones, addresses).
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import { GoogleProvider } from '@cdktf/provider-google/lib/provider';
import { ComputeNetwork } from '@cdktf/provider-google/lib/compute-network';
import { ComputeSubnetwork } from '@cdktf/provider-google/lib/compute-subnetwork';
import { TerraformStack, Testing } from 'cdktf';
import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { MlflowTracking } from '../constructs/mlflow-tracking';
import { GpuType } from '../src/spec/gpu';
import { EksNetwork } from '../stacks/aws';
import { GkeNetwork } from '../stacks/gcp';
import { AksNetwork } from '../stacks/azure';
import { awsApp, azureStack, gcpStack, terraformJson, onlyResource } from './support/synth';

const pools = [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, maxNodes: 4 }];

/** A plain Stack with the user's own VPC: two zones, public and private subnets. */
function awsWithVpc(subnetMask = 20) {
  const app = awsApp();
  const stack = new Stack(app, 'existing', { env: { region: 'eu-west-1', account: '123456789012' } });
  const vpc = new ec2.Vpc(stack, 'TheirVpc', {
    ipAddresses: ec2.IpAddresses.cidr('10.50.0.0/16'),
    maxAzs: 2,
    subnetConfiguration: [
      { name: 'edge', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: 'apps', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: subnetMask },
    ],
    flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
  });
  return { app, stack, vpc };
}

describe('AWS: EksNetwork.fromVpc', () => {
  it('puts the cluster, its pools, Karpenter, the AMP scraper and the database in the VPC; no second VPC', () => {
    const { app, stack, vpc } = awsWithVpc();
    const cluster = new GpuCluster(stack, 'Gpus', {
      network: EksNetwork.fromVpc(vpc),
      gpuPools: [...pools, { name: 't4', gpu: { type: GpuType.NVIDIA_T4 }, minNodes: 0, maxNodes: 2 }],
    });
    new MlflowTracking(stack, 'Mlflow', { cluster, production: true });
    app.synth();
    const t = Template.fromStack(stack);
    t.resourceCountIs('AWS::EC2::VPC', 1);
    const privateIds = vpc.privateSubnets.map((s) => stack.resolve(s.subnetId));
    const publicIds = vpc.publicSubnets.map((s) => stack.resolve(s.subnetId));
    // The cluster's interfaces.
    const eksCluster = Object.values(t.findResources('AWS::EKS::Cluster'))[0] as {
      Properties: { ResourcesVpcConfig: { SubnetIds: unknown[] } };
    };
    expect(eksCluster.Properties.ResourcesVpcConfig.SubnetIds).toEqual(privateIds);
    // Node groups, the database's subnet group and the AMP scraper: private subnets only.
    for (const ng of Object.values(t.findResources('AWS::EKS::Nodegroup'))) {
      expect((ng as { Properties: { Subnets: unknown[] } }).Properties.Subnets).toEqual(privateIds);
    }
    const dbSubnets = Object.values(t.findResources('AWS::RDS::DBSubnetGroup'))[0] as {
      Properties: { SubnetIds: unknown[] };
    };
    expect(dbSubnets.Properties.SubnetIds).toEqual(privateIds);
    for (const s of Object.values(t.findResources('AWS::APS::Scraper'))) {
      const ids = (s as { Properties: { Source: { EksConfiguration: { SubnetIds: unknown[] } } } }).Properties
        .Source.EksConfiguration.SubnetIds;
      expect(ids).toEqual(privateIds);
      for (const p of publicIds) expect(ids).not.toContainEqual(p);
    }
    // Karpenter discovers the private subnets by tag.
    for (const subnet of vpc.privateSubnets) {
      const props = t.toJSON().Resources[stack.getLogicalId(subnet.node.defaultChild as ec2.CfnSubnet)]
        .Properties as { Tags: { Key: string; Value: string }[] };
      expect(props.Tags).toContainEqual({ Key: 'karpenter.sh/discovery', Value: cluster.clusterName });
    }
    for (const subnet of vpc.publicSubnets) {
      const props = t.toJSON().Resources[stack.getLogicalId(subnet.node.defaultChild as ec2.CfnSubnet)]
        .Properties as { Tags: { Key: string }[] };
      expect(props.Tags.map((x) => x.Key)).not.toContain('karpenter.sh/discovery');
    }
    // NetworkPolicies admit the AMP scraper from the VPC's own CIDR.
    expect(cluster.metricsCollectors.cidrs).toEqual(['10.50.0.0/16']);
  });

  it('names imported subnets by id in the EC2NodeClass (they cannot be tagged)', () => {
    const app = awsApp();
    const stack = new Stack(app, 'existing', { env: { region: 'eu-west-1', account: '123456789012' } });
    const vpc = ec2.Vpc.fromVpcAttributes(stack, 'Imported', {
      vpcId: 'vpc-0123456789abcdef0',
      vpcCidrBlock: '10.60.0.0/16',
      availabilityZones: ['eu-west-1a', 'eu-west-1b'],
      privateSubnetIds: ['subnet-0123456789abcdef0', 'subnet-0fedcba9876543210'],
      privateSubnetIpv4CidrBlocks: ['10.60.0.0/19', '10.60.32.0/19'],
    });
    const cluster = new GpuCluster(stack, 'Gpus', {
      network: EksNetwork.fromVpc(vpc),
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, minNodes: 0, maxNodes: 3 }],
    });
    app.synth();
    const nodeClass = cluster
      .outputFiles()
      .map((f) => f.content)
      .find((c) => c.includes('kind: EC2NodeClass'));
    expect(nodeClass).toBeDefined();
    expect(nodeClass).toContain('id: subnet-0123456789abcdef0');
    expect(nodeClass).toContain('id: subnet-0fedcba9876543210');
    expect(nodeClass).not.toContain('karpenter.sh/discovery');
    Template.fromStack(stack).resourceCountIs('AWS::EC2::VPC', 0);
  });

  it('refuses public subnets, one zone, and too few addresses for maxNodes, naming the fix', () => {
    {
      const { stack, vpc } = awsWithVpc();
      expect(
        () =>
          new GpuCluster(stack, 'Gpus', {
            network: EksNetwork.fromVpc(vpc, { subnets: { subnetType: ec2.SubnetType.PUBLIC } }),
            gpuPools: pools,
          }),
      ).toThrow(/include 2 public subnet\(s\); nodes belong in private subnets/);
    }
    {
      const { stack, vpc } = awsWithVpc();
      expect(
        () =>
          new GpuCluster(stack, 'Gpus', {
            network: EksNetwork.fromVpc(vpc, { subnets: { availabilityZones: [vpc.availabilityZones[0]] } }),
            gpuPools: pools,
          }),
      ).toThrow(/in 1 availability zone\(s\); EKS needs subnets in at least two/);
    }
    {
      // Two /26 subnets: 118 addresses, while 8 nodes (2 system, 6 GPU) need about 256.
      const { app, stack, vpc } = awsWithVpc(26);
      new GpuCluster(stack, 'Gpus', {
        network: EksNetwork.fromVpc(vpc),
        gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, maxNodes: 6 }],
      });
      expect(() => app.synth()).toThrow(
        /hold 118 addresses; \d+ nodes at most need about \d+ .*lower the pools' maxNodes/,
      );
    }
  });
});

describe('Google Cloud: GkeNetwork.fromNetwork', () => {
  const shared = {
    network: 'projects/acme-net/global/networks/shared',
    subnetwork: 'projects/acme-net/regions/us-central1/subnetworks/gke',
    subnetworkCidr: '10.8.0.0/20',
    podsRange: 'gke-pods',
    servicesRange: 'gke-services',
  };

  it('joins the network and its ranges; makes no network, subnetwork, router or NAT', () => {
    const stack = gcpStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      network: GkeNetwork.fromNetwork(shared),
      gpuPools: pools,
    });
    new MlflowTracking(stack, 'Mlflow', { cluster, production: true });
    const { json } = terraformJson(stack);
    for (const type of [
      'google_compute_network',
      'google_compute_subnetwork',
      'google_compute_router',
      'google_compute_router_nat',
    ]) {
      expect(json.resource[type], type).toBeUndefined();
    }
    const gke = onlyResource(json, 'google_container_cluster') as {
      network: string;
      subnetwork: string;
      ip_allocation_policy: Record<string, string>;
    };
    expect(gke.network).toBe(shared.network);
    expect(gke.subnetwork).toBe(shared.subnetwork);
    expect(gke.ip_allocation_policy).toMatchObject({
      cluster_secondary_range_name: 'gke-pods',
      services_secondary_range_name: 'gke-services',
    });
    const sql = onlyResource(json, 'google_sql_database_instance') as {
      settings: { ip_configuration: { private_network: string } };
    };
    expect(sql.settings.ip_configuration.private_network).toBe(shared.network);
    // Private services access is made on the user's network when the database needs it …
    expect(onlyResource(json, 'google_service_networking_connection')).toMatchObject({
      network: shared.network,
    });
  });

  it("… and not when the network has it ('existing')", () => {
    const stack = gcpStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      network: GkeNetwork.fromNetwork({ ...shared, privateServicesAccess: 'existing' }),
      gpuPools: pools,
    });
    new MlflowTracking(stack, 'Mlflow', { cluster, production: true });
    const { json } = terraformJson(stack);
    expect(json.resource.google_service_networking_connection).toBeUndefined();
    expect(json.resource.google_compute_global_address).toBeUndefined();
  });

  it("takes a network resource of the user's stack, by id", () => {
    const stack = new TerraformStack(Testing.app(), 'existing');
    new GoogleProvider(stack, 'google', { project: 'acme-net', region: 'us-central1' });
    const net = new ComputeNetwork(stack, 'Net', { name: 'shared', autoCreateSubnetworks: false });
    const sub = new ComputeSubnetwork(stack, 'Sub', {
      name: 'gke',
      network: net.id,
      ipCidrRange: '10.8.0.0/20',
      secondaryIpRange: [
        { rangeName: 'pods', ipCidrRange: '10.64.0.0/14' },
        { rangeName: 'services', ipCidrRange: '10.68.0.0/20' },
      ],
    });
    new GpuCluster(stack, 'Gpus', {
      network: GkeNetwork.fromNetwork({
        network: net.id,
        subnetwork: sub.id,
        subnetworkCidr: '10.8.0.0/20',
        podsRange: 'pods',
        servicesRange: 'services',
      }),
      gpuPools: pools,
    });
    const json = JSON.parse(Testing.synth(stack, true)) as {
      resource: Record<string, Record<string, Record<string, unknown>>>;
    };
    expect(Object.keys(json.resource.google_compute_network)).toEqual(['Net']);
    expect(Object.values(json.resource.google_container_cluster)[0]).toMatchObject({
      network: '${google_compute_network.Net.id}',
      subnetwork: '${google_compute_subnetwork.Sub.id}',
    });
  });

  it('checks the pods range holds maxNodes, and that required fields are given', () => {
    const stack = gcpStack();
    new GpuCluster(stack, 'Gpus', {
      network: GkeNetwork.fromNetwork({ ...shared, podsRangeCidr: '10.64.0.0/22' }),
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, maxNodes: 10 }],
    });
    expect(() => terraformJson(stack)).toThrow(
      /pods range gke-pods \(10.64.0.0\/22\) holds 4 nodes .* the pools reach \d+/,
    );
    expect(() => GkeNetwork.fromNetwork({ ...shared, podsRange: '' })).toThrow(
      /'podsRange' \(""\) is required/,
    );
  });
});

describe('Azure: AksNetwork.fromSubnet', () => {
  const subnetId =
    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks';
  const azPools = [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 }, maxNodes: 4 }];
  const dbSubnetId = subnetId.replace(/aks$/, 'postgres');

  it('puts every pool on the subnet, lets AKS join it, and makes no VNet', () => {
    const stack = azureStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      network: AksNetwork.fromSubnet({
        subnetId,
        addressPrefix: '10.40.0.0/22',
        databaseSubnetId: dbSubnetId,
      }),
      gpuPools: azPools,
    });
    new MlflowTracking(stack, 'Mlflow', { cluster, production: true });
    const { json } = terraformJson(stack);
    expect(json.resource.azurerm_virtual_network).toBeUndefined();
    expect(json.resource.azurerm_subnet).toBeUndefined();
    const aks = onlyResource(json, 'azurerm_kubernetes_cluster') as {
      default_node_pool: { vnet_subnet_id: string };
    };
    expect(aks.default_node_pool.vnet_subnet_id).toBe(subnetId);
    for (const p of Object.values(json.resource.azurerm_kubernetes_cluster_node_pool)) {
      expect(p.vnet_subnet_id).toBe(subnetId);
    }
    const roles = Object.values(json.resource.azurerm_role_assignment).filter(
      (r) => r.role_definition_name === 'Network Contributor',
    );
    expect(roles).toEqual([expect.objectContaining({ scope: subnetId })]);
    expect(String(roles[0].principal_id)).toMatch(
      /azurerm_kubernetes_cluster\.\w+\.identity\[0\]\.principal_id/,
    );
    const pg = onlyResource(json, 'azurerm_postgresql_flexible_server');
    expect(pg.delegated_subnet_id).toBe(dbSubnetId);
    expect(onlyResource(json, 'azurerm_private_dns_zone_virtual_network_link')).toMatchObject({
      virtual_network_id: subnetId.replace(/\/subnets\/aks$/, ''),
    });
  });

  it('says what a private database needs in your network, and checks the subnet holds the pools', () => {
    const stack = azureStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      network: AksNetwork.fromSubnet({ subnetId }),
      gpuPools: azPools,
    });
    expect(() => new MlflowTracking(stack, 'Mlflow', { cluster, production: true })).toThrow(
      /needs 'databaseSubnetId' \(a subnet delegated to Microsoft.DBforPostgreSQL\/flexibleServers\)/,
    );
    const small = azureStack();
    new GpuCluster(small, 'Gpus', {
      network: AksNetwork.fromSubnet({ subnetId, addressPrefix: '10.40.0.0/28' }),
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_T4 }, maxNodes: 8 }],
    });
    expect(() => terraformJson(small)).toThrow(
      /subnet 10.40.0.0\/28 has 11 usable addresses; the pools reach \d+ nodes/,
    );
    expect(() => AksNetwork.fromSubnet({ subnetId, addressPrefix: '10.40.0.0' })).toThrow(/'addressPrefix'/);
  });
});

describe('a network of another cloud', () => {
  it('is a synth error naming the prop and the factory of this cloud', () => {
    expect(
      () =>
        new GpuCluster(gcpStack(), 'Gpus', {
          network: AksNetwork.fromSubnet({ subnetId: 'x' }),
          gpuPools: pools,
        }),
    ).toThrow(/network.*is not a GKE network.*GkeNetwork\.fromNetwork/s);
  });
});
