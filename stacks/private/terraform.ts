import { LocalBackend, type TerraformBackend, type TerraformStack } from 'cdktf';

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
