// The capabilities a cloud's stack offers constructs, in cloud-neutral terms. Each cloud implements every one of
// them as a named Construct in its own file (stacks/<cloud>/), exposing the real framework objects it made.
import type { Construct } from 'constructs';
import type { NodePoolSpec } from '../src/spec/cluster';
import type { HelmChartSpec } from '../src/k8s/helm';
import type { PrometheusConnection } from '../src/k8s/keda';
import type { KubernetesManifest, ValidatableObject } from '../src/k8s/manifest';
import type { ManifestFile } from '../src/synth/output';
import type { AlertRuleGroup } from '../src/monitoring/alerts';
import type { AlertRoute } from '../src/monitoring/destinations';
import type { IContainer } from 'kubernetes-models/v1/Container';

/** A local folder a stack uploads into an object store at deploy. */
export interface ObjectStoreContents {
  /** Key prefix in the store, without leading or trailing `/`. */
  readonly prefix: string;
  /** The local folder. */
  readonly dir: string;
  /** Every file under `dir`, relative, `/`-separated. */
  readonly files: readonly string[];
}

/** A private object store (S3 bucket, GCS bucket, Blob container) that a stack builds next to a cluster. */
export interface ObjectStoreSpec {
  /** What it holds, for descriptions and tags (e.g. `model repository of classifier`). */
  readonly purpose: string;
  /**
   * The physical name, when the user chose one; checked against the cloud's naming rules.
   * @default - derived from the stack, the construct path and (where known) the account, so that it is concrete at synth
   */
  readonly name?: string;
  /** Folders uploaded at deploy (`cdk deploy` / `terraform apply`). */
  readonly contents: readonly ObjectStoreContents[];
  /**
   * Lifecycle rules beyond the default expiry of old versions after 30 days.
   * @default - old versions expire after 30 days, nothing else
   */
  readonly lifecycle?: ObjectLifecycle;
  /**
   * Keep the store when the stack is deleted, and refuse a plan that would destroy it (Terraform `prevent_destroy`).
   * @default false: a store of files the stack uploads is recreated by the next deploy
   */
  readonly retain?: boolean;
}

/** Lifecycle rules of an object store. */
export interface ObjectLifecycle {
  /**
   * Days after which a replaced or deleted object's old version is deleted.
   * @default 30
   */
  readonly noncurrentVersionDays?: number;
  /**
   * Days after which objects move to the cloud's infrequent-access class (S3 Standard-IA, GCS Nearline, Blob Cool).
   * @default - never
   */
  readonly infrequentAccessAfterDays?: number;
}

/** A managed PostgreSQL database in the cluster's private network. */
export interface PostgresSpec {
  /** What it stores, for descriptions. */
  readonly purpose: string;
  /** The database and its owner. */
  readonly databaseName: string;
  readonly username: string;
  /** The cloud's instance type, already checked against the cloud's list. */
  readonly instanceType: string;
  /** PostgreSQL major version. */
  readonly version: '16';
  readonly storageGiB: number;
  /** Days of automated backups (0: none, only through the escape hatch). */
  readonly backupRetentionDays: number;
  /** A standby in another zone with automatic failover. */
  readonly highAvailability: boolean;
  /** Reachable from the internet (only through the escape hatch). */
  readonly publiclyAccessible: boolean;
}

/** A secret of the cloud's secret store that pods can fetch with their workload identity. */
export interface SecretCapability {
  /** The secret's name in the store. */
  readonly name: string;
  /**
   * An init container that writes the secret's value to `file` (on a memory-backed volume mounted at the file's
   * folder) with the pod's workload identity.
   */
  fetchContainer(file: string): StoreCopyContainer;
}

