// `mlstack apply`: puts a cluster's synthesized Kubernetes objects on the cluster with server-side apply
// (field manager `mlstack`), in dependency order, with deploy-time values filled from the deploy's outputs, optional
// pruning through an ApplySet (KEP-3659, as kubectl's --applyset does), a server-side dry run with a field diff, and
// waiting for rollouts with the reason when one does not finish.
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
// @kubernetes/client-node is an ES module: loaded with import() when apply runs (and only then).
import type {
  CoreV1Api,
  KubeConfig,
  KubernetesObject,
  KubernetesObjectApi,
} from '@kubernetes/client-node' with {
  'resolution-mode': 'import',
};

type K8s = typeof import('@kubernetes/client-node', { with: { 'resolution-mode': 'import' } });
import { parseAllDocuments } from 'yaml';
import { readOutputsFile, resolvePlaceholders, type StackOutputs } from '../synth/deploy-time';
import { packageVersion, peerRange } from '../synth/package-info';

/** Options of `mlstack apply`. */
export interface ApplyOptions {
  /** kubeconfig context. @default - the current context */
  readonly context?: string;
  /** kubeconfig file. @default - KUBECONFIG, else ~/.kube/config */
  readonly kubeconfig?: string;
  /** Apply nothing: `server` asks the API server (and diffs), `client` only reads the files. */
  readonly dryRun?: 'server' | 'client';
  /** Delete objects this stack's cluster folder applied before and no longer has. @default false */
  readonly prune?: boolean;
  /** Wait for workloads to roll out and jobs to finish. @default false */
  readonly wait?: boolean;
  /** How long waiting for CRDs and rollouts may take, in ms. @default 600000 */
  readonly timeoutMs?: number;
  /** Take over fields another field manager owns. @default false */
  readonly forceConflicts?: boolean;
  /** Outputs files of the cloud deploy (`file` or `stack=file`), for deploy-time values. @default [] */
  readonly outputs?: readonly string[];
  /** With a whole synth output folder: the stack, and the cluster when the stack has several. */
  readonly stack?: string;
  readonly cluster?: string;
  /** Polling interval while waiting, in ms. @default 2000 */
  readonly pollMs?: number;
  /** Where progress lines go. */
  readonly log: (line: string) => void;
}

/** A Kubernetes object as read from a file. */
export interface ManifestObject extends KubernetesObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string>; [k: string]: unknown };
  [k: string]: unknown;
}

/** What `mlstack apply` did; `failures` non-empty means exit 1. */
export interface ApplyResult {
  readonly objects: number;
  readonly created: number;
  readonly changed: number;
  readonly unchanged: number;
  readonly pruned: readonly string[];
  readonly failures: readonly string[];
}

const APPLYSET_ID = 'applyset.kubernetes.io/id';
const APPLYSET_PART_OF = 'applyset.kubernetes.io/part-of';
const APPLYSET_KINDS = 'applyset.kubernetes.io/contains-group-kinds';
const APPLYSET_NAMESPACES = 'applyset.kubernetes.io/additional-namespaces';
const APPLYSET_TOOLING = 'applyset.kubernetes.io/tooling';
const FIELD_MANAGER = 'mlstack';
/** The kinds `--wait` waits for (what {@link rolloutStatus} judges). */
const ROLLED_OUT = ['Deployment', 'DaemonSet', 'StatefulSet', 'Job'];
/** Where the ApplySet parent ConfigMap lives. */
const PARENT_NAMESPACE = 'kube-system';

/** Which kinds go first: CRDs, namespaces, identities and RBAC, configuration, then the rest. */
const RANK: Record<string, number> = {
  CustomResourceDefinition: 0,
  Namespace: 1,
  ServiceAccount: 2,
  ClusterRole: 2,
  Role: 2,
  ClusterRoleBinding: 3,
  RoleBinding: 3,
  ConfigMap: 4,
  Secret: 4,
};

/** What serves the API groups mlstack's objects use that a plain cluster does not have. */
const PROVIDED_BY: Record<string, string> = {
  'karpenter.sh': 'the karpenter chart (charts/install.sh)',
  'karpenter.k8s.aws': 'the karpenter chart (charts/install.sh)',
  'keda.sh': 'the keda chart (charts/install.sh), or the KEDA you run (keda.existing)',
  'monitoring.googleapis.com': "GKE's Managed Service for Prometheus (managed collection on)",
  'azmonitoring.coreos.com': 'the AKS managed Prometheus metrics add-on (--enable-azure-monitor-metrics)',
  'monitoring.coreos.com': 'the Prometheus Operator',
};

