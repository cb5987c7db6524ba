import { CronJob } from 'kubernetes-models/batch/v1/CronJob';
import type { IContainer } from 'kubernetes-models/v1/Container';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { namespaceWithPodSecurity } from '../k8s/namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import type { ValidatableObject } from '../k8s/manifest';
import { container, envFrom, restricted, RESTRICTED_POD_SECURITY } from '../k8s/pod';
import type { AlertRuleGroup } from '../monitoring/alerts';
import type { DriftConfig, DriftSchema } from './analyze';

/** The metrics `mlstack drift` pushes (src/drift/run.ts), each labelled `job_name`. */
export const DRIFT_METRICS = [
  'mlstack_drift_statistic',
  'mlstack_drift_feature_drifted',
  'mlstack_drift_missing_share',
  'mlstack_drift_dataset_drifted',
  'mlstack_drift_insufficient_data',
  'mlstack_drift_drifted_share',
  'mlstack_drift_window_rows',
  'mlstack_drift_window_skipped_rows',
  'mlstack_drift_last_run_timestamp_seconds',
] as const;

/** What the drift job's manifests need. */
export interface DriftJobSpec {
  /** The CronJob, ServiceAccount and ConfigMap name prefix. */
  readonly name: string;
  readonly namespace: string;
  /** Five-field cron, UTC. */
  readonly schedule: string;
  /** Seconds a run may take. */
  readonly deadlineSeconds: number;
  /** The mlstack image. */
  readonly image: string;
  readonly serviceAccount: { readonly annotations: Readonly<Record<string, string>> };
  /** Labels the workload identity needs on the pods. */
  readonly podLabels: Readonly<Record<string, string>>;
  /** The init container that copies `windows/` of the bucket to `localPath`. */
  readonly fetchWindows: { readonly container: IContainer; readonly localPath: string };
  /** The step that uploads the report folder to `reports/$ts`. */
  readonly uploadReport: {
    readonly image: string;
    readonly env: Readonly<Record<string, string>>;
    readonly script: readonly string[];
  };
  /** Window files relative to `windows/`. */
  readonly reference: string;
  /**
   * The current window: a file relative to `windows/`, or captured requests that an init container copies under
   * {@link CAPTURE_MOUNT} (to its `localPath`; the rows of the last `sinceHours` are compared).
   */
  readonly current:
    | string
    | {
        readonly fetch: { readonly container: IContainer; readonly localPath: string };
        readonly sinceHours: number;
      };
  readonly config: DriftConfig;
  readonly schema: DriftSchema;
}

/** Where the drift job's pod holds captured requests (the copy target of a captured window). */
export const CAPTURE_MOUNT = '/capture';

/**
 * The drift job: Namespace, ServiceAccount, a ConfigMap with the thresholds and schema, and a CronJob whose pod
 * copies the windows in (init container), runs `mlstack drift`, and uploads the report beside it (a second
 * container that waits for the first, so that a failed run still uploads what it wrote).
 */
export function driftJobManifests(spec: DriftJobSpec): ValidatableObject[] {
  const labels = { 'app.kubernetes.io/name': spec.name, 'app.kubernetes.io/managed-by': 'mlstack' };
  const fetch = spec.fetchWindows;
  const current =
    typeof spec.current === 'string'
      ? `${fetch.localPath}/${spec.current}`
      : `${spec.current.fetch.localPath} --since ${spec.current.sinceHours}h`;
  const capture = typeof spec.current === 'string' ? undefined : spec.current.fetch;
  const driftScript = [
    `node /opt/mlstack/bin/mlstack.js drift --reference ${fetch.localPath}/${spec.reference} --current ${current}` +
      ' --schema /config/schema.json --config /config/config.json --out /out/report --drift-exit-code 0',
    'code=$?',
    '# 4: too few rows for a verdict; not a failed run (mlstack_drift_insufficient_data says so).',
    'if [ "$code" -eq 4 ]; then code=0; fi',
    'echo "$code" > /out/.exit',
    'exit "$code"',
  ].join('\n');
  const uploadScript = [
    '# Waits for the drift step, uploads its report, and exits with its exit code.',
    'while [ ! -f /out/.exit ]; do sleep 2; done',
    'ts=$(date -u +%Y%m%dT%H%M%SZ)',
    'if [ -d /out/report ]; then',
    ...spec.uploadReport.script.map((l) => `  ${l}`),
    'fi',
    'exit "$(cat /out/.exit)"',
  ].join('\n');
  return [
    namespaceWithPodSecurity({ name: spec.namespace, labels, podSecurity: 'restricted' }),
    new ServiceAccount({
      metadata: {
        name: spec.name,
        namespace: spec.namespace,
        labels: { ...labels },
        ...(Object.keys(spec.serviceAccount.annotations).length
          ? { annotations: { ...spec.serviceAccount.annotations } }
          : {}),
      },
    }),
    new ConfigMap({
      metadata: { name: `${spec.name}-config`, namespace: spec.namespace, labels: { ...labels } },
      data: {
        'config.json': `${JSON.stringify(spec.config, null, 2)}\n`,
        'schema.json': `${JSON.stringify(spec.schema, null, 2)}\n`,
      },
    }),
    new CronJob({
      metadata: { name: spec.name, namespace: spec.namespace, labels: { ...labels } },
      spec: {
        schedule: spec.schedule,
        timeZone: 'Etc/UTC',
        concurrencyPolicy: 'Forbid',
        startingDeadlineSeconds: 300,
        successfulJobsHistoryLimit: 3,
        failedJobsHistoryLimit: 3,
        jobTemplate: {
          metadata: { labels: { ...labels } },
          spec: {
            backoffLimit: 1,
            activeDeadlineSeconds: spec.deadlineSeconds,
            ttlSecondsAfterFinished: 7 * 24 * 3600,
            template: {
              metadata: { labels: { ...labels, ...spec.podLabels } },
              spec: {
                serviceAccountName: spec.name,
                restartPolicy: 'Never',
                securityContext: { ...RESTRICTED_POD_SECURITY },
                initContainers: [
                  restricted({ ...fetch.container, volumeMounts: [] }, [
                    { name: 'data', mountPath: '/data' },
                    { name: 'tmp', mountPath: '/tmp' },
                  ]),
                  ...(capture
                    ? [
                        restricted({ ...capture.container, name: 'fetch-capture', volumeMounts: [] }, [
                          { name: 'capture', mountPath: CAPTURE_MOUNT },
                          { name: 'tmp', mountPath: '/tmp' },
                        ]),
                      ]
                    : []),
                ],
                containers: [
                  container({
                    name: 'drift',
                    image: spec.image,
                    command: ['sh', '-c', driftScript],
                    resources: { requests: { cpu: '1', memory: '2Gi' }, limits: { memory: '4Gi' } },
                    volumeMounts: [
                      { name: 'data', mountPath: '/data', readOnly: true },
                      ...(capture ? [{ name: 'capture', mountPath: CAPTURE_MOUNT, readOnly: true }] : []),
                      { name: 'config', mountPath: '/config', readOnly: true },
                      { name: 'out', mountPath: '/out' },
                      { name: 'tmp', mountPath: '/tmp' },
                    ],
                  }),
                  container({
                    name: 'upload-report',
                    image: spec.uploadReport.image,
                    command: ['sh', '-c', uploadScript],
                    env: envFrom(spec.uploadReport.env),
                    resources: { requests: { cpu: '100m', memory: '256Mi' }, limits: { memory: '512Mi' } },
                    volumeMounts: [
                      { name: 'out', mountPath: '/out', readOnly: true },
                      { name: 'tmp', mountPath: '/tmp' },
                    ],
                  }),
                ],
                volumes: [
                  { name: 'data', emptyDir: {} },
                  ...(capture ? [{ name: 'capture', emptyDir: {} }] : []),
                  { name: 'out', emptyDir: {} },
                  { name: 'tmp', emptyDir: {} },
                  { name: 'config', configMap: { name: `${spec.name}-config` } },
                ],
              },
            },
          },
        },
      },
    }),
  ];
}

