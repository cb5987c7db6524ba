import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Construct } from 'constructs';
import {
  checkEdgeModel,
  EdgeTarget,
  edgeDockerfile,
  type EdgePackage,
  writeEdgePackage,
} from '../src/edge/package';
import { renderTritonConfig } from '../src/inference/triton-config';
import { ServingModel } from '../src/serving/model-repository';
import { cloudProfile } from '../src/spec/clouds';
import { Validator } from '../src/spec/errors';
import { type EdgeFleetCapability, MlStack } from '../stacks/ml-stack';
import { listFiles, stageOnce } from '../src/synth/files';
import { packageVersion, peerRange } from '../src/synth/package-info';
import { SYNTH_OUTPUT, type SynthOutputFolder } from '../src/synth/output';

export { EdgeTarget } from '../src/edge/package';

/** The devices of a fleet. */
export class EdgeDevices {
  /**
   * Devices by group: an AWS IoT thing group, an IoT Hub twin tag `group`, a GKE fleet.
   * @param size how many devices the group holds, to turn rollout percentages into counts (AWS IoT jobs count things)
   */
  public static group(name: string, options: { readonly size?: number } = {}): EdgeDevices {
    return new EdgeDevices(name, options.size ?? 100);
  }

  private constructor(
    /** The group name. */
    public readonly group: string,
    /** The expected number of devices. */
    public readonly size: number,
  ) {}
}

/** The staged rollout. */
export interface EdgeRolloutProps {
  /**
   * Share of the fleet that gets the new version first.
   * @default 10
   */
  readonly canaryPercent?: number;
  /**
   * Share of the fleet updated at once after the canary succeeded.
   * @default 25
   */
  readonly batchPercent?: number;
  /**
   * Share of failed devices that stops the rollout and rolls back.
   * @default 5
   */
  readonly maxFailurePercent?: number;
}

/** Props of {@link EdgeFleet}. */
export interface EdgeFleetProps {
  /** The model to ship (its config.pbtxt is generated, so the same repository layout serves on the device). */
  readonly model: ServingModel;
  /** The fleet. */
  readonly devices: EdgeDevices;
  /** What the devices are. */
  readonly target: EdgeTarget;
  /**
   * Staged rollout.
   * @default { canaryPercent: 10, batchPercent: 25, maxFailurePercent: 5 }
   */
  readonly rollout?: EdgeRolloutProps;
  /**
   * Package version (semantic version); bump it to ship a new model.
   * @default 1.0.0
   */
  readonly version?: string;
  /**
   * The device image holding the package (Azure IoT Edge module, GCP fleet bundle): build it from the Dockerfile
   * mlstack writes next to the package. Not used on AWS, where Greengrass installs mlstack on the device.
   * @default - required on Azure and Google Cloud
   */
  readonly image?: string;
}

const SEMVER = /^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$/;
const GROUP = /^[a-zA-Z0-9][a-zA-Z0-9_-]{0,62}$/;

/**
 * Ships a model and the mlstack ONNX Runtime server to a fleet of devices, with a staged rollout and rollback:
 * AWS IoT Greengrass v2 (component, thing group, deployment with IoT job rollout and abort), Azure IoT Hub with
 * DPS and IoT Edge deployment manifests (canary and fleet), Google Cloud fleets with Config Sync. The device
 * package (model repository, `run.sh`, manifest) is written at synth and served on the device exactly as the
 * tests serve it.
 */
export class EdgeFleet extends Construct {
  /** The fleet name. */
  public readonly name: string;
  /** The package version. */
  public readonly version: string;
  /** The written package. */
  public readonly package: EdgePackage;
  /** What the cloud added (deployment manifests written to the synth output). */
  public readonly deployment: EdgeFleetCapability;

