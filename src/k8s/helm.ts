import { stringify } from 'yaml';
import type { ManifestFile } from '../synth/output';

/**
 * A third-party Helm chart a cluster needs before its objects (Karpenter, KEDA): installed by `cdk deploy` where
 * the stack applies manifests (an EKS kubectl layer), and always written to the synth output as
 * `charts/<release>.values.yaml` with a `charts/install.sh` that installs them in order.
 */
export interface HelmChartSpec {
  /** The release name. */
  readonly release: string;
  /** The chart name. */
  readonly chart: string;
  /** The repository: an `https://` chart repository or an `oci://` registry path (then `chart` is its last part). */
  readonly repository: string;
  /** The chart version, pinned. */
  readonly version: string;
  readonly namespace: string;
  /** Values, concrete at synth. */
  readonly values: Readonly<Record<string, unknown>>;
  /** What it is for, written in the install script. */
  readonly purpose: string;
}

/** The `helm` arguments that install or upgrade `c` with its values file. */
function helmCommand(c: HelmChartSpec): string {
  const source = c.repository.startsWith('oci://') ? [c.repository] : [c.chart, '--repo', c.repository];
  return [
    'helm upgrade --install',
    c.release,
    ...source,
    '--version',
    c.version,
    '--namespace',
    c.namespace,
    '--create-namespace',
    '--values',
    `"$here/${c.release}.values.yaml"`,
    '--wait',
  ].join(' ');
}

/** The files of a cluster's charts, in install order: one values file each and the script. */
export function chartFiles(charts: readonly HelmChartSpec[]): ManifestFile[] {
  if (charts.length === 0) return [];
  const script = [
    '#!/bin/sh',
    '# Written by mlstack synth: installs the charts this cluster needs before `kubectl apply -f ..`.',
    '# Run with a kubeconfig for the cluster (see the stack output KubeconfigCommand).',
    'set -eu',
    'here=$(cd "$(dirname "$0")" && pwd)',
    ...charts.flatMap((c) => [`# ${c.release}: ${c.purpose}`, helmCommand(c)]),
    '',
  ].join('\n');
  return [
    ...charts.map((c) => ({
      fileName: `charts/${c.release}.values.yaml`,
      content: `# ${c.chart} ${c.version} (${c.repository}): ${c.purpose}\n${stringify(c.values, { lineWidth: 0, sortMapEntries: true })}`,
    })),
    { fileName: 'charts/install.sh', content: script },
  ];
}
