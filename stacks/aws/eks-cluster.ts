import * as path from 'node:path';
import { replaceFolder } from '../../src/synth/files';
import { attachCustomSynthesis, type CfnResource, CfnOutput, Lazy, Stack, Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct, type IConstruct } from 'constructs';
import type { HelmChartSpec } from '../../src/k8s/helm';
import type { KubernetesManifest } from '../../src/k8s/manifest';
import type { KubernetesClusterSpec, NodePoolSpec } from '../../src/spec/cluster';
import { MLAPP_CONTEXT, type ManifestFile } from '../../src/synth/output';
import type {
  KubernetesClusterCapability,
  NodePoolResult,
  ObjectStoreSpec,
  PostgresSpec,
  WorkloadIdentitySpec,
} from '../capabilities';
import { capabilityOf, poolByName } from '../private/capability-of';
import { validateAtSynth } from '../private/validation';
import { EksNodegroup } from './eks-nodegroup';
import { EksNetwork } from './eks-network';
import { EksExistingCluster, type EksExistingClusterAttributes } from './eks-existing-cluster';
import { Karpenter } from './karpenter';
import { kedaChart } from '../../src/k8s/keda';
import { withDeployTimeTokens } from './private/deploy-time';
import { AmpPrometheus } from './managed-prometheus';
import { acknowledgeEksFindings, acknowledgeKubectlProviderFindings } from './private/nag';
import { addWarning } from './private/warnings';
import { PodIdentity } from './pod-identity';
import { RdsPostgres } from './rds-postgres';
import { S3ObjectStore } from './s3-object-store';

/** The VPC range mlstack gives a cluster's VPC, written out so that NetworkPolicies can name it at synth. */
export const EKS_VPC_CIDR = '10.0.0.0/16';

/** Props of {@link EksCluster}. */
export interface EksClusterProps {
  /** The validated cluster. */
  readonly spec: KubernetesClusterSpec;
  /**
   * Availability zones of the VPC.
   * @default 3
   */
  readonly maxAzs?: number;
  /**
   * The kubectl Lambda layer: when given, `cdk deploy` applies the cluster's Kubernetes manifests.
   * @default - manifests are only written to the synth output
   */
  readonly kubectlLayer?: lambda.ILayerVersion;
}

/**
 * A GpuCluster on AWS: EKS (aws-eks-v2) with envelope encryption of secrets (a rotated KMS key), every control-plane
 * log type, the API endpoint private by default, EKS Pod Identity, in a VPC of its own (public and private subnets,
 * rejected flows logged), with a managed node group per pool. It is the GpuCluster's default child, so the
 * resources keep the logical ids they had when the GpuCluster made them itself; the VPC is the GpuCluster's child
 * `Vpc` (aws-cdk-lib writes construct paths into its Name tags).
 *
 * @example
 * // The aws-cdk-lib objects behind a GpuCluster:
 * const eksCluster = EksCluster.of(cluster).eksCluster;
 * eksCluster.grantAccess('Admins', adminRole.roleArn, [
 *   eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', { accessScopeType: eks.AccessScopeType.CLUSTER }),
 * ]);
 */
export class EksCluster extends Construct implements KubernetesClusterCapability {
  /**
   * The EksCluster of a GpuCluster (or the EksCluster itself).
   * @throws when the GpuCluster is not in an AwsMlStack
   */
  public static of(cluster: IConstruct): EksCluster {
    return capabilityOf(cluster, EksCluster, 'a GpuCluster of an AwsMlStack (EKS)');
  }

