import { Token } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import type { ClusterNetwork } from '../../src/spec/cluster';

/** Options of {@link EksNetwork.fromVpc}. */
export interface EksNetworkOptions {
  /**
   * The subnets of the cluster's nodes, control-plane interfaces, managed scraper and databases: private subnets
   * with a route to the internet (NAT), in at least two availability zones.
   * @default - the VPC's private subnets with egress
   */
  readonly subnets?: ec2.SubnetSelection;
}

/** Addresses each node needs from its subnet: the VPC CNI gives every pod a VPC address (the node's own included). */
export const ADDRESSES_PER_NODE = 32;

/**
 * A VPC you already have, for a `GpuCluster` on AWS: `network: EksNetwork.fromVpc(vpc)`. mlstack then creates no
 * VPC; nodes, the cluster's interfaces, the AMP scraper and MLflow's database go in the selected subnets.
 *
 * @example
 * const vpc = ec2.Vpc.fromLookup(stack, 'Vpc', { vpcId: 'vpc-0123456789abcdef0' });
 * new GpuCluster(stack, 'Gpus', { network: EksNetwork.fromVpc(vpc), gpuPools: [...] });
 */
export class EksNetwork implements ClusterNetwork {
  /** Uses `vpc`, with its private subnets (or `options.subnets`). */
  public static fromVpc(vpc: ec2.IVpc, options: EksNetworkOptions = {}): EksNetwork {
    return new EksNetwork(vpc, options.subnets ?? { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS });
  }

  /**
   * The EksNetwork that a GpuCluster's `network` prop holds.
   * @throws naming what to pass instead when it is another cloud's
   */
  public static of(network: ClusterNetwork): EksNetwork {
    if (network instanceof EksNetwork) return network;
    throw new Error(
      `'network' (${network.description}) is not an AWS network: pass EksNetwork.fromVpc(vpc) from 'mlstack/aws'.`,
    );
  }

  /** Always `aws`. */
  public readonly cloud = 'aws' as const;

  private constructor(
    /** The VPC. */
    public readonly vpc: ec2.IVpc,
    /** The subnets of the cluster. */
    public readonly subnets: ec2.SubnetSelection,
  ) {}

  /** What it is, for messages. */
  public get description(): string {
    return `VPC ${Token.isUnresolved(this.vpc.vpcId) ? this.vpc.node.path : this.vpc.vpcId}`;
  }

  /**
   * The selected subnets, checked for a cluster of `maxNodes` nodes in total: none public, at least two zones
   * where the zones are known, and enough addresses where the ranges are known.
   * @throws naming the cluster, the numbers and the fix
   */
  public selectFor(cluster: string, maxNodes: number): ec2.SelectedSubnets {
    let selected: ec2.SelectedSubnets;
    try {
      selected = this.vpc.selectSubnets(this.subnets);
    } catch (e) {
      throw new Error(
        `EKS cluster ${cluster}: ${this.description} has no subnets to select: ${(e as Error).message}`,
        {
          cause: e,
        },
      );
    }
    const publicIds = new Set(this.vpc.publicSubnets.map((s) => s.subnetId));
    const pub = selected.subnets.filter((s) => publicIds.has(s.subnetId));
    if (pub.length > 0) {
      throw new Error(
        `EKS cluster ${cluster}: the selected subnets of ${this.description} include ${pub.length} public subnet(s); nodes belong in private subnets. Select private subnets with egress: EksNetwork.fromVpc(vpc, { subnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS } }).`,
      );
    }
    const zones = new Set(selected.subnets.map((s) => s.availabilityZone));
    const zonesKnown = ![...zones].some((z) => z === undefined || Token.isUnresolved(z));
    if (zonesKnown && zones.size < 2) {
      throw new Error(
        `EKS cluster ${cluster}: the selected subnets of ${this.description} are in ${zones.size} availability zone(s); EKS needs subnets in at least two. Select subnets in two or more zones.`,
      );
    }
    const sizes = selected.subnets.map((s) => subnetAddresses(s));
    if (sizes.every((n) => n !== undefined)) {
      const available = sizes.reduce((a, n) => a + n!, 0);
      const needed = maxNodes * ADDRESSES_PER_NODE;
      if (available < needed) {
        throw new Error(
          `EKS cluster ${cluster}: the selected subnets of ${this.description} hold ${available} addresses; ${maxNodes} nodes at most need about ${needed} (${ADDRESSES_PER_NODE} a node: the VPC CNI gives each pod a VPC address). Select larger subnets, or lower the pools' maxNodes.`,
        );
      }
    }
    return selected;
  }

  /**
   * The VPC's CIDR, which NetworkPolicies admit the managed scraper from.
   * @throws when it is a deploy-time value (a VPC of another stack without a literal CIDR)
   */
  public get cidr(): string {
    const cidr = this.vpc.vpcCidrBlock;
    if (!Token.isUnresolved(cidr)) return cidr;
    const cfn = this.vpc.node.defaultChild;
    if (
      cfn instanceof ec2.CfnVPC &&
      typeof cfn.cidrBlock === 'string' &&
      !Token.isUnresolved(cfn.cidrBlock)
    ) {
      return cfn.cidrBlock;
    }
    throw new Error(
      `${this.description}: its CIDR is known only at deploy, but the Kubernetes NetworkPolicies that admit the AMP scraper need it at synth. Use a VPC with a literal CIDR, or ec2.Vpc.fromLookup / fromVpcAttributes with vpcCidrBlock.`,
    );
  }
}

/** Usable addresses of a subnet (AWS reserves 5 of each), when its range is known at synth. */
function subnetAddresses(subnet: ec2.ISubnet): number | undefined {
  let cidr: string;
  try {
    cidr = subnet.ipv4CidrBlock;
  } catch {
    return undefined;
  }
  if (!cidr || Token.isUnresolved(cidr)) return undefined;
  const m = /\/(\d+)$/.exec(cidr);
  return m ? 2 ** (32 - Number(m[1])) - 5 : undefined;
}
