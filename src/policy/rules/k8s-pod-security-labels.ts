import type { KubernetesRule } from '../rule';

const ENFORCE = 'pod-security.kubernetes.io/enforce';

/** Every namespace declares its Pod Security level; `privileged` only with a reason. */
export const podSecurityLabels: KubernetesRule = {
  id: 'MLS-K8S-PSA',
  level: 'error',
  target: 'kubernetes',
  title: 'Namespaces enforce a Pod Security Standard',
  description:
    "Without the pod-security.kubernetes.io/enforce label the cluster's default applies (privileged on most clusters), so nothing stops a privileged pod. `privileged` is for GPU system components only, each with its reason.",
  fix: "Label the Namespace `pod-security.kubernetes.io/enforce: restricted` (mlstack's namespaces are); a GPU system namespace that needs `privileged` acknowledges MLS-K8S-PSA with the reason.",
  check: ({ objects }) =>
    objects
      .filter((o) => o.kind === 'Namespace')
      .flatMap((o) => {
        const level = o.metadata.labels?.[ENFORCE];
        if (!level) return [{ object: o, message: `Namespace ${o.metadata.name} has no ${ENFORCE} label` }];
        if (level === 'privileged') {
          return [
            { object: o, message: `Namespace ${o.metadata.name} enforces 'privileged' (no restriction)` },
          ];
        }
        if (!['baseline', 'restricted'].includes(level)) {
          return [
            {
              object: o,
              message: `Namespace ${o.metadata.name}: ${ENFORCE} is '${level}', not a Pod Security level`,
            },
          ];
        }
        return [];
      }),
};
