import * as fs from 'node:fs';
import { CliError } from './errors';
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
  process.env.CDK_OUTDIR ??= path.join(outdir, 'aws');
  const started = process.hrtime.bigint();

  if (/\.[cm]?tsx?$/.test(appFile)) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const tsx = require('tsx/cjs/api') as { register(): () => void };
    tsx.register();
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require(appFile);

  const apps = createdApps();
  const results = apps.map((a) => a.lastSynth ?? a.synth());
  const ms = Number((process.hrtime.bigint() - started) / 1_000_000n);

  for (const r of results) {
    for (const s of r.stacks) opts.log(`${s.cloud.padEnd(5)}  ${s.name}`);
    for (const w of r.warnings) opts.log(`warning: ${w.path}: ${w.message}`);
    for (const d of r.deployTimeValues) {
      opts.log(
        `after deploy: ${d.folder} needs ${d.outputs.map((o) => `${o.stack}/${o.output}`).join(', ')} from the deploy's outputs: mlstack resolve ${path.relative(process.cwd(), r.outdir) || '.'} --outputs <outputs> --to <dir>, then apply <dir> (docs/deploy.md)`,
      );
    }
    opts.log(`wrote ${r.files.length} files to ${path.relative(process.cwd(), r.outdir) || '.'} in ${ms} ms`);
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
