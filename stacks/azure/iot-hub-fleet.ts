import { acknowledgeTerraform } from '../../src/policy/acknowledge';
import { Iothub } from '@cdktf/provider-azurerm/lib/iothub';
import { IothubDps } from '@cdktf/provider-azurerm/lib/iothub-dps';
import { IothubSharedAccessPolicyA as IothubSharedAccessPolicy } from '@cdktf/provider-azurerm/lib/iothub-shared-access-policy';
import { ResourceGroup } from '@cdktf/provider-azurerm/lib/resource-group';
import { TerraformOutput } from 'cdktf';
import { Construct, type IConstruct } from 'constructs';
import type { EdgeFleetCapability, EdgeFleetSpec } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { physicalName, visiblePath } from '../private/naming';
import { addTerraformWarning } from '../private/terraform';

/** Props of {@link IotHubFleet}. */
export interface IotHubFleetProps extends EdgeFleetSpec {
  readonly subscriptionId: string;
  readonly location: string;
  readonly stackName: string;
}

/** An IoT Edge deployment manifest (`az iot edge deployment create --content`): edgeAgent, edgeHub, the mlstack module. */
function iotEdgeDeployment(spec: EdgeFleetSpec): object {
  return {
    content: {
      modulesContent: {
        $edgeAgent: {
          'properties.desired': {
            schemaVersion: '1.1',
            runtime: { type: 'docker', settings: { minDockerVersion: 'v1.25', registryCredentials: {} } },
            systemModules: {
              edgeAgent: {
                type: 'docker',
                settings: { image: 'mcr.microsoft.com/azureiotedge-agent:1.5', createOptions: '{}' },
              },
              edgeHub: {
                type: 'docker',
                status: 'running',
                restartPolicy: 'always',
                settings: {
                  image: 'mcr.microsoft.com/azureiotedge-hub:1.5',
                  createOptions: JSON.stringify({
                    HostConfig: { PortBindings: { '8883/tcp': [{ HostPort: '8883' }] } },
                  }),
                },
              },
            },
            modules: {
              mlstack: {
                version: spec.version,
                type: 'docker',
                status: 'running',
                restartPolicy: 'always',
                settings: {
                  image: spec.image,
                  createOptions: JSON.stringify({
                    Env: ['MLSTACK_HOST=0.0.0.0', 'MLSTACK_PORT=8000'],
                    HostConfig: {
                      PortBindings: { '8000/tcp': [{ HostIp: '127.0.0.1', HostPort: '8000' }] },
                      ...(spec.target.executionProviders.includes('cuda') ? { Runtime: 'nvidia' } : {}),
                    },
                  }),
                },
              },
            },
          },
        },
        $edgeHub: {
          'properties.desired': {
            schemaVersion: '1.1',
            routes: { telemetry: 'FROM /messages/modules/mlstack/outputs/* INTO $upstream' },
            storeAndForwardConfiguration: { timeToLiveSecs: 7 * 24 * 3600 },
          },
        },
      },
    },
  };
}

/**
 * An EdgeFleet on Azure: IoT Hub with the Device Provisioning Service linked to it, and two IoT Edge deployment
 * manifests written to the synth output — the canary (devices of the group tagged `canary`, higher priority) and
 * the fleet — with `$edgeAgent`, `$edgeHub` and the mlstack module (the image holding the package). Terraform has
 * no resource for IoT Edge deployments: the outputs give the `az iot edge deployment create` commands that apply
 * them.
 *
 * It is the EdgeFleet's default child; its resources keep the construct ids of mlstack 0.1 (`Fleet-Hub`, …).
 *
 * @example
 * IotHubFleet.of(kiosks).hub.putSku({ name: 'S2', capacity: 1 });
 */
export class IotHubFleet extends Construct implements EdgeFleetCapability {
  /**
   * The IotHubFleet of an EdgeFleet.
   * @throws when the EdgeFleet is not in an AzureMlStack
   */
  public static of(fleet: IConstruct): IotHubFleet {
    return capabilityOf(fleet, IotHubFleet, 'an EdgeFleet of an AzureMlStack (IoT Hub)');
  }

