import * as fs from 'node:fs';
import {
  binCounts,
  binCountsAt,
  chiSquare,
  jensenShannon,
  ksPValue,
  ksStatistic,
  ksStatisticAt,
  psi,
  quantileEdges,
  standardDeviation,
  wasserstein,
} from './stats';
import { type ColumnStats, DriftInputError, type FeatureType, inferType, type Window } from './window';

export { DriftInputError };

/**
 * Values each window needs, per window and per feature, before a verdict is computed (`minSamples`). With the
 * default 10 bins, PSI between two samples of one distribution is about (bins − 1)·(1/n + 1/m) by noise alone:
 * 0.09 at 200 values a window, under the 0.1 warn level; at 100 it is 0.18 and crosses warn routinely, at 50 it
 * reaches the 0.25 drift level. KS with the default minimum D of 0.1 and α = 0.01 needs about 530 a window to flag
 * anything, so it never raises a false alarm on small windows.
 */
export const DEFAULT_MIN_SAMPLES = 200;

/** Malformed rows a window may have before the run fails (`maxBadRows`): 5% of its rows. */
export const DEFAULT_MAX_BAD_ROWS = '5%';

/** Thresholds of one feature's statistics. */
export interface FeatureThresholds {
  /** PSI: `warn` from 0.1, `drift` from 0.25 by default. */
  readonly psi?: { readonly warn?: number; readonly drift?: number };
  /** KS: drift when p < `pValue` (0.01) and D ≥ `minStatistic` (0.1), so large windows do not flag tiny shifts. */
  readonly ks?: { readonly pValue?: number; readonly minStatistic?: number };
  /** Chi-square: drift when p < `pValue` (0.01) and the Jensen–Shannon distance reaches its warn level. */
  readonly chiSquare?: { readonly pValue?: number };
  /** Jensen–Shannon distance (base 2, 0–1): `warn` from 0.1, `drift` from 0.2. */
  readonly jensenShannon?: { readonly warn?: number; readonly drift?: number };
  /**
   * Wasserstein distance normalized by the reference's standard deviation (as Evidently does): `drift` from 0.1.
   */
  readonly wasserstein?: { readonly drift?: number };
  /**
   * The statistics that decide the verdict (the others are not computed): for numeric features any of `psi`, `ks`,
   * `wasserstein` (default `psi`, `ks`); for categorical ones `chi_square`, `jensen_shannon` (default both). In
   * `thresholds` a list may name both kinds; in a feature's override, only its type's.
   */
  readonly statistics?: readonly DriftStatistic[];
}

/** A drift statistic a feature can be judged by. */
export type DriftStatistic = 'psi' | 'ks' | 'wasserstein' | 'chi_square' | 'jensen_shannon';

const NUMERIC_STATISTICS: readonly DriftStatistic[] = ['psi', 'ks', 'wasserstein'];
const CATEGORICAL_STATISTICS: readonly DriftStatistic[] = ['chi_square', 'jensen_shannon'];

/** The statistics that can judge a feature of `type`. */
export function statisticsOfType(type: FeatureType): readonly DriftStatistic[] {
  return type === 'numeric' ? NUMERIC_STATISTICS : CATEGORICAL_STATISTICS;
}
const DEFAULT_STATISTICS: Record<FeatureType, readonly DriftStatistic[]> = {
  numeric: ['psi', 'ks'],
  categorical: ['chi_square', 'jensen_shannon'],
};

/** The drift job's configuration (`--config`). */
export interface DriftConfig {
  /** Defaults for every feature. */
  readonly thresholds?: FeatureThresholds;
  /** Per-feature overrides, by column name. */
  readonly features?: Readonly<Record<string, FeatureThresholds>>;
  /** The dataset drifts when at least this share of its features drift (default 0.3). */
  readonly datasetDriftShare?: number;
  /** Equal-frequency bins of numeric features, from the reference (default 10). */
  readonly bins?: number;
  /** A timestamp column: not compared, its range is reported. */
  readonly timestampColumn?: string;
  /**
   * Only these columns are read and compared (Parquet windows do not read the others' column chunks); others are
   * ignored rather than reported (default: every column).
   */
  readonly columns?: readonly string[];
  /** Pushgateway URL to push the metrics to. */
  readonly pushgateway?: string;
  /** URL that receives the report as a JSON POST when the dataset drifts. */
  readonly webhook?: string;
  /** The job label of pushed metrics (default `mlstack-drift`). */
  readonly job?: string;
  /**
   * Rows each window needs, and non-missing values each feature needs in each window, before a verdict is
   * computed; below, the verdict is `insufficient_data` (default {@link DEFAULT_MIN_SAMPLES}).
   */
  readonly minSamples?: number;
  /**
   * Malformed rows a window may have: a count (`100`) or a share of its rows (`'5%'`); beyond, the run fails
   * (default {@link DEFAULT_MAX_BAD_ROWS}).
   */
  readonly maxBadRows?: number | string;
}

