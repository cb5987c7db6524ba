// `mlstack apply` against an API server on 127.0.0.1 that this file starts (test/support/fake-apiserver.ts: server-side
// apply with field managers and 409 conflicts, dryRun, discovery that serves a CRD's kind only once it is Established,
// deletes, and a controller stand-in that rolls workloads out or leaves them Unschedulable). Unit tests for ordering,
// the ApplySet id, rollout status and the field diff; integration tests in-process and through the real CLI.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import {
  applyCommand,
  type ApplyOptions,
  applyOrder,
  applySetFor,
  fieldDiff,
  type ManifestObject,
  rolloutStatus,
} from '../src/cli/apply';
import { cliEnv, mlstack } from './support/cli';
import { type FakeApiServer, startFakeApiServer } from './support/fake-apiserver';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-apply-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const ns = (name: string) => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
const deployment = (replicas: number, name = 'classifier') => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name, namespace: 'serving', labels: { 'app.kubernetes.io/managed-by': 'mlstack' } },
  spec: {
    replicas,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name } },
      spec: { containers: [{ name: 'server', image: 'registry.example.com/server:1' }] },
    },
  },
});
const service = {
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name: 'classifier', namespace: 'serving' },
  spec: { selector: { app: 'classifier' }, ports: [{ name: 'http', port: 8000 }] },
};
const config = (value: string) => ({
  apiVersion: 'v1',
  kind: 'ConfigMap',
  metadata: { name: 'settings', namespace: 'serving' },
  data: { endpoint: value },
});

let folders = 0;
/** A cluster folder `k8s/<stack>/<cluster>` with one file per object, named as synth names them. */
function folder(objects: Record<string, object>, stack = 'platform', cluster = 'gpus'): string {
  const dir = path.join(tmp, `out-${++folders}`, 'k8s', stack, cluster);
  fs.mkdirSync(dir, { recursive: true });
  for (const [file, o] of Object.entries(objects)) fs.writeFileSync(path.join(dir, file), stringify(o));
  return dir;
}

function kubeconfig(server: FakeApiServer): string {
  const file = path.join(tmp, `kubeconfig-${new URL(server.url).port}`);
  fs.writeFileSync(
    file,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      // Plain HTTP on 127.0.0.1: client-node allows it only with TLS verification off.
      clusters: [{ name: 'test', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'test', user: { token: 'test-token' } }],
      contexts: [{ name: 'test', context: { cluster: 'test', user: 'test' } }],
      'current-context': 'test',
    }),
  );
  return file;
}

let server: FakeApiServer;
let lines: string[] = [];
const run = (dir: string, opts: Partial<ApplyOptions> = {}) => {
  lines = [];
  return applyCommand(dir, {
    kubeconfig: kubeconfig(server),
    pollMs: 50,
    timeoutMs: 10_000,
    log: (l) => lines.push(l),
    ...opts,
  });
};
afterEach(async () => {
  await server?.close();
});

