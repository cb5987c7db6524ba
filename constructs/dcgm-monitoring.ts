import * as path from 'node:path';
import { Construct } from 'constructs';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import type { KubernetesManifest, ValidatableObject } from '../src/k8s/manifest';
import {
  type AlertRuleGroup,
  type GpuAlertThresholds,
  gpuAlertRules,
  type InferenceAlertThresholds,
  inferenceAlertRules,
  prometheusRule,
  resolveGpuThresholds,
  resolveInferenceThresholds,
} from '../src/monitoring/alerts';
import {
  type GrafanaDashboard,
  gpuFleetDashboard,
  gpuNodeDashboard,
  inferenceDashboard,
} from '../src/monitoring/dashboards';
import {
  DCGM_COUNTERS,
  DCGM_EXPORTER_PORT,
  dcgmExporterManifests,
  renderCounters,
} from '../src/monitoring/dcgm';
import { SERVING_METRICS } from '../src/serving/manifests';
import { cloudProfile } from '../src/spec/clouds';
import type { AlertDestination } from '../src/monitoring/destinations';
import { Validator } from '../src/spec/errors';
import { type ManagedPrometheusCapability, MlStack, type ScrapeTarget } from '../stacks/ml-stack';
import { SYNTH_OUTPUT, type SynthOutputFolder } from '../src/synth/output';
import { type GpuCluster, type ServingWorkloadInfo } from './gpu-cluster';
import { scrapersOf } from './private/scrapers';
import { addAlertGroups, addInClusterAlertGroups, checkDestinations } from './private/alerts';
import { requireClusterProp } from './private/cluster-prop';

/** Where metrics are stored and alerts evaluated. */
export enum PrometheusBackend {
  /**
   * The cloud's managed Prometheus: Amazon Managed Service for Prometheus with an agentless scraper (AWS), Google
   * Cloud Managed Service for Prometheus (GCP), Azure Monitor managed Prometheus (Azure). Nothing to install.
   */
  MANAGED = 'managed',
  /** A Prometheus you run (kube-prometheus-stack): ServiceMonitor and PrometheusRule objects. */
  IN_CLUSTER = 'in-cluster',
}

/** Which dcgm-exporter collects the metrics. */
export class DcgmExporterSource {
  /** mlstack deploys dcgm-exporter as a DaemonSet on the GPU nodes (run the GPU operator with its exporter off). */
  public static deploy(): DcgmExporterSource {
    return new DcgmExporterSource('deploy', undefined);
  }

  /**
   * The NVIDIA GPU operator's exporter: mlstack deploys none and collects the operator's `nvidia-dcgm-exporter`
   * Service. Set the operator's `dcgmExporter.config.name` to the counters ConfigMap mlstack writes there, so that
   * it collects the fields the alerts and dashboards use.
   */
  public static gpuOperator(options: { readonly namespace?: string } = {}): DcgmExporterSource {
    return new DcgmExporterSource('gpu-operator', options.namespace ?? 'gpu-operator');
  }

  private constructor(
    /** `deploy` or `gpu-operator`. */
    public readonly kind: 'deploy' | 'gpu-operator',
    /** The operator's namespace. */
    public readonly namespace: string | undefined,
  ) {}
}

