import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fullDiff, ResourceImpact } from '@aws-cdk/cloudformation-diff';
import { createTwoFilesPatch } from 'diff';
import { parse } from 'yaml';
import { listFiles } from '../synth/files';
import { SYNTH_FOLDERS, type SynthFolder } from '../synth/output';
import { KUBERNETES_REPLACING, REPLACING_ATTRIBUTES, STATEFUL_TYPES } from './rules';

/** Where a change is: a folder of the synth output. */
export type DiffArea = SynthFolder;

/** What a change does. `replace` deletes the old resource and creates a new one. */
export type ChangeKind = 'add' | 'update' | 'replace' | 'remove';

/** One resource, object or model that differs between two synth outputs. */
export interface Change {
  readonly area: DiffArea;
  /** Stack name (for k8s and models: the stack folder). */
  readonly stack: string;
  /** Logical id, `type.name`, `Kind/namespace/name` or `service/model`. */
  readonly id: string;
  /** Resource type, Kubernetes kind, or `model`. */
  readonly type: string;
  readonly kind: ChangeKind;
  /** A resource that holds data (database, bucket, cluster, node pool, secret, key). */
  readonly stateful: boolean;
  /** The property or attribute paths that differ (updates and replacements). */
  readonly paths: readonly string[];
  /** The old and new value of each path (updates and replacements). */
  readonly values?: readonly ValueChange[];
  /** The paths that force the replacement. */
  readonly replacedBy?: readonly string[];
  /** CloudFormation says the replacement depends on values known at deploy. */
  readonly mayReplace?: boolean;
  /** A unified diff of the object (Kubernetes objects, model configs). */
  readonly patch?: string;
  /** Removed from the stack but kept by its retain policy (CloudFormation `DeletionPolicy: Retain`). */
  readonly orphaned?: boolean;
}

/** The comparison of two synth outputs. */
export interface DiffReport {
  readonly base: string;
  readonly head: string;
  readonly changes: readonly Change[];
}

/** What `--fail-on` blocks. */
export type FailOn = 'destroy' | 'replace' | 'any' | 'none';

/**
 * Whether `report` crosses `level`: `destroy` — something would be deleted (a removal, or the replacement of a
 * stateful resource, whose data goes with the old one); `replace` — that, or any replacement; `any` — any change.
 */
export function crosses(report: DiffReport, level: FailOn): boolean {
  const destroys = (c: Change) => c.kind === 'remove' || (c.kind === 'replace' && c.stateful);
  switch (level) {
    case 'none':
      return false;
    case 'destroy':
      return report.changes.some(destroys);
    case 'replace':
      return report.changes.some((c) => destroys(c) || c.kind === 'replace');
    case 'any':
      return report.changes.length > 0;
  }
}

/** Compares two folders written by `mlstack synth`. */
export function diffSynthOutputs(base: string, head: string): DiffReport {
  for (const [name, dir] of [
    ['base', base],
    ['head', head],
  ]) {
    if (!fs.existsSync(dir) || !fs.statSync(dir).isDirectory()) {
      throw new Error(
        `${name} synth output '${dir}' is not a folder. Pass two folders written by 'mlstack synth'.`,
      );
    }
    if (!SYNTH_FOLDERS.some((d) => fs.existsSync(path.join(dir, d.name)))) {
      throw new Error(
        `${name} '${dir}' holds none of ${SYNTH_FOLDERS.map((d) => `${d.name}/`).join(', ')}: it is not an 'mlstack synth' output.`,
      );
    }
  }
  return {
    base,
    head,
    changes: [
      ...diffCloudFormation(base, head),
      ...diffTerraform('gcp', base, head),
      ...diffTerraform('azure', base, head),
      ...diffKubernetes(base, head),
      ...diffModels(base, head),
      ...diffFiles('dashboards', base, head),
      ...diffFiles('edge', base, head),
    ],
  };
}

