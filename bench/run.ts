// `npm run bench`: measures and writes docs/benchmarks.md. `npm run bench -- --runs 3` for fewer runs.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  benchCapture,
  benchServe,
  type BareRow,
  type CaptureRow,
  hasWrk,
  type ProtocolRow,
  type ServeRow,
} from './serve';
import { benchSynth, type SynthResultRow } from './synth';
import { benchDrift, type DriftBenchRow } from './drift';
import { benchInstall, type InstallRow } from './install';
import type { PackReport } from '../test/support/pack';
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

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : undefined;
}

const FILE = path.join(__dirname, '..', 'docs', 'benchmarks.md');

function captureSection(rows: CaptureRow[], seconds: number): string[] {
  const off = rows.find((r) => r.capture === 'off')!;
  return [
    '## Request capture',
    '',
    `\`mlstack serve --capture-dir\` on the MLP (JSON, batching on, concurrency 16, one intra-op thread): three servers,`,
    `their ${off.perSec.length} rounds of ${seconds} s interleaved; median and range.`,
    '',
    '| capture | requests/s, median (min–max) | p50, median | vs. off | rows written |',
    '|---|---|---|---|---:|',
    ...rows.map(
      (r) =>
        `| ${r.capture} | ${median(r.perSec).toFixed(0)} (${Math.min(...r.perSec).toFixed(0)}–${Math.max(...r.perSec).toFixed(0)}) | ${median(r.p50Ms).toFixed(3)} ms | ${(median(r.perSec) / median(off.perSec)).toFixed(2)}× | ${r.capturedRows.toLocaleString('en')} |`,
    ),
    '',
    'A request not sampled costs one random number; a sampled one is turned into rows after its response is sent,',
    'and files are written off the request path, one per interval.',
    '',
  ];
}

function installSection(pack: PackReport, rows: InstallRow[], largest: InstallRow[]): string[] {
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  const added = (what: string) => rows.find((r) => r.what.startsWith(what))!;
  const own = rows[0];
  return [
    '## Consumer install size',
    '',
    `\`npm pack\` of the built package: ${mib(pack.size)} MiB tarball, ${mib(pack.unpackedSize)} MiB unpacked, ${pack.entryCount} files.`,
    'Sizes below are the files on disk of each package (the versions `npm ci` installed here), each package once.',
    '',
    '| what | packages | size |',
    '|---|---:|---:|',
    ...rows.map((r) => `| ${r.what} | ${r.packages} | ${mib(r.bytes)} MiB |`),
    '',
    `So \`npm install mlstack\` adds ${mib(own.bytes + added('… of them not already in an aws-cdk-lib').bytes)} MiB to an aws-cdk-lib app and`,
    `${mib(own.bytes + added('… of them not already in a cdktf Google').bytes)} MiB to a cdktf Google app; onnxruntime-node is installed only by those who run the server, @kubernetes/client-node only by those who run \`mlstack apply\`.`,
    `The largest dependencies, with what they pull in: ${largest.map((r) => `${r.what} ${mib(r.bytes)} MiB`).join(', ')}`,
    '(tsx runs TypeScript apps for `mlstack synth`; aws-cdk-lib bundles its own dependencies, so none are shared).',
    'test/consumer.test.ts installs the same tarball into `cdk init` / `cdktf init` shaped projects and synthesizes them.',
    '',
  ];
}

function driftSection(result: ReturnType<typeof benchDrift>, runs: number): string[] {
  const rows = result.rows;
  const base = rows[rows.length - 1];
  const rate = (r: DriftBenchRow) => r.rows / (median(r.wallMs) / 1000);
  return [
    '## Drift job',
    '',
    `Each row is a fresh Node process (one warm-up run first), ${runs} runs, median and range, on ${os.availableParallelism()} cores; the window`,
    'files are generated once (16 numeric features from seeded normals, two of them shifted, and 4 categorical',
    'ones). Rows per second count both windows, except for the baseline, which only parses the current one.',
    '',
    '| command | rows | wall time, median (min–max) | rows/s | peak RSS, median | time vs. baseline |',
    '|---|---:|---|---:|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.rows.toLocaleString('en')} | ${median(r.wallMs).toFixed(0)} ms (${Math.min(...r.wallMs).toFixed(0)}–${Math.max(...r.wallMs).toFixed(0)}) | ${Math.round(rate(r)).toLocaleString('en')} | ${median(r.rssMiB).toFixed(0)} MiB | ${(median(r.wallMs) / median(base.wallMs)).toFixed(2)}× |`,
    ),
    '',
    ...(result.duckdbSkipped ? [`The DuckDB row is missing: ${result.duckdbSkipped}.`, ''] : []),
    'How the job reads (src/drift/window.ts): CSV files without a `"` are parsed from their bytes (plain decimals',
    "read there by Clinger's fast path, which gives what `Number()` gives; anything else goes through `Number()`),",
    'in byte ranges on one worker thread per core when the file is 32 MiB or more; files with quotes take',
    "csv-parse. The current window is counted at the reference's distinct values instead of kept and sorted: exact",
    'KS and PSI from counts, memory flat in its rows (the RSS above is Node, the threads and the reference). Before',
    'this the job took 7.1 s (values kept and sorted, text split into strings), and 27.8 s before that (csv-parse).',
    'test/unit/drift-csv.test.ts and test/unit/drift-stats.test.ts check that every way gives the same report.',
    '',
    'The decision, DuckDB or our own reader: DuckDB parses CSV natively on every core and is faster at the load',
    'alone, but the statistics must then come back to JavaScript (the sorted columns, as in its row above) or be',
    'written in SQL (a window-function KS over the merged samples ran over 10 minutes here before it was stopped);',
    'it is a 70 MiB native install for this one command and uses about 3× the memory. The byte reader stays.',
    '',
  ];
}