/** A database that was built; its connection details are in a secret, never in a template or manifest. */
export interface PostgresCapability {
  /** What the database is (e.g. `Amazon RDS for PostgreSQL 16`). */
  readonly description: string;
  /**
   * The secret holding the connection as JSON: `host`, `port`, `username`, `password`, `dbname`.
   */
  readonly connectionSecret: SecretCapability;
  /**
   * Lets a workload identity log in to the database with the cloud's identity (Entra ID on Azure), where the
   * cloud's database supports it and mlstack wires it; absent elsewhere.
   */
  enableIdentityLogin?(identity: WorkloadIdentityCapability): void;
}

/** A container that copies a prefix of an object store into a pod-local folder with the pod's workload identity. */
export interface StoreCopyContainer {
  /** The container (an init container of the pod). */
  readonly container: IContainer;
  /** Where the prefix's files are once it finished (under the target folder). */
  readonly localPath: string;
}

/** Options of {@link ObjectStoreCapability.copyContainer}. */
export interface CopyOptions {
  /**
   * Copy only the date folders under the prefix that hold the last this many hours (time-partitioned objects such
   * as captured requests), not every day ever written.
   * @default - the whole prefix
   */
  readonly recentHours?: number;
}

/** An object store that was built: its name is concrete at synth, so Kubernetes manifests can name it. */
export interface ObjectStoreCapability {
  /** The physical name (bucket, or storage account on Azure). */
  readonly name: string;
  /** The URI of `prefix` in the form the cloud's tools (and Triton) read: `s3://`, `gs://`, `as://`. */
  uri(prefix: string): string;
  /** The URI of `prefix` in the form Python libraries (MLflow, fsspec) read: `s3://`, `gs://`, `wasbs://`. */
  pythonUri(prefix: string): string;
  /**
   * Whether Triton (the pinned image) reads `uri()` itself with the pod's workload identity. Where it does not
   * (its S3 client and EKS Pod Identity, its Azure client and managed identities), a copy container fills a
   * pod-local folder first; Triton copies remote repositories to local disk before loading anyway.
   */
  readonly tritonReadsUri: boolean;
  /**
   * Deletes objects under `prefix` `days` days after they were written (a lifecycle rule of the bucket or
   * account; with versioning, the old versions then go with the store's noncurrent-version rule).
   */
  expireObjects(prefix: string, days: number): void;
  /**
   * A container that copies `prefix` into `target` (a mounted emptyDir) using the pod's workload identity; with
   * `recentHours`, only the date folders (`<prefix>/<yyyy-mm-dd>/`, UTC) that hold the last that many hours.
   */
  copyContainer(prefix: string, target: string, options?: CopyOptions): StoreCopyContainer;
  /**
   * A shell step that uploads the files of `localDir` under `prefix` (which may use shell variables, e.g.
   * `reports/$ts`) with the pod's workload identity: the CLI image to run it in, its environment and the lines.
   */
  uploadStep(
    localDir: string,
    prefix: string,
  ): { image: string; env: Record<string, string>; script: string[] };
}

/** Metrics endpoints for the cloud's managed Prometheus to collect. */
export interface ScrapeTarget {
  /** The job label of the collected series (mlstack's alerts select on it). */
  readonly job: string;
  readonly namespace: string;
  /** Labels of the Service (and of its pods) to collect from. */
  readonly selector: Readonly<Record<string, string>>;
  /** The port name on the Service. */
  readonly port: string;
  /** The port on the pods (name or number), for collectors that select pods rather than Services. */
  readonly podPort: string | number;
  /** Scrape interval, e.g. `30s`. */
  readonly interval: string;
  /** Keep the target's own pod/namespace/container labels (dcgm-exporter's workload labels). */
  readonly honorLabels: boolean;
}

