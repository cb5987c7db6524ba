import { IDENTITY_ENDPOINTS } from '../src/k8s/network-policy';
import { Construct } from 'constructs';
import type { KubernetesManifest } from '../src/k8s/manifest';
import {
  DB_SECRET_FILE,
  MLFLOW_EXTRA_PACKAGES,
  MLFLOW_IMAGE,
  MLFLOW_PORT,
  type MlflowIngressAuth,
  mlflowManifests,
} from '../src/mlflow/manifests';
import { CLOUD_PROFILES, cloudProfile } from '../src/spec/clouds';
import { Validator } from '../src/spec/errors';
import {
  MlStack,
  type ObjectStoreCapability,
  type PostgresCapability,
  type WorkloadIdentityCapability,
} from '../stacks/ml-stack';
import { type GpuCluster } from './gpu-cluster';
import { requireClusterProp } from './private/cluster-prop';

/** How users authenticate at the MLflow ingress. */
export class MlflowAuth {
  /**
   * HTTP basic auth by ingress-nginx from an htpasswd Secret in the MLflow namespace
   * (`kubectl -n mlflow create secret generic mlflow-users --from-file=auth=./htpasswd`).
   */
  public static basic(secretName: string): MlflowAuth {
    return new MlflowAuth({ kind: 'basic', secretName });
  }

  /**
   * Google Cloud Identity-Aware Proxy in front of a GKE ingress (GCP only): users sign in with Google accounts
   * that hold `roles/iap.httpsResourceAccessor`. `oauthSecretName` holds the OAuth client's `client_id` and
   * `client_secret`.
   */
  public static identityAwareProxy(oauthSecretName: string): MlflowAuth {
    return new MlflowAuth({ kind: 'iap', oauthSecretName });
  }

  private constructor(
    /** @internal */
    public readonly spec: MlflowIngressAuth,
  ) {}
}

/** The managed PostgreSQL backend store. */
export interface MlflowDatabaseProps {
  /**
   * The cloud's instance type. Allowed: AWS `db.t4g.{micro,small,medium,large}`, `db.m7g.{large,xlarge,2xlarge}`,
   * `db.r7g.{large,xlarge,2xlarge}`; GCP `db-custom-{1-3840,2-7680,4-15360,8-30720,16-61440}`; Azure
   * `B_Standard_{B1ms,B2s,B2ms}`, `GP_Standard_D{2,4,8}ds_v5`, `MO_Standard_E{2,4}ds_v5`.
   * @default - AWS db.t4g.medium / db.m7g.large, GCP db-custom-2-7680, Azure B_Standard_B2s / GP_Standard_D2ds_v5 (non-production / production)
   */
  readonly instanceType?: string;
  /**
   * Storage in GiB (grows automatically on every cloud).
   * @default 20 (32 on Azure, its minimum)
   */
  readonly storageGiB?: number;
  /**
   * Days of automated backups. 0 needs `unsafe.allowNoBackups` (AWS, GCP; Azure always keeps 7 to 35).
   * @default 14 for production, else 7
   */
  readonly backupRetentionDays?: number;
  /**
   * A standby in another zone with automatic failover (Multi-AZ, regional, zone-redundant).
   * @default - the value of `production`
   */
  readonly highAvailability?: boolean;
  /**
   * Reachable from the internet. Needs `unsafe.allowPublicDatabase`.
   * @default false
   */
  readonly publiclyAccessible?: boolean;
}

/** The artifact store. */
export interface MlflowArtifactsProps {
  /**
   * Days after which old versions of overwritten or deleted artifacts are deleted.
   * @default 90
   */
  readonly noncurrentVersionDays?: number;
  /**
   * Days after which artifacts move to infrequent-access storage.
   * @default - never
   */
  readonly infrequentAccessAfterDays?: number;
  /**
   * Must stay true: every cloud encrypts object storage at rest and none can turn it off; `false` is an error
   * rather than a silent no-op.
   * @default true
   */
  readonly encrypted?: boolean;
  /**
   * Physical bucket (storage account on Azure) name.
   * @default - derived from the stack and construct path
   */
  readonly bucketName?: string;
}