function synthSection(synth: SynthResultRow[], runs: number): string[] {
  const eks = synth.find((r) => r.name.startsWith('baseline: bare aws-cdk-lib EKS'));
  return [
    '## Cold synth',
    '',
    `Each row is a fresh Node process (one warm-up run first, so tsx's transform cache is filled), ${runs} runs,`,
    "median and range. Peak memory is the process's max RSS.",
    '',
    '| command | runs | wall time, median (min–max) | peak RSS, median | time vs. bare EKS app |',
    '|---|---|---|---|---|',
    ...synth.map((r) => {
      const ratio = eks ? `${(median(r.wallMs) / median(eks.wallMs)).toFixed(2)}×` : '';
      return `| ${r.name} | ${r.runs} | ${median(r.wallMs).toFixed(0)} ms (${Math.min(...r.wallMs).toFixed(0)}–${Math.max(...r.wallMs).toFixed(0)}) | ${median(r.rssMiB).toFixed(0)} MiB | ${ratio} |`;
    }),
    '',
    'The full example is three stacks (EKS + 3 node groups + VPC + KMS; GKE + 3 node pools + network, NAT, KMS,',
    'node service account; AKS + 2 node pools + VNet, Log Analytics), on each MlflowTracking, DriftPipeline,',
    'EdgeFleet, DcgmMonitoring and a TritonService with a canary (model signatures read from the ONNX protobuf,',
    'repositories and device packages written), and the Kubernetes manifests; the AWS row is',
    'the same platform on AWS alone through a plain `aws-cdk-lib` `App`. The baselines are the least code that makes',
    "a cluster with one GPU pool (`bench/baselines/`). The bare EKS app runs aws-cdk-lib's CloudFormation",
    'validator (its default); `mlstack synth` runs it with `--check` (CI), and type-checks the app with `--typecheck`.',
    '',
  ];
}

