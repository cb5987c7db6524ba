// The plain-CSV reader (files without quotes) against csv-parse (files with quotes): the same windows, row for
// row, on generated files with empty lines, CRLF, a BOM, missing values, text, infinities and malformed rows.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { readWindow, type Window } from '../../src/drift/window';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-csv-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** What a window holds, comparable with toEqual. */
function summary(w: Window) {
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

const value = fc.oneof(
  fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 }).map((x) => String(x)),
  fc.integer({ min: -50, max: 50 }).map(String),
  fc.constantFrom('', 'NA', 'null', 'inf', '-Infinity', 'abc', ' 3.5 ', 'x y'),
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
