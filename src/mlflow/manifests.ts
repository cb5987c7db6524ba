import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { defaultDenyIngress, defaultEgress, type EgressEndpoint } from '../k8s/network-policy';
import { Ingress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { namespaceWithPodSecurity } from '../k8s/namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { ValidatableObject } from '../k8s/manifest';
import { container, restricted, RESTRICTED_POD_SECURITY } from '../k8s/pod';

/** The port of the tracking database (every cloud's managed PostgreSQL listens on it). */
const POSTGRES_PORT = 5432;

/**
 * The pinned MLflow image.
 * @see https://github.com/mlflow/mlflow/pkgs/container/mlflow
 */
export const MLFLOW_IMAGE = 'ghcr.io/mlflow/mlflow:v2.19.0';

/** The port MLflow serves its UI, REST API and artifact proxy on. */
export const MLFLOW_PORT = 5000;

/**
 * Python packages the pinned image lacks for a PostgreSQL backend and each cloud's artifact store; installed by
 * an init container into a shared volume when no image is given (bake them into your own image for production).
 */
export const MLFLOW_EXTRA_PACKAGES = ['psycopg2-binary==2.9.10'] as const;

/** Where the connection secret is written inside the pod (a memory-backed volume). */
export const DB_SECRET_FILE = '/secrets/db.json';

/** How the ingress authenticates users. */
export type MlflowIngressAuth =
  | { readonly kind: 'basic'; readonly secretName: string }
  | { readonly kind: 'iap'; readonly oauthSecretName: string };

/** Everything the MLflow workload needs, resolved. */
export interface MlflowWorkloadSpec {
  readonly name: string;
  readonly namespace: string;
  readonly image: string;
  readonly replicas: number;
  readonly workers: number;
  readonly resources: { readonly cpu: string; readonly memory: string };
  readonly serviceAccount: { readonly name: string; readonly annotations: Readonly<Record<string, string>> };
  readonly podLabels: Readonly<Record<string, string>>;
  /** Fetches the connection secret into {@link DB_SECRET_FILE}. */
  readonly fetchSecret: IContainer;
  /** Packages to install at start (none when the image has them). */
  readonly extraPackages: readonly string[];
  readonly artifactsDestination: string;
  readonly env: Readonly<Record<string, string>>;
  readonly clientNamespaces: readonly string[];
  /**
   * The cloud's credential endpoints the pods call (IDENTITY_ENDPOINTS), which the namespace's egress policy admits.
   * @default [] — none (Azure)
   */
  readonly identityEndpoints?: readonly EgressEndpoint[];
  readonly ingress?: {
    readonly host: string;
    readonly tlsSecretName: string;
    readonly className: string;
    readonly controllerNamespace: string;
    readonly auth: MlflowIngressAuth;
  };
}

/** Source ranges of Google Cloud load balancers and health checks. */
const GOOGLE_LB_RANGES = ['35.191.0.0/16', '130.211.0.0/22'];

/** Builds the backend store URI from the connection secret, quoting the user and password. */
const URI_SCRIPT = [
  'import json, urllib.parse as u',
  `c = json.load(open("${DB_SECRET_FILE}"))`,
  'print("postgresql://%s:%s@%s:%s/%s?sslmode=require" % (u.quote(c["username"], safe=""), u.quote(c["password"], safe=""), c["host"], c.get("port", 5432), c["dbname"]))',
].join('; ');

/**
 * The Kubernetes objects of an MLflow tracking server and model registry: Namespace, ServiceAccount, Deployment
 * (credentials fetched at start into a memory volume, never in the manifest), Service on 5000, PDB,
 * NetworkPolicy (declared client namespaces only) and an optional TLS Ingress with authentication.
 */
export function mlflowManifests(spec: MlflowWorkloadSpec): ValidatableObject[] {
  const labels = { 'app.kubernetes.io/name': spec.name, 'app.kubernetes.io/managed-by': 'mlstack' };
  const metadata = (name: string, extra: Record<string, string> = {}) => ({
    name,
    namespace: spec.namespace,
    labels: { ...labels, ...extra },
  });
  const deps = spec.extraPackages.length > 0;
  const initContainers: IContainer[] = [
    restricted(spec.fetchSecret, [
      { name: 'secrets', mountPath: '/secrets' },
      { name: 'tmp', mountPath: '/tmp' },
    ]),
    ...(deps
      ? [
          container({
            name: 'install-packages',
            image: spec.image,
            command: [
              'pip',
              'install',
              '--no-cache-dir',
              '--quiet',
              '--target',
              '/deps',
              ...spec.extraPackages,
            ],
            env: [{ name: 'HOME', value: '/tmp' }],
            resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } },
            volumeMounts: [
              { name: 'deps', mountPath: '/deps' },
              { name: 'tmp', mountPath: '/tmp' },
            ],
          }),
        ]
      : []),
  ];
  const server = [
    `export MLFLOW_BACKEND_STORE_URI="$(python3 -c '${URI_SCRIPT}')"`,
    `exec mlflow server --host 0.0.0.0 --port ${MLFLOW_PORT} --workers ${spec.workers}` +
      ` --artifacts-destination ${spec.artifactsDestination} --serve-artifacts`,
  ].join('\n');
  const probe = { httpGet: { path: '/health', port: 'http' } };
  const objects: ValidatableObject[] = [
    namespaceWithPodSecurity({ name: spec.namespace, labels, podSecurity: 'restricted' }),
    new ServiceAccount({
      metadata: {
        ...metadata(spec.serviceAccount.name),
        ...(Object.keys(spec.serviceAccount.annotations).length
          ? { annotations: { ...spec.serviceAccount.annotations } }
          : {}),
      },
    }),
    new Deployment({
      metadata: metadata(spec.name),
      spec: {
        replicas: spec.replicas,
        selector: { matchLabels: { ...labels } },
        strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
        template: {
          metadata: { labels: { ...labels, ...spec.podLabels } },
          spec: {
            serviceAccountName: spec.serviceAccount.name,
            securityContext: { ...RESTRICTED_POD_SECURITY },
            initContainers,
            containers: [
              container({
                name: 'mlflow',
                image: spec.image,
                command: ['sh', '-ec', server],
                env: [
                  { name: 'HOME', value: '/tmp' },
                  ...(deps ? [{ name: 'PYTHONPATH', value: '/deps' }] : []),
                  ...Object.entries(spec.env).map(([name, value]) => ({ name, value })),
                ],
                ports: [{ name: 'http', containerPort: MLFLOW_PORT, protocol: 'TCP' }],
                readinessProbe: { ...probe, periodSeconds: 10, failureThreshold: 3 },
                livenessProbe: { ...probe, periodSeconds: 20, failureThreshold: 3 },
                startupProbe: { ...probe, periodSeconds: 10, failureThreshold: 30 },
                resources: {
                  requests: { cpu: spec.resources.cpu, memory: spec.resources.memory },
                  limits: { memory: spec.resources.memory },
                },
                volumeMounts: [
                  { name: 'secrets', mountPath: '/secrets', readOnly: true },
                  { name: 'tmp', mountPath: '/tmp' },
                  ...(deps ? [{ name: 'deps', mountPath: '/deps', readOnly: true }] : []),
                ],
              }),
            ],
            volumes: [
              { name: 'secrets', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } },
              { name: 'tmp', emptyDir: {} },
              ...(deps ? [{ name: 'deps', emptyDir: {} }] : []),
            ],
            topologySpreadConstraints: [
              {
                maxSkew: 1,
                topologyKey: 'topology.kubernetes.io/zone',
                whenUnsatisfiable: 'ScheduleAnyway',
                labelSelector: { matchLabels: { ...labels } },
              },
            ],
          },
        },
      },
    }),
    new Service({
      metadata: {
        ...metadata(spec.name),
        ...(spec.ingress?.auth.kind === 'iap'
          ? {
              annotations: {
                'cloud.google.com/backend-config': JSON.stringify({ default: spec.name }),
                'cloud.google.com/neg': JSON.stringify({ ingress: true }),
              },
            }
          : {}),
      },
      spec: {
        type: 'ClusterIP',
        selector: { ...labels },
        ports: [{ name: 'http', port: MLFLOW_PORT, targetPort: 'http', protocol: 'TCP' }],
      },
    }),
    new PodDisruptionBudget({
      metadata: metadata(spec.name),
      spec: { maxUnavailable: 1, selector: { matchLabels: { ...labels } } },
    }),
    defaultDenyIngress(spec.namespace),
    // Egress: DNS, HTTPS (artifact store, secret store, PyPI for extraPackages), the cloud's credentials, and
    // PostgreSQL on its private address.
    defaultEgress({
      namespace: spec.namespace,
      identity: spec.identityEndpoints ?? [],
      extra: [{ port: POSTGRES_PORT }],
    }),
    new NetworkPolicy({
      metadata: metadata(spec.name),
      spec: {
        podSelector: { matchLabels: { ...labels } },
        policyTypes: ['Ingress'],
        ingress: [
          {
            from: [
              ...new Set([
                spec.namespace,
                ...spec.clientNamespaces,
                ...(spec.ingress ? [spec.ingress.controllerNamespace] : []),
              ]),
            ]
              .map((ns): INetworkPolicyPeer => ({
                namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
              }))
              // A GKE ingress (IAP) reaches pods from Google's load balancer ranges, not from a namespace.
              .concat(
                spec.ingress?.auth.kind === 'iap'
                  ? GOOGLE_LB_RANGES.map((cidr) => ({ ipBlock: { cidr } }))
                  : [],
              ),
            ports: [{ port: MLFLOW_PORT, protocol: 'TCP' }],
          },
        ],
      },
    }),
  ];
  if (spec.ingress) {
    const i = spec.ingress;
    const annotations: Record<string, string> =
      i.auth.kind === 'basic'
        ? {
            'nginx.ingress.kubernetes.io/auth-type': 'basic',
            'nginx.ingress.kubernetes.io/auth-secret': i.auth.secretName,
            'nginx.ingress.kubernetes.io/auth-realm': 'MLflow',
            'nginx.ingress.kubernetes.io/proxy-body-size': '0',
          }
        : {};
    objects.push(
      new Ingress({
        metadata: { ...metadata(spec.name), annotations },
        spec: {
          ingressClassName: i.className,
          tls: [{ hosts: [i.host], secretName: i.tlsSecretName }],
          rules: [
            {
              host: i.host,
              http: {
                paths: [
                  {
                    path: '/',
                    pathType: 'Prefix',
                    backend: { service: { name: spec.name, port: { name: 'http' } } },
                  },
                ],
              },
            },
          ],
        },
      }),
    );
    if (i.auth.kind === 'iap')
      objects.push(backendConfig(spec.name, spec.namespace, i.auth.oauthSecretName, labels));
  }
  return objects;
}

/**
 * A GKE BackendConfig that puts Identity-Aware Proxy in front of the Service (no typed model on npm: the fields
 * GKE requires are checked here).
 * @see https://cloud.google.com/iap/docs/enabling-kubernetes-howto
 */
function backendConfig(
  name: string,
  namespace: string,
  oauthSecretName: string,
  labels: Record<string, string>,
): ValidatableObject {
  const json = {
    apiVersion: 'cloud.google.com/v1',
    kind: 'BackendConfig',
    metadata: { name, namespace, labels: { ...labels } },
    spec: {
      iap: { enabled: true, oauthclientCredentials: { secretName: oauthSecretName } },
      healthCheck: { type: 'HTTP', requestPath: '/health', port: MLFLOW_PORT },
    },
  };
  return {
    ...json,
    validate() {
      if (!/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(oauthSecretName)) {
        throw new Error(
          `BackendConfig ${namespace}/${name}: spec.iap.oauthclientCredentials.secretName is not a name`,
        );
      }
    },
    toJSON: () => json,
  };
}
