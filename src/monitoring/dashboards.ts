/**
 * Grafana dashboards as JSON (the dashboard model Grafana imports and its sidecar loads from ConfigMaps): the GPU
 * fleet, one node's GPUs, and the inference services. Queries use only the metrics the exporter's counters enable
 * and the `nv_inference_*` / `mlstack_*` serving metrics; template variables appear only inside label matchers.
 */

/** A Prometheus query of a panel. */
export interface DashboardTarget {
  readonly refId: string;
  readonly expr: string;
  readonly legendFormat: string;
  readonly datasource: DashboardDatasource;
}

/** The datasource reference every panel and target carries. */
export interface DashboardDatasource {
  readonly type: 'prometheus';
  readonly uid: string;
}

/** A panel of the dashboard model. */
export interface DashboardPanel {
  readonly id: number;
  readonly type: 'timeseries' | 'stat' | 'table';
  readonly title: string;
  readonly description?: string;
  readonly gridPos: { readonly x: number; readonly y: number; readonly w: number; readonly h: number };
  readonly datasource: DashboardDatasource;
  readonly targets: readonly DashboardTarget[];
  readonly fieldConfig: {
    readonly defaults: { readonly unit?: string };
    readonly overrides: readonly never[];
  };
  readonly options: Record<string, unknown>;
}

/** A template variable. */
export interface DashboardVariable {
  readonly name: string;
  readonly label: string;
  readonly type: 'datasource' | 'query';
  readonly query: string;
  readonly datasource?: DashboardDatasource;
  readonly multi?: boolean;
  readonly includeAll?: boolean;
  readonly refresh?: 1 | 2;
  readonly hide: 0;
  readonly skipUrlSync: false;
}

/** A dashboard, as Grafana stores it. */
export interface GrafanaDashboard {
  readonly uid: string;
  readonly title: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly timezone: 'browser';
  readonly editable: boolean;
  readonly graphTooltip: 1;
  readonly schemaVersion: number;
  readonly version: number;
  readonly refresh: string;
  readonly time: { readonly from: string; readonly to: string };
  readonly templating: { readonly list: readonly DashboardVariable[] };
  readonly annotations: { readonly list: readonly never[] };
  readonly panels: readonly DashboardPanel[];
}

/** A PromQL expression of a dashboard or rule, for checks. */
export function dashboardQueries(d: GrafanaDashboard): string[] {
  return [
    ...d.panels.flatMap((p) => p.targets.map((t) => t.expr)),
    ...d.templating.list.filter((v) => v.type === 'query').map((v) => v.query),
  ];
}

const DS: DashboardDatasource = { type: 'prometheus', uid: '${datasource}' };
const datasourceVariable: DashboardVariable = {
  name: 'datasource',
  label: 'Data source',
  type: 'datasource',
  query: 'prometheus',
  hide: 0,
  skipUrlSync: false,
};

interface PanelSpec {
  readonly title: string;
  readonly type?: DashboardPanel['type'];
  readonly unit?: string;
  readonly description?: string;
  readonly w?: number;
  readonly h?: number;
  readonly queries: readonly (readonly [expr: string, legend: string])[];
}

/** Lays panels out left to right, 24 columns a row. */
function layout(specs: readonly PanelSpec[]): DashboardPanel[] {
  let x = 0;
  let y = 0;
  let rowHeight = 0;
  return specs.map((s, i) => {
    const w = s.w ?? 12;
    const h = s.h ?? 8;
    if (x + w > 24) {
      x = 0;
      y += rowHeight;
      rowHeight = 0;
    }
    const panel: DashboardPanel = {
      id: i + 1,
      type: s.type ?? 'timeseries',
      title: s.title,
      ...(s.description ? { description: s.description } : {}),
      gridPos: { x, y, w, h },
      datasource: DS,
      targets: s.queries.map(([expr, legend], j) => ({
        refId: String.fromCharCode(65 + j),
        expr,
        legendFormat: legend,
        datasource: DS,
      })),
      fieldConfig: { defaults: s.unit ? { unit: s.unit } : {}, overrides: [] },
      options: {},
    };
    x += w;
    rowHeight = Math.max(rowHeight, h);
    return panel;
  });
}

function dashboard(
  uid: string,
  title: string,
  description: string,
  variables: DashboardVariable[],
  panels: PanelSpec[],
): GrafanaDashboard {
  return {
    uid,
    title,
    description,
    tags: ['mlstack', 'gpu'],
    timezone: 'browser',
    editable: true,
    graphTooltip: 1,
    schemaVersion: 39,
    version: 1,
    refresh: '30s',
    time: { from: 'now-6h', to: 'now' },
    templating: { list: [datasourceVariable, ...variables] },
    annotations: { list: [] },
    panels: layout(panels),
  };
}

const queryVariable = (name: string, label: string, query: string): DashboardVariable => ({
  name,
  label,
  type: 'query',
  query,
  datasource: DS,
  multi: true,
  includeAll: true,
  refresh: 2,
  hide: 0,
  skipUrlSync: false,
});

