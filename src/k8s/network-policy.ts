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

/** A link-local address and port pods call for their cloud credentials. */
export interface EgressEndpoint {
  readonly cidr: string;
  readonly port: number;
}

/**
 * Where each cloud's workload identity fetches credentials from inside the pod network: the EKS Pod Identity
 * agent (169.254.170.23:80, AWS docs "EKS Pod Identity"); GKE's metadata server (169.254.169.254:80, and on
 * Dataplane V2 169.254.169.252:988, which GKE's Workload Identity docs ask network policies to allow). Azure workload
 * identity exchanges a projected token with Entra ID over HTTPS: no link-local endpoint.
 */
export const IDENTITY_ENDPOINTS: Readonly<Record<'aws' | 'gcp' | 'azure', readonly EgressEndpoint[]>> = {
  aws: [{ cidr: '169.254.170.23/32', port: 80 }],
  gcp: [
    { cidr: '169.254.169.254/32', port: 80 },
    { cidr: '169.254.169.252/32', port: 988 },
  ],
  azure: [],
};

/** One more egress allowance of a namespace's workloads: a TCP port, to any destination or to `to`. */
export interface EgressAllow {
  readonly port: number;
  readonly to?: INetworkPolicyPeer[];
}

/**
 * The egress policy of an mlstack namespace: every pod may reach only DNS (53), HTTPS (443: object stores, cloud
 * APIs and identity, the Kubernetes API), its cloud's credential endpoints and the `extra` ports its workloads
 * need (a database, a Pushgateway, a webhook) — nothing else, in the cluster or out. `https: false` and
 * `dns: false` close those too (a node-local exporter that calls nothing).
 */
export function defaultEgress(o: {
  readonly namespace: string;
  readonly identity: readonly EgressEndpoint[];
  readonly extra?: readonly EgressAllow[];
  readonly https?: boolean;
  readonly dns?: boolean;
}): NetworkPolicy {
  const tcp = (port: number) => ({ port, protocol: 'TCP' as const });
  return new NetworkPolicy({
    metadata: {
      name: 'default-egress',
      namespace: o.namespace,
      labels: { 'app.kubernetes.io/managed-by': 'mlstack' },
    },
    spec: {
      podSelector: {},
      policyTypes: ['Egress'],
      egress: [
        ...(o.dns === false ? [] : [{ ports: [{ port: 53, protocol: 'UDP' as const }, tcp(53)] }]),
        ...(o.https === false ? [] : [{ ports: [tcp(443)] }]),
        ...o.identity.map((e) => ({ to: [{ ipBlock: { cidr: e.cidr } }], ports: [tcp(e.port)] })),
        ...(o.extra ?? []).map((e) => ({ ...(e.to ? { to: e.to } : {}), ports: [tcp(e.port)] })),
      ],
    },
  });
}
