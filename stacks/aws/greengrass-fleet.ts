import * as path from 'node:path';
import { CfnOutput, Stack, Validations } from 'aws-cdk-lib';
import { logAccessTo } from './private/access-logs';
import * as greengrass from 'aws-cdk-lib/aws-greengrassv2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as iot from 'aws-cdk-lib/aws-iot';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct, type IConstruct } from 'constructs';
import type { EdgeFleetCapability, EdgeFleetSpec } from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { acknowledgeBucketDeploymentFindings } from './private/nag';

/**
 * An EdgeFleet on AWS IoT Greengrass v2: the package in a private, encrypted, versioned bucket, a component version
 * whose recipe unpacks it and runs `run.sh`, a thing group, and a deployment to it whose IoT job rolls out at the
 * canary rate, grows by the batch share and aborts (rolling back) above the failure share; the token-exchange role
 * (read on that package only), its role alias, and a least-privilege IoT policy for the core devices.
 *
 * It is the EdgeFleet's default child; its resources keep the construct ids of mlstack 0.1 (`FleetArtifacts`,
 * `FleetComponent`, …) so that logical ids do not change.
 *
 * @example
 * // Add a device-side component to the same deployment:
 * const fleet = GreengrassFleet.of(kiosks);
 * fleet.deployment.components = { ...fleet.components, 'aws.greengrass.Cloudwatch': { componentVersion: '3.1.0' } };
 */
export class GreengrassFleet extends Construct implements EdgeFleetCapability {
  /**
   * The GreengrassFleet of an EdgeFleet.
   * @throws when the EdgeFleet is not in an AwsMlStack
   */
  public static of(fleet: IConstruct): GreengrassFleet {
    return capabilityOf(fleet, GreengrassFleet, 'an EdgeFleet of an AwsMlStack (Greengrass)');
  }

  /** Greengrass needs no files besides the package: the deployment is part of the stack. */
  public readonly files: EdgeFleetCapability['files'] = [];
  /** The bucket holding the package. */
  public readonly bucket: s3.Bucket;
  /** The component version. */
  public readonly component: greengrass.CfnComponentVersion;
  /** The deployment to the thing group. */
  public readonly deployment: greengrass.CfnDeployment;
  /** The components the deployment installs. */
  public readonly components: Record<
    string,
    greengrass.CfnDeployment.ComponentDeploymentSpecificationProperty
  >;
  /** The thing group of the fleet's core devices. */
  public readonly thingGroup: iot.CfnThingGroup;
  /** The token-exchange role the devices act as. */
  public readonly tokenExchangeRole: iam.Role;

