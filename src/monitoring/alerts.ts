import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { PrometheusRule } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/PrometheusRule';
import { stringify } from 'yaml';
import { Validator } from '../spec/errors';

/** GPU alert thresholds. Every one has a documented default (docs/dcgm.md). */
export interface GpuAlertThresholds {
  /**
   * Minutes an exporter target may be down before `DcgmExporterDown` fires.
   * @default 10
   */
  readonly exporterDownMinutes?: number;
  /**
   * GPU temperature in °C above which `GpuTemperatureHigh` fires.
   * @default 80
   */
  readonly temperatureCelsius?: number;
  /**
   * Minutes the temperature must stay above the threshold.
   * @default 5
   */
  readonly temperatureMinutes?: number;
  /**
   * Framebuffer use in percent above which `GpuMemoryNearlyFull` fires.
   * @default 90
   */
  readonly framebufferPercent?: number;
  /**
   * Minutes the framebuffer use must stay above the threshold.
   * @default 10
   */
  readonly framebufferMinutes?: number;
  /**
   * Single-bit ECC errors per hour above which `GpuEccSingleBitErrorRate` fires.
   * @default 10
   */
  readonly singleBitErrorsPerHour?: number;
  /**
   * Utilisation in percent below which a GPU held by a pod counts as idle.
   * @default 10
   */
  readonly idleUtilizationPercent?: number;
  /**
   * Minutes a held GPU must stay idle before `GpuIdleWhileAllocated` fires.
   * @default 30
   */
  readonly idleMinutes?: number;
  /**
   * Share of time in percent a GPU may be throttled (thermal or power) before `GpuThrottled` fires.
   * @default 10
   */
  readonly throttledPercent?: number;
  /**
   * Minutes the throttling must last.
   * @default 15
   */
  readonly throttledMinutes?: number;
}

/** Inference alert thresholds, for the TritonServices on the cluster. */
export interface InferenceAlertThresholds {
  /**
   * p99 request latency in milliseconds above which `InferenceLatencyHigh` fires.
   * @default 500
   */
  readonly p99LatencyMs?: number;
  /**
   * Failed requests in percent of all requests above which `InferenceFailureRatioHigh` fires.
   * @default 5
   */
  readonly failurePercent?: number;
  /**
   * Minutes either condition must last.
   * @default 10
   */
  readonly minutes?: number;
}

/** One Prometheus alerting rule. */
export interface AlertRule {
  readonly alert: string;
  readonly expr: string;
  readonly for: string;
  readonly labels: { readonly severity: 'critical' | 'warning' | 'info' };
  readonly annotations: {
    readonly summary: string;
    readonly description: string;
    readonly runbook_url: string;
  };
}

/** A named group of rules, as Prometheus, AMP and Azure Monitor take them. */
export interface AlertRuleGroup {
  readonly name: string;
  readonly interval?: string;
  readonly rules: readonly AlertRule[];
}

/** Resolves the runbook URL of an alert (its section in docs/dcgm.md). */
export type RunbookUrl = (alert: string) => string;

const GPU =
  '{{ $labels.modelName }} GPU {{ $labels.gpu }} (UUID {{ $labels.UUID }}) on node {{ $labels.node }}';

/** The defaults of {@link GpuAlertThresholds}, checked. */
export function resolveGpuThresholds(
  where: string,
  t: GpuAlertThresholds = {},
): Required<GpuAlertThresholds> {
  const v = new Validator(where);
  const r: Required<GpuAlertThresholds> = {
    exporterDownMinutes: t.exporterDownMinutes ?? 10,
    temperatureCelsius: t.temperatureCelsius ?? 80,
    temperatureMinutes: t.temperatureMinutes ?? 5,
    framebufferPercent: t.framebufferPercent ?? 90,
    framebufferMinutes: t.framebufferMinutes ?? 10,
    singleBitErrorsPerHour: t.singleBitErrorsPerHour ?? 10,
    idleUtilizationPercent: t.idleUtilizationPercent ?? 10,
    idleMinutes: t.idleMinutes ?? 30,
    throttledPercent: t.throttledPercent ?? 10,
    throttledMinutes: t.throttledMinutes ?? 15,
  };
  const ranges: Record<keyof GpuAlertThresholds, [number, number]> = {
    exporterDownMinutes: [1, 1440],
    temperatureCelsius: [40, 110],
    temperatureMinutes: [1, 1440],
    framebufferPercent: [1, 100],
    framebufferMinutes: [1, 1440],
    singleBitErrorsPerHour: [1, 1_000_000],
    idleUtilizationPercent: [1, 100],
    idleMinutes: [5, 1440],
    throttledPercent: [1, 100],
    throttledMinutes: [1, 1440],
  };
  for (const [k, [min, max]] of Object.entries(ranges)) {
    v.integer(`thresholds.${k}`, r[k as keyof GpuAlertThresholds], min, max);
  }
  return r;
}

