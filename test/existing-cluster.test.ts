// GpuCluster on a cluster the user already runs (EKS, GKE, AKS): mlstack creates no cluster, adds its pools and every
// construct's resources to that one, binds identities to its OIDC issuer / Pod Identity, and says at synth (or, for
// what only the cloud knows, at plan through Terraform postconditions) what an imported cluster cannot do.
import * as path from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import { DcgmMonitoring } from '../constructs/dcgm-monitoring';
import { DriftPipeline } from '../constructs/drift-pipeline';
import { GpuCluster } from '../constructs/gpu-cluster';
import { MlflowTracking } from '../constructs/mlflow-tracking';
import { ServingRuntime, TritonService } from '../constructs/triton-service';
import { ServingModel } from '../src/serving/model-repository';
import { AlertDestination } from '../src/monitoring/destinations';
import { GpuType } from '../src/spec/gpu';
import { KubernetesVersion } from '../src/spec/cluster';
import { AwsMlStack, EksCluster, EksExistingCluster, EksNetwork } from '../stacks/aws';
import { GkeCluster, GkeExistingCluster, GkeNetwork } from '../stacks/gcp';
import { AksCluster, AksExistingCluster, AksNetwork } from '../stacks/azure';
import type { Construct } from 'constructs';
import { awsApp, azureStack, gcpStack, terraformJson } from './support/synth';

const CLASSIFIER = path.join(__dirname, '..', 'examples', 'models', 'classifier.onnx');
const AKS_ID =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/platform-rg/providers/Microsoft.ContainerService/managedClusters/prod';

/** Every construct that runs on a cluster, on `cluster`. */
function workloads(stack: Construct, cluster: GpuCluster, gpu: GpuType): void {
  new TritonService(stack, 'Classifier', {
    cluster,
    runtime: ServingRuntime.TRITON,
    models: [ServingModel.fromOnnxFile(CLASSIFIER, { name: 'classifier', maxBatchSize: 8 })],
    gpu: { type: gpu },
    replicas: { min: 2, max: 3 },
    autoscaling: { queueTime: { targetMilliseconds: 5 } },
    serviceMonitor: false,
  });
  new MlflowTracking(stack, 'Mlflow', { cluster, production: true });
  new DcgmMonitoring(stack, 'GpuMonitoring', { cluster });
  new DriftPipeline(stack, 'Drift', {
    cluster,
    schedule: '0 * * * *',
    reference: 'reference.csv',
    current: 'current.csv',
    image: 'registry.example.com/mlstack-server:0.1.0',
  });
}

const alerts = [AlertDestination.email('ml-oncall@example.com')];

