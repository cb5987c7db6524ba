// mlstack as a consumer gets it: the package is built and packed with `npm pack` (the files of package.json's
// `files`, dist/ compiled from this checkout), the tarball unpacked into a consumer's node_modules. Its declarations
// are type-checked with skipLibCheck off under the module resolutions consumers use (node10, what `cdktf init`
// writes, and node16): a program for one cloud loads no other cloud's framework types and never onnxruntime's. Then
// projects shaped as `cdk init app --language typescript` and `cdktf init --template typescript` write them (their
// tsconfigs) add mlstack to stacks that already have a network, on an imported cluster, and are synthesized by the
// real `cdk synth` and by running the cdktf app: the user's resources are unchanged, and no second network or
// provider appears. The package's dependencies resolve from this checkout's node_modules (the consumers live under
// it), so nothing is downloaded.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import ts from 'typescript';
import { beforeAll, describe, expect, it } from 'vitest';
import { cacheDir, cliEnv, repo } from './support/cli';
import { packMlstack, type PackReport, readTsconfig } from './support/pack';

const run = promisify(execFile);
const root = path.join(cacheDir(), 'mlstack-consumer');
const pkgDir = path.join(root, 'node_modules', 'mlstack');
/** What `npm pack` reported: the tarball's size, unpacked size and file count. */
let packed: PackReport;

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

