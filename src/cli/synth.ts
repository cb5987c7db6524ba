import * as fs from 'node:fs';
import { startTypecheck, syntaxErrorLines } from './app-check';
import { CliError, errorLines } from './errors';
import * as path from 'node:path';
import { createdApps, type SynthResult } from '../synth/registry';

/** Options of `mlstack synth`. */
export interface SynthOptions {
  /** The app program. */
  readonly app: string;
  /** Output folder. */
  readonly out: string;
  /** Where progress lines go. */
  readonly log: (line: string) => void;
  /**
   * Type-check a TypeScript app (in a worker thread, while it synthesizes); type errors fail the command. Off by
   * default: on the example it doubles synth's wall time (5.6 s → 11.2 s) and memory (0.62 → 1.4 GB).
   * @default false
   */
  readonly typecheck?: boolean;
  /**
   * Run aws-cdk-lib's CloudFormation validator (the `@aws/cloudformation-validate` WebAssembly rules) on the AWS
   * templates, its findings errors. Off by default, where it is ~40% of the example's synth time; CI runs it.
   * @default false
   */
  readonly check?: boolean;
}

/**
 * Loads the user's app program in this process (TypeScript through tsx) with the output folder in
 * `MLSTACK_OUTDIR` (`MlApp`) and `CDK_OUTDIR` (a plain aws-cdk-lib `App`), then synthesizes every `MlApp`
 * the program made and did not synthesize itself.
 */
export async function synthCommand(opts: SynthOptions): Promise<SynthResult[]> {
  const appFile = resolveApp(opts.app);
  const outdir = path.resolve(opts.out);
  process.env.MLSTACK_OUTDIR = outdir;
  configureCloudFormationValidation(opts.check ?? false);
  process.env.CDK_OUTDIR ??= path.join(outdir, 'aws');
  const started = process.hrtime.bigint();

  const typescript = /\.[cm]?tsx?$/.test(appFile);
  const check = typescript && (opts.typecheck ?? false) ? startTypecheck(appFile) : undefined;
  let results: SynthResult[];
  try {
    if (typescript) {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      const tsx = require('tsx/cjs/api') as { register(): () => void };
      tsx.register();
    }
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      require(appFile);
    } catch (e) {
      const syntax = syntaxErrorLines(e as Error);
      if (syntax) throw new CliError(syntax.join('\n'), 1);
      throw e;
    }
    const apps = createdApps();
    results = apps.map((a) => a.lastSynth ?? a.synth());
  } catch (e) {
    // A program that does not type-check often fails because of it: its type errors come first.
    const typed = check && !(e instanceof CliError) ? await check.result.catch(() => undefined) : undefined;
    check?.stop();
    if (typed && typed.errors.length > 0) {
      throw new CliError(
        [
          typeErrorsHeader(appFile, typed.errors.length, false),
          ...typed.errors,
          `then synth failed: ${errorLines(e as Error).join(' ')}`,
        ].join('\n'),
        1,
      );
    }
    throw e;
  }
  const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);

  for (const r of results) {
    for (const s of r.stacks) opts.log(`${s.cloud.padEnd(5)}  ${s.name}`);
    for (const w of r.warnings) opts.log(`warning: ${w.path}: ${w.message}`);
    if (r.awsChecks === 'AwsSolutions') {
      opts.log(
        "policy: cdk-nag's AwsSolutions pack checked the AWS stacks (every finding acknowledged with its reason)",
      );
    } else if (r.awsChecks) {
      opts.log('policy: cdk-nag is not installed, so its AwsSolutions pack did not run (npm i -D cdk-nag@3)');
    }
    for (const d of r.deployTimeValues) {
      opts.log(
        `after deploy: ${d.folder} needs ${d.outputs.map((o) => `${o.stack}/${o.output}`).join(', ')} from the deploy's outputs: mlstack apply ${path.join(path.relative(process.cwd(), r.outdir) || '.', d.folder)} --outputs <outputs> (charts: mlstack resolve … --to <dir>; docs/deploy.md)`,
      );
    }
    opts.log(`wrote ${r.files.length} files to ${path.relative(process.cwd(), r.outdir) || '.'} in ${ms} ms`);
  }
  if (check) {
    const r = await check.result;
    if (r.skipped) opts.log(`not type-checked: ${r.skipped} (npm i -D typescript)`);
    else if (r.errors.length > 0) {
      throw new CliError([typeErrorsHeader(appFile, r.errors.length, true), ...r.errors].join('\n'), 1);
    } else opts.log(`type-checked ${path.relative(process.cwd(), appFile)} in ${r.ms} ms`);
  }
  if (results.length === 0) {
    opts.log(
      `${path.relative(process.cwd(), appFile)} made no MlApp; a plain CDK app writes to ${process.env.CDK_OUTDIR}`,
    );
  }
  return results;
}

function resolveApp(app: string): string {
  const candidates = [path.resolve(app)];
  if (app === 'examples/app.ts') candidates.push(path.join(__dirname, '..', '..', 'examples', 'app.ts'));
  const found = candidates.find((c) => fs.existsSync(c));
  if (!found) {
    throw new CliError(
      `--app '${app}' does not exist. Pass the path of your app program, e.g. --app infra/app.ts.`,
      2,
    );
  }
  return found;
}

/** The first line of a type-check failure. */
function typeErrorsHeader(appFile: string, count: number, written: boolean): string {
  return `${path.relative(process.cwd(), appFile)} has ${count} type error${count > 1 ? 's' : ''} (fix them${written ? '; the output was written but do not deploy it' : ''}):`;
}

/**
 * aws-cdk-lib validates every template it synthesizes with its CloudFormation validator unless `CDK_VALIDATION` is
 * `false`, its findings warnings unless `@aws-cdk/core:validateAgainstDefaultRules` is set. Every aws-cdk-lib `App`
 * of the program (an `MlApp`'s or a plain one) gets that flag through the context variable the CDK CLI uses, so
 * that the assembly is the same either way; with `check` the validator runs (its report in
 * `aws/validation-report.json`, a finding fails synth), without it does not.
 */
function configureCloudFormationValidation(check: boolean): void {
  if (check) delete process.env.CDK_VALIDATION;
  else process.env.CDK_VALIDATION = 'false';
  let context: Record<string, unknown>;
  try {
    context = JSON.parse(process.env.CDK_CONTEXT_JSON ?? '{}') as Record<string, unknown>;
  } catch {
    context = {};
  }
  process.env.CDK_CONTEXT_JSON = JSON.stringify({
    ...context,
    '@aws-cdk/core:validateAgainstDefaultRules': true,
  });
}