/** What the drift alerts need. */
export interface DriftAlertSpec {
  readonly name: string;
  readonly namespace: string;
  /** The job label of the pushed drift metrics (`DriftConfig.job`). */
  readonly job: string;
  /** Seconds between two scheduled runs. */
  readonly intervalSeconds: number;
  /** The schedule, for the description. */
  readonly schedule: string;
  /** The bucket where the reports are, for the description. */
  readonly bucket: string;
  /** The runbook link of an alert. */
  readonly runbook: (alert: string) => string;
}

/**
 * Alerts of a drift job: sustained dataset drift (every run of the last two schedules), a failed run, and no
 * successful run within two schedules.
 */
export function driftAlertRules(spec: DriftAlertSpec): AlertRuleGroup {
  const twice = `${Math.round((2 * spec.intervalSeconds) / 60)}m`;
  return {
    name: `mlstack-drift-${spec.namespace}-${spec.name}`,
    rules: [
      {
        alert: 'DataDriftSustained',
        expr: `min_over_time(mlstack_drift_dataset_drifted{job_name="${spec.job}"}[${twice}]) == 1`,
        for: '0m',
        labels: { severity: 'warning' },
        annotations: {
          summary: `Data drift detected by ${spec.namespace}/${spec.name} in every run of the last two schedules`,
          description: `The share of drifted features has stayed above the threshold for ${twice}; read the latest report under reports/ in bucket ${spec.bucket}.`,
          runbook_url: spec.runbook('DataDriftSustained'),
        },
      },
      {
        alert: 'DriftInsufficientData',
        expr: `min_over_time(mlstack_drift_insufficient_data{job_name="${spec.job}"}[${twice}]) == 1`,
        for: '0m',
        labels: { severity: 'warning' },
        annotations: {
          summary: `Drift job ${spec.namespace}/${spec.name} had too few rows for a verdict in every run of the last two schedules`,
          description: `A window or every feature had fewer values than minSamples for ${twice}: drift is not being judged. Check what writes the windows, or lower minSamples in the config.`,
          runbook_url: spec.runbook('DriftInsufficientData'),
        },
      },
      {
        alert: 'DriftJobFailed',
        expr: `max(kube_job_status_failed{namespace="${spec.namespace}", job_name=~"${spec.name}-[0-9]+"}) > 0`,
        for: '0m',
        labels: { severity: 'warning' },
        annotations: {
          summary: `A run of drift job ${spec.namespace}/${spec.name} failed`,
          description: `Job {{ $labels.job_name }} failed: drift is not being measured.`,
          runbook_url: spec.runbook('DriftJobFailed'),
        },
      },
      {
        alert: 'DriftJobNotSucceeding',
        expr: `time() - max(kube_cronjob_status_last_successful_time{namespace="${spec.namespace}", cronjob="${spec.name}"}) > ${2 * spec.intervalSeconds}`,
        for: '5m',
        labels: { severity: 'critical' },
        annotations: {
          summary: `Drift job ${spec.namespace}/${spec.name} has not succeeded within two schedules`,
          description: `No successful run for more than ${twice} (schedule '${spec.schedule}').`,
          runbook_url: spec.runbook('DriftJobNotSucceeding'),
        },
      },
    ],
  };
}
