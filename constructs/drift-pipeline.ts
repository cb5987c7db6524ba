import { CronExpressionParser } from 'cron-parser';
import { Construct } from 'constructs';
import {
  checkConfig,
  type DriftConfig,
  DriftConfigError,
  type DriftSchema,
  type FeatureThresholds,
  statisticsOfType,
} from '../src/drift/analyze';
import { CAPTURE_MOUNT, DRIFT_METRICS, driftAlertRules, driftJobManifests } from '../src/drift/manifests';
import { type Exporter, jobStateMetrics, pushgateway } from '../src/monitoring/exporters';
import type { KubernetesManifest, ValidatableObject } from '../src/k8s/manifest';
import { type AlertRuleGroup, prometheusRule, serviceMonitor } from '../src/monitoring/alerts';
import type { AlertDestination } from '../src/monitoring/destinations';
import { Validator } from '../src/spec/errors';
import { MlStack, type ObjectStoreCapability, type WorkloadIdentityCapability } from '../stacks/ml-stack';
import { PrometheusBackend } from './dcgm-monitoring';
import { type GpuCluster } from './gpu-cluster';
import type { TritonService } from './triton-service';
import { addAlertGroups, addInClusterAlertGroups, checkDestinations } from './private/alerts';
import { requireClusterProp } from './private/cluster-prop';
import { scrapersOf } from './private/scrapers';
import {
  allowIngress,
  defaultDenyIngress,
  defaultEgress,
  IDENTITY_ENDPOINTS,
} from '../src/k8s/network-policy';

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
  /**
   * Values each window and feature needs for a verdict; below, the run reports `insufficient_data` (and the
   * `DriftInsufficientData` alert fires when that lasts two schedules).
   * @default 200
   */
  readonly minSamples?: number;
  /**
   * Malformed rows a window may have, a count (`100`) or a share (`'5%'`); beyond, the run fails.
   * @default '5%'
   */
  readonly maxBadRows?: number | string;
}

/** Options of {@link DriftWindow.fromCapture}. */
export interface CaptureWindowOptions {
  /**
   * The model whose requests are compared.
   * @default - the service's model, when it serves one
   */
  readonly model?: string;
  /**
   * Hours of captured requests, up to the run (1 to 720).
   * @default 24
   */
  readonly lastHours?: number;
}

/**
 * A drift window that is not a file under the pipeline's `windows/`: the requests a `TritonService` captured
 * (`capture` on the service), read from its model bucket.
 *
 * @example
 * new DriftPipeline(stack, 'Drift', {
 *   cluster, schedule: '0 * * * *', reference: 'reference.jsonl',
 *   current: DriftWindow.fromCapture(service, { lastHours: 24 }),
 * });
 */
export class DriftWindow {
  /** The last `lastHours` of `service`'s captured requests of one model. */
  public static fromCapture(service: TritonService, options: CaptureWindowOptions = {}): DriftWindow {
    return new DriftWindow(service, options);
  }

  private constructor(
    /** The service whose captured requests are read. */
    public readonly service: TritonService,
    /** The options as given. */
    public readonly options: CaptureWindowOptions,
  ) {}
}

