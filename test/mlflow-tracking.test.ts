import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Match } from 'aws-cdk-lib/assertions';
import type { IDeployment } from 'kubernetes-models/apps/v1/Deployment';
import type { IIngress } from 'kubernetes-models/networking.k8s.io/v1/Ingress';
import { afterAll, describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { MlflowAuth, MlflowTracking, type MlflowTrackingProps } from '../constructs/mlflow-tracking';
import { MLFLOW_IMAGE } from '../src/mlflow/manifests';
import { GpuType } from '../src/spec/gpu';
import { MlApp } from '../stacks/app';
import { listFiles } from '../src/synth/files';
import { AwsMlStack } from '../stacks/aws';
import { AzureMlStack } from '../stacks/azure';
import { GcpMlStack } from '../stacks/gcp';
import type { IMlStack } from '../stacks/ml-stack';
import { STORE_COPY_IMAGES } from '../stacks/private/store-copy';
import {
  awsStack,
  awsTemplate,
  azureStack,
  gcpStack,
  onlyResource,
  terraformJson,
  resourcesOf,
} from './support/synth';
import { expectSchemaValid, objectOf, podSpecOf, servingCluster } from './support/serving';

function mlflow(stack: IMlStack, props: Partial<MlflowTrackingProps> = {}): MlflowTracking {
  return new MlflowTracking(stack, 'Mlflow', {
    cluster: servingCluster(stack),
    production: true,
    clientNamespaces: ['training'],
    ...props,
  });
}
const awsWithRegion = () => awsStack({ env: { region: 'eu-west-1' } });

describe('MlflowTracking on AWS (RDS, S3, Secrets Manager)', () => {
  const stack = awsWithRegion();
  const m = mlflow(stack);
  const template = awsTemplate(stack);

  it('keeps runs in an encrypted, Multi-AZ, backed-up, deletion-protected, private RDS PostgreSQL that requires TLS', () => {
    template.hasResource('AWS::RDS::DBInstance', {
      Properties: {
        Engine: 'postgres',
        DBInstanceClass: 'db.m7g.large',
        StorageEncrypted: true,
        MultiAZ: true,
        BackupRetentionPeriod: 14,
        DeletionProtection: true,
        PubliclyAccessible: false,
        DBName: 'mlflow',
        MasterUserPassword: {
          'Fn::Join': ['', Match.arrayWith([Match.stringLikeRegexp('resolve:secretsmanager')])],
        },
      },
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
    });
    template.hasResourceProperties('AWS::RDS::DBParameterGroup', { Parameters: { 'rds.force_ssl': '1' } });
    template.hasResourceProperties('AWS::EC2::SecurityGroup', {
      GroupDescription: Match.stringLikeRegexp('from the cluster nodes only'),
      SecurityGroupIngress: [
        {
          IpProtocol: 'tcp',
          FromPort: 5432,
          ToPort: 5432,
          SourceSecurityGroupId: {
            'Fn::GetAtt': [Match.stringLikeRegexp('^Gpus'), 'ClusterSecurityGroupId'],
          },
          Description: 'PostgreSQL from the EKS cluster',
        },
      ],
    });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      Name: 'test/Mlflow/Database',
      GenerateSecretString: Match.objectLike({
        GenerateStringKey: 'password',
        SecretStringTemplate: '{"username":"mlflow"}',
      }),
    });
  });

  it('keeps artifacts in a retained, versioned bucket, and gives the server read-write on it and read on the secret only', () => {
    template.hasResource('AWS::S3::Bucket', {
      Properties: {
        BucketName: m.artifactStore.name,
        LifecycleConfiguration: {
          Rules: [Match.objectLike({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } })],
        },
      },
      DeletionPolicy: 'Retain',
    });
    const roleId = Object.keys(
      template.findResources('AWS::IAM::Role', {
        Properties: { Description: 'EKS Pod Identity of mlflow/mlflow' },
      }),
    )[0];
    const statements = Object.values(
      template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } }),
    )[0].Properties.PolicyDocument.Statement as { Action: string | string[] }[];
    expect(statements.map((s) => s.Action)).toEqual([
      ['s3:ListBucket', 's3:GetBucketLocation'],
      ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
    ]);
    template.hasResourceProperties('AWS::EKS::PodIdentityAssociation', {
      Namespace: 'mlflow',
      ServiceAccount: 'mlflow',
    });
  });

  it('runs MLflow with the credentials fetched at start into memory, never in the manifest', () => {
    const pod = podSpecOf(m.manifests, 'mlflow');
    const [fetch, install] = pod.initContainers!;
    expect(fetch.image).toBe(STORE_COPY_IMAGES.aws);
    expect(fetch.command![2]).toBe(
      "aws secretsmanager get-secret-value --secret-id 'test/Mlflow/Database' --query SecretString --output text > /secrets/db.json",
    );
    expect(fetch.env).toContainEqual({ name: 'AWS_REGION', value: 'eu-west-1' });
    expect(install.command).toEqual(expect.arrayContaining(['psycopg2-binary==2.9.10', 'boto3==1.35.90']));
    const c = pod.containers[0];
    expect(c.image).toBe(MLFLOW_IMAGE);
    expect(c.command![2]).toContain(
      `--artifacts-destination s3://${m.artifactStore.name}/artifacts --serve-artifacts`,
    );
    expect(c.command![2]).toContain('export MLFLOW_BACKEND_STORE_URI=');
    expect(pod.volumes).toContainEqual({ name: 'secrets', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } });
    expect(c.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
    expect(objectOf<IDeployment>(m.manifests, 'Deployment').spec!.replicas).toBe(2);
    expectSchemaValid(m.manifests);
  });

  it('outputs the tracking URI', () => {
    expect(m.trackingUri).toBe('http://mlflow.mlflow.svc.cluster.local:5000');
    template.hasOutput('*', { Value: 'http://mlflow.mlflow.svc.cluster.local:5000' });
  });

  it('needs the stack region for the credentials fetch', () => {
    expect(() => mlflow(awsStack())).toThrow(/needs the stack's region.*Set env: \{ region: 'us-east-1' \}/);
  });

  it('matches the snapshot', () => {
    const resources = template.toJSON().Resources as Record<string, { Type: string }>;
    expect({
      resources: Object.fromEntries(Object.entries(resources).filter(([id]) => id.startsWith('Mlflow'))),
      manifests: m.manifests,
    }).toMatchSnapshot();
  });
});

