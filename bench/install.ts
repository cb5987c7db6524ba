// What installing mlstack adds to a consumer: the packed package (built and packed as `npm pack` ships it) and the
// closure of its dependencies, next to the framework a consumer of each cloud already has and onnxruntime-node
// (an optional peer, only for `mlstack serve`). Sizes are the files on disk of each package in this checkout's
// node_modules (the versions `npm ci` installed), a package counted once however many depend on it.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { packMlstack, type PackReport } from '../test/support/pack';

const repo = path.join(__dirname, '..');

/** One line of the table. */
export interface InstallRow {
  readonly what: string;
  readonly packages: number;
  readonly bytes: number;
}

/** The folder of package `name` as Node resolves it from `from`. */
function resolvePackage(name: string, from: string): string | undefined {
  for (let dir = from; ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, 'node_modules', name);
    if (fs.existsSync(path.join(candidate, 'package.json'))) return fs.realpathSync(candidate);
    if (path.dirname(dir) === dir) return undefined;
  }
}

/** Bytes of a package's files, its own nested node_modules left out (those packages count on their own). */
function packageBytes(dir: string): number {
  let total = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) {
      if (e.name !== 'node_modules') total += packageBytes(p);
    } else if (e.isFile()) total += fs.statSync(p).size;
  }
  return total;
}

/** Every package folder `names` need (dependencies and installed optional dependencies, transitively). */
function closure(names: readonly string[], from = repo): Set<string> {
  const seen = new Set<string>();
  const visit = (name: string, base: string) => {
    const dir = resolvePackage(name, base);
    if (!dir || seen.has(dir)) return;
    seen.add(dir);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
      optionalDependencies?: Record<string, string>;
    };
    for (const dep of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies }))
      visit(dep, dir);
  };
  for (const n of names) visit(n, from);
  return seen;
}

function row(what: string, dirs: Set<string>): InstallRow {
  let bytes = 0;
  for (const d of dirs) bytes += packageBytes(d);
  return { what, packages: dirs.size, bytes };
}

/** Measures; builds and packs the package in a temporary folder. */
export async function benchInstall(): Promise<{
  pack: PackReport;
  rows: InstallRow[];
  largest: InstallRow[];
}> {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-pack-'));
  try {
    const pack = await packMlstack(work, path.join(work, 'unpacked'));
    const own = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const deps = closure(Object.keys(own.dependencies));
    const aws = closure(['aws-cdk-lib', 'constructs']);
    const gcp = closure(['cdktf', 'constructs', '@cdktf/provider-google', '@cdktf/provider-random']);
    const azure = closure(['cdktf', 'constructs', '@cdktf/provider-azurerm', '@cdktf/provider-random']);
    const onnx = closure(['onnxruntime-node']);
    const minus = (a: Set<string>, b: Set<string>) => new Set([...a].filter((d) => !b.has(d)));
    const rows = [
      { what: 'mlstack itself (the unpacked tarball)', packages: 1, bytes: pack.unpackedSize },
      row("mlstack's dependencies", deps),
      row('… of them not already in an aws-cdk-lib app', minus(deps, aws)),
      row('… of them not already in a cdktf Google app', minus(deps, gcp)),
      row('framework of an AWS app: aws-cdk-lib, constructs', aws),
      row('framework of a Google app: cdktf, provider-google, provider-random', gcp),
      row('framework of an Azure app: cdktf, provider-azurerm, provider-random', azure),
      row('onnxruntime-node (optional peer, only for `mlstack serve`)', onnx),
      row(
        '@kubernetes/client-node (optional peer, only for `mlstack apply`)',
        closure(['@kubernetes/client-node']),
      ),
    ];
    // Each direct dependency with the packages first reached through it, largest first.
    const counted = new Set<string>();
    const largest = Object.keys(own.dependencies)
      .map((name) => {
        const mine = new Set([...closure([name])].filter((d) => !counted.has(d)));
        for (const d of mine) counted.add(d);
        return row(name, mine);
      })
      .sort((a, b) => b.bytes - a.bytes)
      .slice(0, 5);
    return { pack, rows, largest };
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
