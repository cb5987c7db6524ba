import { Construct, type IConstruct } from 'constructs';
import {
  DEFAULT_GPU_TAINT,
  type GpuSharing,
  type ClusterNetwork,
  type ExistingCluster,
  type KubernetesClusterSpec,
  KubernetesVersion,
  NODE_LABELS,
  NodeSize,
  type NodePoolSpec,
  type Taint,
  TaintEffect,
} from '../src/spec/cluster';
import { Validator } from '../src/spec/errors';
import { type CloudProfile, cloudProfile } from '../src/spec/clouds';
import { type Cloud, type GpuType, resolveGpuInstance } from '../src/spec/gpu';
import { parseIpv4 } from '../src/spec/ipv4';
import { IMAGE_DIGEST, imagesOf, isPinned, parseImageReference, pinImages } from '../src/k8s/image';
import { ManifestSet, type KubernetesManifest, type ValidatableObject } from '../src/k8s/manifest';
import { chartFiles, type HelmChartSpec } from '../src/k8s/helm';
import { nvidiaDevicePlugin } from '../src/k8s/nvidia-device-plugin';
import type { ManifestFile } from '../src/synth/output';
import { checkDestinations } from './private/alerts';
import { KEDA, type PrometheusConnection, prometheusAuthentication } from '../src/k8s/keda';
import type { AlertDestination, AlertRoute } from '../src/monitoring/destinations';
import { Wiring } from '../src/monitoring/wiring';
import { SERVING_METRICS } from '../src/serving/manifests';
import {
  type KubernetesClusterCapability,
  type ManagedPrometheusCapability,
  MlStack,
  type ObjectStoreCapability,
  type ObjectStoreSpec,
  type PostgresCapability,
  type PostgresSpec,
  type WorkloadIdentityCapability,
  type WorkloadIdentitySpec,
} from '../stacks/ml-stack';

/** The GPUs of every node in a pool. */
export interface GpuSpec {
  /** The GPU model. */
  readonly type: GpuType;
  /**
   * GPUs per node. Must be a count some instance type of the stack's cloud holds.
   * @default 1
   */
  readonly count?: number;
}

/** The CPU pool that runs cluster add-ons and CPU workloads. */
export interface SystemPoolProps {
  /**
   * Node size, mapped to a general-purpose type on each cloud.
   * @default NodeSize.XLARGE
   */
  readonly size?: NodeSize;
  /**
   * Minimum nodes. At least 1: cluster add-ons (CoreDNS, the device plugin's scheduler peers) run here.
   * @default 2
   */
  readonly minNodes?: number;
  /**
   * Maximum nodes.
   * @default 4
   */
  readonly maxNodes?: number;
  /**
   * Root disk size of each node, in GiB.
   * @default 50
   */
  readonly diskSizeGiB?: number;
  /**
   * Zones, in the cloud's own notation (`us-east-1a`, `us-central1-a`, `1`).
   * @default - every zone of the region
   */
  readonly zones?: string[];
}

/** A pool of GPU nodes. */
export interface GpuPoolProps {
  /**
   * Pool name: lowercase letters and digits, starting with a letter, at most 12 characters (the strictest
   * cloud rule, AKS's, so that the same program synthesizes everywhere).
   */
  readonly name: string;
  /** The GPUs of each node. */
  readonly gpu: GpuSpec;
  /**
   * The cloud's instance type, when the smallest one with `gpu.count` GPUs is not what you want
   * (e.g. `g6.12xlarge` for more vCPUs). Must carry `gpu.type` and hold exactly `gpu.count` GPUs.
   * @default - the smallest type of the stack's cloud with `gpu.count` × `gpu.type`
   */
  readonly instanceType?: string;
  /**
   * Minimum nodes. 0 lets the pool scale to zero when no pod asks for a GPU.
   * @default 0
   */
  readonly minNodes?: number;
  /**
   * Maximum nodes.
   * @default 3
   */
  readonly maxNodes?: number;
  /**
   * Spot (AWS, Azure) or Spot VMs (GCP) instead of on-demand: much cheaper, can be reclaimed at any time.
   * @default false
   */
  readonly spot?: boolean;
  /**
   * Root disk size of each node, in GiB. Inference images (Triton is ~15 GB) and models live here.
   * @default 200
   */
  readonly diskSizeGiB?: number;
  /**
   * Extra node labels. mlstack always adds `mlstack.io/pool`, `mlstack.io/gpu` and `mlstack.io/gpu-type`.
   * @default {}
   */
  readonly labels?: Record<string, string>;
  /**
   * Node taints. Pass `[]` to let any pod land on GPU nodes.
   * @default [{ key: 'nvidia.com/gpu', value: 'present', effect: TaintEffect.NO_SCHEDULE }]
   */
  readonly taints?: Taint[];
  /**
   * Zones, in the cloud's own notation.
   * @default - every zone of the region
   */
  readonly zones?: string[];
  /**
   * Share each GPU between pods with time-slicing or MIG.
   * @default - each pod gets whole GPUs
   */
  readonly sharing?: GpuSharing;
}

