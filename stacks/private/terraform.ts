import { Annotations, LocalBackend, type TerraformBackend, type TerraformStack } from 'cdktf';
import type { IConstruct } from 'constructs';

/**
 * Creates the Terraform backend of a stack, e.g.
 * `(stack) => new GcsBackend(stack, { bucket: 'my-state', prefix: 'ml-platform' })`.
 */
export type TerraformBackendFactory = (stack: TerraformStack) => TerraformBackend;

/**
 * Configures a stack's backend: the user's, or a local one with a path relative to the stack's folder.
 * cdktf's default local backend writes an absolute path, which would make `cdk.tf.json` differ between
 * machines and checkouts.
 */
export function configureBackend(stack: TerraformStack, id: string, factory?: TerraformBackendFactory): void {
  if (factory) factory(stack);
  else new LocalBackend(stack, { path: `terraform.${id}.tfstate` });
}

/**
 * Records a synth warning on a Terraform stack's construct: as a cdktf annotation (printed by `cdktf synth`)
 * and as `mlstack:warning` metadata (printed by `mlstack synth`).
 */
export function addTerraformWarning(scope: IConstruct, message: string): void {
  Annotations.of(scope).addWarning(message);
  scope.node.addMetadata('mlstack:warning', message);
}
