/**
 * The Lambda function (Node.js, inline) that forwards what Amazon Managed Service for Prometheus's Alertmanager
 * publishes to an SNS topic on to Slack (an incoming webhook) or PagerDuty (Events API v2): AMP's Alertmanager
 * speaks only SNS. The webhook URL or routing key is read from Secrets Manager at the first alert and kept for the
 * life of the execution environment; it is never in the template.
 *
 * Environment: `KIND` (`slack` or `pagerduty`), `SECRET_NAME`.
 */
export const ALERT_FORWARDER_SOURCE = String.raw`
const { SecretsManagerClient, GetSecretValueCommand } = require('@aws-sdk/client-secrets-manager');
const sm = new SecretsManagerClient({});
let secret;

function severity(message) {
  const m = /severity[\s"=:]+"?(critical|warning|info)/i.exec(message);
  return m ? m[1].toLowerCase() : 'critical';
}

exports.handler = async (event) => {
  if (secret === undefined) {
    const value = await sm.send(new GetSecretValueCommand({ SecretId: process.env.SECRET_NAME }));
    secret = (value.SecretString || '').trim();
  }
  for (const record of event.Records || []) {
    const message = record.Sns.Message || '';
    const subject = record.Sns.Subject || 'mlstack alert';
    let url;
    let body;
    if (process.env.KIND === 'slack') {
      url = secret;
      body = { text: ('*' + subject + '*\n' + message).slice(0, 3900) };
    } else {
      url = 'https://events.pagerduty.com/v2/enqueue';
      const level = severity(message);
      body = {
        routing_key: secret,
        event_action: 'trigger',
        payload: {
          summary: subject.slice(0, 1024),
          source: 'mlstack',
          severity: level === 'info' ? 'info' : level,
          custom_details: { message },
        },
      };
    }
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!res.ok) throw new Error(process.env.KIND + ' answered ' + res.status);
  }
};
`;
