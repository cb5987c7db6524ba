// Scrubs what changes without a change of ours: asset hashes, the cdktf/provider versions, absolute paths.
import type { SnapshotSerializer } from 'vitest';

const HASH = /\b[0-9a-f]{64}\b/g;
const SCRUBBED = Symbol.for('mlstack.scrubbed');

function scrub(value: unknown): unknown {
  if (typeof value === 'string') {
    return value.replace(HASH, '<hash>').replace(process.cwd(), '<repo>');
  }
  if (Array.isArray(value)) return value.map(scrub);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (k === 'cdktf_version' || (k === 'version' && typeof v === 'string' && /^\d+\.\d+\.\d+$/.test(v))) {
        out[k] = '<version>';
      } else {
        out[k.replace(HASH, '<hash>')] = scrub(v);
      }
    }
    Object.defineProperty(out, SCRUBBED, { value: true });
    return out;
  }
  return value;
}

const serializer: SnapshotSerializer = {
  test: (val) => !!val && typeof val === 'object' && !(SCRUBBED in val) && !Array.isArray(val),
  serialize: (val, config, indentation, depth, refs, printer) =>
    printer(scrub(val), config, indentation, depth, refs),
};
export default serializer;