  constructor(scope: Construct, id: string, spec: EdgeFleetSpec) {
    super(scope, id);
    const stack = Stack.of(this);
    const bucket = new s3.Bucket(this, 'FleetArtifacts', {
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    });
    logAccessTo(bucket, `${spec.name}-edge-artifacts/`);
    const prefix = `${spec.componentName}/${spec.version}`;
    const upload = new s3deploy.BucketDeployment(this, 'FleetUpload', {
      sources: [s3deploy.Source.asset(path.dirname(spec.archive))],
      destinationBucket: bucket,
      destinationKeyPrefix: `${prefix}/`,
      prune: false,
      retainOnDelete: true,
      memoryLimit: 1024,
    });
    acknowledgeBucketDeploymentFindings(stack, upload, bucket);
    const recipe = {
      RecipeFormatVersion: '2020-01-25',
      ComponentName: spec.componentName,
      ComponentVersion: spec.version,
      ComponentDescription: `mlstack inference server with model package ${spec.name} ${spec.version} (${spec.target.id})`,
      ComponentPublisher: 'mlstack',
      ComponentConfiguration: { DefaultConfiguration: { port: 8000 } },
      Manifests: [
        {
          Platform: { os: 'linux', architecture: spec.target.architecture },
          Lifecycle: {
            Install: {
              Script: `tar -xzf {artifacts:path}/package.tgz -C {work:path} && npm install --no-audit --no-fund --prefix {work:path}/server mlstack@${spec.mlstackVersion} onnxruntime-node@${spec.onnxruntimeNode}`,
              Timeout: 1800,
            },
            Run: {
              Script:
                'MLSTACK_HOME={work:path}/server/node_modules/mlstack MLSTACK_PORT={configuration:/port} sh {work:path}/run.sh',
            },
          },
          Artifacts: [
            {
              Uri: `s3://${bucket.bucketName}/${prefix}/package.tgz`,
              Digest: Buffer.from(spec.archiveSha256, 'hex').toString('base64'),
              Algorithm: 'SHA-256',
              Unarchive: 'NONE',
              Permission: { Read: 'OWNER', Execute: 'NONE' },
            },
          ],
        },
      ],
    };
    const component = new greengrass.CfnComponentVersion(this, 'FleetComponent', {
      inlineRecipe: stack.toJsonString(recipe),
    });
    component.node.addDependency(upload);
    const group = new iot.CfnThingGroup(this, 'FleetGroup', { thingGroupName: spec.group });
    const r = spec.rollout;
    const canary = Math.max(1, Math.ceil((r.fleetSize * r.canaryPercent) / 100));
    const batch = Math.max(canary, Math.ceil((r.fleetSize * r.batchPercent) / 100));
    this.components = { [spec.componentName]: { componentVersion: spec.version } };
    const deployment = new greengrass.CfnDeployment(this, 'FleetDeployment', {
      targetArn: group.attrArn,
      deploymentName: `${spec.name}-${spec.version}`,
      components: this.components,
      deploymentPolicies: {
        failureHandlingPolicy: 'ROLLBACK',
        componentUpdatePolicy: { action: 'NOTIFY_COMPONENTS', timeoutInSeconds: 60 },
      },
      iotJobConfiguration: {
        jobExecutionsRolloutConfig: {
          exponentialRate: {
            baseRatePerMinute: canary,
            incrementFactor: Math.min(5, Math.max(1.1, Math.round((batch / canary) * 10) / 10)),
            // Typed `any` by aws-cdk-lib, so written in the template's own casing.
            rateIncreaseCriteria: { NumberOfSucceededThings: canary },
          },
          maximumPerMinute: batch,
        },
        abortConfig: {
          criteriaList: [
            {
              action: 'CANCEL',
              failureType: 'ALL',
              minNumberOfExecutedThings: canary,
              thresholdPercentage: r.maxFailurePercent,
            },
          ],
        },
      },
    });
    deployment.node.addDependency(component);
    const exchange = new iam.Role(this, 'FleetTokenExchangeRole', {
      assumedBy: new iam.ServicePrincipal('credentials.iot.amazonaws.com'),
      description: `Greengrass token-exchange role of edge fleet ${spec.name}: reads its artifacts only`,
    });
    exchange.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:GetObject'],
        resources: [bucket.arnForObjects(`${prefix}/*`)],
      }),
    );
    Validations.of(exchange).acknowledge({
      id: `AwsSolutions::AwsSolutions-IAM5[Resource::<${stack.getLogicalId(bucket.node.defaultChild as s3.CfnBucket)}.Arn>/${prefix}/*]`,
      reason: 'Read-only on the objects of this package version in the fleet artifact bucket.',
    });
    const alias = new iot.CfnRoleAlias(this, 'FleetRoleAlias', {
      roleAlias: `${spec.name}-token-exchange`,
      roleArn: exchange.roleArn,
      credentialDurationSeconds: 3600,
    });
    const thing = stack.formatArn({
      service: 'iot',
      resource: 'thing',
      resourceName: '${iot:Connection.Thing.ThingName}',
    });
    new iot.CfnPolicy(this, 'FleetDevicePolicy', {
      policyName: `${spec.name}-core-devices`,
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'iot:Connect',
            Resource: stack.formatArn({
              service: 'iot',
              resource: 'client',
              resourceName: '${iot:Connection.Thing.ThingName}*',
            }),
          },
          {
            Effect: 'Allow',
            Action: ['iot:Publish', 'iot:Receive'],
            Resource: [
              stack.formatArn({
                service: 'iot',
                resource: 'topic',
                resourceName: '$aws/things/${iot:Connection.Thing.ThingName}/*',
              }),
            ],
          },
          {
            Effect: 'Allow',
            Action: 'iot:Subscribe',
            Resource: [
              stack.formatArn({
                service: 'iot',
                resource: 'topicfilter',
                resourceName: '$aws/things/${iot:Connection.Thing.ThingName}/*',
              }),
            ],
          },
          { Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: alias.attrRoleAliasArn },
          {
            Effect: 'Allow',
            Action: [
              'greengrass:GetComponentVersionArtifact',
              'greengrass:ResolveComponentCandidates',
              'greengrass:GetDeploymentConfiguration',
              'greengrass:ListThingGroupsForCoreDevice',
              'greengrass:PutCertificateAuthorities',
              'greengrass:VerifyClientDeviceIdentity',
            ],
            Resource: '*',
          },
          { Effect: 'Allow', Action: ['iot:GetThingShadow', 'iot:UpdateThingShadow'], Resource: thing },
        ],
      },
    });
    new CfnOutput(this, 'FleetThingGroupArn', { value: group.attrArn });
    this.bucket = bucket;
    this.component = component;
    this.deployment = deployment;
    this.thingGroup = group;
    this.tokenExchangeRole = exchange;
  }
}
