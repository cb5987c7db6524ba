import {
  costDelta,
  estimateCost,
  exceedsCostThreshold,
  formatUsd,
  loadPriceCatalog,
  parseCostThreshold,
  renderCostDeltaMarkdown,
  renderCostJson,
  renderCostMarkdown,
  renderCostTable,
} from '../cost';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Command, CommanderError } from 'commander';
import { crosses, diffSynthOutputs, type FailOn } from '../diff';
import { renderMarkdown } from '../diff/render';
import { DriftConfigError } from '../drift/analyze';
import { runDrift } from '../drift/run';
import { CliError, errorLines } from './errors';
import { inspectCommand, serveCommand } from './inference';
import { resolveCommand } from './resolve';
import { applyCommand } from './apply';
import { synthCommand } from './synth';
import { packageVersion } from '../synth/package-info';
import { ACKNOWLEDGEMENTS_FILE } from '../policy/check';
import { PolicyPack } from '../policy/registry';
import { runPolicy } from '../policy/run';

export { packageVersion };

export { CliError, errorLines };

/** Builds the `mlstack` command. */
export function buildProgram(): Command {
  const program = new Command('mlstack')
    .description('Typed constructs for production ML infrastructure on AWS, Google Cloud and Azure')
    .version(packageVersion())
    .option('--verbose', 'print stack traces on errors', false)
    .showHelpAfterError()
    .exitOverride();

  program
    .command('synth')
    .description('synthesize every stack of an app: CloudFormation, Terraform JSON and Kubernetes manifests')
    .option('--app <file>', 'the app program (TypeScript or JavaScript)', 'examples/app.ts')
    .option('--out <dir>', 'output folder', 'mlstack.out')
    .option('--quiet', 'print nothing but errors', false)
    .option(
      '--typecheck',
      'type-check a TypeScript app in a worker thread while it synthesizes; type errors fail the command (for CI: on the example it doubles the wall time and memory of synth)',
      false,
    )
    .option(
      '--check',
      "run aws-cdk-lib's CloudFormation validator on the AWS templates, its findings errors (for CI: ~40% of synth time)",
      false,
    )
    .option('--strict', 'policy warnings fail synth too (for CI; docs/policy.md)', false)
    .action(
      async (opts: {
        app: string;
        out: string;
        quiet: boolean;
        typecheck: boolean;
        check: boolean;
        strict: boolean;
      }) => {
        const log = (s: string) => (opts.quiet ? undefined : process.stdout.write(`${s}\n`));
        const results = await synthCommand({ ...opts, log });
        for (const outdir of new Set(results.map((r) => r.outdir))) {
          recordAcknowledgements(outdir);
          policyGate(outdir, opts.strict, log);
          if (!opts.quiet) costSummary(outdir, log);
        }
      },
    );

  program
    .command('check')
    .description(
      "run the policy pack over a synth output: mlstack's rules on CloudFormation, Terraform and Kubernetes objects; writes policy/report.json and policy/results.sarif",
    )
    .argument('[dir]', 'a synth output', 'mlstack.out')
    .option('--strict', 'warnings fail the check too', false)
    .action((dir: string, opts: { strict: boolean }) => {
      if (!fs.existsSync(dir)) throw new CliError(`${dir}: no such folder; run mlstack synth first.`, 2);
      policyGate(dir, opts.strict, (s) => process.stdout.write(`${s}\n`));
    });

  program
    .command('cost')
    .description(
      'estimate the monthly cost of a synth output at minimum and maximum scale, per stack and construct, from a dated price catalog',
    )
    .argument('[dir]', 'a synth output', 'mlstack.out')
    .option('--format <format>', 'table, markdown or json', 'table')
    .option(
      '--prices <file>',
      'a price file that adds or replaces catalog rows (negotiated prices, other regions; repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--bucket-gb <n>',
      'data each bucket or storage account is assumed to hold, in GB (default 100)',
      parseInteger('--bucket-gb'),
    )
    .action((dir: string, opts: { format: string; prices?: string[]; bucketGb?: number }) => {
      if (!['table', 'markdown', 'json'].includes(opts.format)) {
        throw new CliError(`--format '${opts.format}' is not a format: use table, markdown or json.`, 2);
      }
      let report;
      try {
        report = estimateCost(dir, loadPriceCatalog(opts.prices ?? []), {
          ...(opts.bucketGb !== undefined ? { bucketGb: opts.bucketGb } : {}),
        });
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
      const render =
        opts.format === 'json'
          ? renderCostJson
          : opts.format === 'markdown'
            ? renderCostMarkdown
            : renderCostTable;
      process.stdout.write(render(report));
    });

  program
    .command('resolve')
    .description(
      "copy the Kubernetes objects of a synth output with the values known only after deploy filled in from the deploy's outputs",
    )
    .argument('<dir>', 'a synth output, its k8s/ folder, or one k8s/<stack>/<cluster>/ folder')
    .requiredOption(
      '--outputs <file>',
      'cdk deploy --outputs-file JSON, or <stack>=<file> for terraform output -json (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .requiredOption('--to <dir>', 'where the resolved files go (replaced)')
    .action((dir: string, opts: { outputs: string[]; to: string }) => {
      let r;
      try {
        r = resolveCommand(dir, opts);
      } catch (e) {
        throw new CliError((e as Error).message, 2);
      }
      if (r.missing.length > 0) {
        throw new CliError(
          [
            `${r.missing.length} value(s) known only after deploy are not in the outputs given; nothing was written:`,
            ...r.missing.map((m) => `  ${m.ref.stack}/${m.ref.output}: ${m.hint}`),
          ].join('\n'),
        );
      }
      process.stdout.write(
        `resolved ${r.resolved} value(s) (${r.placeholders} placeholder(s)) in ${r.files} file(s) into ${opts.to}\n`,
      );
    });

  program
    .command('apply')
    .description(
      "put a cluster's synthesized Kubernetes objects on the cluster with server-side apply (field manager mlstack)",
    )
    .argument('<dir>', 'one k8s/<stack>/<cluster>/ folder, or a synth output with --stack')
    .option('--stack <name>', 'the stack, when <dir> is a whole synth output')
    .option('--cluster <name>', 'the cluster, when the stack has several')
    .option('--context <name>', 'kubeconfig context (default: the current one)')
    .option('--kubeconfig <file>', 'kubeconfig file (default: KUBECONFIG, else ~/.kube/config)')
    .option(
      '--dry-run [mode]',
      "apply nothing: 'server' (default) asks the API server and prints the field diff, 'client' only reads the files",
    )
    .option(
      '--prune',
      'delete objects applied earlier for this stack and cluster that the output no longer has',
      false,
    )
    .option(
      '--wait',
      'wait for Deployments, DaemonSets and StatefulSets to roll out and Jobs to finish',
      false,
    )
    .option(
      '--timeout <duration>',
      'how long waiting may take (s, m, h)',
      parseDuration('--timeout'),
      600_000,
    )
    .option('--force-conflicts', 'take over fields another field manager owns', false)
    .option(
      '--outputs <file>',
      'the deploy outputs for values known only after it: cdk deploy --outputs-file JSON, or <stack>=<file> for terraform output -json (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .action(
      async (
        dir: string,
        opts: {
          stack?: string;
          cluster?: string;
          context?: string;
          kubeconfig?: string;
          dryRun?: string | boolean;
          prune: boolean;
          wait: boolean;
          timeout: number;
          forceConflicts: boolean;
          outputs?: string[];
        },
      ) => {
        const dryRun = opts.dryRun === true ? 'server' : opts.dryRun;
        if (dryRun !== undefined && dryRun !== 'server' && dryRun !== 'client') {
          throw new CliError(
            `--dry-run '${dryRun}' is not a mode: use --dry-run=server or --dry-run=client.`,
            2,
          );
        }
        let r;
        try {
          r = await applyCommand(dir, {
            ...(opts.stack ? { stack: opts.stack } : {}),
            ...(opts.cluster ? { cluster: opts.cluster } : {}),
            ...(opts.context ? { context: opts.context } : {}),
            ...(opts.kubeconfig ? { kubeconfig: opts.kubeconfig } : {}),
            ...(dryRun ? { dryRun } : {}),
            prune: opts.prune,
            wait: opts.wait,
            timeoutMs: opts.timeout,
            forceConflicts: opts.forceConflicts,
            outputs: opts.outputs ?? [],
            ...(process.env.MLSTACK_APPLY_POLL_MS
              ? { pollMs: Number(process.env.MLSTACK_APPLY_POLL_MS) }
              : {}),
            log: (s) => process.stdout.write(`${s}\n`),
          });
        } catch (e) {
          throw new CliError((e as Error).message);
        }
        if (r.failures.length) {
          throw new CliError(
            `${r.failures.length} problem(s):\n${r.failures.map((f) => `  ${f}`).join('\n')}`,
          );
        }
      },
    );

  program
    .command('inspect')
    .description("print an ONNX model's signature, or the Triton config.pbtxt generated from it")
    .argument('<model>', 'an .onnx file')
    .option('--json', 'print the signature as JSON', false)
    .option('--triton-config', 'print the generated config.pbtxt', false)
    .option('--name <name>', 'model name in the Triton config (default: the file name)')
    .option('--max-batch-size <n>', 'max_batch_size in the Triton config', parseInteger('--max-batch-size'))
    .action(
      async (
        file: string,
        opts: { json: boolean; tritonConfig: boolean; name?: string; maxBatchSize?: number },
      ) => {
        await inspectCommand(file, opts, (s) => process.stdout.write(s));
      },
    );

  program
    .command('serve')
    .description('serve an .onnx file or a Triton-layout model repository over the KServe v2 protocol')
    .argument('<model>', 'an .onnx file or a model repository directory')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--port <port>', 'port', parseInteger('--port'), 8000)
    .option(
      '--grpc-port <port>',
      "port of the KServe v2 gRPC service (inference.GRPCInferenceService), as Triton's; 0 picks a free one",
      parseInteger('--grpc-port'),
      8001,
    )
    .option('--no-grpc', 'serve HTTP only')
    .option(
      '--threads <n>',
      "onnxruntime intra-op threads per model (default: onnxruntime's)",
      parseInteger('--threads'),
    )
    .option(
      '--execution-providers <list>',
      'onnxruntime execution providers in preference order, e.g. tensorrt,cuda,cpu (unavailable ones are skipped)',
      (v: string) => {
        const list = v.split(',').map((x) => x.trim());
        const bad = list.find((x) => !['tensorrt', 'cuda', 'cpu'].includes(x));
        if (bad) throw new CliError(`--execution-providers: '${bad}' is not tensorrt, cuda or cpu.`, 2);
        return list;
      },
    )
    .option('--max-body-bytes <n>', 'largest request body (default 64 MiB)', parseInteger('--max-body-bytes'))
    .option(
      '--max-json-bytes <n>',
      'largest JSON part of a request (default 8 MiB: JSON.parse blocks about 12 ms a MiB); larger tensors go as binary data',
      parseInteger('--max-json-bytes'),
    )
    .option(
      '--max-total-body-bytes <n>',
      'request bodies held at once, all requests together, before 503 (default 256 MiB)',
      parseInteger('--max-total-body-bytes'),
    )
    .option('--no-batching', 'run every request alone, whatever the model configs say')
    .option(
      '--no-compute-threads',
      "run the models on the event loop's thread (by default on compute threads, one per instance_group count, so that I/O and compute overlap)",
    )
    .option(
      '--headers-timeout <ms>',
      'time to send the headers, then 408 (default 10000)',
      parseInteger('--headers-timeout'),
    )
    .option(
      '--body-timeout <ms>',
      'time the body may go without a byte, then 408 (default 30000)',
      parseInteger('--body-timeout'),
    )
    .option(
      '--request-timeout <ms>',
      'time to receive a whole request, then 408 (default 300000)',
      parseInteger('--request-timeout'),
    )
    .option(
      '--idle-timeout <ms>',
      'time an idle keep-alive connection stays open (default 65000)',
      parseInteger('--idle-timeout'),
    )
    .option(
      '--model-control-mode <mode>',
      "none (load every model) or explicit (load --load-model ones; POST /v2/repository/models/<name>/load|unload), as Triton's",
      (v: string) => {
        if (v !== 'none' && v !== 'explicit')
          throw new CliError(`--model-control-mode (${JSON.stringify(v)}) must be none or explicit.`, 2);
        return v;
      },
      'none',
    )
    .option(
      '--load-model <name>',
      'with explicit model control, a model to load at start (repeatable; * for all)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--exit-on-error',
      "stop at start when a model cannot be loaded (Triton's --exit-on-error); otherwise it is UNAVAILABLE and the rest is served",
      false,
    )
    .option(
      '--no-strict-readiness',
      '/v2/health/ready says ready while some model is unavailable (default: only when every model is, as Triton)',
    )
    .option(
      '--capture-dir <dir>',
      'capture a sample of requests and responses as JSON Lines under <dir>/<model>/<yyyy-mm-dd>/, for mlstack drift',
    )
    .option(
      '--capture-sample-rate <share>',
      'share of requests captured, 0 to 1 (default 0.1)',
      (v: string) => {
        const n = Number(v);
        if (!(n >= 0 && n <= 1) || v.trim() === '')
          throw new CliError(`--capture-sample-rate (${JSON.stringify(v)}) must be a number from 0 to 1.`, 2);
        return n;
      },
    )
    .option(
      '--capture-interval <duration>',
      'how long one capture file collects rows (default 60s)',
      parseDuration('--capture-interval'),
    )
    .option(
      '--capture-max-payload-bytes <n>',
      'requests with more tensor bytes than this are not captured (default 65536)',
      parseInteger('--capture-max-payload-bytes'),
    )
    .action(
      async (
        root: string,
        opts: {
          host: string;
          port: number;
          grpcPort: number;
          grpc: boolean;
          computeThreads: boolean;
          threads?: number;
          executionProviders?: string[];
          maxBodyBytes?: number;
          batching: boolean;
          exitOnError: boolean;
          strictReadiness: boolean;
          modelControlMode: 'none' | 'explicit';
          loadModel?: string[];
          headersTimeout?: number;
          bodyTimeout?: number;
          maxJsonBytes?: number;
          maxTotalBodyBytes?: number;
          requestTimeout?: number;
          idleTimeout?: number;
          captureDir?: string;
          captureSampleRate?: number;
          captureInterval?: number;
          captureMaxPayloadBytes?: number;
        },
      ) => {
        if (
          !opts.captureDir &&
          (opts.captureSampleRate !== undefined || opts.captureInterval !== undefined)
        ) {
          throw new CliError('--capture-sample-rate and --capture-interval need --capture-dir.', 2);
        }
        const { grpc, grpcPort, ...rest } = opts;
        await serveCommand(root, { ...rest, ...(grpc ? { grpcPort } : {}), version: packageVersion() }, (s) =>
          process.stderr.write(`${s}\n`),
        );
      },
    );

  program
    .command('diff')
    .description(
      'compare two synth outputs: CloudFormation, Terraform, Kubernetes objects and model repositories, per stack',
    )
    .argument('<base>', 'synth output of the base (e.g. the target branch)')
    .argument('<head>', 'synth output of the head (e.g. the pull request)')
    .option('--format <format>', 'markdown (for a pull-request comment) or json', 'markdown')
    .option(
      '--fail-on <level>',
      'exit 1 when the diff has: destroy (a deletion, or a stateful resource replaced), replace (any replacement or deletion), any (any change), none',
      'none',
    )
    .option('--max-chars <n>', 'cap of the Markdown report', parseInteger('--max-chars'))
    .option(
      '--fail-on-cost-increase <limit>',
      'exit 1 when the monthly cost (at minimum or maximum scale) rises by more than an amount in USD (500) or a percentage (10%)',
    )
    .option(
      '--prices <file>',
      'a price file for the cost delta, as for mlstack cost (repeatable)',
      (v: string, prev: string[] = []) => [...prev, v],
    )
    .option(
      '--bucket-gb <n>',
      'data each bucket or storage account is assumed to hold, in GB, for the cost delta (default 100)',
      parseInteger('--bucket-gb'),
    )
    .action(
      (
        base: string,
        head: string,
        opts: {
          format: string;
          failOn: string;
          maxChars?: number;
          failOnCostIncrease?: string;
          prices?: string[];
          bucketGb?: number;
        },
      ) => {
        if (!['markdown', 'json'].includes(opts.format)) {
          throw new CliError(`--format (${JSON.stringify(opts.format)}) must be markdown or json.`, 2);
        }
        if (!['destroy', 'replace', 'any', 'none'].includes(opts.failOn)) {
          throw new CliError(
            `--fail-on (${JSON.stringify(opts.failOn)}) must be destroy, replace, any or none.`,
            2,
          );
        }
        let report;
        let cost;
        let threshold;
        try {
          threshold =
            opts.failOnCostIncrease !== undefined ? parseCostThreshold(opts.failOnCostIncrease) : undefined;
          report = diffSynthOutputs(base, head);
          const catalog = loadPriceCatalog(opts.prices ?? []);
          const costOptions = opts.bucketGb !== undefined ? { bucketGb: opts.bucketGb } : {};
          cost = costDelta(
            estimateCost(base, catalog, costOptions),
            estimateCost(head, catalog, costOptions),
            new Set(report.changes.map((c) => c.id)),
          );
        } catch (e) {
          throw new CliError((e as Error).message, 2);
        }
        process.stdout.write(
          opts.format === 'json'
            ? `${JSON.stringify({ ...report, cost }, null, 2)}\n`
            : report.changes.length === 0
              ? renderMarkdown(report, opts.maxChars)
              : `${renderMarkdown(report, opts.maxChars)}\n${renderCostDeltaMarkdown(cost)}`,
        );
        if (crosses(report, opts.failOn as FailOn)) exitCode = 1;
        if (threshold && exceedsCostThreshold(cost, threshold)) exitCode = 1;
      },
    );

  program
    .command('drift')
    .description(
      'compare a current data window with the reference: PSI and Kolmogorov-Smirnov for numeric features, chi-square and Jensen-Shannon for categorical ones; exit 0 no drift, 3 drift, 4 insufficient data, 1 failed',
    )
    .requiredOption('--reference <file>', 'the reference window (CSV or JSON Lines)')
    .requiredOption(
      '--current <file|dir>',
      'the current window (CSV or JSON Lines), or a folder of them such as mlstack serve --capture-dir <dir>/<model>',
    )
    .option(
      '--since <duration>',
      "only current rows whose timestamp (config timestampColumn, default 'timestamp') is within this long of now, e.g. 24h",
      parseDuration('--since'),
    )
    .option(
      '--schema <file>',
      'JSON: { features: { name: "numeric" | "categorical" }, predictions: [names] }',
    )
    .option(
      '--config <file>',
      'JSON: thresholds, per-feature overrides, datasetDriftShare, pushgateway, webhook',
    )
    .option('--out <dir>', 'write report.json and metrics.prom here')
    .option(
      '--drift-exit-code <n>',
      'exit code when the dataset drifts (default 3)',
      parseInteger('--drift-exit-code'),
    )
    .option(
      '--min-samples <n>',
      'values each window and feature needs for a verdict, else insufficient_data (exit 4; default 200)',
      parseInteger('--min-samples'),
    )
    .option(
      '--max-bad-rows <n|p%>',
      'malformed rows a window may have, a count or a share such as 5% (default), beyond which the run fails',
    )
    .action(
      async (opts: {
        reference: string;
        current: string;
        schema?: string;
        config?: string;
        out?: string;
        driftExitCode?: number;
        minSamples?: number;
        maxBadRows?: string;
        since?: number;
      }) => {
        try {
          const { since, ...rest } = opts;
          exitCode = await runDrift({
            ...rest,
            ...(since !== undefined ? { since: new Date(Date.now() - since) } : {}),
            log: (s) => process.stdout.write(`${s}\n`),
          });
        } catch (e) {
          if (e instanceof DriftConfigError) throw new CliError(`config: ${e.message}`, 1);
          throw e;
        }
      },
    );

  return program;
}

/** Set by a command whose outcome (not an error) decides the exit code, like `diff --fail-on`. */
let exitCode = 0;

/** `30s`, `10m`, `1h` (or plain seconds) as milliseconds; a usage error otherwise. */
function parseDuration(flag: string): (v: string) => number {
  return (v: string) => {
    const m = /^(\d+)(s|m|h)?$/.exec(v);
    if (!m) throw new CliError(`${flag} '${v}' is not a duration: use e.g. 90s, 10m or 1h.`, 2);
    return Number(m[1]) * { s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 's' | 'm' | 'h'];
  };
}

function parseInteger(flag: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0)
      throw new CliError(`${flag} (${JSON.stringify(v)}) must be a non-negative integer.`, 2);
    return n;
  };
}

