/** Logs the Azure CLI in with the federated token that Azure workload identity mounts into the pod. */
export const AZ_LOGIN =
  'az login --service-principal --username "$AZURE_CLIENT_ID" --tenant "$AZURE_TENANT_ID"' +
  ' --federated-token "$(cat "$AZURE_FEDERATED_TOKEN_FILE")" --allow-no-subscriptions --output none';
