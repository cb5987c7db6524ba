// Every resource a construct makes is reachable as its real framework type through the cloud's capability class
// (`EksCluster.of(cluster).eksCluster`, `S3ObjectStore.of(service.modelStore).bucket`, …), and a change made
// through it is in the synthesized output: a user never forks mlstack to change one attribute.
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as eks from 'aws-cdk-lib/aws-eks-v2';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as rds from 'aws-cdk-lib/aws-rds';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { ContainerCluster } from '@cdktf/provider-google/lib/container-cluster';
import { ContainerNodePool } from '@cdktf/provider-google/lib/container-node-pool';
import { ServiceAccount } from '@cdktf/provider-google/lib/service-account';
import { SqlDatabaseInstance } from '@cdktf/provider-google/lib/sql-database-instance';
import { StorageBucket } from '@cdktf/provider-google/lib/storage-bucket';
import { KubernetesCluster } from '@cdktf/provider-azurerm/lib/kubernetes-cluster';
import { KubernetesClusterNodePool } from '@cdktf/provider-azurerm/lib/kubernetes-cluster-node-pool';
import { PostgresqlFlexibleServer } from '@cdktf/provider-azurerm/lib/postgresql-flexible-server';
import { StorageAccount } from '@cdktf/provider-azurerm/lib/storage-account';
import { UserAssignedIdentity } from '@cdktf/provider-azurerm/lib/user-assigned-identity';
import { Validations } from 'aws-cdk-lib';
import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, it } from 'vitest';
import { DcgmMonitoring } from '../constructs/dcgm-monitoring';
import { EdgeDevices, EdgeFleet, EdgeTarget } from '../constructs/edge-fleet';
import { MlflowTracking } from '../constructs/mlflow-tracking';
import { ServingModel } from '../src/serving/model-repository';
import {
  AmpPrometheus,
  EksCluster,
  GreengrassFleet,
  PodIdentity,
  RdsPostgres,
  S3ObjectStore,
  SecretsManagerSecret,
} from '../stacks/aws';
import {
  AksCluster,
  AzureKeyVaultSecret,
  AzureMonitorPrometheus,
  AzureWorkloadIdentity,
  BlobObjectStore,
  FlexiblePostgres,
  IotHubFleet,
} from '../stacks/azure';
import {
  CloudSqlPostgres,
  ConfigSyncFleet,
  GcsObjectStore,
  GkeCluster,
  GkeWorkloadIdentity,
  GmpPrometheus,
} from '../stacks/gcp';
import type { IMlStack } from '../stacks/ml-stack';
import { classifierService, fixtureModel, servingCluster } from './support/serving';
import { awsStack, awsTemplate, azureStack, gcpStack, onlyResource, terraformJson } from './support/synth';

/** A small platform: a cluster, a service, MLflow, GPU monitoring and an edge fleet. */
function platform(stack: IMlStack) {
  const cluster = servingCluster(stack);
  const service = classifierService(stack, {}, cluster);
  const mlflow = new MlflowTracking(stack, 'Mlflow', { cluster });
  const monitoring = new DcgmMonitoring(stack, 'Monitoring', { cluster });
  const fleet = new EdgeFleet(stack, 'Kiosks', {
    model: ServingModel.fromOnnxFile(fixtureModel('mlp'), { name: 'classifier' }),
    devices: EdgeDevices.group('kiosks', { size: 10 }),
    target: EdgeTarget.LINUX_X86_64,
    rollout: { canaryPercent: 10, batchPercent: 50, maxFailurePercent: 5 },
    version: '1.0.0',
    ...(stack.cloud === 'aws' ? {} : { image: 'registry.example.com/kiosks:1.0.0' }),
  });
  return { cluster, service, mlflow, monitoring, fleet };
}

