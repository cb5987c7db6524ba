import { Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec } from '../../src/spec/cluster';
import type { Cloud } from '../../src/spec/gpu';
import type { EdgeFleetSpec } from '../capabilities';
import { type IMlStack, MlStack, type MlPlatform, type ServerImageResolution } from '../ml-stack';
import { EksCluster } from './eks-cluster';
import { GreengrassFleet } from './greengrass-fleet';
import { AwsPlatform, type AwsPlatformProps } from './aws-platform';

/** Props of {@link AwsMlStack}. */
export interface AwsMlStackProps extends StackProps, AwsPlatformProps {}

/**
 * An aws-cdk-lib `Stack` whose capabilities are AWS services, each a construct of its own file: {@link EksCluster}
 * (with {@link EksNodegroup}s, {@link S3ObjectStore}s, {@link PodIdentity}s, {@link RdsPostgres} and
 * {@link AmpPrometheus}), {@link GreengrassFleet} and {@link MlstackServerImage}.
 *
 * A stack you already have works too: `AwsMlStack.enable(stack)` (a plain aws-cdk-lib `Stack` is enabled on first
 * use anyway once `mlstack/aws` is loaded; `enable` passes the options).
 */
export class AwsMlStack extends Stack implements IMlStack {
  /**
   * Lets mlstack constructs use `stack`, an aws-cdk-lib `Stack` of any class, with these options.
   * @throws when the stack is already an mlstack stack
   */
  public static enable(stack: Stack, props: AwsPlatformProps = {}): MlPlatform {
    return MlStack.enable(stack, new AwsPlatform(stack, props));
  }

  /** Always `aws`. */
  public readonly cloud: Cloud = 'aws';
  private readonly platform: AwsPlatform;

  constructor(scope: Construct, id: string, props: AwsMlStackProps = {}) {
    super(scope, id, props);
    MlStack.mark(this);
    this.platform = new AwsPlatform(this, props);
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

  /** The mlstack server image asset (one per stack), when the stack's account and region are known. */
  public mlstackServerImage(): ServerImageResolution {
    return this.platform.mlstackServerImage();
  }

  /** An {@link EksCluster} as `scope`'s default child. */
  public addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): EksCluster {
    return this.platform.addKubernetesCluster(scope, spec);
  }

  /** A {@link GreengrassFleet} as `scope`'s default child. */
  public addEdgeFleet(scope: Construct, spec: EdgeFleetSpec): GreengrassFleet {
    return this.platform.addEdgeFleet(scope, spec);
  }
}

// A plain aws-cdk-lib Stack is unambiguous: enable it with the defaults when a construct first asks.
MlStack.registerResolver((node) => (Stack.isStack(node) ? new AwsPlatform(node) : undefined));
