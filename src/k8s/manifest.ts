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
 * The Kubernetes objects of one cluster, in the order they were added, each schema-validated.
 * Two objects with the same kind, namespace and name are an error (the second would overwrite the first).
 */
export class ManifestSet {
  private readonly objects = new Map<string, { source: string; manifest: KubernetesManifest }>();

  /** Adds objects contributed by `source` (a construct path, for error messages). */
  public add(source: string, ...objects: ValidatableObject[]): KubernetesManifest[] {
    const added: KubernetesManifest[] = [];
    for (const obj of objects) {
      const manifest = toManifest(obj);
      const key = objectRef(manifest);
      const existing = this.objects.get(key);
      if (existing) {
        throw new Error(
          `${source}: Kubernetes object ${key} is already defined by ${existing.source}. Give one of them another name or namespace.`,
        );
      }
      this.objects.set(key, { source, manifest });
      added.push(manifest);
    }
    return added;
  }

  /** All manifests, in the order they were added. */
  public get manifests(): KubernetesManifest[] {
    return [...this.objects.values()].map((o) => o.manifest);
  }

  /** How many objects the set holds. */
  public get size(): number {
    return this.objects.size;
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
