// Alerts reach someone: every rule group routes to the cluster's destinations (or a construct's own), rendered in
// each cloud's form — AMP's Alertmanager to an encrypted SNS topic (email subscriptions, a forwarder function for
// Slack and PagerDuty), Cloud Monitoring alerting policies with notification channels, Azure Monitor action
// groups — with secrets by reference only; a group with no route fails synth.
import * as http from 'node:http';
import * as vm from 'node:vm';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DcgmMonitoring } from '../constructs/dcgm-monitoring';
import { DriftPipeline } from '../constructs/drift-pipeline';
import { GpuCluster } from '../constructs/gpu-cluster';
import { AlertDestination, SecretReference } from '../src/monitoring/destinations';
import { GpuType } from '../src/spec/gpu';
import { ALERT_FORWARDER_SOURCE } from '../stacks/aws/private/alert-forwarder';
import type { IMlStack } from '../stacks/ml-stack';
import { awsStack, awsTemplate, azureStack, gcpStack, terraformJson } from './support/synth';

const VAULT =
  '/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/secrets/providers/Microsoft.KeyVault/vaults/alerts';

/** A cluster with GPU monitoring and a drift job that has its own destination. */
function platform(stack: IMlStack, alerts?: AlertDestination[]) {
  const cluster = new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml',
    gpuPools: [
      { name: 'l4', gpu: { type: stack.cloud === 'azure' ? GpuType.NVIDIA_T4 : GpuType.NVIDIA_L4 } },
    ],
    ...(alerts ? { alerts } : {}),
  });
  new DcgmMonitoring(stack, 'Monitoring', { cluster });
  new DriftPipeline(stack, 'Drift', {
    cluster,
    schedule: '0 * * * *',
    reference: 'reference.csv',
    current: 'current.csv',
    image: 'registry.example.com/mlstack-server:0.1.0',
    alerts: [AlertDestination.email('data-team@example.com')],
  });
  return cluster;
}

const oncall = () => [
  AlertDestination.email('ml-oncall@example.com'),
  AlertDestination.pagerDuty(SecretReference.named('ml-pagerduty', { azureKeyVaultId: VAULT })),
];

describe('alerts on AWS (Amazon Managed Service for Prometheus)', () => {
  const stack = awsStack({ env: { region: 'us-east-1' } });
  platform(stack, [...oncall(), AlertDestination.slack(SecretReference.named('ml-slack-webhook'))]);
  const template = awsTemplate(stack);

  it("routes each construct's alerts through the workspace's Alertmanager to its SNS topic", () => {
    const workspace = Object.values(template.findResources('AWS::APS::Workspace'))[0] as {
      Properties: { AlertManagerDefinition: { 'Fn::Join': [string, unknown[]] } };
    };
    const text = workspace.Properties.AlertManagerDefinition['Fn::Join'][1]
      .map((p) => (typeof p === 'string' ? p : '<arn>'))
      .join('');
    expect(text).toMatch(/^alertmanager_config: \|\n {2}route:\n {4}receiver: default\n/);
    expect(text).toMatch(/matchers:\n\s+- mlstack_route="default"/);
    expect(text).toMatch(/matchers:\n\s+- mlstack_route="r-[0-9a-f]{10}"/);
    expect(text.match(/sns_configs:/g)).toHaveLength(2);
    // The drift rules carry their route's label; the GPU rules the default one.
    const namespaces = Object.values(template.findResources('AWS::APS::RuleGroupsNamespace')) as {
      Properties: { Data: string };
    }[];
    expect(namespaces.some((n) => /mlstack_route: r-[0-9a-f]{10}/.test(n.Properties.Data))).toBe(true);
    expect(namespaces.some((n) => /mlstack_route: default/.test(n.Properties.Data))).toBe(true);
  });

  it('publishes to KMS-encrypted, TLS-only topics that only this workspace may publish to', () => {
    template.resourceCountIs('AWS::SNS::Topic', 2);
    template.allResourcesProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'aps.amazonaws.com' },
            Action: ['sns:Publish', 'sns:GetTopicAttributes'],
            Condition: { ArnEquals: { 'aws:SourceArn': Match.anyValue() } },
          }),
        ]),
      },
    });
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: 'aps.amazonaws.com' },
            Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
          }),
        ]),
      },
    });
  });

  it('subscribes the email addresses and a forwarder per Slack or PagerDuty destination, reading its secret by name', () => {
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'ml-oncall@example.com',
    });
    template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'data-team@example.com',
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { KIND: 'pagerduty', SECRET_NAME: 'ml-pagerduty' } },
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: { KIND: 'slack', SECRET_NAME: 'ml-slack-webhook' } },
    });
    template.resourceCountIs('AWS::SNS::Subscription', 4);
    // The secret value is in no template: only its name.
    expect(JSON.stringify(template.toJSON())).not.toMatch(
      /hooks\.slack\.com|events\.pagerduty\.com\/integration/,
    );
  });
});