/** The GPU fleet: how many GPUs, how busy, who holds them, what is wasted, what failed. */
export function gpuFleetDashboard(job: string, idleUtilizationPercent: number): GrafanaDashboard {
  const j = `job="${job}"`;
  return dashboard(
    'mlstack-gpu-fleet',
    'GPU fleet',
    'Every GPU of the cluster from dcgm-exporter (mlstack DcgmMonitoring).',
    [],
    [
      { title: 'GPUs', type: 'stat', w: 6, h: 4, queries: [[`count(DCGM_FI_DEV_GPU_UTIL{${j}})`, 'GPUs']] },
      {
        title: 'GPUs held by pods',
        type: 'stat',
        w: 6,
        h: 4,
        queries: [[`count(DCGM_FI_DEV_GPU_UTIL{${j}, pod!=""})`, 'held']],
      },
      {
        title: 'Held but idle (30 min)',
        type: 'stat',
        w: 6,
        h: 4,
        description: `GPUs a pod holds while below ${idleUtilizationPercent}% utilisation on average over 30 minutes.`,
        queries: [
          [
            `count(avg_over_time(DCGM_FI_DEV_GPU_UTIL{${j}, pod!=""}[30m]) < ${idleUtilizationPercent})`,
            'idle',
          ],
        ],
      },
      {
        title: 'Average utilisation',
        type: 'stat',
        unit: 'percent',
        w: 6,
        h: 4,
        queries: [[`avg(DCGM_FI_DEV_GPU_UTIL{${j}})`, 'utilisation']],
      },
      {
        title: 'Utilisation by node',
        unit: 'percent',
        queries: [[`avg by (node) (DCGM_FI_DEV_GPU_UTIL{${j}})`, '{{node}}']],
      },
      {
        title: 'Utilisation by namespace',
        unit: 'percent',
        queries: [[`avg by (namespace) (DCGM_FI_DEV_GPU_UTIL{${j}, pod!=""})`, '{{namespace}}']],
      },
      {
        title: 'Framebuffer used by node',
        unit: 'percent',
        queries: [
          [
            `sum by (node) (DCGM_FI_DEV_FB_USED{${j}}) / sum by (node) (DCGM_FI_DEV_FB_USED{${j}} + DCGM_FI_DEV_FB_FREE{${j}}) * 100`,
            '{{node}}',
          ],
        ],
      },
      {
        title: 'Power draw',
        unit: 'watt',
        queries: [[`sum by (node) (DCGM_FI_DEV_POWER_USAGE{${j}})`, '{{node}}']],
      },
      {
        title: 'Hottest GPU by node',
        unit: 'celsius',
        queries: [[`max by (node) (DCGM_FI_DEV_GPU_TEMP{${j}})`, '{{node}}']],
      },
      {
        title: 'GPUs with errors',
        type: 'table',
        description: 'Last XID, and ECC errors in the last 24 hours.',
        queries: [
          [`DCGM_FI_DEV_XID_ERRORS{${j}} > 0`, 'XID {{node}} GPU {{gpu}}'],
          [`increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{${j}}[24h]) > 0`, 'double-bit {{node}} GPU {{gpu}}'],
        ],
      },
    ],
  );
}

/** One node's GPUs, each on its own line. */
export function gpuNodeDashboard(job: string): GrafanaDashboard {
  const s = `job="${job}", node=~"$node", gpu=~"$gpu"`;
  const legend = '{{node}} GPU {{gpu}}';
  return dashboard(
    'mlstack-gpu-node',
    'GPU node detail',
    'Per node and per GPU: utilisation, memory, thermals, clocks, interconnect, throttling and errors.',
    [
      queryVariable('node', 'Node', `label_values(DCGM_FI_DEV_GPU_UTIL{job="${job}"}, node)`),
      queryVariable('gpu', 'GPU', `label_values(DCGM_FI_DEV_GPU_UTIL{job="${job}", node=~"$node"}, gpu)`),
    ],
    [
      {
        title: 'Utilisation',
        unit: 'percent',
        queries: [
          [`DCGM_FI_DEV_GPU_UTIL{${s}}`, legend],
          [`DCGM_FI_PROF_GR_ENGINE_ACTIVE{${s}} * 100`, `${legend} engine active`],
        ],
      },
      {
        title: 'Framebuffer',
        unit: 'decmbytes',
        queries: [
          [`DCGM_FI_DEV_FB_USED{${s}}`, `${legend} used`],
          [`DCGM_FI_DEV_FB_FREE{${s}}`, `${legend} free`],
        ],
      },
      {
        title: 'Temperature',
        unit: 'celsius',
        queries: [
          [`DCGM_FI_DEV_GPU_TEMP{${s}}`, `${legend} GPU`],
          [`DCGM_FI_DEV_MEMORY_TEMP{${s}}`, `${legend} memory`],
        ],
      },
      { title: 'Power', unit: 'watt', queries: [[`DCGM_FI_DEV_POWER_USAGE{${s}}`, legend]] },
      {
        title: 'Clocks',
        unit: 'rothz',
        queries: [
          [`DCGM_FI_DEV_SM_CLOCK{${s}}`, `${legend} SM`],
          [`DCGM_FI_DEV_MEM_CLOCK{${s}}`, `${legend} memory`],
        ],
      },
      {
        title: 'Time throttled',
        unit: 'percent',
        queries: [
          [`rate(DCGM_FI_DEV_THERMAL_VIOLATION{${s}}[5m]) / 1e6 * 100`, `${legend} thermal`],
          [`rate(DCGM_FI_DEV_POWER_VIOLATION{${s}}[5m]) / 1e6 * 100`, `${legend} power`],
        ],
      },
      {
        title: 'PCIe',
        unit: 'Bps',
        queries: [
          [`DCGM_FI_PROF_PCIE_TX_BYTES{${s}}`, `${legend} tx`],
          [`DCGM_FI_PROF_PCIE_RX_BYTES{${s}}`, `${legend} rx`],
        ],
      },
      {
        title: 'NVLink',
        unit: 'Bps',
        queries: [
          [`DCGM_FI_PROF_NVLINK_TX_BYTES{${s}}`, `${legend} tx`],
          [`DCGM_FI_PROF_NVLINK_RX_BYTES{${s}}`, `${legend} rx`],
        ],
      },
      {
        title: 'ECC errors (1 h)',
        queries: [
          [`increase(DCGM_FI_DEV_ECC_SBE_VOL_TOTAL{${s}}[1h])`, `${legend} single-bit`],
          [`increase(DCGM_FI_DEV_ECC_DBE_VOL_TOTAL{${s}}[1h])`, `${legend} double-bit`],
        ],
      },
      {
        title: 'Last XID and throttle reasons',
        type: 'table',
        queries: [
          [`DCGM_FI_DEV_XID_ERRORS{${s}}`, `${legend} XID`],
          [`DCGM_FI_DEV_CLOCK_THROTTLE_REASONS{${s}}`, `${legend} throttle reasons`],
        ],
      },
    ],
  );
}