/**
 * Runs the CLI; resolves to the exit code: 0 success, 1 a failure (or an outcome a flag turns into one, like
 * `diff --fail-on`), 2 a usage error (a missing argument, an unknown option, a bad flag value, a missing file
 * named by a flag), 3 drift found (`mlstack drift`). Errors print one line unless `--verbose`.
 */
export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  try {
    exitCode = 0;
    await buildProgram().parseAsync(argv);
    return exitCode;
  } catch (e) {
    // Help and version exit 0; every usage error (a missing argument, an unknown option) exits 2, so that CI can
    // tell a mistyped command from an outcome such as `diff --fail-on` (1).
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    const err = e as Error;
    if (verbose) process.stderr.write(`${err.stack ?? err.message}\n`);
    else for (const line of errorLines(err)) process.stderr.write(`mlstack: ${line}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
}

if (require.main === module) {
  void main(process.argv).then((code) => process.exit(code));
}

/** Writes the program's `PolicyPack.acknowledge` calls into the output (removing a stale file when there are none). */
function recordAcknowledgements(out: string): void {
  const file = path.join(out, ACKNOWLEDGEMENTS_FILE);
  const acks = PolicyPack.acknowledgements();
  if (acks.length === 0) {
    fs.rmSync(file, { force: true });
    return;
  }
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, `${JSON.stringify(acks, null, 2)}\n`);
}

/** Runs the policy pack over a synth output; findings that count fail the command (exit 1). */
/** One line per stack with its monthly cost range, after synth; an estimate that fails does not fail synth. */
function costSummary(out: string, log: (line: string) => void): void {
  const rel = path.relative(process.cwd(), out) || '.';
  let report;
  try {
    report = estimateCost(out, loadPriceCatalog());
  } catch (e) {
    log(`cost: not estimated: ${(e as Error).message}`);
    return;
  }
  const usd = (n: number) => formatUsd(n, false);
  for (const s of report.stacks) {
    log(
      `cost ${s.stack}: ${usd(s.minMonthly)} to ${usd(s.maxMonthly)} a month at list prices${s.unpriced.length ? `, ${s.unpriced.length} resource(s) unpriced` : ''}`,
    );
  }
  log(`cost details, assumptions and sources: mlstack cost ${rel} (docs/cost.md)`);
}

function policyGate(out: string, strict: boolean, log: (line: string) => void): void {
  const { failures } = runPolicy(out, { strict, version: packageVersion(), log });
  if (failures.length) {
    throw new CliError(
      `policy: ${failures.length} unacknowledged finding${failures.length === 1 ? '' : 's'}${strict ? ' (--strict: warnings count)' : ''}; fix them or acknowledge each with its reason (docs/policy.md)`,
      1,
    );
  }
}
