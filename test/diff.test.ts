// `mlstack diff` on pairs of synth outputs of the example platform with one small change each, made in this
// process (test/fixtures/apps/diff-platform.ts is the same as an app file), compared by the real CLI.
import { execFile } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { changedPaths, crosses, type DiffReport, diffSynthOutputs } from '../src/diff';
import { renderMarkdown } from '../src/diff/render';
import type { CostDelta } from '../src/cost';
import { cliEnv, mlstack, repo } from './support/cli';

const run = promisify(execFile);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-diff-'));
const out = (v: string) => path.join(tmp, v);
const bin = path.join(repo, 'bin', 'mlstack.js');
const app = path.join(repo, 'test', 'fixtures', 'apps', 'diff-platform.ts');

async function synth(variant: string): Promise<void> {
  await run(process.execPath, [bin, 'synth', '--app', app, '--out', out(variant), '--quiet'], {
    env: { ...cliEnv, MLSTACK_DIFF_VARIANT: variant },
    timeout: 120_000,
  });
}

const cli = (args: string[]) => mlstack(['diff', ...args]);

const only = (r: DiffReport, area: string) => r.changes.filter((c) => c.area === area);

beforeAll(async () => {
  // Two at a time: the CI machine has two cores.
  await Promise.all([synth('base'), synth('max-nodes')]);
  await Promise.all([synth('gpu-type'), synth('no-mlflow')]);
}, 300_000);
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('mlstack diff', () => {
  it('reports no changes for identical outputs and exits 0 even with --fail-on any', async () => {
    const r = await cli([out('base'), out('base'), '--fail-on', 'any']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(r.stdout).toBe('## mlstack diff\n\nNo changes.\n');
  });

  it('shows a node pool size change as an in-place update on every cloud', async () => {
    const report = diffSynthOutputs(out('base'), out('max-nodes'));
    expect(report.changes.map((c) => [c.area, c.type, c.kind, c.paths])).toEqual([
      ['gcp', 'google_container_node_pool', 'update', ['autoscaling.total_max_node_count']],
      ['azure', 'azurerm_kubernetes_cluster_node_pool', 'update', ['max_count']],
      // On AWS the nodes above minNodes are Karpenter's: its NodePool's limits grow, no node is replaced.
      ['k8s', 'NodePool', 'update', ['spec.limits.cpu', 'spec.limits.nvidia.com/gpu']],
    ]);
    // Each changed attribute with its old and new value, in the report and in the comment.
    const gke = report.changes.find((c) => c.area === 'gcp')!;
    expect(gke.values).toEqual([{ path: 'autoscaling.total_max_node_count', old: 6, new: 8 }]);
    const md = (await cli([out('base'), out('max-nodes'), '--fail-on', 'replace'])).stdout;
    expect(md).toContain('`autoscaling.total_max_node_count`: `6` → `8`');
    expect(md).toContain('`max_count`: `6` → `8`');
    expect(md).toMatch(/_Legend: ➕ add · ✏️ update in place · ♻️ replace .* old → new\._/);
    expect((await cli([out('base'), out('max-nodes'), '--fail-on', 'replace'])).code).toBe(0);
    expect((await cli([out('base'), out('max-nodes'), '--fail-on', 'any'])).code).toBe(1);
  });

  it('shows a GPU type change as a replacement of the node pool, with the attributes that force it', async () => {
    const report = diffSynthOutputs(out('base'), out('gpu-type'));
    const pools = report.changes.filter((c) => /NodePool|node_pool/.test(c.type));
    expect(pools.map((c) => [c.area, c.kind, c.stateful, c.replacedBy])).toEqual([
      ['gcp', 'replace', true, ['node_config.guest_accelerator.0.type', 'node_config.machine_type']],
      ['azure', 'replace', true, ['vm_size']],
      // Karpenter drifts every node of a NodePool whose template changed.
      [
        'k8s',
        'replace',
        true,
        ['spec.template.metadata.labels.mlstack.io/gpu-type', 'spec.template.spec.requirements.0.values.0'],
      ],
    ]);
    // The pods follow the pool: their node selectors change, shown as a unified diff.
    const k8s = only(report, 'k8s').find(
      (c) => c.id === 'Deployment/classifier/classifier' && c.stack === 'ml-platform-gcp',
    )!;
    expect(k8s.patch).toMatch(/^-\s+mlstack\.io\/gpu-type: nvidia-l4$/m);
    expect(k8s.patch).toMatch(/^\+\s+mlstack\.io\/gpu-type: nvidia-t4$/m);
    expect((await cli([out('base'), out('gpu-type'), '--fail-on', 'replace'])).code).toBe(1);
    // A replaced node pool is stateful (its nodes and local disks go): destroy blocks it too.
    expect(crosses(report, 'destroy')).toBe(true);
  });

  it('shows a Helm chart version or values change as an update of the release', () => {
    const head = out('chart-bump');
    fs.cpSync(out('base'), head, { recursive: true });
    const file = path.join(head, 'k8s', 'ml-platform-aws', 'ml-platform', 'charts', 'karpenter.values.yaml');
    const text = fs.readFileSync(file, 'utf8');
    fs.writeFileSync(
      file,
      text.replace(/ \d+\.\d+\.\d+ /, ' 9.9.9 ').replace(/^replicas: \d+$/m, 'replicas: 3'),
    );
    const report = diffSynthOutputs(out('base'), head);
    expect(report.changes.map((c) => [c.area, c.id, c.kind, c.paths])).toEqual([
      ['k8s', 'HelmChart/ml-platform/karpenter', 'update', ['chart', 'values.replicas']],
    ]);
  });

  it('calls out the destroyed databases at the top when MlflowTracking is removed, and blocks with --fail-on destroy', async () => {
    const r = await cli([out('base'), out('no-mlflow'), '--fail-on', 'destroy']);
    expect(r.code).toBe(1);
    const top = r.stdout.slice(0, r.stdout.indexOf('| area |'));
    expect(top).toContain('[!CAUTION]');
    expect(top).toMatch(
      /remove from the stack \(retained, no longer managed\) `MlflowDatabase\w+` \(AWS::RDS::DBInstance\)/,
    );
    expect(top).toMatch(/destroy `google_sql_database_instance\.Mlflow_Database_\w+`/);
    expect(top).toMatch(/destroy `azurerm_postgresql_flexible_server\.Mlflow_Database_\w+`/);
    // One update: the access-log bucket's policy no longer admits the removed artifacts bucket's logs.
    expect(r.stdout).toMatch(/\| AWS \(CloudFormation\) \| `ml-platform-aws` \| 0 \| 1 \| 0 \| \d+ \|/);
    expect(r.stdout).toMatch(/✏️ update \| `MlstackAccessLogsPolicy[0-9A-F]+` \| AWS::S3::BucketPolicy/);
    expect(r.stdout).toContain('<details><summary>Kubernetes · <code>ml-platform-gcp</code>');
  });

  it('puts the monthly cost delta next to the change, and blocks with --fail-on-cost-increase', async () => {
    // Inference pools 6 → 8 nodes. AWS: 2 more g6.xlarge at $0.8048 (Karpenter's 2026-01-19 price): 2 × 0.8048 ×
    // 730 = 1175.01. Google Cloud: 2 more spot g2-standard-4 at $0.23 with 200 GB pd-balanced boot disks at $0.10:
    // 2 × (0.23 × 730 + 20) = 375.8. Azure: its VM sizes have no price in the built-in catalog yet.
    const r = await cli([out('base'), out('max-nodes'), '--format', 'json']);
    expect(r.code).toBe(0);
    const { cost } = JSON.parse(r.stdout) as { cost: CostDelta };
    const stack = (name: string) => cost.stacks.find((x) => x.stack === name)!;
    expect(stack('ml-platform-aws').lines).toEqual([
      expect.objectContaining({
        resource: 'NodePool/mlstack-inference',
        kind: 'change',
        before: '0–6 × g6.xlarge (spot)',
        after: '0–8 × g6.xlarge (spot)',
        deltaMin: 0,
        deltaMax: 1175.01,
      }),
    ]);
    expect(stack('ml-platform-gcp')).toMatchObject({ deltaMin: 0, deltaMax: 375.8 });
    expect(stack('ml-platform-azure').deltaMax).toBe(0);
    expect(stack('ml-platform-azure').unpricedChanged.map((u) => u.resource)).toEqual([
      expect.stringMatching(/^azurerm_kubernetes_cluster_node_pool\.Gpus_Pool-inference_/),
    ]);
    expect(cost.deltaMax).toBe(1550.81);

    const md = await cli([out('base'), out('max-nodes'), '--fail-on-cost-increase', '1500']);
    expect(md.code).toBe(1);
    expect(md.stdout).toContain('### Monthly cost: $0.00 at minimum scale, +$1,550.81 at maximum');
    expect(md.stdout).toContain(
      '| `ml-platform-aws` | `NodePool/mlstack-inference` | 0–6 × g6.xlarge (spot) → 0–8 × g6.xlarge (spot) | $0.00 | +$1,175.01 |',
    );
    expect(md.stdout).toMatch(
      /Not in the delta — 1 added or changed resource without a price: `azurerm_kubernetes_cluster_node_pool/,
    );
    expect((await cli([out('base'), out('max-nodes'), '--fail-on-cost-increase', '2000'])).code).toBe(0);
    // Percent of the base at maximum scale: the base is above $50,000, so +$1,550.81 is under 5%.
    expect((await cli([out('base'), out('max-nodes'), '--fail-on-cost-increase', '5%'])).code).toBe(0);
    expect((await cli([out('base'), out('max-nodes'), '--fail-on-cost-increase', '1%'])).code).toBe(1);
    const bad = await cli([out('base'), out('max-nodes'), '--fail-on-cost-increase', 'lots']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain(
      '--fail-on-cost-increase ("lots") must be an amount in USD a month (500) or a percentage of the base (10%).',
    );
  });

  it('writes the whole report as JSON', async () => {
    const r = await cli([out('base'), out('no-mlflow'), '--format', 'json']);
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout) as DiffReport;
    expect(
      report.changes.some(
        (c) => c.type === 'google_sql_database_instance' && c.kind === 'remove' && c.stateful,
      ),
    ).toBe(true);
    expect(report.changes.filter((c) => c.area === 'k8s' && c.kind === 'remove').map((c) => c.id)).toContain(
      'Deployment/mlflow/mlflow',
    );
  });

  it('shows model repository changes with a diff of config.pbtxt', () => {
    const changed = out('model-change');
    fs.cpSync(out('base'), changed, { recursive: true });
    const config = path.join(
      changed,
      'models',
      'ml-platform-gcp',
      'classifier',
      'classifier',
      'config.pbtxt',
    );
    fs.writeFileSync(
      config,
      fs.readFileSync(config, 'utf8').replace('max_batch_size: 32', 'max_batch_size: 16'),
    );
    const report = diffSynthOutputs(out('base'), changed);
    expect(report.changes).toHaveLength(1);
    expect(report.changes[0]).toMatchObject({
      area: 'models',
      stack: 'ml-platform-gcp',
      id: 'classifier/classifier',
      kind: 'update',
      paths: ['config.pbtxt'],
    });
    expect(report.changes[0].patch).toMatch(/^-max_batch_size: 32$/m);
    expect(report.changes[0].patch).toMatch(/^\+max_batch_size: 16$/m);
  });

  it('caps the Markdown and says what it left out', () => {
    const report = diffSynthOutputs(out('base'), out('no-mlflow'));
    const full = renderMarkdown(report);
    const capped = renderMarkdown(report, 4000);
    expect(full.length).toBeGreaterThan(4000);
    expect(capped.length).toBeLessThanOrEqual(4000);
    expect(capped).toMatch(
      /_\d+ of \d+ detail sections left out to stay under 4000 characters; run `mlstack diff --format json`/,
    );
    expect(capped).toContain('[!CAUTION]');
  });

  it('rejects bad input with one line and exit code 2, usage errors included', async () => {
    const usage = await cli([out('base')]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/missing required argument 'head'/);
    expect((await cli([out('base'), out('base'), '--no-such-flag'])).code).toBe(2);
    expect((await cli([out('base'), out('base'), '--max-chars', 'lots'])).code).toBe(2);
    const missing = await cli([path.join(tmp, 'nope'), out('base')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim()).toMatch(/^mlstack: base synth output '.*nope' is not a folder/);
    const empty = fs.mkdtempSync(path.join(tmp, 'empty-'));
    expect((await cli([empty, out('base')])).stderr).toMatch(/is not an 'mlstack synth' output/);
    const level = await cli([out('base'), out('base'), '--fail-on', 'sometimes']);
    expect(level.code).toBe(2);
    expect(level.stderr.trim()).toBe(
      'mlstack: --fail-on ("sometimes") must be destroy, replace, any or none.',
    );
  });
});

describe('changedPaths', () => {
  it('lists the leaf paths that differ, with array indices', () => {
    expect(
      changedPaths({ a: 1, b: { c: [1, 2], d: 'x' } }, { a: 1, b: { c: [1, 3], d: 'x', e: true } }),
    ).toEqual(['b.c.1', 'b.e']);
    expect(changedPaths('x', 'y')).toEqual(['(value)']);
    expect(changedPaths({ a: 1 }, { a: 1 })).toEqual([]);
  });
});

describe('the GitHub Actions workflow', () => {
  const text = fs.readFileSync(path.join(repo, 'examples', 'ci', 'github-actions.yml'), 'utf8');
  const workflow = parse(text) as {
    on: Record<string, unknown>;
    permissions: Record<string, string>;
    jobs: {
      diff: { steps: { name?: string; uses?: string; run?: string; with?: Record<string, string> }[] };
    };
  };
  const steps = workflow.jobs.diff.steps;

  it('runs on pull requests, synthesizes base and head, diffs them with --fail-on destroy, comments and uploads', () => {
    expect(Object.keys(workflow.on)).toEqual(['pull_request']);
    expect(steps.filter((s) => s.uses?.startsWith('actions/checkout@')).map((s) => s.with?.path)).toEqual([
      'head',
      'base',
    ]);
    const runs = steps.map((s) => s.run ?? '').join('\n');
    expect(runs.match(/npm ci/g)).toHaveLength(2);
    expect(runs).toContain('npx mlstack synth --app "$MLSTACK_APP" --out "$RUNNER_TEMP/synth-base"');
    expect(runs).toContain('npx mlstack synth --app "$MLSTACK_APP" --out "$RUNNER_TEMP/synth-head"');
    expect(runs).toMatch(
      /npx mlstack diff "\$RUNNER_TEMP\/synth-base" "\$RUNNER_TEMP\/synth-head" --format markdown --fail-on destroy --fail-on-cost-increase "\$MLSTACK_MAX_COST_INCREASE"/,
    );
    expect(steps.some((s) => s.uses?.startsWith('actions/github-script@'))).toBe(true);
    expect(steps.some((s) => s.uses?.startsWith('actions/upload-artifact@'))).toBe(true);
    const sarif = steps.find((s) => s.uses?.startsWith('github/codeql-action/upload-sarif@'));
    expect(sarif?.with?.sarif_file).toBe('${{ runner.temp }}/synth-head/policy/results.sarif');
  });

  it('needs no cloud credentials and no secrets', () => {
    expect(workflow.permissions).toEqual({
      contents: 'read',
      'pull-requests': 'write',
      'security-events': 'write',
    });
    expect(text).not.toMatch(/secrets\.|configure-aws-credentials|google-github-actions\/auth|azure\/login/);
  });
});
