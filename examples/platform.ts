import * as path from 'node:path';
import {
  AlertDestination,
  DcgmMonitoring,
  DriftPipeline,
  EdgeDevices,
  EdgeFleet,
  EdgeTarget,
  GpuCluster,
  MlflowTracking,
  GpuSharing,
  GpuType,
  type IMlStack,
  KubernetesVersion,
  ServingModel,
  SecretReference,
  ServingRuntime,
  TritonService,
} from '../index';
import { PolicyPack } from '../src/policy';

/** Where the example expects the mlstack server image (docker/mlstack-server.Dockerfile), per cloud. */
const MLSTACK_IMAGE = {
  aws: 'public.ecr.aws/acme-ml/mlstack-server:0.1.0',
  gcp: 'us-central1-docker.pkg.dev/acme-ml-prod/ml/mlstack-server:0.1.0',
  azure: 'acmeml.azurecr.io/mlstack-server:0.1.0',
} as const;

/** Where the example expects the kiosks' device image (the Dockerfile next to the edge package), per cloud. */
const KIOSK_IMAGE = {
  gcp: 'us-central1-docker.pkg.dev/acme-ml-prod/kiosks-edge/kiosks:1.0.0',
  azure: 'acmeml.azurecr.io/kiosks:1.0.0',
} as const;

/** Knobs of the example, so that CI examples (and the diff tests) can show what a change does. */
export interface PlatformOptions {
  /**
   * Maximum nodes of the inference pool.
   * @default 6
   */
  readonly inferenceMaxNodes?: number;
  /**
   * GPU of the inference pool.
   * @default - NVIDIA L4 (T4 on Azure)
   */
  readonly inferenceGpu?: GpuType;
  /**
   * Whether the platform runs MLflow.
   * @default true
   */
  readonly mlflow?: boolean;
}

/**
 * The example ML platform, written once against the cloud-neutral API: every cloud's stack gets the same
 * constructs. Pools whose GPU a cloud does not offer are chosen per cloud from the catalog.
 */
export function definePlatform(stack: IMlStack, options: PlatformOptions = {}): void {
  const inferenceGpu =
    options.inferenceGpu ?? (stack.cloud === 'azure' ? GpuType.NVIDIA_T4 : GpuType.NVIDIA_L4);
  const classifier = path.join(__dirname, 'models', 'classifier.onnx');
  const cluster = new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml-platform',
    version: KubernetesVersion.V1_33,
    gpuPools: [
      {
        name: 'inference',
        gpu: { type: inferenceGpu, count: 1 },
        minNodes: 0,
        maxNodes: options.inferenceMaxNodes ?? 6,
        spot: true,
        sharing: GpuSharing.timeSlicing(4),
      },
      {
        name: 'training',
        gpu: { type: GpuType.NVIDIA_A100_80GB, count: stack.cloud === 'aws' ? 8 : 1 },
        minNodes: 0,
        maxNodes: 2,
        diskSizeGiB: 500,
      },
    ],
    tags: { team: 'ml-platform', 'cost-center': 'ml-1234' },
    // Every alert of the platform (GPU health, the classifier's latency and failures, drift) reaches the on-call
    // rotation: by email, and through PagerDuty with the integration key kept in the cloud's secret store.
    alerts: [
      AlertDestination.email('ml-oncall@example.com'),
      AlertDestination.pagerDuty(
        SecretReference.named('ml-platform-pagerduty', {
          azureKeyVaultId:
            '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/ml-secrets/providers/Microsoft.KeyVault/vaults/acme-ml-alerts',
        }),
      ),
    ],
  });

  // Experiment tracking and the model registry for training jobs in the 'training' namespace.
  if (options.mlflow ?? true) {
    new MlflowTracking(stack, 'Mlflow', { cluster, production: true, clientNamespaces: ['training'] });
  }

  // Hourly drift detection of the classifier's inputs and scores against its training baseline; a drifted dataset
  // triggers retraining through the webhook. The job runs the mlstack image from your registry and pushes its
  // metrics to a Pushgateway the pipeline deploys, collected with the job's state by the managed Prometheus.
  new DriftPipeline(stack, 'Drift', {
    cluster,
    schedule: '0 * * * *',
    reference: 'classifier/reference.csv',
    current: 'classifier/current.csv',
    predictions: ['score'],
    thresholds: { psi: { warn: 0.1, drift: 0.25 }, datasetDriftShare: 0.3 },
    webhook: 'https://ci.example.com/hooks/retrain-classifier',
    image: MLSTACK_IMAGE[stack.cloud],
  });

  // The classifier on the retail kiosks (Jetson Orin devices): 10% canary, then 25% batches, rolled back when more
  // than 5% fail.
  new EdgeFleet(stack, 'Kiosks', {
    model: ServingModel.fromOnnxFile(classifier, { name: 'classifier' }),
    devices: EdgeDevices.group('retail-kiosks', { size: 400 }),
    target: EdgeTarget.JETSON_ORIN,
    rollout: { canaryPercent: 10, batchPercent: 25, maxFailurePercent: 5 },
    version: '1.0.0',
    ...(stack.cloud === 'aws' ? {} : { image: KIOSK_IMAGE[stack.cloud] }),
  });

  // GPU telemetry, alerts and dashboards on the cloud's managed Prometheus; the classifier's latency and failure
  // alerts are added when it is declared below.
  new DcgmMonitoring(stack, 'GpuMonitoring', { cluster });

  // Serving: the classifier on Triton, on the inference pool's GPUs, with a canary of its next version taking a
  // quarter of the replicas; autoscaled on Triton's queue time per request. Sized so that four replicas share a
  // node's time-sliced GPU: 800m CPU and 3Gi each fit four on a 4-vCPU node, so six nodes hold the peak of 13 pods
  // (synth checks it).
  if (stack.cloud !== 'aws') {
    // On EKS the spot pool falls back to on-demand (Karpenter); GKE and AKS pools are one capacity type.
    PolicyPack.acknowledge(
      'MLS-K8S-SPOT-SERVING',
      'The example serves the classifier from spot GPUs with no on-demand pool on GKE and AKS, taking reclaim outages for the price: both tracks have a PodDisruptionBudget, and a reclaim of every node stops serving until the pool scales back up.',
      { stack: stack.stackName, match: 'classifier' },
    );
  }
  new TritonService(stack, 'Classifier', {
    cluster,
    runtime: ServingRuntime.TRITON,
    models: [ServingModel.fromOnnxFile(classifier, { name: 'classifier', maxBatchSize: 32 })],
    gpu: { type: inferenceGpu, count: 1 },
    replicas: { min: 4, max: 12 },
    resources: { cpu: '800m', memory: '3Gi' },
    canary: {
      model: ServingModel.fromOnnxFile(classifier, { name: 'classifier', version: 2, maxBatchSize: 32 }),
      weightPercent: 25,
    },
    // KEDA adds replicas when requests wait more than 5 ms on average in Triton's queue.
    autoscaling: { queueTime: { targetMilliseconds: 5 } },
    clientNamespaces: ['apps'],
    // DcgmMonitoring's managed Prometheus collects it; there is no prometheus-operator for a ServiceMonitor.
    serviceMonitor: false,
  });
}
