import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { Service } from 'kubernetes-models/v1/Service';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import {
  ManifestSet,
  ManifestValidationError,
  manifestFileName,
  objectRef,
  renderYaml,
  toManifest,
} from '../../src/k8s/manifest';

describe('ManifestSet', () => {
  it('validates each object against its schema', () => {
    const bad = new Service({
      metadata: { name: 'web' },
      spec: { ports: [{ port: 'eighty' as unknown as number }] },
    });
    expect(() => toManifest(bad)).toThrow(ManifestValidationError);
    expect(() => toManifest(bad)).toThrow(/Service\/web does not match its schema: .*port/);
  });

  it('requires metadata.name', () => {
    expect(() => toManifest(new ConfigMap({ metadata: {} }))).toThrow(/metadata.name is required/);
  });

  it('fails when two objects share kind, namespace and name', () => {
    const set = new ManifestSet();
    set.add('a', new ConfigMap({ metadata: { name: 'x', namespace: 'n' } }));
    set.add('b', new ConfigMap({ metadata: { name: 'x', namespace: 'other' } }));
    expect(() => set.add('c', new ConfigMap({ metadata: { name: 'x', namespace: 'n' } }))).toThrow(
      /c: Kubernetes object ConfigMap\/n\/x is already defined by a/,
    );
    expect(set.size).toBe(2);
  });

  it('names files so that namespaces and config apply before workloads', () => {
    const set = new ManifestSet();
    set.add(
      'a',
      new Service({ metadata: { name: 'web', namespace: 'ml' }, spec: { ports: [{ port: 80 }] } }),
    );
    set.add('a', new ConfigMap({ metadata: { name: 'cfg', namespace: 'ml' } }));
    set.add('a', new Namespace({ metadata: { name: 'ml' } }));
    expect(set.files().map((f) => f.fileName)).toEqual([
      '01-namespace-ml.yaml',
      '05-configmap-ml-cfg.yaml',
      '09-service-ml-web.yaml',
    ]);
  });

  it('renders YAML with apiVersion, kind and metadata first and other keys sorted', () => {
    const m = toManifest(
      new ConfigMap({ metadata: { name: 'c', labels: { z: '1', a: '2' } }, data: { b: '1', a: '2' } }),
    );
    const text = renderYaml(m);
    expect(text.split('\n').slice(0, 3)).toEqual(['apiVersion: v1', 'kind: ConfigMap', 'metadata:']);
    expect(text.indexOf('a: "2"')).toBeLessThan(text.indexOf('z: "1"'));
    expect(parse(text)).toEqual(m);
    expect(renderYaml(m)).toBe(text);
  });

  it('refers to objects the way kubectl does', () => {
    expect(objectRef({ kind: 'Namespace', metadata: { name: 'ml' } })).toBe('Namespace/ml');
    expect(manifestFileName(toManifest(new Namespace({ metadata: { name: 'ML_x' as string } })))).toBe(
      '01-namespace-ml-x.yaml',
    );
  });
});
