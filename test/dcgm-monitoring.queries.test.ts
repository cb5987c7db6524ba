// Every PromQL expression mlstack writes (alert rules on every cloud, dashboard panels and variables) parses with
// Prometheus's own grammar (@prometheus-io/lezer-promql), and every metric it reads is one the exporter's counters
// enable or one Triton / the mlstack server exports.
import type { Dashboard } from '@grafana/schema';
import { describe, expect, it } from 'vitest';
import { DcgmMonitoring, PrometheusBackend } from '../constructs/dcgm-monitoring';
import { ServingRuntime } from '../constructs/triton-service';
import type { GrafanaDashboard } from '../src/monitoring/dashboards';
import { dashboardQueries } from '../src/monitoring/dashboards';
import { DCGM_COUNTERS } from '../src/monitoring/dcgm';
import { analysePromql } from '../src/monitoring/promql';
import { gcpStack } from './support/synth';
import { classifierService, servingCluster } from './support/serving';

/** Metrics the mlstack server exports (src/inference/metrics.ts) and Triton exports with summaries on. */
const SERVING_METRICS = [
  'nv_inference_request_success',
  'nv_inference_request_failure',
  'nv_inference_count',
  'nv_inference_exec_count',
  'nv_inference_request_duration_us',
  'nv_inference_queue_duration_us',
  'nv_inference_compute_infer_duration_us',
  'nv_inference_compute_input_duration_us',
  'nv_inference_compute_output_duration_us',
  'nv_inference_pending_request_count',
  'nv_inference_request_summary_us',
  'mlstack_inference_request_duration_seconds_bucket',
];
const KNOWN = new Set(['up', ...DCGM_COUNTERS.map((c) => c.name), ...SERVING_METRICS]);
const analyse = analysePromql;

/** Grafana's `label_values(<selector>, <label>)` variable query: the selector is PromQL. */
function variableSelector(query: string): string {
  const m = /^label_values\((.*),\s*[a-zA-Z_]\w*\)$/.exec(query);
  if (!m) throw new Error(`not a label_values query: ${query}`);
  return m[1];
}

type DeepMutable<T> = T extends readonly (infer U)[]
  ? DeepMutable<U>[]
  : T extends object
    ? { -readonly [K in keyof T]: DeepMutable<T[K]> }
    : T;

/** Compile-time check: our dashboard model is assignable to Grafana's own schema type. */
const asGrafanaSchema = (d: GrafanaDashboard): Dashboard => d as DeepMutable<GrafanaDashboard>;

function everything() {
  const out: { where: string; expr: string }[] = [];
  const dashboards: GrafanaDashboard[] = [];
  for (const backend of [PrometheusBackend.MANAGED, PrometheusBackend.IN_CLUSTER]) {
    const stack = gcpStack();
    const cluster = servingCluster(stack);
    const m = new DcgmMonitoring(stack, 'Monitoring', { cluster, prometheus: backend });
    classifierService(stack, {}, cluster);
    classifierService(
      stack,
      {
        serviceName: 'scorer',
        runtime: ServingRuntime.ONNXRUNTIME,
        gpu: undefined,
        canary: undefined,
        image: 'r/mlstack-server:1',
      },
      cluster,
      'Scorer',
    );
    for (const g of m.ruleGroups)
      for (const r of g.rules) out.push({ where: `${backend} ${g.name}/${r.alert}`, expr: r.expr });
    dashboards.push(...m.dashboards);
  }
  for (const d of dashboards) {
    for (const p of d.panels)
      for (const t of p.targets) out.push({ where: `${d.uid}/${p.title}`, expr: t.expr });
    for (const v of d.templating.list.filter((x) => x.type === 'query')) {
      out.push({ where: `${d.uid}/$${v.name}`, expr: variableSelector(v.query) });
    }
  }
  return { exprs: out, dashboards };
}

describe('PromQL of alerts and dashboards', () => {
  const { exprs } = everything();

  it('covers the rules of both backends, with the inference alerts of a Triton and an ONNX Runtime service', () => {
    expect(exprs.length).toBeGreaterThan(40);
    const alerts = exprs.map((e) => e.where);
    expect(alerts).toContain('managed mlstack-inference-classifier-classifier/InferenceLatencyHigh');
    expect(alerts).toContain('in-cluster mlstack-inference-scorer-scorer/InferenceFailureRatioHigh');
  });

  it('parses every expression with the Prometheus grammar', () => {
    for (const { where, expr } of exprs) expect(analyse(expr).errors, `${where}: ${expr}`).toEqual([]);
  });

  it('reads only metrics the exporter enables or the serving runtimes export', () => {
    const used = new Set<string>();
    for (const { where, expr } of exprs) {
      for (const metric of analyse(expr).metrics) {
        expect(KNOWN.has(metric), `${where} reads ${metric}`).toBe(true);
        used.add(metric);
      }
    }
    // and the alerts and dashboards do use what the issue asks to collect
    for (const m of [
      'DCGM_FI_DEV_XID_ERRORS',
      'DCGM_FI_DEV_ECC_DBE_VOL_TOTAL',
      'DCGM_FI_PROF_NVLINK_TX_BYTES',
      'DCGM_FI_DEV_POWER_VIOLATION',
    ]) {
      expect(used).toContain(m);
    }
  });

  it('the checker itself catches bad expressions and unknown metrics', () => {
    expect(analyse('rate(DCGM_FI_DEV_GPU_UTIL[5m]').errors.length).toBeGreaterThan(0);
    expect(analyse('sum(nvidia_smi_utilization)').metrics).toEqual(['nvidia_smi_utilization']);
    expect(KNOWN.has('nvidia_smi_utilization')).toBe(false);
  });
});

describe('Grafana dashboards', () => {
  const { dashboards } = everything();

  it('are Grafana dashboard models: uid, title, schema version, panels with a datasource and targets', () => {
    expect(new Set(dashboards.map((d) => d.uid))).toEqual(
      new Set(['mlstack-gpu-fleet', 'mlstack-gpu-node', 'mlstack-inference']),
    );
    for (const d of dashboards) {
      const model = asGrafanaSchema(JSON.parse(JSON.stringify(d)) as GrafanaDashboard);
      expect(model.uid).toMatch(/^[a-z0-9-]{1,40}$/);
      expect(model.title).toBeTruthy();
      expect(model.schemaVersion).toBeGreaterThanOrEqual(36);
      expect(model.templating?.list?.[0]).toMatchObject({ type: 'datasource', query: 'prometheus' });
      const ids = new Set<number>();
      for (const p of d.panels) {
        expect(ids.has(p.id), `${d.uid} panel id ${p.id}`).toBe(false);
        ids.add(p.id);
        expect(p.datasource).toEqual({ type: 'prometheus', uid: '${datasource}' });
        expect(p.targets.length).toBeGreaterThan(0);
        for (const t of p.targets) expect(t.datasource).toEqual(p.datasource);
        expect(p.gridPos.x + p.gridPos.w).toBeLessThanOrEqual(24);
      }
    }
  });

  it('lay panels out without overlaps', () => {
    for (const d of dashboards) {
      const cells = new Set<string>();
      for (const p of d.panels) {
        for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
          for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
            const k = `${x},${y}`;
            expect(cells.has(k), `${d.uid}/${p.title} overlaps at ${k}`).toBe(false);
            cells.add(k);
          }
        }
      }
    }
  });

  it('expose their queries for checks', () => {
    for (const d of dashboards) expect(dashboardQueries(d).length).toBeGreaterThan(3);
  });
});
