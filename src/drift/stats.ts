/**
 * Drift statistics. Pure functions over sorted samples and counts; the tests check them against hand-computed
 * values and scipy's documented examples.
 */

/** Proportion given to an empty bin so that PSI stays finite (the usual floor, 0.01%). */
export const EMPTY_BIN_FLOOR = 1e-4;

/**
 * Bin edges from the reference's quantiles: `bins` equal-frequency bins, duplicate edges merged (a feature with
 * few distinct values gets fewer bins). Values `<= edges[i]` fall in bin `i`; the last bin is open.
 */
export function quantileEdges(sortedReference: ArrayLike<number>, bins = 10): number[] {
  const n = sortedReference.length;
  if (n === 0) return [];
  const edges: number[] = [];
  for (let i = 1; i < bins; i++) {
    const e =
      sortedReference[
        Math.min(n - 1, Math.floor((i * n) / bins) - 1 < 0 ? 0 : Math.floor((i * n) / bins) - 1)
      ];
    if (edges.length === 0 || e > edges[edges.length - 1]) edges.push(e);
  }
  // The last edge must not be the maximum, or the last bin would be empty by construction.
  while (edges.length && edges[edges.length - 1] >= sortedReference[n - 1]) edges.pop();
  return edges;
}

/** Counts of a sorted sample in the bins defined by `edges` (`edges.length + 1` bins). */
export function binCounts(sorted: ArrayLike<number>, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  let bin = 0;
  for (let i = 0; i < sorted.length; i++) {
    while (bin < edges.length && sorted[i] > edges[bin]) bin++;
    counts[bin]++;
  }
  return counts;
}

/** Proportions of counts, with empty bins floored at {@link EMPTY_BIN_FLOOR}. */
export function proportions(counts: readonly number[]): number[] {
  const total = counts.reduce((a, b) => a + b, 0);
  return counts.map((c) => Math.max(total === 0 ? 0 : c / total, EMPTY_BIN_FLOOR));
}

/** Population Stability Index of two count vectors over the same bins: Σ (c − r) · ln(c / r). */
export function psi(referenceCounts: readonly number[], currentCounts: readonly number[]): number {
  if (referenceCounts.length !== currentCounts.length) throw new Error('psi: count vectors differ in length');
  const r = proportions(referenceCounts);
  const c = proportions(currentCounts);
  let sum = 0;
  for (let i = 0; i < r.length; i++) sum += (c[i] - r[i]) * Math.log(c[i] / r[i]);
  return sum;
}

/** The two-sample Kolmogorov–Smirnov statistic D = sup |F₁(x) − F₂(x)| of two sorted samples. */
export function ksStatistic(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return NaN;
  let i = 0;
  let j = 0;
  let d = 0;
  while (i < n && j < m) {
    const x = Math.min(a[i], b[j]);
    while (i < n && a[i] <= x) i++;
    while (j < m && b[j] <= x) j++;
    d = Math.max(d, Math.abs(i / n - j / m));
  }
  return d;
}

/**
 * A sample summarized at the distinct values of a sorted reference sample: how many of its values lie below the
 * first, equal each, and lie between each and the next (above the last, for the last). KS and PSI against that
 * reference need no more, so a window of any size is read in memory that does not grow with its rows.
 */
export interface CountsAtReference {
  /** The reference's distinct values, ascending. */
  readonly values: ArrayLike<number>;
  readonly below: number;
  readonly equal: ArrayLike<number>;
  readonly between: ArrayLike<number>;
  /** All values counted. */
  readonly total: number;
}

/**
 * {@link ksStatistic} of a sorted reference and a sample counted at its values: the same D, exactly. Between two
 * reference values the reference's CDF is flat and the sample's only rises, so |F₁ − F₂| is largest at a reference
 * value or at the last sample value before the next one — the points evaluated here, with the same arithmetic.
 */
export function ksStatisticAt(sortedReference: ArrayLike<number>, c: CountsAtReference): number {
  const n = sortedReference.length;
  const m = c.total;
  if (n === 0 || m === 0) return NaN;
  let i = 0;
  let cum = c.below;
  let d = Math.abs(0 / n - cum / m);
  for (let k = 0; k < c.values.length; k++) {
    const x = c.values[k];
    while (i < n && sortedReference[i] <= x) i++;
    cum += c.equal[k];
    d = Math.max(d, Math.abs(i / n - cum / m));
    if (c.between[k] > 0) {
      cum += c.between[k];
      d = Math.max(d, Math.abs(i / n - cum / m));
    }
  }
  return d;
}

/**
 * {@link binCounts} of a sample counted at a reference's values, for `edges` that are reference values (as
 * {@link quantileEdges} gives): the same counts.
 */
export function binCountsAt(c: CountsAtReference, edges: readonly number[]): number[] {
  const counts = new Array<number>(edges.length + 1).fill(0);
  counts[0] += c.below;
  let bin = 0;
  for (let k = 0; k < c.values.length; k++) {
    const x = c.values[k];
    while (bin < edges.length && x > edges[bin]) bin++;
    counts[bin] += c.equal[k];
    // Values between x and the next reference value are above every edge that is at most x.
    let next = bin;
    while (next < edges.length && edges[next] <= x) next++;
    counts[next] += c.between[k];
  }
  return counts;
}

/**
 * The Wasserstein-1 (earth mover's) distance between two sorted samples: ∫ |F₁(x) − F₂(x)| dx over the merged
 * values, in the data's units (scipy's `wasserstein_distance`).
 */
