import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  binCounts,
  binCountsAt,
  chiSquare,
  chiSquareSurvival,
  jensenShannon,
  kolmogorovSurvival,
  ksPValue,
  ksStatistic,
  ksStatisticAt,
  psi,
  quantileEdges,
  standardDeviation,
  wasserstein,
} from '../../src/drift/stats';
import { ReferenceCounts } from '../../src/drift/window';
import { normal } from '../support/drift-data';

const sorted = (xs: number[]) => Float64Array.from(xs).sort();

describe('Kolmogorov–Smirnov', () => {
  it('matches hand-computed and scipy values', () => {
    // Disjoint samples: D = 1; exact two-sided p = 2 / C(10, 5) = 2/252 (scipy.stats.ks_2samp, method='exact').
    const d = ksStatistic(sorted([1, 2, 3, 4, 5]), sorted([6, 7, 8, 9, 10]));
    expect(d).toBe(1);
    expect(ksPValue(d, 5, 5)).toBeCloseTo(2 / 252, 12);
    // One extra value: D = 1/4, p = 1 (scipy gives statistic 0.25, pvalue 1.0).
    const d2 = ksStatistic(sorted([1, 2, 3]), sorted([1, 2, 3, 4]));
    expect(d2).toBe(0.25);
    expect(ksPValue(d2, 3, 4)).toBe(1);
    // Interleaved by hand: F1 − F2 peaks at 1/2 after x = 2.
    expect(ksStatistic(sorted([1, 2, 5, 6]), sorted([3, 4, 7, 8]))).toBe(0.5);
  });

  it('has the Kolmogorov distribution tail: Q(1.36) ≈ 0.049, Q(1.63) ≈ 0.0098', () => {
    expect(kolmogorovSurvival(1.36)).toBeCloseTo(0.0494, 3);
    expect(kolmogorovSurvival(1.628)).toBeCloseTo(0.01, 3);
    expect(kolmogorovSurvival(0.1)).toBe(1);
  });

  it('flags a shifted normal and not a fresh sample of the same one (large samples, asymptotic p)', () => {
    const a = normal(1);
    const b = normal(2);
    const ref = sorted(Array.from({ length: 5000 }, () => a()));
    const same = sorted(Array.from({ length: 5000 }, () => b()));
    const shifted = sorted(Array.from({ length: 5000 }, () => b() + 0.5));
    expect(ksPValue(ksStatistic(ref, same), 5000, 5000)).toBeGreaterThan(0.01);
    const d = ksStatistic(ref, shifted);
    expect(d).toBeGreaterThan(0.15);
    expect(ksPValue(d, 5000, 5000)).toBeLessThan(1e-10);
  });
});

describe('Wasserstein', () => {
  it('matches scipy.stats.wasserstein_distance examples and a shift by c', () => {
    // scipy docs: wasserstein_distance([0, 1, 3], [5, 6, 8]) == 5.0.
    expect(wasserstein(sorted([0, 1, 3]), sorted([5, 6, 8]))).toBeCloseTo(5, 12);
    // By hand: F₁ − F₂ is 1/2 − 1/3 on [0, 1) and 1 − 2/3 on [1, 2): 1/6 + 1/3.
    expect(wasserstein(sorted([0, 1]), sorted([0, 1, 2]))).toBeCloseTo(0.5, 12);
    // A sample shifted by c is c away; a sample from itself, 0.
    const n = normal(4);
    const a = Float64Array.from({ length: 1000 }, () => n()).sort();
    expect(
      wasserstein(
        a,
        a.map((x) => x + 0.7),
      ),
    ).toBeCloseTo(0.7, 10);
    expect(wasserstein(a, a)).toBe(0);
    expect(standardDeviation([2, 4, 4, 4, 5, 5, 7, 9])).toBe(2);
  });
});

describe('PSI', () => {
  it('matches a hand-computed value', () => {
    // Two bins, 50/50 → 40/60: (0.4−0.5)·ln(0.4/0.5) + (0.6−0.5)·ln(0.6/0.5).
    const want = -0.1 * Math.log(0.8) + 0.1 * Math.log(1.2);
    expect(psi([50, 50], [40, 60])).toBeCloseTo(want, 12);
    expect(psi([50, 50], [40, 60])).toBeCloseTo(0.0405465, 7);
  });

  it('floors empty bins instead of dividing by zero, and bins by reference quantiles', () => {
    expect(Number.isFinite(psi([100, 0], [50, 50]))).toBe(true);
    const ref = sorted(Array.from({ length: 1000 }, (_, i) => i));
    const edges = quantileEdges(ref, 10);
    expect(edges).toHaveLength(9);
    expect(binCounts(ref, edges)).toEqual(Array(10).fill(100));
    // Few distinct values give fewer bins, never an empty one by construction.
    expect(quantileEdges(sorted([1, 1, 1, 1, 2, 2, 2, 3, 3, 3]), 10)).toEqual([1, 2]);
  });

  it('flags a shifted normal above 0.25 and not a fresh sample', () => {
    const a = normal(3);
    const b = normal(4);
    const ref = sorted(Array.from({ length: 20000 }, () => a()));
    const edges = quantileEdges(ref, 10);
    const same = sorted(Array.from({ length: 20000 }, () => b()));
    const shifted = sorted(Array.from({ length: 20000 }, () => b() + 1));
    expect(psi(binCounts(ref, edges), binCounts(same, edges))).toBeLessThan(0.01);
    expect(psi(binCounts(ref, edges), binCounts(shifted, edges))).toBeGreaterThan(0.25);
  });
});

