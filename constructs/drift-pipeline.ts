import { CronExpressionParser } from 'cron-parser';
import { Construct } from 'constructs';
import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { IContainer } from 'kubernetes-models/v1/Container';
import {
  checkConfig,
  type DriftConfig,
  DriftConfigError,
  type DriftSchema,
  type FeatureThresholds,
} from '../src/drift/analyze';
import type { KubernetesManifest, ValidatableObject } from '../src/k8s/manifest';
import { type AlertRuleGroup, prometheusRule } from '../src/monitoring/alerts';
import { Validator } from '../src/spec/errors';
import { MlStack, type ObjectStoreCapability } from '../stacks/ml-stack';
import { PrometheusBackend } from './dcgm-monitoring';
import { type GpuCluster } from './gpu-cluster';
import { requireClusterProp } from './private/cluster-prop';

/** Thresholds of the drift job: defaults for every feature, per-feature overrides, and the dataset share. */
export interface DriftThresholdsProps extends FeatureThresholds {
  /**
   * The dataset drifts when at least this share of its features drift.
   * @default 0.3
   */
  readonly datasetDriftShare?: number;
  /**
   * Per-feature overrides; every name must be one of `features`.
   * @default {}
   */
  readonly features?: Record<string, FeatureThresholds>;
}

/** Props of {@link DriftPipeline}. */
export interface DriftPipelineProps {
  /** The cluster that runs the job. */
  readonly cluster: GpuCluster;
  /** When to run, as a five-field cron expression (UTC), e.g. `0 * * * *`. */
  readonly schedule: string;
  /** The reference window: a CSV or JSON Lines file under `windows/` in the pipeline's bucket. */
  readonly reference: string;
  /** The current window, written there by your inference logging. */
  readonly current: string;
  /**
   * Feature types; features not listed are inferred from the reference and reported.
   * @default - all inferred
   */
  readonly features?: Record<string, 'numeric' | 'categorical'>;
  /**
   * Columns holding the model's outputs: their drift is prediction drift, and any of it marks the dataset drifted.
   * @default []
   */
  readonly predictions?: string[];
  /**
   * Thresholds.
   * @default - PSI 0.1 warn / 0.25 drift, KS p < 0.01 with D ≥ 0.1, chi-square p < 0.01, Jensen–Shannon 0.1 / 0.2, dataset share 0.3
   */
  readonly thresholds?: DriftThresholdsProps;
  /**
   * A URL that receives the report as a JSON POST when the dataset drifts (a retraining pipeline's trigger).
   * @default - none
   */
  readonly webhook?: string;
  /**
   * A Prometheus Pushgateway to push the drift metrics to (the drift alerts need them).
   * @default - metrics are only written next to the report
   */
  readonly pushgateway?: string;
  /**
   * Where the alerts are evaluated.
   * @default PrometheusBackend.MANAGED
   */
  readonly prometheus?: PrometheusBackend;
  /**
   * Namespace of the job.
   * @default drift
   */
  readonly namespace?: string;
  /**
   * Seconds a run may take before Kubernetes stops it; less than the schedule's interval.
   * @default - the smaller of 3600 and 90% of the interval
   */
  readonly deadlineSeconds?: number;
  /**
   * The mlstack image (it runs `mlstack drift`).
   * @default - on AWS the image asset built from docker/mlstack-server.Dockerfile (needs account and region); elsewhere required
   */
  readonly image?: string;
  /**
   * Base URL of the runbook the alerts link to.
   * @default https://github.com/mlstack/mlstack/blob/main/docs/drift.md
   */
  readonly runbookBaseUrl?: string;
}

const WINDOW = /^[A-Za-z0-9][A-Za-z0-9._/-]*\.(csv|jsonl|ndjson|json)$/;

/**
 * Scheduled data and prediction drift detection on a {@link GpuCluster}: a bucket for windows (`windows/`) and
 * reports (`reports/<time>/`), a workload identity that can use that bucket only, a CronJob that copies the
 * windows in, runs `mlstack drift` and uploads `report.json` and `metrics.prom`, and alerts on sustained drift
 * and on the job failing or not succeeding within two schedules.
 *
 * @example
 * new DriftPipeline(stack, 'Drift', {
 *   cluster, schedule: '0 * * * *', reference: 'reference.csv', current: 'current.csv',
 *   predictions: ['score'], webhook: 'https://ci.example.com/hooks/retrain',
 * });
 */
