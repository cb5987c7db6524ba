import * as fs from 'node:fs';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { EdgeDevices, EdgeFleet, type EdgeFleetProps, EdgeTarget } from '../constructs/edge-fleet';
import { greengrassRecipeProblems, iotEdgeManifestProblems } from '../src/edge/package';
import { ServingModel } from '../src/serving/model-repository';
import type { IMlStack } from '../stacks/ml-stack';
import { modelFor } from './support/kubernetes-schema';
import { awsStack, awsTemplate, azureStack, gcpStack, onlyResource, terraformJson } from './support/synth';
import { fixtureModel } from './support/serving';

const model = () => ServingModel.fromOnnxFile(fixtureModel('mlp'), { name: 'gesture' });
function fleet(stack: IMlStack, props: Partial<EdgeFleetProps> = {}): EdgeFleet {
  return new EdgeFleet(stack, 'Kiosks', {
    model: model(),
    devices: EdgeDevices.group('retail-kiosks', { size: 200 }),
    target: EdgeTarget.JETSON_ORIN,
    rollout: { canaryPercent: 10, batchPercent: 25, maxFailurePercent: 5 },
    version: '1.2.0',
    ...(stack.cloud === 'aws' ? {} : { image: 'registry.example.com/kiosks:1.2.0' }),
    ...props,
  });
}

describe('EdgeFleet on AWS (IoT Greengrass v2)', () => {
  const stack = awsStack();
  const f = fleet(stack);
  const template = awsTemplate(stack);
  const recipe = () => {
    const inline = Object.values(template.findResources('AWS::GreengrassV2::ComponentVersion'))[0].Properties
      .InlineRecipe;
    // The recipe is a JSON string with the bucket name joined in at deploy: resolve the join with a placeholder.
    const parts = inline['Fn::Join'][1] as unknown[];
    return JSON.parse(parts.map((p) => (typeof p === 'string' ? p : 'BUCKET')).join('')) as Record<
      string,
      unknown
    >;
  };

  it('publishes a component whose recipe validates, unpacks the package and runs run.sh', () => {
    const r = recipe();
    expect(greengrassRecipeProblems(r)).toEqual([]);
    expect(r).toMatchObject({ ComponentName: 'com.mlstack.kiosks', ComponentVersion: '1.2.0' });
    const m = (r.Manifests as Record<string, Record<string, unknown>>[])[0];
    expect(m.Platform).toEqual({ os: 'linux', architecture: 'aarch64' });
    expect((m.Lifecycle.Install as { Script: string }).Script).toMatch(
      /^tar -xzf \{artifacts:path\}\/package\.tgz -C \{work:path\} && npm install/,
    );
    expect((m.Lifecycle.Run as { Script: string }).Script).toContain('sh {work:path}/run.sh');
    expect(m.Artifacts).toEqual([
      expect.objectContaining({
        Uri: 's3://BUCKET/com.mlstack.kiosks/1.2.0/package.tgz',
        Digest: Buffer.from(f.package.sha256, 'hex').toString('base64'),
        Algorithm: 'SHA-256',
      }),
    ]);
    template.hasResource('AWS::S3::Bucket', {
      Properties: { VersioningConfiguration: { Status: 'Enabled' }, BucketEncryption: Match.anyValue() },
    });
  });

  it('deploys to the thing group with a staged IoT job rollout that aborts and rolls back on failures', () => {
    template.hasResourceProperties('AWS::IoT::ThingGroup', { ThingGroupName: 'retail-kiosks' });
    template.hasResourceProperties('AWS::GreengrassV2::Deployment', {
      Components: { 'com.mlstack.kiosks': { ComponentVersion: '1.2.0' } },
      DeploymentPolicies: { FailureHandlingPolicy: 'ROLLBACK' },
      IotJobConfiguration: {
        // 10% of 200 devices first, growing to 25% (50) a minute once those succeed.
        JobExecutionsRolloutConfig: {
          ExponentialRate: {
            BaseRatePerMinute: 20,
            IncrementFactor: 2.5,
            RateIncreaseCriteria: { NumberOfSucceededThings: 20 },
          },
          MaximumPerMinute: 50,
        },
        AbortConfig: {
          CriteriaList: [
            { Action: 'CANCEL', FailureType: 'ALL', MinNumberOfExecutedThings: 20, ThresholdPercentage: 5 },
          ],
        },
      },
    });
  });

  it('gives devices a token-exchange role that reads this package only, a role alias and a scoped IoT policy', () => {
    const roles = template.findResources('AWS::IAM::Role', {
      Properties: {
        AssumeRolePolicyDocument: {
          Statement: [Match.objectLike({ Principal: { Service: 'credentials.iot.amazonaws.com' } })],
        },
      },
    });
    expect(Object.keys(roles)).toHaveLength(1);
    const roleId = Object.keys(roles)[0];
    const policy = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }),
    )[0];
    expect(policy.Properties.PolicyDocument.Statement).toEqual([
      expect.objectContaining({
        Action: 's3:GetObject',
        Resource: expect.objectContaining({ 'Fn::Join': expect.anything() }),
      }),
    ]);
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('/com.mlstack.kiosks/1.2.0/*');
    template.hasResourceProperties('AWS::IoT::RoleAlias', { RoleAlias: 'kiosks-token-exchange' });
    const iotPolicy = Object.values(template.findResources('AWS::IoT::Policy'))[0].Properties.PolicyDocument;
    const actions = iotPolicy.Statement.flatMap((s: { Action: string | string[] }) => [s.Action].flat());
    expect(actions).toEqual(
      expect.arrayContaining([
        'iot:Connect',
        'iot:AssumeRoleWithCertificate',
        'greengrass:ResolveComponentCandidates',
      ]),
    );
    expect(actions).not.toContain('iot:*');
  });

  it('writes the package, its archive and the device Dockerfile', () => {
    expect(f.package.files).toEqual([
      'manifest.json',
      'models/gesture/1/model.onnx',
      'models/gesture/config.pbtxt',
      'run.sh',
    ]);
    expect(fs.existsSync(f.package.archive)).toBe(true);
  });

  it('matches the snapshot', () => {
    const ours = Object.fromEntries(
      Object.entries(template.toJSON().Resources as Record<string, { Type: string }>).filter(([k]) =>
        k.startsWith('Kiosks'),
      ),
    );
    expect(ours).toMatchSnapshot();
  });
});