/** A plain Stack with the VPC an existing EKS cluster runs in. */
function awsExisting(stackProps: { kubectl?: boolean } = {}) {
  const app = awsApp();
  const stack = stackProps.kubectl
    ? new AwsMlStack(app, 'existing', {
        env: { region: 'eu-west-1', account: '123456789012' },
        kubectlLayer: (scope) =>
          lambda.LayerVersion.fromLayerVersionArn(
            scope,
            'Kubectl',
            'arn:aws:lambda:eu-west-1:123456789012:layer:kubectl:1',
          ),
      })
    : new Stack(app, 'existing', { env: { region: 'eu-west-1', account: '123456789012' } });
  const vpc = new ec2.Vpc(stack, 'TheirVpc', {
    ipAddresses: ec2.IpAddresses.cidr('10.50.0.0/16'),
    maxAzs: 2,
    subnetConfiguration: [
      { name: 'edge', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
      { name: 'apps', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 20 },
    ],
    flowLogs: { all: { trafficType: ec2.FlowLogTrafficType.REJECT } },
  });
  return { app, stack, vpc };
}

const eksProd = (extra: Partial<Parameters<typeof EksExistingCluster.fromAttributes>[0]> = {}) =>
  EksExistingCluster.fromAttributes({
    clusterName: 'prod',
    clusterSecurityGroupId: 'sg-0123456789abcdef0',
    podIdentityAgent: 'installed',
    ...extra,
  });

describe('AWS: EksExistingCluster', () => {
  it('adds pools, identities, the scraper and the database to the imported cluster; creates no cluster', () => {
    const { app, stack, vpc } = awsExisting();
    const cluster = new GpuCluster(stack, 'Gpus', {
      existingCluster: eksProd(),
      network: EksNetwork.fromVpc(vpc),
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, maxNodes: 4 }],
      alerts,
    });
    workloads(stack, cluster, GpuType.NVIDIA_L4);
    app.synth();
    const t = Template.fromStack(stack);
    expect(cluster.clusterName).toBe('prod');
    t.resourceCountIs('AWS::EKS::Cluster', 0);
    expect(Object.keys(t.findResources('AWS::KMS::Key')).every((k) => !/SecretsKey/.test(k))).toBe(true);
    t.resourceCountIs('AWS::EKS::Addon', 0);
    // The cluster's CNI is the user's: synth says what enforcing mlstack's NetworkPolicies needs.
    expect(
      Annotations.fromStack(stack)
        .findWarning('*', Match.stringLikeRegexp('enableNetworkPolicy'))
        .map((w) => String(w.entry.data)),
    ).toHaveLength(1);
    // The system pool's node group joins the cluster by name, in the VPC's private subnets.
    const privateIds = vpc.privateSubnets.map((s) => stack.resolve(s.subnetId));
    const groups = Object.values(t.findResources('AWS::EKS::Nodegroup')) as {
      Properties: { ClusterName: unknown; Subnets: unknown[] };
    }[];
    expect(groups.length).toBe(1);
    for (const g of groups) {
      expect(g.Properties.ClusterName).toBe('prod');
      expect(g.Properties.Subnets).toEqual(privateIds);
    }
    // Every workload identity (Karpenter, KEDA, the model store reader, MLflow, drift) is bound on this cluster.
    const associations = Object.values(t.findResources('AWS::EKS::PodIdentityAssociation')) as {
      Properties: { ClusterName: unknown; Namespace: string; ServiceAccount: string };
    }[];
    expect(associations.length).toBeGreaterThanOrEqual(5);
    for (const a of associations) expect(a.Properties.ClusterName).toBe('prod');
    expect(associations.map((a) => a.Properties.Namespace)).toEqual(
      expect.arrayContaining(['kube-system', 'keda', 'classifier', 'mlflow', 'drift']),
    );
    // Karpenter's node role and the scraper get access entries on it; the scraper runs in its security group.
    for (const e of Object.values(t.findResources('AWS::EKS::AccessEntry'))) {
      expect((e as { Properties: { ClusterName: unknown } }).Properties.ClusterName).toBe('prod');
    }
    const scraper = Object.values(t.findResources('AWS::APS::Scraper'))[0] as {
      Properties: { Source: { EksConfiguration: { ClusterArn: unknown; SecurityGroupIds: unknown[] } } };
    };
    expect(JSON.stringify(scraper.Properties.Source.EksConfiguration.ClusterArn)).toContain(':cluster/prod');
    expect(scraper.Properties.Source.EksConfiguration.SecurityGroupIds).toEqual(['sg-0123456789abcdef0']);
    // The database admits the cluster security group only.
    t.hasResourceProperties('AWS::EC2::SecurityGroup', {
      SecurityGroupIngress: [{ SourceSecurityGroupId: 'sg-0123456789abcdef0', FromPort: 5432 }],
    });
    // The Karpenter chart and pools name the imported cluster.
    const files = cluster.outputFiles();
    const chart = files.find((f) => f.fileName.includes('karpenter') && f.fileName.endsWith('values.yaml'));
    expect(chart?.content).toContain('clusterName: prod');
    const nodeClass = files.find((f) => /^kind: EC2NodeClass/m.test(f.content));
    expect(nodeClass?.content).toContain('aws:eks:cluster-name: prod');
    // No escape hatch to a Cluster that is not there.
    expect(() => EksCluster.of(cluster).eksCluster).toThrow(
      /prod is imported.*EksCluster.of\(cluster\).cluster/,
    );
    expect(EksCluster.of(cluster).secretsKey).toBeUndefined();
  });

  it("adds the Pod Identity agent when told to, and with a kubectl layer applies the objects through a provider of its own or the user's role", () => {
    const { app, stack, vpc } = awsExisting({ kubectl: true });
    const cluster = new GpuCluster(stack, 'Gpus', {
      existingCluster: eksProd({ podIdentityAgent: 'install' }),
      network: EksNetwork.fromVpc(vpc),
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
    });
    app.synth();
    const t = Template.fromStack(stack);
    t.hasResourceProperties('AWS::EKS::Addon', { AddonName: 'eks-pod-identity-agent', ClusterName: 'prod' });
    // The provider's role gets cluster-admin through an access entry; manifests go through the provider.
    const admin = Object.values(t.findResources('AWS::EKS::AccessEntry'))
      .map((e) => JSON.stringify(e))
      .filter((e) => e.includes('cluster-access-policy/AmazonEKSClusterAdminPolicy'));
    expect(admin.length).toBe(1);
    expect(admin[0]).toContain('"ClusterName":"prod"');
    expect(Object.keys(t.findResources('Custom::AWSCDK-EKS-KubernetesResource')).length).toBeGreaterThan(0);
    expect(cluster.clusterName).toBe('prod');

    const withRole = awsExisting({ kubectl: true });
    new GpuCluster(withRole.stack, 'Gpus', {
      existingCluster: eksProd({ kubectlRoleArn: 'arn:aws:iam::123456789012:role/eks-admin' }),
      network: EksNetwork.fromVpc(withRole.vpc),
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
    });
    withRole.app.synth();
    const t2 = Template.fromStack(withRole.stack);
    // The user's role already administers the cluster: no access entry for it, the handler assumes it.
    const entries = Object.values(t2.findResources('AWS::EKS::AccessEntry')).map((e) => JSON.stringify(e));
    expect(entries.some((e) => e.includes('AmazonEKSClusterAdminPolicy'))).toBe(false);
    const fns = Object.values(t2.findResources('AWS::Lambda::Function')).map((f) => JSON.stringify(f));
    expect(fns.some((f) => f.includes('arn:aws:iam::123456789012:role/eks-admin'))).toBe(true);
  });

  it('says what an imported cluster needs and refuses what it cannot take, naming the prop', () => {
    const { stack } = awsExisting();
    expect(
      () =>
        new GpuCluster(stack, 'NoVpc', {
          existingCluster: eksProd(),
          gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
        }),
    ).toThrow(/an imported cluster \(EKS cluster prod \(imported\)\) needs 'network'.*EksNetwork.fromVpc/);
    for (const [prop, value] of [
      ['version', KubernetesVersion.V1_33],
      ['privateEndpoint', false],
      ['authorizedNetworks', ['203.0.113.0/24']],
    ] as const) {
      expect(
        () =>
          new GpuCluster(new Stack(awsApp(), 's'), 'Gpus', {
            existingCluster: eksProd(),
            gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
            [prop]: value,
          }),
      ).toThrow(new RegExp(`'${prop}' .* cannot be set with existingCluster.*Remove '${prop}'`));
    }
    expect(
      () =>
        new GpuCluster(new Stack(awsApp(), 's'), 'Gpus', {
          existingCluster: eksProd(),
          clusterName: 'other',
          gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
        }),
    ).toThrow(/'clusterName' \("other"\) differs from the existing cluster's name 'prod'/);
    expect(
      () =>
        new GpuCluster(new Stack(awsApp(), 's'), 'Gpus', {
          existingCluster: GkeExistingCluster.fromName({ name: 'prod', location: 'us-central1' }),
          gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
        }),
    ).toThrow(
      /'existingCluster' \("GKE cluster prod .*"\) is not a cluster on AWS \(EKS\).*EksExistingCluster.fromAttributes/,
    );
    expect(() => eksProd({ clusterSecurityGroupId: 'prod-sg' })).toThrow(
      /'clusterSecurityGroupId' \("prod-sg"\) is not a security group id/,
    );
    expect(() => eksProd({ podIdentityAgent: 'maybe' as 'installed' })).toThrow(
      /'podIdentityAgent' \("maybe"\) must be 'installed' or 'install'/,
    );
    expect(() => eksProd({ kubectlRoleArn: 'eks-admin' })).toThrow(
      /'kubectlRoleArn' .* is not an IAM role ARN/,
    );
  });
});

