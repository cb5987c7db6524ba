import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec } from '../src/spec/cluster';
import type { Cloud } from '../src/spec/gpu';
import type { EdgeFleetCapability, EdgeFleetSpec, KubernetesClusterCapability } from './capabilities';

export * from './capabilities';

/**
 * What every mlstack stack offers its constructs, in cloud-neutral terms. Constructs never import a cloud
 * framework; they call `MlStack.of(this)` and ask for a capability. Each cloud's stack implements this
 * interface with its own resources.
 */
export interface IMlStack extends IConstruct {
  /** The cloud this stack synthesizes for. */
  readonly cloud: Cloud;
  /** The stack's name, used for output folders. */
  readonly stackName: string;
  /**
   * Builds a managed Kubernetes cluster with its node pools as `scope`'s default child (the `GpuCluster`'s
   * `node.defaultChild`), so that its resources are named as if `scope` made them.
   */
  addKubernetesCluster(scope: Construct, spec: KubernetesClusterSpec): KubernetesClusterCapability;
  /** Records a synth-time warning on `scope`, shown by `mlstack synth` and by the cloud's own CLI. */
  addWarning(scope: IConstruct, message: string): void;
  /**
   * Ships a model package to a fleet of edge devices with a staged rollout and rollback, as `scope`'s default
   * child.
   */
  addEdgeFleet(scope: Construct, spec: EdgeFleetSpec): EdgeFleetCapability;
  /** Adds a stack output (`CfnOutput`, `TerraformOutput`). */
  addOutput(scope: Construct, id: string, value: string, description: string): void;
  /**
   * A value the cloud assigns at deploy that a Kubernetes object needs (a managed identity's client id, a workspace
   * id): exported as the stack output `name` (letters and digits, unique in the stack) and returned as the
   * placeholder `${mlstack:output:<stack>/<name>}`, which `mlstack resolve` fills from the deploy's outputs — and,
   * on AWS with a kubectl layer, the stack itself.
   */
  deployTimeValue(name: string, value: string, description: string): string;
  /**
   * The image reference of the mlstack inference server, built from `docker/mlstack-server.Dockerfile` where the
   * cloud's framework builds images at deploy (AWS: a Docker image asset), or why this stack cannot give one and
   * what the user does instead.
   */
  mlstackServerImage(scope: Construct): ServerImageResolution;
}

/** The mlstack server image a stack builds, or why it cannot (the user then passes an image reference). */
export type ServerImageResolution =
  | { readonly image: string }
  | {
      readonly image?: undefined;
      /** Why not, completing "'image' is required …", e.g. `on gcp (Terraform does not build images)`. */
      readonly reason: string;
      /** What to do, e.g. `Build docker/mlstack-server.Dockerfile, push it and pass its reference as 'image'.` */
      readonly fix: string;
    };

const ML_STACK = Symbol.for('mlstack.MlStack');

/** Finds and marks mlstack stacks. */
export const MlStack = {
  /**
   * The mlstack stack that `construct` lives in.
   * @throws when `construct` is not inside an `AwsMlStack`, `GcpMlStack` or `AzureMlStack`.
   */
  of(construct: IConstruct): IMlStack {
    let node: IConstruct | undefined = construct;
    while (node) {
      if (MlStack.isMlStack(node)) return node;
      node = node.node.scope;
    }
    throw new Error(
      `${construct.node.path || construct.constructor.name}: mlstack constructs must be created inside an AwsMlStack, GcpMlStack or AzureMlStack.`,
    );
  },

  /** Whether `x` is an mlstack stack. */
  isMlStack(x: unknown): x is IMlStack {
    return typeof x === 'object' && x !== null && ML_STACK in x;
  },

  /** Marks a stack class instance as an mlstack stack. Called by each cloud's stack constructor. */
  mark(stack: IMlStack): void {
    Object.defineProperty(stack, ML_STACK, { value: true, enumerable: false });
  },
};
