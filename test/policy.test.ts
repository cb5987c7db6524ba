// The policy pack: each rule failing on a non-compliant object and passing on the fixed one, acknowledgements
// read from where the code put them, the example platform with zero unacknowledged errors on every cloud, the
// report and SARIF files, --strict, and `mlstack check` failing on a bad output (the real CLI).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';
import { acknowledgeObject } from '../src/policy/acknowledge';
import { checkOutput, type PolicyReport } from '../src/policy/check';
import { PolicyPack } from '../src/policy/registry';
import type { KubernetesObject, KubernetesRule, TerraformRule } from '../src/policy/rule';
import { BUILTIN_RULES } from '../src/policy/rules';
import { ackContradicted } from '../src/policy/rules/aws-ack-contradicted';
import { secretOutlivesDatabase } from '../src/policy/rules/aws-secret-outlives';
import { azureIotHubAuth } from '../src/policy/rules/az-iothub-auth';
import { azurePostgresAuth } from '../src/policy/rules/az-postgres-auth';
import { azurePublicNetwork } from '../src/policy/rules/az-public-network';
import { defaultDeny } from '../src/policy/rules/k8s-default-deny';
import { gpuPlacement } from '../src/policy/rules/k8s-gpu-placement';
import { hostAccess } from '../src/policy/rules/k8s-host-access';
import { imageDigest } from '../src/policy/rules/k8s-image-digest';
import { podSecurityLabels } from '../src/policy/rules/k8s-pod-security-labels';
import { containerResources } from '../src/policy/rules/k8s-resources';
import { seccomp } from '../src/policy/rules/k8s-seccomp';
import { remoteState } from '../src/policy/rules/tf-remote-state';
import { spotServing } from '../src/policy/rules/k8s-spot-serving';
import { privilegedScope } from '../src/policy/rules/k8s-privileged-scope';
import {
  gpuPoolTaintCloudFormation,
  gpuPoolTaintKarpenter,
  gpuPoolTaintTerraform,
} from '../src/policy/rules/gpu-pool-taint';
import { mlstack } from './support/cli';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-policy-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

const DIGEST = `@sha256:${'a'.repeat(64)}`;

/** A compliant GPU Deployment; `change` makes it non-compliant in one way. */
function gpuDeployment(
  change: (spec: Record<string, unknown>, c: Record<string, unknown>) => void = () => {},
) {
  const c: Record<string, unknown> = {
    name: 'server',
    image: `registry.example.com/server:1.0${DIGEST}`,
    resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '2Gi', 'nvidia.com/gpu': 1 } },
  };
  const spec: Record<string, unknown> = {
    securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
    nodeSelector: { 'mlstack.io/pool': 't4' },
    tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
    containers: [c],
  };
  change(spec, c);
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'server', namespace: 'serving' },
    spec: { selector: {}, template: { spec } },
  } as KubernetesObject;
}

const namespace = (level?: string): KubernetesObject => ({
  apiVersion: 'v1',
  kind: 'Namespace',
  metadata: {
    name: 'serving',
    ...(level ? { labels: { 'pod-security.kubernetes.io/enforce': level } } : {}),
  },
});

const denyAll: KubernetesObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'default-deny', namespace: 'serving' },
  spec: { podSelector: {}, policyTypes: ['Ingress'] },
};

/** The egress policy mlstack gives its namespaces: DNS and HTTPS only. */
const egress: KubernetesObject = {
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: { name: 'default-egress', namespace: 'serving' },
  spec: {
    podSelector: {},
    policyTypes: ['Egress'],
    egress: [{ ports: [{ port: 53, protocol: 'UDP' }] }, { ports: [{ port: 443, protocol: 'TCP' }] }],
  },
};

const k8s = (rule: KubernetesRule, ...objects: KubernetesObject[]) => rule.check({ objects });
const tf = (rule: TerraformRule, json: Record<string, unknown>) => rule.check({ json });