/** Runs `file args` in `cwd`, bounded, with the CLI environment; throws with both outputs on failure. */
async function sh(file: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  try {
    return await run(file, args, {
      cwd,
      env: { ...cliEnv, AWS_EC2_METADATA_DISABLED: 'true', ...env },
      timeout: 180_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (e) {
    const err = e as { message: string; stdout?: string; stderr?: string };
    // The child's stack frames are kept as text, and the child's error is not attached as the cause: vitest
    // would read those frames as this error's and fail on the consumer's files.
    const output = `${err.stdout ?? ''}\n${err.stderr ?? ''}`.replace(/^(\s+)at /gm, '$1(at) ');
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`${file} ${args.join(' ')} failed: ${err.message.split('\n')[0]}\n${output}`);
  }
}

beforeAll(async () => {
  fs.rmSync(root, { recursive: true, force: true });
  fs.mkdirSync(root, { recursive: true });
  packed = await packMlstack(root, pkgDir);
}, 300_000);

describe('the packed package', () => {
  it('holds what its exports, typesVersions and bin name, and runs its CLI from dist/', async () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as {
      exports: Record<string, string | { types: string; default: string }>;
      typesVersions: Record<string, Record<string, string[]>>;
      bin: Record<string, string>;
    };
    const targets = [
      ...Object.values(manifest.exports).flatMap((e) => (typeof e === 'string' ? [e] : [e.types, e.default])),
      ...Object.values(manifest.typesVersions['*']).flat(),
      ...Object.values(manifest.bin),
    ];
    for (const t of targets) expect(fs.existsSync(path.join(pkgDir, t)), t).toBe(true);
    expect(fs.existsSync(path.join(pkgDir, 'src')), 'no TypeScript sources').toBe(false);
    expect(fs.existsSync(path.join(pkgDir, 'test')), 'no tests').toBe(false);
    expect(packed.entryCount).toBeGreaterThan(100);
    const version = await sh(process.execPath, [path.join(pkgDir, 'bin', 'mlstack.js'), '--version'], root);
    const own = JSON.parse(fs.readFileSync(path.join(repo, 'package.json'), 'utf8')) as { version: string };
    expect(version.stdout.trim()).toBe(own.version);
    expect(version.stderr).not.toMatch(/older than the sources/);
  });
});

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

/** Writes `files` (relative path → content) under `dir`. */
function writeProject(dir: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
}

/** Type-checks a project with its own tsconfig.json; returns the diagnostics. */
function typecheckProject(dir: string): string[] {
  const config = readTsconfig(path.join(dir, 'tsconfig.json'));
  const program = ts.createProgram(config.fileNames, { ...config.options, noEmit: true, incremental: false });
  return ts
    .getPreEmitDiagnostics(program)
    .map(
      (d) =>
        `${d.file?.fileName.replace(dir, '') ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`,
    );
}

type Resources = Record<string, { Type: string; Properties?: Record<string, unknown> }>;

/** The user's CDK app as `cdk init app --language typescript` lays it out: a VPC and a bucket, and `extra` lines. */
function cdkApp(extra: string[]): Record<string, string> {
  return {
    'package.json': JSON.stringify(
      {
        name: 'platform',
        version: '0.1.0',
        bin: { platform: 'bin/platform.js' },
        scripts: { build: 'tsc', cdk: 'cdk' },
      },
      null,
      2,
    ),
    // cdk init's tsconfig (aws-cdk 2.1100+), unchanged.
    'tsconfig.json': JSON.stringify(
      {
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          lib: ['es2022'],
          declaration: true,
          strict: true,
          noImplicitAny: true,
          strictNullChecks: true,
          noImplicitThis: true,
          alwaysStrict: true,
          noUnusedLocals: false,
          noUnusedParameters: false,
          noImplicitReturns: true,
          noFallthroughCasesInSwitch: false,
          inlineSourceMap: true,
          inlineSources: true,
          experimentalDecorators: true,
          strictPropertyInitialization: false,
          typeRoots: [path.join(repo, 'node_modules', '@types')],
        },
        exclude: ['node_modules', 'cdk.out'],
      },
      null,
      2,
    ),
    // cdk init runs the app with ts-node; TypeScript 7 broke ts-node (docs/design.md), so tsx, as mlstack's own.
    'cdk.json': JSON.stringify(
      { app: `${path.join(repo, 'node_modules', '.bin', 'tsx')} bin/platform.ts` },
      null,
      2,
    ),
    // The answers of the app's lookups, as a user's first `cdk synth` with credentials records them (committed).
    'cdk.context.json': JSON.stringify(
      {
        'availability-zones:account=123456789012:region=eu-west-1': [
          'eu-west-1a',
          'eu-west-1b',
          'eu-west-1c',
        ],
      },
      null,
      2,
    ),
    'bin/platform.ts': [
      "import * as cdk from 'aws-cdk-lib';",
      "import { PlatformStack } from '../lib/platform-stack';",
      '',
      'const app = new cdk.App();',
      "new PlatformStack(app, 'PlatformStack', { env: { account: '123456789012', region: 'eu-west-1' } });",
      '',
    ].join('\n'),
    'lib/platform-stack.ts': [
      "import * as cdk from 'aws-cdk-lib';",
      "import * as ec2 from 'aws-cdk-lib/aws-ec2';",
      "import * as s3 from 'aws-cdk-lib/aws-s3';",
      "import { Construct } from 'constructs';",
      ...(extra.length
        ? [
            "import { GpuCluster, GpuType, MlflowTracking, AlertDestination } from 'mlstack';",
            "import { EksExistingCluster, EksNetwork } from 'mlstack/aws';",
          ]
        : []),
      '',
      'export class PlatformStack extends cdk.Stack {',
      '  constructor(scope: Construct, id: string, props?: cdk.StackProps) {',
      '    super(scope, id, props);',
      "    const vpc = new ec2.Vpc(this, 'Vpc', {",
      "      ipAddresses: ec2.IpAddresses.cidr('10.40.0.0/16'),",
      '      maxAzs: 2,',
      '    });',
      "    new s3.Bucket(this, 'Data', { enforceSSL: true, versioned: true });",
      ...extra.map((l) => `    ${l}`),
      '  }',
      '}',
      '',
    ].join('\n'),
  };
}

