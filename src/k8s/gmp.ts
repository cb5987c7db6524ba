import { CustomResource, DNS_LABEL as NAME, DURATION } from './custom-resource';

/**
 * Google Cloud Managed Service for Prometheus custom resources (`monitoring.googleapis.com/v1`): no maintained
 * typed model exists on npm for Node 20, so these classes check the fields GMP requires, following its CRD reference.
 * @see https://github.com/GoogleCloudPlatform/prometheus-engine/blob/main/doc/api.md
 */
abstract class GmpObject<S> extends CustomResource<S> {
  public readonly apiVersion = 'monitoring.googleapis.com/v1';
}

/** Spec of a {@link PodMonitoring}. */
export interface PodMonitoringSpec {
  readonly selector: { readonly matchLabels: Readonly<Record<string, string>> };
  readonly endpoints: readonly {
    readonly port: string | number;
    readonly path?: string;
    readonly interval: string;
  }[];
}

/** Pods of one namespace for managed collection to scrape; the series' `job` label is the object's name. */
export class PodMonitoring extends GmpObject<PodMonitoringSpec> {
  public readonly kind = 'PodMonitoring';

  public validate(): void {
    this.check(NAME.test(this.metadata.name), 'metadata.name', 'must be a DNS label');
    this.check(!!this.metadata.namespace, 'metadata.namespace', 'is required');
    this.check(
      Object.keys(this.spec.selector?.matchLabels ?? {}).length > 0,
      'spec.selector.matchLabels',
      'must not be empty',
    );
    this.check((this.spec.endpoints ?? []).length > 0, 'spec.endpoints', 'must list at least one endpoint');
    this.spec.endpoints.forEach((e, i) => {
      this.check(e.port !== undefined && e.port !== '', `spec.endpoints[${i}].port`, 'is required');
      this.check(
        DURATION.test(e.interval),
        `spec.endpoints[${i}].interval`,
        `(${e.interval}) must be a duration such as 30s`,
      );
    });
  }
}