describe('each rule fails on the non-compliant case and passes on the fixed one', () => {
  it('MLS-K8S-PSA', () => {
    expect(k8s(podSecurityLabels, namespace())[0].message).toMatch(/no pod-security.kubernetes.io\/enforce/);
    expect(k8s(podSecurityLabels, namespace('privileged'))[0].message).toMatch(/enforces 'privileged'/);
    expect(k8s(podSecurityLabels, namespace('strict'))[0].message).toMatch(/not a Pod Security level/);
    expect(k8s(podSecurityLabels, namespace('restricted'))).toEqual([]);
  });

  it('MLS-K8S-HOST-ACCESS', () => {
    const bad = gpuDeployment((s, c) => {
      s.hostNetwork = true;
      s.volumes = [{ name: 'sock', hostPath: { path: '/var/run' } }];
      c.securityContext = { privileged: true };
    });
    expect(k8s(hostAccess, bad)[0].message).toBe(
      'Deployment serving/server: container server is privileged, hostNetwork, hostPath volume sock',
    );
    expect(k8s(hostAccess, gpuDeployment())).toEqual([]);
  });

  it('MLS-K8S-GPU-PLACEMENT', () => {
    const bad = gpuDeployment((s) => {
      delete s.tolerations;
      delete s.nodeSelector;
    });
    expect(k8s(gpuPlacement, bad)[0].message).toMatch(
      /requests nvidia.com\/gpu with no toleration .* and no node selector or node affinity/,
    );
    expect(k8s(gpuPlacement, gpuDeployment())).toEqual([]);
    // A CPU workload needs neither.
    const cpu = gpuDeployment((s, c) => {
      delete s.tolerations;
      delete s.nodeSelector;
      c.resources = { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '1Gi' } };
    });
    expect(k8s(gpuPlacement, cpu)).toEqual([]);
  });

  it('MLS-K8S-RESOURCES', () => {
    const bad = gpuDeployment((_, c) => {
      c.resources = { limits: { 'nvidia.com/gpu': 1 } };
    });
    expect(k8s(containerResources, bad)[0].message).toBe(
      'Deployment serving/server: no server (requests.cpu, requests.memory, limits.memory)',
    );
    expect(k8s(containerResources, gpuDeployment())).toEqual([]);
  });

  it('MLS-K8S-SECCOMP', () => {
    const bad = gpuDeployment((s) => delete s.securityContext);
    expect(k8s(seccomp, bad)[0].message).toMatch(/no seccomp profile \(server\)/);
    const perContainer = gpuDeployment((s, c) => {
      delete s.securityContext;
      c.securityContext = { seccompProfile: { type: 'RuntimeDefault' } };
    });
    expect(k8s(seccomp, perContainer)).toEqual([]);
    expect(k8s(seccomp, gpuDeployment())).toEqual([]);
  });

  it('MLS-K8S-IMAGE-DIGEST', () => {
    const bad = gpuDeployment((_, c) => (c.image = 'registry.example.com/server:1.0'));
    expect(k8s(imageDigest, bad)[0].message).toMatch(/server:1.0 pinned by tag only/);
    expect(k8s(imageDigest, gpuDeployment())).toEqual([]);
  });

  it('MLS-K8S-DEFAULT-DENY', () => {
    expect(k8s(defaultDeny, namespace('restricted'), gpuDeployment())[0].message).toBe(
      'namespace serving has workloads and no default-deny ingress NetworkPolicy and no egress NetworkPolicy limiting every pod',
    );
    expect(k8s(defaultDeny, namespace('restricted'), gpuDeployment(), denyAll)[0].message).toBe(
      'namespace serving has workloads and no egress NetworkPolicy limiting every pod',
    );
    expect(k8s(defaultDeny, namespace('restricted'), gpuDeployment(), denyAll, egress)).toEqual([]);
    // A policy that allows something is not a default deny; an egress rule with no ports and no peers allows all.
    const allow = { ...denyAll, spec: { podSelector: {}, policyTypes: ['Ingress'], ingress: [{}] } };
    expect(k8s(defaultDeny, gpuDeployment(), allow, egress)).toHaveLength(1);
    const openEgress = { ...egress, spec: { podSelector: {}, policyTypes: ['Egress'], egress: [{}] } };
    expect(k8s(defaultDeny, gpuDeployment(), denyAll, openEgress)).toHaveLength(1);
  });

  it('MLS-TF-REMOTE-STATE', () => {
    expect(tf(remoteState, { terraform: { backend: { local: { path: 'x' } } } })).toHaveLength(1);
    expect(tf(remoteState, { terraform: {} })[0].message).toMatch(/no backend configured/);
    expect(tf(remoteState, { terraform: { backend: { gcs: { bucket: 'state' } } } })).toEqual([]);
  });

  it('MLS-AZ-PUBLIC-NETWORK', () => {
    const account = (extra: Record<string, unknown>) => ({
      resource: { azurerm_storage_account: { Models: { name: 'models', ...extra } } },
    });
    expect(tf(azurePublicNetwork, account({}))[0]).toEqual({
      resource: 'azurerm_storage_account.Models',
      message: 'azurerm_storage_account models accepts requests from public networks',
    });
    expect(tf(azurePublicNetwork, account({ public_network_access_enabled: false }))).toEqual([]);
    expect(tf(azurePublicNetwork, account({ network_rules: { default_action: 'Deny' } }))).toEqual([]);
    const vault = { resource: { azurerm_key_vault: { V: { network_acls: [{ default_action: 'Deny' }] } } } };
    expect(tf(azurePublicNetwork, vault)).toEqual([]);
  });

  it('MLS-K8S-PRIVILEGED-SCOPE', () => {
    const privileged = (kind: string, namespace: string) =>
      ({
        ...gpuDeployment((_s, c) => (c.securityContext = { privileged: true })),
        kind,
        metadata: { name: 'agent', namespace },
      }) as KubernetesObject;
    const ns = (name: string, level: string) =>
      ({
        ...namespace(level),
        metadata: { name, labels: { 'pod-security.kubernetes.io/enforce': level } },
      }) as KubernetesObject;
    expect(
      k8s(privilegedScope, ns('gpu-monitoring', 'privileged'), privileged('DaemonSet', 'gpu-monitoring')),
    ).toEqual([]);
    // kube-system is not defined in the output: only the kind is judged.
    expect(k8s(privilegedScope, privileged('DaemonSet', 'kube-system'))).toEqual([]);
    expect(
      k8s(privilegedScope, ns('serving', 'restricted'), privileged('Deployment', 'serving'))[0].message,
    ).toBe(
      "Deployment serving/agent runs privileged server and is a Deployment, not a node agent (DaemonSet) and its namespace serving enforces 'restricted', which rejects privileged pods",
    );
    expect(
      k8s(privilegedScope, ns('gpu-monitoring', 'baseline'), privileged('DaemonSet', 'gpu-monitoring')),
    ).toHaveLength(1);
  });

  it('MLS-K8S-GPU-POOL-TAINT', () => {
    const nodePool = (taints: unknown[]) =>
      ({
        apiVersion: 'karpenter.sh/v1',
        kind: 'NodePool',
        metadata: { name: 'mlstack-l4' },
        spec: {
          limits: { 'nvidia.com/gpu': '4' },
          template: {
            spec: {
              taints,
              requirements: [{ key: 'node.kubernetes.io/instance-type', values: ['g6.xlarge'] }],
            },
          },
        },
      }) as KubernetesObject;
    expect(k8s(gpuPoolTaintKarpenter, nodePool([]))[0].message).toBe(
      'NodePool mlstack-l4 launches GPU nodes without the nvidia.com/gpu taint',
    );
    expect(
      k8s(
        gpuPoolTaintKarpenter,
        nodePool([{ key: 'nvidia.com/gpu', value: 'present', effect: 'NoSchedule' }]),
      ),
    ).toEqual([]);
    // A CPU pool needs no GPU taint.
    const cpu = nodePool([]) as unknown as {
      spec: { limits: Record<string, string>; template: { spec: { requirements: unknown[] } } };
    };
    cpu.spec.limits = { cpu: '16' };
    cpu.spec.template.spec.requirements = [
      { key: 'node.kubernetes.io/instance-type', values: ['m7i.xlarge'] },
    ];
    expect(k8s(gpuPoolTaintKarpenter, cpu as unknown as KubernetesObject)).toEqual([]);
  });

  it('MLS-TF-GPU-POOL-TAINT', () => {
    const pool = (vm_size: string, node_taints: string[]) => ({
      resource: { azurerm_kubernetes_cluster_node_pool: { P: { name: 't4', vm_size, node_taints } } },
    });
    expect(
      tf(
        gpuPoolTaintTerraform,
        pool('Standard_NC4as_T4_v3', ['kubernetes.azure.com/scalesetpriority=spot:NoSchedule']),
      ),
    ).toEqual([
      {
        resource: 'azurerm_kubernetes_cluster_node_pool.P',
        message: 'AKS node pool t4 (Standard_NC4as_T4_v3) has GPUs and no nvidia.com/gpu taint',
      },
    ]);
    expect(
      tf(gpuPoolTaintTerraform, pool('Standard_NC4as_T4_v3', ['nvidia.com/gpu=present:NoSchedule'])),
    ).toEqual([]);
    expect(tf(gpuPoolTaintTerraform, pool('Standard_D4s_v5', []))).toEqual([]);
  });

  it('MLS-AWS-GPU-POOL-TAINT', () => {
    const group = (Taints?: unknown[]) => ({
      Resources: {
        Gpu: {
          Type: 'AWS::EKS::Nodegroup',
          Properties: { InstanceTypes: ['g5.2xlarge'], ...(Taints ? { Taints } : {}) },
        },
        Cpu: { Type: 'AWS::EKS::Nodegroup', Properties: { InstanceTypes: ['m7i.large'] } },
      },
    });
    expect(gpuPoolTaintCloudFormation.check({ template: group() })).toEqual([
      { resource: 'Gpu', message: 'node group Gpu (g5.2xlarge) has GPUs and no nvidia.com/gpu taint' },
    ]);
    expect(
      gpuPoolTaintCloudFormation.check({
        template: group([{ Key: 'nvidia.com/gpu', Value: 'present', Effect: 'NO_SCHEDULE' }]),
      }),
    ).toEqual([]);
  });

  it('MLS-K8S-SPOT-SERVING', () => {
    const labels = { 'app.kubernetes.io/name': 'server' };
    const deployment = (nodeSelector: Record<string, string>) =>
      gpuDeployment((spec) => (spec.nodeSelector = nodeSelector)) as KubernetesObject & {
        spec: { template: { metadata?: unknown } };
      };
    const withLabels = (d: ReturnType<typeof deployment>) => {
      d.spec.template.metadata = { labels };
      return d as KubernetesObject;
    };
    const service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'server', namespace: 'serving' },
      spec: { selector: labels },
    } as KubernetesObject;
    const pdb = {
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'server', namespace: 'serving' },
      spec: { maxUnavailable: 1, selector: { matchLabels: labels } },
    } as KubernetesObject;
    const karpenter = (values: string[]) =>
      ({
        apiVersion: 'karpenter.sh/v1',
        kind: 'NodePool',
        metadata: { name: 'mlstack-inference' },
        spec: {
          template: {
            metadata: { labels: { 'mlstack.io/pool': 'inference' } },
            spec: { requirements: [{ key: 'karpenter.sh/capacity-type', operator: 'In', values }] },
          },
        },
      }) as KubernetesObject;
    const gkeSpot = withLabels(
      deployment({ 'mlstack.io/pool': 'inference', 'cloud.google.com/gke-spot': 'true' }),
    );
    expect(k8s(spotServing, gkeSpot, service)[0].message).toBe(
      'Deployment serving/server serves Service server from spot capacity with no on-demand fallback and no PodDisruptionBudget',
    );
    expect(k8s(spotServing, gkeSpot, service, pdb)[0].message).toMatch(/with no on-demand fallback$/);
    // Karpenter's spot pool with the on-demand fallback needs only the budget.
    const onPool = withLabels(deployment({ 'mlstack.io/pool': 'inference' }));
    expect(k8s(spotServing, onPool, service, karpenter(['spot', 'on-demand']))[0].message).toMatch(
      /with no PodDisruptionBudget$/,
    );
    expect(k8s(spotServing, onPool, service, pdb, karpenter(['spot', 'on-demand']))).toEqual([]);
    expect(k8s(spotServing, onPool, service, pdb, karpenter(['spot']))[0].message).toMatch(
      /no on-demand fallback$/,
    );
    // On-demand pools, and Deployments no Service selects (batch), are not online serving on spot.
    expect(k8s(spotServing, onPool, service, karpenter(['on-demand']))).toEqual([]);
    expect(k8s(spotServing, gkeSpot)).toEqual([]);
  });

  it('MLS-AZ-POSTGRES-AUTH', () => {
    const server = (authentication?: Record<string, unknown>) => ({
      resource: {
        azurerm_postgresql_flexible_server: {
          Db: { name: 'db', ...(authentication ? { authentication } : {}) },
        },
      },
    });
    expect(tf(azurePostgresAuth, server())[0]).toEqual({
      resource: 'azurerm_postgresql_flexible_server.Db',
      message: 'PostgreSQL server db: Entra ID login is off, password login is on',
    });
    expect(tf(azurePostgresAuth, server({ active_directory_auth_enabled: true }))[0].message).toBe(
      'PostgreSQL server db: password login is on',
    );
    expect(
      tf(azurePostgresAuth, server({ active_directory_auth_enabled: true, password_auth_enabled: false })),
    ).toEqual([]);
  });

  it('MLS-AZ-IOTHUB-AUTH', () => {
    const hub = (extra: Record<string, unknown>, policy: Record<string, unknown>) => ({
      resource: {
        azurerm_iothub: { Hub: { name: 'hub', ...extra } },
        azurerm_iothub_shared_access_policy: { Link: { name: 'dps-link', ...policy } },
      },
    });
    const dps = { registry_read: true, registry_write: true, service_connect: true };
    expect(
      tf(azureIotHubAuth, hub({ local_authentication_enabled: true }, { ...dps, device_connect: true })),
    ).toEqual([
      {
        resource: 'azurerm_iothub.Hub',
        message: 'IoT Hub hub accepts hub-wide shared access keys (local authentication on)',
      },
      {
        resource: 'azurerm_iothub_shared_access_policy.Link',
        message:
          'shared access policy dps-link grants DeviceConnect together with RegistryWrite and ServiceConnect',
      },
    ]);
    expect(
      tf(azureIotHubAuth, hub({ local_authentication_enabled: false }, { ...dps, device_connect: false })),
    ).toEqual([]);
    // A device-only policy is fine.
    expect(
      tf(azureIotHubAuth, hub({ local_authentication_enabled: false }, { device_connect: true })),
    ).toEqual([]);
  });

  it('MLS-AWS-ACK-CONTRADICTED', () => {
    const bucket = { Type: 'AWS::S3::Bucket', Properties: {} };
    const writer = {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyDocument: {
          Statement: [
            {
              Action: ['s3:GetObject', 's3:PutObject'],
              Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': ['Data', 'Arn'] }, '/*']] },
            },
          ],
        },
      },
    };
    const claim = {
      Data: {
        'AwsSolutions::AwsSolutions-S1': 'Written only by cdk deploy; CloudTrail records its API calls.',
      },
    };
    const found = ackContradicted.check({
      template: { Resources: { Data: bucket, PodRoleDefaultPolicy: writer } },
      acknowledgements: claim,
    });
    expect(found.map((f) => f.message)).toEqual([
      'the AwsSolutions::AwsSolutions-S1 acknowledgement says CloudTrail records the calls, and no AWS::CloudTrail::Trail is in the template',
      'the AwsSolutions::AwsSolutions-S1 acknowledgement says the bucket is written only by the deploy, and PodRoleDefaultPolicy may write it',
    ]);
    // True once no pod may write it and a trail exists; a reason that claims nothing is never contradicted.
    const trail = { Type: 'AWS::CloudTrail::Trail', Properties: {} };
    expect(
      ackContradicted.check({
        template: { Resources: { Data: bucket, Trail: trail } },
        acknowledgements: claim,
      }),
    ).toEqual([]);
    const honest = { Data: { 'AwsSolutions::AwsSolutions-S1': 'Access logging is off: no log bucket yet.' } };
    expect(
      ackContradicted.check({
        template: { Resources: { Data: bucket, PodRoleDefaultPolicy: writer } },
        acknowledgements: honest,
      }),
    ).toEqual([]);
  });

  it('MLS-AWS-SECRET-RETAINED', () => {
    const template = (secretPolicy: string) => ({
      Resources: {
        Db: { Type: 'AWS::RDS::DBInstance', DeletionPolicy: 'Retain' },
        Secret: { Type: 'AWS::SecretsManager::Secret', DeletionPolicy: secretPolicy },
        Attach: {
          Type: 'AWS::SecretsManager::SecretTargetAttachment',
          Properties: { SecretId: { Ref: 'Secret' }, TargetId: { Ref: 'Db' } },
        },
      },
    });
    expect(secretOutlivesDatabase.check({ template: template('Delete') })).toEqual([
      {
        resource: 'Secret',
        message: 'secret Secret is deleted with the stack, while database Db it unlocks is kept (Retain)',
      },
    ]);
    expect(secretOutlivesDatabase.check({ template: template('Retain') })).toEqual([]);
  });

  it('every built-in rule has a test above, an id, a fix and a description', () => {
    const tested = [
      podSecurityLabels,
      hostAccess,
      privilegedScope,
      gpuPlacement,
      containerResources,
      seccomp,
      imageDigest,
      defaultDeny,
      spotServing,
      gpuPoolTaintKarpenter,
      gpuPoolTaintTerraform,
      gpuPoolTaintCloudFormation,
      remoteState,
      azurePublicNetwork,
      azurePostgresAuth,
      azureIotHubAuth,
      ackContradicted,
      secretOutlivesDatabase,
    ].map((r) => r.id);
    expect(BUILTIN_RULES.map((r) => r.id).sort()).toEqual([...tested].sort());
    const docs = fs.readFileSync(path.join(__dirname, '..', 'docs', 'policy.md'), 'utf8');
    for (const r of BUILTIN_RULES) {
      expect(docs, `docs/policy.md lists ${r.id}`).toMatch(
        new RegExp(`\\| \`${r.id}\`\\s+\\| ${r.level}\\s+\\|`),
      );
      expect(r.id).toMatch(/^MLS-[A-Z0-9]+(-[A-Z0-9]+)+$/);
      expect(r.fix.length).toBeGreaterThan(30);
      expect(r.description.length).toBeGreaterThan(60);
    }
  });
});

describe('acknowledgements', () => {
  /** A synth-output-shaped folder with one cluster's objects. */
  function output(name: string, objects: KubernetesObject[], terraform?: Record<string, unknown>): string {
    const out = path.join(tmp, name);
    const dir = path.join(out, 'k8s', 'stack', 'cluster');
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'objects.yaml'), objects.map((o) => stringify(o)).join('---\n'));
    if (terraform) {
      fs.mkdirSync(path.join(out, 'azure', 'stacks', 'stack'), { recursive: true });
      fs.writeFileSync(
        path.join(out, 'azure', 'stacks', 'stack', 'cdk.tf.json'),
        JSON.stringify(terraform, null, 2),
      );
    }
    return out;
  }

  it('are read from the object that carries them, with their reason, and only for the rule they name', () => {
    const reason = 'The exporter reads the kubelet pod-resources socket to map GPUs to pods.';
    const pod = acknowledgeObject(
      gpuDeployment(
        (s) => (s.volumes = [{ name: 'pr', hostPath: { path: '/var/lib/kubelet/pod-resources' } }]),
      ),
      'MLS-K8S-HOST-ACCESS',
      reason,
    );
    const r = checkOutput(output('acked', [namespace('restricted'), denyAll, egress, pod]));
    const host = r.findings.find((f) => f.rule === 'MLS-K8S-HOST-ACCESS')!;
    expect(host).toMatchObject({
      acknowledged: reason,
      stack: 'stack',
      file: 'k8s/stack/cluster/objects.yaml',
    });
    expect(host.line).toBeGreaterThan(1);
    expect(r.stacks).toEqual([{ stack: 'stack', errors: 0, warnings: 0, acknowledged: 1 }]);
    expect(() => acknowledgeObject(gpuDeployment(), 'MLS-K8S-SECCOMP', 'because')).toThrow(/give the reason/);
  });

  it('of Terraform resources are read from their "//" key', () => {
    const r = checkOutput(
      output('tf', [namespace('restricted')], {
        terraform: { backend: { azurerm: {} } },
        resource: {
          azurerm_storage_account: {
            A: {
              name: 'a',
              '//': { mlstack_acknowledge: { 'MLS-AZ-PUBLIC-NETWORK': 'Open on purpose for this test.' } },
            },
            B: { name: 'b' },
          },
        },
      }),
    );
    const az = r.findings.filter((f) => f.rule === 'MLS-AZ-PUBLIC-NETWORK');
    expect(az.map((f) => [f.target, f.acknowledged])).toEqual([
      ['azurerm_storage_account.A', 'Open on purpose for this test.'],
      ['azurerm_storage_account.B', undefined],
    ]);
  });

  it("an app's own rule runs beside mlstack's", () => {
    PolicyPack.addRule({
      id: 'ACME-TEAM-LABEL',
      level: 'warning',
      target: 'kubernetes',
      title: 'Workloads carry a team label',
      description: 'Cost reports group by team.',
      fix: 'Add metadata.labels.team.',
      check: ({ objects }) =>
        objects
          .filter((o) => o.kind === 'Deployment' && !o.metadata.labels?.team)
          .map((o) => ({ object: o, message: `${o.metadata.name} has no team label` })),
    });
    const r = checkOutput(output('custom', [gpuDeployment()]), PolicyPack.rules());
    expect(r.findings.find((f) => f.rule === 'ACME-TEAM-LABEL')?.message).toBe('server has no team label');
    expect(() => PolicyPack.addRule({ ...BUILTIN_RULES[0] })).toThrow(/exists already/);
  });
});

describe('program-level acknowledgements', () => {
  const mutable = () => gpuDeployment((_s, c) => (c.image = 'registry.example.com/server:1.0'));

  it('cover a rule in one stack or all, optionally only matching findings, never other rules', () => {
    const out = path.join(tmp, 'program-acks');
    fs.mkdirSync(path.join(out, 'k8s', 'stack', 'cluster'), { recursive: true });
    fs.writeFileSync(
      path.join(out, 'k8s', 'stack', 'cluster', 'objects.yaml'),
      [namespace('restricted'), denyAll, mutable()].map((o) => stringify(o)).join('---\n'),
    );
    const reason = 'Images are mirrored and pinned by the registry admission policy, not in the manifests.';
    const digestOf = (acks: Parameters<typeof checkOutput>[2]) =>
      checkOutput(out, BUILTIN_RULES, acks).findings.find((f) => f.rule === 'MLS-K8S-IMAGE-DIGEST')!;
    expect(digestOf([]).acknowledged).toBeUndefined();
    expect(digestOf([{ rule: 'MLS-K8S-IMAGE-DIGEST', reason }]).acknowledged).toBe(reason);
    expect(digestOf([{ rule: 'MLS-K8S-IMAGE-DIGEST', reason, stack: 'other' }]).acknowledged).toBeUndefined();
    expect(
      digestOf([{ rule: 'MLS-K8S-IMAGE-DIGEST', reason, match: 'Deployment/serving/server' }]).acknowledged,
    ).toBe(reason);
    expect(
      digestOf([{ rule: 'MLS-K8S-IMAGE-DIGEST', reason, match: 'mlflow' }]).acknowledged,
    ).toBeUndefined();
    expect(digestOf([{ rule: 'MLS-K8S-SECCOMP', reason }]).acknowledged).toBeUndefined();
    // Recorded in the output, they hold for a later `mlstack check` of it.
    fs.mkdirSync(path.join(out, 'policy'), { recursive: true });
    fs.writeFileSync(
      path.join(out, 'policy', 'acknowledgements.json'),
      JSON.stringify([{ rule: 'MLS-K8S-IMAGE-DIGEST', reason }]),
    );
    expect(checkOutput(out).findings.find((f) => f.rule === 'MLS-K8S-IMAGE-DIGEST')!.acknowledged).toBe(
      reason,
    );
    fs.writeFileSync(path.join(out, 'policy', 'acknowledgements.json'), '{"rule": 1}');
    expect(() => checkOutput(out)).toThrow(/not a list of \{ rule, reason/);
  });

  it('need a rule id and a sentence', () => {
    expect(() => PolicyPack.acknowledge('digest', 'A reason long enough to be a sentence.')).toThrow(
      /not a rule id/,
    );
    expect(() => PolicyPack.acknowledge('MLS-K8S-IMAGE-DIGEST', 'tags')).toThrow(/give the reason/);
  });
});

describe('the example platform', () => {
  const example = inject('example');
  const report = JSON.parse(
    fs.readFileSync(path.join(example.out, 'policy', 'report.json'), 'utf8'),
  ) as PolicyReport;

  it('synthesizes with zero unacknowledged findings on every cloud, and says so per stack', () => {
    expect(report.stacks.map((s) => [s.stack, s.errors, s.warnings])).toEqual([
      ['ml-platform-aws', 0, 0],
      ['ml-platform-azure', 0, 0],
      ['ml-platform-gcp', 0, 0],
    ]);
    // The program's own acknowledgement (tags, not digests) is recorded in the output for `mlstack check`.
    expect(
      JSON.parse(fs.readFileSync(path.join(example.out, 'policy', 'acknowledgements.json'), 'utf8')),
    ).toEqual([
      expect.objectContaining({ rule: 'MLS-K8S-IMAGE-DIGEST' }),
      expect.objectContaining({
        rule: 'MLS-K8S-SPOT-SERVING',
        stack: 'ml-platform-gcp',
        match: 'classifier',
      }),
      expect.objectContaining({
        rule: 'MLS-K8S-SPOT-SERVING',
        stack: 'ml-platform-azure',
        match: 'classifier',
      }),
    ]);
    for (const s of report.stacks) {
      expect(example.stdout).toContain(`policy ${s.stack}: 0 errors, ${s.warnings} warning`);
    }
    // cdk-nag's AwsSolutions pack ran during synth (an unacknowledged finding would have failed it).
    expect(example.stdout).toContain("policy: cdk-nag's AwsSolutions pack checked the AWS stacks");
    // Every acknowledgement gives a reason of at least a sentence.
    for (const f of report.findings.filter((x) => x.acknowledged))
      expect(f.acknowledged!.length).toBeGreaterThan(60);
    // The GPU system components are the privileged exceptions, each acknowledged.
    const host = report.findings.filter((f) => f.rule === 'MLS-K8S-HOST-ACCESS').map((f) => f.target);
    expect(new Set(host.map((t) => t.split('/').slice(0, 2).join('/')))).toEqual(
      new Set(['DaemonSet/gpu-monitoring', 'DaemonSet/kube-system', 'Deployment/mlstack-edge']),
    );
  });

  it('writes SARIF 2.1.0 that names every rule and puts each finding at a file and line', () => {
    const sarif = JSON.parse(fs.readFileSync(path.join(example.out, 'policy', 'results.sarif'), 'utf8')) as {
      version: string;
      runs: {
        tool: { driver: { rules: { id: string }[] } };
        results: {
          ruleId: string;
          level: string;
          locations: {
            physicalLocation: { artifactLocation: { uri: string }; region: { startLine: number } };
          }[];
          suppressions?: { kind: string; justification: string }[];
        }[];
      }[];
    };
    expect(sarif.version).toBe('2.1.0');
    const run = sarif.runs[0];
    expect(run.tool.driver.rules.map((r) => r.id)).toEqual(BUILTIN_RULES.map((r) => r.id));
    expect(run.results).toHaveLength(report.findings.length);
    for (const r of run.results) {
      const loc = r.locations[0].physicalLocation;
      expect(fs.existsSync(path.join(example.out, loc.artifactLocation.uri)), loc.artifactLocation.uri).toBe(
        true,
      );
      expect(loc.region.startLine).toBeGreaterThanOrEqual(1);
    }
    const suppressed = run.results.filter((r) => r.suppressions);
    expect(suppressed.length).toBe(report.findings.filter((f) => f.acknowledged).length);
    expect(suppressed[0].suppressions![0].kind).toBe('inSource');
  });

  it('mlstack check --strict passes the example, fails without its acknowledgements; a privileged pod fails plain check', async () => {
    const copy = path.join(tmp, 'example-copy');
    fs.cpSync(example.out, copy, { recursive: true });
    expect((await mlstack(['check', copy, '--strict'])).code).toBe(0);
    fs.rmSync(path.join(copy, 'policy', 'acknowledgements.json'));
    const strict = await mlstack(['check', copy, '--strict']);
    expect(strict.code).toBe(1);
    expect(strict.stdout).toMatch(/warning: MLS-K8S-IMAGE-DIGEST /);
    expect(strict.stderr).toMatch(/--strict: warnings count/);
    expect((await mlstack(['check', copy])).code).toBe(0);

    const rogue = gpuDeployment((_, c) => (c.securityContext = { privileged: true }));
    fs.writeFileSync(
      path.join(copy, 'k8s', 'ml-platform-gcp', 'ml-platform', '99-rogue.yaml'),
      stringify({ ...rogue, metadata: { name: 'rogue', namespace: 'classifier' } }),
    );
    const r = await mlstack(['check', copy]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(
      'error: MLS-K8S-HOST-ACCESS k8s/ml-platform-gcp/ml-platform/99-rogue.yaml:4 Deployment classifier/rogue: container server is privileged',
    );
  });
});
