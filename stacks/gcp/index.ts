export * from './gcp-ml-stack';
export type { TerraformBackendFactory } from '../private/terraform';