/** The cloud's managed Prometheus for one cluster: storage, rule evaluation and collection. */
export interface ManagedPrometheusCapability {
  /** What the backend is, for docs and outputs (e.g. `Amazon Managed Service for Prometheus`). */
  readonly description: string;
  /** Collects `target`; returns the Kubernetes objects the cloud's collector reads (may be none). */
  addScrapeTarget(scope: Construct, id: string, target: ScrapeTarget): ValidatableObject[];
  /**
   * Evaluates alert rules and sends what fires to `route`'s destinations, in the cloud's own form; returns the
   * Kubernetes objects that carry them (may be none).
   * @throws when a destination is one the cloud cannot deliver to (the error names the alternatives)
   */
  addRuleGroups(
    scope: Construct,
    id: string,
    groups: readonly AlertRuleGroup[],
    route: AlertRoute,
  ): ValidatableObject[];
  /**
   * Lets `identity` (KEDA's operator) query this Prometheus, read-only, and says how it connects: the query URL
   * (a deploy-time value where the cloud names the workspace at deploy), its pod identity provider and the
   * scoping of queries to this cluster.
   */
  autoscalerConnection(scope: Construct, identity: WorkloadIdentityCapability): PrometheusConnection;
}

/** A prefix of an object store (`capture/<service>`, no trailing slash). */
export interface PrefixGrant {
  readonly store: ObjectStoreCapability;
  readonly prefix: string;
}

/** A Kubernetes ServiceAccount that should act as a cloud identity. */
export interface WorkloadIdentitySpec {
  readonly namespace: string;
  readonly serviceAccount: string;
  /** Stores the identity may read. */
  readonly read: readonly ObjectStoreCapability[];
  /**
   * Stores the identity may read and write.
   * @default []
   */
  readonly readWrite?: readonly ObjectStoreCapability[];
  /**
   * Prefixes of stores under which the identity may create objects, and nothing more with them: no reading beyond
   * `read`, no delete, no write elsewhere in the store (a serving pod that ships captured requests cannot replace
   * the models it serves).
   * @default []
   */
  readonly createIn?: readonly PrefixGrant[];
  /**
   * Secrets the identity may read.
   * @default []
   */
  readonly secrets?: readonly SecretCapability[];
}

/** What the ServiceAccount and its pods must carry for the cloud to recognise them. */
export interface WorkloadIdentityCapability {
  /** ServiceAccount annotations (GKE: `iam.gke.io/gcp-service-account`). */
  readonly serviceAccountAnnotations: Readonly<Record<string, string>>;
  /** Pod labels (AKS: `azure.workload.identity/use`). */
  readonly podLabels: Readonly<Record<string, string>>;
}

/** A node pool that was built. */
export interface NodePoolResult {
  /**
   * What adds nodes when pods are pending, in words (`GKE cluster autoscaler`, `Karpenter NodePool mlstack-l4`).
   * @default - nothing: the pool stays at its minimum
   */
  readonly autoscaler?: string;
  /** Kubernetes objects the pool needs on the cluster. */
  readonly manifests: readonly ValidatableObject[];
  /** Charts the pool needs, once per cluster. */
  readonly charts: readonly HelmChartSpec[];
}

/**
 * A Kubernetes cluster that a stack built for a {@link KubernetesClusterSpec}.
 */
