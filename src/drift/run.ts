import * as fs from 'node:fs';
import * as path from 'node:path';
import { Gauge, Pushgateway, Registry } from 'prom-client';
import {
  checkConfig,
  compareWindows,
  countedFeatures,
  type DriftConfig,
  type DriftReport,
  type DriftSchema,
} from './analyze';
import { readWindow } from './window';

/** Exit codes of `mlstack drift`. */
export const DRIFT_EXIT = { noDrift: 0, failed: 1, usage: 2, drift: 3, insufficientData: 4 } as const;

/** Options of {@link runDrift}. */
export interface DriftRunOptions {
  readonly reference: string;
  readonly current: string;
  readonly schema?: string;
  readonly config?: string;
  /** Folder for report.json and metrics.prom. */
  readonly out?: string;
  /** Exit code when the dataset drifts (a CronJob passes 0 so that drift does not count as a failed Job). */
  readonly driftExitCode?: number;
  /** Overrides the config's `minSamples`. */
  readonly minSamples?: number;
  /** Overrides the config's `maxBadRows` (`100` or `'5%'`). */
  readonly maxBadRows?: string;
  /**
   * Only current rows at or after this time (by the config's `timestampColumn`, default `timestamp`), e.g. the last
   * 24 hours of captured requests.
   * @default - every row
   */
  readonly since?: Date;
  readonly log: (line: string) => void;
}

