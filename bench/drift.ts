// The drift job on a 1,000,000-row, 20-feature window: rows per second and peak memory of `mlstack drift` as a
// fresh process, against a baseline that only parses the same CSV.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { normal, uniform } from '../test/support/drift-data';
import { median } from './stats';

const repo = path.resolve(__dirname, '..');
const rssPreload = path.join(__dirname, 'rss.cjs');

export interface DriftBenchRow {
  name: string;
  rows: number;
  wallMs: number[];
  rssMiB: number[];
}

/** 16 numeric and 4 categorical features; `shift` moves the first two numeric ones. */
function writeWindow(file: string, rows: number, seed: number, shift: number): void {
  const n = normal(seed);
  const u = uniform(seed + 7);
  const header = [...Array.from({ length: 16 }, (_, i) => `x${i}`), 'c0', 'c1', 'c2', 'c3'];
  const fd = fs.openSync(file, 'w');
  const cats = ['a', 'b', 'c', 'd', 'e', 'f'];
  let buf = `${header.join(',')}\n`;
  for (let r = 0; r < rows; r++) {
    const vals: string[] = [];
    for (let i = 0; i < 16; i++) vals.push((n() + (i < 2 ? shift : 0)).toFixed(4));
    for (let i = 0; i < 4; i++) vals.push(cats[Math.floor(u() * cats.length)]);
    buf += `${vals.join(',')}\n`;
    if (buf.length > 1 << 20) {
      fs.writeSync(fd, buf);
      buf = '';
    }
  }
  fs.writeSync(fd, buf);
  fs.closeSync(fd);
}

/** Compiles the package into a cache folder (what `npm install mlstack` runs: JavaScript, no tsx). */
function buildCli(): string {
  const root = path.join(repo, 'node_modules', '.cache', 'mlstack-bench', 'build');
  fs.rmSync(root, { recursive: true, force: true });
  process.stderr.write('building the CLI (tsc) …\n');
  const r = spawnSync(
    process.execPath,
    [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', path.join(root, 'dist')],
    { cwd: repo, encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`tsc failed: ${r.stdout}${r.stderr}`);
  fs.mkdirSync(path.join(root, 'bin'), { recursive: true });
  fs.copyFileSync(path.join(repo, 'bin', 'mlstack.js'), path.join(root, 'bin', 'mlstack.js'));
  return path.join(root, 'bin', 'mlstack.js');
}

/** An @duckdb/node-api install for the columnar-engine row (not a dependency of mlstack), or why there is none. */
function duckdb(): { dir: string } | { skipped: string } {
  const dir = path.join(repo, 'node_modules', '.cache', 'mlstack-bench', 'duckdb');
  if (!fs.existsSync(path.join(dir, 'node_modules', '@duckdb', 'node-api'))) {
    process.stderr.write('installing @duckdb/node-api for the comparison …\n');
    fs.mkdirSync(dir, { recursive: true });
    const r = spawnSync('npm', ['install', '--no-save', '--no-audit', '--no-fund', '--prefix', dir, DUCKDB], {
      encoding: 'utf8',
    });
    if (r.status !== 0) return { skipped: `npm install ${DUCKDB} failed: ${r.stderr.split('\n')[0]}` };
  }
  return { dir };
}

/** The DuckDB release measured (Node API over DuckDB 1.5). */
export const DUCKDB = '@duckdb/node-api@1.5.6-r.1';

export function benchDrift(
  runs: number,
  rows = 1_000_000,
): { rows: DriftBenchRow[]; duckdbSkipped?: string } {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-drift-'));
  try {
    const reference = path.join(tmp, 'reference.csv');
    const current = path.join(tmp, 'current.csv');
    process.stderr.write(`writing a ${rows}-row current window and a 100,000-row reference …\n`);
    writeWindow(reference, 100_000, 1, 0);
    writeWindow(current, rows, 2, 0.3);
    const built = buildCli();
    const duck = duckdb();
    const driftArgs = (bin: string) => [
      bin,
      'drift',
      '--reference',
      reference,
      '--current',
      current,
      '--out',
      path.join(tmp, 'out'),
    ];
    const both = rows + 100_000;
    const cases = [
      {
        name: `mlstack drift as installed (compiled), ${rows.toLocaleString('en')}-row current + 100,000-row reference, 20 features`,
        args: driftArgs(built),
        rows: both,
      },
      {
        name: 'the same from a checkout (TypeScript through tsx)',
        args: driftArgs(path.join(repo, 'bin', 'mlstack.js')),
        rows: both,
      },
      ...('dir' in duck
        ? [
            {
              name: `columnar engine: DuckDB loads both windows, returns the 16 numeric columns sorted (${DUCKDB})`,
              args: [
                path.join(__dirname, 'baselines', 'duckdb-columns.mjs'),
                duck.dir,
                reference,
                current,
                '16',
              ],
              rows: both,
            },
          ]
        : []),
      {
        name: `baseline: csv-parse alone over the ${rows.toLocaleString('en')}-row window`,
        args: [path.join(__dirname, 'baselines', 'csv-count.cjs'), current],
        rows,
      },
    ];
    const out: DriftBenchRow[] = [];
    for (const c of cases) {
      const wallMs: number[] = [];
      const rssMiB: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const rssFile = path.join(tmp, 'rss');
        const t0 = process.hrtime.bigint();
        const r = spawnSync(process.execPath, ['--require', rssPreload, ...c.args], {
          cwd: repo,
          env: { ...process.env, MLSTACK_BENCH_RSS: rssFile },
          encoding: 'utf8',
        });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.status !== 0 && r.status !== 3) throw new Error(`${c.name} failed (${r.status}): ${r.stderr}`);
        if (i === 0) continue; // warm-up (tsx cache, page cache)
        wallMs.push(ms);
        rssMiB.push(Number(fs.readFileSync(rssFile, 'utf8')) / 1024);
      }
      out.push({ name: c.name, rows: c.rows, wallMs, rssMiB });
      process.stderr.write(
        `${c.name}: median ${median(wallMs).toFixed(0)} ms, ${median(rssMiB).toFixed(0)} MiB\n`,
      );
    }
    return { rows: out, ...('skipped' in duck ? { duckdbSkipped: duck.skipped } : {}) };
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}
