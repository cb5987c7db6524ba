import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ICronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { describe, expect, it } from 'vitest';
import { PrometheusBackend } from '../constructs/dcgm-monitoring';
import { DriftPipeline, type DriftPipelineProps } from '../constructs/drift-pipeline';
import { analysePromql } from '../src/monitoring/promql';
import type { IMlStack } from '../stacks/ml-stack';
import { STORE_COPY_IMAGES } from '../stacks/private/store-copy';
import {
  awsStack,
  awsTemplate,
  azureStack,
  gcpStack,
  onlyResource,
  terraformJson,
  resourcesOf,
} from './support/synth';
import { expectSchemaValid, objectOf, servingCluster } from './support/serving';

const IMAGE = 'registry.example.com/mlstack-server:0.1.0';
function pipeline(stack: IMlStack, props: Partial<DriftPipelineProps> = {}): DriftPipeline {
  return new DriftPipeline(stack, 'Drift', {
    cluster: servingCluster(stack),
    schedule: '0 * * * *',
    reference: 'reference.csv',
    current: 'current.csv',
    features: { age: 'numeric', country: 'categorical' },
    predictions: ['score'],
    thresholds: { psi: { drift: 0.3 }, features: { age: { ks: { pValue: 0.001 } } } },
    webhook: 'https://ci.example.com/hooks/retrain',
    pushgateway: 'http://pushgateway.monitoring.svc:9091',
    image: IMAGE,
    ...props,
  });
}
const cronJob = (p: DriftPipeline) => objectOf<ICronJob>(p.manifests, 'CronJob');
const podSpec = (p: DriftPipeline) => cronJob(p).spec!.jobTemplate.spec!.template.spec!;

describe('DriftPipeline: the CronJob', () => {
  const p = pipeline(gcpStack());

  it('runs on the schedule, one at a time, with history limits, a deadline and retries bounded', () => {
    expect(cronJob(p).spec).toMatchObject({
      schedule: '0 * * * *',
      timeZone: 'Etc/UTC',
      concurrencyPolicy: 'Forbid',
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 3,
      startingDeadlineSeconds: 300,
      jobTemplate: { spec: { backoffLimit: 1, activeDeadlineSeconds: 3240 } },
    });
    expect(p.intervalSeconds).toBe(3600);
  });

  it('copies the windows in, runs mlstack drift with the config, and uploads the report, all non-root and read-only', () => {
    const pod = podSpec(p);
    expect(pod.initContainers![0]).toMatchObject({
      image: STORE_COPY_IMAGES.gcp,
      command: ['gcloud', 'storage', 'rsync', '--recursive', `gs://${p.store.name}/windows`, '/data'],
    });
    const [drift, upload] = pod.containers;
    expect(drift.image).toBe(IMAGE);
    expect(drift.command![2]).toContain(
      'mlstack.js drift --reference /data/reference.csv --current /data/current.csv --schema /config/schema.json --config /config/config.json --out /out/report --drift-exit-code 0',
    );
    expect(upload.command![2]).toContain(
      `gcloud storage cp --recursive /out/report/* "gs://${p.store.name}/reports/$ts/"`,
    );
    expect(upload.command![2]).toContain('exit "$(cat /out/.exit)"');
    for (const c of [...pod.initContainers!, ...pod.containers]) {
      expect(c.securityContext, c.name).toMatchObject({
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
      });
      expect(c.resources?.requests, c.name).toBeDefined();
    }
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(pod.restartPolicy).toBe('Never');
  });

  it('writes the schema and the thresholds the job reads', () => {
    const cm = objectOf<IConfigMap>(p.manifests, 'ConfigMap', 'drift-config');
    expect(JSON.parse(cm.data!['schema.json'])).toEqual({
      features: { age: 'numeric', country: 'categorical' },
      predictions: ['score'],
    });
    expect(JSON.parse(cm.data!['config.json'])).toEqual({
      thresholds: { psi: { drift: 0.3 } },
      features: { age: { ks: { pValue: 0.001 } } },
      webhook: 'https://ci.example.com/hooks/retrain',
      pushgateway: 'http://pushgateway.monitoring.svc:9091',
      job: 'drift',
    });
    expectSchemaValid(p.manifests);
  });

  it('alerts on sustained drift, no verdict, failed runs and no success within two schedules, in valid PromQL', () => {
    expect(p.ruleGroup.rules.map((r) => [r.alert, r.labels.severity])).toEqual([
      ['DataDriftSustained', 'warning'],
      ['DriftInsufficientData', 'warning'],
      ['DriftJobFailed', 'warning'],
      ['DriftJobNotSucceeding', 'critical'],
    ]);
    expect(p.ruleGroup.rules[0].expr).toBe(
      'min_over_time(mlstack_drift_dataset_drifted{job_name="drift"}[120m]) == 1',
    );
    expect(p.ruleGroup.rules[1].expr).toBe(
      'min_over_time(mlstack_drift_insufficient_data{job_name="drift"}[120m]) == 1',
    );
    expect(p.ruleGroup.rules[3].expr).toContain('> 7200');
    const docs = fs.readFileSync(path.join(__dirname, '..', 'docs', 'drift.md'), 'utf8');
    for (const r of p.ruleGroup.rules) {
      expect(analysePromql(r.expr).errors, r.expr).toEqual([]);
      expect(docs).toMatch(new RegExp(`^### ${r.alert}$`, 'm'));
    }
    // Managed by default: Cloud Monitoring alerting policies on GCP, no Kubernetes object.
    expect(p.manifests.filter((m) => /Rule/.test(m.kind))).toEqual([]);
  });
});

