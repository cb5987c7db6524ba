import { IDENTITY_ENDPOINTS } from '../src/k8s/network-policy';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import {
  CAPTURE_SHIP_DIR,
  type GatewayRef,
  type ModelRepositorySource,
  SERVING_PORTS,
  type ServingAutoscaling,
  servingManifests,
  TRITON_IMAGE,
} from '../src/serving/manifests';
import { queueTimeQuery } from '../src/k8s/keda';
import { ServingModel, writeModelRepository } from '../src/serving/model-repository';
import { checkServingPlacement, checkServingRequest, type ServingPlacement } from '../src/serving/placement';
import { renderTritonConfig } from '../src/inference/triton-config';
import type { AlertDestination } from '../src/monitoring/destinations';
import { Validator } from '../src/spec/errors';
import type { GpuType } from '../src/spec/gpu';
import type { KubernetesManifest } from '../src/k8s/manifest';
import { MlStack, type ObjectStoreCapability, type WorkloadIdentityCapability } from '../stacks/ml-stack';
import { listFiles, stageOnce } from '../src/synth/files';
import { SYNTH_OUTPUT, type SynthOutputFolder } from '../src/synth/output';
import { type GpuCluster } from './gpu-cluster';
import { checkDestinations } from './private/alerts';
import { requireClusterProp } from './private/cluster-prop';

/** The server that runs the models. */
export enum ServingRuntime {
  /** NVIDIA Triton Inference Server (pinned image), on GPUs or CPUs, HTTP 8000, gRPC 8001, metrics 8002. */
  TRITON = 'triton',
  /**
   * The mlstack ONNX Runtime server (`mlstack serve`), CPU only: the same KServe v2 HTTP API (with metrics) on 8000
   * and gRPC API on 8001.
   */
  ONNXRUNTIME = 'onnxruntime',
}

/** GPUs of each replica. */
export interface ServingGpuProps {
  /** The GPU model; the cluster must have a pool of it. */
  readonly type: GpuType;
  /**
   * GPUs per replica: at most what one node of the pool holds.
   * @default 1
   */
  readonly count?: number;
}

/** Replica bounds, for the HorizontalPodAutoscaler. */
export interface ServingReplicasProps {
  /**
   * Minimum replicas. Below 2 needs `allowSingleReplica`.
   * @default 2
   */
  readonly min?: number;
  /**
   * Maximum replicas.
   * @default - the larger of min and 4
   */
  readonly max?: number;
}

/** Queue-time autoscaling: the time requests wait before a model instance takes them. */
export interface QueueTimeScalingProps {
  /**
   * The mean queue time per request to hold, in milliseconds, across the service's replicas: above it KEDA adds
   * replicas in proportion (twice the target, twice the replicas), below it removes them after 5 minutes.
   */
  readonly targetMilliseconds: number;
  /**
   * The rate window of the query (at least four scrape intervals of 30 s).
   * @default '2m'
   */
  readonly window?: string;
}

/** How the service scales between `replicas.min` and `replicas.max`. Never to zero. */
export interface ServingAutoscalingProps {
  /**
   * Target average CPU utilisation, in percent of the request.
   * @default 70 without `queueTime`; not used with it unless set
   */
  readonly cpuUtilizationPercent?: number;
  /**
   * Scale on Triton's queue time (`nv_inference_queue_duration_us` ÷ `nv_inference_request_success`, which the
   * mlstack server exports too) read from the cluster's managed Prometheus by KEDA, which the cluster installs on
   * first use with a read-only query identity. Needs the metrics collected: `DcgmMonitoring` with
   * `PrometheusBackend.MANAGED` on the cluster (the synth wiring check says so otherwise).
   * @default - CPU utilisation only, through a HorizontalPodAutoscaler
   */
  readonly queueTime?: QueueTimeScalingProps;
}