describe('MlflowTracking on Google Cloud (Cloud SQL, GCS, Secret Manager)', () => {
  const stack = gcpStack();
  const m = mlflow(stack);
  const { json } = terraformJson(stack);

  it('keeps runs in Cloud SQL with a private IP only, TLS, point-in-time backups, regional HA and deletion protection', () => {
    const sql = onlyResource(json, 'google_sql_database_instance');
    expect(sql).toMatchObject({
      database_version: 'POSTGRES_16',
      deletion_protection: true,
      lifecycle: { prevent_destroy: true },
      settings: {
        tier: 'db-custom-2-7680',
        availability_type: 'REGIONAL',
        deletion_protection_enabled: true,
        backup_configuration: {
          enabled: true,
          point_in_time_recovery_enabled: true,
          backup_retention_settings: { retained_backups: 14 },
        },
        ip_configuration: { ipv4_enabled: false, ssl_mode: 'ENCRYPTED_ONLY' },
      },
    });
    expect(onlyResource(json, 'google_service_networking_connection')).toMatchObject({
      service: 'servicenetworking.googleapis.com',
    });
    expect(onlyResource(json, 'random_password')).toEqual({ length: 32, special: false });
    expect(onlyResource(json, 'google_sql_user').password).toMatch(/^\$\{random_password\.[\w-]+\.result\}$/);
  });

  it('keeps the connection in Secret Manager and lets only the MLflow identity read it', () => {
    expect(String(onlyResource(json, 'google_secret_manager_secret_version').secret_data)).toMatch(
      /^\$\{jsonencode\(\{"host" = google_sql_database_instance\.\w+\.private_ip_address, "port" = 5432, "username" = "mlflow", "password" = random_password\.[\w-]+\.result, "dbname" = "mlflow"\}\)\}$/,
    );
    expect(onlyResource(json, 'google_secret_manager_secret_iam_member')).toMatchObject({
      role: 'roles/secretmanager.secretAccessor',
      member: expect.stringMatching(/google_service_account\.Mlflow_Identity_\w+\.member/),
    });
    const bucketRoles = Object.values(json.resource.google_storage_bucket_iam_member).map((r) => r.role);
    expect(bucketRoles.sort()).toEqual(['roles/storage.legacyBucketReader', 'roles/storage.objectUser']);
    expect(onlyResource(json, 'google_storage_bucket')).toMatchObject({
      lifecycle: { prevent_destroy: true },
    });
    const fetch = podSpecOf(m.manifests, 'mlflow').initContainers![0];
    expect(fetch.command).toEqual([
      'gcloud',
      'secrets',
      'versions',
      'access',
      'latest',
      `--secret=${m.database.connectionSecret.name}`,
      '--project=acme-ml-test',
      '--out-file=/secrets/db.json',
    ]);
    expectSchemaValid(m.manifests);
  });

  it('puts Identity-Aware Proxy in front of a GKE ingress when asked', () => {
    const s = gcpStack();
    const withIap = mlflow(s, {
      ingress: {
        host: 'mlflow.example.com',
        tlsSecretName: 'mlflow-tls',
        auth: MlflowAuth.identityAwareProxy('iap-oauth'),
      },
    });
    const ingress = objectOf<IIngress>(withIap.manifests, 'Ingress');
    expect(ingress.spec!.ingressClassName).toBe('gce');
    expect(withIap.manifests.find((x) => x.kind === 'BackendConfig')).toMatchObject({
      spec: { iap: { enabled: true, oauthclientCredentials: { secretName: 'iap-oauth' } } },
    });
    expect(withIap.externalUri).toBe('https://mlflow.example.com');
  });

  it('matches the snapshot', () => {
    const ours = resourcesOf(json, 'Mlflow');
    expect({ resources: ours, manifests: m.manifests }).toMatchSnapshot();
  });
});