export function wasserstein(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  const m = b.length;
  if (n === 0 || m === 0) return NaN;
  let i = 0;
  let j = 0;
  let x = Math.min(a[0], b[0]);
  let sum = 0;
  while (i < n || j < m) {
    const next = j >= m || (i < n && a[i] <= b[j]) ? a[i] : b[j];
    sum += Math.abs(i / n - j / m) * (next - x);
    x = next;
    while (i < n && a[i] <= x) i++;
    while (j < m && b[j] <= x) j++;
  }
  return sum;
}

/** The population standard deviation of a sample. */
export function standardDeviation(a: ArrayLike<number>): number {
  const n = a.length;
  if (n === 0) return NaN;
  let mean = 0;
  for (let i = 0; i < n; i++) mean += a[i];
  mean /= n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += (a[i] - mean) ** 2;
  return Math.sqrt(ss / n);
}

/**
 * Two-sided p-value of the two-sample KS test: exact (counting the lattice paths that stay within D, as
 * scipy's `method='exact'`) when n·m ≤ 10,000 — scipy's `auto` rule — else the asymptotic Kolmogorov
 * distribution with Stephens' small-sample correction.
 */
export function ksPValue(d: number, n: number, m: number): number {
  if (!(d > 0)) return 1;
  if (n * m <= 10_000) return ksExact(d, n, m);
  const en = Math.sqrt((n * m) / (n + m));
  return kolmogorovSurvival((en + 0.12 + 0.11 / en) * d);
}

/** P(D ≥ d) for samples of sizes n and m, by counting paths with |i/n − j/m| < d. */
function ksExact(d: number, n: number, m: number): number {
  // Compare with a tolerance so that paths exactly at D count as reaching it.
  const inside = (i: number, j: number) => Math.abs(i / n - j / m) < d - 1e-12;
  // Path counts as probabilities: each step divides by the binomial growth, so nothing overflows.
  let row = new Float64Array(m + 1);
  row[0] = 1;
  for (let j = 1; j <= m; j++) row[j] = inside(0, j) ? row[j - 1] : 0;
  for (let i = 1; i <= n; i++) {
    const next = new Float64Array(m + 1);
    next[0] = inside(i, 0) ? row[0] : 0;
    for (let j = 1; j <= m; j++) next[j] = inside(i, j) ? next[j - 1] + row[j] : 0;
    row = next;
  }
  const paths = row[m];
  return Math.min(1, Math.max(0, 1 - paths / binomial(n + m, n)));
}

function binomial(n: number, k: number): number {
  let r = 1;
  for (let i = 1; i <= k; i++) r = (r * (n - k + i)) / i;
  return r;
}

/** Q(λ) = 2 Σ (−1)^(k−1) e^(−2k²λ²), the Kolmogorov distribution's survival function. */
export function kolmogorovSurvival(lambda: number): number {
  if (lambda < 0.2) return 1;
  let sum = 0;
  for (let k = 1; k <= 100; k++) {
    const term = Math.exp(-2 * k * k * lambda * lambda);
    sum += (k % 2 === 1 ? 1 : -1) * term;
    if (term < 1e-16) break;
  }
  return Math.min(1, Math.max(0, 2 * sum));
}

/** Chi-square test of homogeneity of two count vectors (a 2×k table): statistic, degrees of freedom, p-value. */
export function chiSquare(
  referenceCounts: readonly number[],
  currentCounts: readonly number[],
): { statistic: number; df: number; pValue: number } {
  const nr = referenceCounts.reduce((a, b) => a + b, 0);
  const nc = currentCounts.reduce((a, b) => a + b, 0);
  const total = nr + nc;
  let statistic = 0;
  let categories = 0;
  for (let i = 0; i < referenceCounts.length; i++) {
    const col = referenceCounts[i] + currentCounts[i];
    if (col === 0) continue;
    categories++;
    const er = (nr * col) / total;
    const ec = (nc * col) / total;
    statistic += (referenceCounts[i] - er) ** 2 / er + (currentCounts[i] - ec) ** 2 / ec;
  }
  const df = Math.max(1, categories - 1);
  return { statistic, df, pValue: categories < 2 ? 1 : chiSquareSurvival(statistic, df) };
}

/** P(X ≥ x) for X ~ χ²(df): the regularized upper incomplete gamma Q(df/2, x/2). */
export function chiSquareSurvival(x: number, df: number): number {
  if (x <= 0) return 1;
  return gammaQ(df / 2, x / 2);
}

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9).
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x): series below a + 1, continued fraction above. */
function gammaQ(a: number, x: number): number {
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 1000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(-x + a * Math.log(x) - logGamma(a)));
  }
  let b = x + 1 - a;
  let c = 1 / 1e-300;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < 1e-300) d = 1e-300;
    c = b + an / c;
    if (Math.abs(c) < 1e-300) c = 1e-300;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(-x + a * Math.log(x) - logGamma(a)) * h);
}

/**
 * Jensen–Shannon distance (the square root of the divergence) of two distributions given as counts or
 * probabilities; with `base` 2 it lies in [0, 1]. Matches scipy.spatial.distance.jensenshannon.
 */
export function jensenShannon(p: readonly number[], q: readonly number[], base = Math.E): number {
  const sp = p.reduce((a, b) => a + b, 0);
  const sq = q.reduce((a, b) => a + b, 0);
  if (sp === 0 || sq === 0) return NaN;
  let js = 0;
  for (let i = 0; i < p.length; i++) {
    const pi = p[i] / sp;
    const qi = q[i] / sq;
    const mi = (pi + qi) / 2;
    if (pi > 0) js += 0.5 * pi * Math.log(pi / mi);
    if (qi > 0) js += 0.5 * qi * Math.log(qi / mi);
  }
  return Math.sqrt(Math.max(0, js) / Math.log(base));
}
