import { defaultDenyIngress, defaultEgress } from '../../src/k8s/network-policy';
import { ArtifactRegistryRepository } from '@cdktf/provider-google/lib/artifact-registry-repository';
import { GkeHubFeature } from '@cdktf/provider-google/lib/gke-hub-feature';
import { TerraformOutput } from 'cdktf';
import { Construct, type IConstruct } from 'constructs';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { namespaceWithPodSecurity } from '../../src/k8s/namespace';
import { container, RESTRICTED_POD_SECURITY } from '../../src/k8s/pod';
import { acknowledgeObject } from '../../src/policy/acknowledge';
import type { EdgeFleetCapability, EdgeFleetSpec } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { addTerraformWarning } from '../private/terraform';

/** Props of {@link ConfigSyncFleet}. */
export interface ConfigSyncFleetProps extends EdgeFleetSpec {
  readonly project: string;
  readonly region: string;
}

/**
 * An EdgeFleet on Google Cloud, which has no device service since IoT Core's retirement: devices run a small
 * Kubernetes (k3s) registered as GKE fleet members, and Config Sync on the fleet pulls a bundle (Namespace,
 * Deployment of the image holding the package, on 127.0.0.1:8000 of the device) from Artifact Registry as an OCI
 * artifact. This builds the Artifact Registry repository and the fleet's Config Sync default, and writes the
 * bundle to the synth output; staged percentages and automatic rollback have no equivalent (a synth warning and
 * docs/edge-fleet.md say so).
 *
 * It is the EdgeFleet's default child; its resources keep the construct ids of mlstack 0.1 (`Fleet-Registry`, …).
 *
 * @example
 * ConfigSyncFleet.of(kiosks).repository.cleanupPolicyDryRun = false;
 */
export class ConfigSyncFleet extends Construct implements EdgeFleetCapability {
  /**
   * The ConfigSyncFleet of an EdgeFleet.
   * @throws when the EdgeFleet is not in a GcpMlStack
   */
  public static of(fleet: IConstruct): ConfigSyncFleet {
    return capabilityOf(fleet, ConfigSyncFleet, 'an EdgeFleet of a GcpMlStack (Config Sync)');
  }

  /** The bundle's files (`bundle/*.json`), written to the synth output. */
  public readonly files: EdgeFleetCapability['files'];
  /** The Artifact Registry repository of the images and bundles. */
  public readonly repository: ArtifactRegistryRepository;
  /** The fleet's Config Sync default. */
  public readonly configSync: GkeHubFeature;

  constructor(scope: Construct, id: string, props: ConfigSyncFleetProps) {
    super(scope, id);
    const spec = props;
    if (!spec.image)
      throw new Error(`${scope.node.path}: a fleet bundle needs an image holding the package.`);
    const repo = new ArtifactRegistryRepository(this, 'Fleet-Registry', {
      repositoryId: `${spec.name}-edge`,
      location: props.region,
      format: 'DOCKER',
      description: `Images and Config Sync bundles of edge fleet ${spec.name}`,
    });
    this.repository = repo;
    const bundle = `${props.region}-docker.pkg.dev/${props.project}/${spec.name}-edge/bundle`;
    this.configSync = new GkeHubFeature(this, 'Fleet-ConfigSync', {
      name: 'configmanagement',
      location: 'global',
      fleetDefaultMemberConfig: {
        configmanagement: {
          configSync: {
            enabled: true,
            sourceFormat: 'unstructured',
            oci: {
              syncRepo: `${bundle}:${spec.version}`,
              policyDir: '.',
              secretType: 'gcpserviceaccount',
              syncWaitSecs: '60',
            },
          },
        },
      },
      dependsOn: [repo],
    });
    new TerraformOutput(this, 'Fleet-push-command', {
      value: `oras push ${bundle}:${spec.version} bundle/`,
      description: `Publishes the Config Sync bundle of ${spec.name} ${spec.version} (run in its synth folder).`,
    }).overrideLogicalId(`${spec.name}-bundle-push-command`);
    addTerraformWarning(
      scope,
      `Edge fleet ${spec.name}: GKE fleets with Config Sync roll out to every member at once — no ${spec.rollout.canaryPercent}% canary, no batches, no automatic rollback on ${spec.rollout.maxFailurePercent}% failures; roll back by pointing the sync at the previous bundle tag (docs/edge-fleet.md).`,
    );
    const labels = { 'app.kubernetes.io/name': spec.name, 'app.kubernetes.io/managed-by': 'mlstack' };
    const probe = (p: string) => ({ httpGet: { path: p, port: 8000, host: '127.0.0.1' } });
    // Sized from the target: onnxruntime holds the model and its arena (about twice the largest model the device
    // is sized for) beside the server's own ~256 MiB.
    const serverResources = {
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { memory: `${spec.target.sizeBudgetMiB * 2 + 256}Mi` },
    };
    const objects = [
      namespaceWithPodSecurity({
        name: 'mlstack-edge',
        labels,
        podSecurity: 'privileged',
        reason:
          "The kiosk server uses the device's host network so that the kiosk's local apps reach it on 127.0.0.1; baseline forbids hostNetwork.",
      }),
      acknowledgeObject(
        new Deployment({
          metadata: { name: spec.name, namespace: 'mlstack-edge', labels },
          spec: {
            replicas: 1,
            selector: { matchLabels: labels },
            template: {
              metadata: { labels },
              spec: {
                hostNetwork: true,
                // Non-root, RuntimeDefault seccomp: everything restricted asks but the host network.
                securityContext: { ...RESTRICTED_POD_SECURITY },
                containers: [
                  container({
                    name: 'mlstack-server',
                    image: spec.image,
                    args: ['serve', '/models', '--host', '127.0.0.1', '--port', '8000'],
                    readinessProbe: probe('/v2/health/ready'),
                    livenessProbe: probe('/v2/health/live'),
                    resources: serverResources,
                    volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
                  }),
                ],
                volumes: [{ name: 'tmp', emptyDir: {} }],
              },
            },
          },
        }),
        'MLS-K8S-HOST-ACCESS',
        "hostNetwork: the kiosk's local apps reach the server on the device's 127.0.0.1:8000, where it listens only (no port is open to the network).",
      ),
      // The server is on the host network, which NetworkPolicies do not cover; any pod added to the namespace
      // later is closed to ingress until it is allowed.
      defaultDenyIngress('mlstack-edge'),
      defaultEgress({ namespace: 'mlstack-edge', identity: [] }),
    ];
    for (const o of objects) o.validate();
    this.files = objects.map((o) => ({
      path: `bundle/${o.kind.toLowerCase()}-${o.metadata!.name}.json`,
      content: `${JSON.stringify(o.toJSON(), null, 2)}\n`,
    }));
  }
}