describe('MlflowTracking on Azure (PostgreSQL flexible server, Blob storage, Key Vault)', () => {
  const stack = azureStack();
  const m = mlflow(stack, {
    ingress: {
      host: 'mlflow.example.com',
      tlsSecretName: 'mlflow-tls',
      auth: MlflowAuth.basic('mlflow-users'),
    },
  });
  const { json } = terraformJson(stack);

  it('keeps runs in a zone-redundant flexible server inside the VNet, locked against deletion', () => {
    expect(onlyResource(json, 'azurerm_postgresql_flexible_server')).toMatchObject({
      version: '16',
      sku_name: 'GP_Standard_D2ds_v5',
      backup_retention_days: 14,
      geo_redundant_backup_enabled: true,
      high_availability: { mode: 'ZoneRedundant' },
      public_network_access_enabled: false,
      administrator_password: expect.stringMatching(/^\$\{random_password\.[\w-]+\.result\}$/),
      lifecycle: { prevent_destroy: true },
    });
    const subnets = Object.values(json.resource.azurerm_subnet);
    expect(subnets.find((s) => s.name === 'database-db')).toMatchObject({
      address_prefixes: ['10.1.16.0/24'],
      delegation: [{ service_delegation: { name: 'Microsoft.DBforPostgreSQL/flexibleServers' } }],
    });
    expect(onlyResource(json, 'azurerm_management_lock')).toMatchObject({ lock_level: 'CanNotDelete' });
  });

  it("takes Entra ID logins, with MLflow's managed identity as the Entra administrator", () => {
    expect(onlyResource(json, 'azurerm_postgresql_flexible_server')).toMatchObject({
      authentication: {
        active_directory_auth_enabled: true,
        password_auth_enabled: true,
        tenant_id: expect.stringMatching(/^\$\{data\.azurerm_client_config\.[\w-]+\.tenant_id\}$/),
      },
    });
    const admin = onlyResource(json, 'azurerm_postgresql_flexible_server_active_directory_administrator');
    const uami = Object.keys(json.resource.azurerm_user_assigned_identity).find((k) => k.includes('Mlflow'));
    expect(admin).toMatchObject({
      principal_type: 'ServicePrincipal',
      object_id: `\${azurerm_user_assigned_identity.${uami}.principal_id}`,
      principal_name: `\${azurerm_user_assigned_identity.${uami}.name}`,
    });
  });

  it('keeps the connection in a Key Vault with RBAC and purge protection, readable by the MLflow identity only', () => {
    expect(onlyResource(json, 'azurerm_key_vault')).toMatchObject({
      rbac_authorization_enabled: true,
      purge_protection_enabled: true,
    });
    const roles = Object.values(json.resource.azurerm_role_assignment).map((r) => r.role_definition_name);
    expect(roles.sort()).toEqual([
      'Key Vault Secrets Officer',
      'Key Vault Secrets User',
      'Storage Blob Data Contributor',
    ]);
    const script = podSpecOf(m.manifests, 'mlflow').initContainers![0].command![2];
    const vault = String(onlyResource(json, 'azurerm_key_vault').name);
    expect(vault).toMatch(/^kv[a-z0-9]{8,22}$/);
    expect(script).toContain(`az keyvault secret show --vault-name ${vault} --name database-connection`);
  });

  it('exposes the UI over TLS behind basic auth, through the ingress controller only', () => {
    const ingress = objectOf<IIngress>(m.manifests, 'Ingress');
    expect(ingress.metadata!.annotations).toMatchObject({
      'nginx.ingress.kubernetes.io/auth-type': 'basic',
      'nginx.ingress.kubernetes.io/auth-secret': 'mlflow-users',
    });
    expect(ingress.spec!.tls).toEqual([{ hosts: ['mlflow.example.com'], secretName: 'mlflow-tls' }]);
    const policy = m.manifests.find(
      (x) => x.kind === 'NetworkPolicy' && !x.metadata.name.startsWith('default-'),
    ) as unknown as {
      spec: { ingress: { from: { namespaceSelector: { matchLabels: Record<string, string> } }[] }[] };
    };
    expect(
      policy.spec.ingress[0].from.map((f) => f.namespaceSelector.matchLabels['kubernetes.io/metadata.name']),
    ).toEqual(['mlflow', 'training', 'ingress-nginx']);
    expectSchemaValid(m.manifests);
  });

  it('matches the snapshot', () => {
    const ours = resourcesOf(json, 'Mlflow');
    expect({ resources: ours, manifests: m.manifests }).toMatchSnapshot();
  });
});

