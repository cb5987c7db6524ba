// Queue-time autoscaling of a TritonService on each cloud: KEDA's ScaledObject reads Triton's queue time from the
// cluster's managed Prometheus, which the KEDA operator may query (and only query) as its own cloud identity; the
// chart, the ClusterTriggerAuthentication and the deploy-time server address fit together; the wiring check refuses
// a query nothing collects.
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DcgmMonitoring, PrometheusBackend } from '../constructs/dcgm-monitoring';
import { GpuCluster } from '../constructs/gpu-cluster';
import type { TritonService } from '../constructs/triton-service';
import { placeholder } from '../src/synth/deploy-time';
import type { KubernetesManifest } from '../src/k8s/manifest';
import { KEDA, queueTimeQuery } from '../src/k8s/keda';
import { analysePromql } from '../src/monitoring/promql';
import type { IMlStack } from '../stacks/ml-stack';
import { GpuType } from '../src/spec/gpu';
import { AlertDestination } from '../src/monitoring/destinations';
import { classifierService, expectSchemaValid, objectOf, servingCluster } from './support/serving';
import { awsStack, awsTemplate, azureStack, gcpStack, terraformJson } from './support/synth';
import { LayerVersion } from 'aws-cdk-lib/aws-lambda';

interface Trigger {
  type: string;
  metricType: string;
  metadata: Record<string, string>;
  authenticationRef?: { kind: string; name: string };
}
interface ScaledObjectJson {
  spec: { minReplicaCount: number; maxReplicaCount: number; triggers: Trigger[] };
}

/** A cluster with DcgmMonitoring on the managed Prometheus and the classifier scaling on 5 ms of queue time. */
function platform(
  stack: IMlStack,
  cluster: GpuCluster = servingCluster(stack),
): { service: TritonService; cluster: GpuCluster } {
  new DcgmMonitoring(stack, 'Monitoring', { cluster, prometheus: PrometheusBackend.MANAGED });
  const service = classifierService(
    stack,
    { autoscaling: { queueTime: { targetMilliseconds: 5 } } },
    cluster,
  );
  return { service, cluster };
}

const scaled = (service: TritonService) =>
  objectOf<ScaledObjectJson>(service.manifests, 'ScaledObject', 'classifier');
const auth = (cluster: GpuCluster) =>
  objectOf<{ spec: { podIdentity: { provider: string; identityId?: string } } }>(
    cluster.manifests.manifests,
    'ClusterTriggerAuthentication',
    KEDA.authentication,
  );

function expectQueueTimeTrigger(service: TritonService): Trigger {
  const so = scaled(service);
  expect(service.manifests.some((m) => m.kind === 'HorizontalPodAutoscaler')).toBe(false);
  // Never to zero: the floor is the stable track's share of replicas.min.
  expect(so.spec.minReplicaCount).toBe(3);
  expect(so.spec.maxReplicaCount).toBe(7);
  expect(so.spec.triggers).toHaveLength(1);
  const t = so.spec.triggers[0];
  expect(t).toMatchObject({
    type: 'prometheus',
    metricType: 'Value',
    authenticationRef: { kind: 'ClusterTriggerAuthentication', name: KEDA.authentication },
  });
  expect(t.metadata.threshold).toBe('5000');
  expect(analysePromql(t.metadata.query)).toMatchObject({
    errors: [],
    metrics: expect.arrayContaining(['nv_inference_queue_duration_us', 'nv_inference_request_success']),
  });
  expectSchemaValid(service.manifests as KubernetesManifest[]);
  return t;
}