describe('the alert forwarder function', () => {
  async function deliver(kind: 'slack' | 'pagerduty', message: string) {
    const bodies: { url: string; body: Record<string, unknown> }[] = [];
    const server = http.createServer((req, res) => {
      let data = '';
      req.on('data', (c) => (data += c));
      req.on('end', () => {
        bodies.push({ url: req.url ?? '', body: JSON.parse(data) as Record<string, unknown> });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    const local = `http://127.0.0.1:${port}`;
    try {
      const module = { exports: {} as { handler?: (e: unknown) => Promise<void> } };
      const secretsRead: string[] = [];
      const sdk = {
        GetSecretValueCommand: class {
          constructor(public readonly input: { SecretId: string }) {}
        },
        SecretsManagerClient: class {
          async send(c: { input: { SecretId: string } }) {
            secretsRead.push(c.input.SecretId);
            return { SecretString: kind === 'slack' ? `${local}/services/T0/B0/x\n` : 'routing-key-123' };
          }
        },
      };
      // PagerDuty's endpoint is fixed: the test points it at 127.0.0.1.
      const localFetch = (url: string, init: RequestInit) =>
        fetch(url.replace('https://events.pagerduty.com', local), init);
      vm.runInNewContext(ALERT_FORWARDER_SOURCE, {
        require: (name: string) => (name === '@aws-sdk/client-secrets-manager' ? sdk : undefined),
        exports: module.exports,
        module,
        process: { env: { KIND: kind, SECRET_NAME: 'ml-alerts' } },
        fetch: localFetch,
      });
      const event = { Records: [{ Sns: { Subject: 'GpuTemperatureHigh', Message: message } }] };
      await module.exports.handler!(event);
      await module.exports.handler!(event);
      return { bodies, secretsRead };
    } finally {
      server.close();
    }
  }

  it("posts Slack's message format to the webhook read from the secret, reading the secret once", async () => {
    const { bodies, secretsRead } = await deliver('slack', 'severity="critical" GPU 0 at 91 °C');
    expect(secretsRead).toEqual(['ml-alerts']);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]).toEqual({
      url: '/services/T0/B0/x',
      body: { text: '*GpuTemperatureHigh*\nseverity="critical" GPU 0 at 91 °C' },
    });
  });

  it('posts a PagerDuty Events v2 trigger with the routing key and the severity of the alert', async () => {
    const { bodies } = await deliver('pagerduty', 'labels: severity="warning"');
    expect(bodies[0].url).toBe('/v2/enqueue');
    expect(bodies[0].body).toMatchObject({
      routing_key: 'routing-key-123',
      event_action: 'trigger',
      payload: { summary: 'GpuTemperatureHigh', source: 'mlstack', severity: 'warning' },
    });
  });
});

describe('alerts on Google Cloud (Cloud Monitoring)', () => {
  const stack = gcpStack();
  platform(stack, oncall());
  const { json } = terraformJson(stack);

  it('notifies email and PagerDuty channels, the key read from Secret Manager at apply', () => {
    const channels = Object.values(json.resource.google_monitoring_notification_channel) as Record<
      string,
      unknown
    >[];
    expect(channels.map((c) => c.type).sort()).toEqual(['email', 'email', 'pagerduty']);
    const pd = channels.find((c) => c.type === 'pagerduty')!;
    expect(pd.sensitive_labels).toEqual({
      service_key: expect.stringMatching(/^\$\{data\.google_secret_manager_secret_version\./),
    });
    expect(Object.values(json.data!.google_secret_manager_secret_version)).toEqual([
      expect.objectContaining({ secret: 'ml-pagerduty', project: 'acme-ml-test' }),
    ]);
  });

  it("sends the drift alerts to the drift job's own channel and the rest to the cluster's", () => {
    const policies = Object.values(json.resource.google_monitoring_alert_policy) as {
      display_name: string;
      notification_channels: string[];
    }[];
    const drift = policies.find((p) => p.display_name === 'ml: DataDriftSustained')!;
    const gpu = policies.find((p) => p.display_name === 'ml: GpuTemperatureHigh')!;
    expect(drift.notification_channels).toHaveLength(1);
    expect(gpu.notification_channels).toHaveLength(2);
    expect(gpu.notification_channels).not.toContain(drift.notification_channels[0]);
  });

  it('refuses Slack with the alternatives', () => {
    expect(() => platform(gcpStack(), [AlertDestination.slack(SecretReference.named('hook'))])).toThrow(
      /Cloud Monitoring cannot post to a Slack incoming webhook.*AlertDestination\.none/,
    );
  });
});

describe('alerts on Azure (action groups)', () => {
  const stack = azureStack();
  platform(stack, oncall());
  const { json } = terraformJson(stack);

  it("fires the cluster's action group, and the drift job's own, from every rule", () => {
    const groups = Object.values(json.resource.azurerm_monitor_action_group) as Record<string, unknown>[];
    expect(groups).toHaveLength(2);
    const cluster = groups.find((g) => g.name === 'ml-alerts')!;
    expect(cluster.email_receiver).toEqual([
      { name: 'email-0-0', email_address: 'ml-oncall@example.com', use_common_alert_schema: true },
    ]);
    expect(cluster.webhook_receiver).toEqual([
      {
        name: 'pagerduty-1',
        service_uri: expect.stringMatching(/^\$\{data\.azurerm_key_vault_secret\..*\.value\}$/),
        use_common_alert_schema: true,
      },
    ]);
    for (const g of Object.values(json.resource.azurerm_monitor_alert_prometheus_rule_group) as {
      rule: { action: { action_group_id: string }[] }[];
    }[]) {
      for (const r of g.rule) expect(r.action).toHaveLength(1);
    }
  });

  it('needs the Key Vault of a secret, and refuses Slack', () => {
    expect(() =>
      platform(azureStack(), [AlertDestination.pagerDuty(SecretReference.named('ml-pagerduty'))]),
    ).toThrow(/needs the Key Vault on Azure: SecretReference\.named\(name, \{ azureKeyVaultId \}\)/);
    expect(() => platform(azureStack(), [AlertDestination.slack(SecretReference.named('hook'))])).toThrow(
      /a Slack incoming webhook refuses/,
    );
  });
});

describe('alerts without a destination', () => {
  it('fail synth, naming the construct and the group', () => {
    const stack = gcpStack();
    platform(stack);
    expect(() => terraformJson(stack)).toThrow(
      /test\/Monitoring: alert group mlstack-gpu routes nowhere: its alerts fire and nobody is told/,
    );
  });

  it('pass when the user says why with AlertDestination.none', () => {
    const stack = gcpStack();
    platform(stack, [AlertDestination.none('our own Alertmanager reads the project')]);
    expect(() => terraformJson(stack)).not.toThrow();
  });

  it('check their props', () => {
    expect(() => AlertDestination.email('not-an-address')).toThrow(/is not an email address/);
    expect(() => AlertDestination.webhook('http://example.com')).toThrow(/use an https:\/\/ URL/);
    expect(() => AlertDestination.none(' ')).toThrow(/say why/);
    expect(() => SecretReference.named('has space')).toThrow(/not a secret name/);
  });
});
