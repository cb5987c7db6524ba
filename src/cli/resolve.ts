import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  type OutputRef,
  placeholdersIn,
  readOutputsFile,
  resolvePlaceholders,
  type StackOutputs,
} from '../synth/deploy-time';
import { listFiles } from '../synth/files';

/** Options of `mlstack resolve`. */
export interface ResolveOptions {
  /** Outputs files: `file` (cdk deploy --outputs-file) or `stack=file` (terraform output -json). */
  readonly outputs: readonly string[];
  /** Where the resolved files go. */
  readonly to: string;
}

/** What `mlstack resolve` did. */
export interface ResolveResult {
  readonly files: number;
  /** Distinct outputs filled in. */
  readonly resolved: number;
  /** Placeholders replaced (an output can appear in several files). */
  readonly placeholders: number;
  /** Placeholders no outputs file had, with the command that gives each. */
  readonly missing: readonly { readonly ref: OutputRef; readonly hint: string }[];
}

/**
 * Copies the Kubernetes objects of a synth output (`<out>`, `<out>/k8s` or one `k8s/<stack>/<cluster>` folder)
 * to `opts.to` with every deploy-time placeholder filled from the deploy's outputs. Nothing is written when a value
 * is missing.
 */
export function resolveCommand(source: string, opts: ResolveOptions): ResolveResult {
  if (!fs.existsSync(source) || !fs.statSync(source).isDirectory()) {
    throw new Error(
      `'${source}' is not a folder: pass a synth output, its k8s/ folder, or one k8s/<stack>/<cluster>/.`,
    );
  }
  const root = fs.existsSync(path.join(source, 'k8s')) ? path.join(source, 'k8s') : source;
  const outputs = new Map<string, Record<string, string>>();
  for (const spec of opts.outputs) {
    const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(spec);
    const [stack, file] = m && !fs.existsSync(spec) ? [m[1], m[2]] : [undefined, spec];
    for (const [s, values] of readOutputsFile(file, stack)) outputs.set(s, { ...outputs.get(s), ...values });
  }

  const files = listFiles(root);
  const written: { file: string; text: string }[] = [];
  const missing = new Map<string, OutputRef>();
  const resolved = new Set<string>();
  let placeholders = 0;
  for (const f of files) {
    const text = fs.readFileSync(path.join(root, f), 'utf8');
    const refs = placeholdersIn(text);
    const r = resolvePlaceholders(text, outputs as StackOutputs);
    const missed = new Set(r.missing.map((m) => `${m.stack}/${m.output}`));
    for (const ref of refs.filter((x) => !missed.has(`${x.stack}/${x.output}`))) {
      resolved.add(`${ref.stack}/${ref.output}`);
      placeholders++;
    }
    for (const ref of r.missing) missing.set(`${ref.stack}/${ref.output}`, ref);
    written.push({ file: f, text: r.text });
  }
  const outRoot = synthOutputRoot(root);
  const result = {
    files: files.length,
    resolved: resolved.size,
    placeholders,
    missing: [...missing.values()].map((ref) => ({ ref, hint: outputsHint(outRoot, ref.stack) })),
  };
  if (result.missing.length > 0) return result;
  fs.rmSync(opts.to, { recursive: true, force: true });
  for (const w of written) {
    const target = path.join(opts.to, w.file);
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, w.text);
    if (w.file.endsWith('.sh')) fs.chmodSync(target, 0o755);
  }
  return result;
}

/** The synth output folder that holds `dir` (the parent of its `k8s/`), if any. */
function synthOutputRoot(dir: string): string | undefined {
  let d = path.resolve(dir);
  for (;;) {
    if (path.basename(d) === 'k8s') return path.dirname(d);
    const up = path.dirname(d);
    if (up === d) return undefined;
    d = up;
  }
}

/** How to get the outputs of `stack`, from what the synth output says about it. */
function outputsHint(out: string | undefined, stack: string): string {
  for (const cloud of ['gcp', 'azure']) {
    const dir = out && path.join(out, cloud, 'stacks', stack);
    if (dir && fs.existsSync(dir)) {
      return `after 'terraform apply' in ${path.relative(process.cwd(), dir) || '.'}: terraform -chdir=${path.relative(process.cwd(), dir)} output -json > ${stack}.outputs.json, then --outputs ${stack}=${stack}.outputs.json`;
    }
  }
  return `deploy with 'cdk deploy ${stack} --outputs-file outputs.json', then --outputs outputs.json`;
}
