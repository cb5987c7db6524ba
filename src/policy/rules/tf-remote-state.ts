import type { TerraformRule } from '../rule';

/** Terraform state is kept remotely, not in a local file. */
export const remoteState: TerraformRule = {
  id: 'MLS-TF-REMOTE-STATE',
  level: 'warning',
  target: 'terraform',
  title: 'Terraform state is remote and encrypted',
  description:
    'State holds every attribute Terraform knows, secrets included (generated database passwords, connection strings). A local state file sits unencrypted on one workstation, and two people applying at once corrupt it.',
  fix: 'Configure a remote backend on the stack (GCS or azurerm, which encrypt at rest and lock), or acknowledge local state for a throwaway environment.',
  check: ({ json }) => {
    const backend = json.terraform?.backend as Record<string, unknown> | undefined;
    const kinds = Object.keys(backend ?? {});
    if (kinds.length === 0 || kinds.includes('local')) {
      return [
        { message: `state is ${kinds.length ? 'in a local backend' : 'local (no backend configured)'}` },
      ];
    }
    return [];
  },
};
