import * as fs from 'node:fs';
import * as path from 'node:path';
import type { IDaemonSet } from 'kubernetes-models/apps/v1/DaemonSet';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { DcgmExporterSource, DcgmMonitoring, PrometheusBackend } from '../constructs/dcgm-monitoring';
import type { KubernetesManifest } from '../src/k8s/manifest';
import { DCGM_COUNTERS, DCGM_EXPORTER_IMAGE } from '../src/monitoring/dcgm';
import type { IMlStack } from '../stacks/ml-stack';
import { awsStack, awsTemplate, azureStack, gcpStack, onlyResource, terraformJson } from './support/synth';
import { classifierService, expectSchemaValid, objectOf, servingCluster } from './support/serving';

const kinds = (ms: readonly KubernetesManifest[]) => ms.map((m) => `${m.kind}/${m.metadata.name}`).sort();

/** A cluster with monitoring declared first and a TritonService after it, as the example does. */
function platform(stack: IMlStack, backend = PrometheusBackend.MANAGED) {
  const cluster = servingCluster(stack);
  const monitoring = new DcgmMonitoring(stack, 'Monitoring', { cluster, prometheus: backend });
  classifierService(stack, { canary: undefined }, cluster);
  return { cluster, monitoring };
}

describe('DcgmMonitoring: the exporter', () => {
  const { monitoring } = platform(gcpStack('exporter'));
  const { monitoring: onAws } = platform(awsStack());

  it('runs dcgm-exporter on GPU nodes only, tolerating their taints, with the counters and pod-resources mounted', () => {
    const ds = objectOf<IDaemonSet>(onAws.manifests, 'DaemonSet', 'dcgm-exporter');
    const pod = ds.spec!.template.spec!;
    expect(pod.nodeSelector).toEqual({ 'mlstack.io/gpu': 'true' });
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    const c = pod.containers[0];
    expect(c.image).toBe(DCGM_EXPORTER_IMAGE);
    expect(c.ports).toEqual([{ name: 'metrics', containerPort: 9400, protocol: 'TCP' }]);
    expect(c.env).toEqual(
      expect.arrayContaining([
        { name: 'DCGM_EXPORTER_COLLECTORS', value: '/etc/dcgm-exporter/counters.csv' },
        { name: 'DCGM_EXPORTER_KUBERNETES', value: 'true' },
        { name: 'NVIDIA_VISIBLE_DEVICES', value: 'all' },
      ]),
    );
    expect(c.volumeMounts).toEqual(
      expect.arrayContaining([
        { name: 'pod-resources', mountPath: '/var/lib/kubelet/pod-resources', readOnly: true },
        { name: 'counters', mountPath: '/etc/dcgm-exporter', readOnly: true },
      ]),
    );
    // The one privilege: root for the kubelet socket and SYS_ADMIN for profiling fields; nothing else.
    expect(c.securityContext).toEqual({
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'], add: ['SYS_ADMIN'] },
    });
    expect(c.resources).toMatchObject({ requests: { cpu: '100m' }, limits: { memory: '512Mi' } });
  });

  it('on GKE reaches the driver where GKE installs it, as a privileged container', () => {
    const pod = objectOf<IDaemonSet>(monitoring.manifests, 'DaemonSet', 'dcgm-exporter').spec!.template.spec!;
    expect(pod.volumes).toEqual(
      expect.arrayContaining([
        { name: 'nvidia', hostPath: { path: '/home/kubernetes/bin/nvidia', type: 'Directory' } },
      ]),
    );
    expect(pod.containers[0].securityContext).toMatchObject({ privileged: true });
    expect(pod.containers[0].env).toContainEqual({
      name: 'LD_LIBRARY_PATH',
      value: '/usr/local/nvidia/lib64',
    });
  });

  it('enables every field the issue lists in its counters ConfigMap', () => {
    const csv = objectOf<IConfigMap>(monitoring.manifests, 'ConfigMap', 'dcgm-exporter-counters').data![
      'counters.csv'
    ];
    const fields = csv
      .split('\n')
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => l.split(',').map((x) => x.trim()));
    expect(
      fields.every((f) => f.length === 3 && /^DCGM_FI_/.test(f[0]) && /^(gauge|counter)$/.test(f[1])),
    ).toBe(true);
    expect(fields.map((f) => f[0])).toEqual(DCGM_COUNTERS.map((c) => c.name));
    for (const name of [
      'DCGM_FI_DEV_GPU_UTIL',
      'DCGM_FI_DEV_FB_USED',
      'DCGM_FI_DEV_FB_FREE',
      'DCGM_FI_DEV_GPU_TEMP',
      'DCGM_FI_DEV_POWER_USAGE',
      'DCGM_FI_DEV_SM_CLOCK',
      'DCGM_FI_DEV_XID_ERRORS',
      'DCGM_FI_DEV_ECC_SBE_VOL_TOTAL',
      'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL',
      'DCGM_FI_PROF_PCIE_TX_BYTES',
      'DCGM_FI_PROF_NVLINK_TX_BYTES',
      'DCGM_FI_DEV_CLOCK_THROTTLE_REASONS',
    ]) {
      expect(csv).toContain(name);
    }
  });

  it('ships the dashboards as ConfigMaps for the Grafana sidecar', () => {
    const maps = monitoring.manifests.filter(
      (m) => m.kind === 'ConfigMap' && m.metadata.labels?.grafana_dashboard === '1',
    );
    expect(maps.map((m) => m.metadata.name).sort()).toEqual([
      'mlstack-gpu-fleet-dashboard',
      'mlstack-gpu-node-dashboard',
      'mlstack-inference-dashboard',
    ]);
    const fleet = JSON.parse((maps[0] as unknown as IConfigMap).data!['mlstack-gpu-fleet.json']) as {
      uid: string;
    };
    expect(fleet.uid).toBe('mlstack-gpu-fleet');
    expectSchemaValid(monitoring.manifests);
    expectSchemaValid(onAws.manifests);
  });
});