/** Column types and roles (`--schema`); columns not listed are inferred. */
export interface DriftSchema {
  readonly features?: Readonly<Record<string, FeatureType>>;
  /** Columns holding the model's outputs: compared the same way, reported as prediction drift. */
  readonly predictions?: readonly string[];
}

type Resolved = {
  psi: { warn: number; drift: number };
  ks: { pValue: number; minStatistic: number };
  chiSquare: { pValue: number };
  jensenShannon: { warn: number; drift: number };
  wasserstein: { drift: number };
  /** As configured; per type with {@link statisticsFor}. */
  statistics?: readonly DriftStatistic[];
};

/** The documented defaults. */
export const DEFAULT_THRESHOLDS: Resolved = {
  psi: { warn: 0.1, drift: 0.25 },
  ks: { pValue: 0.01, minStatistic: 0.1 },
  chiSquare: { pValue: 0.01 },
  jensenShannon: { warn: 0.1, drift: 0.2 },
  wasserstein: { drift: 0.1 },
};

/** A bad configuration, named by its path. */
export class DriftConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DriftConfigError';
  }
}

function resolve(base: Resolved, t: FeatureThresholds | undefined, where: string): Resolved {
  const r: Resolved = {
    psi: { ...base.psi, ...(t?.psi ?? {}) },
    ks: { ...base.ks, ...(t?.ks ?? {}) },
    chiSquare: { ...base.chiSquare, ...(t?.chiSquare ?? {}) },
    jensenShannon: { ...base.jensenShannon, ...(t?.jensenShannon ?? {}) },
    wasserstein: { ...base.wasserstein, ...(t?.wasserstein ?? {}) },
    ...(t?.statistics
      ? { statistics: t.statistics }
      : base.statistics
        ? { statistics: base.statistics }
        : {}),
  };
  if (t?.statistics !== undefined) {
    const known = [...NUMERIC_STATISTICS, ...CATEGORICAL_STATISTICS];
    if (!Array.isArray(t.statistics) || t.statistics.length === 0) {
      throw new DriftConfigError(`${where}.statistics must be a non-empty list of ${known.join(', ')}.`);
    }
    for (const name of t.statistics) {
      if (!known.includes(name)) {
        throw new DriftConfigError(
          `${where}.statistics: ${JSON.stringify(name)} is not a statistic; use ${known.join(', ')}.`,
        );
      }
    }
  }
  const range = (path: string, v: number, min: number, max: number) => {
    if (typeof v !== 'number' || !(v >= min && v <= max)) {
      throw new DriftConfigError(
        `${where}.${path} (${JSON.stringify(v)}) must be a number from ${min} to ${max}.`,
      );
    }
  };
  range('psi.warn', r.psi.warn, 0, 10);
  range('psi.drift', r.psi.drift, 0, 10);
  if (r.psi.warn > r.psi.drift)
    throw new DriftConfigError(
      `${where}.psi.warn (${r.psi.warn}) must not exceed psi.drift (${r.psi.drift}).`,
    );
  range('ks.pValue', r.ks.pValue, 0, 1);
  range('ks.minStatistic', r.ks.minStatistic, 0, 1);
  range('chiSquare.pValue', r.chiSquare.pValue, 0, 1);
  range('jensenShannon.warn', r.jensenShannon.warn, 0, 1);
  range('jensenShannon.drift', r.jensenShannon.drift, 0, 1);
  range('wasserstein.drift', r.wasserstein.drift, 0, 100);
  if (r.jensenShannon.warn > r.jensenShannon.drift) {
    throw new DriftConfigError(`${where}.jensenShannon.warn must not exceed jensenShannon.drift.`);
  }
  return r;
}

/**
 * The statistics that judge a feature of `type`: those of its configuration that apply to the type, else the
 * defaults. A feature's own override that names none of its type's is an error.
 */