function readJson(file: string): Record<string, unknown> | undefined {
  if (!fs.existsSync(file)) return undefined;
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`${file} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

function files(dir: string, filter: (f: string) => boolean): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter(filter).sort();
}

function union(a: string[], b: string[]): string[] {
  return [...new Set([...a, ...b])].sort();
}

/** One leaf that differs: its dot path (array indices as numbers) and its values (undefined where absent). */
export interface ValueChange {
  readonly path: string;
  readonly old?: unknown;
  readonly new?: unknown;
}

/** The leaves where `a` and `b` differ, with their old and new values, at most `limit` of them. */
export function changedValues(a: unknown, b: unknown, prefix = '', limit = 50): ValueChange[] {
  const out: ValueChange[] = [];
  const walk = (x: unknown, y: unknown, p: string) => {
    if (out.length >= limit) return;
    if (JSON.stringify(x) === JSON.stringify(y)) return;
    const isObj = (v: unknown) => typeof v === 'object' && v !== null;
    if (isObj(x) && isObj(y) && Array.isArray(x) === Array.isArray(y)) {
      const keys = union(Object.keys(x as object), Object.keys(y as object));
      for (const k of keys) {
        walk((x as Record<string, unknown>)[k], (y as Record<string, unknown>)[k], p ? `${p}.${k}` : k);
      }
      return;
    }
    out.push({
      path: p || '(value)',
      ...(x !== undefined ? { old: x } : {}),
      ...(y !== undefined ? { new: y } : {}),
    });
  };
  walk(a, b, prefix);
  return out;
}

/** Dot paths (array indices as numbers) where `a` and `b` differ, at most `limit` of them. */
export function changedPaths(a: unknown, b: unknown, prefix = '', limit = 50): string[] {
  return changedValues(a, b, prefix, limit).map((v) => v.path);
}

const IMPACT_KIND: Partial<Record<ResourceImpact, ChangeKind>> = {
  [ResourceImpact.WILL_CREATE]: 'add',
  [ResourceImpact.WILL_UPDATE]: 'update',
  [ResourceImpact.WILL_REPLACE]: 'replace',
  [ResourceImpact.MAY_REPLACE]: 'replace',
  [ResourceImpact.WILL_DESTROY]: 'remove',
  [ResourceImpact.WILL_ORPHAN]: 'remove',
};

/** CloudFormation templates of `aws/`, diffed with @aws-cdk/cloudformation-diff (the engine of `cdk diff`). */
function diffCloudFormation(base: string, head: string): Change[] {
  const dirA = path.join(base, 'aws');
  const dirB = path.join(head, 'aws');
  const isTemplate = (f: string) => f.endsWith('.template.json');
  const changes: Change[] = [];
  for (const file of union(files(dirA, isTemplate), files(dirB, isTemplate))) {
    const stack = file.replace(/\.template\.json$/, '');
    const a = readJson(path.join(dirA, file)) ?? {};
    const b = readJson(path.join(dirB, file)) ?? {};
    const diff = fullDiff(a, b);
    diff.resources.forEachDifference((logicalId, change) => {
      const kind = IMPACT_KIND[change.changeImpact];
      if (!kind) return;
      const type = change.newResourceType ?? change.oldResourceType ?? 'unknown';
      const replacedBy: string[] = [];
      for (const [name, p] of Object.entries(change.propertyUpdates)) {
        if (p.changeImpact === ResourceImpact.WILL_REPLACE || p.changeImpact === ResourceImpact.MAY_REPLACE) {
          replacedBy.push(`Properties.${name}`);
        }
      }
      changes.push({
        area: 'aws',
        stack,
        id: logicalId,
        type,
        kind,
        stateful: STATEFUL_TYPES.has(type),
        ...(kind === 'update' || kind === 'replace'
          ? (() => {
              const values = changedValues(change.oldValue, change.newValue);
              return { paths: values.map((v) => v.path), values };
            })()
          : { paths: [] }),
        ...(kind === 'replace' ? { replacedBy } : {}),
        ...(change.changeImpact === ResourceImpact.MAY_REPLACE ? { mayReplace: true } : {}),
        ...(change.changeImpact === ResourceImpact.WILL_ORPHAN ? { orphaned: true } : {}),
      });
    });
  }
  return changes;
}

type TerraformBlocks = Record<string, Record<string, Record<string, unknown>>>;

/** `cdk.tf.json` of each stack of `gcp/` or `azure/`: resources and data sources by type and name. */
function diffTerraform(area: 'gcp' | 'azure', base: string, head: string): Change[] {
  const dirA = path.join(base, area, 'stacks');
  const dirB = path.join(head, area, 'stacks');
  const isDir = (d: string) => (f: string) => fs.statSync(path.join(d, f)).isDirectory();
  const changes: Change[] = [];
  for (const stack of union(files(dirA, isDir(dirA)), files(dirB, isDir(dirB)))) {
    const a = readJson(path.join(dirA, stack, 'cdk.tf.json')) ?? {};
    const b = readJson(path.join(dirB, stack, 'cdk.tf.json')) ?? {};
    for (const block of ['resource', 'data'] as const) {
      const ra = (a[block] ?? {}) as TerraformBlocks;
      const rb = (b[block] ?? {}) as TerraformBlocks;
      for (const type of union(Object.keys(ra), Object.keys(rb))) {
        const ta = ra[type] ?? {};
        const tb = rb[type] ?? {};
        for (const name of union(Object.keys(ta), Object.keys(tb))) {
          const id = `${block === 'data' ? 'data.' : ''}${type}.${name}`;
          const stateful = block === 'resource' && STATEFUL_TYPES.has(type);
          const base = { area, stack, id, type, stateful };
          const va = strip(ta[name]);
          const vb = strip(tb[name]);
          if (va === undefined) {
            changes.push({ ...base, kind: 'add', paths: [] });
          } else if (vb === undefined) {
            changes.push({ ...base, kind: 'remove', paths: [] });
          } else {
            const values = changedValues(va, vb);
            const paths = values.map((v) => v.path);
            if (paths.length === 0) continue;
            const replacedBy =
              block === 'resource' ? replacingPaths(paths, REPLACING_ATTRIBUTES[type] ?? []) : [];
            changes.push({
              ...base,
              kind: replacedBy.length ? 'replace' : 'update',
              paths,
              values,
              ...(replacedBy.length ? { replacedBy } : {}),
            });
          }
        }
      }
    }
  }
  return changes;
}

/** The `paths` (array indices ignored) at or under one of `replacing`. */
function replacingPaths(paths: readonly string[], replacing: readonly string[]): string[] {
  return paths.filter((p) => {
    const bare = p.replace(/\.\d+(?=\.|$)/g, '');
    return replacing.some((f) => bare === f || bare.startsWith(`${f}.`));
  });
}

/** A Terraform block without cdktf's `//` metadata (construct paths, which move without changing anything). */
function strip(v: Record<string, unknown> | undefined): Record<string, unknown> | undefined {
  if (v === undefined) return undefined;
  const { '//': _meta, ...rest } = v;
  void _meta;
  return rest;
}

interface K8sObject {
  readonly file: string;
  readonly text: string;
  readonly kind: string;
  /** What is compared path by path: the object, or a chart's header line and values. */
  readonly value: unknown;
}

/** A chart's values file (`charts/<release>.values.yaml`), whose first line names the chart and version. */
const CHART_VALUES = /\.values\.yaml$/;

function readObjects(dir: string): Map<string, K8sObject> {
  const out = new Map<string, K8sObject>();
  if (!fs.existsSync(dir)) return out;
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.yaml')) {
        const text = fs.readFileSync(p, 'utf8');
        const rel = path.relative(dir, p);
        const stack = rel.split(path.sep)[0];
        if (path.basename(path.dirname(p)) === 'charts' && CHART_VALUES.test(e.name)) {
          const cluster = path.basename(path.dirname(path.dirname(p)));
          const release = e.name.replace(CHART_VALUES, '');
          const value = { chart: text.split('\n')[0].replace(/^#\s*/, ''), values: parse(text) as unknown };
          out.set(`${stack}\u0000HelmChart/${cluster}/${release}`, {
            file: rel,
            text,
            kind: 'HelmChart',
            value,
          });
          continue;
        }
        const obj = parse(text) as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
        if (!obj?.kind || !obj.metadata?.name) continue;
        const ref = `${obj.kind}/${obj.metadata.namespace ? `${obj.metadata.namespace}/` : ''}${obj.metadata.name}`;
        out.set(`${stack}\u0000${ref}`, { file: rel, text, kind: obj.kind, value: obj });
      }
    }
  };
  walk(dir);
  return out;
}

