import type { Construct, IConstruct } from 'constructs';
import type { ValidatableObject } from '../../src/k8s/manifest';
import type { AlertRuleGroup } from '../../src/monitoring/alerts';
import { AlertDestination, type AlertRoute } from '../../src/monitoring/destinations';
import type { Validator } from '../../src/spec/errors';
import type { ManagedPrometheusCapability } from '../../stacks/capabilities';
import type { GpuCluster } from '../gpu-cluster';

/** A prop listing alert destinations, checked. */
export function checkDestinations(
  v: Validator,
  prop: string,
  value: readonly AlertDestination[],
): readonly AlertDestination[] {
  if (!Array.isArray(value) || value.length === 0) {
    v.fail(
      prop,
      value,
      'must list at least one AlertDestination',
      "Use e.g. [AlertDestination.email('oncall@example.com')], or [AlertDestination.none('why')].",
    );
  }
  value.forEach((d, i) => {
    if (!(d instanceof AlertDestination)) {
      v.fail(
        `${prop}[${i}]`,
        d,
        'is not an AlertDestination',
        'Use AlertDestination.email(...), .slack(...), .pagerDuty(...), .webhook(...) or .none(why).',
      );
    }
  });
  return [...value];
}

/**
 * Evaluates `groups` on the cluster's managed Prometheus, routed to the owner's destinations or the cluster's, and
 * records each group's route in the cluster's wiring (an error at synth when there is none).
 * @returns the Kubernetes objects the backend needs (may be none)
 */
export function addAlertGroups(
  cluster: GpuCluster,
  owner: Construct,
  id: string,
  groups: readonly AlertRuleGroup[],
  managed: ManagedPrometheusCapability,
  own?: readonly AlertDestination[],
): ValidatableObject[] {
  const route = cluster.alertRoute(owner, own);
  const objects = managed.addRuleGroups(
    owner as never,
    id,
    groups,
    route ?? { name: 'default', destinations: [] },
  );
  for (const g of groups)
    cluster.wiring.addAlertGroup({ group: g.name, path: owner.node.path, ...describe(route, managed) });
  return objects;
}

/** Records rule groups that an in-cluster Prometheus evaluates: its own Alertmanager routes them. */
export function addInClusterAlertGroups(
  cluster: GpuCluster,
  owner: IConstruct,
  groups: readonly AlertRuleGroup[],
): void {
  for (const g of groups) {
    cluster.wiring.addAlertGroup({
      group: g.name,
      path: owner.node.path,
      acknowledged:
        "evaluated by the in-cluster Prometheus (PrometheusRule): its Alertmanager's configuration routes them",
    });
  }
}

function describe(
  route: AlertRoute | undefined,
  managed: ManagedPrometheusCapability,
): { route?: string; acknowledged?: string } {
  if (!route) return {};
  const real = route.destinations.filter((d) => d.spec.kind !== 'none');
  if (real.length === 0) return { acknowledged: route.destinations.map((d) => String(d)).join('; ') };
  return { route: `${managed.description}: ${real.map((d) => String(d)).join('; ')}` };
}