describe('queue-time autoscaling on AWS (KEDA on Amazon Managed Service for Prometheus)', () => {
  const stack = awsStack({ env: { region: 'eu-west-1', account: '123456789012' } });
  const { service, cluster } = platform(stack);
  const template = awsTemplate(stack);

  it('scales on queue time with the workspace URL as a deploy-time value, signed for the region', () => {
    const t = expectQueueTimeTrigger(service);
    expect(t.metadata.serverAddress).toBe(
      placeholder({ stack: 'test', output: 'MlPrometheusServerAddress' }),
    );
    expect(t.metadata.awsRegion).toBe('eu-west-1');
    expect(auth(cluster).spec.podIdentity).toEqual({ provider: 'aws' });
    template.hasOutput('MlPrometheusServerAddress', {
      Value: {
        'Fn::Join': [
          '',
          [
            'https://aps-workspaces.eu-west-1.amazonaws.com/workspaces/',
            { 'Fn::GetAtt': [Match.anyValue(), 'WorkspaceId'] },
          ],
        ],
      },
    });
  });

  it("binds KEDA's operator to a role that may only query this workspace", () => {
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'keda',
      ServiceAccount: 'keda-operator',
    });
    const policies = template.findResources('AWS::IAM::Policy', {
      Properties: {
        PolicyDocument: {
          Statement: Match.arrayWith([Match.objectLike({ Action: Match.arrayWith(['aps:QueryMetrics']) })]),
        },
      },
    });
    const statements = Object.values(policies).flatMap(
      (p) =>
        (p as { Properties: { PolicyDocument: { Statement: object[] } } }).Properties.PolicyDocument
          .Statement,
    );
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: ['aps:QueryMetrics', 'aps:GetSeries', 'aps:GetLabels', 'aps:GetMetricMetadata'],
        Resource: { 'Fn::GetAtt': [expect.stringMatching(/PrometheusWorkspace/), 'Arn'] },
      },
    ]);
  });

  it('installs the KEDA chart, pinned, on the system pool', () => {
    const chart = cluster.helmCharts.find((c) => c.release === 'keda')!;
    expect(chart).toMatchObject({ repository: KEDA.repository, version: KEDA.version, namespace: 'keda' });
    expect(chart.values).toMatchObject({ nodeSelector: { 'mlstack.io/pool': 'system' } });
  });

  it('with a kubectl layer, CloudFormation fills the server address and applies objects after the charts', () => {
    const s = awsStack({
      env: { region: 'eu-west-1', account: '123456789012' },
      kubectlLayer: (scope) =>
        LayerVersion.fromLayerVersionArn(
          scope,
          'Kubectl',
          'arn:aws:lambda:eu-west-1:123456789012:layer:kubectl:1',
        ),
    });
    platform(s);
    const t = awsTemplate(s);
    const manifests = t.findResources('Custom::AWSCDK-EKS-KubernetesResource');
    const serving = Object.entries(manifests).find(([, r]) => JSON.stringify(r).includes('ScaledObject'))!;
    const text = JSON.stringify(serving[1]);
    expect(text).not.toContain('${mlstack:output:');
    expect(text).toMatch(/WorkspaceId/);
    const charts = Object.keys(t.findResources('Custom::AWSCDK-EKS-HelmChart'));
    expect(charts.length).toBeGreaterThanOrEqual(2);
    expect((serving[1] as { DependsOn: string[] }).DependsOn).toEqual(expect.arrayContaining(charts));
  });
});

describe('queue-time autoscaling on Google Cloud (KEDA on Managed Service for Prometheus)', () => {
  const stack = gcpStack();
  const { service, cluster } = platform(stack);
  const { json } = terraformJson(stack);

  it("queries the project's Prometheus API, scoped to this cluster", () => {
    const t = expectQueueTimeTrigger(service);
    expect(t.metadata.serverAddress).toBe(
      'https://monitoring.googleapis.com/v1/projects/acme-ml-test/location/global/prometheus',
    );
    expect(t.metadata.query).toContain('nv_inference_queue_duration_us{cluster="ml", job="classifier"');
    expect(auth(cluster).spec.podIdentity).toEqual({ provider: 'gcp' });
  });

  it("gives KEDA's operator a Google service account that may read monitoring data, bound by Workload Identity", () => {
    const viewer = Object.values(json.resource.google_project_iam_member).filter(
      (m) => m.role === 'roles/monitoring.viewer' && String(m.member).includes('KedaOperator'),
    );
    expect(viewer).toHaveLength(1);
    expect(viewer[0].member).toMatch(/google_service_account\.Gpus_KedaOperator_\w+\.member/);
    const binding = Object.values(json.resource.google_service_account_iam_member).find((b) =>
      String(b.member).includes('[keda/keda-operator]'),
    );
    expect(binding).toMatchObject({ role: 'roles/iam.workloadIdentityUser' });
    const chart = cluster.helmCharts.find((c) => c.release === 'keda')!;
    expect(chart.values).toMatchObject({
      podIdentity: {
        gcp: {
          enabled: true,
          gcpIAMServiceAccount: expect.stringMatching(/@acme-ml-test\.iam\.gserviceaccount\.com$/),
        },
      },
    });
  });
});

