export * from './azure-ml-stack';
export type { TerraformBackendFactory } from '../private/terraform';