  constructor(scope: Construct, id: string, props: EdgeFleetProps) {
    super(scope, id);
    const where = `EdgeFleet '${this.node.path}'`;
    const v: Validator = new Validator(where);
    const stack = MlStack.of(this);
    if (!(props?.model instanceof ServingModel)) {
      v.fail(
        'model',
        props?.model,
        'is not a ServingModel',
        "Use ServingModel.fromOnnxFile('model.onnx', { name }).",
      );
    }
    if (!(props.devices instanceof EdgeDevices)) {
      v.fail('devices', props.devices, 'is not EdgeDevices', "Use EdgeDevices.group('retail-kiosks').");
    }
    if (!GROUP.test(props.devices.group)) {
      v.fail(
        'devices.group',
        props.devices.group,
        'is not a device group name',
        'Use letters, digits, _ and -, at most 63.',
      );
    }
    v.integer('devices.size', props.devices.size, 1, 1_000_000);
    if (!(props.target instanceof EdgeTarget)) {
      v.fail(
        'target',
        props.target,
        'is not an EdgeTarget',
        'Use EdgeTarget.JETSON_ORIN, LINUX_X86_64, LINUX_ARM64 or RASPBERRY_PI.',
      );
    }
    const r = { canaryPercent: 10, batchPercent: 25, maxFailurePercent: 5, ...(props.rollout ?? {}) };
    v.integer('rollout.canaryPercent', r.canaryPercent, 1, 50);
    v.integer('rollout.batchPercent', r.batchPercent, 1, 100);
    v.integer('rollout.maxFailurePercent', r.maxFailurePercent, 0, 50);
    if (r.canaryPercent > r.batchPercent) {
      v.fail(
        'rollout.canaryPercent',
        r.canaryPercent,
        `must not exceed 'rollout.batchPercent' (${r.batchPercent})`,
        'Canary first, then larger batches.',
      );
    }
    for (const problem of checkEdgeModel(props.model, props.target))
      v.fail('model', props.model.name, problem, 'Ship a model that fits the target.');
    this.version = props.version ?? '1.0.0';
    if (!SEMVER.test(this.version))
      v.fail('version', this.version, 'is not a semantic version', "Use MAJOR.MINOR.PATCH, e.g. '1.2.0'.");
    this.name = id.toLowerCase().replace(/[^a-z0-9-]/g, '-');
    v.dnsLabel('id', this.name, 40);
    if (props.image !== undefined) v.image('image', props.image, 'registry.example.com/kiosk-model:1.0.0');
    if (cloudProfile(stack.cloud).edgeDevicesRunContainers && props.image === undefined) {
      v.fail(
        'image',
        props.image,
        `is required on ${stack.cloud}, whose devices run containers`,
        'Build the Dockerfile written next to the package (edge/<stack>/<fleet>/), push it and pass its reference.',
      );
    }

    this.package = stagePackage(this.name, this.version, props.model, props.target);
    const mlstackVersion = packageVersion();
    this.deployment = stack.addEdgeFleet(this, {
      name: this.name,
      componentName: `com.mlstack.${this.name}`,
      version: this.version,
      group: props.devices.group,
      target: props.target,
      archive: this.package.archive,
      archiveSha256: this.package.sha256,
      packageDir: this.package.dir,
      rollout: { ...r, fleetSize: props.devices.size },
      ...(props.image ? { image: props.image } : {}),
      mlstackVersion,
      onnxruntimeNode: peerRange('onnxruntime-node'),
    });
    const serverImage = `mlstack-server:${mlstackVersion}`;
    Object.defineProperty(this, SYNTH_OUTPUT, {
      value: (): SynthOutputFolder[] => {
        const base = path.join('edge', stack.stackName, this.name);
        return [
          { path: path.join(base, 'package'), sourceDir: this.package.dir },
          { path: path.join(base, 'package.tgz'), file: this.package.archive },
          { path: path.join(base, 'Dockerfile'), content: edgeDockerfile(serverImage) },
          ...this.deployment.files.map((f) => ({ path: path.join(base, f.path), content: f.content })),
        ];
      },
    });
  }
}

/**
 * Writes the package once per content (model files, config, version, target) under the OS temp folder: into a
 * fresh folder renamed into place, so that synths running side by side never see a half-written package.
 */
function stagePackage(name: string, version: string, model: ServingModel, target: EdgeTarget): EdgePackage {
  const hash = createHash('sha256').update(
    `${name}\n${version}\n${target.id}\n${renderTritonConfig(model.config)}`,
  );
  for (const ver of model.versions) hash.update(fs.readFileSync(ver.file));
  const root = stageOnce('mlstack-edge', hash.digest('hex').slice(0, 24), (tmp) =>
    writeEdgePackage(
      path.join(tmp, 'package'),
      { fleet: name, version, model, target },
      path.join(tmp, 'artifact', 'package.tgz'),
    ),
  );
  const dir = path.join(root, 'package');
  const archive = path.join(root, 'artifact', 'package.tgz');
  return {
    dir,
    archive,
    sha256: createHash('sha256').update(fs.readFileSync(archive)).digest('hex'),
    files: listFiles(dir),
  };
}
