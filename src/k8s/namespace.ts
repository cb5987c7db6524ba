import { Namespace } from 'kubernetes-models/v1/Namespace';
import { acknowledgeObject } from '../policy/acknowledge';

/** The Pod Security Standard a namespace enforces. */
export type PodSecurityLevel = 'restricted' | 'baseline' | 'privileged';

/** A namespace mlstack creates: `restricted`, or a lower level with the reason next to the code that needs it. */
export type NamespaceOptions = {
  readonly name: string;
  readonly labels?: Readonly<Record<string, string>>;
} & (
  | { readonly podSecurity: 'restricted' }
  | { readonly podSecurity: 'baseline' | 'privileged'; readonly reason: string }
);

/**
 * A Namespace labelled for Pod Security Admission: the level is enforced, audited and warned about (the
 * `pod-security.kubernetes.io/*` labels), so the API server refuses a pod that does not meet it.
 * @see https://kubernetes.io/docs/concepts/security/pod-security-admission/
 */
export function namespaceWithPodSecurity(o: NamespaceOptions): Namespace {
  if (o.podSecurity !== 'restricted' && !o.reason.trim()) {
    throw new Error(`Namespace ${o.name}: pod security level '${o.podSecurity}' needs a reason.`);
  }
  const level = o.podSecurity;
  const ns = new Namespace({
    metadata: {
      name: o.name,
      labels: {
        ...(o.labels ?? {}),
        'pod-security.kubernetes.io/enforce': level,
        'pod-security.kubernetes.io/enforce-version': 'latest',
        'pod-security.kubernetes.io/audit': level,
        'pod-security.kubernetes.io/warn': level,
      },
    },
  });
  // Why it is not restricted: the acknowledgement of the policy rule that flags it (docs/policy.md).
  return o.podSecurity === 'restricted' ? ns : acknowledgeObject(ns, 'MLS-K8S-PSA', o.reason);
}