describe('queue-time autoscaling on Azure (KEDA on Azure Monitor managed Prometheus)', () => {
  const stack = azureStack();
  const { service, cluster } = platform(stack);
  const { json } = terraformJson(stack);

  it("authenticates as the operator's managed identity and queries the workspace endpoint, both known at apply", () => {
    const t = expectQueueTimeTrigger(service);
    expect(t.metadata.serverAddress).toBe(
      placeholder({ stack: 'test', output: 'MlPrometheusServerAddress' }),
    );
    const clientId = placeholder({ stack: 'test', output: 'KedaKedaOperatorClientId' });
    expect(auth(cluster).spec.podIdentity).toEqual({ provider: 'azure-workload', identityId: clientId });
    const chart = cluster.helmCharts.find((c) => c.release === 'keda')!;
    expect(chart.values).toMatchObject({ podIdentity: { azureWorkload: { enabled: true, clientId } } });
    expect(json.output!.MlPrometheusServerAddress.value).toMatch(
      /azurerm_monitor_workspace\.\w+\.query_endpoint/,
    );
    expect(json.output!.KedaKedaOperatorClientId.value).toMatch(
      /azurerm_user_assigned_identity\.\w+\.client_id/,
    );
  });

  it('lets that identity read the workspace and nothing else, federated with the operator ServiceAccount', () => {
    const federated = Object.values(json.resource.azurerm_federated_identity_credential).find(
      (f) => f.subject === 'system:serviceaccount:keda:keda-operator',
    );
    expect(federated).toBeDefined();
    const roles = Object.values(json.resource.azurerm_role_assignment).filter((r) =>
      String(r.principal_id).includes('Gpus_KedaOperator'),
    );
    expect(roles.map((r) => [r.role_definition_name, r.scope])).toEqual([
      ['Monitoring Data Reader', expect.stringMatching(/azurerm_monitor_workspace\.\w+\.id/)],
    ]);
  });
});

describe('queue-time autoscaling wiring', () => {
  it('fails synth when nothing collects the queue-time metric (no DcgmMonitoring)', () => {
    const stack = gcpStack();
    classifierService(stack, { autoscaling: { queueTime: { targetMilliseconds: 5 } } });
    expect(() => terraformJson(stack)).toThrow(
      /autoscaler ScaledObject classifier\/classifier queries Google Cloud Managed Service for Prometheus for nv_inference_queue_duration_us, which .* exports but Google Cloud Managed Service for Prometheus does not collect \(prometheus-operator \(ServiceMonitor classifier\/classifier\) does\)\. Add DcgmMonitoring/,
    );
  });

  it('keeps CPU scaling through a plain HPA when queue time is not asked for, and installs no KEDA', () => {
    const stack = gcpStack();
    const cluster = servingCluster(stack);
    const service = classifierService(stack, {}, cluster);
    expect(service.manifests.some((m) => m.kind === 'HorizontalPodAutoscaler')).toBe(true);
    expect(cluster.helmCharts.map((c) => c.release)).not.toContain('keda');
  });

  it("uses the platform's own KEDA when told, installing no chart and naming what its operator must carry", () => {
    const stack = gcpStack();
    const cluster = new GpuCluster(stack, 'Gpus', {
      clusterName: 'ml',
      alerts: [AlertDestination.email('ml-oncall@example.com')],
      keda: { existing: { namespace: 'platform-keda', operatorServiceAccount: 'keda-operator' } },
      gpuPools: [
        {
          name: 'inference',
          gpu: { type: GpuType.NVIDIA_L4, count: 2 },
          maxNodes: 6,
        },
      ],
    });
    platform(stack, cluster);
    expect(cluster.helmCharts.map((c) => c.release)).not.toContain('keda');
    const warnings = cluster.node.metadata
      .filter((m) => m.type === 'mlstack:warning')
      .map((m) => String(m.data));
    expect(warnings).toEqual([
      expect.stringMatching(
        /KEDA is yours .* platform-keda\/keda-operator must carry annotation iam\.gke\.io\/gcp-service-account=.*@acme-ml-test\.iam\.gserviceaccount\.com/,
      ),
    ]);
    const binding = Object.values(terraformJson(stack).json.resource.google_service_account_iam_member).find(
      (b) => String(b.member).includes('[platform-keda/keda-operator]'),
    );
    expect(binding).toBeDefined();
  });

  it('computes the mean queue time per request of one scrape job, 0 without traffic', () => {
    expect(queueTimeQuery({ name: 'svc', namespace: 'ns' }, '2m')).toBe(
      'sum(rate(nv_inference_queue_duration_us{job="svc", namespace="ns"}[2m])) / (sum(rate(nv_inference_request_success{job="svc", namespace="ns"}[2m])) > 0) or vector(0)',
    );
  });
});
