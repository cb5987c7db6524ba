import type { TerraformRule } from '../rule';

/** IoT Hub: no hub-wide SAS keys without a reason, and shared access policies that cannot act as devices. */
export const azureIotHubAuth: TerraformRule = {
  id: 'MLS-AZ-IOTHUB-AUTH',
  level: 'error',
  target: 'terraform',
  title: 'IoT Hub service access uses Entra ID, and SAS policies are least privilege',
  description:
    'A hub-wide shared access key is a long-lived secret that works from anywhere; with local authentication disabled, service APIs take only Entra ID (device keys still work). A policy that combines service or registry rights with DeviceConnect lets one leaked key both manage the registry and impersonate every device.',
  fix: 'Set local_authentication_enabled = false where every service client has Entra ID (acknowledge it with the client that needs a key), and grant each shared access policy only the rights its user needs — DeviceConnect never with registry or service rights.',
  check: ({ json }) => [
    ...Object.entries(json.resource?.azurerm_iothub ?? {}).flatMap(([name, r]) =>
      r.local_authentication_enabled === false
        ? []
        : [
            {
              resource: `azurerm_iothub.${name}`,
              message: `IoT Hub ${String(r.name ?? name)} accepts hub-wide shared access keys (local authentication on)`,
            },
          ],
    ),
    ...Object.entries(json.resource?.azurerm_iothub_shared_access_policy ?? {}).flatMap(([name, r]) =>
      r.device_connect === true && (r.registry_write === true || r.service_connect === true)
        ? [
            {
              resource: `azurerm_iothub_shared_access_policy.${name}`,
              message: `shared access policy ${String(r.name ?? name)} grants DeviceConnect together with ${[
                r.registry_write === true ? 'RegistryWrite' : '',
                r.service_connect === true ? 'ServiceConnect' : '',
              ]
                .filter(Boolean)
                .join(' and ')}`,
            },
          ]
        : [],
    ),
  ],
};
