import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { IConstruct } from 'constructs';

/** The construct id of a stack's access-log bucket. */
const ID = 'MlstackAccessLogs';

/** How long server access logs are kept. */
export const ACCESS_LOG_DAYS = 365;

/**
 * The stack's S3 server access log bucket, made on first use: every bucket mlstack creates logs its requests
 * there (who read or wrote which object, from where), under a prefix of its own. Retained with the stack's
 * deletion, as audit evidence; logs expire after {@link ACCESS_LOG_DAYS} days.
 */
function accessLogsBucket(scope: IConstruct): s3.Bucket {
  const stack = Stack.of(scope);
  const existing = stack.node.tryFindChild(ID);
  if (existing) return existing as s3.Bucket;
  const bucket = new s3.Bucket(stack, ID, {
    // S3 delivers server access logs only to SSE-S3 buckets (not SSE-KMS).
    encryption: s3.BucketEncryption.S3_MANAGED,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    enforceSSL: true,
    objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    lifecycleRules: [{ id: 'expire-access-logs', expiration: Duration.days(ACCESS_LOG_DAYS) }],
    removalPolicy: RemovalPolicy.RETAIN,
  });
  Validations.of(bucket).acknowledge({
    id: 'AwsSolutions::AwsSolutions-S1',
    reason:
      "This is the stack's server access log bucket: S3 writes the other buckets' access logs here, and logging it into itself would log its own log deliveries without end.",
  });
  return bucket;
}

/**
 * Turns on S3 server access logging of `bucket` into the stack's log bucket under `prefix`. Delivery is granted by
 * a bucket policy for S3's logging service limited to this bucket and account (as AWS recommends, and as
 * aws-cdk-lib does with its `serverAccessLogsUseBucketPolicy` flag), not by the log-delivery ACL, which buckets
 * that enforce bucket-owner object ownership refuse.
 */
export function logAccessTo(bucket: s3.Bucket, prefix: string): void {
  const logs = accessLogsBucket(bucket);
  const stack = Stack.of(bucket);
  (bucket.node.defaultChild as s3.CfnBucket).loggingConfiguration = {
    destinationBucketName: logs.bucketName,
    logFilePrefix: prefix,
  };
  logs.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal('logging.s3.amazonaws.com')],
      actions: ['s3:PutObject'],
      resources: [logs.arnForObjects(`${prefix}*`)],
      conditions: {
        ArnLike: { 'aws:SourceArn': bucket.bucketArn },
        StringEquals: { 'aws:SourceAccount': stack.account },
      },
    }),
  );
}
