import type { IngressPeers } from '../../src/k8s/network-policy';
import type { GpuCluster } from '../gpu-cluster';

/**
 * Where an in-cluster Prometheus (prometheus-operator) scrapes from, for the NetworkPolicies of metrics ports: the
 * `monitoring` namespace, as kube-prometheus-stack installs it (TritonService's `monitoringNamespace` default).
 */
export const IN_CLUSTER_PROMETHEUS_NAMESPACE = 'monitoring';

/** Who scrapes a cluster's exporters: the cloud's managed collectors, or the in-cluster Prometheus. */
export function scrapersOf(cluster: GpuCluster, managed: boolean): IngressPeers {
  return managed ? cluster.metricsCollectors : { namespaces: [IN_CLUSTER_PROMETHEUS_NAMESPACE], cidrs: [] };
}
