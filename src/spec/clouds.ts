/**
 * The cloud catalog: every fact about a cloud that a construct needs to validate props or build manifests, so that
 * no construct branches on the cloud. A new cloud adds an entry here (and to the GPU catalog in `gpu.ts`) and a
 * folder under `stacks/`.
 *
 * Sources (vendor docs, read 2026-11):
 * - EKS managed node groups, Spot: https://docs.aws.amazon.com/eks/latest/userguide/managed-node-groups.html
 * - AKS Spot node pools (label and taint): https://learn.microsoft.com/azure/aks/spot-node-pool
 * - GKE GPUs on COS (driver path, device access): https://cloud.google.com/kubernetes-engine/docs/how-to/gpus
 * - RDS instance classes: https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/Concepts.DBInstanceClass.html
 * - RDS backup retention (1-35 days): https://docs.aws.amazon.com/AmazonRDS/latest/UserGuide/USER_WorkingWithAutomatedBackups.html
 * - Cloud SQL machine types: https://cloud.google.com/sql/docs/postgres/instance-settings
 * - Azure Database for PostgreSQL flexible server compute, backups (7-35 days) and storage (32 GiB minimum):
 *   https://learn.microsoft.com/azure/postgresql/flexible-server/concepts-compute
 */
import { type Taint, TaintEffect } from './cluster';
import type { Cloud } from './gpu';

/** The managed PostgreSQL offerings mlstack supports on a cloud. */
export interface PostgresCatalog {
  /** Instance types mlstack accepts, smallest first. */
  readonly instanceTypes: readonly string[];
  /** The default instance type for development and for production. */
  readonly defaults: { readonly development: string; readonly production: string };
  /** The smallest storage the service offers, in GiB (also the default). */
  readonly minStorageGiB: number;
  /** The range of automated backup retention, in days. */
  readonly backupDays: readonly [number, number];
  /** Whether automated backups can be turned off at all. */
  readonly backupsCanBeOff: boolean;
  /** Instance types that cannot have a standby (Azure's Burstable tier): their prefix and the tier's name. */
  readonly noHighAvailability?: { readonly prefix: string; readonly tier: string };
}

/** How a cloud's GPU nodes expose their GPUs to a monitoring agent that must see all of them. */
export interface GpuNodeLayout {
  /**
   * Where the NVIDIA driver's libraries are on the host, when the container runtime does not inject them (GKE's
   * COS: `/home/kubernetes/bin/nvidia`).
   * @default - the NVIDIA container runtime injects them (`NVIDIA_VISIBLE_DEVICES=all`)
   */
  readonly driverHostPath?: string;
  /** Whether the GPU device files are visible only to privileged containers or to pods that request a GPU. */
  readonly devicesOnlyForPrivileged: boolean;
}

/** Everything mlstack's constructs need to know about one cloud. */
export interface CloudProfile {
  readonly cloud: Cloud;
  /** The cloud's name in messages. */
  readonly displayName: string;
  /** Its managed Kubernetes service, in messages. */
  readonly kubernetesService: string;
  /** How a user passes their own network to a GpuCluster. */
  readonly networkFactory: string;
  /** How a user passes the cluster they already run, for messages. */
  readonly existingClusterFactory: string;
  /** How zone names are written. */
  readonly zones: { readonly pattern: RegExp; readonly description: string };
  /**
   * Labels and taints the cloud puts on spot nodes itself. mlstack declares them on the pool, so that the
   * cloud's IaC sees no drift and workloads derive their tolerations from the pool.
   */
  readonly spotNodes: {
    readonly labels: Readonly<Record<string, string>>;
    readonly taints: readonly Taint[];
    /**
     * Labels only spot nodes of a spot pool carry, for workloads' node selectors: GKE labels Spot VM nodes
     * `cloud.google.com/gke-spot=true`; AKS Spot pools carry `kubernetes.azure.com/scalesetpriority=spot`; none on
     * EKS, where a Karpenter spot pool falls back to on-demand.
     */
    readonly selector: Readonly<Record<string, string>>;
  };
  /**
   * Who creates MIG partitions: the cloud (from the node pool's settings), or NVIDIA's MIG manager on the
   * cluster, told by a node label.
   */
  readonly migPartitioning: 'cloud' | 'mig-manager';
  /** How GPU nodes expose their GPUs. */
  readonly gpuNodes: GpuNodeLayout;
  /** Whether the cloud's edge service runs containers on devices (the EdgeFleet then needs an image). */
  readonly edgeDevicesRunContainers: boolean;
  /** The cloud's object storage SDK for Python (what MLflow needs for its artifact store), pinned. */
  readonly pythonStoragePackages: readonly string[];
  /** Whether mlstack can put an ingress behind the cloud's identity-aware proxy (GKE's IAP). */
  readonly identityAwareProxy: boolean;
  /** Managed PostgreSQL. */
  readonly postgres: PostgresCatalog;
}