/** A model-serving workload on the cluster, as monitoring constructs see it. */
export interface ServingWorkloadInfo {
  /** The Service (and scrape job) name. */
  readonly name: string;
  readonly namespace: string;
  readonly runtime: 'triton' | 'onnxruntime';
  /** Labels of its Service and pods. */
  readonly selector: Readonly<Record<string, string>>;
  /** The metrics port on the pods (Triton 8002, the mlstack server 8000). */
  readonly podMetricsPort: number;
  /** The construct that declared it. */
  readonly path: string;
  /**
   * Where its alerts go, when not where the cluster's go.
   * @default - the cluster's
   */
  readonly alerts?: readonly AlertDestination[];
  /**
   * How its metrics are collected without DcgmMonitoring (a ServiceMonitor for an in-cluster Prometheus).
   * @default - not collected until DcgmMonitoring's managed Prometheus adds it
   */
  readonly collectedBy?: string;
}

/** Props of {@link GpuCluster}. */
export interface GpuClusterProps {
  /**
   * Cluster name: a DNS label of at most 40 characters (GKE's limit).
   * @default - the existing cluster's name with `existingCluster`, else the construct id, lowercased
   */
  readonly clusterName?: string;
  /**
   * Kubernetes minor version.
   * @default KubernetesVersion.V1_33
   */
  readonly version?: KubernetesVersion;
  /**
   * The CPU pool for add-ons and CPU workloads.
   * @default - 2 to 4 nodes of NodeSize.XLARGE
   */
  readonly systemPool?: SystemPoolProps;
  /** GPU pools; at least one. More can be added with {@link GpuCluster.addGpuPool}. */
  readonly gpuPools: GpuPoolProps[];
  /**
   * Whether the Kubernetes API is reachable only from inside the cluster's network (EKS private endpoint,
   * GKE private endpoint, AKS private cluster). Set `false` and list `authorizedNetworks` to reach it from
   * a workstation.
   * @default true
   */
  readonly privateEndpoint?: boolean;
  /**
   * CIDR ranges allowed to reach the public API endpoint when `privateEndpoint` is false.
   * @default - none: a public endpoint then needs at least one range
   */
  readonly authorizedNetworks?: string[];
  /**
   * A network you already have, for the cluster and its nodes: `EksNetwork.fromVpc(vpc, { subnets })` on AWS,
   * `GkeNetwork.fromNetwork({ network, subnetwork, podsRange, servicesRange })` on Google Cloud,
   * `AksNetwork.fromSubnet({ subnetId, addressPrefix })` on Azure. Checked at synth where the cloud's objects say
   * enough (private subnets, zones, addresses for `maxNodes`).
   * @default - mlstack creates a network for the cluster
   */
  readonly network?: ClusterNetwork;
  /**
   * A cluster you already run, instead of one mlstack creates: `EksExistingCluster.fromAttributes({ clusterName,
   * clusterSecurityGroupId, podIdentityAgent })` on AWS, `GkeExistingCluster.fromName({ name, location })` on Google
   * Cloud, `AksExistingCluster.fromId(id)` on Azure. mlstack then adds its pools (the system pool included, for the
   * add-ons it installs) and every construct's resources to that cluster, and leaves the cluster itself alone: its
   * version, endpoint and encryption are yours, so `version`, `privateEndpoint` and `authorizedNetworks` must be
   * unset. On AWS it also needs `network` (the cluster's VPC); on Google Cloud and Azure, `network` where a
   * construct makes a private database (MlflowTracking).
   * @default - mlstack creates the cluster
   */
  readonly existingCluster?: ExistingCluster;
  /**
   * Digests of the images the cluster's objects run, by the reference mlstack writes (its tag), e.g.
   * `{ 'nvcr.io/nvidia/k8s-device-plugin:v0.17.1': 'sha256:…' }`: every container with that image then runs
   * `<reference>@<digest>`, exactly one image, and the `MLS-K8S-IMAGE-DIGEST` policy warning goes away. Record them
   * from the registry you pull from (`crane digest <ref>`, `docker buildx imagetools inspect <ref>`). A key that
   * no container uses is a synth warning (a version bump left the pin behind).
   * @default - images are pinned by tag only
   */
  readonly imageDigests?: Readonly<Record<string, string>>;
  /**
   * Where the alerts of every construct on this cluster go (GPU health, inference latency and failures, drift),
   * unless a construct has its own `alerts`.
   * @default - none: a construct that makes alerts fails at synth; pass `[AlertDestination.none('why')]` to accept it
   */
  readonly alerts?: AlertDestination[];
  /**
   * KEDA, which `TritonService` queue-time autoscaling uses. mlstack installs it on first use (chart 2.18 in
   * namespace `keda`, on the system pool) with an operator identity that may only query the cluster's managed
   * Prometheus.
   * @default - installed by mlstack when a construct needs it
   */
  readonly keda?: KedaProps;
  /**
   * Cost-allocation tags (AWS) / labels (GCP, Azure) on every resource of the cluster. Keys and values
   * follow GCP's label rules, the strictest: lowercase letters, digits, `_` and `-`.
   * @default {}
   */
  readonly tags?: Record<string, string>;
}

