import { describe, expect, it } from 'vitest';
import { toManifest, type KubernetesManifest } from '../../src/k8s/manifest';
import {
  canarySplit,
  servingManifests,
  type ServingWorkloadSpec,
  TRITON_IMAGE,
} from '../../src/serving/manifests';
import { DEFAULT_GPU_TAINT, type NodePoolSpec } from '../../src/spec/cluster';
import { GpuType } from '../../src/spec/gpu';
import { modelFor } from '../support/kubernetes-schema';
import { queueTimeQuery } from '../../src/k8s/keda';

const l4Pool: NodePoolSpec = {
  name: 'l4',
  role: 'gpu',
  instanceType: 'g6.xlarge',
  vcpus: 4,
  memoryGiB: 16,
  gpu: { type: GpuType.NVIDIA_L4, count: 1 },
  minNodes: 0,
  maxNodes: 3,
  spot: false,
  diskSizeGiB: 200,
  labels: { 'mlstack.io/pool': 'l4' },
  taints: [DEFAULT_GPU_TAINT],
};

const base: ServingWorkloadSpec = {
  name: 'classifier',
  namespace: 'serving',
  runtime: 'triton',
  image: TRITON_IMAGE,
  modelRepository: { uri: 's3://models-bucket/classifier' },
  serviceAccount: {
    name: 'classifier',
    annotations: { 'iam.gke.io/gcp-service-account': 'sa@p.iam.gserviceaccount.com' },
  },
  replicas: { min: 2, max: 10 },
  resources: { cpu: '2', memory: '8Gi' },
  gpu: { count: 1, pool: l4Pool },
  autoscaling: { cpuUtilizationPercent: 70 },
  clientNamespaces: ['apps'],
  monitoringNamespace: 'monitoring',
  startupSeconds: 600,
};

const render = (spec: ServingWorkloadSpec) => servingManifests(spec).map(toManifest);
const byKind = (ms: KubernetesManifest[], kind: string, name?: string) =>
  ms.find((m) => m.kind === kind && (name === undefined || m.metadata.name === name)) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

