import { AzurermProvider } from '@cdktf/provider-azurerm/lib/provider';
import { TerraformOutput, TerraformStack } from 'cdktf';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import { type IMlStack, MlStack, type ServerImageResolution } from '../ml-stack';
import {
  addTerraformWarning,
  configureBackend,
  exportTerraformDeployTimeValue,
  type TerraformBackendFactory,
} from '../private/terraform';
import { AksCluster } from './aks-cluster';
import { IotHubFleet } from './iot-hub-fleet';

/** Props of {@link AzureMlStack}. */
export interface AzureMlStackProps {
  /** The Azure subscription id (a GUID). */
  readonly subscriptionId: string;
  /**
   * The Azure region, e.g. `westeurope`.
   * @see https://learn.microsoft.com/azure/reliability/regions-list
   */
  readonly location: string;
  /**
   * The Terraform backend.
   * @default - a local backend at `terraform.<stack>.tfstate`, relative to the stack's folder
   */
  readonly backend?: TerraformBackendFactory;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * A CDK for Terraform stack with the `azurerm` provider whose capabilities are Azure services, each a construct of
 * its own file: {@link AksCluster} (with {@link AksNodePool}s, {@link BlobObjectStore}s,
 * {@link AzureWorkloadIdentity}s, {@link FlexiblePostgres} and {@link AzureMonitorPrometheus}) and
 * {@link IotHubFleet}.
 */
export class AzureMlStack extends TerraformStack implements IMlStack {
  /** Always `azure`. */
  public readonly cloud: Cloud = 'azure';
  /** The stack name (its construct id). */
  public readonly stackName: string;
  /** The region. */
  public readonly location: string;
  /** The subscription id. */
  public readonly subscriptionId: string;

  constructor(scope: Construct, id: string, props: AzureMlStackProps) {
    super(scope, id);
    MlStack.mark(this);
    this.stackName = id;
    if (!GUID.test(props.subscriptionId ?? '')) {
      throw new Error(
        `AzureMlStack '${id}': 'subscriptionId' (${JSON.stringify(props.subscriptionId)}) is not a subscription id. Use the GUID that 'az account show --query id' prints.`,
      );
    }
    if (!/^[a-z0-9]+$/.test(props.location ?? '')) {
      throw new Error(
        `AzureMlStack '${id}': 'location' (${JSON.stringify(props.location)}) is not an Azure region name. Use a name such as 'westeurope' ('az account list-locations -o table').`,
      );
    }
    this.location = props.location;
    this.subscriptionId = props.subscriptionId;
    // Storage accounts disable shared keys: the provider manages containers and blobs with Entra ID.
    new AzurermProvider(this, 'azurerm', {
      features: [{}],
      subscriptionId: props.subscriptionId,
      storageUseAzuread: true,
    });
    configureBackend(this, id, props.backend);
  }

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    new TerraformOutput(scope, id, { value, description });
  }

  /** @inheritdoc */
  public deployTimeValue(name: string, value: string, description: string): string {
    return exportTerraformDeployTimeValue(this, name, value, description);
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    addTerraformWarning(scope, message);
  }

  /** Terraform builds no images: the mlstack server image is a reference the user pushed (Azure Container Registry). */
  public mlstackServerImage(): ServerImageResolution {
    return {
      reason: 'on azure (Terraform does not build images)',
      fix: "Build docker/mlstack-server.Dockerfile, push it to your registry and pass its reference as 'image'.",
    };
  }

  /** An {@link AksCluster} as `scope`'s default child. */
  public addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): AksCluster {
    return new AksCluster(scope, 'Default', {
      spec,
      subscriptionId: this.subscriptionId,
      location: this.location,
      stackName: this.stackName,
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
