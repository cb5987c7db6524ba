// A Kubernetes API server on 127.0.0.1 with the subset `mlstack apply` uses, written from the Kubernetes API
// documentation (https://kubernetes.io/docs/reference/using-api/api-concepts/, /server-side-apply/):
// - discovery: /api, /apis, /api/v1 and /apis/<group>/<version> resource lists; a CustomResourceDefinition's kind
//   is served (and listed) only once the CRD is Established, which happens `crdEstablishMs` after it is applied;
// - server-side apply (PATCH application/apply-patch+yaml): fieldManager required; each manager owns the fields it
//   applied; a field another manager owns with a different value is a 409 Conflict naming the manager and the
//   field unless force=true, which takes it over; fields a manager stops applying are removed unless another owns
//   them; dryRun=All answers without storing; managedFields are returned in FieldsV1 form;
// - GET, list (labelSelector `k=v`/`k` joined by `,`; fieldSelector `involvedObject.name=`, `involvedObject.kind=`),
//   DELETE; a namespaced object in a namespace that does not exist is a 404;
// - a controller stand-in: `rolloutMs` after a Deployment, DaemonSet, StatefulSet or Job is applied its status says
//   it is rolled out / complete, unless its `Kind/namespace/name` is in `stuck`, in which case it stays
//   unavailable with a Pending pod whose PodScheduled condition is False (Unschedulable) and a FailedScheduling
//   event, as a GPU pod on a cluster without GPU capacity shows.
// Its limits, next to the real one: lists are atomic in apply (no merge keys: a container list is one field);
// no watch (apply polls), no admission, defaulting, validation or authentication; no resourceVersion conflicts;
// no garbage collection of dependents.
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

interface ResourceType {
  readonly name: string;
  readonly kind: string;
  readonly namespaced: boolean;
}

interface Stored {
  obj: Obj;
  /** Field paths (`.spec.replicas`) by manager. */
  managers: Map<string, { fields: Set<string>; operation: 'Apply' | 'Update' }>;
}