describe('a `cdk init app` project with its own VPC', () => {
  const dir = () => path.join(root, 'cdk-app');
  const synth = async (extra: string[]) => {
    fs.rmSync(dir(), { recursive: true, force: true });
    writeProject(dir(), cdkApp(extra));
    const r = await sh(
      path.join(repo, 'node_modules', '.bin', 'cdk'),
      ['synth', '--no-notices', '--quiet'],
      dir(),
    );
    const template = JSON.parse(
      fs.readFileSync(path.join(dir(), 'cdk.out', 'PlatformStack.template.json'), 'utf8'),
    ) as { Resources: Resources };
    return { r, template };
  };

  it('adds a GPU cluster on an imported EKS cluster with `cdk synth`, leaving the VPC and bucket as they were', async () => {
    const before = await synth([]);
    const mlstackLines = [
      "const cluster = new GpuCluster(this, 'Gpus', {",
      '  existingCluster: EksExistingCluster.fromAttributes({',
      "    clusterName: 'prod',",
      "    clusterSecurityGroupId: 'sg-0123456789abcdef0',",
      "    podIdentityAgent: 'installed',",
      '  }),',
      '  network: EksNetwork.fromVpc(vpc),',
      "  gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, maxNodes: 4 }],",
      "  alerts: [AlertDestination.email('ml-oncall@example.com')],",
      '});',
      "new MlflowTracking(this, 'Mlflow', { cluster, production: true });",
    ];
    writeProject(dir(), cdkApp(mlstackLines));
    expect(typecheckProject(dir())).toEqual([]);
    const after = await synth(mlstackLines);
    const types = (t: { Resources: Resources }) => Object.values(t.Resources).map((r) => r.Type);
    expect(types(after.template).filter((t) => t === 'AWS::EC2::VPC')).toHaveLength(1);
    expect(types(after.template)).not.toContain('AWS::EKS::Cluster');
    expect(types(after.template)).toContain('AWS::EKS::Nodegroup');
    expect(types(after.template)).toContain('AWS::RDS::DBInstance');
    // Every resource the user had is still there with the same logical id and properties; the only change is
    // Karpenter's discovery tag on the private subnets its nodes launch into.
    for (const [id, resource] of Object.entries(before.template.Resources)) {
      if (resource.Type === 'AWS::CDK::Metadata') continue; // the construct libraries in use, by design
      const now = after.template.Resources[id];
      expect(now, id).toBeDefined();
      if (resource.Type === 'AWS::EC2::Subnet' && id.includes('Private')) {
        const tags = (now.Properties!.Tags as { Key: string; Value: string }[]).filter(
          (t) => t.Key !== 'karpenter.sh/discovery',
        );
        expect({ ...now.Properties, Tags: tags }, id).toEqual(resource.Properties);
        expect(now.Properties!.Tags).toContainEqual({ Key: 'karpenter.sh/discovery', Value: 'prod' });
      } else {
        expect(now, id).toEqual(resource);
      }
    }
    // The cluster's Kubernetes objects are in the cloud assembly, and synth said nothing applies them.
    const k8s = path.join(dir(), 'cdk.out', 'k8s', 'PlatformStack', 'prod');
    expect(fs.readdirSync(k8s).filter((f) => f.endsWith('.yaml')).length).toBeGreaterThan(5);
    expect(after.r.stderr).toMatch(/not applied by cdk deploy/);
  }, 300_000);
});