function serveSection(
  bareRows: BareRow[],
  rows: ServeRow[],
  protocolRows: ProtocolRow[],
  seconds: number,
  floorMs: number,
): string[] {
  const find = (model: string, batching: boolean, encoding: string, c: number, computeThreads = true) =>
    rows.find(
      (r) =>
        r.model === model &&
        r.batching === batching &&
        r.encoding === encoding &&
        r.concurrency === c &&
        r.computeThreads === computeThreads,
    );
  const lines = [
    '## Inference server',
    '',
    '`mlstack serve --threads 1` in a child process on 127.0.0.1; load from',
    hasWrk()
      ? '[wrk](https://github.com/wg/wrk) (one thread, keep-alive connections = concurrency; Debian package `wrk`).'
      : 'a Node keep-alive load generator in the benchmark process (wrk is not installed; `apt-get install wrk` for a generator that saturates after the server does).',
    `Each cell runs ${seconds} s after a warm-up, batch 1 per request. Batching on: dynamic batching up to 64 with`,
    'a 500 µs queue delay; off: `--no-batching`. Latency is per request, client side; "avg batch" is',
    "`nv_inference_count / nv_inference_exec_count` over the cell, read from the server's /metrics. The bare rows",
    'run `session.run` in process with one intra-op thread, batch 1. Concurrency-1 cells are the median of three runs.',
    'Compute threads on (the default): the models run on a compute thread and the event loop only reads and writes',
    "requests; off (`--no-compute-threads`): `session.run` runs on the event loop's thread and blocks it.",
    '',
    `HTTP floor: \`GET /v2/health/live\` at concurrency 1 has a p50 of ${floorMs.toFixed(3)} ms on this machine — the round trip`,
    'of the transport and the load generator with no model in it.',
    '',
    '| model | bare `session.run` runs/s (batch 1) | bare p50 (batch 1) | compute per inference at batch 64 |',
    '|---|---|---|---|',
    ...bareRows.map(
      (b) =>
        `| ${b.model} | ${b.runsPerSec.toFixed(0)} | ${b.p50Ms.toFixed(3)} ms | ${b.perItemAt64Ms.toFixed(4)} ms |`,
    ),
    '',
    '"model busy" is the share of the cell\'s wall time the model was computing, from the server\'s',
    '`nv_inference_compute_infer_duration_us` (with compute threads: from handing a batch to its thread to its answer).',
    '',
    '| model | encoding | batching | compute threads | concurrency | inferences/s | avg batch | model busy | p50 | p99 |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map(
      (r) =>
        `| ${r.model} | ${r.encoding} | ${r.batching ? 'on' : 'off'} | ${r.computeThreads ? 'on' : 'off'} | ${r.concurrency} | ${r.inferPerSec.toFixed(0)} | ${r.avgBatch.toFixed(1)} | ${(r.computeBusy * 100).toFixed(0)}% | ${r.p50Ms.toFixed(3)} ms | ${r.p99Ms.toFixed(3)} ms |`,
    ),
    '',
    '### gRPC and HTTP',
    '',
    `KServe v2 over gRPC (\`raw_input_contents\`) and over HTTP with the binary extension, batching and compute threads on,`,
    `${seconds} s a cell, both from a Node client in the benchmark process (one gRPC channel; HTTP keep-alive connections),`,
    'so the two protocols pay the same generator costs; these rows compare with each other, not with the wrk rows.',
    'Both ends of the gRPC rows are grpc-js (pure JavaScript HTTP/2 framing and protobuf), which costs more per call',
    "than Node's HTTP/1.1 parser; a stock C++ or Go client (tritonclient.grpc, ghz) takes the client's share off.",
    '',
    '| model | protocol | concurrency | inferences/s | p50 | p99 |',
    '|---|---|---|---|---|---|',
    ...protocolRows.map(
      (r) =>
        `| ${r.model} | ${r.protocol} | ${r.concurrency} | ${r.inferPerSec.toFixed(0)} | ${r.p50Ms.toFixed(3)} ms | ${r.p99Ms.toFixed(3)} ms |`,
    ),
    '',
    '### Against the targets',
    '',
  ];
  for (const model of ['cnn', 'mlp']) {
    for (const enc of ['binary', 'json']) {
      const on = find(model, true, enc, 64);
      const off = find(model, false, enc, 64);
      if (on && off)
        lines.push(
          `- ${model}, ${enc}, concurrency 64: batching on / off = ${(on.inferPerSec / off.inferPerSec).toFixed(2)}× (target ≥ 3× for the CNN)`,
        );
    }
  }
  for (const b of bareRows.filter((r) => r.model === 'cnn')) {
    const batched = find(b.model, true, 'binary', 64);
    const inline = find(b.model, true, 'binary', 64, false);
    if (batched) {
      const bare64 = 1000 / b.perItemAt64Ms;
      lines.push(
        `- ${b.model}, binary, concurrency 64, batching on: ${batched.inferPerSec.toFixed(0)}/s = ${((batched.inferPerSec / bare64) * 100).toFixed(1)}% of bare \`session.run\` at batch 64 (${bare64.toFixed(0)}/s) (target ≥ 50%)${inline ? `; compute threads on / off = ${(batched.inferPerSec / inline.inferPerSec).toFixed(2)}×` : ''}`,
      );
    }
  }
  for (const b of bareRows) {
    for (const enc of ['binary', 'json']) {
      const c1 = find(b.model, false, enc, 1);
      const c1Inline = find(b.model, false, enc, 1, false);
      if (c1) {
        lines.push(
          `- ${b.model}, ${enc}, concurrency 1: server p50 − bare p50 = ${(c1.p50Ms - b.p50Ms).toFixed(3)} ms (target ≤ 0.5 ms); ${(c1.p50Ms - b.p50Ms - floorMs).toFixed(3)} ms of it above the HTTP floor${c1Inline ? `; without compute threads ${(c1Inline.p50Ms - b.p50Ms).toFixed(3)} ms` : ''}`,
        );
      }
    }
  }
  const cnn = bareRows.find((b) => b.model === 'cnn');
  const off = find('cnn', false, 'binary', 64);
  const on = find('cnn', true, 'binary', 64);
  const inline = find('cnn', true, 'binary', 64, false);
  if (cnn && off && on) {
    const perRequest = 1000 / off.inferPerSec;
    const batchMs = (on.computeBusy * 1000) / (on.inferPerSec / on.avgBatch);
    lines.push(
      '',
      '### Reading the ratios',
      '',
      `The server does form batches (avg batch ${on.avgBatch.toFixed(0)} for the CNN at concurrency 64). On this CPU, though, batching`,
      `makes the CNN's compute per inference only ${(cnn.p50Ms / cnn.perItemAt64Ms).toFixed(1)}× cheaper (${cnn.p50Ms.toFixed(3)} ms alone, ${cnn.perItemAt64Ms.toFixed(4)} ms each in a batch of 64),`,
      `and compute is ${((cnn.p50Ms / perRequest) * 100).toFixed(0)}% of the ${perRequest.toFixed(3)} ms of machine time a request costs without batching at`,
      'concurrency 64; the rest is HTTP parsing, the loopback round trip and the load generator, which batching does',
      'not reduce. The ≥ 3× target needs a model whose compute dominates a request and batches well — a larger model,',
      'or a GPU, where a batch of 64 costs little more than a batch of 1.',
      '',
      `Compute threads on / off: ${inline ? `${(on.inferPerSec / inline.inferPerSec).toFixed(2)}×` : 'not measured'} for the CNN at concurrency 64 in this run. They add no core: with them, the CNN's`,
      `model was busy ${(on.computeBusy * 100).toFixed(0)}% of the time, a batch of ${on.avgBatch.toFixed(0)} taking ${batchMs.toFixed(2)} ms on its thread (hop included) against ${(cnn.perItemAt64Ms * on.avgBatch).toFixed(2)} ms for bare`,
      '`session.run` alone on the machine: the two cores are shared by the load generator, the loopback TCP stack,',
      'the event loop and the compute thread, so compute cannot get a core of its own. What they buy is an event loop that a long',
      'inference does not block (health probes and other models keep being answered), at the price of a thread hop',
      '(the "without compute threads" figures above). The ≥ 50% target needs cores beyond the load generator\'s:',
      'a serving pod with more CPUs than the model instances, or the load generator on another machine.',
      'Run to run, cells on this 2-core machine vary by ±30%.',
    );
  }
  lines.push('');
  return lines;
}