/** Props of {@link DcgmMonitoring}. */
export interface DcgmMonitoringProps {
  /** The cluster whose GPUs to watch. */
  readonly cluster: GpuCluster;
  /**
   * Where metrics go and alerts run.
   * @default PrometheusBackend.MANAGED
   */
  readonly prometheus?: PrometheusBackend;
  /**
   * Where this construct's alerts go, when not where the cluster's go (`GpuCluster`'s `alerts`).
   * @default - the cluster's destinations
   */
  readonly alerts?: AlertDestination[];
  /**
   * The exporter.
   * @default DcgmExporterSource.deploy()
   */
  readonly exporter?: DcgmExporterSource;
  /**
   * Namespace of the exporter, its ServiceMonitor and the GPU rules.
   * @default gpu-monitoring
   */
  readonly namespace?: string;
  /**
   * Scrape interval (Prometheus duration).
   * @default 30s
   */
  readonly scrapeInterval?: string;
  /**
   * GPU alert thresholds.
   * @default - see docs/dcgm.md: exporter down 10m, 80 °C for 5m, framebuffer 90% for 10m, 10 single-bit ECC errors an hour, idle below 10% for 30m, throttled 10% of the time for 15m
   */
  readonly thresholds?: GpuAlertThresholds;
  /**
   * Alert thresholds of the TritonServices on the cluster.
   * @default - p99 above 500 ms or more than 5% failed requests, for 10m
   */
  readonly inferenceThresholds?: InferenceAlertThresholds;
  /**
   * Namespace of the Grafana dashboard ConfigMaps (labelled `grafana_dashboard: "1"` for Grafana's sidecar).
   * @default - the monitoring namespace
   */
  readonly dashboardNamespace?: string;
  /**
   * Base URL of the runbook that alerts link to; each alert appends `#<alert name, lowercased>`.
   * @default https://github.com/mlstack/mlstack/blob/main/docs/dcgm.md
   */
  readonly runbookBaseUrl?: string;
}

const DURATION = /^\d+(s|m)$/;
const EXPORTER_NAME = 'dcgm-exporter';
const OPERATOR_EXPORTER = 'nvidia-dcgm-exporter';

/**
 * GPU telemetry, alerts and dashboards for a {@link GpuCluster}: dcgm-exporter on the GPU nodes (or the GPU
 * operator's), its collection by the cloud's managed Prometheus or your own, GPU alerts with runbooks, latency
 * and failure alerts for every TritonService on the cluster, and three Grafana dashboards.
 *
 * @example
 * new DcgmMonitoring(stack, 'GpuMonitoring', { cluster });
 */
export class DcgmMonitoring extends Construct {
  /** The scrape job of the exporter (the `job` label alerts select on). */
  public readonly exporterJob: string;
  /** The namespace of the exporter and the GPU rules. */
  public readonly namespace: string;
  /** The alert groups: GPU first, then one per serving workload. */
  public readonly ruleGroups: AlertRuleGroup[] = [];
  /** The dashboards. */
  public readonly dashboards: readonly GrafanaDashboard[];
  /** The counters CSV the exporter is given. */
  public readonly counters: string;
  /** Every Kubernetes object this construct added. */
  private readonly groups: (() => readonly KubernetesManifest[])[] = [];
  /** The managed backend, when `prometheus` is MANAGED. */
  public readonly managed?: ManagedPrometheusCapability;

