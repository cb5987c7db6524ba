import * as fs from 'node:fs';
import * as path from 'node:path';

interface PackageJson {
  readonly version: string;
  readonly peerDependencies?: Readonly<Record<string, string>>;
}

let cached: PackageJson | undefined;

/** mlstack's own package.json (from the sources or from `dist/`). */
function packageJson(): PackageJson {
  if (cached) return cached;
  for (const rel of ['../../package.json', '../../../package.json']) {
    const p = path.join(__dirname, rel);
    if (fs.existsSync(p)) return (cached = JSON.parse(fs.readFileSync(p, 'utf8')) as PackageJson);
  }
  return (cached = { version: '0.0.0' });
}

/** The mlstack version. */
export function packageVersion(): string {
  return packageJson().version;
}

/**
 * The version range mlstack supports of an optional peer (e.g. `onnxruntime-node`, which devices and the server
 * image install next to mlstack to serve).
 * @throws when the package declares no such peer
 */
export function peerRange(name: string): string {
  const range = packageJson().peerDependencies?.[name];
  if (!range) throw new Error(`mlstack's package.json declares no peer dependency '${name}'`);
  return range;
}
