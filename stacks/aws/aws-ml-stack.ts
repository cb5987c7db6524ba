import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import { type IMlStack, MlStack, type ServerImageResolution } from '../ml-stack';
import { EksCluster } from './eks-cluster';
import { GreengrassFleet } from './greengrass-fleet';
import { exportDeployTimeValue } from './private/deploy-time';
import { addWarning } from './private/warnings';
import { MlstackServerImage } from './server-image';

/** Props of {@link AwsMlStack}. */
export interface AwsMlStackProps extends StackProps {
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
 * An aws-cdk-lib `Stack` whose capabilities are AWS services, each a construct of its own file: {@link EksCluster}
 * (with {@link EksNodegroup}s, {@link S3ObjectStore}s, {@link PodIdentity}s, {@link RdsPostgres} and
 * {@link AmpPrometheus}), {@link GreengrassFleet} and {@link MlstackServerImage}.
 */
export class AwsMlStack extends Stack implements IMlStack {
  /** Always `aws`. */
  public readonly cloud: Cloud = 'aws';
  private readonly kubectlLayerFactory?: (scope: Construct) => lambda.ILayerVersion;
  private kubectlLayer?: lambda.ILayerVersion;
  private readonly maxAzs?: number;

  constructor(scope: Construct, id: string, props: AwsMlStackProps = {}) {
    super(scope, id, props);
    MlStack.mark(this);
    this.kubectlLayerFactory = props.kubectlLayer;
    this.maxAzs = props.maxAzs;
  }

  /** @inheritdoc */
  public addOutput(scope: Construct, id: string, value: string, description: string): void {
    new CfnOutput(scope, id, { value, description });
  }

  /** @inheritdoc */
  public deployTimeValue(name: string, value: string, description: string): string {
    return exportDeployTimeValue(this, name, value, description);
  }

  /** @inheritdoc */
  public addWarning(scope: IConstruct, message: string): void {
    addWarning(scope, message);
  }

  /** The mlstack server image asset (one per stack), when the stack's account and region are known. */
  public mlstackServerImage(): ServerImageResolution {
    return MlstackServerImage.resolve(this);
  }

  /** An {@link EksCluster} as `scope`'s default child. */
  public addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): EksCluster {
    if (this.kubectlLayerFactory && !this.kubectlLayer) this.kubectlLayer = this.kubectlLayerFactory(this);
    return new EksCluster(scope, 'Default', {
      spec,
      ...(this.maxAzs !== undefined ? { maxAzs: this.maxAzs } : {}),
      ...(this.kubectlLayer ? { kubectlLayer: this.kubectlLayer } : {}),
    });
  }

  /** A {@link GreengrassFleet} as `scope`'s default child. */
  public addEdgeFleet(scope: Construct, spec: EdgeFleetSpec): GreengrassFleet {
    return new GreengrassFleet(scope, 'Default', spec);
  }
}