/** A second model version taking a share of the traffic. */
export interface ServingCanaryProps {
  /** The canary model: it replaces the model of the same name in the canary's repository. */
  readonly model: ServingModel;
  /** Share of the replicas (and so of the traffic) that serve the canary, 1-99. */
  readonly weightPercent: number;
  /**
   * A Gateway API Gateway: an HTTPRoute attached to it splits the gateway's traffic between the stable and canary
   * Deployments by exactly `weightPercent` (the Gateway must allow routes from the service's namespace).
   * @default - traffic splits in the ratio of the replicas only
   */
  readonly gateway?: GatewayRef;
}

/** Props of {@link TritonService}. */
export interface TritonServiceProps {
  /** The cluster that runs the service. */
  readonly cluster: GpuCluster;
  /** The models to serve (at least one; names unique). */
  readonly models: ServingModel[];
  /**
   * The inference server.
   * @default ServingRuntime.TRITON
   */
  readonly runtime?: ServingRuntime;
  /**
   * GPUs of each replica (Triton only). The replicas land on the cluster's pool of that type, with its taints
   * tolerated, and models get a GPU instance group.
   * @default - CPU serving
   */
  readonly gpu?: ServingGpuProps;
  /**
   * Replica bounds.
   * @default { min: 2, max: 4 }
   */
  readonly replicas?: ServingReplicasProps;
  /**
   * Allow `replicas.min` of 1: no replica serves while a node drains or a rollout replaces the pod.
   * @default false
   */
  readonly allowSingleReplica?: boolean;
  /**
   * The name of the Kubernetes Service, Deployment and friends (a DNS label of at most 50 characters).
   * @default - the construct id, lowercased
   */
  readonly serviceName?: string;
  /**
   * The namespace, created with the service.
   * @default - the service name
   */
  readonly namespace?: string;
  /**
   * CPU and memory requests of each replica (memory limit = request, CPU limit = twice the request).
   * @default - Triton: 2 CPUs, 8Gi; ONNX Runtime server: 1 CPU, 2Gi
   */
  readonly resources?: { readonly cpu?: string; readonly memory?: string };
  /**
   * What the HorizontalPodAutoscaler follows.
   * @default - 70% CPU utilisation
   */
  readonly autoscaling?: ServingAutoscalingProps;
  /**
   * A canary: a second Deployment behind the same Service with a share of the replicas.
   * @default - no canary
   */
  readonly canary?: ServingCanaryProps;
  /**
   * Namespaces whose pods may call the service (NetworkPolicy). Its own namespace always may.
   * @default []
   */
  readonly clientNamespaces?: string[];
  /**
   * Where this service's latency and failure alerts go (DcgmMonitoring makes them), when not where the cluster's go.
   * @default - the cluster's destinations
   */
  readonly alerts?: AlertDestination[];
  /**
   * Namespace of the Prometheus that scrapes the metrics port.
   * @default monitoring
   */
  readonly monitoringNamespace?: string;
  /**
   * Write a prometheus-operator ServiceMonitor for the metrics port. Turn it off when the cluster runs no
   * prometheus-operator (its CRD would be missing and `kubectl apply` of the folder would fail), e.g. with
   * DcgmMonitoring's managed Prometheus, which collects the service itself.
   * @default true
   */
  readonly serviceMonitor?: boolean;
  /**
   * How long a replica may take to download and load its models before Kubernetes restarts it, in seconds.
   * @default 600
   */
  readonly startupTimeoutSeconds?: number;
  /**
   * The runtime image.
   * @default - Triton: the pinned `nvcr.io/nvidia/tritonserver` image; ONNX Runtime server: on AWS a Docker
   * image asset built from `docker/mlstack-server.Dockerfile` (needs the stack's account and region), elsewhere required
   */
  readonly image?: string;
  /**
   * Capture a sample of requests and responses for drift detection (the ONNX Runtime server only; Triton has no
   * request capture): the server writes them as JSON Lines and a sidecar ships them to the model bucket under
   * `capture/<service>/<model>/<yyyy-mm-dd>/` with the service's identity, for `DriftWindow.fromCapture(service)`.
   * @default - no capture
   */
  readonly capture?: ServingCaptureProps;
  /**
   * The physical name of the model bucket (S3, GCS) or storage account (Azure).
   * @default - derived from the stack and construct path, concrete at synth
   */
  readonly modelBucketName?: string;
}

