import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicy';
import type { INetworkPolicyPeer } from 'kubernetes-models/networking.k8s.io/v1/NetworkPolicyPeer';

/** Where traffic may come from: whole namespaces and address ranges. */
export interface IngressPeers {
  readonly namespaces: readonly string[];
  readonly cidrs: readonly string[];
}

/** The peers of an allow rule, one namespace selector per namespace and one ipBlock per range (deduplicated). */
export function peersOf(p: IngressPeers): INetworkPolicyPeer[] {
  return [
    ...[...new Set(p.namespaces)].map((ns) => ({
      namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': ns } },
    })),
    ...[...new Set(p.cidrs)].map((cidr) => ({ ipBlock: { cidr } })),
  ];
}

/**
 * Denies all ingress to the pods of `namespace` that no other policy allows: every mlstack namespace has one, and
 * each workload's own policy allows exactly its clients, collectors and probes (the kubelet's probes come from the
 * node, which NetworkPolicies always allow).
 * @see https://kubernetes.io/docs/concepts/services-networking/network-policies/#default-deny-all-ingress-traffic
 */
export function defaultDenyIngress(namespace: string): NetworkPolicy {
  return new NetworkPolicy({
    metadata: {
      name: 'default-deny-ingress',
      namespace,
      labels: { 'app.kubernetes.io/managed-by': 'mlstack' },
    },
    spec: { podSelector: {}, policyTypes: ['Ingress'] },
  });
}

/** Allows ingress to the pods labelled `podLabels` on `ports` (TCP) from `from`, and nothing else. */
export function allowIngress(o: {
  readonly name: string;
  readonly namespace: string;
  readonly podLabels: Readonly<Record<string, string>>;
  readonly ports: readonly number[];
  readonly from: IngressPeers;
}): NetworkPolicy {
  return new NetworkPolicy({
    metadata: { name: o.name, namespace: o.namespace, labels: { ...o.podLabels } },
    spec: {
      podSelector: { matchLabels: { ...o.podLabels } },
      policyTypes: ['Ingress'],
      ingress: [
        { from: peersOf(o.from), ports: o.ports.map((port) => ({ port, protocol: 'TCP' as const })) },
      ],
    },
  });
}
