import { analysePromql } from './promql';

/** Series Prometheus writes for every target it scrapes (and for alerts), whoever the target is. */
const PER_TARGET_SERIES = /^(up|scrape_[a-z_]+|ALERTS|ALERTS_FOR_STATE)$/;

/**
 * Who exports metrics on a cluster, and how they reach the Prometheus that evaluates rules and serves queries.
 * Constructs declare it; the cluster checks at synth that every metric read has one.
 */
export interface MetricSource {
  /** Who exports them, for messages, e.g. `dcgm-exporter (DaemonSet gpu-monitoring/dcgm-exporter)`. */
  readonly producer: string;
  /** The construct that declared it. */
  readonly path: string;
  /** The metric names, or patterns of names, it exports. */
  readonly metrics: readonly (string | RegExp)[];
  /**
   * How it is collected, e.g. `Amazon Managed Service for Prometheus, job dcgm-exporter`.
   * @default - nothing collects it (a reader of its metrics is an error)
   */
  readonly collectedBy?: string;
}

/** Something that reads metrics: an alert rule, an autoscaler. */
export interface MetricReader {
  readonly kind: 'alert rule' | 'autoscaler';
  /** Its name, e.g. `DataDriftSustained`. */
  readonly name: string;
  /** The construct that declared it. */
  readonly path: string;
  /** PromQL. */
  readonly expr: string;
  /**
   * Metrics that the user said they provide (e.g. a Pushgateway of theirs): not checked, a warning at
   * construction says so.
   * @default []
   */
  readonly providedByUser?: readonly string[];
  /**
   * The one Prometheus it queries (KEDA reads the managed Prometheus): a producer counts only when that backend
   * collects it (its `collectedBy` starts with this).
   * @default - any collector
   */
  readonly queries?: string;
}

/** A group of alert rules and where its alerts go. */
export interface AlertGroupRoute {
  readonly group: string;
  readonly path: string;
  /**
   * The destination, in words (e.g. `SNS topic … (email ops@example.com)`).
   * @default - none: an error unless `acknowledged`
   */
  readonly route?: string;
  /** The user said, with a reason, that these alerts go nowhere (or somewhere mlstack does not configure). */
  readonly acknowledged?: string;
}

/** A node pool that may start at zero nodes, and what brings it up. */
export interface PoolScaler {
  readonly pool: string;
  readonly path: string;
  readonly minNodes: number;
  /**
   * What adds nodes when pods are pending (`GKE cluster autoscaler`, `Karpenter NodePool inference`).
   * @default - nothing: an error when `minNodes` is 0
   */
  readonly scaler?: string;
}

/**
 * The links of a cluster that a deploy does not check: every metric an alert rule or autoscaler reads has a
 * producer collected by the cluster's Prometheus, every pool that starts at zero has an autoscaler, every alert
 * group has a route. {@link check} lists each missing link, naming both ends.
 */
export class Wiring {
  private readonly sources: MetricSource[] = [];
  private readonly readers: MetricReader[] = [];
  private readonly routes: AlertGroupRoute[] = [];
  private readonly pools = new Map<string, PoolScaler>();

  /** Declares metrics a workload exports. */
  public addSource(source: MetricSource): void {
    this.sources.push(source);
  }

  /** Declares a reader of metrics. */
  public addReader(reader: MetricReader): void {
    this.readers.push(reader);
  }

  /** Declares an alert group and its route. */
  public addAlertGroup(route: AlertGroupRoute): void {
    this.routes.push(route);
  }

  /** Declares a pool and what scales it (a later call for the same pool replaces the scaler). */
  public addPool(pool: PoolScaler): void {
    this.pools.set(pool.pool, pool);
  }

  /** The declared sources, readers, routes and pools. */
  public get graph() {
    return {
      sources: [...this.sources],
      readers: [...this.readers],
      routes: [...this.routes],
      pools: [...this.pools.values()],
    };
  }

  /** Every missing link, as one message each. */
  public check(): string[] {
    const errors: string[] = [];
    const matches = (s: MetricSource, metric: string) =>
      s.metrics.some((m) => (typeof m === 'string' ? m === metric : m.test(metric)));
    for (const r of this.readers) {
      const parsed = analysePromql(r.expr);
      for (const e of parsed.errors)
        errors.push(`${r.path}: ${r.kind} ${r.name} is not valid PromQL (${e}).`);
      for (const metric of new Set(parsed.metrics)) {
        if (r.providedByUser?.includes(metric)) continue;
        // Series the collector writes for every target it scrapes.
        const producers = PER_TARGET_SERIES.test(metric)
          ? this.sources.filter((s) => s.collectedBy)
          : this.sources.filter((s) => matches(s, metric));
        if (producers.length === 0) {
          errors.push(
            `${r.path}: ${r.kind} ${r.name} reads ${metric}, which nothing on this cluster exports. Deploy what exports it (or say you do, where the construct offers it).`,
          );
        } else if (!producers.some((p) => p.collectedBy)) {
          errors.push(
            `${r.path}: ${r.kind} ${r.name} reads ${metric}, which ${producers.map((p) => `${p.producer} (${p.path})`).join(' and ')} exports but nothing collects. Add DcgmMonitoring (the cloud's managed Prometheus collects every serving workload) or a ServiceMonitor for an in-cluster Prometheus.`,
          );
        } else if (r.queries && !producers.some((p) => p.collectedBy?.startsWith(r.queries!))) {
          errors.push(
            `${r.path}: ${r.kind} ${r.name} queries ${r.queries} for ${metric}, which ${producers.map((p) => `${p.producer} (${p.path})`).join(' and ')} exports but ${r.queries} does not collect (${producers.map((p) => p.collectedBy ?? 'nothing').join('; ')} does). Add DcgmMonitoring with the managed Prometheus backend on this cluster: it collects every serving workload.`,
          );
        }
      }
    }
    for (const g of this.routes) {
      if (!g.route && !g.acknowledged) {
        errors.push(
          `${g.path}: alert group ${g.group} routes nowhere: its alerts fire and nobody is told. Give the construct an 'alerts' destination (AlertDestination.email(...), .slack(...), .pagerDuty(...)), or AlertDestination.none('why').`,
        );
      }
    }
    for (const p of this.pools.values()) {
      if (p.minNodes === 0 && !p.scaler) {
        errors.push(
          `${p.path}: pool ${p.pool} starts at 0 nodes and nothing adds nodes when pods are pending. Give it minNodes >= 1, or use a cloud whose stack deploys a node autoscaler.`,
        );
      }
    }
    return errors;
  }
}