function readJsonFile<T>(file: string, what: string): T {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    throw new Error(`${what} ${file}: no such file`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (e) {
    throw new Error(`${what} ${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** The report's metrics in a registry of their own. */
export function driftMetrics(report: DriftReport, job: string): Registry {
  const registry = new Registry();
  const g = (name: string, help: string, labelNames: string[] = []) =>
    new Gauge({ name, help, labelNames, registers: [registry] });
  const stat = g('mlstack_drift_statistic', 'Value of a drift statistic of a feature', [
    'feature',
    'role',
    'statistic',
  ]);
  const drifted = g(
    'mlstack_drift_feature_drifted',
    '1 when the feature drifted, 0.5 at warn level, else 0',
    ['feature', 'role'],
  );
  const missing = g('mlstack_drift_missing_share', 'Share of missing values in the current window', [
    'feature',
  ]);
  for (const f of [...report.features, ...report.predictions]) {
    for (const s of f.statistics) stat.set({ feature: f.name, role: f.role, statistic: s.name }, s.value);
    drifted.set(
      { feature: f.name, role: f.role },
      f.verdict === 'drift' ? 1 : f.verdict === 'warn' ? 0.5 : 0,
    );
    missing.set({ feature: f.name }, f.missingShare.current);
  }
  g('mlstack_drift_dataset_drifted', '1 when the dataset drifted').set(report.verdict === 'drift' ? 1 : 0);
  g(
    'mlstack_drift_insufficient_data',
    '1 when a window or every feature had fewer values than minSamples (no verdict)',
  ).set(report.verdict === 'insufficient_data' ? 1 : 0);
  g('mlstack_drift_drifted_share', 'Share of features that drifted').set(report.driftedShare);
  const rows = g('mlstack_drift_window_rows', 'Rows read per window', ['window']);
  const skipped = g('mlstack_drift_window_skipped_rows', 'Malformed rows skipped per window', ['window']);
  for (const w of ['reference', 'current'] as const) {
    rows.set({ window: w }, report.windows[w].rows);
    skipped.set({ window: w }, report.windows[w].skippedRows);
  }
  g('mlstack_drift_last_run_timestamp_seconds', 'When the drift job last completed').set(Date.now() / 1000);
  registry.setDefaultLabels({ job_name: job });
  return registry;
}

/**
 * `mlstack drift`: compares the windows, writes `report.json` and `metrics.prom` to `out`, pushes the metrics to
 * a Pushgateway and POSTs the report to a webhook when drift is found (both when configured). Resolves to the exit
 * code: 0 no drift, 3 drift (or `driftExitCode`), 4 insufficient data, 1 failed (a window with no rows or over the
 * malformed-row budget, a bad config).
 */
export async function runDrift(o: DriftRunOptions): Promise<number> {
  const fileConfig = o.config ? readJsonFile<DriftConfig>(o.config, 'config') : {};
  const config: DriftConfig = {
    ...fileConfig,
    ...(o.minSamples !== undefined ? { minSamples: o.minSamples } : {}),
    ...(o.maxBadRows !== undefined ? { maxBadRows: o.maxBadRows } : {}),
  };
  const schema = o.schema ? readJsonFile<DriftSchema>(o.schema, 'schema') : {};
  const started = Date.now();
  checkConfig(config);
  const columns = config.columns ? { columns: config.columns } : {};
  const reference = await readWindow(o.reference, {
    ...(config.timestampColumn ? { timestampColumn: config.timestampColumn } : {}),
    ...columns,
  });
  // The current window (the large one) is read against the reference: numeric features are counted at its
  // values rather than kept, so memory stays flat in the current window's rows.
  const current = await readWindow(o.current, {
    ...(config.timestampColumn ? { timestampColumn: config.timestampColumn } : {}),
    ...(o.since ? { since: o.since } : {}),
    ...columns,
    countAt: countedFeatures(reference, schema, config),
  });
  const report = compareWindows(reference, current, schema, config);
  const job = config.job ?? 'mlstack-drift';
  const registry = driftMetrics(report, job);
  const metricsText = await registry.metrics();
  if (o.out) {
    fs.mkdirSync(o.out, { recursive: true });
    fs.writeFileSync(path.join(o.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
    fs.writeFileSync(path.join(o.out, 'metrics.prom'), metricsText);
  }
  const drifted = [...report.features, ...report.predictions].filter((f) => f.verdict === 'drift');
  const insufficient = [...report.features, ...report.predictions].filter(
    (f) => f.verdict === 'insufficient_data',
  );
  if (report.verdict === 'insufficient_data') {
    o.log(
      `INSUFFICIENT DATA: ${reference.rows} reference and ${current.rows} current rows; every window and feature needs ${report.minSamples} values (minSamples) for a verdict`,
    );
  } else if (insufficient.length) {
    o.log(
      `  not judged (fewer than ${report.minSamples} values): ${insufficient.map((f) => f.name).join(', ')}`,
    );
  }
  o.log(
    `${report.verdict === 'drift' ? 'DRIFT' : report.verdict === 'insufficient_data' ? 'no verdict' : 'no drift'}: ${drifted.length} of ${report.features.length} features drifted (${(report.driftedShare * 100).toFixed(0)}%, threshold ${(report.datasetDriftShare * 100).toFixed(0)}%)` +
      `${drifted.length ? `: ${drifted.map((f) => f.name).join(', ')}` : ''}; ${reference.rows} reference and ${current.rows} current rows in ${Date.now() - started} ms`,
  );
  for (const e of report.errors.slice(0, 10)) o.log(`  skipped ${e.window} line ${e.line}: ${e.message}`);
  if (report.errors.length > 10)
    o.log(`  … ${report.errors.length - 10} more skipped rows listed in report.json`);
  if (report.schema.missingInCurrent.length)
    o.log(`  schema drift: missing in current: ${report.schema.missingInCurrent.join(', ')}`);
  if (report.schema.newInCurrent.length)
    o.log(`  schema drift: new in current: ${report.schema.newInCurrent.join(', ')}`);

  if (config.pushgateway) {
    await new Pushgateway(config.pushgateway, { timeout: 10_000 }, registry).pushAdd({ jobName: job });
  }
  if (config.webhook && report.verdict === 'drift') {
    const r = await fetch(config.webhook, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(report),
      signal: AbortSignal.timeout(10_000),
    });
    if (!r.ok)
      throw new Error(
        `webhook ${config.webhook} answered ${r.status}: the retrain trigger was not delivered`,
      );
    o.log(`  posted the report to ${config.webhook} (${r.status})`);
  }
  if (report.verdict === 'insufficient_data') return DRIFT_EXIT.insufficientData;
  return report.verdict === 'drift' ? (o.driftExitCode ?? DRIFT_EXIT.drift) : DRIFT_EXIT.noDrift;
}