describe('chi-square and Jensen–Shannon', () => {
  it('matches the chi-square distribution at its 5% critical values', () => {
    expect(chiSquareSurvival(3.841458820694124, 1)).toBeCloseTo(0.05, 10);
    expect(chiSquareSurvival(5.991464547107979, 2)).toBeCloseTo(0.05, 10);
    expect(chiSquareSurvival(18.307038053275146, 10)).toBeCloseTo(0.05, 10);
    expect(chiSquareSurvival(0, 3)).toBe(1);
  });

  it('computes the homogeneity statistic by hand', () => {
    // [10, 20] vs [20, 10]: expected 15 in every cell, χ² = 4 · 25/15.
    const r = chiSquare([10, 20], [20, 10]);
    expect(r.statistic).toBeCloseTo(100 / 15, 12);
    expect(r.df).toBe(1);
    expect(r.pValue).toBeCloseTo(chiSquareSurvival(100 / 15, 1), 12);
  });

  it('matches scipy.spatial.distance.jensenshannon examples', () => {
    expect(jensenShannon([1, 0, 0], [0, 1, 0], 2)).toBeCloseTo(1, 12);
    expect(jensenShannon([1, 0], [0.5, 0.5])).toBeCloseTo(0.46450140402245893, 12);
    expect(jensenShannon([1, 0, 0], [1, 0, 0])).toBe(0);
  });
});

describe('properties (fast-check)', () => {
  const sample = fc.array(fc.double({ min: -1e6, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 200 });
  const counts = fc
    .array(fc.nat({ max: 1000 }), { minLength: 2, maxLength: 20 })
    .filter((c) => c.some((x) => x > 0));

  it('finds no drift between a window and itself', () => {
    fc.assert(
      fc.property(sample, (xs) => {
        const s = sorted(xs);
        const edges = quantileEdges(s, 10);
        expect(ksStatistic(s, s)).toBe(0);
        expect(ksPValue(0, s.length, s.length)).toBe(1);
        expect(psi(binCounts(s, edges), binCounts(s, edges))).toBeCloseTo(0, 12);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(counts, (c) => {
        expect(jensenShannon(c, c, 2)).toBeCloseTo(0, 6);
        expect(chiSquare(c, c).statistic).toBeCloseTo(0, 9);
      }),
      { numRuns: 200 },
    );
  });

  it('is symmetric where the statistic is (KS, Jensen–Shannon, chi-square), bounded where it should be', () => {
    fc.assert(
      fc.property(sample, sample, (xs, ys) => {
        const a = sorted(xs);
        const b = sorted(ys);
        const d = ksStatistic(a, b);
        expect(ksStatistic(b, a)).toBeCloseTo(d, 12);
        expect(d).toBeGreaterThanOrEqual(0);
        expect(d).toBeLessThanOrEqual(1);
        const p = ksPValue(d, a.length, b.length);
        expect(p).toBeGreaterThanOrEqual(0);
        expect(p).toBeLessThanOrEqual(1);
      }),
      { numRuns: 200 },
    );
    fc.assert(
      fc.property(counts, counts, (p, q) => {
        const n = Math.min(p.length, q.length);
        const [a, b] = [p.slice(0, n), q.slice(0, n)];
        if (!a.some((x) => x > 0) || !b.some((x) => x > 0)) return;
        const js = jensenShannon(a, b, 2);
        expect(jensenShannon(b, a, 2)).toBeCloseTo(js, 12);
        expect(js).toBeLessThanOrEqual(1 + 1e-12);
        expect(chiSquare(b, a).statistic).toBeCloseTo(chiSquare(a, b).statistic, 6);
        expect(psi(a, b)).toBeGreaterThanOrEqual(-1e-12);
      }),
      { numRuns: 200 },
    );
  });
});

describe('statistics of a sample counted at the reference values', () => {
  it('KS and PSI bins equal those over the sorted sample (ties, values outside the reference)', () => {
    const sample = fc.array(
      fc.integer({ min: -40, max: 40 }).map((v) => v / 4),
      { minLength: 1, maxLength: 300 },
    );
    fc.assert(
      fc.property(sample, sample, fc.integer({ min: 2, max: 12 }), (r, c, bins) => {
        const ref = Float64Array.from(r).sort();
        const cur = Float64Array.from(c).sort();
        const counts = new ReferenceCounts(ref);
        for (const v of c) counts.add(v);
        expect(counts.total).toBe(c.length);
        expect(ksStatisticAt(ref, counts)).toBe(ksStatistic(ref, cur));
        const edges = quantileEdges(ref, bins);
        expect(binCountsAt(counts, edges)).toEqual(binCounts(cur, edges));
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
