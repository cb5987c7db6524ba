// Builds and packs mlstack as `npm pack` would ship it, without touching the checkout: the files package.json's
// `files` takes from the checkout, dist/ compiled from the sources (what `prepack` builds), packed by the real
// `npm pack` and unpacked where a consumer's node_modules would hold it. Shared by the consumer tests and the bench.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import * as tar from 'tar';
import ts from 'typescript';

const run = promisify(execFile);
const repo = path.resolve(__dirname, '..', '..');

/** What `npm pack --json` reports about the tarball. */
export interface PackReport {
  readonly filename: string;
  /** Bytes of the tarball. */
  readonly size: number;
  /** Bytes of its files. */
  readonly unpackedSize: number;
  readonly entryCount: number;
}

/** A tsconfig file as the compiler reads it (extends resolved), or an error naming what is wrong with it. */
export function readTsconfig(file: string): ts.ParsedCommandLine {
  return ts.getParsedCommandLineOfConfigFile(
    file,
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, ' '));
      },
    },
  )!;
}

/**
 * Packs the package into `workDir` and unpacks it into `pkgDir` (e.g. `<consumer>/node_modules/mlstack`).
 * @throws with the compiler's diagnostics when the build fails
 */
export async function packMlstack(workDir: string, pkgDir: string): Promise<PackReport> {
  const stage = path.join(workDir, 'stage');
  fs.rmSync(stage, { recursive: true, force: true });
  fs.mkdirSync(stage, { recursive: true });
  const npm = (args: string[], cwd: string) =>
    run('npm', [...args, '--json', '--ignore-scripts'], {
      cwd,
      maxBuffer: 64 * 1024 * 1024,
      timeout: 180_000,
    });
  const listing = JSON.parse((await npm(['pack', '--dry-run'], repo)).stdout) as {
    files: { path: string }[];
  }[];
  for (const f of listing[0].files) {
    if (f.path.startsWith('dist/')) continue;
    fs.mkdirSync(path.dirname(path.join(stage, f.path)), { recursive: true });
    fs.copyFileSync(path.join(repo, f.path), path.join(stage, f.path));
  }
  const config = readTsconfig(path.join(repo, 'tsconfig.build.json'));
  const emitted = ts
    .createProgram(config.fileNames, {
      ...config.options,
      sourceMap: false,
      declarationMap: false,
      outDir: path.join(stage, 'dist'),
    })
    .emit();
  if (emitted.diagnostics.length) {
    throw new Error(
      `building mlstack failed:\n${emitted.diagnostics.map((d) => ts.flattenDiagnosticMessageText(d.messageText, ' ')).join('\n')}`,
    );
  }
  const report = (
    JSON.parse((await npm(['pack', '--pack-destination', workDir], stage)).stdout) as PackReport[]
  )[0];
  fs.rmSync(pkgDir, { recursive: true, force: true });
  fs.mkdirSync(pkgDir, { recursive: true });
  await tar.x({ file: path.join(workDir, report.filename), cwd: pkgDir, strip: 1 });
  return report;
}
