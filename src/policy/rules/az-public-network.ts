import type { TerraformRule } from '../rule';

const TYPES = ['azurerm_storage_account', 'azurerm_key_vault'];

/** Azure storage accounts and key vaults are not open to every network. */
export const azurePublicNetwork: TerraformRule = {
  id: 'MLS-AZ-PUBLIC-NETWORK',
  level: 'error',
  target: 'terraform',
  title: 'Azure storage accounts and key vaults are closed to public networks',
  description:
    'Both accept requests from any address by default; credentials are then the only barrier. Disable public network access (private endpoints), or deny by default in the firewall and allow the subnets and addresses that need them.',
  fix: 'Set public_network_access_enabled = false with private endpoints, or network_rules / network_acls with default_action = "Deny".',
  check: ({ json }) =>
    TYPES.flatMap((type) =>
      Object.entries(json.resource?.[type] ?? {}).flatMap(([name, r]) => {
        if (r.public_network_access_enabled === false) return [];
        const rules = (r.network_rules ?? r.network_acls) as
          { default_action?: string } | { default_action?: string }[] | undefined;
        const first = Array.isArray(rules) ? rules[0] : rules;
        if (first?.default_action === 'Deny') return [];
        return [
          {
            resource: `${type}.${name}`,
            message: `${type} ${String(r.name ?? name)} accepts requests from public networks`,
          },
        ];
      }),
    ),
};