  constructor(scope: Construct, id: string, props: DcgmMonitoringProps) {
    super(scope, id);
    const where = `DcgmMonitoring '${this.node.path}'`;
    const v: Validator = new Validator(where);
    const cluster = requireClusterProp(v, props?.cluster, this, 'whose GPUs to monitor', 'DcgmMonitoring');
    const alerts = props.alerts !== undefined ? checkDestinations(v, 'alerts', props.alerts) : undefined;
    const stack = MlStack.of(this);
    const backend = props.prometheus ?? PrometheusBackend.MANAGED;
    if (!Object.values(PrometheusBackend).includes(backend)) {
      v.fail(
        'prometheus',
        backend,
        'is not a PrometheusBackend',
        'Use PrometheusBackend.MANAGED or PrometheusBackend.IN_CLUSTER.',
      );
    }
    const exporter = props.exporter ?? DcgmExporterSource.deploy();
    if (!(exporter instanceof DcgmExporterSource)) {
      v.fail(
        'exporter',
        exporter,
        'is not a DcgmExporterSource',
        'Use DcgmExporterSource.deploy() or DcgmExporterSource.gpuOperator().',
      );
    }
    this.namespace = props.namespace ?? 'gpu-monitoring';
    v.dnsLabel('namespace', this.namespace);
    if (exporter.namespace !== undefined) v.dnsLabel('exporter.namespace', exporter.namespace);
    const dashboardNamespace = props.dashboardNamespace ?? this.namespace;
    v.dnsLabel('dashboardNamespace', dashboardNamespace);
    const interval = props.scrapeInterval ?? '30s';
    if (
      !DURATION.test(interval) ||
      parseInt(interval, 10) < 1 ||
      (interval.endsWith('m') && parseInt(interval, 10) > 10)
    ) {
      v.fail(
        'scrapeInterval',
        interval,
        'is not a scrape interval',
        "Use seconds or minutes up to 10m, e.g. '15s' or '1m'.",
      );
    }
    const runbookBase = props.runbookBaseUrl ?? 'https://github.com/mlstack/mlstack/blob/main/docs/dcgm.md';
    if (!/^https?:\/\/\S+$/.test(runbookBase) || runbookBase.includes('#')) {
      v.fail(
        'runbookBaseUrl',
        runbookBase,
        'is not an http(s) URL without a fragment',
        'Point it at your copy of docs/dcgm.md.',
      );
    }
    const runbook = (alert: string) => `${runbookBase}#${alert.toLowerCase()}`;
    const thresholds = resolveGpuThresholds(where, props.thresholds);
    const inferenceThresholds = resolveInferenceThresholds(where, props.inferenceThresholds);

    const deploy = exporter.kind === 'deploy';
    this.exporterJob = deploy ? EXPORTER_NAME : OPERATOR_EXPORTER;
    const exporterNamespace = deploy ? this.namespace : exporter.namespace!;
    this.counters = renderCounters();
    const add = (groupId: string, objects: ValidatableObject[]) => {
      if (!objects.length) return;
      const added = cluster.addManifest(`${id}-${groupId}`, ...objects);
      this.groups.push(() => added);
    };

    if (deploy) {
      // At synth: the DaemonSet tolerates the taints of every GPU pool, those added after this construct included.
      this.groups.push(
        cluster.addManifestsAtSynth(`${id}-Exporter`, () =>
          dcgmExporterManifests({
            namespace: this.namespace,
            name: EXPORTER_NAME,
            gpuNodes: cloudProfile(stack.cloud).gpuNodes,
            gpuTaints: uniqueTaints(cluster.gpuPools.flatMap((p) => p.taints)),
            scrapeInterval: interval,
            serviceMonitor: backend === PrometheusBackend.IN_CLUSTER,
            scrapers: scrapersOf(cluster, backend === PrometheusBackend.MANAGED),
          }),
        ),
      );
    } else {
      // The operator's exporter reads its counters from a ConfigMap named in the ClusterPolicy.
      add('Counters', [
        new ConfigMap({
          metadata: {
            name: 'mlstack-dcgm-counters',
            namespace: exporterNamespace,
            labels: { 'app.kubernetes.io/managed-by': 'mlstack' },
          },
          data: { 'dcgm-metrics.csv': this.counters },
        }),
      ]);
    }

    const gpuGroup = gpuAlertRules(this.exporterJob, thresholds, runbook);
    this.ruleGroups.push(gpuGroup);
    const exporterTarget: ScrapeTarget = {
      job: this.exporterJob,
      namespace: exporterNamespace,
      selector: deploy
        ? { 'app.kubernetes.io/name': EXPORTER_NAME, 'app.kubernetes.io/managed-by': 'mlstack' }
        : { app: OPERATOR_EXPORTER },
      port: deploy ? 'metrics' : 'gpu-metrics',
      podPort: DCGM_EXPORTER_PORT,
      interval,
      honorLabels: true,
    };
    if (backend === PrometheusBackend.MANAGED) {
      this.managed = cluster.managedPrometheus();
      add('Collection', this.managed.addScrapeTarget(this, 'ExporterScrape', exporterTarget));
      add(
        'GpuRules',
        addAlertGroups(cluster, this, 'GpuRules', [{ ...gpuGroup, interval }], this.managed, alerts),
      );
    } else {
      if (!deploy) {
        add('OperatorMonitor', [operatorServiceMonitor(exporterNamespace, interval)]);
      }
      add('GpuRules', [prometheusRule('mlstack-gpu-alerts', this.namespace, [gpuGroup])]);
      addInClusterAlertGroups(cluster, this, [gpuGroup]);
    }

    cluster.wiring.addSource({
      producer: `dcgm-exporter (${exporterNamespace}, job ${this.exporterJob})`,
      path: this.node.path,
      metrics: DCGM_COUNTERS.map((c) => c.name),
      collectedBy: this.managed
        ? `${this.managed.description}, job ${this.exporterJob}`
        : `prometheus-operator (ServiceMonitor ${exporterNamespace})`,
    });
    const read = (group: AlertRuleGroup) => {
      for (const r of group.rules) {
        cluster.wiring.addReader({ kind: 'alert rule', name: r.alert, path: this.node.path, expr: r.expr });
      }
    };
    read(gpuGroup);

    // Inference alerts for every TritonService on the cluster, before or after this construct.
    cluster.onServingWorkload((w: ServingWorkloadInfo) => {
      const group = inferenceAlertRules(w, inferenceThresholds, runbook);
      this.ruleGroups.push(group);
      read(group);
      if (this.managed) {
        cluster.wiring.addSource({
          producer: `${w.runtime === 'triton' ? 'Triton' : 'the mlstack server'} (Service ${w.namespace}/${w.name})`,
          path: this.node.path,
          metrics: SERVING_METRICS,
          collectedBy: `${this.managed.description}, job ${w.name}`,
        });
      }
      if (this.managed) {
        add(`Serving-${w.name}`, [
          ...this.managed.addScrapeTarget(this, `Scrape-${w.name}`, {
            job: w.name,
            namespace: w.namespace,
            selector: w.selector,
            port: 'metrics',
            podPort: w.podMetricsPort,
            interval,
            honorLabels: false,
          }),
          ...addAlertGroups(
            cluster,
            this,
            `Rules-${w.name}`,
            [{ ...group, interval }],
            this.managed,
            w.alerts,
          ),
        ]);
      } else {
        add(`Serving-${w.name}`, [prometheusRule(`mlstack-inference-${w.name}`, w.namespace, [group])]);
        addInClusterAlertGroups(cluster, this, [group]);
      }
    });

    this.dashboards = [
      gpuFleetDashboard(this.exporterJob, thresholds.idleUtilizationPercent),
      gpuNodeDashboard(this.exporterJob),
      inferenceDashboard(),
    ];
    // One serialization for the sidecar ConfigMaps and the files in the synth output.
    const dashboardJson = this.dashboards.map((d) => [d, `${JSON.stringify(d, null, 2)}\n`] as const);
    add(
      'Dashboards',
      dashboardJson.map(
        ([d, json]) =>
          new ConfigMap({
            metadata: {
              name: `${d.uid}-dashboard`,
              namespace: dashboardNamespace,
              labels: { grafana_dashboard: '1', 'app.kubernetes.io/managed-by': 'mlstack' },
            },
            data: { [`${d.uid}.json`]: json },
          }),
      ),
    );
    Object.defineProperty(this, SYNTH_OUTPUT, {
      value: (): SynthOutputFolder[] =>
        dashboardJson.map(([d, json]) => ({
          path: path.join('dashboards', stack.stackName, cluster.spec.name, `${d.uid}.json`),
          content: json,
        })),
    });
  }

  /** The Kubernetes objects of this construct. Reading them renders every object of the cluster. */
  public get manifests(): readonly KubernetesManifest[] {
    return this.groups.flatMap((g) => g());
  }
}

function uniqueTaints<T extends { key: string; effect: string }>(taints: readonly T[]): T[] {
  const seen = new Set<string>();
  return taints.filter((t) => {
    const k = `${t.key}\u0000${t.effect}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function operatorServiceMonitor(namespace: string, interval: string): ValidatableObject {
  return new ServiceMonitor({
    metadata: {
      name: 'mlstack-nvidia-dcgm-exporter',
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'mlstack' },
    },
    spec: {
      selector: { matchLabels: { app: OPERATOR_EXPORTER } },
      namespaceSelector: { matchNames: [namespace] },
      endpoints: [
        {
          port: 'gpu-metrics',
          interval,
          honorLabels: true,
          relabelings: [
            { targetLabel: 'job', replacement: OPERATOR_EXPORTER, action: 'replace' },
            { sourceLabels: ['__meta_kubernetes_pod_node_name'], targetLabel: 'node', action: 'replace' },
          ],
        },
      ],
    },
  });
}
