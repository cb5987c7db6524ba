import type { TerraformRule } from '../rule';

/** Azure PostgreSQL flexible servers take Entra ID logins, and password logins only with a reason. */
export const azurePostgresAuth: TerraformRule = {
  id: 'MLS-AZ-POSTGRES-AUTH',
  level: 'error',
  target: 'terraform',
  title: 'Azure PostgreSQL flexible servers use Entra ID login',
  description:
    'With password login only, every client holds a long-lived secret and access cannot follow Entra ID (conditional access, group membership, disabling a leaver). Entra ID login gives workloads their managed identity and operators their own account.',
  fix: 'Set authentication.active_directory_auth_enabled = true (with tenant_id) and an Entra administrator, and password_auth_enabled = false once no client needs the password; acknowledge a password that must stay, with the client that needs it.',
  check: ({ json }) =>
    Object.entries(json.resource?.azurerm_postgresql_flexible_server ?? {}).flatMap(([name, r]) => {
      const raw = r.authentication as Record<string, unknown> | Record<string, unknown>[] | undefined;
      const auth = (Array.isArray(raw) ? raw[0] : raw) ?? {};
      // The provider's defaults: password login on, Entra ID login off.
      const problems = [
        ...(auth.active_directory_auth_enabled === true ? [] : ['Entra ID login is off']),
        ...(auth.password_auth_enabled === false ? [] : ['password login is on']),
      ];
      return problems.length
        ? [
            {
              resource: `azurerm_postgresql_flexible_server.${name}`,
              message: `PostgreSQL server ${String(r.name ?? name)}: ${problems.join(', ')}`,
            },
          ]
        : [];
    }),
};