describe('MlflowTracking: no secret in plain text anywhere in the synth output', () => {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-mlflow-'));
  afterAll(() => fs.rmSync(out, { recursive: true, force: true }));
  const app = new MlApp({ outdir: out });
  const clusterOf = (stack: IMlStack) =>
    new GpuCluster(stack, 'Gpus', {
      gpuPools: [
        { name: 'l4', gpu: { type: stack.cloud === 'azure' ? GpuType.NVIDIA_T4 : GpuType.NVIDIA_L4 } },
      ],
    });
  for (const stack of [
    new AwsMlStack(app.aws, 'scan-aws', { env: { region: 'us-east-1' } }),
    new GcpMlStack(app.gcp, 'scan-gcp', { project: 'acme-ml-test', region: 'us-central1' }),
    new AzureMlStack(app.azure, 'scan-azure', {
      subscriptionId: '00000000-0000-0000-0000-000000000000',
      location: 'westeurope',
    }),
  ]) {
    new MlflowTracking(stack, 'Mlflow', { cluster: clusterOf(stack), production: true });
  }
  app.synth();
  const texts = listFiles(out)
    .filter((f) => /\.(json|yaml|tf\.json)$/.test(f))
    .map((f) => ({ f, text: fs.readFileSync(path.join(out, f), 'utf8') }));

  it('assigns every password field a reference, never a literal', () => {
    expect(texts.length).toBeGreaterThan(10);
    for (const { f, text } of texts) {
      // JSON (templates, Terraform): a password-named key with a string that is not a Terraform reference.
      expect(text, f).not.toMatch(/"[a-z_]*password"\s*:\s*"(?!\$\{)[^"]*"/i);
      // YAML (manifests): no password-named key or env var at all.
      expect(text, f).not.toMatch(/^\s*-?\s*(name:\s*)?[A-Za-z_]*PASSWORD[A-Za-z_]*\s*[:=]/im);
    }
    const template = texts.find((t) => t.f === 'aws/scan-aws.template.json')!.text;
    expect(template).toMatch(/"MasterUserPassword":\s*\{/);
  });

  it('contains no string that looks like a generated password (20-40 mixed-case alphanumerics)', () => {
    const looksGenerated = /"([A-Za-z0-9]{20,40})"/g;
    for (const { f, text } of texts) {
      for (const [, s] of text.matchAll(looksGenerated)) {
        const mixed = /[a-z]/.test(s) && /[A-Z]/.test(s) && /[0-9]/.test(s);
        // CDK logical ids end in an 8-digit uppercase hex hash, and IAM statement ids are CamelCase words
        // (AllowScopedEC2InstanceAccessActions); anything else mixed is suspect.
        const identifier = /[0-9A-F]{8}$/.test(s) || /^(?:[A-Z][a-z]{2,}|[A-Z0-9]{1,4})+$/.test(s);
        expect(mixed && !identifier, `${f}: ${s}`).toBe(false);
      }
    }
  });
});

describe('MlflowTracking validation', () => {
  const attempt = (stack: () => IMlStack, props: Partial<MlflowTrackingProps>) => () =>
    mlflow(stack(), props);
  it('names the prop, the value and the fix, with the allowed values for instance types', () => {
    expect(attempt(gcpStack, { database: { instanceType: 'db-n1-standard-2' } })).toThrow(
      /MlflowTracking 'test\/Mlflow': 'database.instanceType' \("db-n1-standard-2"\) is not an instance type mlstack supports on gcp\. Use one of db-custom-1-3840, db-custom-2-7680/,
    );
    expect(
      attempt(azureStack, { database: { instanceType: 'B_Standard_B2s', highAvailability: true } }),
    ).toThrow(/'database.highAvailability' \(true\) is not available on Azure's Burstable tier/);
    expect(attempt(azureStack, { database: { backupRetentionDays: 3 } })).toThrow(
      /'database.backupRetentionDays' \(3\) must be an integer between 7 and 35/,
    );
  });

  it('refuses a public database, no backups and unencrypted artifacts without the named escape hatch', () => {
    expect(attempt(gcpStack, { database: { publiclyAccessible: true } })).toThrow(
      /'database.publiclyAccessible' \(true\) would expose the tracking database to the internet.*unsafe: \{ allowPublicDatabase: true \}/,
    );
    expect(() =>
      mlflow(gcpStack(), { database: { publiclyAccessible: true }, unsafe: { allowPublicDatabase: true } }),
    ).not.toThrow();
    expect(attempt(gcpStack, { database: { backupRetentionDays: 0 } })).toThrow(
      /'database.backupRetentionDays' \(0\) turns automated backups of the tracking database off.*allowNoBackups/,
    );
    expect(() =>
      mlflow(gcpStack(), { database: { backupRetentionDays: 0 }, unsafe: { allowNoBackups: true } }),
    ).not.toThrow();
    expect(
      attempt(azureStack, { database: { backupRetentionDays: 0 }, unsafe: { allowNoBackups: true } }),
    ).toThrow(/not possible on Azure, which always keeps 7 to 35 days/);
    expect(attempt(gcpStack, { artifacts: { encrypted: false } })).toThrow(
      /'artifacts.encrypted' \(false\) cannot be honoured: S3, Cloud Storage and Blob storage always encrypt at rest/,
    );
  });

  it('requires authentication on an ingress and the right cloud for identity-aware proxy', () => {
    const ingress = { host: 'mlflow.example.com', tlsSecretName: 'tls' };
    expect(attempt(gcpStack, { ingress: { ...ingress, auth: undefined as unknown as MlflowAuth } })).toThrow(
      /'ingress.auth' \(undefined\) is not an MlflowAuth.*without authentication would publish every run/,
    );
    expect(
      attempt(azureStack, { ingress: { ...ingress, auth: MlflowAuth.identityAwareProxy('oauth') } }),
    ).toThrow(
      /'ingress.auth' \("identityAwareProxy"\) is Google Cloud's; there is no equivalent mlstack configures on azure/,
    );
    expect(
      attempt(gcpStack, { ingress: { ...ingress, host: 'not a host', auth: MlflowAuth.basic('u') } }),
    ).toThrow(/'ingress.host' \("not a host"\) is not a DNS host name/);
  });
});
