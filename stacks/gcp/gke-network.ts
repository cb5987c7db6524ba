import type { ClusterNetwork } from '../../src/spec/cluster';

/** A VPC network and subnetwork you already have, for a GKE cluster. */
export interface GkeNetworkProps {
  /** The VPC network: its id (`projects/<project>/global/networks/<name>`), self link, or a resource's `.id`. */
  readonly network: string;
  /** The nodes' subnetwork, in the stack's region: its id, self link, or a resource's `.id`. */
  readonly subnetwork: string;
  /** The subnetwork's primary range (the nodes' addresses), which a private control plane admits. */
  readonly subnetworkCidr: string;
  /** The name of the subnetwork's secondary range for pods. */
  readonly podsRange: string;
  /** The name of the subnetwork's secondary range for services. */
  readonly servicesRange: string;
  /**
   * The pods range's CIDR, when you want synth to check it holds the pools' `maxNodes` (GKE gives each node a /24
   * for its 110 pods).
   * @default - not checked
   */
  readonly podsRangeCidr?: string;
  /**
   * The /28 of the private control plane, which must not overlap your ranges.
   * @default '172.16.0.0/28'
   */
  readonly masterCidr?: string;
  /**
   * Private services access (the peering through which Cloud SQL's private IP comes) on this network: `create`
   * makes it when a construct needs a database; `existing` means the network has one already.
   * @default 'create'
   */
  readonly privateServicesAccess?: 'create' | 'existing';
}

/**
 * A network you already have, for a `GpuCluster` on Google Cloud:
 * `network: GkeNetwork.fromNetwork({ network, subnetwork, subnetworkCidr, podsRange, servicesRange })`. mlstack then
 * creates no network, subnetwork, router or NAT: private nodes need the network's Cloud NAT (or another egress) to
 * pull images.
 *
 * @example
 * new GpuCluster(stack, 'Gpus', {
 *   network: GkeNetwork.fromNetwork({
 *     network: 'projects/acme/global/networks/shared', subnetwork: 'projects/acme/regions/us-central1/subnetworks/gke',
 *     subnetworkCidr: '10.8.0.0/20', podsRange: 'gke-pods', servicesRange: 'gke-services',
 *   }),
 *   gpuPools: [...],
 * });
 */
export class GkeNetwork implements ClusterNetwork {
  /** Uses this network and subnetwork. */
  public static fromNetwork(props: GkeNetworkProps): GkeNetwork {
    for (const key of ['network', 'subnetwork', 'subnetworkCidr', 'podsRange', 'servicesRange'] as const) {
      if (typeof props[key] !== 'string' || props[key].length === 0) {
        throw new Error(`GkeNetwork.fromNetwork: '${key}' (${JSON.stringify(props[key])}) is required.`);
      }
    }
    return new GkeNetwork(props);
  }

  /**
   * The GkeNetwork that a GpuCluster's `network` prop holds.
   * @throws naming what to pass instead when it is another cloud's
   */
  public static of(network: ClusterNetwork): GkeNetwork {
    if (network instanceof GkeNetwork) return network;
    throw new Error(
      `'network' (${network.description}) is not a Google Cloud network: pass GkeNetwork.fromNetwork({ ... }) from 'mlstack/gcp'.`,
    );
  }

  /** Always `gcp`. */
  public readonly cloud = 'gcp' as const;

  private constructor(public readonly props: GkeNetworkProps) {}

  /** What it is, for messages. */
  public get description(): string {
    return `network ${this.props.network}, subnetwork ${this.props.subnetwork}`;
  }

  /**
   * Checks that the pods range holds `maxNodes` nodes of 110 pods (a /24 each), when its CIDR was given.
   * @throws naming the cluster, the numbers and the fix
   */
  public checkCapacity(cluster: string, maxNodes: number): void {
    const m = /\/(\d+)$/.exec(this.props.podsRangeCidr ?? '');
    if (!m) return;
    const nodes = 2 ** Math.max(0, 24 - Number(m[1]));
    if (nodes < maxNodes) {
      throw new Error(
        `GKE cluster ${cluster}: pods range ${this.props.podsRange} (${this.props.podsRangeCidr}) holds ${nodes} nodes (a /24 each for 110 pods); the pools reach ${maxNodes}. Use a larger pods range, or lower the pools' maxNodes.`,
      );
    }
  }
}
