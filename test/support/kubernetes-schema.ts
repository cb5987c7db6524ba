// Finds the kubernetes-models class for an apiVersion and kind, to validate objects read back from YAML.
import * as models from 'kubernetes-models';
import * as gateway from '@kubernetes-models/gateway-api/gateway.networking.k8s.io/v1';
import { PodMonitoring } from '../../src/k8s/gmp';
import { KarpenterEC2NodeClass, KarpenterNodePool } from '../../src/k8s/karpenter';
import * as monitoring from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import * as keda from '@kubernetes-models/keda/keda.sh/v1alpha1';

interface ModelClass {
  new (data: object): { validate(): void };
}

/** A project class built from (metadata, spec), as the custom resources without an npm model are. */
type SpecClass = new (metadata: never, spec: never) => { validate(): void };
const specModel = (C: SpecClass): ModelClass =>
  class {
    private readonly obj: { validate(): void };
    constructor(data: object) {
      const d = data as { metadata: never; spec: never };
      this.obj = new C(d.metadata, d.spec);
    }
    validate() {
      this.obj.validate();
    }
  };
const azureServiceMonitor: ModelClass = class {
  private readonly obj: { validate(): void };
  constructor(data: object) {
    this.obj = new monitoring.ServiceMonitor({
      ...(data as object),
      apiVersion: 'monitoring.coreos.com/v1',
    } as unknown as ConstructorParameters<typeof monitoring.ServiceMonitor>[0]);
  }
  validate() {
    this.obj.validate();
  }
};
const GMP = { PodMonitoring: specModel(PodMonitoring) };

const GROUP_EXPORTS = models as unknown as Record<string, Record<string, Record<string, ModelClass>>>;

/** The model class of `apiVersion`/`kind` (e.g. `apps/v1`, `DaemonSet`); throws when kubernetes-models has none. */
export function modelFor(apiVersion: string, kind: string): ModelClass {
  const crds: Record<string, unknown> = {
    'monitoring.coreos.com/v1': monitoring,
    // The Azure Monitor metrics add-on reads the prometheus-operator schema under its own group.
    'azmonitoring.coreos.com/v1': { ServiceMonitor: azureServiceMonitor },
    'gateway.networking.k8s.io/v1': gateway,
    'monitoring.googleapis.com/v1': GMP,
    'keda.sh/v1alpha1': keda,
    'karpenter.sh/v1': { NodePool: specModel(KarpenterNodePool) },
    'karpenter.k8s.aws/v1': { EC2NodeClass: specModel(KarpenterEC2NodeClass) },
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