describe('apply order, ApplySet id, rollout status, field diff', () => {
  it('puts CRDs, namespaces, identities and RBAC, then configuration before the rest, keeping file order', () => {
    const item = (kind: string, file: string) => ({
      file,
      object: { apiVersion: 'v1', kind, metadata: { name: file } } as ManifestObject,
    });
    const ordered = applyOrder([
      item('Deployment', '09-deployment-a.yaml'),
      item('ConfigMap', '05-configmap-a.yaml'),
      item('RoleBinding', '04-rolebinding-a.yaml'),
      item('Namespace', '01-namespace-b.yaml'),
      item('CustomResourceDefinition', '00-crd.yaml'),
      item('Namespace', '01-namespace-a.yaml'),
      item('ServiceAccount', '03-serviceaccount-a.yaml'),
      item('Service', '09-service-a.yaml'),
    ]).map((i) => i.file);
    expect(ordered).toEqual([
      '00-crd.yaml',
      '01-namespace-a.yaml',
      '01-namespace-b.yaml',
      '03-serviceaccount-a.yaml',
      '04-rolebinding-a.yaml',
      '05-configmap-a.yaml',
      '09-deployment-a.yaml',
      '09-service-a.yaml',
    ]);
  });

  it('names the ApplySet as KEP-3659 computes it, one per stack and cluster', () => {
    const a = applySetFor('platform', 'gpus');
    expect(a).toMatchObject({ name: 'mlstack-platform-gpus', namespace: 'kube-system' });
    expect(a.id).toMatch(/^applyset-[A-Za-z0-9_-]{43}-v1$/);
    expect(applySetFor('platform', 'gpus').id).toBe(a.id);
    expect(applySetFor('platform', 'other').id).not.toBe(a.id);
  });

  it('reads rollout status as kubectl rollout status does', () => {
    const d = (status: object, generation = 2) => ({
      kind: 'Deployment',
      metadata: { generation },
      spec: { replicas: 3 },
      status,
    });
    expect(rolloutStatus(d({ observedGeneration: 1 })).message).toMatch(/observe the new generation/);
    expect(rolloutStatus(d({ observedGeneration: 2, updatedReplicas: 1, replicas: 3 })).message).toBe(
      '1 of 3 replicas updated',
    );
    expect(
      rolloutStatus(d({ observedGeneration: 2, updatedReplicas: 3, replicas: 4, availableReplicas: 3 }))
        .message,
    ).toBe('1 old replicas pending termination');
    expect(
      rolloutStatus(d({ observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 2 })).done,
    ).toBe(false);
    expect(
      rolloutStatus(d({ observedGeneration: 2, updatedReplicas: 3, replicas: 3, availableReplicas: 3 })).done,
    ).toBe(true);
    expect(
      rolloutStatus(
        d({
          conditions: [
            { type: 'Progressing', status: 'False', reason: 'ProgressDeadlineExceeded', message: 'x' },
          ],
        }),
      ).failed,
    ).toMatch(/progress deadline exceeded/);
    const job = (status: object) => ({ kind: 'Job', metadata: {}, spec: {}, status });
    expect(rolloutStatus(job({ succeeded: 1 })).done).toBe(true);
    expect(
      rolloutStatus(job({ conditions: [{ type: 'Failed', status: 'True', reason: 'BackoffLimitExceeded' }] }))
        .failed,
    ).toMatch(/BackoffLimitExceeded/);
    expect(rolloutStatus({ kind: 'Service', metadata: {} }).done).toBe(true);
  });

  it('diffs leaf fields, leaving out what the server owns (managedFields, resourceVersion, status)', () => {
    const live = {
      metadata: { name: 'a', resourceVersion: '3', managedFields: [1] },
      spec: { replicas: 2, x: { y: 1 } },
      status: { a: 1 },
    };
    const next = {
      metadata: { name: 'a', resourceVersion: '4', managedFields: [2] },
      spec: { replicas: 3, x: { y: 1, z: 'new' } },
      status: { a: 2 },
    };
    expect(fieldDiff(live, next)).toEqual([
      { path: '.spec.replicas', from: 2, to: 3 },
      { path: '.spec.x.z', from: undefined, to: 'new' },
    ]);
  });
});

