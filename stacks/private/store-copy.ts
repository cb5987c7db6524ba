import type { IContainer } from 'kubernetes-models/v1/Container';

/**
 * Pinned images of each cloud's CLI, used by the init container that copies a model repository from the
 * object store into the pod with the pod's workload identity. Each supports its cloud's workload identity:
 * AWS CLI ≥ 2.15 reads EKS Pod Identity credentials, the Google Cloud CLI uses the GKE metadata server, the
 * Azure CLI logs in with the federated token that Azure workload identity mounts.
 * @see https://docs.aws.amazon.com/eks/latest/userguide/pod-id-minimum-sdk.html
 * @see https://cloud.google.com/kubernetes-engine/docs/how-to/workload-identity
 * @see https://azure.github.io/azure-workload-identity/docs/
 */
export const STORE_COPY_IMAGES = {
  aws: 'public.ecr.aws/aws-cli/aws-cli:2.24.0',
  gcp: 'gcr.io/google.com/cloudsdktool/google-cloud-cli:502.0.0-slim',
  azure: 'mcr.microsoft.com/azure-cli:2.67.0',
} as const;

/**
 * Shell lines that run `body` once per UTC date (`$day`, `yyyy-mm-dd`) of the last `hours` hours, newest first:
 * the date folders a copy of time-partitioned objects (`<prefix>/<yyyy-mm-dd>/…`) needs, and no older ones. GNU
 * `date -d @<epoch>` (coreutils in each CLI image of STORE_COPY_IMAGES).
 */
export function forEachRecentDay(hours: number, body: string[]): string[] {
  return [
    'now=$(date -u +%s)',
    `for back in $(seq 0 ${Math.ceil(hours / 24)}); do`,
    '  day=$(date -u -d "@$((now - back * 86400))" +%Y-%m-%d)',
    ...body.map((l) => `  ${l}`),
    'done',
  ];
}

/** An init container running a cloud CLI with a small, fixed footprint. */
export function storeCopyContainer(opts: {
  readonly image: string;
  readonly command: string[];
  readonly env: Readonly<Record<string, string>>;
}): IContainer {
  return {
    name: 'fetch-models',
    image: opts.image,
    command: opts.command,
    env: Object.entries(opts.env).map(([name, value]) => ({ name, value })),
    resources: {
      requests: { cpu: '250m', memory: '256Mi' },
      limits: { cpu: '1', memory: '512Mi' },
    },
  };
}