/** `Kind namespace/name` (or `Kind name`) for messages. */
export function describe(o: KubernetesObject): string {
  const ns = o.metadata?.namespace;
  return `${o.kind} ${ns ? `${ns}/` : ''}${o.metadata?.name}`;
}

/** The group of an apiVersion (`''` for the core group). */
function groupOf(apiVersion: string): string {
  return apiVersion.includes('/') ? apiVersion.split('/')[0] : '';
}

/** Objects in apply order: by kind rank, then by file (whose numeric prefix is mlstack's order). */
export function applyOrder<T extends { object: ManifestObject; file: string }>(items: readonly T[]): T[] {
  const rank = (o: ManifestObject) => RANK[o.kind] ?? 9;
  return [...items].sort((a, b) => rank(a.object) - rank(b.object) || a.file.localeCompare(b.file));
}

/**
 * The ApplySet of a stack's cluster: its parent ConfigMap and id, computed as KEP-3659 says
 * (`applyset-<base64url(sha256(<name>.<namespace>.<Kind>.<group>))>-v1`).
 */
export function applySetFor(stack: string, cluster: string): { name: string; namespace: string; id: string } {
  const name = `mlstack-${stack}-${cluster}`
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, '-')
    .slice(0, 253);
  const hash = createHash('sha256').update(`${name}.${PARENT_NAMESPACE}.ConfigMap.`).digest('base64url');
  return { name, namespace: PARENT_NAMESPACE, id: `applyset-${hash}-v1` };
}

/** `Kind.group` of an object, as ApplySets list them. */
function groupKind(o: { apiVersion: string; kind: string }): string {
  return `${o.kind}.${groupOf(o.apiVersion)}`;
}

/**
 * Whether a workload has rolled out (or a Job finished), as `kubectl rollout status` decides, and what it is
 * waiting for.
 */
export function rolloutStatus(o: KubernetesObject & { spec?: unknown; status?: unknown }): {
  done: boolean;
  failed?: string;
  message: string;
} {
  const spec = (o.spec ?? {}) as Record<string, unknown>;
  const st = (o.status ?? {}) as Record<string, unknown>;
  const num = (v: unknown) => (typeof v === 'number' ? v : 0);
  const conditions = (st.conditions ?? []) as {
    type: string;
    status: string;
    reason?: string;
    message?: string;
  }[];
  const generation = o.metadata?.generation ?? 0;
  const observed = st.observedGeneration;
  const stale = typeof observed !== 'number' || observed < generation;
  switch (o.kind) {
    case 'Deployment': {
      const progressing = conditions.find((c) => c.type === 'Progressing');
      if (progressing?.reason === 'ProgressDeadlineExceeded') {
        return {
          done: false,
          failed: `progress deadline exceeded: ${progressing.message ?? ''}`,
          message: '',
        };
      }
      if (stale) return { done: false, message: 'waiting for the controller to observe the new generation' };
      const want = typeof spec.replicas === 'number' ? spec.replicas : 1;
      const updated = num(st.updatedReplicas);
      const available = num(st.availableReplicas);
      if (updated < want) return { done: false, message: `${updated} of ${want} replicas updated` };
      if (num(st.replicas) > updated)
        return { done: false, message: `${num(st.replicas) - updated} old replicas pending termination` };
      if (available < updated)
        return { done: false, message: `${available} of ${updated} updated replicas available` };
      return { done: true, message: `${available} of ${want} replicas available` };
    }
    case 'DaemonSet': {
      if (stale) return { done: false, message: 'waiting for the controller to observe the new generation' };
      const desired = num(st.desiredNumberScheduled);
      if (num(st.updatedNumberScheduled) < desired)
        return { done: false, message: `${num(st.updatedNumberScheduled)} of ${desired} pods updated` };
      if (num(st.numberAvailable) < desired)
        return { done: false, message: `${num(st.numberAvailable)} of ${desired} updated pods available` };
      return { done: true, message: `${desired} pods available` };
    }
    case 'StatefulSet': {
      if (stale) return { done: false, message: 'waiting for the controller to observe the new generation' };
      const want = typeof spec.replicas === 'number' ? spec.replicas : 1;
      if (num(st.readyReplicas) < want)
        return { done: false, message: `${num(st.readyReplicas)} of ${want} pods ready` };
      if (st.updateRevision !== st.currentRevision)
        return { done: false, message: `${num(st.updatedReplicas)} of ${want} pods updated` };
      return { done: true, message: `${want} pods ready` };
    }
    case 'Job': {
      const failed = conditions.find((c) => c.type === 'Failed' && c.status === 'True');
      if (failed)
        return { done: false, failed: `${failed.reason ?? 'failed'}: ${failed.message ?? ''}`, message: '' };
      const completions = typeof spec.completions === 'number' ? spec.completions : 1;
      if (num(st.succeeded) >= completions) return { done: true, message: 'complete' };
      return { done: false, message: `${num(st.succeeded)} of ${completions} completions` };
    }
    default:
      return { done: true, message: 'applied' };
  }
}