/** Request capture of a {@link TritonService}. */
export interface ServingCaptureProps {
  /**
   * Share of requests captured, above 0 and at most 1.
   * @default 0.1
   */
  readonly sampleRate?: number;
  /**
   * Seconds one capture file collects rows, and between two shipments to the bucket (10 to 3600).
   * @default 300
   */
  readonly intervalSeconds?: number;
  /**
   * Days captured requests are kept in the bucket (1 to 3650); a lifecycle rule deletes them after that. They are
   * your users' inputs: keep them no longer than your drift windows and your data policy need.
   * @default 30
   */
  readonly retentionDays?: number;
}

const SERVICE_NAME_MAX = 50;
const CPU = /^(\d+(\.\d+)?|\d+m)$/;
const MEMORY = /^\d+(\.\d+)?(Ki|Mi|Gi|Ti|k|M|G|T)?$/;

/**
 * Model serving on a {@link GpuCluster}, on every cloud: Triton (GPU or CPU) or the mlstack ONNX Runtime server.
 *
 * At synth it writes the model repository (`<model>/config.pbtxt` generated from each ONNX signature or checked
 * against it, `<model>/<version>/model.onnx`), creates a private, encrypted, versioned bucket that holds it
 * (uploaded at deploy), a workload identity that can read only that bucket, and the Kubernetes objects:
 * Namespace, ServiceAccount, Deployment (and a canary Deployment), Service, HorizontalPodAutoscaler,
 * PodDisruptionBudget, ServiceMonitor and NetworkPolicy, with non-root, read-only, capability-free containers.
 *
 * @example
 * new TritonService(stack, 'Classifier', {
 *   cluster,
 *   models: [ServingModel.fromOnnxFile('models/classifier.onnx', { name: 'classifier' })],
 *   gpu: { type: GpuType.NVIDIA_L4 },
 *   replicas: { min: 2, max: 10 },
 * });
 */
export class TritonService extends Construct {
  /** The Kubernetes Service name. */
  public readonly serviceName: string;
  /** The namespace. */
  public readonly namespace: string;
  /** The runtime. */
  public readonly runtime: ServingRuntime;
  /** The models served (with their instance groups set for the placement). */
  public readonly models: readonly ServingModel[];
  /** Replica bounds. */
  public readonly replicas: { readonly min: number; readonly max: number };
  /** The bucket holding the repository. */
  public readonly modelStore: ObjectStoreCapability;
  /** The cloud identity of the serving pods (read on the model bucket). */
  public readonly identity: WorkloadIdentityCapability;
  /** In-cluster URL of the HTTP (KServe v2) endpoint. */
  public readonly url: string;
  /** In-cluster `host:port` of the KServe v2 gRPC endpoint (`inference.GRPCInferenceService`), on both runtimes. */
  public readonly grpcAddress: string;
  /**
   * Where captured requests go in {@link modelStore}, per model: `<capturePrefix>/<model>/<yyyy-mm-dd>/*.jsonl`.
   * Undefined without `capture`.
   */
  public readonly capturePrefix?: string;
  /** Days captured requests stay in the bucket (`capture.retentionDays`). Undefined without `capture`. */
  public readonly captureRetentionDays?: number;
  private readonly repositories: { suffix: string; dir: string }[] = [];
  private readonly placeOnCluster: () => ServingPlacement;
  private readonly objects: () => KubernetesManifest[];

