import { createHash } from 'node:crypto';
import type { IConstruct } from 'constructs';

/** The first `length` hex digits of the SHA-256 of `parts` joined by `/`. */
export function shortHash(parts: readonly string[], length = 8): string {
  return createHash('sha256').update(parts.join('/')).digest('hex').slice(0, length);
}

/**
 * A physical name for a globally named resource (bucket, storage account) that is concrete at synth and stable
 * across synths: `<prefix><readable part>-<hash of the identity parts>`, within `maxLength`, using only what the
 * cloud allows (`alnumOnly` drops every separator, for Azure storage accounts).
 */
export function physicalName(opts: {
  readonly prefix?: string;
  readonly readable: string;
  readonly identity: readonly string[];
  readonly maxLength: number;
  readonly alnumOnly?: boolean;
}): string {
  const hash = shortHash(opts.identity, opts.alnumOnly ? 8 : 10);
  const sep = opts.alnumOnly ? '' : '-';
  const clean = (s: string) =>
    opts.alnumOnly
      ? s.toLowerCase().replace(/[^a-z0-9]/g, '')
      : s
          .toLowerCase()
          .replace(/[^a-z0-9-]/g, '-')
          .replace(/-+/g, '-')
          .replace(/^-|-$/g, '');
  const prefix = clean(opts.prefix ?? '');
  const room = opts.maxLength - hash.length - sep.length - (prefix ? prefix.length + sep.length : 0);
  const readable = clean(opts.readable).slice(0, Math.max(0, room)).replace(/-$/, '');
  return [prefix, readable, hash].filter((p) => p.length > 0).join(sep);
}

/**
 * A construct's path without `Default` components: the path its resources are named after. Capability constructs
 * are often the `Default` child of the construct they implement, which, as for logical ids, must not rename
 * anything.
 */
export function visiblePath(c: IConstruct): string {
  return c.node.path
    .split('/')
    .filter((p) => p !== 'Default')
    .join('/');
}

/** The name of the lifecycle rule that expires objects under `prefix` (S3 rule id, Azure management-policy rule). */
export function expiryRuleName(prefix: string): string {
  return `expire-${prefix.replace(/[^A-Za-z0-9-]/g, '-')}`;
}