/** The user's cdktf app as `cdktf init --template typescript` lays it out, with a network per cloud and `extra`. */
function cdktfApp(extra: { gcp: string[]; azure: string[] }): Record<string, string> {
  const on = extra.gcp.length > 0;
  return {
    'package.json': JSON.stringify(
      { name: 'platform', version: '1.0.0', main: 'main.js', types: 'main.ts' },
      null,
      2,
    ),
    'cdktf.json': JSON.stringify(
      { language: 'typescript', app: 'npx ts-node main.ts', projectId: 'platform' },
      null,
      2,
    ),
    // cdktf init's tsconfig, unchanged.
    'tsconfig.json': JSON.stringify(
      {
        compilerOptions: {
          alwaysStrict: true,
          declaration: true,
          experimentalDecorators: true,
          inlineSourceMap: true,
          inlineSources: true,
          lib: ['es2018'],
          module: 'CommonJS',
          noEmitOnError: true,
          noFallthroughCasesInSwitch: true,
          noImplicitAny: true,
          noImplicitReturns: true,
          noImplicitThis: true,
          noUnusedLocals: true,
          noUnusedParameters: true,
          resolveJsonModule: true,
          strict: true,
          strictNullChecks: true,
          strictPropertyInitialization: true,
          stripInternal: true,
          target: 'ES2018',
          incremental: true,
          skipLibCheck: true,
          typeRoots: [path.join(repo, 'node_modules', '@types')],
        },
        include: ['**/*.ts'],
        exclude: ['node_modules', 'cdktf.out'],
      },
      null,
      2,
    ),
    'main.ts': [
      "import { Construct } from 'constructs';",
      "import { App, TerraformStack } from 'cdktf';",
      "import { GoogleProvider } from '@cdktf/provider-google/lib/provider';",
      "import { ComputeNetwork } from '@cdktf/provider-google/lib/compute-network';",
      "import { ComputeSubnetwork } from '@cdktf/provider-google/lib/compute-subnetwork';",
      "import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';",
      "import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';",
      "import { VirtualNetwork } from '@cdktf/provider-azurerm/lib/virtual-network';",
      "import { Subnet } from '@cdktf/provider-azurerm/lib/subnet';",
      ...(on
        ? [
            "import { AlertDestination, GpuCluster, GpuType, MlflowTracking } from 'mlstack';",
            "import { GkeExistingCluster, GkeNetwork } from 'mlstack/gcp';",
            "import { AksExistingCluster, AksNetwork, AzureMlStack } from 'mlstack/azure';",
          ]
        : []),
      '',
      'class GoogleStack extends TerraformStack {',
      '  constructor(scope: Construct, id: string) {',
      '    super(scope, id);',
      "    new GoogleProvider(this, 'google', { project: 'acme-ml-prod', region: 'us-central1' });",
      "    const network = new ComputeNetwork(this, 'network', { name: 'shared', autoCreateSubnetworks: false });",
      "    const subnet = new ComputeSubnetwork(this, 'gke', {",
      "      name: 'gke', network: network.id, region: 'us-central1', ipCidrRange: '10.8.0.0/20',",
      "      secondaryIpRange: [{ rangeName: 'pods', ipCidrRange: '10.16.0.0/14' }, { rangeName: 'services', ipCidrRange: '10.20.0.0/20' }],",
      '    });',
      ...extra.gcp.map((l) => `    ${l}`),
      ...(on ? [] : ['    void subnet;']),
      '  }',
      '}',
      '',
      'class AzureStack extends TerraformStack {',
      '  constructor(scope: Construct, id: string) {',
      '    super(scope, id);',
      "    new AzurermProvider(this, 'azurerm', { features: [{}], subscriptionId: '00000000-0000-0000-0000-000000000000', storageUseAzuread: true });",
      "    const rg = new ResourceGroup(this, 'net', { name: 'net', location: 'westeurope' });",
      "    const vnet = new VirtualNetwork(this, 'hub', { name: 'hub', location: 'westeurope', resourceGroupName: rg.name, addressSpace: ['10.60.0.0/16'] });",
      "    const aks = new Subnet(this, 'aks', { name: 'aks', resourceGroupName: rg.name, virtualNetworkName: vnet.name, addressPrefixes: ['10.60.0.0/20'] });",
      "    const db = new Subnet(this, 'db', {",
      "      name: 'db', resourceGroupName: rg.name, virtualNetworkName: vnet.name, addressPrefixes: ['10.60.16.0/24'],",
      "      delegation: [{ name: 'pg', serviceDelegation: { name: 'Microsoft.DBforPostgreSQL/flexibleServers', actions: ['Microsoft.Network/virtualNetworks/subnets/join/action'] } }],",
      '    });',
      ...extra.azure.map((l) => `    ${l}`),
      ...(on ? [] : ['    void aks;', '    void db;']),
      '  }',
      '}',
      '',
      'const app = new App();',
      "new GoogleStack(app, 'google');",
      "new AzureStack(app, 'azure');",
      'app.synth();',
      '',
    ].join('\n'),
  };
}