describe('typed escape hatches on AWS', () => {
  it('reach the EKS cluster, node groups, bucket, role, database, secret, workspace and Greengrass deployment', () => {
    const stack = awsStack({ env: { region: 'us-east-1' } });
    const { cluster, service, mlflow, monitoring, fleet } = platform(stack);
    const eksCluster = EksCluster.of(cluster);
    expect(eksCluster).toBe(cluster.node.defaultChild);
    expect(eksCluster.eksCluster).toBeInstanceOf(eks.Cluster);
    expect(eksCluster.vpc).toBeInstanceOf(ec2.Vpc);
    expect(eksCluster.nodegroup('system').nodegroup).toBeInstanceOf(eks.Nodegroup);
    // A pool at zero has no node group: Karpenter launches its nodes.
    expect(() => eksCluster.nodegroup('inference')).toThrow(/pool 'inference' has minNodes 0.*Karpenter/);
    const karpenter = eksCluster.karpenter!;
    expect(karpenter.pools).toEqual(['system', 'inference']);
    expect(karpenter.controllerRole).toBeInstanceOf(iam.Role);
    expect(karpenter.interruptionQueue).toBeInstanceOf(sqs.Queue);
    expect(S3ObjectStore.of(service.modelStore).bucket).toBeInstanceOf(s3.Bucket);
    expect(PodIdentity.of(service.identity).role).toBeInstanceOf(iam.Role);
    expect(RdsPostgres.of(mlflow.database).instance).toBeInstanceOf(rds.DatabaseInstance);
    expect(SecretsManagerSecret.of(mlflow.database.connectionSecret).name).toMatch(/Mlflow\/Database$/);
    expect(AmpPrometheus.of(monitoring.managed!).workspace.cfnResourceType).toBe('AWS::APS::Workspace');
    expect(GreengrassFleet.of(fleet).deployment.cfnResourceType).toBe('AWS::GreengrassV2::Deployment');

    // A change through a hatch is in the template.
    S3ObjectStore.of(service.modelStore).bucket.addLifecycleRule({
      id: 'by-the-user',
      prefix: 'tmp/',
      expiredObjectDeleteMarker: true,
    });
    const role = PodIdentity.of(service.identity).role;
    role.addToPrincipalPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetObject'], resources: ['arn:aws:s3:::my-features/*'] }),
    );
    // cdk-nag reviews what users add too; the acknowledgement carries its reason, as mlstack's own do.
    Validations.of(role).acknowledge({
      id: 'AwsSolutions::AwsSolutions-IAM5[Resource::arn:aws:s3:::my-features/*]',
      reason: 'Read-only on the feature store the classifier reads at request time.',
    });
    const template = awsTemplate(stack as never);
    template.hasResourceProperties('AWS::S3::Bucket', {
      LifecycleConfiguration: {
        Rules: Match.arrayWith([Match.objectLike({ Id: 'by-the-user', Prefix: 'tmp/' })]),
      },
    });
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({ Resource: 'arn:aws:s3:::my-features/*' })]),
      },
    });
  });

  it("fails with a clear message on another cloud's construct", () => {
    const { cluster, service } = platform(gcpStack());
    expect(() => EksCluster.of(cluster)).toThrow(
      /'test\/Gpus' is not a GpuCluster of an AwsMlStack \(EKS\)\. Typed escape hatches work on what a stack of their cloud made/,
    );
    expect(() => S3ObjectStore.of(service.modelStore)).toThrow(/is not an S3ObjectStore/);
  });
});

describe('typed escape hatches on Google Cloud', () => {
  it('reach the GKE cluster, node pools, bucket, service account, Cloud SQL, GMP and the fleet repository', () => {
    const stack = gcpStack();
    const { cluster, service, mlflow, monitoring, fleet } = platform(stack);
    const gke = GkeCluster.of(cluster);
    expect(gke.cluster).toBeInstanceOf(ContainerCluster);
    expect(gke.nodePool('inference').nodePool).toBeInstanceOf(ContainerNodePool);
    expect(GcsObjectStore.of(service.modelStore).bucket).toBeInstanceOf(StorageBucket);
    expect(GkeWorkloadIdentity.of(service.identity).serviceAccount).toBeInstanceOf(ServiceAccount);
    expect(CloudSqlPostgres.of(mlflow.database).instance).toBeInstanceOf(SqlDatabaseInstance);
    expect(GmpPrometheus.of(monitoring.managed!).description).toContain('Managed Service for Prometheus');
    expect(ConfigSyncFleet.of(fleet).repository.repositoryIdInput).toBe('kiosks-edge');

    GcsObjectStore.of(service.modelStore).bucket.putSoftDeletePolicy({ retentionDurationSeconds: 604800 });
    gke.cluster.putMaintenancePolicy({ dailyMaintenanceWindow: { startTime: '03:00' } });
    const { json } = terraformJson(stack);
    const bucket = Object.values(json.resource.google_storage_bucket).find((b) =>
      String(b.name).includes('classifier'),
    )!;
    expect(bucket.soft_delete_policy).toEqual({ retention_duration_seconds: 604800 });
    expect(onlyResource(json, 'google_container_cluster').maintenance_policy).toEqual({
      daily_maintenance_window: { start_time: '03:00' },
    });
  });
});

describe('typed escape hatches on Azure', () => {
  it('reach the AKS cluster, node pools, storage account, identity, flexible server, Key Vault, workspace and IoT Hub', () => {
    const stack = azureStack();
    const { cluster, service, mlflow, monitoring, fleet } = platform(stack);
    const aks = AksCluster.of(cluster);
    expect(aks.cluster).toBeInstanceOf(KubernetesCluster);
    expect(aks.nodePool('inference').nodePool).toBeInstanceOf(KubernetesClusterNodePool);
    expect(BlobObjectStore.of(service.modelStore).account).toBeInstanceOf(StorageAccount);
    expect(AzureWorkloadIdentity.of(service.identity).identity).toBeInstanceOf(UserAssignedIdentity);
    expect(FlexiblePostgres.of(mlflow.database).server).toBeInstanceOf(PostgresqlFlexibleServer);
    expect(AzureKeyVaultSecret.of(mlflow.database.connectionSecret).vaultName).toMatch(/^kv/);
    expect(AzureMonitorPrometheus.of(monitoring.managed!).workspace.nameInput).toBe('ml-prometheus');
    expect(IotHubFleet.of(fleet).hub.nameInput).toMatch(/^kiosks-hub-/);

    aks.cluster.putMaintenanceWindowAutoUpgrade({
      frequency: 'Weekly',
      interval: 1,
      duration: 4,
      dayOfWeek: 'Sunday',
    });
    const { json } = terraformJson(stack);
    expect(onlyResource(json, 'azurerm_kubernetes_cluster').maintenance_window_auto_upgrade).toEqual({
      frequency: 'Weekly',
      interval: 1,
      duration: 4,
      day_of_week: 'Sunday',
    });
  });
});
