/**
 * Resource types that hold data or take long to rebuild: their deletion or replacement is called out at the top
 * of a diff report, and `--fail-on destroy` blocks their replacement.
 */
export const STATEFUL_TYPES: ReadonlySet<string> = new Set([
  // AWS
  'AWS::RDS::DBInstance',
  'AWS::RDS::DBCluster',
  'AWS::S3::Bucket',
  'AWS::EKS::Cluster',
  'AWS::EKS::Nodegroup',
  'AWS::SecretsManager::Secret',
  'AWS::KMS::Key',
  'AWS::APS::Workspace',
  'AWS::Logs::LogGroup',
  'AWS::DynamoDB::Table',
  'AWS::EFS::FileSystem',
  // Google Cloud
  'google_sql_database_instance',
  'google_sql_database',
  'google_storage_bucket',
  'google_container_cluster',
  'google_container_node_pool',
  'google_secret_manager_secret',
  'google_kms_crypto_key',
  'google_kms_key_ring',
  // Azure
  'azurerm_postgresql_flexible_server',
  'azurerm_postgresql_flexible_server_database',
  'azurerm_storage_account',
  'azurerm_storage_container',
  'azurerm_kubernetes_cluster',
  'azurerm_kubernetes_cluster_node_pool',
  'azurerm_key_vault',
  'azurerm_key_vault_secret',
  'azurerm_monitor_workspace',
  'azurerm_log_analytics_workspace',
  // Kubernetes
  'PersistentVolumeClaim',
  // Karpenter: removing one terminates its nodes.
  'NodePool',
  'EC2NodeClass',
  'StatefulSet',
  'Namespace',
]);

/**
 * Attributes whose change makes Terraform replace the resource (`ForceNew` in the provider schemas), for the
 * resource types mlstack writes; a change under one of these paths (array indices ignored) is a replacement.
 * From the google 6.x and azurerm 4.x provider documentation ("Changing this forces a new resource").
 */
export const REPLACING_ATTRIBUTES: Readonly<Record<string, readonly string[]>> = {
  google_container_cluster: [
    'name',
    'location',
    'network',
    'subnetwork',
    'networking_mode',
    'datapath_provider',
    'ip_allocation_policy',
    'private_cluster_config.enable_private_nodes',
    'private_cluster_config.master_ipv4_cidr_block',
  ],
  google_container_node_pool: [
    'name',
    'cluster',
    'location',
    'node_config.machine_type',
    'node_config.guest_accelerator',
    'node_config.disk_size_gb',
    'node_config.disk_type',
    'node_config.spot',
    'node_config.service_account',
    'node_config.oauth_scopes',
    'node_config.shielded_instance_config',
  ],
  google_compute_network: ['name', 'auto_create_subnetworks'],
  google_compute_subnetwork: ['name', 'network', 'region'],
  google_compute_router: ['name', 'network', 'region'],
  google_compute_global_address: ['name', 'purpose', 'address_type', 'prefix_length', 'network'],
  google_kms_key_ring: ['name', 'location'],
  google_kms_crypto_key: ['name', 'key_ring'],
  google_service_account: ['account_id'],
  google_storage_bucket: ['name', 'location'],
  google_storage_bucket_object: ['name', 'bucket', 'source'],
  google_sql_database_instance: ['name', 'region', 'database_version', 'settings.edition'],
  google_sql_database: ['name', 'instance'],
  google_sql_user: ['name', 'instance'],
  google_secret_manager_secret: ['secret_id', 'replication'],
  google_secret_manager_secret_version: ['secret', 'secret_data'],
  azurerm_resource_group: ['name', 'location'],
  azurerm_virtual_network: ['name', 'location', 'resource_group_name'],
  azurerm_subnet: ['name', 'resource_group_name', 'virtual_network_name'],
  azurerm_kubernetes_cluster: [
    'name',
    'location',
    'resource_group_name',
    'dns_prefix',
    'network_profile.network_plugin',
    'network_profile.network_plugin_mode',
    'network_profile.network_policy',
    'default_node_pool.name',
    'default_node_pool.vnet_subnet_id',
  ],
  azurerm_kubernetes_cluster_node_pool: [
    'name',
    'kubernetes_cluster_id',
    'vm_size',
    'os_sku',
    'os_disk_size_gb',
    'priority',
    'eviction_policy',
    'spot_max_price',
    'zones',
    'gpu_instance',
    'gpu_driver',
    'vnet_subnet_id',
  ],
  azurerm_storage_account: [
    'name',
    'location',
    'resource_group_name',
    'account_kind',
    'infrastructure_encryption_enabled',
  ],
  azurerm_storage_container: ['name', 'storage_account_id'],
  azurerm_storage_blob: ['name', 'storage_account_name', 'storage_container_name', 'type', 'content_md5'],
  azurerm_postgresql_flexible_server: [
    'name',
    'location',
    'resource_group_name',
    'delegated_subnet_id',
    'private_dns_zone_id',
    'administrator_login',
  ],
  azurerm_postgresql_flexible_server_database: ['name', 'server_id', 'charset', 'collation'],
  azurerm_key_vault: ['name', 'location', 'resource_group_name'],
  azurerm_key_vault_secret: ['name', 'key_vault_id'],
  azurerm_user_assigned_identity: ['name', 'location', 'resource_group_name'],
  azurerm_monitor_workspace: ['name', 'location', 'resource_group_name'],
};

/**
 * Kubernetes fields whose change replaces something, by kind: the immutable fields `kubectl apply` rejects (the
 * object must be deleted and created again), and the Karpenter fields whose change drifts every node of the pool
 * (Karpenter launches replacements and drains the old nodes within the disruption budget).
 * @see https://kubernetes.io/docs/reference/kubernetes-api/
 * @see https://karpenter.sh/docs/concepts/disruption/#drift
 */
export const KUBERNETES_REPLACING: Readonly<Record<string, readonly string[]>> = {
  Deployment: ['spec.selector'],
  DaemonSet: ['spec.selector'],
  StatefulSet: ['spec.selector', 'spec.serviceName', 'spec.volumeClaimTemplates'],
  Job: ['spec.selector', 'spec.template'],
  Service: ['spec.clusterIP'],
  PersistentVolumeClaim: ['spec.accessModes', 'spec.storageClassName', 'spec.volumeMode'],
  NodePool: ['spec.template'],
  EC2NodeClass: ['spec'],
};