describe('a `cdktf init` project with its own providers and networks', () => {
  const dir = () => path.join(root, 'cdktf-app');
  const synth = async (extra: { gcp: string[]; azure: string[] }) => {
    fs.rmSync(dir(), { recursive: true, force: true });
    writeProject(dir(), cdktfApp(extra));
    const r = await sh(path.join(repo, 'node_modules', '.bin', 'tsx'), ['main.ts'], dir());
    const read = (stack: string) =>
      JSON.parse(fs.readFileSync(path.join(dir(), 'cdktf.out', 'stacks', stack, 'cdk.tf.json'), 'utf8')) as {
        provider: Record<string, unknown[]>;
        resource: Record<string, Record<string, unknown>>;
      };
    return { r, google: read('google'), azure: read('azure') };
  };

  it('adds GPU clusters on imported GKE and AKS clusters, reusing the providers and networks', async () => {
    const before = await synth({ gcp: [], azure: [] });
    const alerts = "alerts: [AlertDestination.email('ml-oncall@example.com')],";
    const extra = {
      gcp: [
        "const cluster = new GpuCluster(this, 'Gpus', {",
        "  existingCluster: GkeExistingCluster.fromName({ name: 'prod', location: 'us-central1' }),",
        '  network: GkeNetwork.fromNetwork({',
        "    network: network.id, subnetwork: subnet.id, subnetworkCidr: '10.8.0.0/20', podsRange: 'pods', servicesRange: 'services',",
        '  }),',
        "  gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],",
        `  ${alerts}`,
        '});',
        "new MlflowTracking(this, 'Mlflow', { cluster, production: true });",
      ],
      azure: [
        // An azurerm provider names no location: the one line that says where mlstack's resources go.
        "AzureMlStack.enable(this, { subscriptionId: '00000000-0000-0000-0000-000000000000', location: 'westeurope' });",
        "const cluster = new GpuCluster(this, 'Gpus', {",
        '  existingCluster: AksExistingCluster.fromId(',
        "    '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/platform/providers/Microsoft.ContainerService/managedClusters/prod',",
        '  ),',
        '  network: AksNetwork.fromSubnet({ subnetId: aks.id, virtualNetworkId: vnet.id, databaseSubnetId: db.id }),',
        "  gpuPools: [{ name: 't4', gpu: { type: GpuType.NVIDIA_T4 } }],",
        `  ${alerts}`,
        '});',
        "new MlflowTracking(this, 'Mlflow', { cluster, production: true });",
      ],
    };
    writeProject(dir(), cdktfApp(extra));
    expect(typecheckProject(dir())).toEqual([]);
    const after = await synth(extra);
    // One provider of each, the user's; one network, the user's; no cluster.
    expect(after.google.provider.google).toHaveLength(1);
    expect(after.azure.provider.azurerm).toHaveLength(1);
    expect(Object.keys(after.google.resource.google_compute_network)).toEqual(['network']);
    expect(Object.keys(after.azure.resource.azurerm_virtual_network)).toEqual(['hub']);
    expect(after.google.resource.google_container_cluster).toBeUndefined();
    expect(after.azure.resource.azurerm_kubernetes_cluster).toBeUndefined();
    expect(after.google.resource.google_sql_database_instance).toBeDefined();
    expect(after.azure.resource.azurerm_postgresql_flexible_server).toBeDefined();
    // The user's resources are exactly as they were.
    for (const cloud of ['google', 'azure'] as const) {
      // The user's providers as they were; mlstack adds only `random` (generated database passwords), once.
      for (const [name, list] of Object.entries(before[cloud].provider)) {
        expect(after[cloud].provider[name], name).toEqual(list);
      }
      const added = Object.keys(after[cloud].provider).filter((p) => !(p in before[cloud].provider));
      expect(added).toEqual(['random']);
      expect(after[cloud].provider.random).toHaveLength(1);
      for (const [type, byName] of Object.entries(before[cloud].resource)) {
        for (const [name, body] of Object.entries(byName)) {
          expect(after[cloud].resource[type]?.[name], `${type}.${name}`).toEqual(body);
        }
      }
    }
    // Each cluster's Kubernetes objects are next to the app's output; synth said Terraform does not apply them.
    for (const stack of ['google', 'azure']) {
      const k8s = path.join(dir(), 'cdktf.out', 'k8s', stack, 'prod');
      expect(fs.readdirSync(k8s).filter((f) => f.endsWith('.yaml')).length, stack).toBeGreaterThan(3);
    }
  }, 300_000);
});
