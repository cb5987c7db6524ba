import * as path from 'node:path';
import {
  DcgmMonitoring,
  GpuCluster,
  MlflowTracking,
  GpuSharing,
  GpuType,
  type IMlStack,
  KubernetesVersion,
  ServingModel,
  ServingRuntime,
  TritonService,
} from '../index';

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
  });

  // Experiment tracking and the model registry for training jobs in the 'training' namespace.
  if (options.mlflow ?? true) {
    new MlflowTracking(stack, 'Mlflow', { cluster, production: true, clientNamespaces: ['training'] });
  }

  // GPU telemetry, alerts and dashboards on the cloud's managed Prometheus; the classifier's latency and failure
  // alerts are added when it is declared below.
  new DcgmMonitoring(stack, 'GpuMonitoring', { cluster });

  // Serving: the classifier on Triton, on the inference pool's GPUs, with a canary of its next version taking a
  // quarter of the replicas; autoscaled on Triton's queue time per request.
  const classifier = path.join(__dirname, 'models', 'classifier.onnx');
  new TritonService(stack, 'Classifier', {
    cluster,
    runtime: ServingRuntime.TRITON,
    models: [ServingModel.fromOnnxFile(classifier, { name: 'classifier', maxBatchSize: 32 })],
    gpu: { type: inferenceGpu, count: 1 },
    replicas: { min: 4, max: 12 },
    canary: {
      model: ServingModel.fromOnnxFile(classifier, { name: 'classifier', version: 2, maxBatchSize: 32 }),
      weightPercent: 25,
    },
    autoscaling: { metric: { name: 'nv_inference_queue_duration_us_per_request', averageValue: '5000' } },
    clientNamespaces: ['apps'],
  });
}