describe('DcgmMonitoring: alerts', () => {
  const { monitoring } = platform(gcpStack());
  const docs = fs.readFileSync(path.join(__dirname, '..', 'docs', 'dcgm.md'), 'utf8');

  it('has the GPU alerts of the issue, each with severity, summary, a description locating the GPU, and a runbook', () => {
    const gpu = monitoring.ruleGroups[0];
    expect(gpu.rules.map((r) => [r.alert, r.for, r.labels.severity])).toEqual([
      ['DcgmExporterDown', '10m', 'warning'],
      ['DcgmExporterMissing', '10m', 'warning'],
      ['GpuTemperatureHigh', '5m', 'warning'],
      ['GpuMemoryNearlyFull', '10m', 'warning'],
      ['GpuXidError', '0m', 'warning'],
      ['GpuEccDoubleBitErrors', '0m', 'critical'],
      ['GpuEccSingleBitErrorRate', '0m', 'warning'],
      ['GpuIdleWhileAllocated', '30m', 'info'],
      ['GpuThrottled', '15m', 'warning'],
    ]);
    expect(gpu.rules.find((r) => r.alert === 'DcgmExporterDown')!.expr).toBe('up{job="dcgm-exporter"} == 0');
    expect(gpu.rules.find((r) => r.alert === 'GpuTemperatureHigh')!.expr).toBe(
      'DCGM_FI_DEV_GPU_TEMP{job="dcgm-exporter"} > 80',
    );
    for (const r of gpu.rules.filter((x) => x.alert.startsWith('Gpu'))) {
      expect(r.annotations.description, r.alert).toMatch(/\{\{ \$labels\.node \}\}/);
      expect(r.annotations.description, r.alert).toMatch(/\{\{ \$labels\.gpu \}\}/);
    }
  });

  it('adds latency and failure alerts for a TritonService declared after it', () => {
    const inference = monitoring.ruleGroups[1];
    expect(inference.name).toBe('mlstack-inference-classifier-classifier');
    expect(inference.rules.map((r) => r.alert)).toEqual([
      'InferenceLatencyHigh',
      'InferenceFailureRatioHigh',
    ]);
    expect(inference.rules[0].expr).toBe(
      'max by (model) (nv_inference_request_summary_us{job="classifier", namespace="classifier", quantile="0.99"}) / 1000 > 500',
    );
  });

  it('links every alert to its section of docs/dcgm.md', () => {
    for (const g of monitoring.ruleGroups) {
      for (const r of g.rules) {
        expect(r.annotations.runbook_url).toBe(
          `https://github.com/mlstack/mlstack/blob/main/docs/dcgm.md#${r.alert.toLowerCase()}`,
        );
        expect(docs, `docs/dcgm.md has no section for ${r.alert}`).toMatch(
          new RegExp(`^### ${r.alert}$`, 'm'),
        );
      }
    }
  });

  it('takes thresholds as props and checks their ranges', () => {
    const stack = gcpStack();
    const m = new DcgmMonitoring(stack, 'M', {
      cluster: servingCluster(stack),
      thresholds: { temperatureCelsius: 85, temperatureMinutes: 2, idleMinutes: 60 },
      runbookBaseUrl: 'https://runbooks.example.com/gpu',
    });
    const temp = m.ruleGroups[0].rules.find((r) => r.alert === 'GpuTemperatureHigh')!;
    expect([temp.expr, temp.for]).toEqual(['DCGM_FI_DEV_GPU_TEMP{job="dcgm-exporter"} > 85', '2m']);
    expect(temp.annotations.runbook_url).toBe('https://runbooks.example.com/gpu#gputemperaturehigh');
    expect(m.ruleGroups[0].rules.find((r) => r.alert === 'GpuIdleWhileAllocated')!.for).toBe('60m');
  });
});