/** KEDA on a GpuCluster. */
export interface KedaProps {
  /**
   * A KEDA the platform already runs (Helm release, AKS add-on): mlstack installs no chart and gives the operator's
   * ServiceAccount the query identity — on EKS by Pod Identity; on GKE and AKS the operator must carry the
   * annotations and labels synth prints (chart values `podIdentity.gcp` / `podIdentity.azureWorkload`).
   * @default - mlstack installs KEDA
   */
  readonly existing?: { readonly namespace: string; readonly operatorServiceAccount: string };
}

const GPU_CLUSTER = Symbol.for('mlstack.GpuCluster');
const POOL_NAME = /^[a-z][a-z0-9]{0,11}$/;
const LABEL_KEY = /^[a-z][a-z0-9_-]{0,62}$/;
const LABEL_VALUE = /^[a-z0-9_-]{0,63}$/;

/**
 * A managed Kubernetes cluster with a CPU system pool and typed GPU pools: EKS on AWS, GKE on Google Cloud,
 * AKS on Azure. GPU pools scale from zero, can run on spot capacity, are tainted so that only GPU workloads
 * land on them, and get the NVIDIA device plugin (with time-slicing or MIG when set) where the cloud does
 * not install it.
 *
 * @example
 * const cluster = new GpuCluster(stack, 'Gpus', {
 *   gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, maxNodes: 4, spot: true }],
 * });
 */
export class GpuCluster extends Construct {
  /** Whether `x` is a GpuCluster. */
  public static isGpuCluster(x: unknown): x is GpuCluster {
    return typeof x === 'object' && x !== null && GPU_CLUSTER in x;
  }

  /** The cluster name. */
  public readonly clusterName: string;
  private readonly kedaProps: KedaProps;
  private kedaConnection?: PrometheusConnection;
  /** The system pool, resolved for the stack's cloud. */
  public readonly systemPool: NodePoolSpec;
  /** Every Kubernetes object of this cluster, as `mlstack synth` writes them. */
  public readonly manifests = new ManifestSet();
  /**
   * What exports, collects and reads metrics on this cluster, what scales its pools and where its alerts go:
   * checked at synth, every missing link an error naming both ends.
   */
  public readonly wiring = new Wiring();
  /** The cloud this cluster is on. */
  public readonly cloud: Cloud;
  /** Where the cluster's alerts go by default. */
  public readonly alerts?: readonly AlertDestination[];
  /** What mlstack knows about that cloud. */
  private readonly profile: CloudProfile;

  private readonly capability: KubernetesClusterCapability;
  private readonly servingWorkloads: ServingWorkloadInfo[] = [];
  private readonly charts: HelmChartSpec[] = [];
  private readonly servingListeners: ((w: ServingWorkloadInfo) => void)[] = [];
  private readonly gpuPoolSpecs: NodePoolSpec[] = [];
  private readonly check: Validator;
  private readonly base: Omit<KubernetesClusterSpec, 'pools'>;