function statisticsFor(
  r: Resolved,
  type: FeatureType,
  name: string,
  own: FeatureThresholds | undefined,
): readonly DriftStatistic[] {
  const applicable = statisticsOfType(type);
  const chosen = (r.statistics ?? []).filter((x) => applicable.includes(x));
  if (own?.statistics && own.statistics.some((x) => !applicable.includes(x))) {
    throw new DriftConfigError(
      `features.${name}.statistics: ${name} is ${type}; its statistics are ${applicable.join(', ')} (got ${own.statistics.join(', ')}).`,
    );
  }
  return chosen.length ? chosen : DEFAULT_STATISTICS[type];
}

/** Checks a configuration; `featureNames`, when known, must include every per-feature override. */
export function checkConfig(config: DriftConfig, featureNames?: readonly string[]): void {
  if (
    config.columns !== undefined &&
    (!Array.isArray(config.columns) ||
      config.columns.length === 0 ||
      config.columns.some((c) => typeof c !== 'string' || c === ''))
  ) {
    throw new DriftConfigError(
      `columns (${JSON.stringify(config.columns)}) must be a non-empty list of column names, or left out to read every column.`,
    );
  }
  const base = resolve(DEFAULT_THRESHOLDS, config.thresholds, 'thresholds');
  for (const [name, t] of Object.entries(config.features ?? {})) {
    if (featureNames && !featureNames.includes(name)) {
      throw new DriftConfigError(
        `features.${name}: no such feature; the features are ${featureNames.join(', ')}. Fix the name or remove the override.`,
      );
    }
    resolve(base, t, `features.${name}`);
  }
  const share = config.datasetDriftShare ?? 0.3;
  if (!(share > 0 && share <= 1)) {
    throw new DriftConfigError(
      `datasetDriftShare (${JSON.stringify(share)}) must be greater than 0 and at most 1.`,
    );
  }
  const bins = config.bins ?? 10;
  if (!Number.isInteger(bins) || bins < 2 || bins > 100) {
    throw new DriftConfigError(`bins (${JSON.stringify(bins)}) must be an integer from 2 to 100.`);
  }
  const min = config.minSamples ?? DEFAULT_MIN_SAMPLES;
  if (!Number.isInteger(min) || min < 1) {
    throw new DriftConfigError(`minSamples (${JSON.stringify(min)}) must be a positive integer.`);
  }
  badRowBudget(config.maxBadRows ?? DEFAULT_MAX_BAD_ROWS);
  for (const key of ['pushgateway', 'webhook'] as const) {
    const url = config[key];
    if (url !== undefined && !/^https?:\/\/\S+$/.test(url)) {
      throw new DriftConfigError(`${key} (${JSON.stringify(url)}) must be an http(s) URL.`);
    }
  }
}

/**
 * The malformed-row budget: `{ count }` or `{ share }` from `100`, `'100'` or `'5%'`.
 * @throws DriftConfigError naming the value
 */
export function badRowBudget(v: number | string): { count?: number; share?: number } {
  const text = String(v).trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(text);
  if (pct && Number(pct[1]) <= 100) return { share: Number(pct[1]) / 100 };
  if (/^\d+$/.test(text)) return { count: Number(text) };
  throw new DriftConfigError(
    `maxBadRows (${JSON.stringify(v)}) must be a count such as 100 or a share such as '5%'.`,
  );
}

/**
 * Fails on a window that cannot be compared: no rows (an empty file, a header only, every row malformed), or more
 * malformed rows than the budget.
 * @throws DriftInputError naming the file and the reason
 */
export function checkWindows(reference: Window, current: Window, config: DriftConfig = {}): void {
  const budget = badRowBudget(config.maxBadRows ?? DEFAULT_MAX_BAD_ROWS);
  for (const [role, w] of [
    ['reference', reference],
    ['current', current],
  ] as const) {
    const first = w.errors[0] ? ` (first: line ${w.errors[0].line}: ${w.errors[0].message})` : '';
    if (w.rows === 0) {
      const why =
        w.skipped > 0
          ? `all ${w.skipped} of its rows are malformed${first}`
          : fs.statSync(w.file).size === 0
            ? 'the file is empty'
            : 'it has no data rows (a header only, or blank lines)';
      throw new DriftInputError(`${w.file}: the ${role} window has no rows to compare: ${why}.`);
    }
    const total = w.rows + w.skipped;
    const over =
      budget.count !== undefined ? w.skipped > budget.count : w.skipped > (budget.share ?? 0) * total;
    if (over) {
      throw new DriftInputError(
        `${w.file}: ${w.skipped} of the ${total} rows of the ${role} window are malformed, over the budget of ${String(config.maxBadRows ?? DEFAULT_MAX_BAD_ROWS)} (--max-bad-rows)${first}.`,
      );
    }
  }
}