function header(): string[] {
  return [
    '# Benchmarks',
    '',
    `Written by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Numbers from one run on one machine; compare`,
    'rows with each other (ours vs. the baseline in the same run), not with another machine.',
    '',
    '## Machine',
    '',
    machine(),
    '',
  ];
}

async function main(): Promise<void> {
  const only = arg('--only');
  const runs = Number(arg('--runs') ?? 5);
  const seconds = Number(arg('--seconds') ?? 3);
  const existing = fs.existsSync(FILE) ? fs.readFileSync(FILE, 'utf8') : '';
  // The file's sections by heading, kept when this run does not measure them.
  const sections = new Map<string, string>();
  for (const part of existing.split('\n## ').slice(1)) {
    const title = part.slice(0, part.indexOf('\n'));
    if (title !== 'Machine') sections.set(title, `## ${part}`);
  }
  const want = (name: string) => !only || only === name;
  if (want('synth')) sections.set('Cold synth', synthSection(benchSynth(runs), runs).join('\n'));
  if (want('serve')) {
    const r = await benchServe(seconds);
    sections.set(
      'Inference server',
      serveSection(r.bareRows, r.rows, r.protocolRows, seconds, r.floorMs).join('\n'),
    );
  }
  if (want('capture'))
    sections.set('Request capture', captureSection(await benchCapture(seconds), seconds).join('\n'));
  if (want('drift'))
    sections.set('Drift job', driftSection(benchDrift(Math.min(runs, 3)), Math.min(runs, 3)).join('\n'));
  if (want('install')) {
    const r = await benchInstall();
    sections.set('Consumer install size', installSection(r.pack, r.rows, r.largest).join('\n'));
  }
  const order = ['Cold synth', 'Inference server', 'Request capture', 'Drift job', 'Consumer install size'];
  const body = [
    ...order.filter((t) => sections.has(t)),
    ...[...sections.keys()].filter((t) => !order.includes(t)),
  ]
    .map((t) => sections.get(t)!.trimEnd())
    .join('\n\n');
  fs.mkdirSync(path.dirname(FILE), { recursive: true });
  fs.writeFileSync(FILE, [...header(), body, ''].join('\n'));
  process.stderr.write(`wrote ${FILE}\n`);
}

void main();