describe('DcgmMonitoring validation', () => {
  const attempt = (props: Record<string, unknown>) => () => {
    const stack = gcpStack();
    return new DcgmMonitoring(stack, 'M', { cluster: servingCluster(stack), ...props });
  };
  it('names the prop, the value and the fix', () => {
    expect(attempt({ thresholds: { temperatureCelsius: 200 } })).toThrow(
      /DcgmMonitoring 'test\/M': 'thresholds.temperatureCelsius' \(200\) must be an integer between 40 and 110/,
    );
    expect(attempt({ thresholds: { framebufferPercent: 0 } })).toThrow(
      /'thresholds.framebufferPercent' \(0\)/,
    );
    expect(attempt({ inferenceThresholds: { failurePercent: 101 } })).toThrow(
      /'inferenceThresholds.failurePercent' \(101\)/,
    );
    expect(attempt({ scrapeInterval: '30 seconds' })).toThrow(
      /'scrapeInterval' \("30 seconds"\) is not a scrape interval/,
    );
    expect(attempt({ scrapeInterval: '20m' })).toThrow(/'scrapeInterval' \("20m"\)/);
    expect(attempt({ namespace: 'GPU' })).toThrow(/'namespace' \("GPU"\) is not a valid name/);
    expect(attempt({ runbookBaseUrl: 'docs/dcgm.md' })).toThrow(
      /'runbookBaseUrl' \("docs\/dcgm.md"\) is not an http\(s\) URL/,
    );
    expect(attempt({ prometheus: 'victoria' })).toThrow(
      /'prometheus' \("victoria"\) is not a PrometheusBackend/,
    );
    expect(attempt({ exporter: 'operator' })).toThrow(
      /'exporter' \("operator"\) is not a DcgmExporterSource/,
    );
    expect(attempt({ cluster: {} })).toThrow(/'cluster' \(\{\}\) is not a GpuCluster/);
  });
});

describe('DcgmMonitoring with an in-cluster Prometheus (kube-prometheus-stack)', () => {
  const { monitoring, cluster } = platform(gcpStack(), PrometheusBackend.IN_CLUSTER);

  it('adds a ServiceMonitor keeping the workload labels, and PrometheusRules next to what they watch', () => {
    expect(kinds(monitoring.manifests)).toEqual(
      expect.arrayContaining([
        'ServiceMonitor/dcgm-exporter',
        'PrometheusRule/mlstack-gpu-alerts',
        'PrometheusRule/mlstack-inference-classifier',
      ]),
    );
    expect(kinds(monitoring.manifests).some((k) => k.startsWith('PodMonitoring'))).toBe(false);
    const sm = objectOf<{
      spec: { endpoints: { honorLabels: boolean; interval: string; relabelings: unknown[] }[] };
    }>(monitoring.manifests, 'ServiceMonitor');
    expect(sm.spec.endpoints[0]).toMatchObject({ honorLabels: true, interval: '30s' });
    const rule = monitoring.manifests.find((m) => m.metadata.name === 'mlstack-inference-classifier')!;
    expect(rule.metadata.namespace).toBe('classifier');
    expect(cluster.manifests.manifests.filter((m) => m.kind === 'PrometheusRule')).toHaveLength(2);
    expectSchemaValid(monitoring.manifests);
  });

  it("reuses the GPU operator's exporter instead of deploying one", () => {
    const stack = gcpStack();
    const m = new DcgmMonitoring(stack, 'M', {
      cluster: servingCluster(stack),
      prometheus: PrometheusBackend.IN_CLUSTER,
      exporter: DcgmExporterSource.gpuOperator(),
    });
    expect(m.exporterJob).toBe('nvidia-dcgm-exporter');
    expect(kinds(m.manifests).some((k) => k.startsWith('DaemonSet'))).toBe(false);
    const counters = objectOf<IConfigMap>(m.manifests, 'ConfigMap', 'mlstack-dcgm-counters');
    expect(counters.metadata!.namespace).toBe('gpu-operator');
    expect(counters.data!['dcgm-metrics.csv']).toContain('DCGM_FI_DEV_XID_ERRORS, gauge');
    const sm = objectOf<{
      metadata: { namespace: string };
      spec: { selector: unknown; endpoints: { port: string }[] };
    }>(m.manifests, 'ServiceMonitor');
    expect(sm.metadata.namespace).toBe('gpu-operator');
    expect(sm.spec.selector).toEqual({ matchLabels: { app: 'nvidia-dcgm-exporter' } });
    expect(sm.spec.endpoints[0].port).toBe('gpu-metrics');
    expect(m.ruleGroups[0].rules[0].expr).toBe('up{job="nvidia-dcgm-exporter"} == 0');
    expectSchemaValid(m.manifests);
  });
});

