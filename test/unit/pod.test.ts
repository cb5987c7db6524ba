import { describe, expect, it } from 'vitest';
import { container, RESTRICTED_CONTAINER_SECURITY, restricted } from '../../src/k8s/pod';

const resources = { requests: { cpu: '100m', memory: '64Mi' }, limits: { memory: '128Mi' } };

describe('the container builder', () => {
  it('gives every container the restricted security context and its resources', () => {
    const c = container({ name: 'app', image: 'example/app:1', resources });
    expect(c.securityContext).toEqual({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
    });
    expect(c.resources).toEqual(resources);
  });

  it('adds fields to the restricted context, and replaces it only with a stated exception', () => {
    expect(
      container({ name: 'a', image: 'i', resources, securityContext: { runAsUser: 1000 } }).securityContext,
    ).toEqual({ ...RESTRICTED_CONTAINER_SECURITY, runAsUser: 1000 });
    const privileged = container({
      name: 'agent',
      image: 'i',
      resources,
      exception: { reason: 'reads a root-only socket', securityContext: { runAsUser: 0 } },
    });
    expect(privileged.securityContext).toEqual({ runAsUser: 0 });
  });

  it('fails when an exception has no reason', () => {
    expect(() =>
      container({ name: 'agent', image: 'i', resources, exception: { reason: ' ', securityContext: {} } }),
    ).toThrow(/container 'agent': a security context exception needs its reason/);
  });

  it('hardens a container made elsewhere, and fails when it has no requests and limits', () => {
    const c = restricted({ name: 'fetch', image: 'i', resources }, [{ name: 'tmp', mountPath: '/tmp' }]);
    expect(c.securityContext).toEqual(RESTRICTED_CONTAINER_SECURITY);
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    expect(() => restricted({ name: 'fetch', image: 'i' })).toThrow(
      /container 'fetch': requests and limits are required/,
    );
  });
});
