import type { KubernetesRule } from '../rule';
import { containersOf, nameOf, podOf } from './pods';

/** Images pinned by digest, not by a tag that can move. */
export const imageDigest: KubernetesRule = {
  id: 'MLS-K8S-IMAGE-DIGEST',
  level: 'warning',
  target: 'kubernetes',
  title: 'Images are pinned by digest',
  description:
    'A tag can be pushed again: the same manifest then runs different code on the next pull, and a rollback does not roll back. A digest names exactly one image.',
  fix: "Pin mlstack's own images with GpuCluster `imageDigests` ({ '<image>:<tag>': 'sha256:…' }) and give your images as `registry/name:tag@sha256:<digest>` in the constructs' `image` props.",
  check: ({ objects }) =>
    objects.flatMap((o) => {
      const pod = podOf(o);
      if (!pod) return [];
      const images = [
        ...new Set(
          containersOf(pod)
            .map((c) => c.image)
            .filter((i): i is string => !!i),
        ),
      ];
      const mutable = images.filter((i) => !/@sha256:[0-9a-f]{64}$/.test(i));
      return mutable.length
        ? [{ object: o, message: `${nameOf(o)}: ${mutable.join(', ')} pinned by tag only` }]
        : [];
    }),
};