const BUILTIN: Record<string, ResourceType[]> = {
  v1: [
    { name: 'namespaces', kind: 'Namespace', namespaced: false },
    { name: 'configmaps', kind: 'ConfigMap', namespaced: true },
    { name: 'secrets', kind: 'Secret', namespaced: true },
    { name: 'services', kind: 'Service', namespaced: true },
    { name: 'serviceaccounts', kind: 'ServiceAccount', namespaced: true },
    { name: 'pods', kind: 'Pod', namespaced: true },
    { name: 'events', kind: 'Event', namespaced: true },
  ],
  'apps/v1': [
    { name: 'deployments', kind: 'Deployment', namespaced: true },
    { name: 'daemonsets', kind: 'DaemonSet', namespaced: true },
    { name: 'statefulsets', kind: 'StatefulSet', namespaced: true },
  ],
  'batch/v1': [
    { name: 'jobs', kind: 'Job', namespaced: true },
    { name: 'cronjobs', kind: 'CronJob', namespaced: true },
  ],
  'rbac.authorization.k8s.io/v1': [
    { name: 'roles', kind: 'Role', namespaced: true },
    { name: 'rolebindings', kind: 'RoleBinding', namespaced: true },
    { name: 'clusterroles', kind: 'ClusterRole', namespaced: false },
    { name: 'clusterrolebindings', kind: 'ClusterRoleBinding', namespaced: false },
  ],
  'networking.k8s.io/v1': [{ name: 'networkpolicies', kind: 'NetworkPolicy', namespaced: true }],
  'policy/v1': [{ name: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', namespaced: true }],
  'apiextensions.k8s.io/v1': [
    { name: 'customresourcedefinitions', kind: 'CustomResourceDefinition', namespaced: false },
  ],
};

/** Options of {@link startFakeApiServer}. */
export interface FakeApiServerOptions {
  /** Delay before a workload's status says it is rolled out. @default 150 */
  readonly rolloutMs?: number;
  /** Delay before an applied CRD is Established and its kind served. @default 150 */
  readonly crdEstablishMs?: number;
  /** Workloads (`Deployment/ns/name`) that never become ready. @default none */
  readonly stuck?: readonly string[];
}

/** A running fake API server. */
export interface FakeApiServer {
  readonly url: string;
  /** Every request as `METHOD path?query`. */
  readonly requests: string[];
  /** The stored object, by `apiVersion/kind/namespace/name` parts. */
  get(apiVersion: string, kind: string, namespace: string | undefined, name: string): Obj | undefined;
  /** Every stored object of a kind. */
  all(kind: string): Obj[];
  /**
   * Changes an object as a non-apply client would (`kubectl edit`, a controller): `manager` owns the set fields,
   * given as `.spec.replicas` (keys without dots).
   */
  update(
    apiVersion: string,
    kind: string,
    namespace: string | undefined,
    name: string,
    set: Record<string, Json>,
    manager: string,
  ): void;
  close(): Promise<void>;
}

function clone<T>(x: T): T {
  return structuredClone(x);
}

// A field path is the JSON of its keys (`["metadata","labels","app.kubernetes.io/name"]`): keys may hold dots.
const keysOf = (p: string): string[] => JSON.parse(p) as string[];
/** `.spec.replicas`, as the API server names fields in conflicts. */
const dotted = (p: string): string => `.${keysOf(p).join('.')}`;

/** Leaf field paths of an applied configuration (maps recursed; lists and scalars are leaves). */
function fieldPaths(o: Json, prefix: string[] = []): string[] {
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return [JSON.stringify(prefix)];
  const keys = Object.keys(o);
  if (keys.length === 0) return [JSON.stringify(prefix)];
  return keys.flatMap((k) => fieldPaths(o[k], [...prefix, k]));
}

function getPath(o: Json, p: string): Json | undefined {
  let cur: Json | undefined = o;
  for (const k of keysOf(p)) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return undefined;
    cur = cur[k];
  }
  return cur;
}

function setPath(o: Obj, p: string, v: Json): void {
  const keys = keysOf(p);
  let cur: Obj = o;
  for (const k of keys.slice(0, -1)) {
    if (cur[k] === null || typeof cur[k] !== 'object' || Array.isArray(cur[k])) cur[k] = {};
    cur = cur[k] as Obj;
  }
  cur[keys[keys.length - 1]] = clone(v);
}

function deletePath(o: Obj, p: string): void {
  const keys = keysOf(p);
  const parents: Obj[] = [o];
  for (const k of keys.slice(0, -1)) {
    const next = parents[parents.length - 1][k];
    if (next === null || typeof next !== 'object' || Array.isArray(next)) return;
    parents.push(next);
  }
  delete parents[parents.length - 1][keys[keys.length - 1]];
  for (let i = parents.length - 1; i > 0; i--) {
    if (Object.keys(parents[i]).length === 0) delete parents[i - 1][keys[i - 1]];
  }
}

/** FieldsV1 of a set of paths: `{ "f:spec": { "f:replicas": {} } }`. */
function fieldsV1(paths: Set<string>): Obj {
  const out: Obj = {};
  for (const p of paths) {
    let cur = out;
    for (const k of keysOf(p)) cur = (cur[`f:${k}`] ??= {}) as Obj;
  }
  return out;
}

const IDENTITY = new Set(
  [['apiVersion'], ['kind'], ['metadata', 'name'], ['metadata', 'namespace']].map((k) => JSON.stringify(k)),
);

function status(code: number, reason: string, message: string, details?: Obj): Obj {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    code,
    ...(details ? { details } : {}),
  };
}

function matchesLabels(obj: Obj, selector: string | null): boolean {
  if (!selector) return true;
  const labels = ((obj.metadata as Obj).labels ?? {}) as Record<string, string>;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return v === undefined ? k in labels : labels[k] === v;
  });
}

function matchesFields(obj: Obj, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [k, v] = term.split('=');
    return String(getPath(obj, JSON.stringify(k.split('.')))) === v;
  });
}