/** Every Kubernetes object of `k8s/`, by stack and `Kind/namespace/name`, with a unified diff of changed ones. */
function diffKubernetes(base: string, head: string): Change[] {
  const a = readObjects(path.join(base, 'k8s'));
  const b = readObjects(path.join(head, 'k8s'));
  const changes: Change[] = [];
  for (const key of union([...a.keys()], [...b.keys()])) {
    const [stack, id] = key.split('\u0000');
    const oa = a.get(key);
    const ob = b.get(key);
    const type = (oa ?? ob)!.kind;
    const stateful = STATEFUL_TYPES.has(type);
    if (!oa) changes.push({ area: 'k8s', stack, id, type, kind: 'add', stateful, paths: [] });
    else if (!ob) changes.push({ area: 'k8s', stack, id, type, kind: 'remove', stateful, paths: [] });
    else if (oa.text !== ob.text) {
      const values = changedValues(oa.value, ob.value);
      const paths = values.map((v) => v.path);
      const replacedBy = replacingPaths(paths, KUBERNETES_REPLACING[type] ?? []);
      changes.push({
        area: 'k8s',
        stack,
        id,
        type,
        kind: replacedBy.length ? 'replace' : 'update',
        stateful,
        paths,
        values,
        ...(replacedBy.length ? { replacedBy } : {}),
        patch: createTwoFilesPatch(`base/${oa.file}`, `head/${ob.file}`, oa.text, ob.text, '', '', {
          context: 3,
        }),
      });
    }
  }
  return changes;
}