  /** The EKS cluster: the one mlstack made, or yours (imported) with `existingCluster`. */
  public readonly cluster: eks.ICluster;
  /** The cluster's VPC. */
  public readonly vpc: ec2.IVpc;
  /** The subnets of the nodes, the control plane's interfaces, the scraper and databases. */
  public readonly nodeSubnets: ec2.SubnetSelection;
  /** The KMS key that encrypts Kubernetes secrets (undefined for an imported cluster: its encryption is yours). */
  public readonly secretsKey?: kms.Key;
  /** @inheritdoc */
  public readonly clusterName: string;
  /** EKS does not install the NVIDIA device plugin: mlstack deploys it. */
  public readonly managesGpuDevicePlugin = false;
  /** The AWS managed scraper reaches pods from the VPC's addresses. */
  public get metricsCollectors(): { namespaces: string[]; cidrs: string[] } {
    return { namespaces: [], cidrs: [this.network ? this.network.cidr : EKS_VPC_CIDR] };
  }
  /** The user's network, when the cluster joins one. */
  private readonly network?: EksNetwork;
  private totalMaxNodes = 0;
  private readonly nodegroups = new Map<string, EksNodegroup>();
  private readonly chartResources: eks.HelmChart[] = [];
  private readonly manifestResources: eks.KubernetesManifest[] = [];
  private readonly tags: Readonly<Record<string, string>>;
  /** Karpenter, made with the first pool that can grow beyond its minimum. */
  public karpenter?: Karpenter;
  private readonly kubectl: boolean;
  private prometheus?: AmpPrometheus;

