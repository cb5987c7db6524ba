import { workloadPodSpec } from './pod';

/**
 * Container image references: parsing by the OCI distribution grammar (`[host[:port]/]path[:tag][@digest]`) and
 * pinning a cluster's images by digest.
 */

/** A parsed image reference. */
export interface ImageReference {
  /** The repository with its registry, e.g. `nvcr.io/nvidia/tritonserver`. */
  readonly repository: string;
  /** The tag, when there is one. */
  readonly tag?: string;
  /** The digest (`sha256:<64 hex digits>`), when there is one. */
  readonly digest?: string;
}

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const HOST =
  '(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?)';
const REPOSITORY = new RegExp(`^(?:${HOST}/)?${COMPONENT}(?:/${COMPONENT})*$`);
const TAG = /^[\w][\w.-]{0,127}$/;
/** A digest mlstack accepts: sha256 or sha512, as registries compute them. */
export const IMAGE_DIGEST = /^(sha256:[0-9a-f]{64}|sha512:[0-9a-f]{128})$/;

/**
 * Parses `ref`, or returns what is wrong with it. The registry host is the part before the first `/` when it has
 * a `.` or `:` or is `localhost` (as Docker reads it); the tag is after the last `:` of the path.
 */
export function parseImageReference(ref: string): ImageReference | { readonly problem: string } {
  if (typeof ref !== 'string' || ref.length === 0) return { problem: 'is empty' };
  const at = ref.indexOf('@');
  const digest = at >= 0 ? ref.slice(at + 1) : undefined;
  const named = at >= 0 ? ref.slice(0, at) : ref;
  if (digest !== undefined && !IMAGE_DIGEST.test(digest)) {
    return { problem: `has digest '${digest}', which is not sha256:<64 hex digits> (or sha512:<128>)` };
  }
  const slash = named.lastIndexOf('/');
  const colon = named.lastIndexOf(':');
  const tag = colon > slash ? named.slice(colon + 1) : undefined;
  const repository = colon > slash ? named.slice(0, colon) : named;
  if (tag !== undefined && !TAG.test(tag)) return { problem: `has tag '${tag}', which is not a valid tag` };
  if (!REPOSITORY.test(repository)) {
    return { problem: `has repository '${repository}', which is not [registry/]lower-case-path` };
  }
  return { repository, ...(tag !== undefined ? { tag } : {}), ...(digest !== undefined ? { digest } : {}) };
}

/** Whether `ref` names exactly one image (it carries a digest). */
export function isPinned(ref: string): boolean {
  const parsed = parseImageReference(ref);
  return 'repository' in parsed && parsed.digest !== undefined;
}

/** A Kubernetes object as the pinning walks it. */
interface Walkable {
  readonly kind?: string;
  readonly spec?: unknown;
}

interface ContainerLike {
  image?: string;
}

interface PodSpecLike {
  containers?: ContainerLike[];
  initContainers?: ContainerLike[];
  ephemeralContainers?: ContainerLike[];
}

/** Every container of the workloads among `objects`, init and ephemeral containers included. */
function containersOf(objects: readonly Walkable[]): ContainerLike[] {
  return objects.flatMap((o) => {
    const pod = workloadPodSpec<PodSpecLike>(o);
    return pod
      ? [...(pod.initContainers ?? []), ...(pod.containers ?? []), ...(pod.ephemeralContainers ?? [])]
      : [];
  });
}

/** The distinct images the workloads among `objects` run, sorted. */
export function imagesOf(objects: readonly Walkable[]): string[] {
  return [...new Set(containersOf(objects).flatMap((c) => (c.image ? [c.image] : [])))].sort();
}

/**
 * Gives every container image of `objects` that is a key of `digests` its digest (`<ref>@<digest>`), in place.
 * Returns the keys used.
 */
export function pinImages(
  objects: readonly Walkable[],
  digests: Readonly<Record<string, string>>,
): Set<string> {
  const used = new Set<string>();
  for (const c of containersOf(objects)) {
    const ref = c.image;
    if (ref === undefined || !Object.prototype.hasOwnProperty.call(digests, ref)) continue;
    c.image = `${ref}@${digests[ref]}`;
    used.add(ref);
  }
  return used;
}
