import type { IConstruct } from 'constructs';

/**
 * The typed escape hatch of a capability: `value` itself when it is a `type`, or the default child of a construct
 * whose capability it is (e.g. the `EksCluster` of a `GpuCluster`).
 * @param what how messages name the type, e.g. `an S3ObjectStore (made by an AwsMlStack)`
 */
export function capabilityOf<T>(value: unknown, type: abstract new (...args: never[]) => T, what: string): T {
  if (value instanceof type) return value;
  const construct = value as IConstruct | undefined;
  const child = construct?.node?.tryFindChild('Default');
  if (child instanceof type) return child;
  const where = construct?.node?.path ? `'${construct.node.path}'` : String(value);
  throw new Error(
    `${where} is not ${what}. Typed escape hatches work on what a stack of their cloud made: pass a construct from that stack, or use the escape hatch of its own cloud.`,
  );
}

/**
 * The node pool construct of a pool, by pool name, from a cluster capability's map.
 * @throws naming the pools there are
 */
export function poolByName<T>(pools: ReadonlyMap<string, T>, cluster: IConstruct, pool: string): T {
  const found = pools.get(pool);
  if (found === undefined) {
    throw new Error(
      `${cluster.node.path}: no pool '${pool}'; the pools are ${[...pools.keys()].join(', ')}.`,
    );
  }
  return found;
}
