import type { IConstruct } from 'constructs';
import type { Validator } from '../../src/spec/errors';
import { MlStack } from '../../stacks/ml-stack';
import { GpuCluster } from '../gpu-cluster';

/**
 * The `cluster` prop of a construct built on a GpuCluster, checked: a GpuCluster, in the construct's own stack.
 * @param purpose what the cluster is for, in the fix (`runs the service`)
 * @param user how the fix names the construct (`the TritonService`)
 */
export function requireClusterProp(
  v: Validator,
  value: unknown,
  scope: IConstruct,
  purpose: string,
  user: string,
): GpuCluster {
  if (!GpuCluster.isGpuCluster(value)) {
    v.fail('cluster', value, 'is not a GpuCluster', `Pass the GpuCluster that ${purpose}.`);
  }
  if (MlStack.of(value) !== MlStack.of(scope)) {
    v.fail(
      'cluster',
      value.node.path,
      'is in another stack',
      `Create ${user} in the stack of its GpuCluster.`,
    );
  }
  return value;
}
