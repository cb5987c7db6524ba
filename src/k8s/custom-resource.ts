import type { KubernetesObjectMeta, ValidatableObject } from './manifest';

/**
 * A custom resource without a maintained typed model for Node 20 on npm: the subclass checks the fields its CRD
 * requires, following the project's API reference, so that a wrong object is a synth error, never a file.
 */
export abstract class CustomResource<S> implements ValidatableObject {
  public abstract readonly apiVersion: string;
  public abstract readonly kind: string;
  constructor(
    public readonly metadata: KubernetesObjectMeta & { readonly name: string },
    public readonly spec: S,
  ) {}

  public abstract validate(): void;

  public toJSON(): object {
    return { apiVersion: this.apiVersion, kind: this.kind, metadata: this.metadata, spec: this.spec };
  }

  protected check(ok: boolean, path: string, what: string): void {
    if (!ok) {
      const ref = this.metadata.namespace
        ? `${this.metadata.namespace}/${this.metadata.name}`
        : this.metadata.name;
      throw new Error(`${this.kind} ${ref}: ${path} ${what}`);
    }
  }
}

/** A Kubernetes duration (`30s`, `5m`, `720h`, `1h30m`). */
export const DURATION = /^(\d+(ms|s|m|h))+$/;
/** A DNS-1123 label. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
