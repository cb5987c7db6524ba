import { TerraformStack } from 'cdktf';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import { TerraformState } from '../private/terraform-state';
import { type IMlStack, MlStack, type MlPlatform, type ServerImageResolution } from '../ml-stack';
import { AzurePlatform, type AzurePlatformProps, checkAzurePlatformProps } from './azure-platform';
import type { AksCluster } from './aks-cluster';
import type { IotHubFleet } from './iot-hub-fleet';

/** Props of {@link AzureMlStack}. */
export interface AzureMlStackProps extends AzurePlatformProps {
  /**
   * Where Terraform keeps the stack's state (it holds generated passwords and connection strings).
   * @default - the storage account `tfstate<hash of the subscription>` in resource group `tfstate`, container `tfstate` (TerraformState.defaultFor)
   */
  readonly state?: TerraformState;
}

/**
 * A CDK for Terraform stack with the `azurerm` provider whose capabilities are Azure services, each a construct of
 * its own file: {@link AksCluster} (with {@link AksNodePool}s, {@link BlobObjectStore}s,
 * {@link AzureWorkloadIdentity}s, {@link FlexiblePostgres} and {@link AzureMonitorPrometheus}) and
 * {@link IotHubFleet}.
 *
 * A stack you already have works too: `AzureMlStack.enable(stack, { subscriptionId, location })`.
 */
export class AzureMlStack extends TerraformStack implements IMlStack {
  /**
   * Lets mlstack constructs use `stack`, a cdktf `TerraformStack` of any class, in this subscription and region.
   * Its `azurerm` provider is used when it has one (declared before this call, with `storageUseAzuread: true`);
   * otherwise one is declared. Its backend is left as it is.
   * @throws when the stack is already an mlstack stack, or its provider does not fit
   */
  public static enable(stack: TerraformStack, props: AzurePlatformProps): MlPlatform {
    return MlStack.enable(stack, new AzurePlatform(stack, props));
  }

  /** Always `azure`. */
  public readonly cloud: Cloud = 'azure';
  /** The stack name (its construct id). */
  public readonly stackName: string;
  /** The region. */
  public readonly location: string;
  /** The subscription id. */
  public readonly subscriptionId: string;
  private readonly platform: AzurePlatform;

  constructor(scope: Construct, id: string, props: AzureMlStackProps) {
    super(scope, id);
    MlStack.mark(this);
    this.stackName = id;
    checkAzurePlatformProps(`AzureMlStack '${id}'`, props);
    this.platform = new AzurePlatform(this, props);
    this.location = this.platform.location;
    this.subscriptionId = this.platform.subscriptionId;
    (props.state ?? TerraformState.defaultFor({ cloud: 'azure', subscriptionId: this.subscriptionId })).bind(
      this,
      `AzureMlStack '${id}'`,
    );
  }

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    this.platform.addOutput(scope, id, value, description);
  }

  /** @inheritdoc */
  public deployTimeValue(name: string, value: string, description: string): string {
    return this.platform.deployTimeValue(name, value, description);
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    this.platform.addWarning(scope, message);
  }

  /** Terraform builds no images: the mlstack server image is a reference the user pushed (Azure Container Registry). */
  public mlstackServerImage(): ServerImageResolution {
    return this.platform.mlstackServerImage();
  }

  /** An {@link AksCluster} as `scope`'s default child. */
  public addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): AksCluster {
    return this.platform.addKubernetesCluster(scope, spec);
  }

  /** An {@link IotHubFleet} as `scope`'s default child. */
  public addEdgeFleet(scope: Construct, spec: EdgeFleetSpec): IotHubFleet {
    return this.platform.addEdgeFleet(scope, spec);
  }
}
