import { ACKNOWLEDGE_KEY, RULE_ID } from './rule';

/** A Kubernetes object's metadata, as constructs build it. */
interface Meta {
  metadata?: { annotations?: Record<string, string> | undefined } | undefined;
}

/** Throws, naming `where`, unless `rule` is a rule id (upper-case words joined by '-'). */
export function checkRuleId(where: string, rule: string): void {
  if (!RULE_ID.test(rule)) {
    throw new Error(
      `${where}: '${rule}' is not a rule id (upper-case words joined by '-', e.g. MLS-K8S-PSA)`,
    );
  }
}

/** Throws, naming `where`, unless `rule` is a rule id and `reason` a sentence: what every acknowledgement needs. */
export function checkAcknowledgement(where: string, rule: string, reason: unknown): void {
  checkRuleId(where, rule);
  if (typeof reason !== 'string' || reason.trim().length < 20) {
    throw new Error(`${where} ${rule}: give the reason in a sentence (got '${String(reason)}')`);
  }
}

/**
 * Acknowledges a finding of `rule` on a Kubernetes object with its reason (an annotation the checker reads, and
 * the cluster's admins see). Returns the object.
 */
export function acknowledgeObject<T extends Meta>(object: T, rule: string, reason: string): T {
  checkAcknowledgement('acknowledge', rule, reason);
  const metadata = (object.metadata ??= {});
  const annotations = (metadata.annotations ??= {});
  const current = annotations[ACKNOWLEDGE_KEY]
    ? (JSON.parse(annotations[ACKNOWLEDGE_KEY]) as Record<string, string>)
    : {};
  annotations[ACKNOWLEDGE_KEY] = JSON.stringify({ ...current, [rule]: reason });
  return object;
}

/**
 * Acknowledges a finding of `rule` on a Terraform resource, or on a whole stack (a cdktf `TerraformResource` or
 * `TerraformStack`: anything with `addOverride`), with its reason.
 */
export function acknowledgeTerraform(
  element: { addOverride(path: string, value: unknown): void },
  rule: string,
  reason: string,
): void {
  checkAcknowledgement('acknowledge', rule, reason);
  element.addOverride(`//.mlstack_acknowledge.${rule}`, reason);
}