  constructor(scope: Construct, id: string, props: GpuClusterProps) {
    super(scope, id);
    Object.defineProperty(this, GPU_CLUSTER, { value: true });
    const stack = MlStack.of(this);
    this.cloud = stack.cloud;
    this.profile = cloudProfile(stack.cloud);
    this.check = new Validator(`GpuCluster '${this.node.path}'`);
    const v = this.check;

    const existing = props.existingCluster;
    if (existing !== undefined) {
      if (typeof existing !== 'object' || existing === null || existing.cloud !== this.cloud) {
        v.fail(
          'existingCluster',
          existing?.description ?? existing,
          `is not a cluster on ${this.profile.displayName} (${this.profile.kubernetesService})`,
          `Pass a cluster of this stack's cloud: ${this.profile.existingClusterFactory}.`,
        );
      }
      if (props.clusterName !== undefined && props.clusterName !== existing.name) {
        v.fail(
          'clusterName',
          props.clusterName,
          `differs from the existing cluster's name '${existing.name}'`,
          "Leave clusterName unset: it is the existing cluster's.",
        );
      }
      const own = {
        version: "its Kubernetes version is the cluster's own (upgrade it where it is managed)",
        privateEndpoint: 'its API endpoint is configured where the cluster is managed',
        authorizedNetworks: 'its API endpoint is configured where the cluster is managed',
      } as const;
      for (const [prop, why] of Object.entries(own)) {
        const value = (props as unknown as Record<string, unknown>)[prop];
        if (value !== undefined) {
          v.fail(prop, value, `cannot be set with existingCluster: ${why}`, `Remove '${prop}'.`);
        }
      }
      this.clusterName = existing.name;
      v.dnsLabel('existingCluster.name', existing.name, 63);
    } else {
      this.clusterName = props.clusterName ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-');
      v.dnsLabel('clusterName', this.clusterName, 40);
    }

    if (!Array.isArray(props.gpuPools) || props.gpuPools.length === 0) {
      v.fail(
        'gpuPools',
        props.gpuPools,
        'must list at least one GPU pool',
        "Add a pool such as { name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }.",
      );
    }

    const privateEndpoint = props.privateEndpoint ?? true;
    const authorizedNetworks = props.authorizedNetworks ?? [];
    authorizedNetworks.forEach((cidr, i) => {
      if (!parseIpv4(cidr)) {
        v.fail(
          `authorizedNetworks[${i}]`,
          cidr,
          'is not an IPv4 CIDR',
          "Write it as 'a.b.c.d/n', e.g. '203.0.113.0/24'.",
        );
      }
    });
    if (!privateEndpoint && authorizedNetworks.length === 0) {
      v.fail(
        'authorizedNetworks',
        authorizedNetworks,
        'is empty while privateEndpoint is false, which would open the Kubernetes API to the internet',
        'List the CIDRs that may reach it (e.g. your office or CI egress), or keep privateEndpoint: true.',
      );
    }

    const tags = props.tags ?? {};
    for (const [k, val] of Object.entries(tags)) {
      if (!LABEL_KEY.test(k)) {
        v.fail(
          `tags.${k}`,
          k,
          'is not a valid tag key on every cloud',
          'Use lowercase letters, digits, _ and - (GCP label rules), starting with a letter.',
        );
      }
      if (typeof val !== 'string' || !LABEL_VALUE.test(val)) {
        v.fail(
          `tags.${k}`,
          val,
          'is not a valid tag value on every cloud',
          'Use at most 63 lowercase letters, digits, _ and - (GCP label rules).',
        );
      }
    }

    if (props.alerts !== undefined) this.alerts = checkDestinations(v, 'alerts', props.alerts);
    const existingKeda = props.keda?.existing;
    if (existingKeda !== undefined) {
      v.dnsLabel('keda.existing.namespace', existingKeda.namespace);
      v.dnsLabel('keda.existing.operatorServiceAccount', existingKeda.operatorServiceAccount, 253);
    }
    this.kedaProps = props.keda ?? {};

    const version = props.version ?? KubernetesVersion.V1_33;
    const system = this.resolveSystemPool(props.systemPool ?? {});

    this.systemPool = system;
    const network = props.network;
    if (
      network !== undefined &&
      (typeof network !== 'object' || network === null || network.cloud !== this.cloud)
    ) {
      v.fail(
        'network',
        network?.description ?? network,
        `is not a ${this.profile.kubernetesService} network`,
        `Pass the network of this stack's cloud: ${this.profile.networkFactory}.`,
      );
    }
    this.base = {
      name: this.clusterName,
      version,
      privateEndpoint,
      authorizedNetworks,
      tags,
      ...(network ? { network } : {}),
      ...(existing ? { existing } : {}),
    };
    const gpuPools = props.gpuPools.map((p, i) => this.resolveGpuPool(p, `gpuPools[${i}]`));

    this.pinImagesAtRender(props.imageDigests);
    this.capability = stack.addKubernetesCluster(this, { ...this.base, pools: [system] });
    this.capability.attachManifestFiles(() => this.outputFiles());
    this.buildPool(system);
    this.node.addValidation({ validate: () => this.wiring.check() });
    for (const pool of gpuPools) this.addResolvedPool(pool);
  }