/** The inference services (Triton or the mlstack server): traffic, errors, latency, queueing, batching. */
export function inferenceDashboard(): GrafanaDashboard {
  const s = 'namespace=~"$namespace", job=~"$service"';
  return dashboard(
    'mlstack-inference',
    'Inference services',
    'TritonService workloads from their nv_inference_* metrics (Triton and the mlstack server share the names).',
    [
      queryVariable('namespace', 'Namespace', 'label_values(nv_inference_request_success, namespace)'),
      queryVariable(
        'service',
        'Service',
        'label_values(nv_inference_request_success{namespace=~"$namespace"}, job)',
      ),
    ],
    [
      {
        title: 'Requests per second',
        unit: 'reqps',
        queries: [
          [`sum by (job, model) (rate(nv_inference_request_success{${s}}[5m]))`, '{{job}} {{model}}'],
        ],
      },
      {
        title: 'Failed requests per second',
        unit: 'reqps',
        queries: [
          [`sum by (job, model) (rate(nv_inference_request_failure{${s}}[5m]))`, '{{job}} {{model}}'],
        ],
      },
      {
        title: 'p99 latency',
        unit: 'ms',
        queries: [
          [
            `max by (job, model) (nv_inference_request_summary_us{${s}, quantile="0.99"}) / 1000`,
            '{{job}} {{model}} (Triton)',
          ],
          [
            `histogram_quantile(0.99, sum by (job, model, le) (rate(mlstack_inference_request_duration_seconds_bucket{${s}}[5m]))) * 1000`,
            '{{job}} {{model}} (mlstack server)',
          ],
        ],
      },
      {
        title: 'Queue time per request',
        unit: 'µs',
        queries: [
          [
            `sum by (job, model) (rate(nv_inference_queue_duration_us{${s}}[5m])) / sum by (job, model) (rate(nv_inference_request_success{${s}}[5m]))`,
            '{{job}} {{model}}',
          ],
        ],
      },
      {
        // Triton and the mlstack server both export these four: decoding the inputs, waiting in the batcher's
        // queue, running the model, encoding the outputs.
        title: "Where a request's time goes",
        unit: 'µs',
        queries: (
          [
            ['nv_inference_compute_input_duration_us', 'decode'],
            ['nv_inference_queue_duration_us', 'queue'],
            ['nv_inference_compute_infer_duration_us', 'compute'],
            ['nv_inference_compute_output_duration_us', 'encode'],
          ] as const
        ).map(([metric, stage]): [string, string] => [
          `sum by (job, model) (rate(${metric}{${s}}[5m])) / sum by (job, model) (rate(nv_inference_request_success{${s}}[5m]))`,
          `{{job}} {{model}} ${stage}`,
        ]),
      },
      {
        title: 'Average batch size',
        queries: [
          [
            `sum by (job, model) (rate(nv_inference_count{${s}}[5m])) / sum by (job, model) (rate(nv_inference_exec_count{${s}}[5m]))`,
            '{{job}} {{model}}',
          ],
        ],
      },
      {
        title: 'Pending requests',
        queries: [[`sum by (job, model) (nv_inference_pending_request_count{${s}})`, '{{job}} {{model}}']],
      },
    ],
  );
}
