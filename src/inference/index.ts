// 'mlstack/inference': the KServe v2 server and model repository loading (loads prom-client; the package root
// keeps to what synth needs: inspectModel and the Triton config).
export * from './datatypes';
export * from './inspect';
export * from './triton-config';
export {
  InferenceServer,
  type ServerOptions,
  type ModelMetadata,
  type PreparedRequest,
  type RepositoryIndexEntry,
} from './server';
export { type ModelSession } from './compute-pool';
export {
  loadRepository,
  loadRepositoryState,
  findModels,
  servedVersions,
  RepositoryError,
  type LoadOptions,
  type ServedModel,
  type ModelVersion,
  type RepositoryState,
  type UnavailableModel,
} from './repository';
export { InferenceError } from './tensors';
export { InferenceMetrics } from './metrics';
