import { stringify } from 'yaml';

/** The identifying part of any Kubernetes object. */
export interface KubernetesObjectMeta {
  readonly name?: string;
  readonly namespace?: string;
  readonly labels?: Readonly<Record<string, string>>;
  readonly annotations?: Readonly<Record<string, string>>;
}

/**
 * A Kubernetes object that can check itself against its OpenAPI schema: every model class of
 * `kubernetes-models` (and of the `@kubernetes-models/*` CRD packages) is one.
 */
export interface ValidatableObject {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata?: KubernetesObjectMeta;
  /** Throws when the object does not match its schema. */
  validate(): void;
  /** The plain JSON form. */
  toJSON(): object;
}

/** A plain, schema-validated Kubernetes object as JSON. */
export interface KubernetesManifest {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: KubernetesObjectMeta & { readonly name: string };
  readonly [key: string]: unknown;
}

/** Thrown when a synthesized Kubernetes object fails schema validation. */
export class ManifestValidationError extends Error {
  constructor(object: string, detail: string) {
    super(`Kubernetes object ${object} does not match its schema: ${detail}`);
    this.name = 'ManifestValidationError';
  }
}

/** `Kind/namespace/name`, the way kubectl names an object. */
export function objectRef(m: { kind: string; metadata?: KubernetesObjectMeta }): string {
  const ns = m.metadata?.namespace;
  return `${m.kind}/${ns ? `${ns}/` : ''}${m.metadata?.name ?? '<unnamed>'}`;
}

/**
 * Validates a model object against its schema and returns its plain JSON.
 * Every manifest mlstack writes goes through here: an invalid object is a synth error, never a file.
 */
export function toManifest(obj: ValidatableObject): KubernetesManifest {
  try {
    obj.validate();
  } catch (e) {
    throw new ManifestValidationError(objectRef(obj), (e as Error).message);
  }
  const json = JSON.parse(JSON.stringify(obj.toJSON())) as KubernetesManifest;
  if (!json.metadata?.name) {
    throw new ManifestValidationError(objectRef(obj), 'metadata.name is required');
  }
  return json;
}

/**
 * The Kubernetes objects of one cluster, in the order they were added, each schema-validated. Objects are added
 * as they are, or as a function that makes them when the set is rendered (at synth), for objects that depend on
 * what is declared later (pools added after a service). Two objects with the same kind, namespace and name are an
 * error (the second would overwrite the first).
 */
export class ManifestSet {
  private readonly groups: {
    readonly source: string;
    objects?: KubernetesManifest[];
    readonly produce?: () => readonly ValidatableObject[];
  }[] = [];
  private readonly eagerKeys = new Map<string, string>();
  private readonly finishers: ((manifests: KubernetesManifest[]) => void)[] = [];
  private renderedBy?: string;

  /**
   * Calls `finish` with every object once the set is rendered, before anything reads it: for changes that apply
   * to the whole cluster (pinning images by digest).
   */
  public onRender(finish: (manifests: KubernetesManifest[]) => void): void {
    this.checkOpen('onRender');
    this.finishers.push(finish);
  }

  /** Adds objects contributed by `source` (a construct path, for error messages), validated now. */
  public add(source: string, ...objects: ValidatableObject[]): KubernetesManifest[] {
    this.checkOpen(source);
    const added = objects.map((obj) => {
      const manifest = toManifest(obj);
      const key = objectRef(manifest);
      const existing = this.eagerKeys.get(key);
      if (existing) throw duplicate(source, key, existing);
      this.eagerKeys.set(key, source);
      return manifest;
    });
    this.groups.push({ source, objects: added });
    return added;
  }

  /**
   * Adds objects that `produce` makes when the set is rendered: at synth, or when `manifests` or `files()` is
   * first read, after which nothing can be added.
   * @returns the objects of this group, rendering the set on first call
   */
  public addLazy(source: string, produce: () => readonly ValidatableObject[]): () => KubernetesManifest[] {
    this.checkOpen(source);
    const group: (typeof this.groups)[number] = { source, produce };
    this.groups.push(group);
    return () => {
      this.render(source);
      return [...(group.objects ?? [])];
    };
  }