  /** The IoT Edge deployment manifests, written to the synth output. */
  public readonly files: EdgeFleetCapability['files'];
  /** The IoT Hub. */
  public readonly hub: Iothub;

  constructor(scope: Construct, id: string, props: IotHubFleetProps) {
    super(scope, id);
    const spec = props;
    if (!spec.image)
      throw new Error(`${scope.node.path}: an IoT Edge module needs an image holding the package.`);
    const identity = [props.subscriptionId, props.stackName, visiblePath(scope), 'Fleet'];
    const rg = new ResourceGroup(this, 'Fleet-ResourceGroup', {
      name: `${spec.name}-edge-rg`,
      location: props.location,
    });
    const hubName = physicalName({ readable: `${spec.name}-hub`, identity, maxLength: 50 });
    const hub = new Iothub(this, 'Fleet-Hub', {
      name: hubName,
      resourceGroupName: rg.name,
      location: props.location,
      sku: { name: 'S1', capacity: 1 },
      minTlsVersion: '1.2',
      localAuthenticationEnabled: true,
    });
    acknowledgeTerraform(
      hub,
      'MLS-AZ-IOTHUB-AUTH',
      "Local authentication stays on because the Device Provisioning Service links to the hub with a connection string of a hub-scoped shared access policy ('dps-link'), and the azurerm provider offers no identity-based DPS link. The policy has only the rights DPS needs (RegistryWrite, ServiceConnect, and RegistryRead that write implies); devices authenticate with their own per-device credentials, which this setting does not govern.",
    );
    this.hub = hub;
    // What DPS needs on a linked hub: RegistryWrite and ServiceConnect (Microsoft Learn, "How to link and manage
    // IoT hubs"); RegistryWrite includes read. No DeviceConnect: the key cannot act as a device.
    const policy = new IothubSharedAccessPolicy(this, 'Fleet-DpsAccess', {
      name: 'dps-link',
      resourceGroupName: rg.name,
      iothubName: hub.name,
      registryRead: true,
      registryWrite: true,
      serviceConnect: true,
      deviceConnect: false,
    });
    new IothubDps(this, 'Fleet-Dps', {
      name: physicalName({ readable: `${spec.name}-dps`, identity, maxLength: 64 }),
      resourceGroupName: rg.name,
      location: props.location,
      sku: { name: 'S1', capacity: 1 },
      allocationPolicy: 'Hashed',
      linkedHub: [{ connectionString: policy.primaryConnectionString, location: props.location }],
    });
    const files = (['canary', 'fleet'] as const).map((stage) => ({
      path: `iotedge-deployment.${stage}.json`,
      content: `${JSON.stringify(iotEdgeDeployment(spec), null, 2)}\n`,
    }));
    const condition = (stage: 'canary' | 'fleet') =>
      stage === 'canary' ? `tags.group='${spec.group}' AND tags.canary=true` : `tags.group='${spec.group}'`;
    for (const stage of ['canary', 'fleet'] as const) {
      new TerraformOutput(this, `Fleet-${stage}-command`, {
        value:
          `az iot edge deployment create --hub-name ${hubName} --deployment-id ${spec.name}-${spec.version.replace(/\./g, '-')}-${stage}` +
          ` --content iotedge-deployment.${stage}.json --target-condition "${condition(stage)}" --priority ${stage === 'canary' ? 20 : 10}`,
        description: `Applies the ${stage} IoT Edge deployment of ${spec.name} ${spec.version}.`,
      }).overrideLogicalId(`${spec.name}-${stage}-deployment-command`);
    }
    addTerraformWarning(
      scope,
      `IoT Edge rolls out by device tags, not percentages: tag about ${spec.rollout.canaryPercent}% of the '${spec.group}' devices with tags.canary=true for the canary stage; IoT Hub does not abort on a failure share (watch the module's reported status) — see docs/edge-fleet.md.`,
    );
    this.files = files;
  }
}
