// Pod Security on the example platform, read from the synth output as the API server's admission would: every
// namespace mlstack creates enforces a Pod Security Standard, `restricted` unless a stated reason says why not,
// and every pod of a restricted namespace meets it.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, inject, it } from 'vitest';
import type { IPodSpec } from 'kubernetes-models/v1/PodSpec';
import { ACKNOWLEDGE_KEY } from '../src/policy/rule';
import { restrictedViolations } from '../src/k8s/pod-security';
import { listFiles } from '../src/synth/files';

interface K8sObject {
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
}

const { out } = inject('example');

/** Every object of one cluster folder `k8s/<stack>/<cluster>/`, by folder. */
function clusters(): Map<string, K8sObject[]> {
  const byCluster = new Map<string, K8sObject[]>();
  for (const f of listFiles(path.join(out, 'k8s')).filter(
    (x) => /\.ya?ml$/.test(x) && !x.includes('/charts/'),
  )) {
    const key = f.split('/').slice(0, 2).join('/');
    const docs = parseAllDocuments(fs.readFileSync(path.join(out, 'k8s', f), 'utf8')).map(
      (d) => d.toJS() as K8sObject,
    );
    byCluster.set(key, [...(byCluster.get(key) ?? []), ...docs.filter((d) => d && d.kind)]);
  }
  return byCluster;
}

function podSpecOf(o: K8sObject): IPodSpec | undefined {
  const spec = o.spec as Record<string, any> | undefined; // eslint-disable-line @typescript-eslint/no-explicit-any
  if (!spec) return undefined;
  if (o.kind === 'Pod') return spec as IPodSpec;
  if (o.kind === 'CronJob') return spec.jobTemplate?.spec?.template?.spec as IPodSpec;
  if (['Deployment', 'DaemonSet', 'StatefulSet', 'Job', 'ReplicaSet'].includes(o.kind))
    return spec.template?.spec as IPodSpec;
  return undefined;
}

describe('Pod Security in the example platform', () => {
  const all = clusters();

  it('labels every namespace mlstack creates; a level below restricted carries its reason', () => {
    let namespaces = 0;
    for (const [cluster, objects] of all) {
      for (const ns of objects.filter((o) => o.kind === 'Namespace')) {
        namespaces++;
        const labels = ns.metadata.labels ?? {};
        const level = labels['pod-security.kubernetes.io/enforce'];
        expect(level, `${cluster} ${ns.metadata.name}`).toMatch(/^(restricted|baseline|privileged)$/);
        expect(labels['pod-security.kubernetes.io/warn']).toBe(level);
        expect(labels['pod-security.kubernetes.io/audit']).toBe(level);
        if (level !== 'restricted') {
          const acks = JSON.parse(ns.metadata.annotations?.[ACKNOWLEDGE_KEY] ?? '{}') as Record<
            string,
            string
          >;
          expect(acks['MLS-K8S-PSA'], `${cluster} ${ns.metadata.name}`).toMatch(/.{40,}/);
        }
      }
    }
    expect(namespaces).toBeGreaterThanOrEqual(9); // serving, MLflow, drift and DCGM namespaces on three clouds
  });

  it('runs only restricted pods in restricted namespaces, and privileged ones only in the namespaces that say why', () => {
    let checked = 0;
    for (const [cluster, objects] of all) {
      const level = new Map(
        objects
          .filter((o) => o.kind === 'Namespace')
          .map((o) => [o.metadata.name, o.metadata.labels?.['pod-security.kubernetes.io/enforce']]),
      );
      for (const o of objects) {
        const pod = podSpecOf(o);
        const ns = o.metadata.namespace;
        if (!pod || !ns || !level.has(ns)) continue;
        if (level.get(ns) === 'restricted') {
          checked++;
          expect(restrictedViolations(pod), `${cluster} ${o.kind} ${ns}/${o.metadata.name}`).toEqual([]);
        } else {
          // What the namespace's reason covers: the DCGM exporter (hostPath, privileged on GKE).
          expect(`${o.kind} ${o.metadata.name}`).toMatch(/dcgm/);
        }
      }
    }
    expect(checked).toBeGreaterThanOrEqual(9);
  });
});

describe('restrictedViolations', () => {
  const ok: IPodSpec = {
    securityContext: { runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } },
    containers: [
      { name: 'c', securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } } },
    ],
    volumes: [{ name: 'tmp', emptyDir: {} }],
  };

  it('passes a restricted pod and names each thing that breaks the standard', () => {
    expect(restrictedViolations(ok)).toEqual([]);
    expect(
      restrictedViolations({
        hostNetwork: true,
        securityContext: {},
        containers: [
          {
            name: 'agent',
            securityContext: { privileged: true, capabilities: { add: ['SYS_ADMIN'] } },
            ports: [{ containerPort: 9400, hostPort: 9400 }],
          },
        ],
        volumes: [{ name: 'root', hostPath: { path: '/' } }],
      }),
    ).toEqual([
      'hostNetwork',
      'volume root is hostPath',
      'container agent is privileged',
      'container agent may escalate privileges',
      'container agent does not drop ALL capabilities',
      'container agent adds capability SYS_ADMIN',
      'container agent may run as root',
      'container agent has no seccomp profile',
      'container agent uses hostPort 9400',
    ]);
  });
});
