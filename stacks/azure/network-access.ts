import { acknowledgeTerraform } from '../../src/policy/acknowledge';
import { Validator } from '../../src/spec/errors';
import { parseIpv4 } from '../../src/spec/ipv4';

/** The policy rule that public storage accounts and key vaults raise. */
const PUBLIC_NETWORK_RULE = 'MLS-AZ-PUBLIC-NETWORK';

/** Props of {@link AzureNetworkAccess.firewall}. */
export interface AzureFirewallProps {
  /**
   * Public IPv4 addresses or CIDR ranges that may reach the data plane besides the cluster's node subnet: where
   * `terraform apply` runs (it uploads the model blobs and writes the database secret, and the azurerm provider
   * reads the accounts' blob properties), and people or CI that upload data (drift references). Storage firewalls
   * take public addresses only; a `/31` or `/32` is written as single addresses, as Azure Storage requires.
   * @default [] — only the node subnet: run `terraform apply` from the cluster's VNet (a self-hosted runner)
   */
  readonly allowedIpRanges?: readonly string[];
}

/** Props of {@link AzureNetworkAccess.publicNetworks}. */
export interface AzurePublicNetworksProps {
  /** Why every network may reach them (Entra ID being the only gate): it acknowledges `MLS-AZ-PUBLIC-NETWORK`. */
  readonly reason: string;
}

/** The resolved access of one store or vault. */
export type ResolvedNetworkAccess =
  | { readonly kind: 'firewall'; readonly subnetIds: readonly string[]; readonly ipRanges: readonly string[] }
  | { readonly kind: 'public'; readonly reason: string };

/** An element a policy acknowledgement can be added to (a cdktf resource). */
interface Acknowledgeable {
  addOverride(path: string, value: unknown): void;
}

/**
 * Who may reach the data plane of the storage accounts and key vaults an Azure stack creates (model repositories,
 * MLflow artifacts, drift data, the database secret). By default a firewall: deny, allow the cluster's node subnet
 * (through service endpoints, which mlstack enables on the subnet it makes) and the addresses you list, and let
 * trusted Azure services through. `publicNetworks` is the explicit opt-out, with its reason.
 *
 * @example
 * new AzureMlStack(app, 'ml', { subscriptionId, location, networkAccess: AzureNetworkAccess.firewall({ allowedIpRanges: ['203.0.113.0/24'] }) });
 */
export abstract class AzureNetworkAccess {
  /** Deny by default; allow the node subnet and `allowedIpRanges`. */
  public static firewall(props: AzureFirewallProps = {}): AzureNetworkAccess {
    return new Firewall(props);
  }

  /** Reachable from every network, with Entra ID as the only gate: only with a reason. */
  public static publicNetworks(props: AzurePublicNetworksProps): AzureNetworkAccess {
    return new PublicNetworks(props);
  }

  /** Checks the props, naming `where`. @internal */
  public abstract check(where: string): void;

  /** What a store or vault next to the cluster whose node subnet is `subnetId` gets. @internal */
  public abstract resolve(subnetId: string | undefined, where: string): ResolvedNetworkAccess;
}

/** Whether an IPv4 address is in a range Azure Storage firewalls refuse (private, loopback, link-local, CGNAT). */
function isPrivate(a: number, b: number): boolean {
  return (
    a === 10 ||
    a === 127 ||
    (a === 172 && b >= 16 && b <= 31) ||
    (a === 192 && b === 168) ||
    (a === 169 && b === 254) ||
    (a === 100 && b >= 64 && b <= 127)
  );
}

class Firewall extends AzureNetworkAccess {
  constructor(private readonly props: AzureFirewallProps) {
    super();
  }