/** Starts the server on 127.0.0.1 (a free port). */
export async function startFakeApiServer(opts: FakeApiServerOptions = {}): Promise<FakeApiServer> {
  const rolloutMs = opts.rolloutMs ?? 150;
  const crdMs = opts.crdEstablishMs ?? 150;
  const stuck = new Set(opts.stuck ?? []);
  const types = new Map<string, ResourceType[]>(Object.entries(BUILTIN).map(([k, v]) => [k, [...v]]));
  const store = new Map<string, Stored>();
  const requests: string[] = [];
  // The namespaces every cluster starts with.
  for (const name of ['default', 'kube-system', 'kube-public']) {
    store.set(`v1|Namespace||${name}`, {
      obj: {
        apiVersion: 'v1',
        kind: 'Namespace',
        metadata: { name, uid: `uid-${name}`, resourceVersion: '1' },
      },
      managers: new Map(),
    });
  }
  const timers = new Set<NodeJS.Timeout>();
  let version = 1;
  const later = (ms: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, ms);
    timers.add(t);
  };

  const key = (gv: string, kind: string, ns: string | undefined, name: string) =>
    `${gv}|${kind}|${ns ?? ''}|${name}`;

  const render = (s: Stored): Obj => {
    const obj = clone(s.obj);
    (obj.metadata as Obj).managedFields = [...s.managers].map(([manager, m]) => ({
      manager,
      operation: m.operation,
      apiVersion: obj.apiVersion as string,
      fieldsType: 'FieldsV1',
      fieldsV1: fieldsV1(m.fields),
    }));
    return obj;
  };

  const simulate = (gv: string, t: ResourceType, ns: string | undefined, name: string) => {
    const k = key(gv, t.kind, ns, name);
    const id = `${t.kind}/${ns}/${name}`;
    if (t.kind === 'CustomResourceDefinition') {
      later(crdMs, () => {
        const s = store.get(k);
        if (!s) return;
        const spec = s.obj.spec as Obj;
        const names = spec.names as Obj;
        for (const v of spec.versions as Obj[]) {
          const groupVersion = `${spec.group as string}/${v.name as string}`;
          const list = types.get(groupVersion) ?? [];
          if (!list.some((x) => x.kind === names.kind)) {
            list.push({
              name: names.plural as string,
              kind: names.kind as string,
              namespaced: spec.scope === 'Namespaced',
            });
          }
          types.set(groupVersion, list);
        }
        s.obj.status = {
          conditions: [{ type: 'Established', status: 'True', reason: 'InitialNamesAccepted' }],
        };
      });
      return;
    }
    if (!['Deployment', 'DaemonSet', 'StatefulSet', 'Job'].includes(t.kind)) return;
    later(rolloutMs, () => {
      const s = store.get(k);
      if (!s) return;
      const meta = s.obj.metadata as Obj;
      const spec = (s.obj.spec ?? {}) as Obj;
      const replicas = typeof spec.replicas === 'number' ? spec.replicas : 1;
      const generation = meta.generation as number;
      if (stuck.has(id)) {
        s.obj.status = {
          observedGeneration: generation,
          replicas,
          updatedReplicas: replicas,
          unavailableReplicas: replicas,
          conditions: [{ type: 'Available', status: 'False', reason: 'MinimumReplicasUnavailable' }],
        };
        const labels = (((spec.template as Obj)?.metadata as Obj)?.labels ?? {}) as Obj;
        const podName = `${name}-7d9f8-x2x4q`;
        const message = '0/3 nodes are available: 3 Insufficient nvidia.com/gpu.';
        store.set(key('v1', 'Pod', ns, podName), {
          obj: {
            apiVersion: 'v1',
            kind: 'Pod',
            metadata: { name: podName, namespace: ns ?? 'default', labels: clone(labels) },
            status: {
              phase: 'Pending',
              conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message }],
            },
          },
          managers: new Map(),
        });
        store.set(key('v1', 'Event', ns, `${podName}.1`), {
          obj: {
            apiVersion: 'v1',
            kind: 'Event',
            metadata: { name: `${podName}.1`, namespace: ns ?? 'default' },
            involvedObject: { kind: 'Pod', name: podName, namespace: ns ?? 'default' },
            reason: 'FailedScheduling',
            type: 'Warning',
            message,
          },
          managers: new Map(),
        });
        return;
      }
      const done: Record<string, Obj> = {
        Deployment: {
          observedGeneration: generation,
          replicas,
          updatedReplicas: replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
          conditions: [{ type: 'Available', status: 'True', reason: 'MinimumReplicasAvailable' }],
        },
        DaemonSet: {
          observedGeneration: generation,
          desiredNumberScheduled: 2,
          currentNumberScheduled: 2,
          updatedNumberScheduled: 2,
          numberReady: 2,
          numberAvailable: 2,
        },
        StatefulSet: {
          observedGeneration: generation,
          replicas,
          readyReplicas: replicas,
          updatedReplicas: replicas,
          currentRevision: 'r1',
          updateRevision: 'r1',
        },
        Job: { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] },
      };
      s.obj.status = done[t.kind];
    });
  };

  const apply = (
    gv: string,
    t: ResourceType,
    ns: string | undefined,
    name: string,
    body: Obj,
    q: URLSearchParams,
  ): [number, Obj] => {
    const manager = q.get('fieldManager');
    if (!manager) return [400, status(400, 'BadRequest', 'PATCH is not supported without fieldManager')];
    if (body.kind !== t.kind || (body.metadata as Obj)?.name !== name) {
      return [400, status(400, 'BadRequest', 'the name and kind of the body must match the URL')];
    }
    if (t.namespaced && !store.has(key('v1', 'Namespace', undefined, ns!))) {
      return [404, status(404, 'NotFound', `namespaces "${ns}" not found`)];
    }
    const force = q.get('force') === 'true';
    const dryRun = q.get('dryRun') === 'All';
    const k = key(gv, t.kind, ns, name);
    const existing = store.get(k);
    const s: Stored = existing
      ? {
          obj: clone(existing.obj),
          managers: new Map([...existing.managers].map(([m, v]) => [m, { ...v, fields: new Set(v.fields) }])),
        }
      : {
          obj: {
            apiVersion: body.apiVersion,
            kind: t.kind,
            metadata: { name, ...(ns ? { namespace: ns } : {}) },
          },
          managers: new Map(),
        };
    const fields = new Set(fieldPaths(body).filter((p) => !IDENTITY.has(p)));
    const conflicts: { manager: string; field: string }[] = [];
    for (const p of fields) {
      for (const [other, m] of s.managers) {
        if (other === manager || !m.fields.has(p)) continue;
        if (JSON.stringify(getPath(s.obj, p)) === JSON.stringify(getPath(body, p))) continue;
        if (force) m.fields.delete(p);
        else conflicts.push({ manager: other, field: p });
      }
    }
    if (conflicts.length) {
      const causes = conflicts.map((c) => ({
        type: 'FieldManagerConflict',
        message: `conflict with "${c.manager}"`,
        field: dotted(c.field),
      }));
      return [
        409,
        status(
          409,
          'Conflict',
          `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${conflicts.map((c) => `conflict with "${c.manager}": ${dotted(c.field)}`).join('\n')}`,
          { name, kind: t.name, causes },
        ),
      ];
    }
    const before = JSON.stringify(s.obj.spec ?? null);
    const previous = s.managers.get(manager)?.fields ?? new Set<string>();
    for (const p of previous) {
      if (fields.has(p)) continue;
      if ([...s.managers].some(([m, v]) => m !== manager && v.fields.has(p))) continue;
      deletePath(s.obj, p);
    }
    for (const p of fields) setPath(s.obj, p, getPath(body, p) as Json);
    for (const [m, v] of s.managers) if (v.fields.size === 0) s.managers.delete(m);
    s.managers.set(manager, { fields, operation: 'Apply' });
    const meta = s.obj.metadata as Obj;
    const changed = !existing || before !== JSON.stringify(s.obj.spec ?? null);
    meta.generation = ((meta.generation as number | undefined) ?? 0) + (changed ? 1 : 0);
    meta.uid ??= `uid-${version}`;
    meta.creationTimestamp ??= '2026-01-01T00:00:00Z';
    if (!dryRun) {
      meta.resourceVersion = String(++version);
      store.set(k, s);
      if (changed) simulate(gv, t, ns, name);
    }
    return [existing ? 200 : 201, render(s)];
  };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      requests.push(`${req.method} ${url.pathname}${url.search}`);
      const send = (code: number, body: unknown) => {
        res.writeHead(code, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      const parts = url.pathname.split('/').filter(Boolean);
      if (url.pathname === '/api') return send(200, { kind: 'APIVersions', versions: ['v1'] });
      if (url.pathname === '/apis') {
        const groups = new Map<string, string[]>();
        for (const gv of types.keys()) {
          if (!gv.includes('/')) continue;
          const [g, v] = gv.split('/');
          groups.set(g, [...(groups.get(g) ?? []), v]);
        }
        return send(200, {
          kind: 'APIGroupList',
          apiVersion: 'v1',
          groups: [...groups].map(([name, vs]) => ({
            name,
            versions: vs.map((v) => ({ groupVersion: `${name}/${v}`, version: v })),
            preferredVersion: { groupVersion: `${name}/${vs[0]}`, version: vs[0] },
          })),
        });
      }
      const [gv, rest] =
        parts[0] === 'api' ? [parts[1], parts.slice(2)] : [`${parts[1]}/${parts[2]}`, parts.slice(3)];
      const list = types.get(gv);
      if (!list)
        return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
      if (rest.length === 0) {
        return send(200, {
          kind: 'APIResourceList',
          apiVersion: 'v1',
          groupVersion: gv,
          resources: list.map((t) => ({
            name: t.name,
            singularName: t.kind.toLowerCase(),
            kind: t.kind,
            namespaced: t.namespaced,
            verbs: ['create', 'delete', 'get', 'list', 'patch', 'update'],
          })),
        });
      }
      let ns: string | undefined;
      let tail = rest;
      if (rest[0] === 'namespaces' && rest.length >= 3) {
        ns = rest[1];
        tail = rest.slice(2);
      }
      const t = list.find((x) => x.name === tail[0]);
      if (!t) return send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
      const name = tail[1];
      const text = Buffer.concat(chunks).toString('utf8');
      if (name === undefined) {
        if (req.method !== 'GET') return send(405, status(405, 'MethodNotAllowed', 'not supported here'));
        const items = [...store.entries()]
          .filter(([k]) => k.startsWith(`${gv}|${t.kind}|`))
          .map(([, s]) => render(s))
          .filter((o) => !ns || (o.metadata as Obj).namespace === ns)
          .filter((o) => matchesLabels(o, url.searchParams.get('labelSelector')))
          .filter((o) => matchesFields(o, url.searchParams.get('fieldSelector')));
        return send(200, {
          kind: `${t.kind}List`,
          apiVersion: gv,
          metadata: { resourceVersion: String(version) },
          items,
        });
      }
      const k = key(gv, t.kind, ns, name);
      if (req.method === 'GET') {
        const s = store.get(k);
        return s
          ? send(200, render(s))
          : send(404, status(404, 'NotFound', `${t.name} "${name}" not found`, { name, kind: t.name }));
      }
      if (req.method === 'DELETE') {
        const s = store.get(k);
        if (!s) return send(404, status(404, 'NotFound', `${t.name} "${name}" not found`));
        if (url.searchParams.get('dryRun') !== 'All') store.delete(k);
        return send(200, {
          kind: 'Status',
          apiVersion: 'v1',
          status: 'Success',
          details: { name, kind: t.name },
        });
      }
      if (req.method === 'PATCH') {
        if (!String(req.headers['content-type']).startsWith('application/apply-patch+yaml')) {
          return send(
            415,
            status(415, 'UnsupportedMediaType', `${req.headers['content-type']} is not supported here`),
          );
        }
        let body: Obj;
        try {
          body = parseYaml(text) as Obj;
        } catch (e) {
          return send(400, status(400, 'BadRequest', (e as Error).message));
        }
        const [code, out] = apply(gv, t, ns, name, body, url.searchParams);
        return send(code, out);
      }
      return send(405, status(405, 'MethodNotAllowed', `${req.method} is not supported here`));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    get: (apiVersion, kind, namespace, name) => {
      const s = store.get(key(apiVersion, kind, namespace, name));
      return s ? render(s) : undefined;
    },
    all: (kind) => [...store.values()].filter((s) => s.obj.kind === kind).map(render),
    update: (apiVersion, kind, namespace, name, set, manager) => {
      const s = store.get(key(apiVersion, kind, namespace, name));
      if (!s) throw new Error(`no ${kind} ${namespace}/${name}`);
      const fields = s.managers.get(manager)?.fields ?? new Set<string>();
      for (const [dottedPath, v] of Object.entries(set)) {
        const p = JSON.stringify(dottedPath.split('.').slice(1));
        setPath(s.obj, p, v);
        fields.add(p);
        for (const [m, other] of s.managers) if (m !== manager) other.fields.delete(p);
      }
      s.managers.set(manager, { fields, operation: 'Update' });
      (s.obj.metadata as Obj).resourceVersion = String(++version);
    },
    close: async () => {
      for (const t of timers) clearTimeout(t);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