describe('servingManifests', () => {
  const ms = render(base);

  it('makes every object, each valid against its schema', () => {
    expect(ms.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual([
      'Namespace/serving',
      'ServiceAccount/classifier',
      'Deployment/classifier',
      'Service/classifier',
      'HorizontalPodAutoscaler/classifier',
      'PodDisruptionBudget/classifier',
      'ServiceMonitor/classifier',
      'NetworkPolicy/default-deny-ingress',
      'NetworkPolicy/default-egress',
      'NetworkPolicy/classifier',
    ]);
  });

  it('runs Triton with a strict config from the bucket, probes, GPU limits, on the GPU pool', () => {
    const pod = byKind(ms, 'Deployment').spec.template.spec;
    const c = pod.containers[0];
    expect(c.image).toBe(TRITON_IMAGE);
    expect(c.command).toEqual(['tritonserver']);
    expect(c.args).toEqual(
      expect.arrayContaining([
        '--model-repository=s3://models-bucket/classifier',
        '--strict-model-config=true',
      ]),
    );
    expect(c.readinessProbe.httpGet).toEqual({ path: '/v2/health/ready', port: 'http' });
    expect(c.livenessProbe.httpGet).toEqual({ path: '/v2/health/live', port: 'http' });
    expect(c.startupProbe.periodSeconds * c.startupProbe.failureThreshold).toBe(600);
    expect(c.resources.limits['nvidia.com/gpu']).toBe('1');
    expect(pod.nodeSelector).toEqual({ 'mlstack.io/gpu-type': 'nvidia-l4', 'mlstack.io/pool': 'l4' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    expect(c.ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([8000, 8001, 8002]);
  });

  it('is secure by default: non-root, read-only root, no escalation, no capabilities, requests and limits', () => {
    const pod = byKind(ms, 'Deployment').spec.template.spec;
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod.containers[0].securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(pod.containers[0].resources.requests).toEqual({ cpu: '2', memory: '8Gi' });
    expect(pod.topologySpreadConstraints[0].topologyKey).toBe('topology.kubernetes.io/zone');
  });

  it('autoscales on CPU by default, or on Prometheus queries through a KEDA ScaledObject (and no HPA of its own)', () => {
    expect(byKind(ms, 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 2,
      maxReplicas: 10,
      metrics: [{ type: 'Resource' }],
    });
    const query = queueTimeQuery({ name: 'classifier', namespace: 'serving' }, '2m');
    const raw = servingManifests({
      ...base,
      autoscaling: {
        keda: {
          connection: {
            serverAddress: 'https://prometheus.example',
            podIdentity: { provider: 'gcp' },
            metadata: { awsRegion: 'eu-west-1' },
            scope: (e) => `scoped(${e})`,
          },
          queries: [{ name: 'queue-time', query, threshold: 5000 }],
          cpuUtilizationPercent: 80,
        },
      },
    });
    const keda = raw.map(toManifest);
    expect(keda.some((m) => m.kind === 'HorizontalPodAutoscaler')).toBe(false);
    const so = byKind(keda, 'ScaledObject');
    expect(so.metadata.name).toBe(byKind(ms, 'HorizontalPodAutoscaler').metadata.name);
    expect(so.spec).toMatchObject({
      scaleTargetRef: { kind: 'Deployment', name: byKind(ms, 'Deployment').metadata.name },
      minReplicaCount: 2,
      maxReplicaCount: 10,
      advanced: {
        horizontalPodAutoscalerConfig: { behavior: { scaleDown: { stabilizationWindowSeconds: 300 } } },
      },
      triggers: [
        {
          type: 'prometheus',
          name: 'queue-time',
          metricType: 'Value',
          metadata: {
            serverAddress: 'https://prometheus.example',
            query: `scoped(${query})`,
            threshold: '5000',
            awsRegion: 'eu-west-1',
          },
          authenticationRef: { kind: 'ClusterTriggerAuthentication', name: 'mlstack-managed-prometheus' },
        },
        { type: 'cpu', metricType: 'Utilization', metadata: { value: '80' } },
      ],
    });
    // Never to zero, and the object is valid against KEDA's schema.
    expect(so.spec.minReplicaCount).toBeGreaterThan(0);
    expect(() => raw.find((m) => m.kind === 'ScaledObject')!.validate()).not.toThrow();
  });

  it('lets only its namespace and the declared client namespaces in, and Prometheus to the metrics port', () => {
    const np = byKind(ms, 'NetworkPolicy', 'classifier').spec;
    expect(
      np.ingress[0].from.map(
        (f: { namespaceSelector: { matchLabels: Record<string, string> } }) =>
          f.namespaceSelector.matchLabels['kubernetes.io/metadata.name'],
      ),
    ).toEqual(['serving', 'apps']);
    expect(np.ingress[1]).toEqual({
      from: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } }],
      ports: [{ port: 8002, protocol: 'TCP' }],
    });
    expect(byKind(ms, 'ServiceMonitor').spec.endpoints).toEqual([
      { port: 'metrics', path: '/metrics', interval: '30s' },
    ]);
  });

  it('serves the ONNX Runtime server from a repository copied in by an init container, with no GPU', () => {
    const onnx = render({
      ...base,
      runtime: 'onnxruntime',
      image: 'registry.example.com/mlstack-server:0.1.0',
      gpu: undefined,
      modelRepository: {
        uri: 's3://models-bucket/classifier',
        initContainer: {
          name: 'fetch-models',
          image: 'public.ecr.aws/aws-cli/aws-cli:2.17.0',
          args: ['s3', 'sync', 's3://models-bucket/classifier', '/models'],
          resources: { requests: { cpu: '250m', memory: '256Mi' }, limits: { memory: '512Mi' } },
        },
      },
    });
    const pod = byKind(onnx, 'Deployment').spec.template.spec;
    expect(pod.containers[0].args).toEqual([
      'serve',
      '/models',
      '--host',
      '0.0.0.0',
      '--port',
      '8000',
      '--grpc-port',
      '8001',
    ]);
    expect(pod.containers[0].ports).toContainEqual({ name: 'grpc', containerPort: 8001, protocol: 'TCP' });
    expect(byKind(onnx, 'Service').spec.ports).toContainEqual({
      name: 'grpc',
      port: 8001,
      targetPort: 'grpc',
      protocol: 'TCP',
    });
    // Clients reach both protocols through the ingress policy.
    const ingress = onnx.find(
      (o) => o.kind === 'NetworkPolicy' && o.metadata?.name === 'classifier',
    ) as unknown as { spec: { ingress: { ports: { port: number }[] }[] } };
    expect(ingress.spec.ingress[0].ports.map((p) => p.port)).toEqual([8000, 8001]);
    expect(pod.initContainers[0].volumeMounts).toContainEqual({ name: 'models', mountPath: '/models' });
    expect(pod.containers[0].resources.limits['nvidia.com/gpu']).toBeUndefined();
    expect(pod.nodeSelector).toBeUndefined();
    expect(byKind(onnx, 'Service').spec.ports.find((p: { name: string }) => p.name === 'metrics')).toEqual({
      name: 'metrics',
      port: 8002,
      targetPort: 'http',
      protocol: 'TCP',
    });
  });

  it('splits replicas between stable and canary by weight, behind one Service', () => {
    expect(canarySplit(10, 10)).toEqual({ stable: 9, canary: 1 });
    expect(canarySplit(4, 50)).toEqual({ stable: 2, canary: 2 });
    expect(canarySplit(2, 1)).toEqual({ stable: 1, canary: 1 });
    const withCanary = render({
      ...base,
      replicas: { min: 10, max: 20 },
      canary: { modelRepository: { uri: 's3://models-bucket/classifier-v2' }, weightPercent: 20 },
    });
    expect(byKind(withCanary, 'Deployment', 'classifier').spec.replicas).toBe(8);
    const canary = byKind(withCanary, 'Deployment', 'classifier-canary');
    expect(canary.spec.replicas).toBe(2);
    expect(canary.spec.template.spec.containers[0].args).toContain(
      '--model-repository=s3://models-bucket/classifier-v2',
    );
    expect(byKind(withCanary, 'Service').spec.selector).toEqual({
      'app.kubernetes.io/name': 'classifier',
      'app.kubernetes.io/managed-by': 'mlstack',
    });
    expect(byKind(withCanary, 'HorizontalPodAutoscaler').spec).toMatchObject({
      minReplicas: 8,
      maxReplicas: 18,
    });
  });
});

describe('servingManifests with a canary behind a Gateway', () => {
  const ms = render({
    ...base,
    replicas: { min: 4, max: 10 },
    canary: {
      modelRepository: { uri: 's3://models-bucket/canary' },
      weightPercent: 10,
      gateway: {
        name: 'public',
        namespace: 'gateways',
        sectionName: 'https',
        hostnames: ['models.example.com'],
      },
    },
  });

  it('adds a Service per track and an HTTPRoute weighing them exactly', () => {
    expect(ms.map((m) => `${m.kind}/${m.metadata.name}`)).toEqual(
      expect.arrayContaining([
        'Service/classifier-stable',
        'Service/classifier-canary',
        'HTTPRoute/classifier',
      ]),
    );
    expect(byKind(ms, 'Service', 'classifier-canary').spec.selector).toEqual({
      'app.kubernetes.io/name': 'classifier',
      'app.kubernetes.io/managed-by': 'mlstack',
      'mlstack.io/track': 'canary',
    });
    // In-cluster callers of the main Service still reach both tracks.
    expect(byKind(ms, 'Service', 'classifier').spec.selector).not.toHaveProperty('mlstack.io/track');
    const route = byKind(ms, 'HTTPRoute', 'classifier');
    expect(route.apiVersion).toBe('gateway.networking.k8s.io/v1');
    expect(route.spec).toEqual({
      parentRefs: [
        {
          group: 'gateway.networking.k8s.io',
          kind: 'Gateway',
          name: 'public',
          namespace: 'gateways',
          sectionName: 'https',
        },
      ],
      hostnames: ['models.example.com'],
      rules: [
        {
          matches: [{ path: { type: 'PathPrefix', value: '/v2' } }],
          backendRefs: [
            { kind: 'Service', name: 'classifier-stable', port: 8000, weight: 90 },
            { kind: 'Service', name: 'classifier-canary', port: 8000, weight: 10 },
          ],
        },
      ],
    });
  });

  it("lets the gateway's namespace through the NetworkPolicy and validates every object", () => {
    const from = byKind(ms, 'NetworkPolicy', 'classifier').spec.ingress[0].from.map(
      (f: { namespaceSelector: { matchLabels: Record<string, string> } }) =>
        f.namespaceSelector.matchLabels['kubernetes.io/metadata.name'],
    );
    expect(from).toEqual(['serving', 'apps', 'gateways']);
    for (const m of ms) {
      const Model = modelFor(m.apiVersion, m.kind);
      expect(() => new Model(m).validate(), m.kind).not.toThrow();
    }
  });
});

describe('schema lookup for manifests read back from YAML', () => {
  it('finds core, group and prometheus-operator models', () => {
    for (const m of render(base)) {
      const Model = modelFor(m.apiVersion, m.kind);
      expect(() => new Model(m).validate(), m.kind).not.toThrow();
    }
    expect(() => modelFor('example.com/v1', 'Widget')).toThrow(/no model for example.com\/v1 Widget/);
  });
});
