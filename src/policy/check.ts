import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { PolicyAcknowledgement } from './registry';
import { BUILTIN_RULES } from './rules';
import {
  ACKNOWLEDGE_KEY,
  type CloudFormationInput,
  type KubernetesObject,
  type PolicyLevel,
  type PolicyRule,
  type TerraformInput,
  type Violation,
} from './rule';

/** One finding of one rule on one object or resource. */
export interface Finding {
  readonly rule: string;
  readonly level: PolicyLevel;
  readonly message: string;
  /** The stack (the folder under aws/, gcp/stacks/, azure/stacks/, k8s/ or edge/). */
  readonly stack: string;
  /** The file, relative to the synth output. */
  readonly file: string;
  /** Line of the object or resource in the file (1 when not found). */
  readonly line: number;
  /** `Kind/namespace/name`, a Terraform address or a CloudFormation logical id. */
  readonly target: string;
  /** The reason given where the object was made, when the finding is acknowledged. */
  readonly acknowledged?: string;
}

/** What `mlstack check` found in a synth output. */
export interface PolicyReport {
  readonly rules: readonly Pick<PolicyRule, 'id' | 'level' | 'title' | 'description' | 'fix' | 'target'>[];
  readonly findings: readonly Finding[];
  /** Per stack: unacknowledged errors and warnings, and acknowledged findings. */
  readonly stacks: readonly { stack: string; errors: number; warnings: number; acknowledged: number }[];
}

/** A document the rules read, with where it came from. */
type Input =
  | {
      kind: 'kubernetes';
      stack: string;
      files: { file: string; text: string; objects: KubernetesObject[] }[];
    }
  | { kind: 'terraform'; stack: string; file: string; text: string; json: TerraformInput['json'] }
  | {
      kind: 'cloudformation';
      stack: string;
      file: string;
      text: string;
      template: CloudFormationInput['template'];
      acknowledgements: NonNullable<CloudFormationInput['acknowledgements']>;
    };

function walk(dir: string, keep: (file: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, keep));
    else if (keep(p)) out.push(p);
  }
  return out;
}

/** The CloudFormation templates, Terraform documents and Kubernetes folders of a synth output. */
function inputsOf(out: string): Input[] {
  const rel = (f: string) => path.relative(out, f);
  const inputs: Input[] = [];
  for (const file of walk(
    path.join(out, 'aws'),
    (f) => f.endsWith('.template.json') && !f.includes(`${path.sep}cdk.out${path.sep}`),
  )) {
    const text = fs.readFileSync(file, 'utf8');
    const stack = path.basename(file, '.template.json');
    inputs.push({
      kind: 'cloudformation',
      stack,
      file: rel(file),
      text,
      template: JSON.parse(text) as CloudFormationInput['template'],
      acknowledgements: assemblyAcknowledgements(path.join(path.dirname(file), `${stack}.metadata.json`)),
    });
  }
  for (const cloud of ['gcp', 'azure']) {
    for (const file of walk(path.join(out, cloud, 'stacks'), (f) => path.basename(f) === 'cdk.tf.json')) {
      const text = fs.readFileSync(file, 'utf8');
      inputs.push({
        kind: 'terraform',
        stack: path.basename(path.dirname(file)),
        file: rel(file),
        text,
        json: JSON.parse(text) as TerraformInput['json'],
      });
    }
  }
  // Kubernetes objects: each cluster folder (k8s/<stack>/<cluster>/) and each edge bundle (edge/<stack>/<fleet>/).
  for (const root of ['k8s', 'edge']) {
    const byFolder = new Map<
      string,
      { stack: string; files: { file: string; text: string; objects: KubernetesObject[] }[] }
    >();
    // YAML (cluster folders) and JSON (Config Sync bundles) files that hold Kubernetes objects.
    for (const file of walk(path.join(out, root), (f) => /\.(ya?ml|json)$/.test(f))) {
      const text = fs.readFileSync(file, 'utf8');
      const objects = (
        file.endsWith('.json')
          ? [jsonOrUndefined(text)]
          : parseAllDocuments(text).map((d) => d.toJS() as unknown)
      ).filter((o): o is KubernetesObject => isObject(o));
      if (objects.length === 0) continue;
      const parts = rel(file).split(path.sep);
      const folder = parts.slice(0, 3).join('/');
      const entry = byFolder.get(folder) ?? { stack: parts[1], files: [] };
      entry.files.push({ file: rel(file), text, objects });
      byFolder.set(folder, entry);
    }
    for (const { stack, files } of byFolder.values()) inputs.push({ kind: 'kubernetes', stack, files });
  }
  return inputs;
}

