// mlstack as a consumer's TypeScript sees it: the package's declarations (emitted as `npm pack` would ship them)
// in a consumer's node_modules, type-checked with skipLibCheck off under the module resolutions consumers use
// (node10, what `cdktf init` writes, and node16). A program for one cloud loads no other cloud's framework types
// and never onnxruntime's.
import * as fs from 'node:fs';
import * as path from 'node:path';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { repo } from './support/cli';

const root = path.join(repo, 'node_modules', '.cache', 'mlstack-consumer');
const pkgDir = path.join(root, 'node_modules', 'mlstack');

/** The framework packages a program's files come from. */
function frameworks(program: ts.Program): string[] {
  const out = new Set<string>();
  for (const f of program.getSourceFiles()) {
    const m = /node_modules\/(aws-cdk-lib|cdktf|@cdktf\/[^/]+|onnxruntime-[^/]+)\//.exec(f.fileName);
    if (m && !f.fileName.startsWith(pkgDir)) out.add(m[1]);
  }
  return [...out].sort();
}

function check(
  name: string,
  code: string,
  resolution: 'node10' | 'node16',
): { errors: string[]; frameworks: string[] } {
  const file = path.join(root, `${name}.ts`);
  fs.writeFileSync(file, code);
  const program = ts.createProgram([file], {
    strict: true,
    noEmit: true,
    target: ts.ScriptTarget.ES2022,
    module: resolution === 'node10' ? ts.ModuleKind.CommonJS : ts.ModuleKind.Node16,
    moduleResolution:
      resolution === 'node10' ? ts.ModuleResolutionKind.Node10 : ts.ModuleResolutionKind.Node16,
    skipLibCheck: false,
    esModuleInterop: true,
    types: ['node'],
    typeRoots: [path.join(repo, 'node_modules', '@types')],
  });
  const errors = ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) =>
        `${d.file?.fileName.replace(root, '') ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
  return { errors, frameworks: frameworks(program) };
}

beforeAll(() => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(pkgDir, { recursive: true });
  fs.copyFileSync(path.join(repo, 'package.json'), path.join(pkgDir, 'package.json'));
  const config = ts.getParsedCommandLineOfConfigFile(
    path.join(repo, 'tsconfig.build.json'),
    {},
    {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, ' '));
      },
    },
  )!;
  const emitted = ts
    .createProgram(config.fileNames, {
      ...config.options,
      declaration: true,
      emitDeclarationOnly: true,
      sourceMap: false,
      declarationMap: false,
      outDir: path.join(pkgDir, 'dist'),
    })
    .emit();
  expect(emitted.diagnostics).toEqual([]);
}, 240_000);

describe("mlstack's declarations in a consumer (skipLibCheck: false)", () => {
  it('an aws-cdk-lib app under node10 resolution: no errors, no cdktf or onnxruntime types', () => {
    const r = check(
      'aws',
      [
        "import { App, Stack } from 'aws-cdk-lib';",
        "import { GpuCluster, GpuType, MlflowTracking } from 'mlstack';",
        "import { AwsMlStack, EksCluster } from 'mlstack/aws';",
        "const stack = new Stack(new App(), 'platform');",
        'AwsMlStack.enable(stack, { maxAzs: 2 });',
        "const cluster = new GpuCluster(stack, 'Gpus', { gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }] });",
        "new MlflowTracking(stack, 'Mlflow', { cluster, production: true });",
        'export const name: string = EksCluster.of(cluster).clusterName;',
      ].join('\n'),
      'node10',
    );
    expect(r.errors).toEqual([]);
    expect(r.frameworks).toEqual(['aws-cdk-lib']);
  });

  it('a cdktf Google app under node10 resolution (cdktf init): mlstack/gcp resolves, no aws-cdk-lib types', () => {
    const r = check(
      'gcp',
      [
        "import { App, TerraformStack } from 'cdktf';",
        "import { GpuCluster, GpuType } from 'mlstack';",
        "import { GcpMlStack, GkeNetwork } from 'mlstack/gcp';",
        "const stack = new TerraformStack(new App(), 'platform');",
        "GcpMlStack.enable(stack, { project: 'acme-ml', region: 'us-central1' });",
        "new GpuCluster(stack, 'Gpus', {",
        "  network: GkeNetwork.fromNetwork({ network: 'n', subnetwork: 's', subnetworkCidr: '10.0.0.0/20', podsRange: 'p', servicesRange: 's' }),",
        "  gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],",
        '});',
      ].join('\n'),
      'node10',
    );
    expect(r.errors).toEqual([]);
    expect(r.frameworks.filter((f) => f === 'aws-cdk-lib' || f.startsWith('onnxruntime'))).toEqual([]);
    expect(r.frameworks).toContain('@cdktf/provider-google');
  });

  it('a cdktf Azure app under node16 resolution (exports): no errors, no Google or AWS types', () => {
    const r = check(
      'azure',
      [
        "import { App, TerraformStack } from 'cdktf';",
        "import { GpuCluster, GpuType } from 'mlstack';",
        "import { AksNetwork, AzureMlStack } from 'mlstack/azure';",
        "const stack = new TerraformStack(new App(), 'platform');",
        "AzureMlStack.enable(stack, { subscriptionId: '00000000-0000-0000-0000-000000000000', location: 'westeurope' });",
        "new GpuCluster(stack, 'Gpus', { network: AksNetwork.fromSubnet({ subnetId: 'x' }), gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }] });",
      ].join('\n'),
      'node16',
    );
    expect(r.errors).toEqual([]);
    expect(r.frameworks.filter((f) => /aws-cdk-lib|provider-google|onnxruntime/.test(f))).toEqual([]);
  });
});