describe('Google Cloud: GkeExistingCluster', () => {
  it('adds node pools and identities to the imported cluster, checked at plan by postconditions; creates no cluster', () => {
    const stack = gcpStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      existingCluster: GkeExistingCluster.fromName({ name: 'prod', location: 'us-central1-a' }),
      network: GkeNetwork.fromNetwork({
        network: 'projects/acme-ml-test/global/networks/shared',
        subnetwork: 'projects/acme-ml-test/regions/us-central1/subnetworks/gke',
        subnetworkCidr: '10.8.0.0/20',
        podsRange: 'gke-pods',
        servicesRange: 'gke-services',
        privateServicesAccess: 'existing',
      }),
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, maxNodes: 4 }],
      alerts,
    });
    workloads(stack, cluster, GpuType.NVIDIA_L4);
    const { json } = terraformJson(stack);
    for (const t of ['google_container_cluster', 'google_compute_network', 'google_kms_crypto_key']) {
      expect(json.resource[t], t).toBeUndefined();
    }
    const data = (json as unknown as { data: Record<string, Record<string, Record<string, unknown>>> }).data;
    const imported = Object.values(data.google_container_cluster)[0] as {
      name: string;
      location: string;
      project: string;
      lifecycle: { postcondition: { condition: string; error_message: string }[] };
    };
    expect(imported).toMatchObject({ name: 'prod', location: 'us-central1-a', project: 'acme-ml-test' });
    const conditions = imported.lifecycle.postcondition;
    expect(conditions.map((c) => c.condition)).toEqual([
      expect.stringContaining('workload_pool == "acme-ml-test.svc.id.goog"'),
      expect.stringContaining('managed_prometheus[0].enabled'),
    ]);
    expect(conditions[1].error_message).toContain(
      'gcloud container clusters update prod --location us-central1-a --enable-managed-prometheus',
    );
    // The system and GPU pools join it at its (zonal) location, by the data source's id.
    const pools = Object.values(json.resource.google_container_node_pool) as {
      name: string;
      cluster: string;
      location: string;
    }[];
    expect(pools.map((p) => p.name).sort()).toEqual(['l4', 'system']);
    for (const p of pools) {
      expect(p.cluster).toMatch(/^\$\{data\.google_container_cluster\.[\w]+\.id\}$/);
      expect(p.location).toBe('us-central1-a');
    }
    // Workload Identity bindings name the project's pool; the database uses the given network.
    const bindings = Object.values(json.resource.google_service_account_iam_member ?? {}) as {
      member: string;
    }[];
    expect(bindings.length).toBeGreaterThan(0);
    for (const b of bindings) expect(b.member).toMatch(/^serviceAccount:acme-ml-test\.svc\.id\.goog\[/);
    const sql = Object.values(json.resource.google_sql_database_instance)[0] as {
      settings: { ip_configuration: { private_network: string } };
    };
    expect(sql.settings.ip_configuration.private_network).toBe(
      'projects/acme-ml-test/global/networks/shared',
    );
    expect(json.resource.google_service_networking_connection).toBeUndefined();
    expect(() => GkeCluster.of(cluster).cluster).toThrow(/prod is imported/);
  });

  it("needs the network for a private database, and the cluster in the stack's region", () => {
    const stack = gcpStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      existingCluster: GkeExistingCluster.fromName({ name: 'prod', location: 'us-central1' }),
      gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
    });
    expect(() => new MlflowTracking(stack, 'Mlflow', { cluster, production: true })).toThrow(
      /private database .* next to an imported cluster needs the cluster's network: GpuCluster 'network: GkeNetwork.fromNetwork/,
    );
    expect(
      () =>
        new GpuCluster(gcpStack(), 'Gpus', {
          existingCluster: GkeExistingCluster.fromName({ name: 'prod', location: 'europe-west4' }),
          gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
        }),
    ).toThrow(/GKE cluster prod in europe-west4 \(imported\) is not in the stack's region us-central1/);
    expect(() => GkeExistingCluster.fromName({ name: 'Prod', location: 'us-central1' })).toThrow(
      /'name' \("Prod"\) is not a GKE cluster name/,
    );
    expect(() => GkeExistingCluster.fromName({ name: 'prod', location: 'central' })).toThrow(
      /'location' \("central"\) is not a Google Cloud region or zone/,
    );
  });
});

