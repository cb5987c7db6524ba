// Parquet windows: the same window as the CSV of the same rows, column projection, 64-bit integers and
// timestamps, several row groups, a corrupt file named in the error, and the real CLI over Parquet files.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DriftInputError, readWindow } from '../src/drift/window';
import { mlstack } from './support/cli';
import { normal, windowSummary as summary } from './support/drift-data';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-parquet-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Rows {
  x: number[];
  n: bigint[];
  c: string[];
  t: Date[];
}

function rows(count: number, seed: number, shift: number): Rows {
  const g = normal(seed);
  const base = Date.parse('2026-11-01T00:00:00Z');
  const out: Rows = { x: [], n: [], c: [], t: [] };
  for (let i = 0; i < count; i++) {
    out.x.push(Math.round((g() + shift) * 1000) / 1000 || 0); // no -0: the CSV would write it as 0
    out.n.push(BigInt(Math.floor(Math.abs(g()) * 40 + (shift ? 20 : 0))));
    out.c.push(['red', 'green', 'blue'][(i * 7 + (shift ? i % 2 : 0)) % 3]);
    out.t.push(new Date(base + i * 60_000));
  }
  return out;
}

async function writeParquet(file: string, r: Rows, codec: 'SNAPPY' | 'UNCOMPRESSED', rowGroupSize: number) {
  const { parquetWriteFile } = await import('hyparquet-writer');
  parquetWriteFile({
    filename: file,
    codec,
    rowGroupSize,
    columnData: [
      { name: 'x', data: r.x, type: 'DOUBLE' },
      { name: 'n', data: r.n, type: 'INT64' },
      { name: 'c', data: r.c, type: 'STRING' },
      { name: 't', data: r.t, type: 'TIMESTAMP' },
    ],
  });
}

function writeCsv(file: string, r: Rows): void {
  const lines = ['x,n,c,t'];
  for (let i = 0; i < r.x.length; i++) lines.push(`${r.x[i]},${r.n[i]},${r.c[i]},${r.t[i].toISOString()}`);
  fs.writeFileSync(file, `${lines.join('\n')}\n`);
}

const reference = rows(3000, 1, 0);
const current = rows(3000, 2, 1);

beforeAll(async () => {
  await writeParquet(path.join(tmp, 'reference.parquet'), reference, 'SNAPPY', 1000);
  await writeParquet(path.join(tmp, 'current.parquet'), current, 'UNCOMPRESSED', 700);
  writeCsv(path.join(tmp, 'reference.csv'), reference);
});

describe('Parquet windows', () => {
  it('read as the CSV of the same rows (Snappy, three row groups, INT64, TIMESTAMP)', async () => {
    const p = await readWindow(path.join(tmp, 'reference.parquet'), { timestampColumn: 't' });
    const c = await readWindow(path.join(tmp, 'reference.csv'), { timestampColumn: 't' });
    expect(p.rows).toBe(3000);
    expect(summary(p)).toEqual(summary(c));
    expect(p.timeRange).toEqual({ from: '2026-11-01T00:00:00.000Z', to: '2026-11-03T01:59:00.000Z' });
  });

  it('reads only the columns asked for, and filters rows by a TIMESTAMP column', async () => {
    const since = new Date('2026-11-02T00:00:00Z');
    const w = await readWindow(path.join(tmp, 'current.parquet'), {
      timestampColumn: 't',
      since,
      columns: ['x'],
    });
    expect([...w.columns.keys()]).toEqual(['x']);
    expect(w.rows).toBe(3000 - 24 * 60);
    expect(w.skipped).toBe(0);
  });

  it('names a corrupt file and says why', async () => {
    const bad = path.join(tmp, 'corrupt.parquet');
    const bytes = fs.readFileSync(path.join(tmp, 'reference.parquet'));
    fs.writeFileSync(bad, bytes.subarray(0, bytes.length - 100));
    const err = await readWindow(bad).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriftInputError);
    expect((err as Error).message).toMatch(/corrupt\.parquet: is not a readable Parquet file \(.+\)/);
  });

  it('mlstack drift compares two Parquet windows', async () => {
    const out = path.join(tmp, 'out');
    const r = await mlstack([
      'drift',
      '--reference',
      path.join(tmp, 'reference.parquet'),
      '--current',
      path.join(tmp, 'current.parquet'),
      '--out',
      out,
    ]);
    expect(r.code, r.stderr).toBe(3);
    const report = JSON.parse(fs.readFileSync(path.join(out, 'report.json'), 'utf8')) as {
      features: { name: string; type: string; verdict: string }[];
    };
    const byName = Object.fromEntries(report.features.map((f) => [f.name, f]));
    expect(byName.x).toMatchObject({ type: 'numeric', verdict: 'drift' });
    expect(byName.n).toMatchObject({ type: 'numeric', verdict: 'drift' });
    expect(byName.c.type).toBe('categorical');
  });
});