  /** Checks `imageDigests` and pins the cluster's images by them when its objects are rendered. */
  private pinImagesAtRender(digests: Readonly<Record<string, string>> | undefined): void {
    if (digests === undefined) return;
    const v = this.check;
    if (typeof digests !== 'object' || digests === null || Array.isArray(digests)) {
      v.fail(
        'imageDigests',
        digests,
        'is not a map of image reference to digest',
        "Pass { '<image>:<tag>': 'sha256:<digest>' }.",
      );
    }
    for (const [ref, digest] of Object.entries(digests)) {
      const parsed = parseImageReference(ref);
      if ('problem' in parsed || parsed.digest !== undefined) {
        v.fail(
          `imageDigests['${ref}']`,
          ref,
          'problem' in parsed
            ? `is not an image reference: it ${parsed.problem}`
            : 'already carries a digest',
          'Use the image reference as mlstack writes it (registry/repository:tag), without a digest.',
        );
      }
      if (typeof digest !== 'string' || !IMAGE_DIGEST.test(digest)) {
        v.fail(
          `imageDigests['${ref}']`,
          digest,
          'is not an image digest',
          'Use the digest the registry reports: sha256: and 64 lower-case hex digits.',
        );
      }
    }
    this.manifests.onRender((manifests) => {
      const used = pinImages(manifests, digests);
      const unused = Object.keys(digests).filter((k) => !used.has(k));
      if (unused.length === 0) return;
      const running = imagesOf(manifests).filter((i) => !isPinned(i));
      MlStack.of(this).addWarning(
        this,
        `GpuCluster '${this.node.path}': imageDigests has ${unused.map((u) => `'${u}'`).join(', ')}, which no container of the cluster runs (a version changed?); the images pinned by tag only are: ${running.join(', ') || 'none'}.`,
      );
    });
  }

  /** The validated cluster spec, with instance types resolved for the stack's cloud. */
  public get spec(): KubernetesClusterSpec {
    return { ...this.base, pools: [this.systemPool, ...this.gpuPoolSpecs] };
  }

  /** The GPU pools, resolved for the stack's cloud. */
  public get gpuPools(): readonly NodePoolSpec[] {
    return [...this.gpuPoolSpecs];
  }

  /**
   * Adds a GPU pool after construction. Same rules as the `gpuPools` prop; services declared before it may land
   * on it, since their placement is resolved at synth.
   */
  public addGpuPool(props: GpuPoolProps): NodePoolSpec {
    if (this.manifests.rendered) {
      throw new Error(
        `GpuCluster '${this.node.path}': addGpuPool(${JSON.stringify(props?.name)}) after the cluster's Kubernetes objects were rendered. Add pools before reading any construct's manifests.`,
      );
    }
    const pool = this.resolveGpuPool(props, `addGpuPool(${JSON.stringify(props?.name)})`);
    this.addResolvedPool(pool);
    return pool;
  }

  /**
   * Adds Kubernetes objects to the cluster: they are schema-validated, written to the synth output
   * (`k8s/<stack>/<cluster>/`), and on AWS deployed by `cdk deploy` when the stack has a kubectl layer.
   * @param id the id of the group, unique in this cluster
   */
  public addManifest(id: string, ...objects: ValidatableObject[]): KubernetesManifest[] {
    for (const o of objects) refuseTokens(`${this.node.path}/${id}`, o);
    const added = this.manifests.add(`${this.node.path}/${id}`, ...objects);
    // Rendered first, so that what cdk deploy applies has the cluster-wide changes (pinned images) too.
    this.capability.deployManifests(id, () => {
      this.manifests.render(`${this.node.path}/${id} (deploy)`);
      return added;
    });
    return added;
  }

  /**
   * Adds Kubernetes objects that `produce` makes at synth, when every construct of the program is declared: for
   * objects that depend on pools or services declared after the caller (a GPU workload's node selector and
   * tolerations, a DaemonSet on every GPU pool). Otherwise as {@link addManifest}.
   * @param id the id of the group, unique in this cluster
   * @returns the group's objects, rendering the cluster's manifests on first call (after which nothing can be added)
   */
  public addManifestsAtSynth(id: string, produce: () => ValidatableObject[]): () => KubernetesManifest[] {
    const source = `${this.node.path}/${id}`;
    const objects = this.manifests.addLazy(source, () => {
      const made = produce();
      for (const o of made) refuseTokens(source, o);
      return made;
    });
    this.capability.deployManifests(id, objects);
    return objects;
  }

  /**
   * Adds a third-party Helm chart the cluster's objects need (their CRDs and controllers: Karpenter, KEDA): installed
   * by `cdk deploy` where the stack applies manifests, and always written to `k8s/<stack>/<cluster>/charts/` with an
   * `install.sh` run before `kubectl apply`. For construct authors and the stacks.
   */
  public addHelmChart(id: string, chart: HelmChartSpec): void {
    if (this.charts.some((c) => c.release === chart.release)) {
      throw new Error(
        `${this.node.path}/${id}: a Helm release named '${chart.release}' is already on this cluster.`,
      );
    }
    this.charts.push(chart);
    this.capability.deployHelmChart(id, chart);
  }

  /** The charts added to this cluster, in install order. */
  public get helmCharts(): readonly HelmChartSpec[] {
    return [...this.charts];
  }

