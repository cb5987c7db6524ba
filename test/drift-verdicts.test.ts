// Bad data gets a failure or "insufficient data", never a false drift verdict: windows with no rows, binary files,
// an infinite value in a numeric column, tiny windows and windows full of malformed rows.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../src/drift/analyze';
import { DRIFT_EXIT, runDrift } from '../src/drift/run';
import { mlstack } from './support/cli';
import { normal, writeCsvWindow } from './support/drift-data';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-verdicts-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (n: string) => path.join(tmp, n);

writeCsvWindow(file('reference.csv'), { rows: 2000, seed: 1 });
writeCsvWindow(file('current.csv'), { rows: 1500, seed: 2 });
const header = fs.readFileSync(file('reference.csv'), 'utf8').split('\n')[0];

async function run(reference: string, current: string, extra: Partial<Parameters<typeof runDrift>[0]> = {}) {
  const lines: string[] = [];
  const out = fs.mkdtempSync(path.join(tmp, 'out-'));
  const code = await runDrift({ reference, current, out, log: (l) => lines.push(l), ...extra });
  const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as DriftReport;
  return { code, lines, report };
}

describe('windows that cannot be compared fail the run, naming the file and the reason', () => {
  it.each([
    [
      'an empty reference',
      'empty.csv',
      '',
      /empty\.csv: the reference window has no rows to compare: the file is empty\./,
    ],
    [
      'a header-only reference',
      'header.csv',
      `${header}\n`,
      /header\.csv: the reference window has no rows to compare: it has no data rows/,
    ],
    [
      'a reference whose every row is malformed',
      'all-bad.csv',
      `${header}\n1,2\n"unterminated,3,4,5\n`,
      /all-bad\.csv: the reference window has no rows to compare: all \d+ of its rows are malformed \(first: line \d+: /,
    ],
    [
      'a binary reference',
      'garbage.csv',
      Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x00, 0x00, 0xff, 0xfe, 0x00, 0x10]),
      /garbage\.csv: is not a text file \(CSV or JSON Lines\): it has NUL bytes/,
    ],
  ])('%s', async (_what, name, content, message) => {
    fs.writeFileSync(file(name), content);
    await expect(run(file(name), file('current.csv'))).rejects.toThrow(message);
  });

  it('a single 10 MB line (a header and nothing else) is no rows, not 100% drift', async () => {
    fs.writeFileSync(file('one-line.csv'), `${'x'.repeat(10 * 1024 * 1024)}\n`);
    await expect(run(file('one-line.csv'), file('current.csv'))).rejects.toThrow(/has no rows to compare/);
  });

  it('both windows header-only: failure, not "no drift" on 0 rows', async () => {
    fs.writeFileSync(file('h1.csv'), `${header}\n`);
    fs.writeFileSync(file('h2.csv'), `${header}\n`);
    await expect(run(file('h1.csv'), file('h2.csv'))).rejects.toThrow(
      /h1\.csv: the reference window has no rows/,
    );
  });

  it('as the CLI: exit 1 and one line', async () => {
    const r = await mlstack(['drift', '--reference', file('empty.csv'), '--current', file('current.csv')]);
    expect(r.code).toBe(DRIFT_EXIT.failed);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/the reference window has no rows to compare: the file is empty/);
  });
});

describe('infinite values', () => {
  it('one inf in a 500-row numeric reference keeps the column numeric; the same distribution does not drift', async () => {
    const rnd = normal(7);
    const rows = (n: number, inf: boolean) =>
      [
        'x',
        ...Array.from({ length: n }, (_, i) => (inf && i === 250 ? 'inf' : (rnd() * 10 + 50).toFixed(3))),
      ].join('\n');
    fs.writeFileSync(file('inf-ref.csv'), `${rows(500, true)}\n`);
    fs.writeFileSync(file('inf-cur.csv'), `${rows(500, false)}\n`);
    const { code, report } = await run(file('inf-ref.csv'), file('inf-cur.csv'));
    expect(report.schema.types).toEqual({ x: 'numeric' });
    const x = report.features[0];
    expect(x.nonFinite).toEqual({ reference: 1, current: 0 });
    expect(x.verdict).toBe('ok');
    expect(code).toBe(DRIFT_EXIT.noDrift);
  });
});