/**
 * The acknowledgements recorded in a cloud assembly's `<stack>.metadata.json` (`aws:cdk:acknowledged-rules`), by
 * the logical id of the resource (the construct's own, or its `Resource` child's).
 */
function assemblyAcknowledgements(file: string): Record<string, Record<string, string>> {
  if (!fs.existsSync(file)) return {};
  const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, { type: string; data: unknown }[]>;
  const logicalId = (p: string) =>
    [p, `${p}/Resource`]
      .map((q) => meta[q]?.find((e) => e.type === 'aws:cdk:logicalId')?.data)
      .find((d): d is string => typeof d === 'string');
  const out: Record<string, Record<string, string>> = {};
  for (const [p, entries] of Object.entries(meta)) {
    for (const e of entries) {
      if (e.type !== 'aws:cdk:acknowledged-rules') continue;
      const id = logicalId(p);
      if (id) out[id] = { ...out[id], ...(e.data as Record<string, string>) };
    }
  }
  return out;
}

function jsonOrUndefined(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isObject(o: unknown): boolean {
  if (typeof o !== 'object' || o === null) return false;
  const r = o as Record<string, unknown>;
  return typeof r.kind === 'string' && typeof r.apiVersion === 'string' && typeof r.metadata === 'object';
}

function parseAcks(value: unknown): Record<string, string> {
  if (typeof value === 'string') {
    try {
      return JSON.parse(value) as Record<string, string>;
    } catch {
      return {};
    }
  }
  return typeof value === 'object' && value !== null ? (value as Record<string, string>) : {};
}

/** The 1-based line of the first occurrence of `needle` in `text` (1 when absent). */
function lineOf(text: string, needle: string): number {
  const at = text.indexOf(needle);
  return at < 0 ? 1 : text.slice(0, at).split('\n').length;
}

/** Where a synth output keeps the app program's acknowledgements (`PolicyPack.acknowledge`). */
export const ACKNOWLEDGEMENTS_FILE = path.join('policy', 'acknowledgements.json');

/** The app program's acknowledgements recorded in a synth output (none when it has no file). */
export function readAcknowledgements(out: string): PolicyAcknowledgement[] {
  const file = path.join(out, ACKNOWLEDGEMENTS_FILE);
  if (!fs.existsSync(file)) return [];
  const parsed = JSON.parse(fs.readFileSync(file, 'utf8')) as unknown;
  if (
    !Array.isArray(parsed) ||
    !parsed.every(
      (a: Partial<PolicyAcknowledgement>) => typeof a?.rule === 'string' && typeof a.reason === 'string',
    )
  ) {
    throw new Error(`${file}: not a list of { rule, reason, stack?, match? } acknowledgements`);
  }
  return parsed as PolicyAcknowledgement[];
}

/**
 * Runs `rules` over a synth output folder. Findings not acknowledged where their object was made take the first
 * matching app-level acknowledgement (by default those recorded in the output).
 */
export function checkOutput(
  out: string,
  rules: readonly PolicyRule[] = BUILTIN_RULES,
  programAcks: readonly PolicyAcknowledgement[] = readAcknowledgements(out),
): PolicyReport {
  const ids = new Set<string>();
  for (const r of rules) {
    if (ids.has(r.id)) throw new Error(`policy rule ${r.id} is defined twice`);
    ids.add(r.id);
  }
  const findings: Finding[] = [];
  const stacks = new Set<string>();
  /** A finding of a Terraform or CloudFormation rule: its line is where `needle` (the resource's key) first is. */
  const add = (
    rule: PolicyRule,
    input: { stack: string; file: string; text: string },
    v: Violation,
    needle: string | undefined,
    acks: Record<string, string>,
  ) => {
    const acknowledged = acks[rule.id];
    findings.push({
      rule: rule.id,
      level: rule.level,
      message: v.message,
      stack: input.stack,
      file: input.file,
      line: needle ? lineOf(input.text, needle) : 1,
      target: v.resource ?? input.stack,
      ...(acknowledged ? { acknowledged } : {}),
    });
  };
  for (const input of inputsOf(out)) {
    stacks.add(input.stack);
    for (const rule of rules) {
      if (rule.target !== input.kind) continue;
      if (input.kind === 'kubernetes' && rule.target === 'kubernetes') {
        const objects = input.files.flatMap((f) => f.objects);
        for (const v of rule.check({ objects })) findings.push(kubernetesFinding(rule, input, v));
      } else if (input.kind === 'terraform' && rule.target === 'terraform') {
        for (const v of rule.check({ json: input.json })) {
          const [type, name] = (v.resource ?? '').split('.');
          const own = v.resource ? input.json.resource?.[type]?.[name]?.['//'] : input.json['//'];
          add(
            rule,
            input,
            v,
            v.resource ? `"${name}": {` : undefined,
            parseAcks((own as Record<string, unknown> | undefined)?.mlstack_acknowledge),
          );
        }
      } else if (input.kind === 'cloudformation' && rule.target === 'cloudformation') {
        for (const v of rule.check({ template: input.template, acknowledgements: input.acknowledgements })) {
          // mlstack's Metadata key, or aws-cdk-lib's own `Validations.of(x).acknowledge({ id, reason })`.
          const meta = v.resource ? input.template.Resources?.[v.resource]?.Metadata : undefined;
          const acks = {
            ...(v.resource ? input.acknowledgements[v.resource] : {}),
            ...parseAcks(meta?.[ACKNOWLEDGE_KEY]),
          };
          add(rule, input, v, v.resource ? `"${v.resource}": {` : undefined, acks);
        }
      }
    }
  }
  for (const [i, f] of findings.entries()) {
    if (f.acknowledged) continue;
    const a = programAcks.find(
      (x) =>
        x.rule === f.rule &&
        (x.stack === undefined || x.stack === f.stack) &&
        (x.match === undefined || f.target.includes(x.match) || f.message.includes(x.match)),
    );
    if (a) findings[i] = { ...f, acknowledged: a.reason };
  }
  return {
    rules: rules.map(({ id, level, title, description, fix, target }) => ({
      id,
      level,
      title,
      description,
      fix,
      target,
    })),
    findings,
    stacks: [...stacks].sort().map((stack) => {
      const own = findings.filter((f) => f.stack === stack);
      return {
        stack,
        errors: own.filter((f) => !f.acknowledged && f.level === 'error').length,
        warnings: own.filter((f) => !f.acknowledged && f.level === 'warning').length,
        acknowledged: own.filter((f) => f.acknowledged).length,
      };
    }),
  };
}

function kubernetesFinding(
  rule: PolicyRule,
  input: Extract<Input, { kind: 'kubernetes' }>,
  v: Violation,
): Finding {
  const o = v.object;
  const where = o ? input.files.find((f) => f.objects.includes(o)) : input.files[0];
  const acknowledged = o ? parseAcks(o.metadata.annotations?.[ACKNOWLEDGE_KEY])[rule.id] : undefined;
  return {
    rule: rule.id,
    level: rule.level,
    message: v.message,
    stack: input.stack,
    file: where?.file ?? '',
    line:
      o && where
        ? lineOf(
            where.text,
            where.file.endsWith('.json') ? `"name": "${o.metadata.name}"` : `name: ${o.metadata.name}`,
          )
        : 1,
    target: o
      ? `${o.kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`
      : input.stack,
    ...(acknowledged ? { acknowledged } : {}),
  };
}

/** Whether a report fails: unacknowledged errors, or with `strict` unacknowledged warnings too. */
export function failing(report: PolicyReport, strict: boolean): Finding[] {
  return report.findings.filter((f) => !f.acknowledged && (f.level === 'error' || strict));
}