/** The defaults of {@link InferenceAlertThresholds}, checked. */
export function resolveInferenceThresholds(
  where: string,
  t: InferenceAlertThresholds = {},
): Required<InferenceAlertThresholds> {
  const v = new Validator(where);
  const r = {
    p99LatencyMs: t.p99LatencyMs ?? 500,
    failurePercent: t.failurePercent ?? 5,
    minutes: t.minutes ?? 10,
  };
  v.integer('inferenceThresholds.p99LatencyMs', r.p99LatencyMs, 1, 600_000);
  v.integer('inferenceThresholds.failurePercent', r.failurePercent, 1, 100);
  v.integer('inferenceThresholds.minutes', r.minutes, 1, 1440);
  return r;
}

/**
 * GPU alerts on dcgm-exporter's metrics. `job` is the exporter's scrape job. Every alert has a severity, a summary,
 * a description naming the GPU (model, index, UUID, node) and a runbook URL.
 */
export function gpuAlertRules(
  job: string,
  t: Required<GpuAlertThresholds>,
  runbook: RunbookUrl,
): AlertRuleGroup {
  const sel = (extra = '') => `{job="${job}"${extra}}`;
  const rule = (
    alert: string,
    expr: string,
    minutes: number,
    severity: AlertRule['labels']['severity'],
    summary: string,
    description: string,
  ): AlertRule => ({
    alert,
    expr,
    for: `${minutes}m`,
    labels: { severity },
    annotations: { summary, description, runbook_url: runbook(alert) },
  });
  return {
    name: 'mlstack-gpu',
    rules: [
      rule(
        'DcgmExporterDown',
        `up${sel()} == 0`,
        t.exporterDownMinutes,
        'warning',
        'dcgm-exporter is down',
        `The dcgm-exporter on {{ $labels.node }} (pod {{ $labels.pod }}) has not been scraped for ${t.exporterDownMinutes} minutes: the GPUs of that node are not monitored.`,
      ),
      rule(
        'DcgmExporterMissing',
        `absent(up${sel()})`,
        t.exporterDownMinutes,
        'warning',
        'No dcgm-exporter target is scraped',
        `Prometheus has no target of job ${job}: no GPU of the cluster is monitored (no GPU node is up, or the scrape configuration does not find the exporter).`,
      ),
      rule(
        'GpuTemperatureHigh',
        `DCGM_FI_DEV_GPU_TEMP${sel()} > ${t.temperatureCelsius}`,
        t.temperatureMinutes,
        'warning',
        'GPU temperature is high',
        `${GPU} is at {{ $value }} °C, above ${t.temperatureCelsius} °C for ${t.temperatureMinutes} minutes.`,
      ),
      rule(
        'GpuMemoryNearlyFull',
        `DCGM_FI_DEV_FB_USED${sel()} / (DCGM_FI_DEV_FB_USED${sel()} + DCGM_FI_DEV_FB_FREE${sel()}) * 100 > ${t.framebufferPercent}`,
        t.framebufferMinutes,
        'warning',
        'GPU memory is nearly full',
        `${GPU} uses {{ $value | humanize }}% of its framebuffer (pod {{ $labels.namespace }}/{{ $labels.pod }}).`,
      ),
      rule(
        'GpuXidError',
        `DCGM_FI_DEV_XID_ERRORS${sel()} > 0`,
        0,
        'warning',
        'GPU reported an XID error',
        `${GPU} reported XID {{ $value }} (pod {{ $labels.namespace }}/{{ $labels.pod }}). XIDs 48, 63, 64, 74, 79, 92, 94, 95 mean a hardware or driver fault.`,
      ),
      rule(
        'GpuEccDoubleBitErrors',
        `increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL${sel()}[10m]) > 0`,
        0,
        'critical',
        'GPU has uncorrectable (double-bit) ECC errors',
        `${GPU} had {{ $value }} double-bit ECC errors in 10 minutes: its memory returned corrupt data. Drain the node.`,
      ),
      rule(
        'GpuEccSingleBitErrorRate',
        `increase(DCGM_FI_DEV_ECC_SBE_VOL_TOTAL${sel()}[1h]) > ${t.singleBitErrorsPerHour}`,
        0,
        'warning',
        'GPU corrects many single-bit ECC errors',
        `${GPU} corrected {{ $value }} single-bit ECC errors in the last hour (threshold ${t.singleBitErrorsPerHour}): its memory may be failing.`,
      ),
      rule(
        'GpuIdleWhileAllocated',
        `avg_over_time(DCGM_FI_DEV_GPU_UTIL${sel(', pod!=""')}[5m]) < ${t.idleUtilizationPercent}`,
        t.idleMinutes,
        'info',
        'A pod holds a GPU it does not use',
        `${GPU} is held by pod {{ $labels.namespace }}/{{ $labels.pod }} but below ${t.idleUtilizationPercent}% utilisation for ${t.idleMinutes} minutes: money spent on nothing.`,
      ),
      rule(
        'GpuThrottled',
        `(rate(DCGM_FI_DEV_THERMAL_VIOLATION${sel()}[5m]) + rate(DCGM_FI_DEV_POWER_VIOLATION${sel()}[5m])) / 1e6 * 100 > ${t.throttledPercent}`,
        t.throttledMinutes,
        'warning',
        'GPU is throttled for heat or power',
        `${GPU} spent {{ $value | humanize }}% of the time throttled by thermal or power limits for ${t.throttledMinutes} minutes.`,
      ),
    ],
  };
}

