// The cloud-neutral API: constructs, catalogs, Kubernetes helpers. Cloud stacks are in 'mlstack/aws',
// 'mlstack/gcp' and 'mlstack/azure', so that an AWS-only user never loads cdktf and the reverse.
export { MlStackValidationError } from './src/spec/errors';
export * from './src/spec/gpu';
export * from './src/spec/cluster';
export * from './src/k8s/manifest';
export * from './stacks/ml-stack';
export * from './constructs/gpu-cluster';
export * from './stacks/app';
export * from './src/inference/datatypes';
export * from './src/inference/inspect';
export * from './src/inference/triton-config';
export * from './src/serving/model-repository';
export * from './constructs/triton-service';
export { SYNTH_OUTPUT, SYNTH_FOLDERS, type SynthFolder, type SynthOutputFolder } from './src/synth/output';
export type { SynthResult, SynthWarning } from './src/synth/registry';
export type { GatewayRef } from './src/serving/manifests';
export * from './constructs/dcgm-monitoring';
export * from './src/monitoring/alerts';
export {
  AlertDestination,
  SecretReference,
  type AlertDestinationSpec,
  type AlertRoute,
} from './src/monitoring/destinations';
export type {
  GrafanaDashboard,
  DashboardPanel,
  DashboardTarget,
  DashboardDatasource,
  DashboardVariable,
} from './src/monitoring/dashboards';
export { DCGM_COUNTERS, DCGM_EXPORTER_IMAGE, type DcgmCounter } from './src/monitoring/dcgm';
export * from './constructs/mlflow-tracking';
export * from './constructs/drift-pipeline';
export {
  DEFAULT_THRESHOLDS,
  type DriftConfig,
  type DriftSchema,
  type FeatureThresholds,
} from './src/drift/analyze';
export * from './constructs/edge-fleet';