/** Models of `models/<stack>/<service>/<model>/`: added, removed, config or files changed. */
function diffModels(base: string, head: string): Change[] {
  const configs = new Map<string, string>();
  const read = (root: string) => {
    const out = new Map<string, Map<string, string>>();
    const dir = path.join(root, 'models');
    if (!fs.existsSync(dir)) return out;
    for (const stack of fs.readdirSync(dir)) {
      for (const service of fs.readdirSync(path.join(dir, stack))) {
        for (const model of fs.readdirSync(path.join(dir, stack, service))) {
          const files = new Map<string, string>();
          const configFile = path.join(dir, stack, service, model, 'config.pbtxt');
          configs.set(
            `${stack}\u0000${service}/${model}`,
            fs.existsSync(configFile) ? fs.readFileSync(configFile, 'utf8') : '',
          );
          const walk = (d: string, rel: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
              const r = rel ? `${rel}/${e.name}` : e.name;
              if (e.isDirectory()) walk(path.join(d, e.name), r);
              else
                files.set(
                  r,
                  createHash('sha256')
                    .update(fs.readFileSync(path.join(d, e.name)))
                    .digest('hex'),
                );
            }
          };
          walk(path.join(dir, stack, service, model), '');
          out.set(`${stack}\u0000${service}/${model}`, files);
        }
      }
    }
    return out;
  };
  const a = read(base);
  const configsA = new Map(configs);
  const b = read(head);
  const changes: Change[] = [];
  for (const key of union([...a.keys()], [...b.keys()])) {
    const [stack, id] = key.split('\u0000');
    const fa = a.get(key);
    const fb = b.get(key);
    const base = { area: 'models' as const, stack, id, type: 'model', stateful: false };
    if (!fa) changes.push({ ...base, kind: 'add', paths: [...fb!.keys()] });
    else if (!fb) changes.push({ ...base, kind: 'remove', paths: [...fa.keys()] });
    else {
      const paths = union([...fa.keys()], [...fb.keys()]).filter((f) => fa.get(f) !== fb.get(f));
      if (paths.length === 0) continue;
      const ca = configsA.get(key) ?? '';
      const cb = configs.get(key) ?? '';
      changes.push({
        ...base,
        kind: 'update',
        paths,
        ...(ca !== cb
          ? {
              patch: createTwoFilesPatch(
                `base/${id}/config.pbtxt`,
                `head/${id}/config.pbtxt`,
                ca,
                cb,
                '',
                '',
              ),
            }
          : {}),
      });
    }
  }
  return changes;
}

/**
 * Files of a folder written per stack (`dashboards/<stack>/…`, `edge/<stack>/…`): added, removed or changed, with a
 * unified diff for text files.
 */
function diffFiles(area: 'dashboards' | 'edge', base: string, head: string): Change[] {
  const read = (root: string) => {
    const dir = path.join(root, area);
    return new Map(listFiles(dir).map((f) => [f, fs.readFileSync(path.join(dir, f))] as const));
  };
  const a = read(base);
  const b = read(head);
  const changes: Change[] = [];
  for (const f of union([...a.keys()], [...b.keys()])) {
    const [stack, ...rest] = f.split('/');
    const id = rest.join('/');
    const common = { area, stack, id, type: 'file', stateful: false, paths: [] as string[] };
    const fa = a.get(f);
    const fb = b.get(f);
    if (!fa) changes.push({ ...common, kind: 'add' });
    else if (!fb) changes.push({ ...common, kind: 'remove' });
    else if (!fa.equals(fb)) {
      const text = /\.(json|ya?ml|sh|txt|md|pbtxt)$|Dockerfile$/.test(f);
      changes.push({
        ...common,
        kind: 'update',
        ...(text
          ? {
              patch: createTwoFilesPatch(
                `base/${id}`,
                `head/${id}`,
                fa.toString('utf8'),
                fb.toString('utf8'),
                '',
                '',
              ),
            }
          : {}),
      });
    }
  }
  return changes;
}
