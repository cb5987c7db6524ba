// Finds the kubernetes-models class for an apiVersion and kind, to validate objects read back from YAML.
import * as models from 'kubernetes-models';
import * as gateway from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';

interface ModelClass {
  new (data: object): { validate(): void };
}

const GROUP_EXPORTS = models as unknown as Record<string, Record<string, Record<string, ModelClass>>>;

/** The model class of `apiVersion`/`kind` (e.g. `apps/v1`, `DaemonSet`); throws when kubernetes-models has none. */
export function modelFor(apiVersion: string, kind: string): ModelClass {
  const crds: Record<string, unknown> = {
    'monitoring.coreos.com/v1': monitoring,
    'gateway.networking.k8s.io/v1': gateway,
  };
  if (crds[apiVersion]) {
    const crd = (crds[apiVersion] as Record<string, ModelClass>)[kind];
    if (crd) return crd;
  }
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const key =
    group === '' ? version : group.replace(/\.(\w)/g, (_, c: string) => c.toUpperCase()).replace(/\./g, '');
  const ns =
    group === ''
      ? (models as unknown as Record<string, Record<string, ModelClass>>)[version]
      : GROUP_EXPORTS[key]?.[version];
  const Model = ns?.[kind];
  if (!Model) throw new Error(`kubernetes-models has no model for ${apiVersion} ${kind}`);
  return Model;
}
