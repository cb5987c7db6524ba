import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import type { TerraformStack } from 'cdktf';
import type { Construct } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import type { MlPlatform } from '../ml-stack';
import { defaultProvider, TerraformPlatform } from '../private/terraform';
import { AksCluster } from './aks-cluster';
import { AzureNetworkAccess } from './network-access';
import { IotHubFleet } from './iot-hub-fleet';

/** Where an Azure stack's resources go. */
export interface AzurePlatformProps {
  /** The Azure subscription id (a GUID). */
  readonly subscriptionId: string;
  /**
   * The Azure region, e.g. `westeurope`.
   * @see https://learn.microsoft.com/azure/reliability/regions-list
   */
  readonly location: string;
  /**
   * Who may reach the data plane of the storage accounts and key vaults the stack creates.
   * @default AzureNetworkAccess.firewall() — the cluster's node subnet only (run `terraform apply` from its VNet,
   * or list your addresses in `allowedIpRanges`)
   */
  readonly networkAccess?: AzureNetworkAccess;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Checks a subscription id and location, naming `where`. */
export function checkAzurePlatformProps(
  where: string,
  props: Partial<AzurePlatformProps>,
): AzurePlatformProps {
  if (!GUID.test(props.subscriptionId ?? '')) {
    throw new Error(
      `${where}: 'subscriptionId' (${JSON.stringify(props.subscriptionId)}) is not a subscription id. Use the GUID that 'az account show --query id' prints.`,
    );
  }
  if (!/^[a-z0-9]+$/.test(props.location ?? '')) {
    throw new Error(
      `${where}: 'location' (${JSON.stringify(props.location)}) is not an Azure region name. Use a name such as 'westeurope' ('az account list-locations -o table').`,
    );
  }
  const networkAccess = props.networkAccess ?? AzureNetworkAccess.firewall();
  if (!(networkAccess instanceof AzureNetworkAccess)) {
    throw new Error(
      `${where}: 'networkAccess' (${JSON.stringify(networkAccess)}) is not an AzureNetworkAccess. Use AzureNetworkAccess.firewall({ allowedIpRanges }) or AzureNetworkAccess.publicNetworks({ reason }).`,
    );
  }
  networkAccess.check(where);
  return { subscriptionId: props.subscriptionId!, location: props.location!, networkAccess };
}

/**
 * mlstack's capabilities on a cdktf `TerraformStack` for Azure: what `AzureMlStack` is, for a stack of any class
 * (`AzureMlStack.enable(stack, { subscriptionId, location })`). It uses the stack's `azurerm` provider when it has
 * one — which must manage storage with Entra ID (`storageUseAzuread: true`), since mlstack's storage accounts
 * refuse shared keys — and declares one otherwise.
 */
export class AzurePlatform extends TerraformPlatform implements MlPlatform {
  /** Always `azure`. */
  public readonly cloud: Cloud = 'azure';
  /** The subscription id. */
  public readonly subscriptionId: string;
  /** The region. */
  public readonly location: string;
  /** Who may reach the stores' and vaults' data plane. */
  public readonly networkAccess: AzureNetworkAccess;

  constructor(stack: TerraformStack, props: AzurePlatformProps) {
    super(stack);
    const { subscriptionId, location, networkAccess } = checkAzurePlatformProps(stack.node.path, props);
    this.subscriptionId = subscriptionId;
    this.location = location;
    this.networkAccess = networkAccess!;
    const existing = defaultProvider(stack, 'azurerm') as AzurermProvider | undefined;
    if (!existing) {
      // Storage accounts disable shared keys: the provider manages containers and blobs with Entra ID.
      new AzurermProvider(stack, 'azurerm', { features: [{}], subscriptionId, storageUseAzuread: true });
    } else {
      if (existing.storageUseAzuread !== true) {
        throw new Error(
          `${stack.node.path}: the stack's azurerm provider must set storageUseAzuread: true: mlstack's storage accounts refuse shared keys, so Terraform manages their containers and blobs with Entra ID.`,
        );
      }
      if (existing.subscriptionId !== undefined && existing.subscriptionId !== subscriptionId) {
        throw new Error(
          `${stack.node.path}: the stack's azurerm provider is for subscription '${existing.subscriptionId}', not '${subscriptionId}'.`,
        );
      }
    }
  }

  /** An {@link AksCluster} as `scope`'s default child. */
  public addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): AksCluster {
    return new AksCluster(scope, 'Default', {
      spec,
      subscriptionId: this.subscriptionId,
      location: this.location,
      stackName: this.stackName,
      networkAccess: this.networkAccess,
    });
  }

  /** An {@link IotHubFleet} as `scope`'s default child. */
  public addEdgeFleet(scope: Construct, spec: EdgeFleetSpec): IotHubFleet {
    return new IotHubFleet(scope, 'Default', {
      ...spec,
      subscriptionId: this.subscriptionId,
      location: this.location,
      stackName: this.stackName,
    });
  }
}
