/**
 * A secret of the cloud's secret store, by reference: mlstack never reads or writes its value, so it appears in no
 * template, Terraform JSON or manifest.
 */
export class SecretReference {
  /**
   * A secret by name: an AWS Secrets Manager secret name, a Google Secret Manager secret id in the stack's project,
   * or an Azure Key Vault secret name (with `azureKeyVaultId`, the vault's resource id).
   */
  public static named(name: string, options: { readonly azureKeyVaultId?: string } = {}): SecretReference {
    if (!/^[A-Za-z0-9/_+=.@-]{1,255}$/.test(name ?? '')) {
      throw new Error(
        `SecretReference.named(${JSON.stringify(name)}): not a secret name. Use letters, digits and /_+=.@- (the rule all three secret stores accept).`,
      );
    }
    return new SecretReference(name, options.azureKeyVaultId);
  }

  private constructor(
    /** The secret's name. */
    public readonly name: string,
    /** The Key Vault holding it, on Azure. */
    public readonly azureKeyVaultId?: string,
  ) {}

  /** The name, for messages. */
  public toString(): string {
    return this.name;
  }
}

/** Where alerts are sent, in the cloud's own form (an SNS topic, Cloud Monitoring channels, an action group). */
export type AlertDestinationSpec =
  | { readonly kind: 'email'; readonly addresses: readonly string[] }
  | { readonly kind: 'slack'; readonly webhookUrl: SecretReference }
  | { readonly kind: 'pagerduty'; readonly routingKey: SecretReference }
  | { readonly kind: 'webhook'; readonly url: string }
  | { readonly kind: 'none'; readonly reason: string };

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/**
 * A destination of alerts: every alert rule group mlstack makes on a cluster routes to the cluster's destinations
 * (`GpuCluster`'s `alerts`), or to a construct's own. The cluster's managed Prometheus renders it: Amazon Managed
 * Service for Prometheus's Alertmanager to an SNS topic, Cloud Monitoring alerting policies with notification
 * channels, Azure Monitor action groups. Secrets (a Slack webhook URL, a PagerDuty key) are references.
 */
export class AlertDestination {
  /** Email to these addresses (each confirms the subscription where the cloud asks: SNS does). */
  public static email(...addresses: string[]): AlertDestination {
    addresses.forEach((a, i) => {
      if (!EMAIL.test(a ?? '')) {
        throw new Error(
          `AlertDestination.email: address ${i} (${JSON.stringify(a)}) is not an email address.`,
        );
      }
    });
    if (addresses.length === 0) throw new Error('AlertDestination.email: give at least one address.');
    return new AlertDestination({ kind: 'email', addresses: [...addresses].sort() });
  }

  /** A Slack incoming webhook, whose URL is a secret (AWS: posted by a forwarder function). */
  public static slack(webhookUrl: SecretReference): AlertDestination {
    return new AlertDestination({ kind: 'slack', webhookUrl });
  }

  /** PagerDuty (Events API v2), with the integration's routing key kept as a secret. */
  public static pagerDuty(routingKey: SecretReference): AlertDestination {
    return new AlertDestination({ kind: 'pagerduty', routingKey });
  }

  /** An HTTPS endpoint that receives each alert as JSON (the cloud's own alert format). */
  public static webhook(url: string): AlertDestination {
    if (!/^https:\/\/\S+$/.test(url ?? '')) {
      throw new Error(`AlertDestination.webhook(${JSON.stringify(url)}): use an https:// URL.`);
    }
    return new AlertDestination({ kind: 'webhook', url });
  }

  /**
   * Alerts go nowhere mlstack configures, and you say why (e.g. `'our Alertmanager reads the workspace'`): the
   * wiring check then passes.
   */
  public static none(reason: string): AlertDestination {
    if (!reason?.trim()) throw new Error('AlertDestination.none: say why the alerts need no destination.');
    return new AlertDestination({ kind: 'none', reason });
  }

  private constructor(
    /** What it is. */
    public readonly spec: AlertDestinationSpec,
  ) {}

  /** In words, for messages and the wiring check. */
  public toString(): string {
    const s = this.spec;
    switch (s.kind) {
      case 'email':
        return `email ${s.addresses.join(', ')}`;
      case 'slack':
        return `Slack (webhook in secret ${s.webhookUrl})`;
      case 'pagerduty':
        return `PagerDuty (routing key in secret ${s.routingKey})`;
      case 'webhook':
        return `webhook ${s.url}`;
      case 'none':
        return `none (${s.reason})`;
    }
  }
}

/** A route: a name unique on the cluster and its destinations. */
export interface AlertRoute {
  /** `default` for the cluster's, else the construct's path. */
  readonly name: string;
  readonly destinations: readonly AlertDestination[];
}
