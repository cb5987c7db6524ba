import type { Construct, IConstruct, Node } from 'constructs';
import type { KubernetesClusterSpec } from '../src/spec/cluster';
import type { Cloud } from '../src/spec/gpu';
import type { EdgeFleetCapability, EdgeFleetSpec, KubernetesClusterCapability } from './capabilities';

export * from './capabilities';

/**
 * What every mlstack stack offers its constructs, in cloud-neutral terms. Constructs never import a cloud
 * framework; they call `MlStack.of(this)` and ask for a capability. Each cloud's stack implements this
 * interface with its own resources.
 */
export interface MlPlatform {
  /** The framework stack's construct node. */
  readonly node: Node;
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

/**
 * An mlstack stack class (`AwsMlStack`, `GcpMlStack`, `AzureMlStack`): a framework stack that is its own
 * {@link MlPlatform}. Use it as the scope of mlstack constructs, as any stack.
 */
export interface IMlStack extends IConstruct, MlPlatform {
  readonly node: Node;
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
const PLATFORMS = Symbol.for('mlstack.MlStack.platforms');
const RESOLVERS = Symbol.for('mlstack.MlStack.resolvers');

/**
 * Makes a framework stack that is not an mlstack stack (a plain aws-cdk-lib `Stack`, a cdktf `TerraformStack`)
 * usable by mlstack constructs, or says it cannot (undefined). Each cloud module registers one when it is loaded.
 */
export type PlatformResolver = (stack: IConstruct) => MlPlatform | undefined;

/** Shared across copies of this module (a consumer may load mlstack twice through symlinks). */
function registry(): { platforms: WeakMap<IConstruct, MlPlatform>; resolvers: PlatformResolver[] } {
  const g = globalThis as Record<symbol, unknown>;
  g[PLATFORMS] ??= new WeakMap<IConstruct, MlPlatform>();
  g[RESOLVERS] ??= [];
  return {
    platforms: g[PLATFORMS] as WeakMap<IConstruct, MlPlatform>,
    resolvers: g[RESOLVERS] as PlatformResolver[],
  };
}

/** Finds and marks mlstack stacks. */
export const MlStack = {
  /**
   * The mlstack stack that `construct` lives in: an `AwsMlStack`, `GcpMlStack` or `AzureMlStack`, or a plain
   * framework stack enabled with `AwsMlStack.enable`, `GcpMlStack.enable` or `AzureMlStack.enable` (a plain
   * aws-cdk-lib `Stack` is enabled on first use once `mlstack/aws` is loaded; a cdktf stack with a `google` or
   * `azurerm` provider likewise, with `mlstack/gcp` or `mlstack/azure`).
   * @throws when `construct` is in none of those
   */
  of(construct: IConstruct): MlPlatform {
    const { platforms, resolvers } = registry();
    let node: IConstruct | undefined = construct;
    while (node) {
      if (MlStack.isMlStack(node)) return node;
      const enabled = platforms.get(node);
      if (enabled) return enabled;
      for (const resolve of resolvers) {
        const made = resolve(node);
        if (made) {
          platforms.set(node, made);
          return made;
        }
      }
      node = node.node.scope;
    }
    throw new Error(
      `${construct.node.path || construct.constructor.name}: mlstack constructs must be created inside an mlstack stack. Use AwsMlStack, GcpMlStack or AzureMlStack, or keep your stack and enable it with one line: AwsMlStack.enable(stack), GcpMlStack.enable(stack, { project, region }) or AzureMlStack.enable(stack, { subscriptionId, location }) (from 'mlstack/aws', 'mlstack/gcp', 'mlstack/azure').`,
    );
  },

  /** Whether `x` is an mlstack stack. */
  isMlStack(x: unknown): x is IMlStack {
    return typeof x === 'object' && x !== null && ML_STACK in x;
  },

  /** Every mlstack stack under `root`: mlstack stack classes and enabled framework stacks. */
  all(root: IConstruct): MlPlatform[] {
    const { platforms } = registry();
    const out: MlPlatform[] = [];
    for (const c of root.node.findAll()) {
      if (MlStack.isMlStack(c)) out.push(c);
      else {
        const p = platforms.get(c);
        if (p) out.push(p);
      }
    }
    return out;
  },

  /** Marks a stack class instance as an mlstack stack. Called by each cloud's stack constructor. */
  mark(stack: IMlStack): void {
    Object.defineProperty(stack, ML_STACK, { value: true, enumerable: false });
  },

  /**
   * Records `platform` as the mlstack stack of the framework stack `stack` (by the clouds' `enable`).
   * @throws when `stack` already has one
   */
  enable(stack: IConstruct, platform: MlPlatform): MlPlatform {
    const { platforms } = registry();
    if (MlStack.isMlStack(stack) || platforms.has(stack)) {
      throw new Error(`${stack.node.path}: this stack is already an mlstack stack; enable it once.`);
    }
    platforms.set(stack, platform);
    return platform;
  },

  /** Registers a resolver for plain framework stacks (by each cloud module, once). */
  registerResolver(resolver: PlatformResolver): void {
    const { resolvers } = registry();
    if (!resolvers.includes(resolver)) resolvers.push(resolver);
  },
};
