import { describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import {
  type ServingAutoscalingProps,
  ServingRuntime,
  TritonService,
  type TritonServiceProps,
} from '../constructs/triton-service';
import { ServingModel } from '../src/serving/model-repository';
import { GpuType } from '../src/spec/gpu';
import { gcpStack, terraformJson } from './support/synth';
import { classifierService, fixtureModel, servingCluster } from './support/serving';

// Every bad prop is a synth error that names the construct, the prop, the value and the fix.
const attempt = (overrides: Partial<TritonServiceProps>) => () => classifierService(gcpStack(), overrides);
// Rules that need the whole tree (the cluster's pools, every object of the cluster) are checked at synth.
const synthesizing = (overrides: Partial<TritonServiceProps>) => () => {
  const stack = gcpStack();
  classifierService(stack, overrides);
  terraformJson(stack);
};
const mlp = (name = 'classifier', version = 1) =>
  ServingModel.fromOnnxFile(fixtureModel('mlp'), { name, version });

describe('TritonService validation', () => {
  it('rejects a GPU type the cluster has no pool of, listing the pools it has', () => {
    expect(attempt({ gpu: { type: undefined as unknown as GpuType } })).toThrow(
      /'gpu.type' \(undefined\) is not a GpuType\. Use one of the GpuType members/,
    );
    expect(attempt({ gpu: { type: GpuType.NVIDIA_H100_80GB } })).not.toThrow();
    expect(synthesizing({ gpu: { type: GpuType.NVIDIA_H100_80GB } })).toThrow(
      /TritonService 'test\/Classifier': 'gpu.type' \("nvidia-h100-80gb"\) has no GPU pool on this cluster; its GPU pools are inference \(nvidia-l4\)\. Add a pool with gpu: \{ type: GpuType\.NVIDIA_H100_80GB \} to the GpuCluster, or pick a type it has\. \(GpuCluster 'test\/Gpus'\)/,
    );
  });

  it('lands on a GPU pool added to the cluster after the service', () => {
    const stack = gcpStack();
    const cluster = servingCluster(stack);
    const service = classifierService(stack, { gpu: { type: GpuType.NVIDIA_H100_80GB } }, cluster);
    cluster.addGpuPool({ name: 'hopper', gpu: { type: GpuType.NVIDIA_H100_80GB }, maxNodes: 9 });
    expect(() => terraformJson(stack)).not.toThrow();
    const deployment = service.manifests.find((m) => m.kind === 'Deployment') as unknown as {
      spec: { template: { spec: { nodeSelector: Record<string, string> } } };
    };
    expect(deployment.spec.template.spec.nodeSelector).toEqual({
      'mlstack.io/gpu-type': 'nvidia-h100-80gb',
      'mlstack.io/pool': 'hopper',
    });
    // Once the cluster's objects are rendered, a pool added later could not be honoured: an error, not a surprise.
    expect(() => cluster.addGpuPool({ name: 'late', gpu: { type: GpuType.NVIDIA_L4 } })).toThrow(
      /GpuCluster 'test\/Gpus': addGpuPool\("late"\) after the cluster's Kubernetes objects were rendered/,
    );
  });

  it('rejects more GPUs per replica than one node holds', () => {
    expect(synthesizing({ gpu: { type: GpuType.NVIDIA_L4, count: 4 } })).toThrow(
      /'gpu.count' \(4\) is more than one node of the NVIDIA L4 pool holds \(2\)\. Ask for at most 2/,
    );
  });

  it('rejects min > max and a single replica without allowSingleReplica', () => {
    expect(attempt({ replicas: { min: 5, max: 3 } })).toThrow(
      /'replicas.min' \(5\) must not exceed 'replicas.max' \(3\)/,
    );
    expect(attempt({ replicas: { min: 1 }, canary: undefined })).toThrow(
      /'replicas.min' \(1\) leaves no replica serving while a node is drained.*allowSingleReplica: true/,
    );
    expect(() =>
      attempt({ replicas: { min: 1 }, canary: undefined, allowSingleReplica: true })(),
    ).not.toThrow();
  });

  it('rejects GPUs for the CPU-only ONNX Runtime server', () => {
    expect(attempt({ runtime: ServingRuntime.ONNXRUNTIME, image: 'r/m:1' })).toThrow(
      /'gpu' \("nvidia-l4"\) is not used by the ONNX Runtime server, which runs on CPU\. Use ServingRuntime.TRITON/,
    );
  });

  it('rejects a model that cannot batch with a maxBatchSize above 0', () => {
    expect(() =>
      ServingModel.fromOnnxFile(fixtureModel('fixed_batch'), { name: 'f', maxBatchSize: 8 }),
    ).toThrow(
      /'maxBatchSize' \(8\) needs a model whose inputs and outputs all have a dynamic first dimension/,
    );
  });

  it('rejects no models, duplicate names and things that are not ServingModels', () => {
    expect(attempt({ models: [] })).toThrow(/'models' \(\[\]\) must list at least one model/);
    expect(attempt({ models: [mlp('a'), mlp('a')], canary: undefined })).toThrow(
      /'models\[1\].name' \("a"\) is used by another model/,
    );
    expect(attempt({ models: [{ name: 'x' } as unknown as ServingModel] })).toThrow(
      /'models\[0\]' .* is not a ServingModel/,
    );
  });

  it('rejects a canary of a model that is not served, a weight out of range, and a canary without room', () => {
    expect(attempt({ canary: { model: mlp('other', 2), weightPercent: 10 } })).toThrow(
      /'canary.model.name' \("other"\) is not one of the served models \(classifier\)/,
    );
    expect(attempt({ canary: { model: mlp('classifier', 2), weightPercent: 100 } })).toThrow(
      /'canary.weightPercent' \(100\) must be an integer between 1 and 99/,
    );
    expect(
      attempt({
        replicas: { min: 1, max: 2 },
        allowSingleReplica: true,
        canary: { model: mlp('classifier', 2), weightPercent: 50 },
      }),
    ).toThrow(/'replicas.min' \(1\) leaves no replica for the canary/);
    const gateway = { name: 'public', namespace: 'gateways' };
    expect(
      attempt({
        canary: { model: mlp('classifier', 2), weightPercent: 10, gateway: { ...gateway, name: 'Public' } },
      }),
    ).toThrow(/'canary.gateway.name' \("Public"\) is not a valid name/);
    expect(
      attempt({
        canary: {
          model: mlp('classifier', 2),
          weightPercent: 10,
          gateway: { ...gateway, hostnames: ['bad host'] },
        },
      }),
    ).toThrow(/'canary.gateway.hostnames\[0\]' \("bad host"\) is not a host name/);
    const routed = classifierService(gcpStack(), {
      canary: { model: mlp('classifier', 2), weightPercent: 10, gateway },
    });
    expect(routed.manifests.filter((m) => m.kind === 'HTTPRoute')).toHaveLength(1);
  });

  it('rejects bad names, quantities, autoscaling metrics and timeouts', () => {
    expect(attempt({ serviceName: 'Bad_Name' })).toThrow(/'serviceName' \("Bad_Name"\) is not a valid name/);
    expect(attempt({ namespace: 'x'.repeat(64) })).toThrow(/'namespace' .* is not a valid name/);
    expect(attempt({ clientNamespaces: ['ok', 'NOT OK'] })).toThrow(/'clientNamespaces\[1\]' \("NOT OK"\)/);
    expect(attempt({ resources: { cpu: 'two' } })).toThrow(/'resources.cpu' \("two"\) is not a CPU quantity/);
    expect(attempt({ resources: { memory: '8 GB' } })).toThrow(
      /'resources.memory' \("8 GB"\) is not a memory quantity/,
    );
    expect(
      attempt({ autoscaling: { metric: { name: 'q', averageValue: '5' } } as ServingAutoscalingProps }),
    ).toThrow(/'autoscaling.metric' .* no metrics adapter serves.*Use autoscaling.queueTime/);
    expect(attempt({ autoscaling: { queueTime: { targetMilliseconds: 0 } } })).toThrow(
      /'autoscaling.queueTime.targetMilliseconds' \(0\) must be a number of milliseconds above 0/,
    );
    expect(attempt({ autoscaling: { queueTime: { targetMilliseconds: 5, window: '30s' } } })).toThrow(
      /'autoscaling.queueTime.window' \("30s"\) must be a duration between 2m and 60m/,
    );
    expect(attempt({ autoscaling: { cpuUtilizationPercent: 0 } })).toThrow(
      /'autoscaling.cpuUtilizationPercent' \(0\) must be an integer between 1 and 100/,
    );
    expect(attempt({ startupTimeoutSeconds: 5 })).toThrow(
      /'startupTimeoutSeconds' \(5\) must be an integer between 30 and 3600/,
    );
    expect(attempt({ image: 'has space' })).toThrow(/'image' \("has space"\) is not an image reference/);
    expect(attempt({ runtime: 'tensorflow' as ServingRuntime })).toThrow(
      /'runtime' \("tensorflow"\) is not a ServingRuntime/,
    );
  });

  it('rejects a cluster that is not a GpuCluster or lives in another stack', () => {
    expect(attempt({ cluster: {} as GpuCluster })).toThrow(/'cluster' \(\{\}\) is not a GpuCluster/);
    const other = servingCluster(gcpStack('other'));
    expect(attempt({ cluster: other })).toThrow(/'cluster' \("other\/Gpus"\) is in another stack/);
  });

  it('rejects an invalid bucket name and two services with one name on a cluster', () => {
    expect(attempt({ modelBucketName: 'Not_A_Bucket' })).toThrow(
      /bucket name 'Not_A_Bucket' is not a valid Cloud Storage bucket name/,
    );
    const stack = gcpStack();
    const cluster = servingCluster(stack);
    classifierService(stack, {}, cluster);
    new TritonService(stack, 'Again', {
      cluster,
      serviceName: 'classifier',
      models: [mlp()],
      gpu: { type: GpuType.NVIDIA_L4 },
    });
    expect(() => cluster.manifests.files()).toThrow(
      /Kubernetes object Namespace\/classifier is already defined by test\/Gpus\/Serving-classifier/,
    );
  });

  it('leaves the ServiceMonitor out when asked (no prometheus-operator on the cluster)', () => {
    const kinds = (s: TritonService) => s.manifests.map((m) => m.kind);
    expect(kinds(classifierService(gcpStack()))).toContain('ServiceMonitor');
    expect(kinds(classifierService(gcpStack(), { serviceMonitor: false }))).not.toContain('ServiceMonitor');
  });

  it('fails when the pool cannot hold the service at its peak, naming the numbers and the fixes', () => {
    expect(synthesizing({ replicas: { min: 4, max: 20 } })).toThrow(
      /TritonService 'test\/Classifier': 'replicas.max' \(20\) needs 21 pods at its peak \(every replica with the canary and one more in a rollout\), but pool 'inference' holds 12: 6 nodes × 2 \(one g2-standard-24 has 24 vCPU and 96 GiB, about 23\.4 vCPU and 87\.7 GiB allocatable, 2 schedulable GPUs; a replica asks 2 CPU, 8Gi memory, 1 GPU; gpu runs out first\)\. Fix one of: raise the pool's maxNodes to 11; lower replicas\.max to 11\. \(GpuCluster 'test\/Gpus'\)/,
    );
    // CPU serving is checked against the system pool (4 nodes of 4 vCPU and 16 GiB at most).
    expect(synthesizing({ gpu: undefined, replicas: { min: 2, max: 8 }, canary: undefined })).toThrow(
      /'replicas.max' \(8\) needs 9 pods at its peak \(every replica and one more in a rollout\), but pool 'system' holds 4: 4 nodes × 1 \(one e2-standard-4 has 4 vCPU and 16 GiB, about 3\.6 vCPU and 12\.8 GiB allocatable; a replica asks 2 CPU, 8Gi memory; cpu runs out first\)\. Fix one of: requests of at most 1200m CPU and 4352Mi memory fit 3 a node; raise the pool's maxNodes to 9; lower replicas.max to 3\./,
    );
  });

  it('serves on CPU with Triton when no GPU is asked for, with CPU instance groups', () => {
    // On the system pool (2-4 nodes of 4 vCPU): small replicas.
    const s = classifierService(gcpStack(), {
      gpu: undefined,
      resources: { cpu: '500m', memory: '1Gi' },
    });
    expect(s.placement.pool).toBeUndefined();
    expect(s.placement.podsPerNode).toBeGreaterThan(1);
    expect(s.models[0].config.instance_group).toEqual([{ count: 1, kind: 'KIND_CPU' }]);
    const g = classifierService(gcpStack());
    expect(g.models[0].config.instance_group).toEqual([{ count: 1, kind: 'KIND_GPU' }]);
  });
});