  /** Every file of the cluster's `k8s/<stack>/<cluster>/` folder: one object a file, and the charts. */
  public outputFiles(): ManifestFile[] {
    return [...this.manifests.files(), ...chartFiles(this.charts)];
  }

  /**
   * Builds a private, encrypted, versioned object store next to this cluster (S3, GCS, Blob storage), filled at
   * deploy. For construct authors: its name is concrete at synth, so this cluster's manifests can name it.
   */
  public addObjectStore(scope: Construct, id: string, spec: ObjectStoreSpec): ObjectStoreCapability {
    return this.capability.addObjectStore(scope, id, spec);
  }

  /**
   * Binds a ServiceAccount of this cluster to a cloud identity that may read the given stores only (EKS Pod
   * Identity, GKE Workload Identity, Azure workload identity). For construct authors.
   */
  public addWorkloadIdentity(
    scope: Construct,
    id: string,
    spec: WorkloadIdentitySpec,
  ): WorkloadIdentityCapability {
    return this.capability.addWorkloadIdentity(scope, id, spec);
  }

  /**
   * The route of alerts made by `owner`: its own destinations when it has some, else the cluster's; undefined when
   * neither has any (the wiring check then fails). For construct authors.
   */
  public alertRoute(owner: IConstruct, own?: readonly AlertDestination[]): AlertRoute | undefined {
    if (own) return { name: owner.node.path, destinations: own };
    return this.alerts ? { name: 'default', destinations: this.alerts } : undefined;
  }

  /** Records a model-serving workload (TritonService calls this), telling every listener. */
  public registerServingWorkload(workload: ServingWorkloadInfo): void {
    this.wiring.addSource({
      producer: `${workload.runtime === 'triton' ? 'Triton' : 'the mlstack server'} (Service ${workload.namespace}/${workload.name})`,
      path: workload.path,
      metrics: SERVING_METRICS,
      ...(workload.collectedBy ? { collectedBy: workload.collectedBy } : {}),
    });
    this.servingWorkloads.push(workload);
    for (const l of this.servingListeners) l(workload);
  }

  /**
   * Calls `listener` for every serving workload on the cluster, those registered already and those to come, so
   * that monitoring can be declared before or after the services.
   */
  public onServingWorkload(listener: (w: ServingWorkloadInfo) => void): void {
    for (const w of this.servingWorkloads) listener(w);
    this.servingListeners.push(listener);
  }

  /**
   * A managed PostgreSQL in this cluster's private network, credentials in the cloud's secret store. For
   * construct authors.
   */
  public addPostgres(scope: Construct, id: string, spec: PostgresSpec): PostgresCapability {
    return this.capability.addPostgres(scope, id, spec);
  }

  /**
   * KEDA on this cluster, querying the cloud's managed Prometheus: made on first use — the operator's read-only
   * query identity, the chart (unless `keda.existing`) and the ClusterTriggerAuthentication every mlstack
   * ScaledObject uses. For construct authors.
   */
  public keda(): PrometheusConnection {
    if (this.kedaConnection) return this.kedaConnection;
    const existing = this.kedaProps.existing;
    // The operator's cloud identity, which may only query the managed Prometheus (autoscalerConnection).
    const identity = this.capability.addWorkloadIdentity(this, 'KedaOperator', {
      namespace: existing?.namespace ?? KEDA.namespace,
      serviceAccount: existing?.operatorServiceAccount ?? KEDA.operatorServiceAccount,
      read: [],
    });
    if (!existing) this.addHelmChart('Chart-keda', this.capability.kedaChart(identity));
    else {
      const marks = [
        ...Object.entries(identity.serviceAccountAnnotations).map(([k, val]) => `annotation ${k}=${val}`),
        ...Object.entries(identity.podLabels).map(([k, val]) => `pod label ${k}=${val}`),
      ];
      if (marks.length) {
        MlStack.of(this).addWarning(
          this,
          `KEDA is yours (keda.existing): its operator ServiceAccount ${existing.namespace}/${existing.operatorServiceAccount} must carry ${marks.join(', ')} to query the managed Prometheus.`,
        );
      }
    }
    this.kedaConnection = this.managedPrometheus().autoscalerConnection(this, identity);
    this.addManifest('Keda', prometheusAuthentication(this.kedaConnection));
    return this.kedaConnection;
  }

  /** The cloud's managed Prometheus for this cluster, created on first use. For construct authors. */
  public managedPrometheus(): ManagedPrometheusCapability {
    return this.capability.managedPrometheus();
  }

  /** Where the cloud's managed Prometheus collectors reach pods from, for NetworkPolicies of metrics ports. */
  public get metricsCollectors(): {
    readonly namespaces: readonly string[];
    readonly cidrs: readonly string[];
  } {
    return this.capability.metricsCollectors;
  }

