// The plain-CSV reader (files without quotes) against csv-parse (files with quotes): the same windows, row for
// row, on generated files with empty lines, CRLF, a BOM, missing values, text, infinities and malformed rows;
// the same read on several threads (byte ranges merged in order) against one; and a current window counted at
// the reference's values against one kept whole (the same drift report).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { compareWindows, countedFeatures } from '../../src/drift/analyze';
import { readWindow } from '../../src/drift/window';
import { windowSummary as summary } from '../support/drift-data';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-csv-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const value = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((x) => String(x)),
  fc.integer({ min: -50, max: 50 }).map(String),
  fc.constantFrom('', 'NA', 'null', 'inf', '-Infinity', 'abc', ' 3.5 ', 'x y'),
  // Number forms the byte reader must read as Number() does, or leave to it.
  fc.constantFrom('-0', '.5', '5.', '+3', '1e5', '-2.5E-3', '0x10', '1_000', '007', '-.25', '.', '-', '+'),
  fc.constantFrom(
    '12345678901234567890',
    '0.1000000000000000055511151231257827',
    '9007199254740993',
    'é',
    '1.2.3',
  ),
);

let n = 0;
describe('plain CSV reader', () => {
  it('reads exactly what csv-parse reads', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 4 }),
        fc.array(fc.tuple(fc.array(value, { minLength: 1, maxLength: 5 }), fc.boolean(), fc.boolean()), {
          maxLength: 40,
        }),
        fc.boolean(),
        fc.boolean(),
        async (cols, rows, crlf, bom) => {
          const header = Array.from({ length: cols }, (_, i) => `c${i}`);
          const eol = crlf ? '\r\n' : '\n';
          const body = rows
            .map(([vals, empty]) =>
              empty ? '' : vals.slice(0, Math.random() < 0.9 ? cols : vals.length).join(','),
            )
            .join(eol);
          const plain = path.join(tmp, `p${++n}.csv`);
          const quoted = path.join(tmp, `q${n}.csv`);
          fs.writeFileSync(plain, `${bom ? '\ufeff' : ''}${header.join(',')}${eol}${body}${eol}`);
          // The same file with the first name quoted: the quote sends it through csv-parse.
          fs.writeFileSync(
            quoted,
            `${bom ? '\ufeff' : ''}"${header[0]}"${header.length > 1 ? ',' : ''}${header.slice(1).join(',')}${eol}${body}${eol}`,
          );
          const a = await readWindow(plain, { timestampColumn: 'c3' });
          const b = await readWindow(quoted, { timestampColumn: 'c3' });
          expect(summary(a)).toEqual(summary(b));
          // Every 10th file also on three threads (a worker thread each): the same window.
          if (n % 10 === 0) {
            const c = await readWindow(plain, { timestampColumn: 'c3', threads: 3, parallelMinBytes: 0 });
            expect(summary(c)).toEqual(summary(a));
          }
        },
      ),
      { numRuns: 150, seed: 42 },
    );
  });

  it('filters by timestamp like the csv-parse path', async () => {
    const now = Date.now();
    const text = `t,v\n${new Date(now - 7200_000).toISOString()},1\n${new Date(now).toISOString()},2\nbad,3\n`;
    fs.writeFileSync(path.join(tmp, 'since.csv'), text);
    fs.writeFileSync(path.join(tmp, 'since-q.csv'), text.replace('t,v', '"t",v'));
    const since = new Date(now - 3600_000);
    const a = await readWindow(path.join(tmp, 'since.csv'), { timestampColumn: 't', since });
    const b = await readWindow(path.join(tmp, 'since-q.csv'), { timestampColumn: 't', since });
    expect(a.rows).toBe(1);
    expect(summary(a)).toEqual(summary(b));
    expect(a.errors).toEqual(b.errors);
  });
});

describe('large windows', () => {
  /** A window of `rows` rows: two numeric features (one with few distinct values), a category, some bad rows. */
  function write(file: string, rows: number, seed: number, shift: number): void {
    let x = seed;
    const rnd = () => (x = (x * 1103515245 + 12345) % 2147483648) / 2147483648;
    const lines = ['a,b,c'];
    for (let i = 0; i < rows; i++) {
      if (i % 997 === 5) lines.push('1,2');
      else if (i % 1009 === 7) lines.push('NA,,x');
      else lines.push(`${(rnd() * 10 + shift).toFixed(3)},${Math.floor(rnd() * 30)},${'pqr'[i % 3]}`);
    }
    fs.writeFileSync(file, `${lines.join('\n')}\n`);
  }

  it('counted at the reference, on three threads, gives the report of every value kept on one', async () => {
    const ref = path.join(tmp, 'big-ref.csv');
    const cur = path.join(tmp, 'big-cur.csv');
    write(ref, 5000, 1, 0);
    write(cur, 40_000, 2, 2);
    const reference = await readWindow(ref);
    const kept = await readWindow(cur, { threads: 1 });
    const counted = await readWindow(cur, {
      threads: 3,
      parallelMinBytes: 0,
      countAt: countedFeatures(reference),
    });
    expect([...countedFeatures(reference).keys()]).toEqual(['a', 'b']);
    expect(counted.columns.get('a')!.numbers.counts).toBeDefined();
    expect(kept.columns.get('a')!.numbers.counts).toBeUndefined();
    const strip = (r: ReturnType<typeof compareWindows>) => ({ ...r, generatedAt: '' });
    const a = strip(compareWindows(reference, kept));
    const b = strip(compareWindows(reference, counted));
    expect(b).toEqual(a);
    expect(a.features.find((f) => f.name === 'a')!.verdict).toBe('drift');
    expect(counted.skipped).toBe(kept.skipped);
    expect(counted.errors).toEqual(kept.errors);
    expect(kept.skipped).toBeGreaterThan(30);
  });

  it('keeps the values of features judged by Wasserstein (which needs them)', async () => {
    const ref = path.join(tmp, 'big-ref.csv');
    const reference = await readWindow(ref);
    const counted = countedFeatures(reference, {}, { features: { a: { statistics: ['wasserstein'] } } });
    expect([...counted.keys()]).toEqual(['b']);
  });
});
