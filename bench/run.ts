// `npm run bench`: measures and writes docs/benchmarks.md. `npm run bench -- --runs 3` for fewer runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { benchSynth } from './synth';
import { median } from './stats';

function machine(): string {
  const cpus = os.cpus();
  return [
    `- CPU: ${cpus[0]?.model ?? 'unknown'} × ${cpus.length}`,
    `- Memory: ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB`,
    `- OS: ${os.type()} ${os.release()} (${os.arch()})`,
    `- Node: ${process.version}`,
  ].join('\n');
}

function main(): void {
  const runsArg = process.argv.indexOf('--runs');
  const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
  const synth = benchSynth(runs);
  const base = (name: string) => synth.find((r) => r.name.startsWith(name));
  const eks = base('baseline: bare aws-cdk-lib EKS');
  const lines = [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Numbers from one run on one machine;`,
    'compare rows with each other (ours vs. the baseline in the same run), not with another machine.',
    '',
    '## Machine',
    '',
    machine(),
    '',
    '## Cold synth',
    '',
    `Each row is a fresh Node process (one warm-up run first, so tsx's transform cache is filled), ${runs} runs,`,
    "median and range. Peak memory is the process's max RSS.",
    '',
    '| command | runs | wall time, median (min–max) | peak RSS, median | vs. bare EKS app (time) |',
    '|---|---|---|---|---|',
    ...synth.map((r) => {
      const ratio = eks ? `${(median(r.wallMs) / median(eks.wallMs)).toFixed(2)}×` : '';
      return `| ${r.name} | ${r.runs} | ${median(r.wallMs).toFixed(0)} ms (${Math.min(...r.wallMs).toFixed(0)}–${Math.max(...r.wallMs).toFixed(0)}) | ${median(r.rssMiB).toFixed(0)} MiB | ${ratio} |`;
    }),
    '',
    'What the rows contain: the full example is three stacks (EKS + 3 node groups + VPC + KMS; GKE + 3 node pools',
    '+ network, NAT, KMS, node service account; AKS + 2 node pools + VNet, Log Analytics) and their Kubernetes',
    'manifests; the AWS row is the same platform on AWS alone through a plain `aws-cdk-lib` `App`. The baselines',
    'are the least code that makes a cluster with one GPU pool (`bench/baselines/`).',
    '',
  ];
  const file = path.join(__dirname, '..', 'docs', 'benchmarks.md');
  const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
  const marker = '\n## Inference server';
  const rest = existing.includes(marker) ? existing.slice(existing.indexOf(marker)) : '';
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, lines.join('\n') + rest);
  process.stderr.write(`wrote ${file}\n`);
}

main();