  /** The GPU pool that serves `type`, if any: the one a GPU workload of that type should select. */
  public findGpuPool(type: GpuType): NodePoolSpec | undefined {
    return this.gpuPoolSpecs.find((p) => p.gpu?.type === type);
  }

  private addResolvedPool(pool: NodePoolSpec): void {
    if ([...this.gpuPoolSpecs, this.systemPool].some((p) => p.name === pool.name)) {
      this.check.fail(
        'gpuPools[].name',
        pool.name,
        'is used by another pool of this cluster',
        'Give every pool a unique name.',
      );
    }
    this.gpuPoolSpecs.push(pool);
    this.buildPool(pool);
    if (!this.capability.managesGpuDevicePlugin) {
      this.addManifest(`DevicePlugin-${pool.name}`, ...nvidiaDevicePlugin([pool]));
    }
    if (pool.gpu?.sharing?.strategy === 'mig' && this.profile.migPartitioning === 'mig-manager') {
      MlStack.of(this).addWarning(
        this,
        `GPU pool '${pool.name}': ${this.profile.kubernetesService} has no managed MIG partitioning. Nodes are labelled nvidia.com/mig.config=all-${pool.gpu.sharing.migProfile} for NVIDIA's MIG manager (GPU operator), which must run on the cluster to create the partitions.`,
      );
    }
  }

  /** Builds a pool on the cloud, with what the cluster must carry for it, and records what scales it. */
  private buildPool(pool: NodePoolSpec): void {
    const built = this.capability.addNodePool(pool);
    for (const chart of built.charts) this.addHelmChart(`Chart-${chart.release}`, chart);
    if (built.manifests.length) this.addManifest(`Pool-${pool.name}`, ...built.manifests);
    this.wiring.addPool({
      pool: pool.name,
      path: this.node.path,
      minNodes: pool.minNodes,
      ...(built.autoscaler ? { scaler: built.autoscaler } : {}),
    });
  }

  private resolveSystemPool(p: SystemPoolProps): NodePoolSpec {
    const v = this.check;
    const size = p.size ?? NodeSize.XLARGE;
    const minNodes = p.minNodes ?? 2;
    const maxNodes = p.maxNodes ?? Math.max(4, minNodes);
    v.integer('systemPool.minNodes', minNodes, 1, 1000);
    v.integer('systemPool.maxNodes', maxNodes, 1, 1000);
    if (minNodes > maxNodes) {
      v.fail(
        'systemPool.minNodes',
        minNodes,
        `must not exceed 'systemPool.maxNodes' (${maxNodes})`,
        'Set minNodes <= maxNodes.',
      );
    }
    const diskSizeGiB = p.diskSizeGiB ?? 50;
    v.integer('systemPool.diskSizeGiB', diskSizeGiB, 20, 16384);
    return {
      name: 'system',
      role: 'system',
      instanceType: size.instanceType(this.cloud),
      vcpus: size.vcpus,
      memoryGiB: size.memoryGiB,
      minNodes,
      maxNodes,
      spot: false,
      diskSizeGiB,
      labels: { [NODE_LABELS.pool]: 'system' },
      taints: [],
      ...(p.zones ? { zones: this.checkZones('systemPool.zones', p.zones) } : {}),
    };
  }