/** What the inference alerts need of a serving workload. */
export interface ServingWorkloadRef {
  readonly name: string;
  readonly namespace: string;
  readonly runtime: 'triton' | 'onnxruntime';
}

/**
 * Latency and failure alerts for one serving workload, from its `nv_inference_*` metrics: Triton's p99 comes from
 * its latency summaries (`--metrics-config=summary_latencies=true`), the mlstack server's from its histogram.
 */
export function inferenceAlertRules(
  s: ServingWorkloadRef,
  t: Required<InferenceAlertThresholds>,
  runbook: RunbookUrl,
): AlertRuleGroup {
  const sel = `{job="${s.name}", namespace="${s.namespace}"}`;
  const p99Ms =
    s.runtime === 'triton'
      ? `max by (model) (nv_inference_request_summary_us{job="${s.name}", namespace="${s.namespace}", quantile="0.99"}) / 1000`
      : `histogram_quantile(0.99, sum by (le, model) (rate(mlstack_inference_request_duration_seconds_bucket${sel}[5m]))) * 1000`;
  const failures = `sum by (model) (rate(nv_inference_request_failure${sel}[5m]))`;
  const successes = `sum by (model) (rate(nv_inference_request_success${sel}[5m]))`;
  const where = `${s.namespace}/${s.name}`;
  return {
    name: `mlstack-inference-${s.namespace}-${s.name}`,
    rules: [
      {
        alert: 'InferenceLatencyHigh',
        expr: `${p99Ms} > ${t.p99LatencyMs}`,
        for: `${t.minutes}m`,
        labels: { severity: 'warning' },
        annotations: {
          summary: `p99 latency of ${where} is high`,
          description: `Model {{ $labels.model }} of ${where} answers in {{ $value | humanize }} ms at the 99th percentile, above ${t.p99LatencyMs} ms for ${t.minutes} minutes.`,
          runbook_url: runbook('InferenceLatencyHigh'),
        },
      },
      {
        alert: 'InferenceFailureRatioHigh',
        expr: `${failures} / (${successes} + ${failures}) * 100 > ${t.failurePercent}`,
        for: `${t.minutes}m`,
        labels: { severity: 'critical' },
        annotations: {
          summary: `${where} fails many requests`,
          description: `Model {{ $labels.model }} of ${where} failed {{ $value | humanize }}% of its requests for ${t.minutes} minutes (threshold ${t.failurePercent}%).`,
          runbook_url: runbook('InferenceFailureRatioHigh'),
        },
      },
    ],
  };
}

/** A prometheus-operator PrometheusRule holding `groups`. */
export function prometheusRule(
  name: string,
  namespace: string,
  groups: readonly AlertRuleGroup[],
): PrometheusRule {
  return new PrometheusRule({
    metadata: {
      name,
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'mlstack', 'app.kubernetes.io/name': name },
    },
    spec: {
      groups: groups.map((g) => ({
        name: g.name,
        ...(g.interval ? { interval: g.interval } : {}),
        rules: g.rules.map((r) => ({ ...r, labels: { ...r.labels }, annotations: { ...r.annotations } })),
      })),
    },
  });
}

/**
 * A prometheus-operator ServiceMonitor for an in-cluster Prometheus: the Service of `selector`, its `port`, the job
 * label set to `job`, pushed labels kept when `honorLabels`.
 */
export function serviceMonitor(
  job: string,
  namespace: string,
  target: { readonly selector: Readonly<Record<string, string>>; readonly port: string },
  honorLabels: boolean,
  interval = '60s',
): ServiceMonitor {
  return new ServiceMonitor({
    metadata: { name: job, namespace, labels: { 'app.kubernetes.io/managed-by': 'mlstack' } },
    spec: {
      selector: { matchLabels: { ...target.selector } },
      namespaceSelector: { matchNames: [namespace] },
      endpoints: [
        {
          port: target.port,
          path: '/metrics',
          interval,
          honorLabels,
          relabelings: [{ targetLabel: 'job', replacement: job, action: 'replace' }],
        },
      ],
    },
  });
}

/** Rule groups as a Prometheus rules file (what AMP's rule groups namespaces take). */
export function renderRulesFile(groups: readonly AlertRuleGroup[]): string {
  return stringify({ groups: groups.map((g) => ({ name: g.name, rules: g.rules })) }, { lineWidth: 0 });
}
