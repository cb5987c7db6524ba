import { describe, expect, it } from 'vitest';
import { driftMetrics } from '../../src/drift/run';
import { DRIFT_METRICS } from '../../src/drift/manifests';
import { Wiring } from '../../src/monitoring/wiring';

const reader = (expr: string, name = 'SomethingHigh') => ({
  kind: 'alert rule' as const,
  name,
  path: 'app/X',
  expr,
});

describe('the wiring check', () => {
  it('passes when every metric read has a collected producer', () => {
    const w = new Wiring();
    w.addSource({
      producer: 'exporter',
      path: 'app/E',
      metrics: ['a_total', /^b_/],
      collectedBy: 'managed Prometheus',
    });
    w.addReader(reader('rate(a_total[5m]) > sum(b_bytes) and up{job="e"} == 1'));
    expect(w.check()).toEqual([]);
  });

  it('fails when nothing exports a metric, naming the reader and the metric', () => {
    const w = new Wiring();
    w.addReader(reader('min_over_time(mlstack_drift_dataset_drifted[2h]) == 1', 'DataDriftSustained'));
    expect(w.check()).toEqual([
      'app/X: alert rule DataDriftSustained reads mlstack_drift_dataset_drifted, which nothing on this cluster exports. Deploy what exports it (or say you do, where the construct offers it).',
    ]);
  });

  it('fails when the producer is not collected, naming both ends', () => {
    const w = new Wiring();
    w.addSource({
      producer: 'Triton (Service s/classifier)',
      path: 'app/Classifier',
      metrics: ['nv_inference_count'],
    });
    w.addReader({
      kind: 'autoscaler',
      name: 'classifier',
      path: 'app/Classifier',
      expr: 'sum(rate(nv_inference_count[1m]))',
    });
    expect(w.check()[0]).toMatch(
      /^app\/Classifier: autoscaler classifier reads nv_inference_count, which Triton \(Service s\/classifier\) \(app\/Classifier\) exports but nothing collects/,
    );
  });

  it("counts up and scrape series as the collector's own, and skips what the user said they provide", () => {
    const w = new Wiring();
    w.addReader(reader('up == 0'));
    expect(w.check()).toHaveLength(1);
    w.addSource({ producer: 'x', path: 'p', metrics: ['x'], collectedBy: 'managed' });
    expect(w.check()).toEqual([]);
    w.addReader({ ...reader('pushed_metric > 1'), providedByUser: ['pushed_metric'] });
    expect(w.check()).toEqual([]);
  });

  it('reports invalid PromQL', () => {
    const w = new Wiring();
    w.addReader(reader('rate(x[5m]'));
    expect(w.check()[0]).toMatch(/alert rule SomethingHigh is not valid PromQL/);
  });

  it('fails for an alert group without a route unless acknowledged, and a pool at zero without a scaler', () => {
    const w = new Wiring();
    w.addAlertGroup({ group: 'gpu', path: 'app/Mon' });
    w.addAlertGroup({
      group: 'drift',
      path: 'app/Drift',
      acknowledged: 'our Alertmanager reads the workspace',
    });
    w.addAlertGroup({ group: 'serving', path: 'app/Mon', route: 'SNS topic' });
    w.addPool({ pool: 'inference', path: 'app/Gpus', minNodes: 0 });
    w.addPool({ pool: 'training', path: 'app/Gpus', minNodes: 1 });
    w.addPool({ pool: 'l4', path: 'app/Gpus', minNodes: 0, scaler: 'GKE cluster autoscaler' });
    const errors = w.check();
    expect(errors).toHaveLength(2);
    expect(errors[0]).toMatch(/^app\/Mon: alert group gpu routes nowhere/);
    expect(errors[1]).toMatch(/^app\/Gpus: pool inference starts at 0 nodes and nothing adds nodes/);
  });

  it('knows every metric the drift job pushes', () => {
    const report = {
      verdict: 'drift',
      driftedShare: 0.5,
      features: [],
      predictions: [],
      windows: { reference: { rows: 1, skippedRows: 0 }, current: { rows: 1, skippedRows: 0 } },
    } as unknown as Parameters<typeof driftMetrics>[0];
    const names = driftMetrics(report, 'job')
      .getMetricsAsArray()
      .map((m) => m.name)
      .sort();
    expect(names).toEqual([...DRIFT_METRICS].sort());
  });
});