export type Verdict = 'ok' | 'warn' | 'drift';

/** A feature's verdict, or why there is none. */
export type FeatureVerdict = Verdict | 'insufficient_data';

/** One statistic of a feature. */
export interface StatisticResult {
  readonly name:
    | 'psi'
    | 'ks_statistic'
    | 'ks_pvalue'
    | 'wasserstein_normed'
    | 'chi_square'
    | 'chi_square_pvalue'
    | 'jensen_shannon';
  readonly value: number;
  /** The threshold(s) the value is compared with. */
  readonly threshold: Readonly<Record<string, number>>;
  readonly verdict: Verdict;
}

/** One compared column. */
export interface FeatureResult {
  readonly name: string;
  readonly role: 'feature' | 'prediction';
  readonly type: FeatureType | 'schema';
  readonly verdict: FeatureVerdict;
  readonly missingShare: { readonly reference: number; readonly current: number };
  /** Infinite values (`inf`), counted apart from missing ones. */
  readonly nonFinite?: { readonly reference: number; readonly current: number };
  readonly statistics: readonly StatisticResult[];
  /** Categories in the current window that the reference never had. */
  readonly unseenCategories?: readonly string[];
  /** Why the feature is in the report without statistics (schema drift, no values). */
  readonly note?: string;
}

/** The drift report (written as `report.json`). */
export interface DriftReport {
  /** `insufficient_data` when a window, or every feature, has fewer than `minSamples` values. */
  readonly verdict: 'drift' | 'no_drift' | 'insufficient_data';
  /** The minimum sample size the verdicts used. */
  readonly minSamples: number;
  readonly driftedShare: number;
  readonly datasetDriftShare: number;
  readonly generatedAt: string;
  readonly windows: Record<
    'reference' | 'current',
    {
      readonly file: string;
      readonly rows: number;
      readonly skippedRows: number;
      readonly timeRange?: { from: string; to: string };
    }
  >;
  readonly schema: {
    readonly types: Readonly<Record<string, FeatureType>>;
    readonly inferred: readonly string[];
    readonly missingInCurrent: readonly string[];
    readonly newInCurrent: readonly string[];
    readonly notCompared: readonly string[];
  };
  readonly features: readonly FeatureResult[];
  readonly predictions: readonly FeatureResult[];
  readonly errors: readonly {
    readonly window: 'reference' | 'current';
    readonly line: number;
    readonly message: string;
  }[];
}

const worst = (vs: Verdict[]): Verdict =>
  vs.includes('drift') ? 'drift' : vs.includes('warn') ? 'warn' : 'ok';

function numericStats(
  a: ColumnStats,
  b: ColumnStats,
  t: Resolved,
  bins: number,
  use: readonly DriftStatistic[],
): StatisticResult[] {
  const ra = a.numbers.sorted();
  // A current window read against this reference (countedFeatures) holds counts at its values, not the values.
  const counted = b.numbers.counts;
  const rb = counted ? undefined : b.numbers.sorted();
  const out: StatisticResult[] = [];
  if (use.includes('psi')) {
    const edges = quantileEdges(ra, bins);
    // Missing values get their own bin, so a rise in missing values shows in the PSI.
    // Infinite values get a bin of their own.
    const ca = [...binCounts(ra, edges), a.missing, a.nonFinite];
    const cb = [
      ...(rb ? binCounts(rb, edges) : binCountsAt(counted!, edges)),
      b.missing + b.nonNumeric,
      b.nonFinite,
    ];
    const p = psi(ca, cb);
    out.push({
      name: 'psi',
      value: p,
      threshold: { ...t.psi },
      verdict: p >= t.psi.drift ? 'drift' : p >= t.psi.warn ? 'warn' : 'ok',
    });
  }
  if (use.includes('ks')) {
    const d = rb ? ksStatistic(ra, rb) : ksStatisticAt(ra, counted!);
    const pv = ksPValue(d, ra.length, b.numbers.length);
    const ksDrift = pv < t.ks.pValue && d >= t.ks.minStatistic;
    out.push(
      {
        name: 'ks_statistic',
        value: d,
        threshold: { minStatistic: t.ks.minStatistic },
        verdict: ksDrift ? 'drift' : 'ok',
      },
      { name: 'ks_pvalue', value: pv, threshold: { pValue: t.ks.pValue }, verdict: ksDrift ? 'drift' : 'ok' },
    );
  }
  if (use.includes('wasserstein')) {
    // Normalized by the reference's spread, so one threshold fits features of any scale; a constant reference
    // leaves the distance in the data's units.
    const sd = standardDeviation(ra);
    if (!rb) throw new Error(`wasserstein: the current values of ${a.name} were counted, not kept`);
    const w = wasserstein(ra, rb) / (sd > 0 ? sd : 1);
    out.push({
      name: 'wasserstein_normed',
      value: w,
      threshold: { ...t.wasserstein },
      verdict: w >= t.wasserstein.drift ? 'drift' : 'ok',
    });
  }
  return out;
}

