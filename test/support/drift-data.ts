// Deterministic drift windows: numeric features from seeded normals, categorical ones from fixed weights.
import * as fs from 'node:fs';
import type { Window } from '../../src/drift/window';

/** A seeded uniform generator (mulberry32). */
export function uniform(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A seeded standard normal generator (Box–Muller). */
export function normal(seed: number): () => number {
  const u = uniform(seed);
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

export interface WindowShape {
  rows: number;
  seed: number;
  /** Added to the mean of `age`. */
  ageShift?: number;
  /** Share of `country` rows that are 'FR' instead of the reference mix. */
  frenchShare?: number;
  /** Columns to leave out. */
  drop?: string[];
  /** Extra column. */
  extra?: string;
}

/** Writes a CSV window: age (numeric), income (numeric), country (categorical), score (prediction). */
export function writeCsvWindow(file: string, s: WindowShape): void {
  const n = normal(s.seed);
  const u = uniform(s.seed + 1);
  const cols = ['age', 'income', 'country', 'score', ...(s.extra ? [s.extra] : [])].filter(
    (c) => !s.drop?.includes(c),
  );
  const lines = [cols.join(',')];
  const countries = ['DE', 'US', 'JP', 'BR'];
  for (let i = 0; i < s.rows; i++) {
    const row: Record<string, string> = {
      age: (40 + 10 * n() + (s.ageShift ?? 0)).toFixed(2),
      income: (50000 + 15000 * n()).toFixed(0),
      country: u() < (s.frenchShare ?? 0) ? 'FR' : countries[Math.floor(u() * countries.length)],
      score: u().toFixed(4),
      ...(s.extra ? { [s.extra]: String(i % 7) } : {}),
    };
    lines.push(cols.map((c) => row[c]).join(','));
  }
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

/** What a window holds, comparable with toEqual. */
export function windowSummary(w: Window) {
  return {
    rows: w.rows,
    skipped: w.skipped,
    errorLines: w.errors.map((e) => e.line),
    timeRange: w.timeRange,
    columns: [...w.columns.values()].map((c) => ({
      name: c.name,
      rows: c.rows,
      missing: c.missing,
      nonNumeric: c.nonNumeric,
      nonFinite: c.nonFinite,
      fractional: c.fractional,
      numbers: [...c.numbers.sorted()],
      categories: c.categories ? [...c.categories].sort() : undefined,
    })),
  };
}
