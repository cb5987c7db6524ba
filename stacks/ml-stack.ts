import type { Construct, IConstruct } from 'constructs';
import type { KubernetesClusterSpec, NodePoolSpec } from '../src/spec/cluster';
import type { Cloud } from '../src/spec/gpu';
import type { KubernetesManifest } from '../src/k8s/manifest';

/**
 * A Kubernetes cluster that a stack built for a {@link KubernetesClusterSpec}.
 */
export interface KubernetesClusterCapability {
  /** The cluster's name as the cloud knows it (may be a deploy-time token on AWS). */
  readonly clusterName: string;
  /**
   * Whether the cloud installs and manages the NVIDIA device plugin itself (GKE does, for pools with
   * `gpu_driver_installation_config`); when false mlstack deploys it.
   */
  readonly managesGpuDevicePlugin: boolean;
  /** Adds a node pool (resolved for this cloud) to the cluster. */
  addNodePool(scope: Construct, pool: NodePoolSpec): void;
  /**
   * Makes `manifests` part of the deployment where the cloud's tooling can apply them (on AWS, through
   * the EKS kubectl provider when one is configured). The manifests are always written to the synth output too.
   */
  deployManifests(scope: Construct, id: string, manifests: readonly KubernetesManifest[]): void;
}

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
  /** Builds a managed Kubernetes cluster with its node pools. */
  addKubernetesCluster(
    scope: Construct,
    id: string,
    spec: KubernetesClusterSpec,
  ): KubernetesClusterCapability;
  /** Records a synth-time warning on `scope`, shown by `mlstack synth` and by the cloud's own CLI. */
  addWarning(scope: IConstruct, message: string): void;
}

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