  constructor(scope: Construct, id: string, props: TritonServiceProps) {
    super(scope, id);
    const stack = MlStack.of(this);
    const v: Validator = new Validator(`TritonService '${this.node.path}'`);

    const cluster = requireClusterProp(v, props?.cluster, this, 'runs the service', 'the TritonService');
    const alerts = props.alerts !== undefined ? checkDestinations(v, 'alerts', props.alerts) : undefined;

    this.serviceName = props.serviceName ?? id.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    v.dnsLabel('serviceName', this.serviceName, SERVICE_NAME_MAX);
    this.namespace = props.namespace ?? this.serviceName;
    v.dnsLabel('namespace', this.namespace);
    (props.clientNamespaces ?? []).forEach((ns, i) => v.dnsLabel(`clientNamespaces[${i}]`, ns));
    const monitoringNamespace = props.monitoringNamespace ?? 'monitoring';
    v.dnsLabel('monitoringNamespace', monitoringNamespace);

    this.runtime = props.runtime ?? ServingRuntime.TRITON;
    if (!Object.values(ServingRuntime).includes(this.runtime)) {
      v.fail(
        'runtime',
        this.runtime,
        'is not a ServingRuntime',
        'Use ServingRuntime.TRITON or ServingRuntime.ONNXRUNTIME.',
      );
    }

    if (!Array.isArray(props.models) || props.models.length === 0) {
      v.fail(
        'models',
        props.models,
        'must list at least one model',
        "Add ServingModel.fromOnnxFile('model.onnx', { name: 'model' }) or ServingModel.fromRepository(dir).",
      );
    }
    const names = new Set<string>();
    props.models.forEach((m, i) => {
      if (!(m instanceof ServingModel)) {
        v.fail(
          `models[${i}]`,
          m,
          'is not a ServingModel',
          'Use ServingModel.fromOnnxFile or ServingModel.fromRepository.',
        );
      }
      if (names.has(m.name)) {
        v.fail(
          `models[${i}].name`,
          m.name,
          'is used by another model',
          'Model names must be unique in a service.',
        );
      }
      names.add(m.name);
    });

    const where = `TritonService '${this.node.path}'`;
    const request = {
      runtime: this.runtime,
      ...(props.gpu ? { gpu: props.gpu } : {}),
      ...(props.replicas ? { replicas: props.replicas } : {}),
      ...(props.allowSingleReplica !== undefined ? { allowSingleReplica: props.allowSingleReplica } : {}),
    };
    this.replicas = checkServingRequest(where, request).replicas;
    this.node.addValidation({
      validate: () => {
        try {
          this.placeOnCluster();
          return [];
        } catch (e) {
          return [`${(e as Error).message} (GpuCluster '${cluster.node.path}')`];
        }
      },
    });
    const kind = props.gpu ? 'gpu' : 'cpu';
    this.models = props.models.map((m) => m.withInstanceGroup(kind, 1));

    let canaryModels: ServingModel[] | undefined;
    if (props.canary) {
      const c = props.canary;
      if (!(c.model instanceof ServingModel)) {
        v.fail('canary.model', c.model, 'is not a ServingModel', 'Use ServingModel.fromOnnxFile.');
      }
      if (!names.has(c.model.name)) {
        v.fail(
          'canary.model.name',
          c.model.name,
          `is not one of the served models (${[...names].join(', ')})`,
          'A canary replaces a served model: give it the name of the model it replaces.',
        );
      }
      v.integer('canary.weightPercent', c.weightPercent, 1, 99);
      if (c.gateway) {
        v.dnsLabel('canary.gateway.name', c.gateway.name);
        v.dnsLabel('canary.gateway.namespace', c.gateway.namespace);
        if (c.gateway.sectionName !== undefined)
          v.dnsLabel('canary.gateway.sectionName', c.gateway.sectionName);
        (c.gateway.hostnames ?? []).forEach((h, i) => {
          if (!/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(h)) {
            v.fail(
              `canary.gateway.hostnames[${i}]`,
              h,
              'is not a host name',
              "Use a DNS name such as 'models.example.com' or '*.example.com'.",
            );
          }
        });
      }
      if (this.replicas.min < 2) {
        v.fail(
          'replicas.min',
          this.replicas.min,
          'leaves no replica for the canary next to the stable Deployment',
          'Use at least 2 replicas with a canary.',
        );
      }
      const canary = c.model.withInstanceGroup(kind, 1);
      canaryModels = this.models.map((m) => (m.name === canary.name ? canary : m));
    }

    const defaults =
      this.runtime === ServingRuntime.TRITON ? { cpu: '2', memory: '8Gi' } : { cpu: '1', memory: '2Gi' };
    const resources = { ...defaults, ...(props.resources ?? {}) };
    if (!CPU.test(resources.cpu)) {
      v.fail(
        'resources.cpu',
        resources.cpu,
        'is not a CPU quantity',
        "Use cores ('2', '0.5') or millicores ('500m').",
      );
    }
    if (!MEMORY.test(resources.memory)) {
      v.fail(
        'resources.memory',
        resources.memory,
        'is not a memory quantity',
        "Use a quantity such as '8Gi' or '512Mi'.",
      );
    }

    const autoscaling = this.resolveAutoscaling(v, cluster, props.autoscaling);

    // The pool is found at synth, among every pool of the cluster, those added after this service included, and
    // must hold the service at its peak.
    const placementRequest = {
      ...request,
      resources,
      ...(props.canary ? { canaryWeightPercent: props.canary.weightPercent } : {}),
    };
    this.placeOnCluster = () =>
      checkServingPlacement(where, placementRequest, cluster.gpuPools, cluster.systemPool);

    const startupSeconds = props.startupTimeoutSeconds ?? 600;
    v.integer('startupTimeoutSeconds', startupSeconds, 30, 3600);

    let image = props.image;
    if (image !== undefined) v.image('image', image, 'registry.example.com/mlstack-server:0.1.0');
    if (!image && this.runtime === ServingRuntime.TRITON) image = TRITON_IMAGE;
    if (!image) {
      const built = stack.mlstackServerImage(this);
      if (built.image === undefined) {
        v.fail('image', undefined, `is required for ServingRuntime.ONNXRUNTIME ${built.reason}`, built.fix);
      }
      image = built.image;
    }

    // The repositories are written once per content, then uploaded by the cloud's deploy and copied into the
    // synth output by MlApp.
    const stable = stageRepository(this.models);
    this.repositories.push({ suffix: '', dir: stable.dir });
    const contents = [{ prefix: 'stable', dir: stable.dir, files: stable.files }];
    if (canaryModels) {
      const canary = stageRepository(canaryModels);
      this.repositories.push({ suffix: '-canary', dir: canary.dir });
      contents.push({ prefix: 'canary', dir: canary.dir, files: canary.files });
    }
    this.modelStore = cluster.addObjectStore(this, 'ModelBucket', {
      purpose: `model repository of ${this.serviceName}`,
      ...(props.modelBucketName ? { name: props.modelBucketName } : {}),
      contents,
    });
    let capture: { sampleRate: number; intervalSeconds: number } | undefined;
    if (props.capture !== undefined) {
      if (this.runtime === ServingRuntime.TRITON) {
        v.fail(
          'capture',
          props.capture,
          'is not possible with the Triton runtime, which has no request capture',
          'Use runtime: ServingRuntime.ONNXRUNTIME (the mlstack server captures), or capture in your client and write the windows yourself.',
        );
      }
      const rate = props.capture.sampleRate ?? 0.1;
      if (!(typeof rate === 'number' && rate > 0 && rate <= 1)) {
        v.fail(
          'capture.sampleRate',
          rate,
          'must be above 0 and at most 1',
          'Use e.g. 0.1 to capture 10% of requests.',
        );
      }
      const intervalSeconds = props.capture.intervalSeconds ?? 300;
      v.integer('capture.intervalSeconds', intervalSeconds, 10, 3600);
      const retentionDays = props.capture.retentionDays ?? 30;
      v.integer('capture.retentionDays', retentionDays, 1, 3650);
      capture = { sampleRate: rate, intervalSeconds };
      this.capturePrefix = `capture/${this.serviceName}`;
      this.captureRetentionDays = retentionDays;
      this.modelStore.expireObjects(this.capturePrefix, retentionDays);
    }
    const identity = (this.identity = cluster.addWorkloadIdentity(this, 'Identity', {
      namespace: this.namespace,
      serviceAccount: this.serviceName,
      read: [this.modelStore],
      // With capture, the shipper creates captured requests under capture/<service>/, and can do nothing else there.
      ...(capture && this.capturePrefix
        ? { createIn: [{ store: this.modelStore, prefix: this.capturePrefix }] }
        : {}),
    }));

    const source = (prefix: string): ModelRepositorySource => {
      if (this.runtime === ServingRuntime.TRITON && this.modelStore.tritonReadsUri) {
        return { uri: this.modelStore.uri(prefix) };
      }
      const copy = this.modelStore.copyContainer(prefix, '/models');
      return { uri: this.modelStore.uri(prefix), initContainer: copy.container, localPath: copy.localPath };
    };

    this.objects = cluster.addManifestsAtSynth(`Serving-${this.serviceName}`, () => {
      const placement = this.placement;
      return servingManifests({
        name: this.serviceName,
        namespace: this.namespace,
        runtime: this.runtime,
        image,
        modelRepository: source('stable'),
        serviceAccount: { name: this.serviceName, annotations: identity.serviceAccountAnnotations },
        podLabels: identity.podLabels,
        replicas: placement.replicas,
        resources,
        ...(placement.pool ? { gpu: { count: placement.gpuCount, pool: placement.pool } } : {}),
        autoscaling,
        clientNamespaces: props.clientNamespaces ?? [],
        monitoringNamespace,
        serviceMonitor: props.serviceMonitor ?? true,
        metricsCollectors: cluster.metricsCollectors,
        startupSeconds,
        identityEndpoints: IDENTITY_ENDPOINTS[stack.cloud],
        ...(capture && this.capturePrefix
          ? {
              capture: { ...capture, ship: this.modelStore.uploadStep(CAPTURE_SHIP_DIR, this.capturePrefix) },
            }
          : {}),
        ...(props.canary
          ? {
              canary: {
                modelRepository: source('canary'),
                weightPercent: props.canary.weightPercent,
                ...(props.canary.gateway ? { gateway: props.canary.gateway } : {}),
              },
            }
          : {}),
      });
    });
    cluster.registerServingWorkload({
      name: this.serviceName,
      namespace: this.namespace,
      runtime: this.runtime,
      selector: { 'app.kubernetes.io/name': this.serviceName, 'app.kubernetes.io/managed-by': 'mlstack' },
      podMetricsPort: this.runtime === ServingRuntime.TRITON ? SERVING_PORTS.metrics : SERVING_PORTS.http,
      path: this.node.path,
      ...(alerts ? { alerts } : {}),
      ...((props.serviceMonitor ?? true)
        ? { collectedBy: `prometheus-operator (ServiceMonitor ${this.namespace}/${this.serviceName})` }
        : {}),
    });
    this.url = `http://${this.serviceName}.${this.namespace}.svc.cluster.local:${SERVING_PORTS.http}`;
    this.grpcAddress = `${this.serviceName}.${this.namespace}.svc.cluster.local:${SERVING_PORTS.grpc}`;

    Object.defineProperty(this, SYNTH_OUTPUT, {
      value: (): SynthOutputFolder[] =>
        this.repositories.map((r) => ({
          path: path.join('models', stack.stackName, `${this.serviceName}${r.suffix}`),
          sourceDir: r.dir,
        })),
    });
  }