function categoricalStats(
  a: ColumnStats,
  b: ColumnStats,
  t: Resolved,
  use: readonly DriftStatistic[],
): { stats: StatisticResult[]; unseen: string[] } {
  const ref = a.categories ?? new Map<string, number>();
  const cur = b.categories ?? new Map<string, number>();
  const keys = [...new Set([...ref.keys(), ...cur.keys()])].sort();
  const ca = [...keys.map((k) => ref.get(k) ?? 0), a.missing];
  const cb = [...keys.map((k) => cur.get(k) ?? 0), b.missing];
  const chi = chiSquare(ca, cb);
  const js = jensenShannon(ca, cb, 2);
  const jsVerdict: Verdict =
    js >= t.jensenShannon.drift ? 'drift' : js >= t.jensenShannon.warn ? 'warn' : 'ok';
  const chiDrift = chi.pValue < t.chiSquare.pValue && js >= t.jensenShannon.warn;
  const all: StatisticResult[] = [
    { name: 'jensen_shannon', value: js, threshold: { ...t.jensenShannon }, verdict: jsVerdict },
    {
      name: 'chi_square',
      value: chi.statistic,
      threshold: { df: chi.df },
      verdict: chiDrift ? 'drift' : 'ok',
    },
    {
      name: 'chi_square_pvalue',
      value: chi.pValue,
      threshold: { pValue: t.chiSquare.pValue },
      verdict: chiDrift ? 'drift' : 'ok',
    },
  ];
  return {
    stats: all.filter((x) =>
      x.name === 'jensen_shannon' ? use.includes('jensen_shannon') : use.includes('chi_square'),
    ),
    unseen: keys.filter((k) => !ref.has(k)),
  };
}

/**
 * The numeric features of `reference` whose current values need only be counted at the reference's values, not
 * kept (KS and PSI need no more; Wasserstein needs the values): each one's sorted reference values, for
 * `readWindow(current, { countAt })`. The type of a feature comes from the schema or the reference, as in
 * {@link compareWindows}, so the comparison is the same as with every value kept.
 */
export function countedFeatures(
  reference: Window,
  schema: DriftSchema = {},
  config: DriftConfig = {},
): Map<string, Float64Array> {
  checkConfig(config);
  const base = resolve(DEFAULT_THRESHOLDS, config.thresholds, 'thresholds');
  const out = new Map<string, Float64Array>();
  for (const [name, a] of reference.columns) {
    if ((schema.features?.[name] ?? inferType(a)) !== 'numeric' || a.numbers.length === 0) continue;
    const own = config.features?.[name];
    const t = resolve(base, own, `features.${name}`);
    if (statisticsFor(t, 'numeric', name, own).includes('wasserstein')) continue;
    out.set(name, a.numbers.sorted());
  }
  return out;
}