/** An HTTPS ingress for people and tools outside the cluster. */
export interface MlflowIngressProps {
  /** The host name, e.g. `mlflow.example.com`. */
  readonly host: string;
  /** The TLS Secret (e.g. from cert-manager) in the MLflow namespace. */
  readonly tlsSecretName: string;
  /** Who may in. */
  readonly auth: MlflowAuth;
  /**
   * The IngressClass.
   * @default nginx (gce with identity-aware proxy)
   */
  readonly className?: string;
  /**
   * Namespace of the ingress controller, let through the NetworkPolicy.
   * @default ingress-nginx
   */
  readonly controllerNamespace?: string;
}

/** Explicit, named escape hatches from the secure defaults. */
export interface MlflowUnsafeProps {
  /**
   * Allow `database.publiclyAccessible: true`.
   * @default false
   */
  readonly allowPublicDatabase?: boolean;
  /**
   * Allow `database.backupRetentionDays: 0`.
   * @default false
   */
  readonly allowNoBackups?: boolean;
}

/** Props of {@link MlflowTracking}. */
export interface MlflowTrackingProps {
  /** The cluster that runs the server; the database and bucket go into its network and region. */
  readonly cluster: GpuCluster;
  /**
   * Production defaults: high availability, 14 days of backups, larger instances, two replicas.
   * @default false
   */
  readonly production?: boolean;
  /**
   * The backend store.
   * @default - see MlflowDatabaseProps
   */
  readonly database?: MlflowDatabaseProps;
  /**
   * The artifact store.
   * @default - see MlflowArtifactsProps
   */
  readonly artifacts?: MlflowArtifactsProps;
  /**
   * Namespace of the server.
   * @default mlflow
   */
  readonly namespace?: string;
  /**
   * Namespaces whose pods may reach the server (training jobs, notebooks).
   * @default []
   */
  readonly clientNamespaces?: string[];
  /**
   * An HTTPS ingress with authentication.
   * @default - reachable inside the cluster only
   */
  readonly ingress?: MlflowIngressProps;
  /**
   * Server replicas.
   * @default 2 for production, else 1
   */
  readonly replicas?: number;
  /**
   * The MLflow image. When set it must contain psycopg2 and the cloud's storage SDK (see docs/mlflow.md);
   * when unset, the pinned official image gets them installed by an init container at start.
   * @default ghcr.io/mlflow/mlflow:v2.19.0 with packages installed at start
   */
  readonly image?: string;
  /**
   * Escape hatches from the secure defaults.
   * @default - none
   */
  readonly unsafe?: MlflowUnsafeProps;
}

const HOST = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$/;

/**
 * An MLflow tracking server and model registry on a {@link GpuCluster}: the cloud's managed PostgreSQL in the
 * cluster's private network as backend store, a private, encrypted, versioned bucket as artifact store (served
 * through the server with `--serve-artifacts`), generated credentials kept in the cloud's secret store and fetched
 * at start with the server's workload identity, which can read and write that bucket only.
 *
 * @example
 * const mlflow = new MlflowTracking(stack, 'Mlflow', { cluster, production: true, clientNamespaces: ['training'] });
 * // training jobs: MLFLOW_TRACKING_URI = mlflow.trackingUri
 */
export class MlflowTracking extends Construct {
  /** The in-cluster tracking URI, for `MLFLOW_TRACKING_URI`. */
  public readonly trackingUri: string;
  /** The external URI when an ingress is configured. */
  public readonly externalUri?: string;
  /** The namespace. */
  public readonly namespace: string;
  /** The backend store. */
  public readonly database: PostgresCapability;
  /** The artifact store. */
  public readonly artifactStore: ObjectStoreCapability;
  /** The cloud identity of its pods (read and write on its bucket). */
  public readonly identity: WorkloadIdentityCapability;
  /** The Kubernetes objects. */
  public readonly manifests: readonly KubernetesManifest[];