describe('DriftPipeline: what its alerts read', () => {
  it('deploys a Pushgateway and kube-state-metrics for its namespace, both collected by the managed Prometheus', () => {
    const stack = gcpStack();
    const p = pipeline(stack, { pushgateway: undefined });
    const config = JSON.parse(objectOf<IConfigMap>(p.manifests, 'ConfigMap').data!['config.json']) as {
      pushgateway: string;
    };
    expect(config.pushgateway).toBe('http://drift-pushgateway.drift.svc:9091');
    const names = (kind: string) => p.manifests.filter((m) => m.kind === kind).map((m) => m.metadata.name);
    expect(names('Deployment')).toEqual(['drift-pushgateway', 'drift-job-metrics']);
    // GMP collects both; the Pushgateway's pushed job_name label is what the alert selects.
    expect(names('PodMonitoring')).toEqual(['drift-pushgateway', 'drift-job-metrics']);
    // kube-state-metrics sees Jobs and CronJobs of this namespace only.
    const role = objectOf<{ rules: unknown[] }>(p.manifests, 'Role');
    expect(role.rules).toEqual([
      { apiGroups: ['batch'], resources: ['jobs', 'cronjobs'], verbs: ['list', 'watch'] },
    ]);
    const ksm = p.manifests.find(
      (m) => m.metadata.name === 'drift-job-metrics' && m.kind === 'Deployment',
    ) as unknown as {
      spec: { template: { spec: { containers: { args: string[] }[] } } };
    };
    expect(ksm.spec.template.spec.containers[0].args).toContain('--namespaces=drift');
    expectSchemaValid(p.manifests);
    // Every metric the alerts read has a producer that is collected.
    const cluster = p.node.scope!.node.findChild('Gpus') as unknown as { wiring: { check(): string[] } };
    expect(cluster.wiring.check()).toEqual([]);
  });

  it('denies ingress by default: the collectors reach both exporters, the job only its Pushgateway', () => {
    const p = pipeline(gcpStack(), { pushgateway: undefined });
    type Policy = {
      metadata: { name: string };
      spec: {
        podSelector: Record<string, unknown>;
        ingress?: { from: unknown[]; ports: { port: number }[] }[];
        egress?: { to?: unknown[]; ports: { port: number; protocol: string }[] }[];
      };
    };
    const policies = p.manifests.filter((m) => m.kind === 'NetworkPolicy') as unknown as Policy[];
    const byName = Object.fromEntries(policies.map((x) => [x.metadata.name, x.spec]));
    expect(Object.keys(byName).sort()).toEqual([
      'default-deny-ingress',
      'default-egress',
      'drift-job-metrics',
      'drift-pushgateway',
    ]);
    // Egress: DNS, HTTPS, GKE's metadata server and the Pushgateway's port; nothing else.
    expect(byName['default-egress'].egress).toEqual([
      {
        ports: [
          { port: 53, protocol: 'UDP' },
          { port: 53, protocol: 'TCP' },
        ],
      },
      { ports: [{ port: 443, protocol: 'TCP' }] },
      { to: [{ ipBlock: { cidr: '169.254.169.254/32' } }], ports: [{ port: 80, protocol: 'TCP' }] },
      { to: [{ ipBlock: { cidr: '169.254.169.252/32' } }], ports: [{ port: 988, protocol: 'TCP' }] },
      { ports: [{ port: 9091, protocol: 'TCP' }] },
    ]);
    expect(byName['default-deny-ingress']).toEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    const ns = (n: string) => ({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': n } } });
    // GKE's managed collectors run in gmp-system.
    expect(byName['drift-pushgateway'].ingress).toEqual([
      { from: [ns('gmp-system'), ns('drift')], ports: [{ port: 9091, protocol: 'TCP' }] },
    ]);
    expect(byName['drift-job-metrics'].ingress).toEqual([
      { from: [ns('gmp-system')], ports: [{ port: 8080, protocol: 'TCP' }] },
    ]);
  });

  it("with the user's own Pushgateway, deploys none and says the alerts depend on it", () => {
    const stack = gcpStack();
    const p = pipeline(stack);
    expect(p.manifests.filter((m) => m.metadata.name === 'drift-pushgateway')).toEqual([]);
    const warnings = p.node.metadata.filter((m) => m.type === 'mlstack:warning').map((m) => String(m.data));
    expect(warnings.join('\n')).toMatch(
      /DataDriftSustained reads the drift metrics the job pushes to http:\/\/pushgateway\.monitoring\.svc:9091, which mlstack neither deploys nor scrapes/,
    );
  });
});

describe('DriftPipeline per cloud', () => {
  it('AWS: a retained bucket, a Pod Identity role with read-write on it, and an S3 upload', () => {
    const stack = awsStack();
    const p = pipeline(stack, { prometheus: PrometheusBackend.IN_CLUSTER });
    const template = awsTemplate(stack);
    template.hasResource('AWS::S3::Bucket', {
      Properties: { BucketName: p.store.name },
      DeletionPolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'drift',
      ServiceAccount: 'drift',
    });
    expect(podSpec(p).containers[1].command![2]).toContain(
      `aws s3 cp --recursive --only-show-errors /out/report "s3://${p.store.name}/reports/$ts"`,
    );
    expect(p.manifests.map((m) => m.kind)).toContain('PrometheusRule');
    expect({
      resources: Object.fromEntries(
        Object.entries(template.toJSON().Resources as Record<string, unknown>).filter(([k]) =>
          k.startsWith('Drift'),
        ),
      ),
      manifests: p.manifests,
    }).toMatchSnapshot();
  });

  it('GCP: a bucket with prevent_destroy and lifecycle, objectUser for the job', () => {
    const stack = gcpStack();
    const p = pipeline(stack);
    const { json } = terraformJson(stack);
    expect(onlyResource(json, 'google_storage_bucket')).toMatchObject({
      lifecycle: { prevent_destroy: true },
      force_destroy: false,
      lifecycle_rule: [
        { condition: { days_since_noncurrent_time: 30 }, action: { type: 'Delete' } },
        { condition: { age: 30 }, action: { type: 'SetStorageClass', storage_class: 'NEARLINE' } },
      ],
    });
    expect(
      Object.values(json.resource.google_storage_bucket_iam_member)
        .map((m) => m.role)
        .sort(),
    ).toEqual(['roles/storage.legacyBucketReader', 'roles/storage.objectUser']);
    const ours = resourcesOf(json, 'Drift');
    expect({ resources: ours, manifests: p.manifests }).toMatchSnapshot();
  });

  it('Azure: blob upload with the federated login and Storage Blob Data Contributor on the container', () => {
    const stack = azureStack();
    const p = pipeline(stack);
    const { json } = terraformJson(stack);
    expect(Object.values(json.resource.azurerm_role_assignment).map((r) => r.role_definition_name)).toEqual([
      'Storage Blob Data Contributor',
    ]);
    expect(podSpec(p).containers[1].command![2]).toContain(
      `az storage blob upload-batch --auth-mode login --account-name ${p.store.name} --destination models --destination-path "reports/$ts"`,
    );
    expect(Object.keys(json.resource.azurerm_monitor_alert_prometheus_rule_group)).toHaveLength(1);
    const ours = resourcesOf(json, 'Drift');
    expect({ resources: ours, manifests: p.manifests }).toMatchSnapshot();
  });
});

describe('DriftPipeline validation', () => {
  const attempt = (props: Partial<DriftPipelineProps>) => () => pipeline(gcpStack(), props);
  it('rejects invalid schedules', () => {
    expect(attempt({ schedule: 'hourly' })).toThrow(
      /DriftPipeline 'test\/Drift': 'schedule' \("hourly"\) is not a five-field cron expression/,
    );
    expect(attempt({ schedule: '61 * * * *' })).toThrow(
      /'schedule' \("61 \* \* \* \*"\) is not a valid cron expression/,
    );
    expect(attempt({ schedule: '* * * * *' })).toThrow(/runs more often than every 5 minutes/);
  });

  it('rejects thresholds out of range and overrides of unknown features', () => {
    expect(attempt({ thresholds: { psi: { drift: 20 } } })).toThrow(
      /'thresholds' .* is invalid: thresholds.psi.drift \(20\) must be a number from 0 to 10/,
    );
    expect(attempt({ thresholds: { datasetDriftShare: 1.5 } })).toThrow(
      /datasetDriftShare \(1.5\) must be greater than 0 and at most 1/,
    );
    expect(attempt({ thresholds: { features: { agee: { psi: { drift: 0.3 } } } } })).toThrow(
      /features\.agee: no such feature; the features are age, country, score/,
    );
    expect(attempt({ features: {}, thresholds: { features: { age: {} } } })).toThrow(
      /'thresholds.features' \(\["age"\]\) overrides features that are not declared/,
    );
    expect(attempt({ thresholds: { minSamples: 0 } })).toThrow(/minSamples \(0\) must be a positive integer/);
    expect(attempt({ thresholds: { features: { country: { statistics: ['wasserstein'] } } } })).toThrow(
      /'thresholds.features.country.statistics' \(\["wasserstein"\]\) names wasserstein, which do not apply to a categorical feature. Use chi_square, jensen_shannon/,
    );
    expect(attempt({ thresholds: { statistics: ['emd' as 'psi'] } })).toThrow(
      /thresholds.statistics: "emd" is not a statistic/,
    );
    expect(attempt({ thresholds: { maxBadRows: 'some' } })).toThrow(
      /maxBadRows \("some"\) must be a count such as 100 or a share such as '5%'/,
    );
  });

  it('passes the minimum sample size and the malformed-row budget to the job', () => {
    const p2 = pipeline(gcpStack(), { thresholds: { minSamples: 50, maxBadRows: '2%' } });
    const config = JSON.parse(
      objectOf<IConfigMap>(p2.manifests, 'ConfigMap', 'drift-config').data!['config.json'],
    );
    expect(config).toMatchObject({ minSamples: 50, maxBadRows: '2%', thresholds: {} });
  });

  it('rejects bad windows, deadlines, URLs and a missing image', () => {
    expect(attempt({ current: '../etc/passwd' })).toThrow(
      /'current' \("..\/etc\/passwd"\) is not a window file name/,
    );
    expect(attempt({ deadlineSeconds: 7200 })).toThrow(
      /'deadlineSeconds' \(7200\) must be an integer between 60 and 3599/,
    );
    expect(attempt({ webhook: 'ftp://x' })).toThrow(/webhook \("ftp:\/\/x"\) must be an http\(s\) URL/);
    expect(attempt({ image: undefined })).toThrow(/'image' \(undefined\) is required on gcp/);
    expect(attempt({ features: { age: 'text' as 'numeric' } })).toThrow(
      /'features.age' \("text"\) is not a feature type/,
    );
    expect(attempt({ reference: 'reference.xlsx' })).toThrow(/Use a \.csv, \.jsonl or \.parquet path/);
  });

  it('takes Parquet windows (what warehouses export)', () => {
    const p = pipeline(gcpStack(), {
      reference: 'exports/reference.parquet',
      current: 'exports/current.parquet',
    });
    const run = podSpec(p).containers.find((c) => c.name === 'drift')!;
    expect(run.command!.join(' ')).toMatch(
      /--reference \S*exports\/reference\.parquet --current \S*exports\/current\.parquet/,
    );
  });
});