/** The catalog. */
export const CLOUD_PROFILES: Readonly<Record<Cloud, CloudProfile>> = {
  aws: {
    cloud: 'aws',
    displayName: 'AWS',
    kubernetesService: 'EKS',
    networkFactory: "EksNetwork.fromVpc(vpc, { subnets }) from 'mlstack/aws'",
    existingClusterFactory:
      "EksExistingCluster.fromAttributes({ clusterName, clusterSecurityGroupId, podIdentityAgent }) from 'mlstack/aws'",
    zones: { pattern: /^[a-z]{2}-[a-z]+-\d[a-z]$/, description: "AWS zone names such as 'us-east-1a'" },
    // EKS labels Spot nodes eks.amazonaws.com/capacityType=SPOT and taints nothing.
    spotNodes: { labels: {}, taints: [], selector: {} },
    migPartitioning: 'mig-manager',
    gpuNodes: { devicesOnlyForPrivileged: false },
    edgeDevicesRunContainers: false,
    pythonStoragePackages: ['boto3==1.35.90'],
    identityAwareProxy: false,
    postgres: {
      instanceTypes: [
        'db.t4g.micro',
        'db.t4g.small',
        'db.t4g.medium',
        'db.t4g.large',
        'db.m7g.large',
        'db.m7g.xlarge',
        'db.m7g.2xlarge',
        'db.r7g.large',
        'db.r7g.xlarge',
        'db.r7g.2xlarge',
      ],
      defaults: { development: 'db.t4g.medium', production: 'db.m7g.large' },
      minStorageGiB: 20,
      backupDays: [1, 35],
      backupsCanBeOff: true,
    },
  },
  gcp: {
    cloud: 'gcp',
    displayName: 'Google Cloud',
    kubernetesService: 'GKE',
    networkFactory:
      "GkeNetwork.fromNetwork({ network, subnetwork, podsRange, servicesRange }) from 'mlstack/gcp'",
    existingClusterFactory: "GkeExistingCluster.fromName({ name, location }) from 'mlstack/gcp'",
    zones: { pattern: /^[a-z]+-[a-z]+\d-[a-z]$/, description: "GCP zone names such as 'us-central1-a'" },
    // GKE labels Spot nodes cloud.google.com/gke-spot=true and taints nothing unless asked.
    spotNodes: { labels: {}, taints: [], selector: { 'cloud.google.com/gke-spot': 'true' } },
    migPartitioning: 'cloud',
    gpuNodes: { driverHostPath: '/home/kubernetes/bin/nvidia', devicesOnlyForPrivileged: true },
    edgeDevicesRunContainers: true,
    pythonStoragePackages: ['google-cloud-storage==2.19.0'],
    identityAwareProxy: true,
    postgres: {
      instanceTypes: [
        'db-custom-1-3840',
        'db-custom-2-7680',
        'db-custom-4-15360',
        'db-custom-8-30720',
        'db-custom-16-61440',
      ],
      defaults: { development: 'db-custom-2-7680', production: 'db-custom-2-7680' },
      minStorageGiB: 20,
      backupDays: [1, 365],
      backupsCanBeOff: true,
    },
  },
  azure: {
    cloud: 'azure',
    displayName: 'Azure',
    kubernetesService: 'AKS',
    networkFactory: "AksNetwork.fromSubnet({ subnetId, addressPrefix }) from 'mlstack/azure'",
    existingClusterFactory: "AksExistingCluster.fromId(clusterResourceId) from 'mlstack/azure'",
    zones: { pattern: /^[1-3]$/, description: "Azure zone numbers '1', '2' or '3'" },
    spotNodes: {
      labels: { 'kubernetes.azure.com/scalesetpriority': 'spot' },
      taints: [
        { key: 'kubernetes.azure.com/scalesetpriority', value: 'spot', effect: TaintEffect.NO_SCHEDULE },
      ],
      selector: { 'kubernetes.azure.com/scalesetpriority': 'spot' },
    },
    migPartitioning: 'cloud',
    gpuNodes: { devicesOnlyForPrivileged: false },
    edgeDevicesRunContainers: true,
    pythonStoragePackages: ['azure-storage-blob==12.24.0', 'azure-identity==1.19.0'],
    identityAwareProxy: false,
    postgres: {
      instanceTypes: [
        'B_Standard_B1ms',
        'B_Standard_B2s',
        'B_Standard_B2ms',
        'GP_Standard_D2ds_v5',
        'GP_Standard_D4ds_v5',
        'GP_Standard_D8ds_v5',
        'MO_Standard_E2ds_v5',
        'MO_Standard_E4ds_v5',
      ],
      defaults: { development: 'B_Standard_B2s', production: 'GP_Standard_D2ds_v5' },
      minStorageGiB: 32,
      backupDays: [7, 35],
      backupsCanBeOff: false,
      noHighAvailability: { prefix: 'B_', tier: 'Burstable tier' },
    },
  },
};

/** The profile of a cloud. */
export function cloudProfile(cloud: Cloud): CloudProfile {
  return CLOUD_PROFILES[cloud];
}