describe('mlstack apply against an API server on 127.0.0.1', () => {
  it('creates with server-side apply (field manager mlstack), labels the ApplySet, and is idempotent', async () => {
    server = await startFakeApiServer();
    const dir = folder({
      '01-namespace-serving.yaml': ns('serving'),
      '05-configmap-serving-settings.yaml': config('a'),
      '09-deployment-serving-classifier.yaml': deployment(2),
      '09-service-serving-classifier.yaml': service,
    });
    const first = await run(dir);
    expect(first).toMatchObject({ objects: 4, created: 4, changed: 0, unchanged: 0, failures: [] });
    expect(lines).toContain('Deployment serving/classifier created');
    // The namespace went first: the server refuses namespaced objects in a namespace it does not have.
    const requests = server.requests.filter((r) => r.startsWith('PATCH'));
    expect(requests[1]).toMatch(/^PATCH \/api\/v1\/namespaces\/serving\?/);
    expect(requests[1]).toMatch(/fieldManager=mlstack/);
    const live = server.get('apps/v1', 'Deployment', 'serving', 'classifier')!;
    const meta = live.metadata as { labels: Record<string, string>; managedFields: { manager: string }[] };
    const set = applySetFor('platform', 'gpus');
    expect(meta.labels['applyset.kubernetes.io/part-of']).toBe(set.id);
    expect(meta.managedFields.map((m) => m.manager)).toEqual(['mlstack']);
    const parent = server.get('v1', 'ConfigMap', 'kube-system', set.name)!;
    expect((parent.metadata as { labels: Record<string, string> }).labels['applyset.kubernetes.io/id']).toBe(
      set.id,
    );
    expect((parent.metadata as { annotations: Record<string, string> }).annotations).toMatchObject({
      'applyset.kubernetes.io/contains-group-kinds': 'ConfigMap.,Deployment.apps,Namespace.,Service.',
      'applyset.kubernetes.io/tooling': expect.stringMatching(/^mlstack\/v\d/),
    });
    const second = await run(dir);
    expect(second).toMatchObject({ created: 0, changed: 0, unchanged: 4 });
  });

  it('refuses to take a field another manager owns, naming it, until --force-conflicts', async () => {
    server = await startFakeApiServer();
    const files = {
      '01-namespace-serving.yaml': ns('serving'),
      '09-deployment-serving-classifier.yaml': deployment(2),
    };
    await run(folder(files));
    server.update('apps/v1', 'Deployment', 'serving', 'classifier', { '.spec.replicas': 5 }, 'kubectl-edit');
    const changed = folder({ ...files, '09-deployment-serving-classifier.yaml': deployment(3) });
    const refused = await run(changed);
    expect(refused.failures).toHaveLength(1);
    expect(refused.failures[0]).toMatch(
      /Deployment serving\/classifier: \.spec\.replicas is managed by "kubectl-edit"\. Rerun with --force-conflicts/,
    );
    expect(
      (server.get('apps/v1', 'Deployment', 'serving', 'classifier')!.spec as { replicas: number }).replicas,
    ).toBe(5);
    const forced = await run(changed, { forceConflicts: true });
    expect(forced.failures).toEqual([]);
    const live = server.get('apps/v1', 'Deployment', 'serving', 'classifier')!;
    expect((live.spec as { replicas: number }).replicas).toBe(3);
    // The field moved to mlstack; kubectl-edit owned nothing else, so it is no longer a manager.
    expect(
      (live.metadata as { managedFields: { manager: string }[] }).managedFields.map((m) => m.manager),
    ).toEqual(['mlstack']);
  });

  it('--dry-run=server prints what would change, field by field, and changes nothing', async () => {
    server = await startFakeApiServer();
    const files = {
      '01-namespace-serving.yaml': ns('serving'),
      '09-deployment-serving-classifier.yaml': deployment(2),
    };
    await run(folder(files));
    const before = server.get('apps/v1', 'Deployment', 'serving', 'classifier');
    const r = await run(
      folder({
        ...files,
        '05-configmap-serving-settings.yaml': config('a'),
        '09-deployment-serving-classifier.yaml': deployment(3),
      }),
      { dryRun: 'server' },
    );
    expect(r).toMatchObject({ created: 1, changed: 1, unchanged: 1, failures: [] });
    expect(lines).toContain('~ Deployment serving/classifier');
    expect(lines).toContain('    .spec.replicas: 2 → 3');
    expect(lines).toContain('+ ConfigMap serving/settings (would be created)');
    expect(lines.at(-1)).toMatch(/1 to create, 1 to change, 1 unchanged, 0 to prune \(--dry-run=server/);
    expect(server.get('apps/v1', 'Deployment', 'serving', 'classifier')).toEqual(before);
    expect(server.get('v1', 'ConfigMap', 'serving', 'settings')).toBeUndefined();
    expect(
      server.requests
        .filter((q) => q.startsWith('PATCH'))
        .slice(-3)
        .every((q) => q.includes('dryRun=All')),
    ).toBe(true);
  });

  it('--prune deletes what this stack applied before and dropped, never what it did not apply', async () => {
    server = await startFakeApiServer();
    const files = {
      '01-namespace-serving.yaml': ns('serving'),
      '09-deployment-serving-classifier.yaml': deployment(2),
      '09-service-serving-classifier.yaml': service,
    };
    await run(folder(files));
    // Someone else's Service in the same namespace, and another stack's objects.
    await run(
      folder(
        {
          '09-service-serving-theirs.yaml': {
            ...service,
            metadata: { name: 'theirs', namespace: 'serving' },
          },
        },
        'other',
        'gpus',
      ),
    );
    const { ['09-service-serving-classifier.yaml']: _dropped, ...rest } = files;
    void _dropped;
    const dryRun = await run(folder(rest), { prune: true, dryRun: 'server' });
    expect(dryRun.pruned).toEqual(['Service serving/classifier']);
    expect(server.get('v1', 'Service', 'serving', 'classifier')).toBeDefined();
    const pruned = await run(folder(rest), { prune: true });
    expect(pruned.pruned).toEqual(['Service serving/classifier']);
    expect(lines).toContain('- Service serving/classifier pruned (no longer in the output)');
    expect(server.get('v1', 'Service', 'serving', 'classifier')).toBeUndefined();
    expect(server.get('v1', 'Service', 'serving', 'theirs')).toBeDefined();
    expect(server.get('apps/v1', 'Deployment', 'serving', 'classifier')).toBeDefined();
    const set = applySetFor('platform', 'gpus');
    const parent = server.get('v1', 'ConfigMap', 'kube-system', set.name)!;
    expect(
      (parent.metadata as { annotations: Record<string, string> }).annotations[
        'applyset.kubernetes.io/contains-group-kinds'
      ],
    ).toBe('Deployment.apps,Namespace.');
  });

  it('applies CRDs first and waits until they are Established; a kind nothing serves fails before anything is applied', async () => {
    server = await startFakeApiServer({ crdEstablishMs: 300 });
    const crd = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'scaledobjects.keda.sh' },
      spec: {
        group: 'keda.sh',
        names: { kind: 'ScaledObject', plural: 'scaledobjects' },
        scope: 'Namespaced',
        versions: [{ name: 'v1alpha1', served: true, storage: true }],
      },
    };
    const scaled = {
      apiVersion: 'keda.sh/v1alpha1',
      kind: 'ScaledObject',
      metadata: { name: 'classifier', namespace: 'serving' },
      spec: { scaleTargetRef: { name: 'classifier' }, minReplicaCount: 2 },
    };
    const missing = await run(
      folder({
        '01-namespace-serving.yaml': ns('serving'),
        '09-scaledobject-serving-classifier.yaml': scaled,
      }),
    ).catch((e: Error) => e);
    expect(String(missing)).toMatch(
      /does not serve 1 kind\(s\)[\s\S]*ScaledObject \(keda.sh\/v1alpha1\), which the keda chart \(charts\/install.sh\)[\s\S]*Nothing was applied/,
    );
    expect(server.get('v1', 'Namespace', undefined, 'serving')).toBeUndefined();
    const r = await run(
      folder({
        '00-customresourcedefinition-scaledobjects.yaml': crd,
        '01-namespace-serving.yaml': ns('serving'),
        '09-scaledobject-serving-classifier.yaml': scaled,
      }),
    );
    expect(r.failures).toEqual([]);
    expect(server.get('keda.sh/v1alpha1', 'ScaledObject', 'serving', 'classifier')).toBeDefined();
  });

  it('--wait follows rollouts, and on timeout says which pod is not scheduled and why', async () => {
    server = await startFakeApiServer({ rolloutMs: 200, stuck: ['Deployment/serving/stuck'] });
    const ok = await run(
      folder({
        '01-namespace-serving.yaml': ns('serving'),
        '09-deployment-serving-classifier.yaml': deployment(2),
      }),
      { wait: true },
    );
    expect(ok.failures).toEqual([]);
    expect(lines).toContain('Deployment serving/classifier: ready (2 of 2 replicas available)');
    const stuck = await run(
      folder({
        '01-namespace-serving.yaml': ns('serving'),
        '09-deployment-serving-stuck.yaml': deployment(1, 'stuck'),
      }),
      { wait: true, timeoutMs: 1500 },
    );
    expect(stuck.failures).toHaveLength(1);
    expect(stuck.failures[0]).toMatch(
      /timed out after 2 s waiting for 1 object\(s\):\n {2}Deployment serving\/stuck \(0 of 1 updated replicas available\)/,
    );
    expect(stuck.failures[0]).toMatch(
      /PodScheduled=False Unschedulable: 0\/3 nodes are available: 3 Insufficient nvidia.com\/gpu/,
    );
    expect(stuck.failures[0]).toMatch(/event FailedScheduling/);
  });

  it('fills deploy-time values from the outputs, and says which are missing and how to get them', async () => {
    server = await startFakeApiServer();
    const dir = folder({
      '01-namespace-serving.yaml': ns('serving'),
      '05-configmap-serving-settings.yaml': config('${mlstack:output:platform/PrometheusQueryUrl}'),
    });
    await expect(run(dir)).rejects.toThrow(
      /values known only after the cloud deploy are missing: platform\/PrometheusQueryUrl \(in 05-configmap-serving-settings.yaml\)\. Pass the deploy's outputs/,
    );
    const outputs = path.join(tmp, 'outputs.json');
    fs.writeFileSync(
      outputs,
      JSON.stringify({ platform: { PrometheusQueryUrl: 'https://aps.example/api/v1/query' } }),
    );
    expect((await run(dir, { outputs: [outputs] })).failures).toEqual([]);
    expect(
      (server.get('v1', 'ConfigMap', 'serving', 'settings')!.data as { endpoint: string }).endpoint,
    ).toBe('https://aps.example/api/v1/query');
  });
});

