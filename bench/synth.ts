// Cold synth: wall time and peak memory of one process per run, median of several runs.
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { median } from './stats';

const repo = path.resolve(__dirname, '..');
const rssPreload = path.join(__dirname, 'rss.cjs');
const tsxLoader = require.resolve('tsx/cjs');

export interface SynthCase {
  name: string;
  args: string[];
}

export interface SynthResultRow {
  name: string;
  runs: number;
  wallMs: number[];
  rssMiB: number[];
}

/** The measured commands: ours and the bare baselines, each a fresh Node process. */
export function synthCases(out: string): SynthCase[] {
  const mlstack = path.join(repo, 'bin', 'mlstack.js');
  return [
    {
      name: 'mlstack synth, full example (AWS + GCP + Azure)',
      args: [mlstack, 'synth', '--quiet', '--out', out],
    },
    {
      name: 'mlstack synth --check, full example (CloudFormation validator)',
      args: [mlstack, 'synth', '--quiet', '--check', '--out', out],
    },
    {
      name: 'mlstack synth --typecheck, full example (type-checked in a worker)',
      args: [mlstack, 'synth', '--quiet', '--typecheck', '--out', out],
    },
    {
      name: 'mlstack synth, AWS stack alone',
      args: [mlstack, 'synth', '--quiet', '--app', 'examples/aws-app.ts', '--out', out],
    },
    {
      name: 'baseline: bare aws-cdk-lib EKS app',
      args: ['--require', tsxLoader, 'bench/baselines/eks-app.ts'],
    },
    { name: 'baseline: bare cdktf GKE app', args: ['--require', tsxLoader, 'bench/baselines/gke-app.ts'] },
  ];
}

/** Runs each case `runs` times (after one warm-up run that fills tsx's transform cache) and reports them. */
export function benchSynth(runs: number): SynthResultRow[] {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-bench-'));
  const out = path.join(tmp, 'out');
  const rows: SynthResultRow[] = [];
  try {
    for (const c of synthCases(out)) {
      const wallMs: number[] = [];
      const rssMiB: number[] = [];
      for (let i = 0; i <= runs; i++) {
        const rssFile = path.join(tmp, 'rss');
        const t0 = process.hrtime.bigint();
        const r = spawnSync(process.execPath, ['--require', rssPreload, ...c.args], {
          cwd: repo,
          env: {
            ...process.env,
            MLSTACK_BENCH_RSS: rssFile,
            CDK_OUTDIR: path.join(tmp, 'cdk.out'),
            BENCH_OUT: path.join(tmp, 'tf'),
          },
          encoding: 'utf8',
        });
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        if (r.status !== 0) throw new Error(`${c.name} failed (${r.status}): ${r.stderr}`);
        if (i === 0) continue; // warm-up
        wallMs.push(ms);
        rssMiB.push(Number(fs.readFileSync(rssFile, 'utf8')) / 1024);
      }
      rows.push({ name: c.name, runs, wallMs, rssMiB });
      process.stderr.write(
        `${c.name}: median ${median(wallMs).toFixed(0)} ms, ${median(rssMiB).toFixed(0)} MiB\n`,
      );
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return rows;
}