  /** Whether the set was rendered (nothing can be added any more). */
  public get rendered(): boolean {
    return this.renderedBy !== undefined;
  }

  /** All manifests, in the order they were added (rendering the set). */
  public get manifests(): KubernetesManifest[] {
    this.render('a read of the manifests');
    return this.groups.flatMap((g) => g.objects ?? []);
  }

  /** How many objects the set holds (rendering the set). */
  public get size(): number {
    return this.manifests.length;
  }

  /**
   * The files to write: one object a file, named `<nn>-<kind>-<namespace>-<name>.yaml`, where `nn` orders
   * cluster-scoped prerequisites (Namespaces, CRDs, RBAC) before the objects that need them, so that
   * `kubectl apply -f <dir>` works in one pass.
   */
  public files(): { fileName: string; content: string }[] {
    return this.manifests
      .map((m) => ({ fileName: manifestFileName(m), content: renderYaml(m) }))
      .sort((a, b) => a.fileName.localeCompare(b.fileName));
  }

  /** Makes the lazy groups' objects, validates them and checks for duplicates across the whole set. */
  public render(by: string): void {
    if (this.renderedBy) return;
    this.renderedBy = by;
    const seen = new Map<string, string>();
    for (const g of this.groups) {
      g.objects ??= g.produce!().map((o) => toManifest(o));
      for (const m of g.objects) {
        const key = objectRef(m);
        const existing = seen.get(key);
        if (existing) throw duplicate(g.source, key, existing);
        seen.set(key, g.source);
      }
    }
    const all = this.groups.flatMap((g) => g.objects ?? []);
    for (const finish of this.finishers) finish(all);
  }

  private checkOpen(source: string): void {
    if (this.renderedBy) {
      throw new Error(
        `${source}: the cluster's Kubernetes objects were already rendered (by ${this.renderedBy}); declare every construct of the cluster before reading its manifests.`,
      );
    }
  }
}

function duplicate(source: string, key: string, existing: string): Error {
  return new Error(
    `${source}: Kubernetes object ${key} is already defined by ${existing}. Give one of them another name or namespace.`,
  );
}

const APPLY_ORDER: Record<string, number> = {
  CustomResourceDefinition: 0,
  Namespace: 1,
  PriorityClass: 2,
  ServiceAccount: 3,
  ClusterRole: 4,
  ClusterRoleBinding: 4,
  Role: 4,
  RoleBinding: 4,
  ConfigMap: 5,
  Secret: 5,
};

/** The file name of one manifest: apply order, kind, namespace and name, lowercase. */
export function manifestFileName(m: KubernetesManifest): string {
  const order = APPLY_ORDER[m.kind] ?? 9;
  const parts = [String(order).padStart(2, '0'), m.kind, m.metadata.namespace, m.metadata.name].filter(
    Boolean,
  );
  return `${parts
    .join('-')
    .toLowerCase()
    .replace(/[^a-z0-9.-]/g, '-')}.yaml`;
}

const TOP_LEVEL_ORDER = ['apiVersion', 'kind', 'metadata'];

/**
 * Renders one object as YAML with deterministic key order: `apiVersion`, `kind`, `metadata` first (as kubectl
 * prints them), every other key sorted.
 */
export function renderYaml(obj: object): string {
  return stringify(sortKeys(obj, true), { lineWidth: 0, indentSeq: true });
}

function sortKeys(value: unknown, top = false): unknown {
  if (Array.isArray(value)) return value.map((v) => sortKeys(v));
  if (value === null || typeof value !== 'object') return value;
  const keys = Object.keys(value).sort((a, b) => {
    if (top) {
      const ia = TOP_LEVEL_ORDER.indexOf(a);
      const ib = TOP_LEVEL_ORDER.indexOf(b);
      if (ia !== -1 || ib !== -1) return (ia === -1 ? 99 : ia) - (ib === -1 ? 99 : ib);
    }
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const out: Record<string, unknown> = {};
  for (const k of keys) {
    const v = (value as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = sortKeys(v);
  }
  return out;
}