describe('DcgmMonitoring on AWS (Amazon Managed Service for Prometheus)', () => {
  const stack = awsStack();
  const { monitoring } = platform(stack);
  const template = awsTemplate(stack);

  it('creates a workspace, an agentless scraper in the cluster VPC and its EKS access', () => {
    template.resourceCountIs('AWS::APS::Workspace', 1);
    const scraper = Object.values(template.findResources('AWS::APS::Scraper'))[0].Properties;
    expect(scraper.Source.EksConfiguration.SubnetIds.length).toBeGreaterThan(0);
    const config = parse(
      Buffer.from(scraper.ScrapeConfiguration.ConfigurationBlob, 'base64').toString('utf8'),
    ) as {
      scrape_configs: { job_name: string; honor_labels: boolean; kubernetes_sd_configs: unknown[] }[];
    };
    expect(config.scrape_configs.map((c) => [c.job_name, c.honor_labels])).toEqual([
      ['dcgm-exporter', true],
      ['classifier', false],
    ]);
    expect(config.scrape_configs[0].kubernetes_sd_configs).toEqual([
      { role: 'endpoints', namespaces: { names: ['gpu-monitoring'] } },
    ]);
    template.hasResourceProperties('AWS::EKS::AccessEntry', { Username: 'aps-collector-user' });
    expect(kinds(monitoring.manifests)).toEqual(
      expect.arrayContaining([
        'ClusterRole/aps-collector-role',
        'ClusterRoleBinding/aps-collector-user-role-binding',
      ]),
    );
  });

  it('evaluates the GPU and inference alerts in rule groups namespaces', () => {
    const namespaces = Object.values(template.findResources('AWS::APS::RuleGroupsNamespace')).map(
      (r) => parse(r.Properties.Data as string) as { groups: { name: string; rules: { alert: string }[] }[] },
    );
    expect(namespaces.map((n) => n.groups[0].name)).toEqual([
      'mlstack-gpu',
      'mlstack-inference-classifier-classifier',
    ]);
    expect(namespaces[0].groups[0].rules).toHaveLength(9);
    expect(
      kinds(monitoring.manifests).some(
        (k) => k.startsWith('ServiceMonitor') || k.startsWith('PrometheusRule'),
      ),
    ).toBe(false);
  });

  it('matches the snapshot', () => {
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    const ours = Object.fromEntries(
      Object.entries(resources).filter(([, r]) => /^AWS::APS::|^AWS::EKS::AccessEntry$/.test(r.Type)),
    );
    expect({
      resources: ours,
      manifests: monitoring.manifests.filter((m) => m.kind !== 'ConfigMap'),
    }).toMatchSnapshot();
  });
});