describe('Azure: AksExistingCluster', () => {
  it('adds user pools and federated identities to the imported cluster in a resource group of its own', () => {
    const stack = azureStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      existingCluster: AksExistingCluster.fromId(AKS_ID),
      network: AksNetwork.fromSubnet({
        subnetId:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks',
        databaseSubnetId:
          '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/db',
      }),
      gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 }, maxNodes: 4 }],
      alerts,
    });
    workloads(stack, cluster, GpuType.NVIDIA_T4);
    const { json } = terraformJson(stack);
    for (const t of [
      'azurerm_kubernetes_cluster',
      'azurerm_virtual_network',
      'azurerm_log_analytics_workspace',
    ]) {
      expect(json.resource[t], t).toBeUndefined();
    }
    const data = (json as unknown as { data: Record<string, Record<string, Record<string, unknown>>> }).data;
    const imported = Object.values(data.azurerm_kubernetes_cluster)[0] as {
      name: string;
      resource_group_name: string;
      lifecycle: { postcondition: { condition: string; error_message: string }[] };
    };
    expect(imported).toMatchObject({ name: 'prod', resource_group_name: 'platform-rg' });
    expect(imported.lifecycle.postcondition[0].condition).toBe('${self.oidc_issuer_enabled}');
    expect(imported.lifecycle.postcondition[0].error_message).toContain('--enable-oidc-issuer');
    expect(Object.values(json.resource.azurerm_resource_group).map((g) => g.name)).toEqual(['prod-mlstack']);
    // The system pool is a user pool next to the imported one; every pool joins the cluster and the subnet.
    const pools = Object.values(json.resource.azurerm_kubernetes_cluster_node_pool) as {
      name: string;
      mode: string;
      kubernetes_cluster_id: string;
      vnet_subnet_id: string;
    }[];
    expect(pools.map((p) => p.name).sort()).toEqual(['system', 't4']);
    for (const p of pools) {
      expect(p.mode).toBe('User');
      expect(p.kubernetes_cluster_id).toMatch(/^\$\{data\.azurerm_kubernetes_cluster\.\w+\.id\}$/);
      expect(p.vnet_subnet_id).toMatch(/subnets\/aks$/);
    }
    // Federated credentials trust the imported cluster's issuer.
    const creds = Object.values(json.resource.azurerm_federated_identity_credential) as { issuer: string }[];
    expect(creds.length).toBeGreaterThanOrEqual(4);
    for (const c of creds) {
      expect(c.issuer).toMatch(/^\$\{data\.azurerm_kubernetes_cluster\.\w+\.oidc_issuer_url\}$/);
    }
    // Metrics: the data collection rule is associated with the imported cluster.
    const association = Object.values(json.resource.azurerm_monitor_data_collection_rule_association)[0] as {
      target_resource_id: string;
    };
    expect(association.target_resource_id).toMatch(/^\$\{data\.azurerm_kubernetes_cluster\.\w+\.id\}$/);
    // What plan cannot check is said at synth.
    const warnings = stack.node
      .findAll()
      .flatMap((c) => c.node.metadata.filter((m) => m.type === 'mlstack:warning').map((m) => String(m.data)));
    expect(warnings.join('\n')).toMatch(/--enable-workload-identity/);
    expect(warnings.join('\n')).toMatch(/--enable-azure-monitor-metrics/);
    expect(() => AksCluster.of(cluster).cluster).toThrow(/prod is imported/);
  });

  it('says what an imported AKS cluster needs, naming the value', () => {
    const stack = azureStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      existingCluster: AksExistingCluster.fromId(AKS_ID),
      gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }],
    });
    // Without network, pools go where AKS puts them.
    const { json } = terraformJson(stack);
    for (const p of Object.values(json.resource.azurerm_kubernetes_cluster_node_pool)) {
      expect(p.vnet_subnet_id).toBeUndefined();
    }
    expect(() => new MlflowTracking(stack, 'Mlflow', { cluster, production: true })).toThrow(
      /private database .* next to an imported cluster needs the cluster's network.*databaseSubnetId/,
    );
    expect(() => AksExistingCluster.fromId('prod')).toThrow(
      /'id' \("prod"\) is not an AKS cluster resource id/,
    );
    expect(
      () =>
        new GpuCluster(azureStack(), 'Gpus', {
          existingCluster: AksExistingCluster.fromId(
            AKS_ID.replace(/^\/subscriptions\/0{8}/, '/subscriptions/11111111'),
          ),
          gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }],
        }),
    ).toThrow(/is in subscription 11111111-0000-0000-0000-000000000000, not the stack's/);
  });
});