  public check(where: string): void {
    const v: Validator = new Validator(where);
    (this.props.allowedIpRanges ?? []).forEach((r, i) => {
      const range = parseIpv4(r, 'optional');
      if (!range || range.prefix < 8) {
        v.fail(
          `networkAccess.allowedIpRanges[${i}]`,
          r,
          'is not an IPv4 address or CIDR range (/8 to /32)',
          "Use a public address such as '203.0.113.7' or a range such as '203.0.113.0/24'.",
        );
      }
      if (isPrivate(range.octets[0], range.octets[1])) {
        v.fail(
          `networkAccess.allowedIpRanges[${i}]`,
          r,
          'is a private range, which Azure Storage firewalls do not take',
          "List public addresses only; private networks reach the stores through the cluster's subnet.",
        );
      }
    });
  }

  public resolve(subnetId: string | undefined, where: string): ResolvedNetworkAccess {
    if (subnetId === undefined) {
      return new Validator(where).fail(
        'networkAccess',
        'firewall',
        "needs the cluster's node subnet, which an imported cluster without 'network' does not name",
        "Pass the cluster's subnet as GpuCluster 'network: AksNetwork.fromSubnet({ subnetId })' (with service endpoints Microsoft.Storage and Microsoft.KeyVault), or choose AzureNetworkAccess.publicNetworks({ reason }).",
      );
    }
    // Azure Storage takes /31 and /32 only as single addresses.
    const ipRanges = (this.props.allowedIpRanges ?? []).flatMap((r) => {
      const { octets: o, prefix } = parseIpv4(r, 'optional')!;
      if (prefix === 32) return [r.split('/')[0]];
      if (prefix === 31) {
        const base = o[3] & 0xfe;
        return [`${o[0]}.${o[1]}.${o[2]}.${base}`, `${o[0]}.${o[1]}.${o[2]}.${base + 1}`];
      }
      return [r];
    });
    return { kind: 'firewall', subnetIds: [subnetId], ipRanges };
  }
}

class PublicNetworks extends AzureNetworkAccess {
  constructor(private readonly props: AzurePublicNetworksProps) {
    super();
  }

  public check(where: string): void {
    new Validator(where).reason(
      'networkAccess.reason',
      this.props.reason,
      'every network may reach the stores and vaults',
      'Give the reason in a sentence, or use AzureNetworkAccess.firewall().',
    );
  }

  public resolve(): ResolvedNetworkAccess {
    return { kind: 'public', reason: this.props.reason };
  }
}

/** Acknowledges `MLS-AZ-PUBLIC-NETWORK` on a storage account or key vault open to public networks, with the reason. */
export function acknowledgePublicAccess(access: ResolvedNetworkAccess, element: Acknowledgeable): void {
  if (access.kind === 'public') acknowledgeTerraform(element, PUBLIC_NETWORK_RULE, access.reason);
}

/** A firewall's deny-by-default rules, in the shape both azurerm resources share. */
interface FirewallRules<B> {
  defaultAction: string;
  bypass: B;
  ipRules: string[];
  virtualNetworkSubnetIds: string[];
}

/** The rules of a firewall that admits the node subnet, the allowed addresses and trusted Azure services. */
function firewallRules<B>(access: ResolvedNetworkAccess & { kind: 'firewall' }, bypass: B): FirewallRules<B> {
  return {
    defaultAction: 'Deny',
    bypass,
    ipRules: [...access.ipRanges],
    virtualNetworkSubnetIds: [...access.subnetIds],
  };
}

/** `network_rules` of a storage account (a list of bypasses): none when it is open to public networks. */
export function storageNetworkRules(access: ResolvedNetworkAccess): {
  networkRules?: FirewallRules<string[]>;
} {
  return access.kind === 'public' ? {} : { networkRules: firewallRules(access, ['AzureServices']) };
}

/** `network_acls` of a key vault (one bypass): none when it is open to public networks. */
export function keyVaultNetworkAcls(access: ResolvedNetworkAccess): { networkAcls?: FirewallRules<string> } {
  return access.kind === 'public' ? {} : { networkAcls: firewallRules(access, 'AzureServices') };
}