  constructor(scope: Construct, id: string, props: MlflowTrackingProps) {
    super(scope, id);
    const where = `MlflowTracking '${this.node.path}'`;
    const v: Validator = new Validator(where);
    const cluster = requireClusterProp(v, props?.cluster, this, 'runs MLflow', 'MlflowTracking');
    const stack = MlStack.of(this);
    const cloud = stack.cloud;
    const profile = cloudProfile(cloud);
    const pg = profile.postgres;
    const production = props.production ?? false;
    const unsafe = props.unsafe ?? {};
    const db = props.database ?? {};

    const instanceType = db.instanceType ?? pg.defaults[production ? 'production' : 'development'];
    if (!pg.instanceTypes.includes(instanceType)) {
      v.fail(
        'database.instanceType',
        instanceType,
        `is not an instance type mlstack supports on ${cloud}`,
        `Use one of ${pg.instanceTypes.join(', ')}.`,
      );
    }
    const highAvailability = db.highAvailability ?? production;
    const noHa = pg.noHighAvailability;
    if (highAvailability && noHa && instanceType.startsWith(noHa.prefix)) {
      v.fail(
        'database.highAvailability',
        true,
        `is not available on ${profile.displayName}'s ${noHa.tier} (${instanceType})`,
        `Use one of ${pg.instanceTypes.filter((t) => !t.startsWith(noHa.prefix)).join(', ')}, or set highAvailability: false.`,
      );
    }
    const storageGiB = db.storageGiB ?? pg.minStorageGiB;
    v.integer('database.storageGiB', storageGiB, pg.minStorageGiB, 16384);
    const backupRetentionDays = db.backupRetentionDays ?? (production ? 14 : 7);
    const [minDays, maxDays] = pg.backupDays;
    if (backupRetentionDays === 0) {
      if (!pg.backupsCanBeOff) {
        v.fail(
          'database.backupRetentionDays',
          0,
          `is not possible on ${profile.displayName}, which always keeps ${minDays} to ${maxDays} days`,
          `Use a value from ${minDays} to ${maxDays}.`,
        );
      }
      if (!unsafe.allowNoBackups) {
        v.fail(
          'database.backupRetentionDays',
          0,
          'turns automated backups of the tracking database off',
          `Keep ${minDays}-${maxDays} days, or set unsafe: { allowNoBackups: true } if losing every run is acceptable.`,
        );
      }
    } else {
      v.integer('database.backupRetentionDays', backupRetentionDays, minDays, maxDays);
    }
    const publiclyAccessible = db.publiclyAccessible ?? false;
    if (publiclyAccessible && !unsafe.allowPublicDatabase) {
      v.fail(
        'database.publiclyAccessible',
        true,
        'would expose the tracking database to the internet',
        'Keep it private (clients reach MLflow, not the database), or set unsafe: { allowPublicDatabase: true }.',
      );
    }

    const artifacts = props.artifacts ?? {};
    if (artifacts.encrypted === false) {
      v.fail(
        'artifacts.encrypted',
        false,
        'cannot be honoured: S3, Cloud Storage and Blob storage always encrypt at rest',
        'Remove the prop.',
      );
    }
    const noncurrentVersionDays = artifacts.noncurrentVersionDays ?? 90;
    v.integer('artifacts.noncurrentVersionDays', noncurrentVersionDays, 1, 3650);
    if (artifacts.infrequentAccessAfterDays !== undefined) {
      v.integer('artifacts.infrequentAccessAfterDays', artifacts.infrequentAccessAfterDays, 30, 3650);
    }

    this.namespace = props.namespace ?? 'mlflow';
    v.dnsLabel('namespace', this.namespace);
    (props.clientNamespaces ?? []).forEach((ns, i) => v.dnsLabel(`clientNamespaces[${i}]`, ns));
    const replicas = props.replicas ?? (production ? 2 : 1);
    v.integer('replicas', replicas, 1, 20);
    if (props.image !== undefined) v.image('image', props.image, 'registry.example.com/mlflow:2.19.0');

    let ingress: Parameters<typeof mlflowManifests>[0]['ingress'];
    if (props.ingress) {
      const i = props.ingress;
      if (typeof i.host !== 'string' || !HOST.test(i.host)) {
        v.fail('ingress.host', i.host, 'is not a DNS host name', "Use a name such as 'mlflow.example.com'.");
      }
      v.dnsLabel('ingress.tlsSecretName', i.tlsSecretName, 253);
      if (!(i.auth instanceof MlflowAuth)) {
        v.fail(
          'ingress.auth',
          i.auth,
          'is not an MlflowAuth',
          "Use MlflowAuth.basic('secret') or MlflowAuth.identityAwareProxy('secret'): an ingress without authentication would publish every run and model.",
        );
      }
      const auth = i.auth.spec;
      if (auth.kind === 'iap' && !profile.identityAwareProxy) {
        v.fail(
          'ingress.auth',
          'identityAwareProxy',
          `is ${Object.values(CLOUD_PROFILES)
            .filter((c) => c.identityAwareProxy)
            .map((c) => c.displayName)
            .join(' and ')}'s; there is no equivalent mlstack configures on ${cloud}`,
          'Use MlflowAuth.basic(secretName), or an OIDC proxy (oauth2-proxy) in front of ingress-nginx.',
        );
      }
      v.dnsLabel('ingress.auth', auth.kind === 'basic' ? auth.secretName : auth.oauthSecretName, 253);
      const controllerNamespace = i.controllerNamespace ?? 'ingress-nginx';
      v.dnsLabel('ingress.controllerNamespace', controllerNamespace);
      ingress = {
        host: i.host,
        tlsSecretName: i.tlsSecretName,
        className: i.className ?? (auth.kind === 'iap' ? 'gce' : 'nginx'),
        controllerNamespace,
        auth,
      };
      this.externalUri = `https://${i.host}`;
    }

    this.database = cluster.addPostgres(this, 'Database', {
      purpose: `MLflow tracking server ${this.node.path}`,
      databaseName: 'mlflow',
      username: 'mlflow',
      instanceType,
      version: '16',
      storageGiB,
      backupRetentionDays,
      highAvailability,
      publiclyAccessible,
    });
    this.artifactStore = cluster.addObjectStore(this, 'Artifacts', {
      purpose: `MLflow artifacts of ${this.node.path}`,
      ...(artifacts.bucketName ? { name: artifacts.bucketName } : {}),
      contents: [],
      retain: true,
      lifecycle: {
        noncurrentVersionDays,
        ...(artifacts.infrequentAccessAfterDays
          ? { infrequentAccessAfterDays: artifacts.infrequentAccessAfterDays }
          : {}),
      },
    });
    const identity = (this.identity = cluster.addWorkloadIdentity(this, 'Identity', {
      namespace: this.namespace,
      serviceAccount: 'mlflow',
      read: [],
      readWrite: [this.artifactStore],
      secrets: [this.database.connectionSecret],
    }));
    this.database.enableIdentityLogin?.(identity);

    const fetch = this.database.connectionSecret.fetchContainer(DB_SECRET_FILE);
    const objects = mlflowManifests({
      name: 'mlflow',
      namespace: this.namespace,
      image: props.image ?? MLFLOW_IMAGE,
      replicas,
      workers: production ? 4 : 2,
      resources: production ? { cpu: '1', memory: '2Gi' } : { cpu: '500m', memory: '1Gi' },
      serviceAccount: { name: 'mlflow', annotations: identity.serviceAccountAnnotations },
      podLabels: identity.podLabels,
      fetchSecret: fetch.container,
      extraPackages: props.image ? [] : [...MLFLOW_EXTRA_PACKAGES, ...profile.pythonStoragePackages],
      artifactsDestination: this.artifactStore.pythonUri('artifacts'),
      env: {},
      clientNamespaces: props.clientNamespaces ?? [],
      identityEndpoints: IDENTITY_ENDPOINTS[stack.cloud],
      ...(ingress ? { ingress } : {}),
    });
    this.manifests = cluster.addManifest(`Mlflow-${id}`, ...objects);
    this.trackingUri = `http://mlflow.${this.namespace}.svc.cluster.local:${MLFLOW_PORT}`;
    stack.addOutput(this, 'TrackingUri', this.trackingUri, 'MLFLOW_TRACKING_URI for pods in the cluster');
    if (this.externalUri)
      stack.addOutput(this, 'ExternalUri', this.externalUri, 'MLflow UI and API through the ingress');
  }
}