  constructor(scope: Construct, id: string, props: EksClusterProps) {
    super(scope, id);
    const spec = props.spec;
    this.clusterName = spec.name;
    this.tags = spec.tags;
    if (spec.existing && !spec.network) {
      throw new Error(
        `GpuCluster '${scope.node.path}': an imported cluster (${spec.existing.description}) needs 'network', the VPC it runs in: network: EksNetwork.fromVpc(ec2.Vpc.fromLookup(stack, 'Vpc', { vpcId }), { subnets }). Its node groups, Karpenter's nodes, the scraper and databases go in those subnets.`,
      );
    }
    if (spec.network) {
      this.network = EksNetwork.of(spec.network);
      this.vpc = this.network.vpc;
      const selected = this.network.selectFor(spec.name, 0);
      this.nodeSubnets = { subnets: selected.subnets };
      // Enough addresses for every pool at its maximum, pools added later included.
      validateAtSynth(this, () => this.network!.selectFor(spec.name, this.totalMaxNodes));
    } else {
      // Next to this construct, not under it: aws-cdk-lib names the VPC's resources (Name tags) by construct path.
      this.vpc = new ec2.Vpc(scope, 'Vpc', {
        ipAddresses: ec2.IpAddresses.cidr(EKS_VPC_CIDR),
        maxAzs: props.maxAzs ?? 3,
        subnetConfiguration: [
          { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
          { name: 'nodes', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 18 },
        ],
        flowLogs: {
          rejected: {
            destination: ec2.FlowLogDestination.toCloudWatchLogs(
              new logs.LogGroup(this, 'FlowLogs', { retention: logs.RetentionDays.ONE_MONTH }),
            ),
            trafficType: ec2.FlowLogTrafficType.REJECT,
          },
        },
      });
      this.nodeSubnets = { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS };
    }
    this.kubectl = props.kubectlLayer !== undefined;
    let installPodIdentityAgent = true;
    if (spec.existing) {
      const attrs = EksExistingCluster.of(spec.existing).attributes;
      installPodIdentityAgent = attrs.podIdentityAgent === 'install';
      this.cluster = this.importCluster(attrs, props.kubectlLayer);
    } else {
      this.secretsKey = new kms.Key(this, 'SecretsKey', {
        description: `Envelope encryption of Kubernetes secrets of EKS cluster ${spec.name}`,
        enableKeyRotation: true,
      });
      const endpointAccess = spec.privateEndpoint
        ? eks.EndpointAccess.PRIVATE
        : eks.EndpointAccess.PUBLIC_AND_PRIVATE.onlyFrom(...spec.authorizedNetworks);
      this.cluster = new eks.Cluster(this, 'Resource', {
        clusterName: spec.name,
        version: eks.KubernetesVersion.of(spec.version.version),
        vpc: this.vpc,
        vpcSubnets: [this.nodeSubnets],
        defaultCapacityType: eks.DefaultCapacityType.NODEGROUP,
        defaultCapacity: 0,
        secretsEncryptionKey: this.secretsKey,
        endpointAccess,
        clusterLogging: [
          eks.ClusterLoggingTypes.API,
          eks.ClusterLoggingTypes.AUDIT,
          eks.ClusterLoggingTypes.AUTHENTICATOR,
          eks.ClusterLoggingTypes.CONTROLLER_MANAGER,
          eks.ClusterLoggingTypes.SCHEDULER,
        ],
        ...(props.kubectlLayer ? { kubectlProviderOptions: { kubectlLayer: props.kubectlLayer } } : {}),
        tags: { ...spec.tags },
      });
    }
    for (const [k, v] of Object.entries(spec.tags)) Tags.of(scope).add(k, v);
    // NetworkPolicies (mlstack's default-deny and allows) are enforced on EKS only by the VPC CNI's network policy
    // agent, which is off unless the vpc-cni add-on is configured with enableNetworkPolicy (AWS docs, "Limit Pod
    // traffic with Kubernetes network policies"; VPC CNI 1.14+). EKS installs vpc-cni self-managed: the managed
    // add-on takes it over (OVERWRITE of the fields it sets).
    if (!spec.existing) {
      const cni = new eks.Addon(this, 'VpcCni', {
        cluster: this.cluster,
        addonName: 'vpc-cni',
        configurationValues: { enableNetworkPolicy: 'true' },
      });
      (cni.node.defaultChild as eks.CfnAddon).resolveConflicts = 'OVERWRITE';
    } else {
      addWarning(
        this,
        `${spec.existing.description}: mlstack's NetworkPolicies (default-deny per namespace, then what each workload needs) are enforced on EKS only when the cluster's vpc-cni add-on has enableNetworkPolicy: "true" (aws eks update-addon --cluster-name ${spec.name} --addon-name vpc-cni --configuration-values '{"enableNetworkPolicy":"true"}'); without it they are accepted and ignored.`,
      );
    }
    // Workload identity: EKS Pod Identity (IAM roles bound to Kubernetes service accounts).
    if (installPodIdentityAgent) {
      new eks.Addon(this, 'PodIdentityAgent', {
        cluster: this.cluster,
        addonName: 'eks-pod-identity-agent',
      });
    }

    new CfnOutput(this, 'ClusterName', { value: this.cluster.clusterName });
    new CfnOutput(this, 'KubeconfigCommand', {
      value: `aws eks update-kubeconfig --name ${this.cluster.clusterName} --region ${Stack.of(this).region}`,
    });

    acknowledgeEksFindings(this);
    if (props.kubectlLayer) acknowledgeKubectlProviderFindings(Stack.of(this), this);
  }

  /**
   * The EKS cluster mlstack made, as aws-cdk-lib's `Cluster` (for `grantAccess`, `addAutoScalingGroupCapacity` …).
   * @throws for an imported cluster, which has only {@link cluster}
   */
  public get eksCluster(): eks.Cluster {
    if (this.cluster instanceof eks.Cluster) return this.cluster;
    throw new Error(
      `${this.node.path}: cluster ${this.clusterName} is imported (existingCluster); use EksCluster.of(cluster).cluster (an eks.ICluster).`,
    );
  }

  /**
   * Your cluster as an `eks.ICluster`, in the network's VPC. With a kubectl layer, a kubectl provider applies the
   * cluster's objects through `kubectlRoleArn`, or through a role of its own given cluster-admin by an access entry.
   */
  private importCluster(
    attrs: EksExistingClusterAttributes,
    kubectlLayer: lambda.ILayerVersion | undefined,
  ): eks.ICluster {
    const base = {
      clusterName: attrs.clusterName,
      clusterSecurityGroupId: attrs.clusterSecurityGroupId,
      vpc: this.vpc,
    };
    if (!kubectlLayer) return eks.Cluster.fromClusterAttributes(this, 'Resource', base);
    // The provider needs the cluster (its ARN, VPC and security group) and the cluster needs the provider.
    const bare = eks.Cluster.fromClusterAttributes(this, 'Target', base);
    const role = attrs.kubectlRoleArn
      ? iam.Role.fromRoleArn(this, 'KubectlRole', attrs.kubectlRoleArn, { mutable: false })
      : undefined;
    const provider = new eks.KubectlProvider(this, 'KubectlProvider', {
      cluster: bare,
      kubectlLayer,
      ...(role ? { role } : {}),
      privateSubnets: this.vpc.selectSubnets(this.nodeSubnets).subnets,
    });
    if (!role) {
      new eks.AccessEntry(this, 'KubectlAccess', {
        cluster: bare,
        principal: provider.role!.roleArn,
        accessPolicies: [
          eks.AccessPolicy.fromAccessPolicyName('AmazonEKSClusterAdminPolicy', {
            accessScopeType: eks.AccessScopeType.CLUSTER,
          }),
        ],
      });
    }
    return eks.Cluster.fromClusterAttributes(this, 'Resource', { ...base, kubectlProvider: provider });
  }

  /**
   * The managed node group of a pool, by pool name: it holds the pool's `minNodes`; the nodes above are
   * Karpenter's ({@link karpenter}).
   * @throws for a pool with `minNodes: 0`, which has no node group
   */
  public nodegroup(pool: string): EksNodegroup {
    if (!this.nodegroups.has(pool) && this.karpenter?.pools.includes(pool)) {
      throw new Error(
        `${this.node.path}: pool '${pool}' has minNodes 0, so no managed node group: Karpenter launches its nodes (EksCluster.of(cluster).karpenter, NodePool mlstack-${pool}).`,
      );
    }
    return poolByName(this.nodegroups, this, pool);
  }

  /**
   * In an app other than `MlApp` (a plain aws-cdk-lib app run by `cdk synth`), writes the cluster's objects into
   * the cloud assembly as `k8s/<stack>/<cluster>/` at synth, and without a kubectl layer warns that `cdk deploy`
   * does not apply them.
   */
  public attachManifestFiles(files: () => readonly ManifestFile[]): void {
    if (this.node.tryGetContext(MLAPP_CONTEXT)) return;
    const stack = Stack.of(this);
    const folder = path.join('k8s', stack.stackName, this.clusterName);
    attachCustomSynthesis(this, {
      onSynthesize: (session) => replaceFolder(path.join(session.outdir, folder), files()),
    });
    if (!this.kubectl) {
      addWarning(
        this.node.scope ?? this,
        `The Kubernetes objects of cluster ${this.clusterName} are written to <cloud assembly>/${folder}/ (e.g. cdk.out/${folder}/) and not applied by cdk deploy: apply them with 'kubectl apply -f', or give the AwsMlStack a kubectlLayer.`,
      );
    }
  }

  /**
   * A pool on EKS: a managed node group of its `minNodes` (which then never scale away), and Karpenter for the
   * rest up to `maxNodes`, so that a pool at zero comes up when a pod asks for it.
   */
  public addNodePool(pool: NodePoolSpec): NodePoolResult {
    this.totalMaxNodes += pool.maxNodes;
    if (pool.minNodes > 0) {
      this.nodegroups.set(
        pool.name,
        new EksNodegroup(this, `Pool-${pool.name}`, {
          cluster: this.cluster,
          clusterName: this.clusterName,
          pool,
          fixedSize: pool.minNodes,
          subnets: this.nodeSubnets,
        }),
      );
    }
    if (pool.maxNodes <= pool.minNodes) return { manifests: [], charts: [] };
    const first = this.karpenter === undefined;
    this.karpenter ??= new Karpenter(this, 'Karpenter', {
      cluster: this.cluster,
      clusterName: this.clusterName,
      subnets: this.vpc.selectSubnets(this.nodeSubnets).subnets,
      tags: this.tags,
      // The controller runs on the managed node group (never on a node it launches), one replica a node.
      controllerReplicas: Math.min(
        2,
        [...this.nodegroups.values()].find((n) => n.pool.role === 'system')?.pool.minNodes ?? 1,
      ),
    });
    return {
      autoscaler: `Karpenter NodePool mlstack-${pool.name} (${pool.maxNodes - pool.minNodes} nodes above the minimum)`,
      manifests: this.karpenter.poolObjects(pool),
      charts: first ? [this.karpenter.chart] : [],
    };
  }

  /**
   * With a kubectl layer, `cdk deploy` applies `manifests` through the EKS kubectl provider, rendered at synth and
   * pruned by a label as aws-eks-v2 prunes (objects dropped from the group are deleted).
   */
  public deployManifests(id: string, manifests: () => readonly KubernetesManifest[]): void {
    if (!this.kubectl) return;
    const resource: eks.KubernetesManifest = new eks.KubernetesManifest(this, `Manifest-${id}`, {
      cluster: this.cluster,
      // A token, rendered at synth, so that objects that depend on constructs declared later are complete.
      manifest: [] as Record<string, unknown>[],
      overwrite: true,
      prune: false,
    });
    // A chart's CRDs (Karpenter's NodePool, KEDA's ScaledObject) must exist before objects of those kinds.
    for (const chart of this.chartResources) resource.node.addDependency(chart);
    this.manifestResources.push(resource);
    const pruneLabel = `aws.cdk.eks/prune-${resource.node.addr}`;
    const cfn = resource.node.defaultChild as CfnResource;
    cfn.addPropertyOverride(
      'Manifest',
      Lazy.string({
        produce: () =>
          Stack.of(this).toJsonString(
            JSON.parse(
              withDeployTimeTokens(
                Stack.of(this),
                JSON.stringify(
                  manifests().map((m) => ({
                    ...m,
                    metadata: { ...m.metadata, labels: { [pruneLabel]: '', ...(m.metadata.labels ?? {}) } },
                  })),
                ),
              ),
            ),
          ),
      }),
    );
    cfn.addPropertyOverride('PruneLabel', pruneLabel);
  }

  /** With a kubectl layer, `cdk deploy` installs the chart through the EKS kubectl provider. */
  public deployHelmChart(id: string, chart: HelmChartSpec): void {
    if (!this.kubectl) return;
    const resource = new eks.HelmChart(this, `Chart-${id}`, {
      cluster: this.cluster,
      release: chart.release,
      chart: chart.chart,
      repository: chart.repository,
      version: chart.version,
      namespace: chart.namespace,
      createNamespace: true,
      values: JSON.parse(withDeployTimeTokens(Stack.of(this), JSON.stringify(chart.values))) as Record<
        string,
        unknown
      >,
      wait: true,
    });
    for (const manifest of this.manifestResources) manifest.node.addDependency(resource);
    this.chartResources.push(resource);
  }

  /** @inheritdoc */
  public addObjectStore(scope: Construct, id: string, spec: ObjectStoreSpec): S3ObjectStore {
    return new S3ObjectStore(scope, id, spec);
  }

  /** @inheritdoc */
  public addWorkloadIdentity(scope: Construct, id: string, spec: WorkloadIdentitySpec): PodIdentity {
    return new PodIdentity(scope, id, { ...spec, cluster: this.cluster });
  }

  /** @inheritdoc */
  public addPostgres(scope: Construct, id: string, spec: PostgresSpec): RdsPostgres {
    return new RdsPostgres(scope, id, {
      ...spec,
      vpc: this.vpc,
      privateSubnets: this.nodeSubnets,
      clusterSecurityGroupId: this.cluster.clusterSecurityGroupId,
    });
  }

  /** KEDA's operator acts as an IAM role through EKS Pod Identity; the chart needs nothing for it. */
  public kedaChart(): HelmChartSpec {
    return kedaChart({});
  }

  /** Amazon Managed Service for Prometheus for this cluster, made on first use. */
  public managedPrometheus(): AmpPrometheus {
    this.prometheus ??= new AmpPrometheus(this, 'PrometheusWorkspace', {
      cluster: this.cluster,
      vpc: this.vpc,
      subnets: this.nodeSubnets,
      clusterName: this.clusterName,
    });
    return this.prometheus;
  }
}