  private resolveGpuPool(p: GpuPoolProps, path: string): NodePoolSpec {
    const v: Validator = this.check;
    if (typeof p?.name !== 'string' || !POOL_NAME.test(p.name)) {
      v.fail(
        `${path}.name`,
        p?.name,
        'is not a valid pool name',
        'Use 1-12 lowercase letters and digits, starting with a letter (AKS node pool rule, applied on every cloud).',
      );
    }
    if (p.name === 'system') {
      v.fail(`${path}.name`, p.name, 'is reserved for the system pool', 'Choose another name.');
    }
    const gpuType = p.gpu?.type;
    if (!gpuType || typeof gpuType !== 'object' || !('migProfiles' in gpuType)) {
      v.fail(
        `${path}.gpu.type`,
        gpuType,
        'is not a GpuType',
        'Use one of the GpuType members, e.g. GpuType.NVIDIA_L4.',
      );
    }
    const count = p.gpu.count ?? 1;
    v.integer(`${path}.gpu.count`, count, 1, 16);
    const resolved = resolveGpuInstance(this.cloud, gpuType, count, p.instanceType);
    if (!resolved.ok) {
      const [prop, value, fix] =
        resolved.field === 'type'
          ? [
              `${path}.gpu.type`,
              gpuType.id,
              'Pick a GPU type this cloud offers, or put this pool in a stack for another cloud.',
            ]
          : resolved.field === 'count'
            ? [`${path}.gpu.count`, count, 'Pick a GPU count the instance type holds.']
            : [
                `${path}.instanceType`,
                p.instanceType,
                'Pick one of the listed types, or leave instanceType unset.',
              ];
      v.fail(prop, value, resolved.reason, fix);
    }

    const minNodes = p.minNodes ?? 0;
    const maxNodes = p.maxNodes ?? Math.max(3, minNodes);
    v.integer(`${path}.minNodes`, minNodes, 0, 1000);
    v.integer(`${path}.maxNodes`, maxNodes, 1, 1000);
    if (minNodes > maxNodes) {
      v.fail(
        `${path}.minNodes`,
        minNodes,
        `must not exceed '${path}.maxNodes' (${maxNodes})`,
        'Set minNodes <= maxNodes.',
      );
    }
    const diskSizeGiB = p.diskSizeGiB ?? 200;
    v.integer(`${path}.diskSizeGiB`, diskSizeGiB, 50, 16384);

    const sharing = p.sharing;
    if (sharing?.strategy === 'mig') {
      if (!gpuType.supportsMig) {
        v.fail(
          `${path}.sharing`,
          sharing,
          `is not possible: ${gpuType.displayName} has no MIG`,
          'Use GpuSharing.timeSlicing(n), or a MIG-capable GPU (A100, H100).',
        );
      }
      if (!gpuType.migProfiles.includes(sharing.migProfile ?? '')) {
        v.fail(
          `${path}.sharing`,
          sharing,
          `is not a MIG profile of ${gpuType.displayName}`,
          `Use one of ${gpuType.migProfiles.join(', ')}.`,
        );
      }
    } else if (sharing?.strategy === 'time-slicing') {
      v.integer(`${path}.sharing.replicas`, sharing.replicas ?? NaN, 2, 48);
    }

    const taints = p.taints ?? [DEFAULT_GPU_TAINT];
    taints.forEach((t, i) => {
      if (!/^([a-z0-9.-]+\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(t.key ?? '')) {
        v.fail(
          `${path}.taints[${i}].key`,
          t.key,
          'is not a valid taint key',
          "Use a qualified name such as 'nvidia.com/gpu'.",
        );
      }
      if (!Object.values(TaintEffect).includes(t.effect)) {
        v.fail(`${path}.taints[${i}].effect`, t.effect, 'is not a taint effect', 'Use a TaintEffect member.');
      }
    });
    const allTaints = [...taints];
    const labels: Record<string, string> = {
      ...(p.labels ?? {}),
      [NODE_LABELS.pool]: p.name,
      [NODE_LABELS.gpu]: 'true',
      [NODE_LABELS.gpuType]: gpuType.id,
    };
    const spot = p.spot ?? false;
    if (spot) {
      // Where the cloud labels and taints Spot nodes itself (AKS), declaring them keeps its IaC from seeing drift
      // and lets workloads compute their tolerations from the pool.
      Object.assign(labels, this.profile.spotNodes.labels);
      allTaints.push(...this.profile.spotNodes.taints);
    }
    if (sharing?.strategy === 'mig' && this.profile.migPartitioning === 'mig-manager') {
      labels['nvidia.com/mig.config'] = `all-${sharing.migProfile}`;
    }

    return {
      name: p.name,
      role: 'gpu',
      instanceType: resolved.offering.instanceType,
      vcpus: resolved.offering.vcpus,
      memoryGiB: resolved.offering.memoryGiB,
      gpu: {
        type: gpuType,
        count,
        ...(resolved.offering.acceleratorType ? { acceleratorType: resolved.offering.acceleratorType } : {}),
        ...(sharing ? { sharing } : {}),
      },
      minNodes,
      maxNodes,
      spot,
      ...(spot && Object.keys(this.profile.spotNodes.selector).length
        ? { spotSelector: this.profile.spotNodes.selector }
        : {}),
      diskSizeGiB,
      labels,
      taints: allTaints,
      ...(p.zones ? { zones: this.checkZones(`${path}.zones`, p.zones) } : {}),
    };
  }

  private checkZones(prop: string, zones: string[]): string[] {
    const { pattern: re, description: what } = this.profile.zones;
    zones.forEach((z, i) => {
      if (!re.test(z)) this.check.fail(`${prop}[${i}]`, z, `is not a zone on this cloud`, `Use ${what}.`);
    });
    if (zones.length === 0)
      this.check.fail(prop, zones, 'is empty', 'List at least one zone, or leave zones unset.');
    return zones;
  }
}

/** Manifests are files written at synth: a deploy-time token would be written as its placeholder. */
function refuseTokens(source: string, o: ValidatableObject): void {
  if (/\$\{(Tf)?Token\[/.test(JSON.stringify(o.toJSON()))) {
    throw new Error(
      `${source}: ${o.kind} ${o.metadata?.name} would contain a value known only at deploy, but Kubernetes manifests are written at synth. This is a bug in the construct that made it.`,
    );
  }
}
