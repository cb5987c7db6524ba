import * as fs from 'node:fs';

/**
 * Values a Kubernetes object needs that the cloud assigns only at deploy (an Azure managed identity's client id, an
 * AMP workspace id). Synth writes a placeholder naming a stack output, `${mlstack:output:<stack>/<output>}`, and
 * the stack exports the value as that output; `mlstack resolve` fills the placeholders from the deploy's outputs
 * (`cdk deploy --outputs-file`, `terraform output -json`). On AWS with a kubectl layer the stack resolves them
 * itself.
 */

/** A placeholder's stack and output names. */
export interface OutputRef {
  readonly stack: string;
  readonly output: string;
}

/** Output names: letters and digits (CloudFormation's rule, which Terraform also accepts). */
export const OUTPUT_NAME = /^[A-Za-z][A-Za-z0-9]{0,254}$/;
const PLACEHOLDER = /\$\{mlstack:output:([A-Za-z0-9_.-]+)\/([A-Za-z][A-Za-z0-9]*)\}/g;

/** The placeholder of output `output` of stack `stack`. */
export function placeholder(ref: OutputRef): string {
  if (!OUTPUT_NAME.test(ref.output)) {
    throw new Error(`output name '${ref.output}' must be letters and digits, starting with a letter`);
  }
  return `\${mlstack:output:${ref.stack}/${ref.output}}`;
}

/** Every placeholder in `text`, once each, in order of first appearance. */
export function placeholdersIn(text: string): OutputRef[] {
  const seen = new Map<string, OutputRef>();
  for (const m of text.matchAll(PLACEHOLDER)) seen.set(m[0], { stack: m[1], output: m[2] });
  return [...seen.values()];
}

/** Outputs by stack, then by output name. */
export type StackOutputs = ReadonlyMap<string, Readonly<Record<string, string>>>;

/** `text` with every placeholder found in `outputs` replaced; the ones not found are returned. */
export function resolvePlaceholders(
  text: string,
  outputs: StackOutputs,
  replace: (ref: OutputRef) => string | undefined = (ref) => outputs.get(ref.stack)?.[ref.output],
): { readonly text: string; readonly missing: readonly OutputRef[] } {
  const missing = new Map<string, OutputRef>();
  const resolved = text.replace(PLACEHOLDER, (whole, stack: string, output: string) => {
    const value = replace({ stack, output });
    if (value === undefined) {
      missing.set(whole, { stack, output });
      return whole;
    }
    return value;
  });
  return { text: resolved, missing: [...missing.values()] };
}

/**
 * Reads a deploy's outputs: a `cdk deploy --outputs-file` JSON (`{ "<stack>": { "<output>": "value" } }`), or, with
 * `stack`, a `terraform output -json` JSON (`{ "<output>": { "value": … } }`).
 * @throws naming the file and what is wrong with it
 */
export function readOutputsFile(file: string, stack?: string): Map<string, Record<string, string>> {
  let data: unknown;
  try {
    data = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not a JSON outputs file (${(e as Error).message})`, { cause: e });
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new Error(`${file}: expected a JSON object of outputs`);
  }
  const entries = Object.entries(data as Record<string, unknown>);
  const isTerraform = entries.every(
    ([, v]) => typeof v === 'object' && v !== null && 'value' in (v as object),
  );
  const out = new Map<string, Record<string, string>>();
  if (isTerraform && entries.length > 0) {
    if (!stack) {
      throw new Error(
        `${file} is 'terraform output -json' output, which does not name its stack: pass it as <stack>=${file}`,
      );
    }
    out.set(
      stack,
      Object.fromEntries(entries.map(([k, v]) => [k, stringValue((v as { value: unknown }).value)])),
    );
    return out;
  }
  for (const [name, outputs] of entries) {
    if (typeof outputs !== 'object' || outputs === null || Array.isArray(outputs)) {
      throw new Error(
        `${file}: '${name}' is not an object of outputs (expected cdk deploy --outputs-file or terraform output -json)`,
      );
    }
    if (stack && stack !== name) continue;
    out.set(
      name,
      Object.fromEntries(
        Object.entries(outputs as Record<string, unknown>).map(([k, v]) => [k, stringValue(v)]),
      ),
    );
  }
  return out;
}

function stringValue(v: unknown): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}