/** Compares two windows column by column. */
export function compareWindows(
  reference: Window,
  current: Window,
  schema: DriftSchema = {},
  config: DriftConfig = {},
): DriftReport {
  const refNames = [...reference.columns.keys()];
  const curNames = [...current.columns.keys()];
  checkConfig(config, [...new Set([...refNames, ...curNames])]);
  for (const [name, type] of Object.entries(schema.features ?? {})) {
    if (type !== 'numeric' && type !== 'categorical') {
      throw new DriftConfigError(
        `schema features.${name} (${JSON.stringify(type)}) must be "numeric" or "categorical".`,
      );
    }
  }
  checkWindows(reference, current, config);
  const base = resolve(DEFAULT_THRESHOLDS, config.thresholds, 'thresholds');
  const bins = config.bins ?? 10;
  const minSamples = config.minSamples ?? DEFAULT_MIN_SAMPLES;
  // A verdict is never computed on fewer rows than the minimum.
  const windowsTooSmall = reference.rows < minSamples || current.rows < minSamples;
  const predictions = new Set(schema.predictions ?? []);
  const types: Record<string, FeatureType> = {};
  const inferred: string[] = [];
  const notCompared: string[] = [];
  const results: FeatureResult[] = [];
  const missingShare = (c: ColumnStats | undefined) => (c && c.rows ? c.missing / c.rows : 0);

  for (const name of [...new Set([...refNames, ...curNames])].sort()) {
    const a = reference.columns.get(name);
    const b = current.columns.get(name);
    const role = predictions.has(name) ? 'prediction' : 'feature';
    if (!a || !b) {
      results.push({
        name,
        role,
        type: 'schema',
        verdict: 'drift',
        missingShare: { reference: missingShare(a), current: missingShare(b) },
        statistics: [],
        note: a ? 'column missing in the current window' : 'column new in the current window',
      });
      continue;
    }
    let type = schema.features?.[name];
    if (!type) {
      type = inferType(a);
      if (!type) {
        notCompared.push(name);
        continue;
      }
      inferred.push(name);
    }
    types[name] = type;
    const t = resolve(base, config.features?.[name], `features.${name}`);
    const share = { reference: missingShare(a), current: missingShare(b) };
    const nonFinite =
      a.nonFinite || b.nonFinite ? { nonFinite: { reference: a.nonFinite, current: b.nonFinite } } : {};
    const values = (c: ColumnStats) => (type === 'numeric' ? c.numbers.length : c.rows - c.missing);
    if (windowsTooSmall || values(a) < minSamples || values(b) < minSamples) {
      results.push({
        name,
        role,
        type,
        verdict: 'insufficient_data',
        missingShare: share,
        ...nonFinite,
        statistics: [],
        note: `fewer than ${minSamples} values in a window (reference ${values(a)}, current ${values(b)}; minSamples)`,
      });
      continue;
    }
    if (type === 'numeric') {
      if (a.numbers.length === 0 || b.numbers.length === 0) {
        results.push({
          name,
          role,
          type,
          verdict: b.numbers.length === 0 ? 'drift' : 'ok',
          missingShare: share,
          statistics: [],
          note: 'no numeric values in a window',
        });
        continue;
      }
      const stats = numericStats(a, b, t, bins, statisticsFor(t, type, name, config.features?.[name]));
      results.push({
        name,
        role,
        type,
        verdict: worst(stats.map((s) => s.verdict)),
        missingShare: share,
        ...nonFinite,
        statistics: stats,
      });
    } else {
      const { stats, unseen } = categoricalStats(
        a,
        b,
        t,
        statisticsFor(t, type, name, config.features?.[name]),
      );
      results.push({
        name,
        role,
        type,
        verdict: worst(stats.map((s) => s.verdict)),
        missingShare: share,
        statistics: stats,
        ...(unseen.length ? { unseenCategories: unseen.slice(0, 50) } : {}),
      });
    }
  }
  const features = results.filter((r) => r.role === 'feature');
  const judged = features.filter((f) => f.verdict !== 'insufficient_data');
  const compared = judged.length || 1;
  const driftedShare = judged.filter((f) => f.verdict === 'drift').length / compared;
  const insufficient = windowsTooSmall || (features.length > 0 && judged.length === 0);
  const threshold = config.datasetDriftShare ?? 0.3;
  const window = (w: Window) => ({
    file: w.file,
    rows: w.rows,
    skippedRows: w.skipped,
    ...(w.timeRange ? { timeRange: w.timeRange } : {}),
  });
  const predictionDrift = results.some((r) => r.role === 'prediction' && r.verdict === 'drift');
  return {
    verdict: insufficient
      ? 'insufficient_data'
      : driftedShare >= threshold || predictionDrift
        ? 'drift'
        : 'no_drift',
    minSamples,
    driftedShare,
    datasetDriftShare: threshold,
    generatedAt: new Date().toISOString(),
    windows: { reference: window(reference), current: window(current) },
    schema: {
      types,
      inferred,
      missingInCurrent: refNames.filter((n) => !current.columns.has(n)),
      newInCurrent: curNames.filter((n) => !reference.columns.has(n)),
      notCompared,
    },
    features,
    predictions: results.filter((r) => r.role === 'prediction'),
    errors: [
      ...reference.errors.map((e) => ({ window: 'reference' as const, ...e })),
      ...current.errors.map((e) => ({ window: 'current' as const, ...e })),
    ],
  };
}