describe('EdgeFleet on Azure (IoT Hub, DPS, IoT Edge)', () => {
  const stack = azureStack();
  const f = fleet(stack, { target: EdgeTarget.LINUX_X86_64 });
  const { json } = terraformJson(stack);

  it('links DPS with a policy of only the rights DPS needs (no DeviceConnect)', () => {
    expect(onlyResource(json, 'azurerm_iothub_shared_access_policy')).toMatchObject({
      name: 'dps-link',
      registry_write: true,
      service_connect: true,
      device_connect: false,
    });
  });

  it('creates an IoT Hub and a Device Provisioning Service linked to it', () => {
    expect(onlyResource(json, 'azurerm_iothub')).toMatchObject({
      sku: { name: 'S1', capacity: 1 },
      min_tls_version: '1.2',
    });
    expect(onlyResource(json, 'azurerm_iothub_dps')).toMatchObject({
      allocation_policy: 'Hashed',
      linked_hub: [
        {
          connection_string: expect.stringMatching(
            /azurerm_iothub_shared_access_policy\.\S+\.primary_connection_string/,
          ),
        },
      ],
    });
  });

  it('writes canary and fleet deployment manifests that validate, with the commands that apply them', () => {
    expect(f.deployment.files.map((x) => x.path)).toEqual([
      'iotedge-deployment.canary.json',
      'iotedge-deployment.fleet.json',
    ]);
    for (const file of f.deployment.files) {
      const manifest = JSON.parse(file.content);
      expect(iotEdgeManifestProblems(manifest), file.path).toEqual([]);
      expect(
        manifest.content.modulesContent.$edgeAgent['properties.desired'].modules.mlstack.settings.image,
      ).toBe('registry.example.com/kiosks:1.2.0');
    }
    expect(json.output!['kiosks-canary-deployment-command'].value).toMatch(
      /--target-condition "tags\.group='retail-kiosks' AND tags\.canary=true" --priority 20$/,
    );
    expect(json.output!['kiosks-fleet-deployment-command'].value).toMatch(
      /--target-condition "tags\.group='retail-kiosks'" --priority 10$/,
    );
    const warnings = f.node.metadata.filter((m) => m.type === 'mlstack:warning').map((m) => String(m.data));
    expect(warnings.join('\n')).toMatch(/IoT Edge rolls out by device tags, not percentages: tag about 10%/);
  });

  it('matches the snapshot', () => {
    expect({ resources: json.resource, files: f.deployment.files }).toMatchSnapshot();
  });
});