export interface KubernetesClusterCapability {
  /** The cluster's name as the cloud knows it (may be a deploy-time token on AWS). */
  readonly clusterName: string;
  /**
   * Whether the cloud installs and manages the NVIDIA device plugin itself (GKE does, for pools with
   * `gpu_driver_installation_config`); when false mlstack deploys it.
   */
  readonly managesGpuDevicePlugin: boolean;
  /**
   * Where the cloud's managed Prometheus collectors reach pods from (GMP's `gmp-system`, the AKS metrics add-on's
   * `kube-system`, the AWS managed scraper's VPC addresses), for NetworkPolicies of metrics ports.
   */
  readonly metricsCollectors: { readonly namespaces: readonly string[]; readonly cidrs: readonly string[] };
  /**
   * The cluster's Kubernetes objects as files, for a cluster in an app that does not write them itself (a plain
   * aws-cdk-lib or cdktf app, not `MlApp`): the capability writes them next to the app's output at synth, as
   * `k8s/<stack>/<cluster>/`, and warns when nothing deploys them.
   */
  attachManifestFiles(files: () => readonly ManifestFile[]): void;
  /**
   * Installs a Helm chart at deploy where the cloud's tooling can (on AWS, through the EKS kubectl provider when one
   * is configured); it is always written to the synth output too.
   */
  deployHelmChart(id: string, chart: HelmChartSpec): void;
  /**
   * Adds a node pool (resolved for this cloud) to the cluster, the system pool included.
   * @returns what scales it and what the cluster must carry for it (Karpenter's objects and chart on EKS)
   */
  addNodePool(pool: NodePoolSpec): NodePoolResult;
  /**
   * Makes a group of manifests part of the deployment where the cloud's tooling can apply them (on AWS, through
   * the EKS kubectl provider when one is configured). `manifests` renders them (at synth at the latest); they are
   * always written to the synth output too.
   */
  deployManifests(id: string, manifests: () => readonly KubernetesManifest[]): void;
  /** Builds a private, encrypted, versioned object store in the cluster's region, filled at deploy. */
  addObjectStore(scope: Construct, id: string, spec: ObjectStoreSpec): ObjectStoreCapability;
  /**
   * Binds a Kubernetes ServiceAccount to a cloud identity that can read `spec.read` only: EKS Pod Identity,
   * GKE Workload Identity, Azure workload identity.
   */
  addWorkloadIdentity(scope: Construct, id: string, spec: WorkloadIdentitySpec): WorkloadIdentityCapability;
  /**
   * A managed PostgreSQL in the cluster's private network, encrypted at rest, with automated backups, deletion
   * protection, TLS, generated credentials kept in the cloud's secret store.
   */
  addPostgres(scope: Construct, id: string, spec: PostgresSpec): PostgresCapability;
  /**
   * The KEDA chart for this cluster, with the values through which its operator (the ServiceAccount that
   * `operator`, made by `addWorkloadIdentity`, binds) acts as its cloud identity.
   */
  kedaChart(operator: WorkloadIdentityCapability): HelmChartSpec;
  /**
   * The cloud's managed Prometheus for this cluster (Amazon Managed Service for Prometheus with an agentless
   * scraper, Google Cloud Managed Service for Prometheus, Azure Monitor managed Prometheus), created on first use.
   */
  managedPrometheus(): ManagedPrometheusCapability;
}

/** A fleet of edge devices that receives a model package. */
export interface EdgeFleetSpec {
  /** Fleet name (a DNS label). */
  readonly name: string;
  /** Component name (reverse-DNS, e.g. `com.mlstack.kiosks`). */
  readonly componentName: string;
  /** Package version (semantic version). */
  readonly version: string;
  /** The device group (thing group, twin tag value, fleet scope). */
  readonly group: string;
  /** Target platform. */
  readonly target: {
    readonly id: string;
    readonly architecture: 'amd64' | 'aarch64';
    readonly executionProviders: readonly string[];
    /** The largest model file the device is sized for, in MiB. */
    readonly sizeBudgetMiB: number;
  };
  /** The package archive (`package.tgz`, alone in its folder) and its SHA-256. */
  readonly archive: string;
  readonly archiveSha256: string;
  /** The unpacked package folder (for container images built from it). */
  readonly packageDir: string;
  /** Staged rollout, in percent of the fleet, and its size. */
  readonly rollout: {
    readonly canaryPercent: number;
    readonly batchPercent: number;
    readonly maxFailurePercent: number;
    readonly fleetSize: number;
  };
  /** A container image holding the package (where devices run containers). */
  readonly image?: string;
  /** The mlstack version devices install to run the package. */
  readonly mlstackVersion: string;
  /** The onnxruntime-node range devices install next to mlstack (`mlstack serve` needs it). */
  readonly onnxruntimeNode: string;
}

/** Files an edge fleet adds to the synth output (deployment manifests to apply), relative to its folder. */
export interface EdgeFleetCapability {
  readonly files: readonly { readonly path: string; readonly content: string }[];
}
