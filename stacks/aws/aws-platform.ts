import { CfnOutput, type Stack } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct, IConstruct, Node } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import type { MlPlatform, ServerImageResolution } from '../ml-stack';
import { EksCluster } from './eks-cluster';
import { GreengrassFleet } from './greengrass-fleet';
import { exportDeployTimeValue } from './private/deploy-time';
import { addWarning } from './private/warnings';
import { MlstackServerImage } from './server-image';

/** What mlstack needs to know about an AWS stack beyond the stack itself. */
export interface AwsPlatformProps {
  /**
   * Makes the Lambda layer with `kubectl`, e.g. `(scope) => new KubectlV33Layer(scope, 'Kubectl')` from
   * `@aws-cdk/lambda-layer-kubectl-v33` (match the cluster's Kubernetes minor). When set, `cdk deploy` also
   * applies every Kubernetes manifest of the stack's clusters through the EKS kubectl provider.
   * @default - manifests are only written to the synth output (`k8s/`), for GitOps or `kubectl apply`
   * @see https://docs.aws.amazon.com/cdk/api/v2/docs/aws-eks-v2-readme.html
   */
  readonly kubectlLayer?: (scope: Construct) => lambda.ILayerVersion;
  /**
   * Maximum availability zones of the VPC that mlstack creates for each cluster.
   * @default 3
   */
  readonly maxAzs?: number;
}

/**
 * mlstack's capabilities on an aws-cdk-lib `Stack`: what `AwsMlStack` is, for a stack of any class
 * (`AwsMlStack.enable(stack)`). The resources go in `stack`, under the constructs that ask for them.
 */
export class AwsPlatform implements MlPlatform {
  /** Always `aws`. */
  public readonly cloud: Cloud = 'aws';
  private kubectlLayer?: lambda.ILayerVersion;

  constructor(
    /** The stack. */
    public readonly stack: Stack,
    private readonly props: AwsPlatformProps = {},
  ) {}

  /** The stack's construct node. */
  public get node(): Node {
    return this.stack.node;
  }

  /** The stack name. */
  public get stackName(): string {
    return this.stack.stackName;
  }

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    new CfnOutput(scope, id, { value, description });
  }

  /** @inheritdoc */
  public deployTimeValue(name: string, value: string, description: string): string {
    return exportDeployTimeValue(this.stack, name, value, description);
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    addWarning(scope, message);
  }

  /** The mlstack server image asset (one per stack), when the stack's account and region are known. */
  public mlstackServerImage(): ServerImageResolution {
    return MlstackServerImage.resolve(this.stack);
  }

  /** An {@link EksCluster} as `scope`'s default child. */
  public addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): EksCluster {
    if (this.props.kubectlLayer && !this.kubectlLayer)
      this.kubectlLayer = this.props.kubectlLayer(this.stack);
    return new EksCluster(scope, 'Default', {
      spec,
      ...(this.props.maxAzs !== undefined ? { maxAzs: this.props.maxAzs } : {}),
      ...(this.kubectlLayer ? { kubectlLayer: this.kubectlLayer } : {}),
    });
  }

  /** A {@link GreengrassFleet} as `scope`'s default child. */
  public addEdgeFleet(scope: Construct, spec: EdgeFleetSpec): GreengrassFleet {
    return new GreengrassFleet(scope, 'Default', spec);
  }
}
