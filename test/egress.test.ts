// What each mlstack namespace may call: the default-egress NetworkPolicy of its workloads, per cloud.
import { describe, expect, it } from 'vitest';
import { DcgmMonitoring } from '../constructs/dcgm-monitoring';
import { MlflowTracking } from '../constructs/mlflow-tracking';
import type { KubernetesManifest } from '../src/k8s/manifest';
import { classifierService, servingCluster } from './support/serving';
import { awsStack, stackFor } from './support/synth';
import type { Cloud } from '../src/spec/gpu';

interface EgressRule {
  to?: { ipBlock: { cidr: string } }[];
  ports: { port: number; protocol: string }[];
}

function egressOf(manifests: readonly KubernetesManifest[], namespace: string): EgressRule[] {
  const p = manifests.find(
    (m) =>
      m.kind === 'NetworkPolicy' &&
      m.metadata.name === 'default-egress' &&
      m.metadata.namespace === namespace,
  ) as unknown as { spec: { podSelector: object; policyTypes: string[]; egress: EgressRule[] } };
  expect(p.spec.podSelector).toEqual({});
  expect(p.spec.policyTypes).toEqual(['Egress']);
  return p.spec.egress;
}

/** `port` or `cidr:port` for each allowance. */
const summary = (rules: EgressRule[]) =>
  rules.flatMap((r) =>
    r.ports.map((p) => (r.to ? `${r.to[0].ipBlock.cidr}:${p.port}` : `${p.port}/${p.protocol}`)),
  );

const IDENTITY: Record<Cloud, string[]> = {
  aws: ['169.254.170.23/32:80'],
  gcp: ['169.254.169.254/32:80', '169.254.169.252/32:988'],
  azure: [],
};

describe.each(['aws', 'gcp', 'azure'] as const)('egress on %s', (cloud) => {
  const stack = cloud === 'aws' ? awsStack({ env: { region: 'us-east-1' } }) : stackFor(cloud);
  const cluster = servingCluster(stack);
  const service = classifierService(stack, {}, cluster);
  const mlflow = new MlflowTracking(stack, 'Mlflow', { cluster });
  const dcgm = new DcgmMonitoring(stack, 'Monitoring', { cluster });
  const all = cluster.manifests.manifests;

  it('lets serving pods reach DNS, HTTPS and the cloud credential endpoint only', () => {
    expect(summary(egressOf(service.manifests, service.namespace))).toEqual([
      '53/UDP',
      '53/TCP',
      '443/TCP',
      ...IDENTITY[cloud],
    ]);
  });

  it('adds PostgreSQL for MLflow', () => {
    expect(summary(egressOf(mlflow.manifests, mlflow.namespace))).toEqual([
      '53/UDP',
      '53/TCP',
      '443/TCP',
      ...IDENTITY[cloud],
      '5432/TCP',
    ]);
  });

  it('lets dcgm-exporter call nothing', () => {
    expect(egressOf(all, dcgm.namespace)).toEqual([]);
  });
});