describe('too little data is insufficient_data, never a verdict', () => {
  it('a 3-line current window with a malformed and a not-a-number line fails the 5% malformed-row budget', async () => {
    fs.writeFileSync(file('tiny.csv'), `${header}\n41,52000,DE,0.4\n1,2\nnot-a-number,1,FR,0.1\n`);
    await expect(run(file('reference.csv'), file('tiny.csv'))).rejects.toThrow(
      /tiny\.csv: 1 of the 3 rows of the current window are malformed, over the budget of 5% \(--max-bad-rows\)/,
    );
  });

  it('with a looser budget, the same window is insufficient_data (exit 4) with no feature judged', async () => {
    const { code, report, lines } = await run(file('reference.csv'), file('tiny.csv'), { maxBadRows: '50%' });
    expect(code).toBe(DRIFT_EXIT.insufficientData);
    expect(report.verdict).toBe('insufficient_data');
    expect(report.features.every((f) => f.verdict === 'insufficient_data' && f.statistics.length === 0)).toBe(
      true,
    );
    expect(report.driftedShare).toBe(0);
    expect(lines[0]).toMatch(
      /^INSUFFICIENT DATA: 2000 reference and 2 current rows; .* 200 values \(minSamples\)/,
    );
  });

  it('minSamples is configurable; a feature below it is left out of the drifted share', async () => {
    // 300 rows, the score column mostly missing: 30 values.
    const lines = fs.readFileSync(file('current.csv'), 'utf8').trimEnd().split('\n');
    const sparse = [
      lines[0],
      ...lines.slice(1, 301).map((l, i) => (i < 270 ? l.replace(/,[^,]*$/, ',') : l)),
    ];
    fs.writeFileSync(file('sparse.csv'), `${sparse.join('\n')}\n`);
    const { code, report } = await run(file('reference.csv'), file('sparse.csv'), { minSamples: 100 });
    expect(report.minSamples).toBe(100);
    const score = report.features.find((f) => f.name === 'score')!;
    expect(score.verdict).toBe('insufficient_data');
    expect(score.note).toMatch(/fewer than 100 values in a window \(reference 2000, current 30/);
    expect(report.features.filter((f) => f.verdict !== 'insufficient_data')).toHaveLength(3);
    expect(code).toBe(DRIFT_EXIT.noDrift);
  });
});

describe('statistics chosen per feature', () => {
  it('judges numeric features by the normalized Wasserstein distance when the config says so, and only by it', async () => {
    writeCsvWindow(file('shifted.csv'), { rows: 1500, seed: 5, ageShift: 3 });
    const config = file('wasserstein.json');
    fs.writeFileSync(
      config,
      JSON.stringify({
        thresholds: { statistics: ['wasserstein', 'jensen_shannon'], wasserstein: { drift: 0.2 } },
        features: { income: { statistics: ['psi', 'ks', 'wasserstein'] } },
        datasetDriftShare: 0.5,
      }),
    );
    const r = await run(file('reference.csv'), file('shifted.csv'), { config });
    const age = r.report.features.find((f) => f.name === 'age')!;
    expect(age.statistics.map((x) => x.name)).toEqual(['wasserstein_normed']);
    // A shift of 3 on a standard deviation of about 10: about 0.3 normalized (plus sampling noise), over 0.2.
    expect(age.statistics[0].value).toBeGreaterThan(0.25);
    expect(age.statistics[0].value).toBeLessThan(0.4);
    expect(age.verdict).toBe('drift');
    const income = r.report.features.find((f) => f.name === 'income')!;
    expect(income.statistics.map((x) => x.name)).toEqual([
      'psi',
      'ks_statistic',
      'ks_pvalue',
      'wasserstein_normed',
    ]);
    expect(income.verdict).toBe('ok');
    const country = r.report.features.find((f) => f.name === 'country')!;
    expect(country.statistics.map((x) => x.name)).toEqual(['jensen_shannon']);
  });

  it('refuses a statistic of the other type in a feature override, and unknown ones', async () => {
    const bad = file('bad-stat.json');
    fs.writeFileSync(bad, JSON.stringify({ features: { age: { statistics: ['chi_square'] } } }));
    await expect(run(file('reference.csv'), file('current.csv'), { config: bad })).rejects.toThrow(
      /features\.age\.statistics: age is numeric; its statistics are psi, ks, wasserstein \(got chi_square\)/,
    );
    fs.writeFileSync(bad, JSON.stringify({ thresholds: { statistics: ['emd'] } }));
    await expect(run(file('reference.csv'), file('current.csv'), { config: bad })).rejects.toThrow(
      /thresholds\.statistics: "emd" is not a statistic; use psi, ks, wasserstein, chi_square, jensen_shannon/,
    );
  });
});