describe('DcgmMonitoring on Google Cloud (Managed Service for Prometheus)', () => {
  const stack = gcpStack();
  const { monitoring } = platform(stack);
  const { json } = terraformJson(stack);

  it('turns on managed collection and collects the exporter and the service with PodMonitorings', () => {
    expect(onlyResource(json, 'google_container_cluster').monitoring_config).toEqual({
      enable_components: ['SYSTEM_COMPONENTS'],
      managed_prometheus: { enabled: true },
    });
    const pms = monitoring.manifests.filter((m) => m.kind === 'PodMonitoring') as unknown as {
      metadata: { name: string; namespace: string };
      spec: { endpoints: { port: number }[] };
    }[];
    expect(pms.map((p) => [p.metadata.namespace, p.metadata.name, p.spec.endpoints[0].port])).toEqual([
      ['gpu-monitoring', 'dcgm-exporter', 9400],
      ['classifier', 'classifier', 8002],
    ]);
    expectSchemaValid(monitoring.manifests);
  });

  it('evaluates each alert as a Cloud Monitoring alerting policy on PromQL, scoped to the cluster', () => {
    const policies = Object.values(json.resource.google_monitoring_alert_policy) as {
      display_name: string;
      severity: string;
      notification_channels: string[];
      conditions: { condition_prometheus_query_language: { query: string; rule_group: string } }[];
    }[];
    const names = policies.map((p) => p.display_name);
    expect(names).toContain('ml: GpuTemperatureHigh');
    expect(names).toContain('ml: InferenceLatencyHigh');
    for (const p of policies) {
      const q = p.conditions[0].condition_prometheus_query_language;
      expect(q.query, p.display_name).toMatch(/cluster="ml"/);
      expect(p.notification_channels, p.display_name).toHaveLength(1);
    }
    expect(Object.values(json.resource.google_monitoring_notification_channel)).toEqual([
      expect.objectContaining({ type: 'email', labels: { email_address: 'ml-oncall@example.com' } }),
    ]);
  });

  it('matches the snapshot', () => {
    expect({
      monitoringConfig: onlyResource(json, 'google_container_cluster').monitoring_config,
      policies: Object.keys(json.resource.google_monitoring_alert_policy).sort(),
      manifests: monitoring.manifests.filter((m) => m.kind !== 'ConfigMap'),
    }).toMatchSnapshot();
  });
});

describe('DcgmMonitoring on Azure (Azure Monitor managed Prometheus)', () => {
  const stack = azureStack();
  const { monitoring } = platform(stack);
  const { json } = terraformJson(stack);

  it('sends the cluster metrics to an Azure Monitor workspace through a data collection rule', () => {
    expect(onlyResource(json, 'azurerm_monitor_workspace')).toMatchObject({ name: 'ml-prometheus' });
    expect(onlyResource(json, 'azurerm_monitor_data_collection_rule')).toMatchObject({
      kind: 'Linux',
      data_flow: [{ streams: ['Microsoft-PrometheusMetrics'], destinations: ['MonitoringAccount1'] }],
    });
    expect(onlyResource(json, 'azurerm_monitor_data_collection_rule_association').target_resource_id).toMatch(
      /azurerm_kubernetes_cluster\.Gpus_\w+\.id/,
    );
    expect(onlyResource(json, 'azurerm_kubernetes_cluster').monitor_metrics).toEqual({});
    expect(kinds(monitoring.manifests)).toEqual(
      expect.arrayContaining(['ServiceMonitor/dcgm-exporter-ama', 'ServiceMonitor/classifier-ama']),
    );
    expect(monitoring.manifests.find((m) => m.metadata.name === 'dcgm-exporter-ama')!.apiVersion).toBe(
      'azmonitoring.coreos.com/v1',
    );
    expectSchemaValid(monitoring.manifests);
  });

  it('evaluates the alerts as Prometheus rule groups with Azure durations and severities', () => {
    const groups = Object.values(json.resource.azurerm_monitor_alert_prometheus_rule_group) as {
      name: string;
      rule: { alert: string; for: string; severity: number; expression: string }[];
    }[];
    expect(groups.map((g) => g.name)).toEqual(['mlstack-gpu', 'mlstack-inference-classifier-classifier']);
    const byAlert = Object.fromEntries(groups[0].rule.map((r) => [r.alert, r]));
    expect(byAlert.GpuEccDoubleBitErrors).toMatchObject({ for: 'PT1M', severity: 0 });
    expect(byAlert.GpuTemperatureHigh).toMatchObject({ for: 'PT5M', severity: 2 });
    expect(byAlert.GpuIdleWhileAllocated).toMatchObject({ for: 'PT30M', severity: 3 });
  });

  it('matches the snapshot', () => {
    const types = [
      'azurerm_monitor_workspace',
      'azurerm_monitor_data_collection_endpoint',
      'azurerm_monitor_data_collection_rule',
      'azurerm_monitor_data_collection_rule_association',
      'azurerm_monitor_alert_prometheus_rule_group',
    ];
    expect({
      resources: Object.fromEntries(types.map((t) => [t, json.resource[t]])),
      manifests: monitoring.manifests.filter((m) => m.kind !== 'ConfigMap'),
    }).toMatchSnapshot();
  });
});