const IGNORED = new Set([
  '.metadata.managedFields',
  '.metadata.resourceVersion',
  '.metadata.generation',
  '.metadata.uid',
  '.metadata.creationTimestamp',
  '.status',
]);

/** Leaf differences between the live object and what applying would make, field by field. */
export function fieldDiff(
  live: unknown,
  next: unknown,
  at = '',
): { path: string; from: unknown; to: unknown }[] {
  if (IGNORED.has(at)) return [];
  const isMap = (x: unknown): x is Record<string, unknown> =>
    typeof x === 'object' && x !== null && !Array.isArray(x);
  if (isMap(live) && isMap(next)) {
    const keys = [...new Set([...Object.keys(live), ...Object.keys(next)])].sort();
    return keys.flatMap((k) => fieldDiff(live[k], next[k], `${at}.${k}`));
  }
  return JSON.stringify(live) === JSON.stringify(next) ? [] : [{ path: at || '.', from: live, to: next }];
}

function short(v: unknown): string {
  if (v === undefined) return '(none)';
  const s = JSON.stringify(v);
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** The cluster folder (`k8s/<stack>/<cluster>`) that `source` names, with its stack and cluster. */
export function clusterFolder(
  source: string,
  stack?: string,
  cluster?: string,
): { dir: string; stack: string; cluster: string } {
  if (!fs.existsSync(source) || !fs.statSync(source).isDirectory()) {
    throw new Error(
      `'${source}' is not a folder: pass k8s/<stack>/<cluster>/ of a synth output, or the output with --stack.`,
    );
  }
  if (fs.readdirSync(source).some((f) => f.endsWith('.yaml'))) {
    const dir = path.resolve(source);
    return { dir, stack: path.basename(path.dirname(dir)), cluster: path.basename(dir) };
  }
  const k8s = fs.existsSync(path.join(source, 'k8s')) ? path.join(source, 'k8s') : source;
  const stacks = fs.readdirSync(k8s).filter((f) => fs.statSync(path.join(k8s, f)).isDirectory());
  if (!stack) {
    throw new Error(
      `'${source}' holds the Kubernetes objects of ${stacks.length} stack(s) (${stacks.join(', ')}): name one with --stack, or pass k8s/<stack>/<cluster>/.`,
    );
  }
  if (!stacks.includes(stack))
    throw new Error(`no stack '${stack}' in ${k8s}: it has ${stacks.join(', ') || 'none'}.`);
  const clusters = fs.readdirSync(path.join(k8s, stack));
  const chosen = cluster ?? (clusters.length === 1 ? clusters[0] : undefined);
  if (!chosen || !clusters.includes(chosen)) {
    throw new Error(`stack '${stack}' has clusters ${clusters.join(', ')}: name one with --cluster.`);
  }
  return { dir: path.join(k8s, stack, chosen), stack, cluster: chosen };
}

/** Reads the folder's objects with deploy-time values filled in; throws naming what is missing and how to get it. */
export function loadObjects(
  dir: string,
  outputFiles: readonly string[],
): { object: ManifestObject; file: string }[] {
  const outputs = new Map<string, Record<string, string>>();
  for (const spec of outputFiles) {
    const m = /^([A-Za-z0-9_.-]+)=(.+)$/.exec(spec);
    const [stack, file] = m && !fs.existsSync(spec) ? [m[1], m[2]] : [undefined, spec];
    for (const [s, values] of readOutputsFile(file, stack)) outputs.set(s, { ...outputs.get(s), ...values });
  }
  const out: { object: ManifestObject; file: string }[] = [];
  const missing = new Set<string>();
  for (const file of fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()) {
    const r = resolvePlaceholders(fs.readFileSync(path.join(dir, file), 'utf8'), outputs as StackOutputs);
    for (const ref of r.missing) missing.add(`${ref.stack}/${ref.output} (in ${file})`);
    for (const doc of parseAllDocuments(r.text)) {
      if (doc.errors.length) throw new Error(`${file}: ${doc.errors[0].message}`);
      const object = doc.toJS() as ManifestObject | null;
      if (!object) continue;
      if (!object.apiVersion || !object.kind || !object.metadata?.name) {
        throw new Error(
          `${file}: not a Kubernetes object (apiVersion, kind and metadata.name are required).`,
        );
      }
      out.push({ object, file });
    }
  }
  if (missing.size) {
    throw new Error(
      `values known only after the cloud deploy are missing: ${[...missing].join(', ')}. Pass the deploy's outputs: --outputs outputs.json (cdk deploy --outputs-file outputs.json) or --outputs <stack>=<file> (terraform output -json > <file>).`,
    );
  }
  return out;
}

/** The object client, with discovery exposed (and its cache cleared when CRDs appear). */
interface Client extends KubernetesObjectApi {
  /** Whether the API server serves `kind` in `apiVersion` now. */
  serves(apiVersion: string, kind: string): Promise<boolean>;
  forgetDiscovery(): void;
}

function makeClient(k8s: K8s, kc: KubeConfig): Client {
  class DiscoveringClient extends k8s.KubernetesObjectApi implements Client {
    public async serves(apiVersion: string, kind: string): Promise<boolean> {
      try {
        return (await this.resource(apiVersion, kind)) !== undefined;
      } catch (e) {
        if (isApiError(e) && e.code === 404) return false;
        throw e;
      }
    }
    public forgetDiscovery(): void {
      this.apiVersionResourceCache = {};
    }
  }
  const client = k8s.KubernetesObjectApi.makeApiClient(kc);
  Object.setPrototypeOf(client, DiscoveringClient.prototype);
  return client as DiscoveringClient;
}

/** An error answer of the API server (client-node's ApiException). */
function isApiError(e: unknown): e is { code: number; body: unknown } {
  return (
    typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'number' && 'body' in e
  );
}

/** The Status object an API error carries (client-node gives its body as text or parsed). */
function statusOf(e: { body: unknown }): {
  message?: string;
  details?: { causes?: { message?: string; field?: string }[] };
} {
  try {
    return (typeof e.body === 'string' ? JSON.parse(e.body) : e.body) ?? {};
  } catch {
    return { message: String(e.body) };
  }
}

function apiMessage(e: unknown): string {
  return isApiError(e) ? `${e.code}: ${statusOf(e).message ?? String(e.body)}` : (e as Error).message;
}

/** The 409 of a server-side apply, as `field is managed by "x"` lines. */
function conflicts(e: { body: unknown }): string[] {
  const status = statusOf(e);
  const causes = status.details?.causes ?? [];
  if (causes.length === 0) return [status.message ?? 'conflict'];
  return causes.map((c) => `${c.field} is managed by ${(c.message ?? '').replace(/^conflict with /, '')}`);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Applies a cluster folder; see {@link ApplyOptions}. */
export async function applyCommand(source: string, opts: ApplyOptions): Promise<ApplyResult> {
  const log = opts.log;
  // The client library is an optional peer: say what to install before reading anything.
  if (opts.dryRun !== 'client') {
    try {
      require.resolve('@kubernetes/client-node');
    } catch {
      throw new Error(
        `mlstack apply needs @kubernetes/client-node, an optional peer dependency: run 'npm install @kubernetes/client-node@${peerRange('@kubernetes/client-node')}' (synth does not need it).`,
      );
    }
  }
  const { dir, stack, cluster } = clusterFolder(source, opts.stack, opts.cluster);
  const set = applySetFor(stack, cluster);
  const items = applyOrder(loadObjects(dir, opts.outputs ?? []));
  for (const { object } of items) {
    object.metadata.labels = { ...object.metadata.labels, [APPLYSET_PART_OF]: set.id };
  }
  const keyOf = (o: KubernetesObject) =>
    `${groupKind(o as ManifestObject)}|${o.metadata?.namespace ?? ''}|${o.metadata?.name}`;
  const wanted = new Set(items.map((i) => keyOf(i.object)));
  const kinds = [...new Set(items.map((i) => groupKind(i.object)))].sort();
  const namespaces = [
    ...new Set(items.map((i) => i.object.metadata.namespace).filter((n): n is string => !!n)),
  ].sort();

  if (opts.dryRun === 'client') {
    for (const { object, file } of items) log(`would apply ${describe(object)} (${file})`);
    log(`${items.length} object(s) of ${stack}/${cluster}; nothing sent to a cluster (--dry-run=client)`);
    return { objects: items.length, created: 0, changed: 0, unchanged: 0, pruned: [], failures: [] };
  }

  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  if (opts.kubeconfig) kc.loadFromFile(opts.kubeconfig);
  else kc.loadFromDefault();
  if (opts.context) {
    const names = kc.getContexts().map((c) => c.name);
    if (!names.includes(opts.context)) {
      throw new Error(
        `no context '${opts.context}' in the kubeconfig: it has ${names.join(', ') || 'none'}.`,
      );
    }
    kc.setCurrentContext(opts.context);
  }
  if (!kc.getCurrentCluster()) {
    throw new Error(
      'no cluster in the kubeconfig: get one with aws eks update-kubeconfig / gcloud container clusters get-credentials / az aks get-credentials (the stack output KubeconfigCommand), or pass --kubeconfig.',
    );
  }
  const client = makeClient(k8s, kc);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const dryRun = opts.dryRun === 'server' ? 'All' : undefined;
  const deadline = Date.now() + (opts.timeoutMs ?? 600_000);
  const pollMs = opts.pollMs ?? 2000;
  const failures: string[] = [];
  let created = 0;
  let changed = 0;
  let unchanged = 0;

  // CRDs first, each waited for until Established; kinds nothing serves fail before anything is applied.
  const crds = items.filter((i) => i.object.kind === 'CustomResourceDefinition');
  const rest = items.filter((i) => i.object.kind !== 'CustomResourceDefinition');
  const unserved = new Map<string, { group: string; objects: string[] }>();
  // Kinds the CRDs of this folder define are served once those are applied; every other kind must be served now.
  const defined = new Set(
    crds.flatMap(({ object }) => {
      const spec = (object.spec ?? {}) as { group?: string; names?: { kind?: string } };
      return [`${spec.names?.kind}.${spec.group}`];
    }),
  );
  for (const { object } of rest) {
    if (defined.has(groupKind(object))) continue;
    if (!(await client.serves(object.apiVersion, object.kind))) {
      const k = `${object.kind} (${object.apiVersion})`;
      const entry = unserved.get(k) ?? { group: groupOf(object.apiVersion), objects: [] };
      entry.objects.push(describe(object));
      unserved.set(k, entry);
    }
  }
  if (unserved.size) {
    const lines = [...unserved].map(([k, { group, objects }]) => {
      const by = PROVIDED_BY[group] ?? 'a CRD the cluster does not have';
      return `${k}, which ${by} serves: ${objects.length} object(s)`;
    });
    throw new Error(
      `the cluster does not serve ${unserved.size} kind(s) these objects use:\n  ${lines.join('\n  ')}\nInstall what serves them first (charts: mlstack resolve ${dir} --outputs … --to deploy/ && sh deploy/charts/install.sh), then apply again. Nothing was applied.`,
    );
  }

  // The ApplySet parent first, with the union of old and new kinds, so a cut-off run can still prune later.
  const parent = await readOrUndefined(client, {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: set.name, namespace: set.namespace },
  });
  const oldKinds = (parent?.metadata?.annotations?.[APPLYSET_KINDS] ?? '').split(',').filter(Boolean);
  const oldNamespaces = (parent?.metadata?.annotations?.[APPLYSET_NAMESPACES] ?? '')
    .split(',')
    .filter(Boolean);
  const writeParent = async (groupKinds: string[], nss: string[]) => {
    await client.patch(
      {
        apiVersion: 'v1',
        kind: 'ConfigMap',
        metadata: {
          name: set.name,
          namespace: set.namespace,
          labels: { [APPLYSET_ID]: set.id, 'app.kubernetes.io/managed-by': 'mlstack' },
          annotations: {
            [APPLYSET_TOOLING]: `mlstack/v${packageVersion()}`,
            [APPLYSET_KINDS]: groupKinds.join(','),
            [APPLYSET_NAMESPACES]: nss.filter((n) => n !== set.namespace).join(','),
          },
        },
      },
      undefined,
      undefined,
      FIELD_MANAGER,
      true,
      k8s.PatchStrategy.ServerSideApply,
    );
  };
  // Every kind the ApplySet holds or held: what the parent lists until pruning, and what pruning looks through.
  const everyKind = [...new Set([...oldKinds, ...kinds])].sort();
  if (!dryRun) await writeParent(everyKind, [...new Set([...oldNamespaces, ...namespaces])].sort());

  const applyOne = async (object: ManifestObject): Promise<KubernetesObject | undefined> => {
    const live = await readOrUndefined(client, object);
    try {
      const result = await client.patch(
        object,
        undefined,
        dryRun,
        FIELD_MANAGER,
        opts.forceConflicts ?? false,
        k8s.PatchStrategy.ServerSideApply,
      );
      const diff = live ? fieldDiff(live, result) : [];
      if (!live) created++;
      else if (diff.length === 0) unchanged++;
      else changed++;
      if (dryRun) {
        if (!live) log(`+ ${describe(object)} (would be created)`);
        else if (diff.length) {
          log(`~ ${describe(object)}`);
          for (const d of diff) log(`    ${d.path}: ${short(d.from)} → ${short(d.to)}`);
        }
      } else {
        log(`${describe(object)} ${!live ? 'created' : diff.length ? 'configured' : 'unchanged'}`);
      }
      return result;
    } catch (e) {
      if (isApiError(e) && e.code === 409) {
        failures.push(
          `${describe(object)}: ${conflicts(e).join('; ')}. Rerun with --force-conflicts to take these fields over (mlstack then owns them), or stop the other manager from setting them.`,
        );
      } else {
        failures.push(`${describe(object)}: ${apiMessage(e)}`);
      }
      return undefined;
    }
  };

  for (const { object } of crds) await applyOne(object);
  if (crds.length && !dryRun) {
    for (const { object } of crds) {
      for (;;) {
        const live = (await readOrUndefined(client, object)) as
          { status?: { conditions?: { type: string; status: string }[] } } | undefined;
        if (live?.status?.conditions?.some((c) => c.type === 'Established' && c.status === 'True')) break;
        if (Date.now() > deadline) {
          failures.push(`${describe(object)}: not Established before the timeout`);
          break;
        }
        await sleep(Math.min(pollMs, 500));
      }
    }
    client.forgetDiscovery();
  }
  const applied: KubernetesObject[] = [];
  for (const { object } of rest) {
    const r = await applyOne(object);
    if (r) applied.push(r);
  }

  // Pruning: only objects carrying this ApplySet's label, of the kinds it ever held, and not in this output.
  const pruned: string[] = [];
  if (opts.prune && failures.length === 0) {
    for (const gk of everyKind) {
      const [kind, ...groupParts] = gk.split('.');
      const group = groupParts.join('.');
      const apiVersion =
        items.map((i) => i.object.apiVersion).find((v) => groupOf(v) === group) ??
        (await preferredVersion(k8s, kc, group));
      if (!apiVersion || !(await client.serves(apiVersion, kind))) continue;
      const list = await client.list(
        apiVersion,
        kind,
        undefined,
        undefined,
        undefined,
        undefined,
        undefined,
        `${APPLYSET_PART_OF}=${set.id}`,
      );
      for (const o of list.items) {
        const full = { ...o, apiVersion, kind } as ManifestObject;
        if (wanted.has(keyOf(full))) continue;
        if (o.metadata?.labels?.[APPLYSET_PART_OF] !== set.id) continue;
        if (dryRun) log(`- ${describe(full)} (would be pruned: no longer in the output)`);
        else {
          await client.delete(full);
          log(`- ${describe(full)} pruned (no longer in the output)`);
        }
        pruned.push(describe(full));
      }
    }
    if (!dryRun) await writeParent(kinds, namespaces);
  }

  if (opts.wait && !dryRun && failures.length === 0) {
    const pending = new Map(
      applied.filter((o) => ROLLED_OUT.includes(o.kind ?? '')).map((o) => [describe(o), o]),
    );
    const last = new Map<string, string>();
    while (pending.size) {
      for (const [name, o] of [...pending]) {
        const live = (await readOrUndefined(client, o)) as KubernetesObject | undefined;
        if (!live) continue;
        const s = rolloutStatus(live);
        if (s.failed) {
          failures.push(`${name}: ${s.failed}`);
          pending.delete(name);
        } else if (s.done) {
          log(`${name}: ready (${s.message})`);
          pending.delete(name);
        } else if (last.get(name) !== s.message) {
          log(`${name}: ${s.message}`);
          last.set(name, s.message);
        }
      }
      if (!pending.size) break;
      if (Date.now() > deadline) {
        const reasons: string[] = [];
        for (const [name, o] of pending) {
          reasons.push(`${name} (${last.get(name) ?? 'no status yet'})${await why(core, o)}`);
        }
        failures.push(
          `timed out after ${Math.round((opts.timeoutMs ?? 600_000) / 1000)} s waiting for ${pending.size} object(s):\n  ${reasons.join('\n  ')}`,
        );
        break;
      }
      await sleep(pollMs);
    }
  }
  log(
    dryRun
      ? `${created} to create, ${changed} to change, ${unchanged} unchanged, ${pruned.length} to prune (--dry-run=server: nothing changed)`
      : `${created} created, ${changed} configured, ${unchanged} unchanged, ${pruned.length} pruned`,
  );
  return { objects: items.length, created, changed, unchanged, pruned, failures };
}

async function readOrUndefined(
  client: KubernetesObjectApi,
  o: KubernetesObject,
): Promise<KubernetesObject | undefined> {
  try {
    return await client.read({
      apiVersion: o.apiVersion!,
      kind: o.kind!,
      metadata: {
        name: o.metadata!.name!,
        ...(o.metadata?.namespace ? { namespace: o.metadata.namespace } : {}),
      },
    });
  } catch (e) {
    if (isApiError(e) && e.code === 404) return undefined;
    throw e;
  }
}

/** The preferred version of an API group the output no longer uses (for pruning kinds it used before). */
async function preferredVersion(k8s: K8s, kc: KubeConfig, group: string): Promise<string | undefined> {
  if (group === '') return 'v1';
  const groups = await kc.makeApiClient(k8s.ApisApi).getAPIVersions();
  return groups.groups.find((g) => g.name === group)?.preferredVersion?.groupVersion;
}

/** Why a workload is not ready: its pods' false conditions and their warning events. */
async function why(core: CoreV1Api, o: KubernetesObject): Promise<string> {
  const ns = o.metadata?.namespace ?? 'default';
  const selector = ((o as { spec?: { selector?: { matchLabels?: Record<string, string> } } }).spec?.selector
    ?.matchLabels ?? {}) as Record<string, string>;
  const labelSelector = Object.entries(selector)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const out: string[] = [];
  try {
    const pods = await core.listNamespacedPod({ namespace: ns, ...(labelSelector ? { labelSelector } : {}) });
    for (const pod of pods.items.slice(0, 3)) {
      for (const c of pod.status?.conditions ?? []) {
        if (c.status !== 'True')
          out.push(
            `pod ${pod.metadata?.name}: ${c.type}=${c.status} ${c.reason ?? ''}: ${c.message ?? ''}`.trim(),
          );
      }
      const events = await core.listNamespacedEvent({
        namespace: ns,
        fieldSelector: `involvedObject.name=${pod.metadata?.name}`,
      });
      for (const ev of events.items.filter((x) => x.type === 'Warning').slice(-2)) {
        out.push(`event ${ev.reason}: ${ev.message}`);
      }
    }
  } catch (e) {
    out.push(`(could not read its pods: ${apiMessage(e)})`);
  }
  return out.length ? `\n    ${out.join('\n    ')}` : '';
}
