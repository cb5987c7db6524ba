import * as fs from 'node:fs';
import * as path from 'node:path';

interface PackageJson {
  readonly version: string;
  readonly peerDependencies?: Readonly<Record<string, string>>;
}

let cached: PackageJson | undefined;

/**
 * A file of the mlstack package by its path from the package root (`proto/grpc_service.proto`), whether this code
 * runs from the sources (`src/…`) or from the build (`dist/src/…`); undefined when this copy has none.
 */
export function packageFile(rel: string): string | undefined {
  for (const root of ['../..', '../../..']) {
    const p = path.join(__dirname, root, rel);
    if (fs.existsSync(p)) return p;
  }
  return undefined;
}

/**
 * A worker thread script of mlstack in `dir` (the caller's `__dirname`), named `name` without extension: the
 * TypeScript file run through tsx in a checkout, the JavaScript file when built.
 */
export function workerScript(dir: string, name: string): { file: string; execArgv: string[] } {
  const ts = __filename.endsWith('.ts');
  return {
    file: path.join(dir, `${name}${ts ? '.ts' : '.js'}`),
    execArgv: ts ? ['--require', require.resolve('tsx/cjs')] : [],
  };
}

/** mlstack's own package.json (from the sources or from `dist/`). */
function packageJson(): PackageJson {
  if (cached) return cached;
  const p = packageFile('package.json');
  return (cached = p ? (JSON.parse(fs.readFileSync(p, 'utf8')) as PackageJson) : { version: '0.0.0' });
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