  /**
   * Where the replicas run and how many, resolved among every pool of the cluster (pools added after this service
   * count).
   * @throws when no pool fits (a synth error naming the service and the cluster)
   */
  public get placement(): ServingPlacement {
    return this.placeOnCluster();
  }

  /**
   * The Kubernetes objects of this service. Reading them renders every object of the cluster: declare all
   * constructs first.
   */
  public get manifests(): readonly KubernetesManifest[] {
    return this.objects();
  }

  /** CPU through an HPA, or queue time (and CPU when set) through KEDA on the cluster's managed Prometheus. */
  private resolveAutoscaling(
    v: Validator,
    cluster: GpuCluster,
    p: ServingAutoscalingProps | undefined,
  ): ServingAutoscaling {
    const legacy = (p as { metric?: unknown } | undefined)?.metric;
    if (legacy !== undefined) {
      v.fail(
        'autoscaling.metric',
        legacy,
        'is not supported: no metrics adapter serves a per-pod Prometheus metric to the HorizontalPodAutoscaler',
        'Use autoscaling.queueTime: { targetMilliseconds } (KEDA on the managed Prometheus) or cpuUtilizationPercent.',
      );
    }
    const cpu = p?.cpuUtilizationPercent;
    if (cpu !== undefined) v.integer('autoscaling.cpuUtilizationPercent', cpu, 1, 100);
    const q = p?.queueTime;
    if (q === undefined) return { cpuUtilizationPercent: cpu ?? 70 };
    const target = q.targetMilliseconds;
    if (typeof target !== 'number' || !(target > 0) || target > 60_000) {
      v.fail(
        'autoscaling.queueTime.targetMilliseconds',
        target,
        'must be a number of milliseconds above 0 and at most 60000',
        'Use the queue time to hold, e.g. 5 for 5 ms.',
      );
    }
    const window = q.window ?? '2m';
    const m = /^(\d+)(s|m)$/.exec(String(window));
    const seconds = m ? Number(m[1]) * (m[2] === 'm' ? 60 : 1) : NaN;
    if (!(seconds >= 120 && seconds <= 3600)) {
      v.fail(
        'autoscaling.queueTime.window',
        window,
        'must be a duration between 2m and 60m',
        "Use e.g. '2m': a rate needs at least four of the collectors' 30 s scrapes.",
      );
    }
    const connection = cluster.keda();
    const query = queueTimeQuery({ name: this.serviceName, namespace: this.namespace }, window);
    cluster.wiring.addReader({
      kind: 'autoscaler',
      name: `ScaledObject ${this.namespace}/${this.serviceName}`,
      path: this.node.path,
      expr: query,
      queries: cluster.managedPrometheus().description,
    });
    return {
      keda: {
        connection,
        queries: [{ name: 'queue-time', query, threshold: Math.round(target * 1000) }],
        ...(cpu !== undefined ? { cpuUtilizationPercent: cpu } : {}),
      },
    };
  }
}

/**
 * Writes a model repository once per content, in a folder named after its hash (under the OS temp folder), so
 * that repeated synths reuse it and asset hashes depend on content only.
 */
function stageRepository(models: readonly ServingModel[]): { dir: string; files: string[] } {
  const hash = createHash('sha256');
  for (const m of models) {
    hash.update(`model ${m.name}\n${renderTritonConfig(m.config)}`);
    for (const ver of m.versions) hash.update(`version ${ver.version}\n`).update(fs.readFileSync(ver.file));
  }
  const dir = stageOnce('mlstack-repositories', hash.digest('hex').slice(0, 24), (tmp) =>
    writeModelRepository(tmp, models),
  );
  return { dir, files: listFiles(dir) };
}