export class DriftPipeline extends Construct {
  /** The bucket of windows and reports. */
  public readonly store: ObjectStoreCapability;
  /** The CronJob's name and namespace. */
  public readonly name: string;
  public readonly namespace: string;
  /** Seconds between two scheduled runs (the largest gap of the schedule). */
  public readonly intervalSeconds: number;
  /** The alert rules. */
  public readonly ruleGroup: AlertRuleGroup;
  /** The Kubernetes objects. */
  public readonly manifests: readonly KubernetesManifest[];

  constructor(scope: Construct, id: string, props: DriftPipelineProps) {
    super(scope, id);
    const where = `DriftPipeline '${this.node.path}'`;
    const v: Validator = new Validator(where);
    const cluster = requireClusterProp(v, props?.cluster, this, 'runs the job', 'the DriftPipeline');
    const stack = MlStack.of(this);

    // The schedule: five fields, parsed by cron-parser; its largest gap sizes the deadline and the alerts.
    if (typeof props.schedule !== 'string' || props.schedule.trim().split(/\s+/).length !== 5) {
      v.fail(
        'schedule',
        props.schedule,
        'is not a five-field cron expression',
        "Use minute hour day month weekday, e.g. '0 * * * *'.",
      );
    }
    let runs: number[];
    try {
      const it = CronExpressionParser.parse(props.schedule, {
        tz: 'UTC',
        currentDate: new Date('2026-01-01T00:00:00Z'),
      });
      runs = Array.from({ length: 25 }, () => it.next().getTime());
    } catch (e) {
      v.fail(
        'schedule',
        props.schedule,
        `is not a valid cron expression (${(e as Error).message})`,
        "Use e.g. '0 * * * *' (hourly).",
      );
    }
    this.intervalSeconds = Math.max(...runs.slice(1).map((t, i) => (t - runs[i]) / 1000));
    if (this.intervalSeconds < 300) {
      v.fail(
        'schedule',
        props.schedule,
        'runs more often than every 5 minutes',
        'Drift over windows needs room between runs; schedule at most every 5 minutes.',
      );
    }

    for (const [prop, value] of [
      ['reference', props.reference],
      ['current', props.current],
    ] as const) {
      if (typeof value !== 'string' || !WINDOW.test(value) || value.includes('..')) {
        v.fail(
          prop,
          value,
          'is not a window file name',
          "Use a .csv or .jsonl path relative to windows/, e.g. 'current.csv'.",
        );
      }
    }
    const features = props.features ?? {};
    for (const [name, type] of Object.entries(features)) {
      if (type !== 'numeric' && type !== 'categorical') {
        v.fail(`features.${name}`, type, 'is not a feature type', "Use 'numeric' or 'categorical'.");
      }
    }
    const t = props.thresholds ?? {};
    const { datasetDriftShare, features: perFeature, ...defaults } = t;
    const config: DriftConfig = {
      thresholds: defaults,
      ...(perFeature ? { features: perFeature } : {}),
      ...(datasetDriftShare !== undefined ? { datasetDriftShare } : {}),
      ...(props.webhook ? { webhook: props.webhook } : {}),
      ...(props.pushgateway ? { pushgateway: props.pushgateway } : {}),
      job: `${this.node.id.toLowerCase()}`,
    };
    const known = [...Object.keys(features), ...(props.predictions ?? [])];
    if (perFeature && Object.keys(features).length === 0) {
      v.fail(
        'thresholds.features',
        Object.keys(perFeature),
        'overrides features that are not declared',
        "List the features in 'features' so that overrides can be checked at synth.",
      );
    }
    try {
      checkConfig(config, perFeature ? known : undefined);
    } catch (e) {
      if (e instanceof DriftConfigError) {
        v.fail(
          `thresholds`,
          t,
          `is invalid: ${e.message.replace(/\.$/, '')}`,
          'Fix the value; docs/drift.md lists the ranges.',
        );
      }
      throw e;
    }
    const runbookBase = props.runbookBaseUrl ?? 'https://github.com/mlstack/mlstack/blob/main/docs/drift.md';
    if (!/^https?:\/\/\S+$/.test(runbookBase) || runbookBase.includes('#')) {
      v.fail(
        'runbookBaseUrl',
        runbookBase,
        'is not an http(s) URL without a fragment',
        'Point it at your copy of docs/drift.md.',
      );
    }

    this.name = id.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    v.dnsLabel('id', this.name, 52);
    this.namespace = props.namespace ?? 'drift';
    v.dnsLabel('namespace', this.namespace);
    const deadline = props.deadlineSeconds ?? Math.min(3600, Math.floor(this.intervalSeconds * 0.9));
    v.integer('deadlineSeconds', deadline, 60, Math.max(60, this.intervalSeconds - 1));
    const built = props.image ? { image: props.image } : stack.mlstackServerImage(this);
    if (built.image === undefined) v.fail('image', undefined, `is required ${built.reason}`, built.fix);
    const image = built.image;

    this.store = cluster.addObjectStore(this, 'Data', {
      purpose: `drift windows and reports of ${this.node.path}`,
      contents: [],
      retain: true,
      lifecycle: { noncurrentVersionDays: 30, infrequentAccessAfterDays: 30 },
    });
    const identity = cluster.addWorkloadIdentity(this, 'Identity', {
      namespace: this.namespace,
      serviceAccount: this.name,
      read: [],
      readWrite: [this.store],
    });

    const labels = { 'app.kubernetes.io/name': this.name, 'app.kubernetes.io/managed-by': 'mlstack' };
    const secure = {
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    };
    const fetch = this.store.copyContainer('windows', '/data');
    const upload = this.store.uploadStep('/out/report', 'reports/$ts');
    const schema: DriftSchema = {
      ...(Object.keys(features).length ? { features } : {}),
      ...(props.predictions?.length ? { predictions: props.predictions } : {}),
    };
    const driftScript = [
      `node /opt/mlstack/bin/mlstack.js drift --reference ${fetch.localPath}/${props.reference} --current ${fetch.localPath}/${props.current}` +
        ' --schema /config/schema.json --config /config/config.json --out /out/report --drift-exit-code 0',
      'code=$?',
      'echo "$code" > /out/.exit',
      'exit "$code"',
    ].join('\n');
    const uploadScript = [
      '# Waits for the drift step, uploads its report, and exits with its exit code.',
      'while [ ! -f /out/.exit ]; do sleep 2; done',
      'ts=$(date -u +%Y%m%dT%H%M%SZ)',
      'if [ -d /out/report ]; then',
      ...upload.script.map((l) => `  ${l}`),
      'fi',
      'exit "$(cat /out/.exit)"',
    ].join('\n');
    const volumeMounts = [
      { name: 'data', mountPath: '/data' },
      { name: 'tmp', mountPath: '/tmp' },
    ];
    const fetchContainer: IContainer = { ...fetch.container, securityContext: secure, volumeMounts };
    const objects: ValidatableObject[] = [
      new Namespace({ metadata: { name: this.namespace, labels: { ...labels } } }),
      new ServiceAccount({
        metadata: {
          name: this.name,
          namespace: this.namespace,
          labels: { ...labels },
          ...(Object.keys(identity.serviceAccountAnnotations).length
            ? { annotations: { ...identity.serviceAccountAnnotations } }
            : {}),
        },
      }),
      new ConfigMap({
        metadata: { name: `${this.name}-config`, namespace: this.namespace, labels: { ...labels } },
        data: {
          'config.json': `${JSON.stringify(config, null, 2)}\n`,
          'schema.json': `${JSON.stringify(schema, null, 2)}\n`,
        },
      }),
      new CronJob({
        metadata: { name: this.name, namespace: this.namespace, labels: { ...labels } },
        spec: {
          schedule: props.schedule,
          timeZone: 'Etc/UTC',
          concurrencyPolicy: 'Forbid',
          startingDeadlineSeconds: 300,
          successfulJobsHistoryLimit: 3,
          failedJobsHistoryLimit: 3,
          jobTemplate: {
            metadata: { labels: { ...labels } },
            spec: {
              backoffLimit: 1,
              activeDeadlineSeconds: deadline,
              ttlSecondsAfterFinished: 7 * 24 * 3600,
              template: {
                metadata: { labels: { ...labels, ...identity.podLabels } },
                spec: {
                  serviceAccountName: this.name,
                  restartPolicy: 'Never',
                  securityContext: {
                    runAsNonRoot: true,
                    runAsUser: 1000,
                    runAsGroup: 1000,
                    fsGroup: 1000,
                    seccompProfile: { type: 'RuntimeDefault' },
                  },
                  initContainers: [fetchContainer],
                  containers: [
                    {
                      name: 'drift',
                      image,
                      command: ['sh', '-c', driftScript],
                      resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } },
                      securityContext: secure,
                      volumeMounts: [
                        { name: 'data', mountPath: '/data', readOnly: true },
                        { name: 'config', mountPath: '/config', readOnly: true },
                        { name: 'out', mountPath: '/out' },
                        { name: 'tmp', mountPath: '/tmp' },
                      ],
                    },
                    {
                      name: 'upload-report',
                      image: upload.image,
                      command: ['sh', '-c', uploadScript],
                      env: Object.entries(upload.env).map(([name, value]) => ({ name, value })),
                      resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } },
                      securityContext: secure,
                      volumeMounts: [
                        { name: 'out', mountPath: '/out', readOnly: true },
                        { name: 'tmp', mountPath: '/tmp' },
                      ],
                    },
                  ],
                  volumes: [
                    { name: 'data', emptyDir: {} },
                    { name: 'out', emptyDir: {} },
                    { name: 'tmp', emptyDir: {} },
                    { name: 'config', configMap: { name: `${this.name}-config` } },
                  ],
                },
              },
            },
          },
        },
      }),
    ];

    const twice = `${Math.round((2 * this.intervalSeconds) / 60)}m`;
    const runbook = (a: string) => `${runbookBase}#${a.toLowerCase()}`;
    const job = config.job!;
    this.ruleGroup = {
      name: `mlstack-drift-${this.namespace}-${this.name}`,
      rules: [
        {
          alert: 'DataDriftSustained',
          expr: `min_over_time(mlstack_drift_dataset_drifted{job_name="${job}"}[${twice}]) == 1`,
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `Data drift detected by ${this.namespace}/${this.name} in every run of the last two schedules`,
            description: `The share of drifted features has stayed above the threshold for ${twice}; read the latest report under reports/ in bucket ${this.store.name}.`,
            runbook_url: runbook('DataDriftSustained'),
          },
        },
        {
          alert: 'DriftJobFailed',
          expr: `max(kube_job_status_failed{namespace="${this.namespace}", job_name=~"${this.name}-[0-9]+"}) > 0`,
          for: '0m',
          labels: { severity: 'warning' },
          annotations: {
            summary: `A run of drift job ${this.namespace}/${this.name} failed`,
            description: `Job {{ $labels.job_name }} failed: drift is not being measured.`,
            runbook_url: runbook('DriftJobFailed'),
          },
        },
        {
          alert: 'DriftJobNotSucceeding',
          expr: `time() - max(kube_cronjob_status_last_successful_time{namespace="${this.namespace}", cronjob="${this.name}"}) > ${2 * this.intervalSeconds}`,
          for: '5m',
          labels: { severity: 'critical' },
          annotations: {
            summary: `Drift job ${this.namespace}/${this.name} has not succeeded within two schedules`,
            description: `No successful run for more than ${twice} (schedule '${props.schedule}').`,
            runbook_url: runbook('DriftJobNotSucceeding'),
          },
        },
      ],
    };
    const backend = props.prometheus ?? PrometheusBackend.MANAGED;
    if (backend === PrometheusBackend.MANAGED) {
      objects.push(
        ...cluster.managedPrometheus().addRuleGroups(this, 'Rules', [{ ...this.ruleGroup, interval: '60s' }]),
      );
    } else {
      objects.push(prometheusRule(`mlstack-drift-${this.name}`, this.namespace, [this.ruleGroup]));
    }
    this.manifests = cluster.addManifest(`Drift-${id}`, ...objects);
  }
}
