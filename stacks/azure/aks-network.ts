import type { ClusterNetwork } from '../../src/spec/cluster';

/** A VNet subnet you already have, for an AKS cluster. */
export interface AksNetworkProps {
  /**
   * The nodes' subnet: its id (`/subscriptions/<id>/resourceGroups/<rg>/providers/Microsoft.Network/virtualNetworks/<vnet>/subnets/<name>`)
   * or a resource's `.id`.
   */
  readonly subnetId: string;
  /**
   * The subnet's address prefix, when you want synth to check it holds the pools' `maxNodes` (Azure CNI overlay
   * gives pods addresses outside the VNet, so each node takes one address, plus one per node of upgrade surge).
   * @default - not checked
   */
  readonly addressPrefix?: string;
  /**
   * The VNet's id, which the private DNS zone of a database links to.
   * @default - derived from `subnetId` when it is a literal id; required for a database otherwise
   */
  readonly virtualNetworkId?: string;
  /**
   * A subnet of the same VNet delegated to `Microsoft.DBforPostgreSQL/flexibleServers`, for MLflow's database
   * (flexible server with VNet integration needs a delegated subnet of its own).
   * @default - none: a construct that needs a private database fails at synth, naming this prop
   */
  readonly databaseSubnetId?: string;
}

/** Addresses Azure reserves in every subnet (network, broadcast and three of its own). */
const AZURE_RESERVED_ADDRESSES = 5;

/**
 * A subnet you already have, for a `GpuCluster` on Azure: `network: AksNetwork.fromSubnet({ subnetId })`. mlstack
 * then creates no VNet or subnet, and gives the cluster's identity `Network Contributor` on the subnet (AKS joins
 * nodes and load balancers to it). The subnet needs outbound access (the VNet's NAT gateway, firewall or the
 * default outbound) for nodes to pull images.
 *
 * @example
 * new GpuCluster(stack, 'Gpus', {
 *   network: AksNetwork.fromSubnet({
 *     subnetId: '/subscriptions/…/resourceGroups/net/providers/Microsoft.Network/virtualNetworks/hub/subnets/aks',
 *     addressPrefix: '10.40.0.0/22',
 *   }),
 *   gpuPools: [...],
 * });
 */
export class AksNetwork implements ClusterNetwork {
  /** Uses this subnet. */
  public static fromSubnet(props: AksNetworkProps): AksNetwork {
    if (typeof props.subnetId !== 'string' || props.subnetId.length === 0) {
      throw new Error(`AksNetwork.fromSubnet: 'subnetId' (${JSON.stringify(props.subnetId)}) is required.`);
    }
    if (props.addressPrefix !== undefined && !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(props.addressPrefix)) {
      throw new Error(
        `AksNetwork.fromSubnet: 'addressPrefix' (${JSON.stringify(props.addressPrefix)}) is not a CIDR such as '10.40.0.0/22'.`,
      );
    }
    return new AksNetwork(props);
  }

  /**
   * The AksNetwork that a GpuCluster's `network` prop holds.
   * @throws naming what to pass instead when it is another cloud's
   */
  public static of(network: ClusterNetwork): AksNetwork {
    if (network instanceof AksNetwork) return network;
    throw new Error(
      `'network' (${network.description}) is not an Azure network: pass AksNetwork.fromSubnet({ subnetId }) from 'mlstack/azure'.`,
    );
  }

  /** Always `azure`. */
  public readonly cloud = 'azure' as const;

  private constructor(public readonly props: AksNetworkProps) {}

  /** What it is, for messages. */
  public get description(): string {
    return `subnet ${this.props.subnetId}`;
  }

  /** The VNet's id: given, or the subnet id's prefix; undefined when neither is known at synth. */
  public get virtualNetworkId(): string | undefined {
    if (this.props.virtualNetworkId) return this.props.virtualNetworkId;
    const m =
      /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Network\/virtualNetworks\/[^/]+)\/subnets\/[^/]+$/i.exec(
        this.props.subnetId,
      );
    return m?.[1];
  }

  /**
   * Checks that the subnet holds `maxNodes` nodes and `surge` more during upgrades, when its prefix was given.
   * @throws naming the cluster, the numbers and the fix
   */
  public checkCapacity(cluster: string, maxNodes: number, surge: number): void {
    const m = /\/(\d+)$/.exec(this.props.addressPrefix ?? '');
    if (!m) return;
    const usable = 2 ** (32 - Number(m[1])) - AZURE_RESERVED_ADDRESSES;
    if (usable < maxNodes + surge) {
      throw new Error(
        `AKS cluster ${cluster}: subnet ${this.props.addressPrefix} has ${usable} usable addresses; the pools reach ${maxNodes} nodes plus ${surge} during upgrades. Use a larger subnet, or lower the pools' maxNodes.`,
      );
    }
  }

  /**
   * The delegated subnet and VNet of a private database.
   * @throws naming the missing prop
   */
  public database(cluster: string): { subnetId: string; virtualNetworkId: string } {
    const vnet = this.virtualNetworkId;
    if (!this.props.databaseSubnetId || !vnet) {
      const missing = [
        ...(this.props.databaseSubnetId
          ? []
          : ["'databaseSubnetId' (a subnet delegated to Microsoft.DBforPostgreSQL/flexibleServers)"]),
        ...(vnet ? [] : ["'virtualNetworkId' (subnetId is not a literal id)"]),
      ];
      throw new Error(
        `AKS cluster ${cluster}: a private PostgreSQL in your network needs ${missing.join(' and ')} in AksNetwork.fromSubnet({ ... }); or make the database publiclyAccessible.`,
      );
    }
    return { subnetId: this.props.databaseSubnetId, virtualNetworkId: vnet };
  }
}