/** Props of {@link DriftPipeline}. */
export interface DriftPipelineProps {
  /** The cluster that runs the job. */
  readonly cluster: GpuCluster;
  /** When to run, as a five-field cron expression (UTC), e.g. `0 * * * *`. */
  readonly schedule: string;
  /** The reference window: a CSV, JSON Lines or Parquet file under `windows/` in the pipeline's bucket. */
  readonly reference: string;
  /**
   * The current window: a file under `windows/` written by your inference logging, or the requests a service
   * captured (`DriftWindow.fromCapture(service)`).
   */
  readonly current: string | DriftWindow;
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
   * Where this construct's alerts go, when not where the cluster's go (`GpuCluster`'s `alerts`).
   * @default - the cluster's destinations
   */
  readonly alerts?: AlertDestination[];
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

const WINDOW = /^[A-Za-z0-9][A-Za-z0-9._/-]*\.(csv|jsonl|ndjson|json|parquet)$/;

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
  /** The cloud identity of its pods (read and write on its bucket). */
  public readonly identity: WorkloadIdentityCapability;
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
    const alerts = props.alerts !== undefined ? checkDestinations(v, 'alerts', props.alerts) : undefined;
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

    // The captured window: the service must capture, the model must be one it serves.
    let captured: { store: ObjectStoreCapability; prefix: string; hours: number } | undefined;
    if (props.current instanceof DriftWindow) {
      const { service, options } = props.current;
      if (!service.capturePrefix) {
        v.fail(
          'current',
          `DriftWindow.fromCapture(${service.node.path})`,
          `reads requests that TritonService '${service.node.path}' does not capture`,
          'Set capture: { sampleRate } on the service (the ONNX Runtime server captures).',
        );
      }
      const names = service.models.map((m) => m.name);
      const model = options.model ?? (names.length === 1 ? names[0] : undefined);
      if (model === undefined || !names.includes(model)) {
        v.fail(
          'current.model',
          options.model,
          `is not one model of the service (it serves ${names.join(', ')})`,
          "Name the model: DriftWindow.fromCapture(service, { model: '<name>' }).",
        );
      }
      const hours = options.lastHours ?? 24;
      v.integer('current.lastHours', hours, 1, 720);
      if (service.captureRetentionDays !== undefined && hours > service.captureRetentionDays * 24) {
        v.fail(
          'current.lastHours',
          hours,
          `reaches past the ${service.captureRetentionDays} days '${service.node.path}' keeps captured requests`,
          'Shorten the window, or raise capture.retentionDays on the service.',
        );
      }
      captured = { store: service.modelStore, prefix: `${service.capturePrefix}/${model}`, hours };
    }
    for (const [prop, value] of [
      ['reference', props.reference],
      ...(captured ? [] : ([['current', props.current]] as const)),
    ] as const) {
      if (typeof value !== 'string' || !WINDOW.test(value) || value.includes('..')) {
        v.fail(
          prop,
          value,
          'is not a window file name',
          "Use a .csv, .jsonl or .parquet path relative to windows/, e.g. 'current.csv'.",
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
    const { datasetDriftShare, features: perFeature, minSamples, maxBadRows, ...defaults } = t;
    const config: DriftConfig = {
      thresholds: defaults,
      ...(perFeature ? { features: perFeature } : {}),
      ...(datasetDriftShare !== undefined ? { datasetDriftShare } : {}),
      ...(minSamples !== undefined ? { minSamples } : {}),
      ...(maxBadRows !== undefined ? { maxBadRows } : {}),
      ...(props.webhook ? { webhook: props.webhook } : {}),
      // Ours unless the user runs one (the alerts read what is pushed there).
      pushgateway: props.pushgateway ?? pushgatewayOf(this.node.id, props.namespace ?? 'drift').url,
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
    // A feature's statistics must be of its declared type (the job would fail on its first run otherwise).
    for (const [name, o] of Object.entries(perFeature ?? {})) {
      const type = features[name];
      const own = type ? statisticsOfType(type) : [];
      const wrong = type ? (o.statistics ?? []).filter((x) => !own.includes(x)) : [];
      if (wrong.length) {
        v.fail(
          `thresholds.features.${name}.statistics`,
          o.statistics,
          `names ${wrong.join(', ')}, which do not apply to a ${type} feature`,
          `Use ${own.join(', ')}.`,
        );
      }
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
    if (props.image !== undefined) v.image('image', props.image, 'registry.example.com/mlstack-server:0.1.0');
    const built = props.image ? { image: props.image } : stack.mlstackServerImage(this);
    if (built.image === undefined) v.fail('image', undefined, `is required ${built.reason}`, built.fix);
    const image = built.image;

    this.store = cluster.addObjectStore(this, 'Data', {
      purpose: `drift windows and reports of ${this.node.path}`,
      contents: [],
      retain: true,
      lifecycle: { noncurrentVersionDays: 30, infrequentAccessAfterDays: 30 },
    });
    const identity = (this.identity = cluster.addWorkloadIdentity(this, 'Identity', {
      namespace: this.namespace,
      serviceAccount: this.name,
      read: captured ? [captured.store] : [],
      readWrite: [this.store],
    }));

    const schema: DriftSchema = {
      ...(Object.keys(features).length ? { features } : {}),
      ...(props.predictions?.length ? { predictions: props.predictions } : {}),
    };
    const objects: ValidatableObject[] = driftJobManifests({
      name: this.name,
      namespace: this.namespace,
      schedule: props.schedule,
      deadlineSeconds: deadline,
      image,
      serviceAccount: { annotations: identity.serviceAccountAnnotations },
      podLabels: identity.podLabels,
      fetchWindows: this.store.copyContainer('windows', '/data'),
      uploadReport: this.store.uploadStep('/out/report', 'reports/$ts'),
      reference: props.reference,
      current: captured
        ? {
            fetch: captured.store.copyContainer(captured.prefix, CAPTURE_MOUNT, {
              recentHours: captured.hours,
            }),
            sinceHours: captured.hours,
          }
        : (props.current as string),
      config: captured ? { timestampColumn: 'timestamp', ...config } : config,
      schema,
    });
    this.ruleGroup = driftAlertRules({
      name: this.name,
      namespace: this.namespace,
      job: config.job!,
      intervalSeconds: this.intervalSeconds,
      schedule: props.schedule,
      bucket: this.store.name,
      runbook: (a) => `${runbookBase}#${a.toLowerCase()}`,
    });
    // What the alerts read: the drift metrics the job pushes (to a Pushgateway of ours unless the user runs one)
    // and the Job and CronJob state (kube-state-metrics for this namespace), each collected by the cluster's
    // Prometheus.
    const backend = props.prometheus ?? PrometheusBackend.MANAGED;
    const exporters: { exporter: Exporter; metrics: (string | RegExp)[]; honorLabels: boolean }[] = [
      ...(props.pushgateway
        ? []
        : [
            {
              exporter: pushgatewayOf(this.node.id, this.namespace),
              metrics: [/^mlstack_drift_/],
              honorLabels: true,
            },
          ]),
      {
        exporter: jobStateMetrics(`${this.name}-job-metrics`, this.namespace),
        metrics: [/^kube_(job|cronjob)_/],
        honorLabels: false,
      },
    ];
    const managed = backend === PrometheusBackend.MANAGED ? cluster.managedPrometheus() : undefined;
    // Ingress: none by default; the collectors reach the exporters, the job reaches its Pushgateway.
    objects.push(defaultDenyIngress(this.namespace));
    // Egress: DNS, HTTPS (the data bucket, an https webhook), the cloud's credentials, and the Pushgateway's and an
    // http webhook's own ports.
    const urlPort = (u: string) => {
      const url = new URL(u);
      return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
    };
    // The URLs the job calls, as its config names them.
    const called = [config.pushgateway, config.webhook].filter((u): u is string => u !== undefined);
    const ports = [...new Set(called.map(urlPort))].filter((p) => p !== 443);
    objects.push(
      defaultEgress({
        namespace: this.namespace,
        identity: IDENTITY_ENDPOINTS[stack.cloud],
        extra: ports.map((port) => ({ port })),
      }),
    );
    const scrapers = scrapersOf(cluster, managed !== undefined);
    for (const { exporter, metrics, honorLabels } of exporters) {
      objects.push(...exporter.objects);
      const job = exporter.selector['app.kubernetes.io/name'];
      objects.push(
        allowIngress({
          name: job,
          namespace: this.namespace,
          podLabels: exporter.selector,
          ports: [exporter.podPort],
          from: honorLabels
            ? { ...scrapers, namespaces: [...scrapers.namespaces, this.namespace] }
            : scrapers,
        }),
      );
      if (managed) {
        objects.push(
          ...managed.addScrapeTarget(this, `Scrape-${job}`, {
            job,
            namespace: this.namespace,
            selector: exporter.selector,
            port: exporter.port,
            podPort: exporter.podPort,
            interval: '60s',
            honorLabels,
          }),
        );
      } else {
        objects.push(serviceMonitor(job, this.namespace, exporter, honorLabels));
      }
      cluster.wiring.addSource({
        producer: `${job} (${this.namespace})`,
        path: this.node.path,
        metrics,
        collectedBy: managed
          ? `${managed.description}, job ${job}`
          : `prometheus-operator (ServiceMonitor ${this.namespace}/${job})`,
      });
    }
    for (const r of this.ruleGroup.rules) {
      cluster.wiring.addReader({
        kind: 'alert rule',
        name: r.alert,
        path: this.node.path,
        expr: r.expr,
        ...(props.pushgateway ? { providedByUser: DRIFT_METRICS } : {}),
      });
    }
    if (props.pushgateway) {
      stack.addWarning(
        this,
        `DataDriftSustained reads the drift metrics the job pushes to ${props.pushgateway}, which mlstack neither deploys nor scrapes: your Prometheus must scrape it with honor_labels, or leave 'pushgateway' unset for mlstack's own.`,
      );
    }
    if (managed) {
      objects.push(
        ...addAlertGroups(cluster, this, 'Rules', [{ ...this.ruleGroup, interval: '60s' }], managed, alerts),
      );
    } else {
      objects.push(prometheusRule(`mlstack-drift-${this.name}`, this.namespace, [this.ruleGroup]));
      addInClusterAlertGroups(cluster, this, [this.ruleGroup]);
    }
    this.manifests = cluster.addManifest(`Drift-${id}`, ...objects);
  }
}

/** The Pushgateway a pipeline deploys, named after the construct id. */
function pushgatewayOf(id: string, namespace: string): Exporter {
  return pushgateway(`${id.toLowerCase().replace(/[^a-z0-9-]/g, '-')}-pushgateway`, namespace);
}