describe('EdgeFleet on Google Cloud (GKE fleet + Config Sync)', () => {
  const stack = gcpStack();
  const f = fleet(stack, { target: EdgeTarget.LINUX_ARM64 });
  const { json } = terraformJson(stack);

  it('syncs a bundle from Artifact Registry to the fleet, and says what it cannot do', () => {
    expect(onlyResource(json, 'google_artifact_registry_repository')).toMatchObject({
      format: 'DOCKER',
      repository_id: 'kiosks-edge',
    });
    expect(onlyResource(json, 'google_gke_hub_feature')).toMatchObject({
      name: 'configmanagement',
      fleet_default_member_config: {
        configmanagement: {
          config_sync: {
            enabled: true,
            oci: { sync_repo: 'us-central1-docker.pkg.dev/acme-ml-test/kiosks-edge/bundle:1.2.0' },
          },
        },
      },
    });
    for (const file of f.deployment.files) {
      const obj = JSON.parse(file.content);
      const Model = modelFor(obj.apiVersion, obj.kind);
      expect(() => new Model(obj).validate(), file.path).not.toThrow();
    }
    const warnings = f.node.metadata.filter((m) => m.type === 'mlstack:warning').map((m) => String(m.data));
    expect(warnings.join('\n')).toMatch(/no 10% canary, no batches, no automatic rollback/);
  });

  it('matches the snapshot', () => {
    expect({ resources: json.resource, files: f.deployment.files }).toMatchSnapshot();
  });
});

describe('EdgeFleet validation', () => {
  it('refuses rollout percentages out of range, a model that does not fit the target, and a missing image', () => {
    expect(() => fleet(awsStack(), { rollout: { canaryPercent: 0 } })).toThrow(
      /EdgeFleet 'test\/Kiosks': 'rollout.canaryPercent' \(0\) must be an integer between 1 and 50/,
    );
    expect(() => fleet(awsStack(), { rollout: { canaryPercent: 40, batchPercent: 20 } })).toThrow(
      /'rollout.canaryPercent' \(40\) must not exceed 'rollout.batchPercent' \(20\)/,
    );
    expect(() => fleet(awsStack(), { rollout: { maxFailurePercent: 80 } })).toThrow(
      /'rollout.maxFailurePercent' \(80\)/,
    );
    expect(() => fleet(azureStack(), { image: undefined })).toThrow(
      /'image' \(undefined\) is required on azure, whose devices run containers/,
    );
    expect(() => fleet(awsStack(), { version: 'v2' })).toThrow(
      /'version' \("v2"\) is not a semantic version/,
    );
    expect(() => fleet(awsStack(), { devices: EdgeDevices.group('retail kiosks') })).toThrow(
      /'devices.group' \("retail kiosks"\)/,
    );
  });

  it('names the model problem for the target', () => {
    const tmp = fs.mkdtempSync('/tmp/mlstack-edge-big-');
    const big = `${tmp}/big.onnx`;
    fs.copyFileSync(fixtureModel('mlp'), big);
    const m = ServingModel.fromOnnxFile(big, { name: 'big' });
    fs.truncateSync(big, 300 * 2 ** 20);
    try {
      expect(() => fleet(awsStack(), { model: m, target: EdgeTarget.RASPBERRY_PI })).toThrow(
        /'model' \("big"\) model 'big' version 1 is 300.0 MiB, over the 256 MiB budget of target raspberry-pi/,
      );
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });
});
