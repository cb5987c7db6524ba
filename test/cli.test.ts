import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { listFiles } from '../src/synth/files';
import { modelFor } from './support/kubernetes-schema';
import { cacheDir, mlstack, repo } from './support/cli';

function digest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of listFiles(dir))
    out[f] = createHash('sha256')
      .update(fs.readFileSync(path.join(dir, f)))
      .digest('hex');
  return out;
}

describe('mlstack synth (child process)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-cli-'));
  // The first run is the shared one of test/support/global-setup.ts.
  const first = inject('example');
  const out1 = first.out;
  const out2 = path.join(tmp, 'two');
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('synthesizes the example platform for all three clouds with no credentials', () => {
    // The shared synth runs with --check: the CloudFormation validator and cdk-nag's AwsSolutions pack passed,
    // their reports are in the assembly.
    const reports = (
      JSON.parse(fs.readFileSync(path.join(first.out, 'aws', 'validation-report.json'), 'utf8')) as {
        pluginReports: { pluginName: string }[];
      }
    ).pluginReports;
    expect(reports.map((r) => r.pluginName).sort()).toEqual(['AwsSolutions', 'CloudFormation Validate']);
    for (const r of reports) expect(r).toMatchObject({ conclusion: 'success', violations: [] });
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toMatch(/aws\s+ml-platform-aws/);
    expect(first.stdout).toMatch(/gcp\s+ml-platform-gcp/);
    expect(first.stdout).toMatch(/azure\s+ml-platform-azure/);
    const files = listFiles(out1);
    expect(files).toContain('aws/manifest.json');
    expect(files).toContain('aws/ml-platform-aws.template.json');
    expect(files).toContain('gcp/stacks/ml-platform-gcp/cdk.tf.json');
    expect(files).toContain('azure/stacks/ml-platform-azure/cdk.tf.json');
    expect(
      files.filter((f) => f.startsWith('k8s/ml-platform-aws/ml-platform/') && f.endsWith('.yaml')).length,
    ).toBeGreaterThan(0);
  });

  it('serves the example classifier (and its canary) on every cloud, with the repository in the output', () => {
    const files = listFiles(out1);
    for (const cloud of ['aws', 'gcp', 'azure']) {
      for (const repoDir of ['classifier', 'classifier-canary']) {
        expect(files).toContain(`models/ml-platform-${cloud}/${repoDir}/classifier/config.pbtxt`);
      }
      expect(files).toContain(`models/ml-platform-${cloud}/classifier/classifier/1/model.onnx`);
      expect(files).toContain(`edge/ml-platform-${cloud}/kiosks/package.tgz`);
      expect(files).toContain(`models/ml-platform-${cloud}/classifier-canary/classifier/2/model.onnx`);
      // The example scales on queue time: KEDA's ScaledObject makes the HPA.
      for (const kind of ['deployment', 'service', 'scaledobject', 'networkpolicy']) {
        expect(files).toContain(`k8s/ml-platform-${cloud}/ml-platform/09-${kind}-classifier-classifier.yaml`);
      }
      // Managed Prometheus collects the service: no prometheus-operator object that would need its CRDs.
      const dir = files.filter((f) => f.startsWith(`k8s/ml-platform-${cloud}/`));
      expect(
        dir.filter((f) => /-(servicemonitor|prometheusrule)-/.test(f) && !f.endsWith('-ama.yaml')),
      ).toEqual([]);
    }
    const template = fs.readFileSync(path.join(out1, 'aws', 'ml-platform-aws.template.json'), 'utf8');
    expect(template).toContain('AWS::EKS::PodIdentityAssociation');
    expect(template).toContain('Custom::CDKBucketDeployment');
    const gcp = fs.readFileSync(path.join(out1, 'gcp', 'stacks', 'ml-platform-gcp', 'cdk.tf.json'), 'utf8');
    expect(gcp).toContain('"stable/classifier/1/model.onnx"');
    const azure = fs.readFileSync(
      path.join(out1, 'azure', 'stacks', 'ml-platform-azure', 'cdk.tf.json'),
      'utf8',
    );
    expect(azure).toContain('"azurerm_storage_blob"');
    // The two deploy-time facts a user must know are printed, not buried.
    expect(first.stdout).toMatch(/warning: ml-platform-aws\/Classifier: The S3 bucket .* is named/);
    // Values Azure assigns at apply are filled by mlstack apply (or resolve), not by a manual step.
    expect(first.stdout).toMatch(
      /after deploy: k8s\/ml-platform-azure\/ml-platform needs ml-platform-azure\/ClassifierClassifierClientId, .*mlstack apply \S+\/k8s\/ml-platform-azure\/ml-platform --outputs <outputs> \(charts: mlstack resolve/,
    );
    expect(first.stdout).not.toMatch(/kubectl annotate/);
  });

  it('writes a cloud assembly that names the stack template', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(out1, 'aws', 'manifest.json'), 'utf8'));
    expect(manifest.artifacts['ml-platform-aws']).toMatchObject({
      type: 'aws:cloudformation:stack',
      properties: { templateFile: 'ml-platform-aws.template.json' },
    });
  });

  it('writes Terraform JSON with remote state and no machine paths', () => {
    for (const cloud of ['gcp', 'azure']) {
      const text = fs.readFileSync(
        path.join(out1, cloud, 'stacks', `ml-platform-${cloud}`, 'cdk.tf.json'),
        'utf8',
      );
      expect(text).not.toContain(repo);
      expect(text).not.toContain(os.tmpdir());
      const backend = JSON.parse(text).terraform.backend;
      expect(Object.keys(backend)).toEqual([cloud === 'gcp' ? 'gcs' : 'azurerm']);
    }
  });

  it('writes one Kubernetes object a file, each valid against its schema', () => {
    // charts/ holds Helm values and the install script, not Kubernetes objects.
    const yamlFiles = listFiles(out1).filter((f) => f.startsWith('k8s/') && !f.includes('/charts/'));
    expect(yamlFiles.length).toBeGreaterThanOrEqual(4);
    for (const f of yamlFiles) {
      const docs = parseAllDocuments(fs.readFileSync(path.join(out1, f), 'utf8'));
      expect(docs, f).toHaveLength(1);
      const obj = docs[0].toJS() as { apiVersion: string; kind: string };
      const Model = modelFor(obj.apiVersion, obj.kind);
      expect(() => new Model(obj).validate(), f).not.toThrow();
    }
  });

  it('writes the charts a cluster needs with an install script sh parses, one values file a release', () => {
    const dir = path.join(out1, 'k8s', 'ml-platform-aws', 'ml-platform', 'charts');
    const script = fs.readFileSync(path.join(dir, 'install.sh'), 'utf8');
    expect(spawnSync('sh', ['-n', path.join(dir, 'install.sh')]).status).toBe(0);
    const releases = [...script.matchAll(/^helm upgrade --install (\S+) .* --version (\S+) /gm)];
    expect(releases.map((m) => m[1])).toContain('karpenter');
    for (const [, release, version] of releases) {
      expect(version).toMatch(/^\d+\.\d+\.\d+$/);
      expect(fs.existsSync(path.join(dir, `${release}.values.yaml`)), release).toBe(true);
    }
    expect(fs.readdirSync(dir).sort()).toEqual(
      [...releases.map((m) => `${m[1]}.values.yaml`), 'install.sh'].sort(),
    );
  });

  it('is deterministic: a second run writes byte-identical files', async () => {
    const second = await mlstack(['synth', '--out', out2, '--quiet', '--check']);
    expect(second.code).toBe(0);
    expect(second.stdout).toBe('');
    expect(digest(out2)).toEqual(digest(out1));
  });

  it('removes files of a previous run that the app no longer makes', async () => {
    const stale = path.join(out2, 'k8s', 'gone', 'x.yaml');
    fs.mkdirSync(path.dirname(stale), { recursive: true });
    fs.writeFileSync(stale, 'stale');
    expect((await mlstack(['synth', '--out', out2, '--quiet'])).code).toBe(0);
    expect(fs.existsSync(stale)).toBe(false);
  });

  it('prints one line naming the prop, the value and the fix for a bad-props app, and exits non-zero', async () => {
    const r = await mlstack([
      'synth',
      '--app',
      'test/fixtures/apps/bad-props.ts',
      '--out',
      path.join(tmp, 'bad'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toBe(
      "mlstack: GpuCluster 'bad/Gpus': 'gpuPools[0].minNodes' (4) must not exceed 'gpuPools[0].maxNodes' (2). Set minNodes <= maxNodes.\n",
    );
  });

  it('prints the stack trace with --verbose', async () => {
    const r = await mlstack([
      'synth',
      '--verbose',
      '--app',
      'test/fixtures/apps/bad-props.ts',
      '--out',
      path.join(tmp, 'bad'),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/MlStackValidationError: GpuCluster/);
    expect(r.stderr).toMatch(/\n\s+at /);
  });

  describe('checks the app program itself', () => {
    // Outside test/ (which the repository's own tsc checks), under the checkout so that imports resolve.
    const apps = fs.mkdtempSync(path.join(cacheDir(), 'mlstack-apps-'));
    afterAll(() => fs.rmSync(apps, { recursive: true, force: true }));
    const app = (name: string, body: string) => {
      const file = path.join(apps, name);
      fs.writeFileSync(
        file,
        [
          `import { GpuCluster, GpuType, MlApp } from ${JSON.stringify(path.join(repo, 'index'))};`,
          `import { GcpMlStack } from ${JSON.stringify(path.join(repo, 'stacks', 'gcp'))};`,
          'const app = new MlApp();',
          "const stack = new GcpMlStack(app.gcp, 'typo', { project: 'acme-ml-test', region: 'us-central1' });",
          body,
        ].join('\n'),
      );
      return path.relative(repo, file);
    };

    it('with --typecheck, type-checks it: a misspelled prop fails with file:line though synth succeeds', async () => {
      const file = app(
        'typo.ts',
        "new GpuCluster(stack, 'Gpus', { gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 }, spotty: true }] });",
      );
      const r = await mlstack(['synth', '--app', file, '--out', path.join(tmp, 'typo'), '--typecheck']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        `mlstack: ${file} has 1 type error (fix them; the output was written but do not deploy it):`,
        expect.stringMatching(
          /^mlstack: .*typo\.ts:5:\d+: error TS2561: .*'spotty' does not exist in type 'GpuPoolProps'\. Did you mean to write 'spot'\?$/,
        ),
      ]);
      // Without the flag (the default: it doubles synth's time and memory), synth goes on.
      const skipped = await mlstack(['synth', '--app', file, '--out', path.join(tmp, 'typo')]);
      expect(skipped.code).toBe(0);
    });

    it('lists the type errors before the synth error they cause', async () => {
      const file = app(
        'wrong-type.ts',
        "new GpuCluster(stack, 'Gpus', { clusterName: 131, gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }] });",
      );
      const r = await mlstack(['synth', '--app', file, '--out', path.join(tmp, 'wrong'), '--typecheck']);
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toEqual([
        `mlstack: ${file} has 1 type error (fix them):`,
        expect.stringMatching(
          /^mlstack: .*wrong-type\.ts:5:\d+: error TS2322: Type 'number' is not assignable to type 'string'/,
        ),
        expect.stringMatching(
          /^mlstack: then synth failed: GpuCluster 'typo\/Gpus': 'clusterName' \(131\) is not a valid name/,
        ),
      ]);
    });

    it("with --check, runs aws-cdk-lib's CloudFormation validator and fails on its findings", async () => {
      const file = path.join(apps, 'invalid-cfn.ts');
      fs.writeFileSync(
        file,
        [
          "import { App, Stack, CfnResource } from 'aws-cdk-lib';",
          'const app = new App();',
          "const stack = new Stack(app, 'invalid', { env: { region: 'eu-west-1' } });",
          "new CfnResource(stack, 'Queue', { type: 'AWS::SQS::Queue', properties: { DelaySeconds: 'soon' } });",
          'app.synth();',
        ].join('\n'),
      );
      const rel = path.relative(repo, file);
      const fast = await mlstack(['synth', '--app', rel, '--out', path.join(tmp, 'cfn')]);
      expect(fast.code).toBe(0);
      expect(fs.existsSync(path.join(tmp, 'cfn', 'aws', 'validation-report.json'))).toBe(false);
      const checked = await mlstack(['synth', '--app', rel, '--out', path.join(tmp, 'cfn'), '--check']);
      expect(checked.code).toBe(1);
      expect(checked.stderr).toMatch(/DelaySeconds/);
    });

    it('prints a syntax error with its location and a code frame', async () => {
      const file = app('syntax.ts', 'const x = ;\nexport { x };');
      const r = await mlstack(['synth', '--app', file, '--out', path.join(tmp, 'syntax')]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        [
          `mlstack: ${file}:5:11: syntax error: Unexpected ";"`,
          `mlstack:   4 | const stack = new GcpMlStack(app.gcp, 'typo', { project: 'acme-ml-test', region: 'us-central1' });`,
          'mlstack: > 5 | const x = ;',
          'mlstack:     |           ^',
          'mlstack:   6 | export { x };',
          '',
        ].join('\n'),
      );
    });
  });

  it('reports a missing app file', async () => {
    const r = await mlstack(['synth', '--app', 'nope.ts']);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "mlstack: --app 'nope.ts' does not exist. Pass the path of your app program, e.g. --app infra/app.ts.\n",
    );
  });

  it('rejects an unknown command with usage and a non-zero exit', async () => {
    const r = await mlstack(['synthesize']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'synthesize'/);
  });
});