describe('the real CLI on the example output', () => {
  let api: FakeApiServer;
  beforeAll(async () => {
    api = await startFakeApiServer({ rolloutMs: 100, crdEstablishMs: 100 });
  });
  afterAll(async () => {
    await api.close();
  });

  it("applies the AWS cluster's objects in order after the charts' CRDs, and waits for them", async () => {
    const example = inject('example');
    const cluster = path.join(example.out, 'k8s', 'ml-platform-aws', 'ml-platform');
    const config = kubeconfig(api);
    const env = { ...cliEnv, MLSTACK_APPLY_POLL_MS: '100' };
    const outputs = path.join(tmp, 'aws-outputs.json');
    // Deploy-time values of the AWS stack (cdk deploy --outputs-file), for every placeholder in the folder.
    const placeholders = new Set<string>();
    for (const f of fs.readdirSync(cluster).filter((x) => x.endsWith('.yaml'))) {
      for (const m of fs
        .readFileSync(path.join(cluster, f), 'utf8')
        .matchAll(/\$\{mlstack:output:([^/]+)\/([^}]+)\}/g)) {
        placeholders.add(`${m[1]}/${m[2]}`);
      }
    }
    const values: Record<string, Record<string, string>> = {};
    for (const p of placeholders) {
      const [stack, output] = p.split('/');
      (values[stack] ??= {})[output] = `value-of-${output}`;
    }
    fs.writeFileSync(outputs, JSON.stringify(values));
    // Without the charts, the kinds they serve are named with the chart that serves them.
    const bare = await mlstack(
      ['apply', cluster, '--kubeconfig', config, '--outputs', outputs],
      undefined,
      120_000,
      env,
    );
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(
      /NodePool \(karpenter.sh\/v1\), which the karpenter chart \(charts\/install.sh\) serves/,
    );
    expect(bare.stderr).toMatch(/ScaledObject \(keda.sh\/v1alpha1\), which the keda chart/);
    // The charts' CRDs, as `helm install` would put them.
    const crd = (group: string, kind: string, plural: string, version: string, scope = 'Namespaced') => ({
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: `${plural}.${group}` },
      spec: {
        group,
        names: { kind, plural },
        scope,
        versions: [{ name: version, served: true, storage: true }],
      },
    });
    const charts = folder(
      {
        'a.yaml': crd('karpenter.sh', 'NodePool', 'nodepools', 'v1', 'Cluster'),
        'b.yaml': crd('karpenter.k8s.aws', 'EC2NodeClass', 'ec2nodeclasses', 'v1', 'Cluster'),
        'c.yaml': crd('keda.sh', 'ScaledObject', 'scaledobjects', 'v1alpha1'),
        'd.yaml': crd(
          'keda.sh',
          'ClusterTriggerAuthentication',
          'clustertriggerauthentications',
          'v1alpha1',
          'Cluster',
        ),
      },
      'charts',
      'crds',
    );
    expect((await mlstack(['apply', charts, '--kubeconfig', config], undefined, 120_000, env)).code).toBe(0);
    const r = await mlstack(
      ['apply', cluster, '--kubeconfig', config, '--outputs', outputs, '--wait', '--timeout', '60s'],
      undefined,
      120_000,
      env,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const files = fs.readdirSync(cluster).filter((f) => f.endsWith('.yaml'));
    expect(r.stdout).toMatch(new RegExp(`${files.length} created, 0 configured, 0 unchanged, 0 pruned`));
    expect(r.stdout).toMatch(/Deployment classifier\/classifier: ready/);
    expect(r.stdout).toMatch(/DaemonSet gpu-monitoring\/dcgm-exporter: ready/);
    // Every file's object is on the server.
    expect(api.all('Deployment').length).toBe(files.filter((f) => f.includes('-deployment-')).length);
    expect(api.all('NodePool').length).toBe(files.filter((f) => f.includes('-nodepool-')).length);
    // A usage error is exit 2.
    const bad = await mlstack(['apply', cluster, '--dry-run=maybe'], undefined, 60_000, env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--dry-run 'maybe' is not a mode/);
  }, 180_000);
});
