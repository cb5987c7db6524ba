// A GPU cluster and a TritonService on it, shared by the per-cloud TritonService tests.
import * as path from 'node:path';
import { GpuCluster } from '../../constructs/gpu-cluster';
import { TritonService, type TritonServiceProps } from '../../constructs/triton-service';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import type { KubernetesManifest } from '../../src/k8s/manifest';
import { ServingModel } from '../../src/serving/model-repository';
import { AlertDestination } from '../../src/monitoring/destinations';
import { GpuType } from '../../src/spec/gpu';
import type { IMlStack } from '../../stacks/ml-stack';
import { modelFor } from './kubernetes-schema';

export const fixtureModel = (name: string) =>
  path.join(__dirname, '..', 'fixtures', 'models', `${name}.onnx`);

/** The GPU type each cloud's test cluster offers for inference. */
export const inferenceGpu = (stack: IMlStack) =>
  stack.cloud === 'azure' ? GpuType.NVIDIA_T4 : GpuType.NVIDIA_L4;

export function servingCluster(stack: IMlStack): GpuCluster {
  return new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml',
    alerts: [AlertDestination.email('ml-oncall@example.com')],
    gpuPools: [
      {
        name: 'inference',
        gpu: { type: inferenceGpu(stack), count: stack.cloud === 'gcp' ? 2 : 4 },
        // Enough to hold the classifier's peak (8 replicas, the canary, a surge) with one GPU each.
        maxNodes: 6,
      },
    ],
  });
}

/** The classifier on Triton with a GPU each and a canary of version 2 taking a quarter of the replicas. */
export function classifierService(
  stack: IMlStack,
  overrides: Partial<TritonServiceProps> = {},
  cluster: GpuCluster = servingCluster(stack),
  id = 'Classifier',
): TritonService {
  return new TritonService(stack, id, {
    cluster,
    models: [ServingModel.fromOnnxFile(fixtureModel('mlp'), { name: 'classifier', maxBatchSize: 16 })],
    gpu: { type: inferenceGpu(stack) },
    replicas: { min: 4, max: 8 },
    canary: {
      model: ServingModel.fromOnnxFile(fixtureModel('mlp'), {
        name: 'classifier',
        version: 2,
        maxBatchSize: 16,
      }),
      weightPercent: 25,
    },
    ...overrides,
  });
}

/** The object of a kind (and name) among manifests, typed as its kubernetes-models interface; fails when missing. */
export function objectOf<T>(manifests: readonly KubernetesManifest[], kind: string, name?: string): T {
  const m = manifests.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (!m) throw new Error(`no ${kind}${name ? ` ${name}` : ''}`);
  return m as unknown as T;
}

/** The pod spec of a Deployment. */
export function podSpecOf(manifests: readonly KubernetesManifest[], name: string): IPodSpec {
  return objectOf<IDeployment>(manifests, 'Deployment', name).spec!.template.spec!;
}

/** Validates every object against its kubernetes-models schema, as read back from its JSON. */
export function expectSchemaValid(manifests: readonly KubernetesManifest[]): void {
  for (const m of manifests) {
    const Model = modelFor(m.apiVersion, m.kind);
    new Model(JSON.parse(JSON.stringify(m)) as object).validate();
  }
}
