import * as fs from 'node:fs';
import * as path from 'node:path';
import { Duration, RemovalPolicy, Size, Stack, Token } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { Construct } from 'constructs';
import type {
  CopyOptions,
  ObjectStoreCapability,
  ObjectStoreSpec,
  StoreCopyContainer,
} from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { expiryRuleName, physicalName, visiblePath } from '../private/naming';
import { forEachRecentDay, STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';
import { acknowledgeBucketDeploymentFindings } from './private/nag';
import { logAccessTo } from './private/access-logs';
import { addWarning } from './private/warnings';

/**
 * An S3 bucket: versioned, SSE-S3 encrypted, public access blocked, TLS only, objects owned by the bucket owner,
 * old versions expired after 30 days. With `retain` it is kept when the stack is deleted; without, it is emptied
 * and deleted with the stack (its contents are what the deploy uploads). `contents` are uploaded by a
 * `BucketDeployment` per folder at `cdk deploy`, pruned per prefix.
 *
 * The bucket is this construct's default child; the uploads are created next to it as `<id>Upload`,
 * `<id>Upload1`, … (the construct ids of mlstack 0.1, kept so that logical ids do not change).
 *
 * @example
 * // The model bucket of a TritonService, as its aws-cdk-lib type:
 * const bucket = S3ObjectStore.of(service.modelStore).bucket;
 * bucket.addLifecycleRule({ abortIncompleteMultipartUploadAfter: Duration.days(1) });
 */
export class S3ObjectStore extends Construct implements ObjectStoreCapability {
  /**
   * The S3ObjectStore behind an object store capability (e.g. `TritonService.modelStore`).
   * @throws when it was made by another cloud's stack
   */
  public static of(store: ObjectStoreCapability): S3ObjectStore {
    return capabilityOf(store, S3ObjectStore, 'an S3ObjectStore (an object store made by an AwsMlStack)');
  }

  /** The bucket name, concrete at synth. */
  public readonly name: string;
  /** The bucket. */
  public readonly bucket: s3.Bucket;
  /** The deploy-time uploads of `contents`, one per folder. */
  public readonly uploads: readonly s3deploy.BucketDeployment[];
  /** Triton's S3 client is not documented to read EKS Pod Identity credentials: a copy container fills a folder. */
  public readonly tritonReadsUri = false;
  private readonly region?: string;

  constructor(scope: Construct, id: string, spec: ObjectStoreSpec) {
    super(scope, id);
    const stack = Stack.of(this);
    const accountKnown = !Token.isUnresolved(stack.account);
    const name =
      spec.name ??
      physicalName({
        readable: `${stack.stackName}-${scope.node.id}-${id}`,
        identity: [accountKnown ? stack.account : '', stack.stackName, visiblePath(scope), id],
        maxLength: 63,
      });
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(name) || name.includes('..')) {
      throw new Error(
        `${scope.node.path}: bucket name '${name}' is not a valid S3 bucket name. Use 3-63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit.`,
      );
    }
    if (!spec.name && !accountKnown) {
      addWarning(
        scope,
        `The S3 bucket for the ${spec.purpose} is named '${name}', derived from the stack name and construct path because the stack has no account. S3 names are global: another account deploying the same program gets the same name and its deploy fails. Set env.account on the stack (the name then includes it) or choose a name.`,
      );
    }
    this.name = name;
    this.region = Token.isUnresolved(stack.region) ? undefined : stack.region;
    this.bucket = new s3.Bucket(this, 'Default', {
      bucketName: name,
      versioned: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      lifecycleRules: [
        {
          id: 'expire-old-versions',
          noncurrentVersionExpiration: Duration.days(spec.lifecycle?.noncurrentVersionDays ?? 30),
        },
        ...(spec.lifecycle?.infrequentAccessAfterDays
          ? [
              {
                id: 'infrequent-access',
                transitions: [
                  {
                    storageClass: s3.StorageClass.INFREQUENT_ACCESS,
                    transitionAfter: Duration.days(spec.lifecycle.infrequentAccessAfterDays),
                  },
                ],
              },
            ]
          : []),
      ],
      // A retained bucket outlives the stack; any other holds only what the deploy uploads, and goes with it
      // (emptied first: CloudFormation cannot delete a bucket with objects or old versions).
      removalPolicy: spec.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      autoDeleteObjects: !spec.retain,
    });
    logAccessTo(this.bucket, `${name}/`);
    this.uploads = spec.contents.map((c, i) => {
      // The upload function unpacks the zipped folder in its /tmp: size it for the zip and its content.
      const bytes = c.files.reduce((n, f) => n + fs.statSync(path.join(c.dir, f)).size, 0);
      const tmpMiB = Math.max(512, Math.ceil((2.2 * bytes) / 2 ** 20) + 256);
      if (tmpMiB > 10240) {
        throw new Error(
          `${scope.node.path}: the ${spec.purpose} is ${(bytes / 2 ** 30).toFixed(1)} GiB, more than the deploy-time upload (a Lambda function with at most 10 GiB of /tmp) can copy. Upload it yourself (aws s3 sync) and serve from that bucket.`,
        );
      }
      const upload = new s3deploy.BucketDeployment(scope, `${id}Upload${i === 0 ? '' : i}`, {
        sources: [s3deploy.Source.asset(c.dir)],
        destinationBucket: this.bucket,
        destinationKeyPrefix: `${c.prefix}/`,
        prune: true,
        retainOnDelete: true,
        memoryLimit: 1024,
        ephemeralStorageSize: Size.mebibytes(tmpMiB),
      });
      acknowledgeBucketDeploymentFindings(stack, upload, this.bucket);
      return upload;
    });
  }

  /** @inheritdoc */
  public uri(prefix: string): string {
    return `s3://${this.name}/${prefix}`;
  }

  /** @inheritdoc */
  public pythonUri(prefix: string): string {
    return `s3://${this.name}/${prefix}`;
  }

  /** @inheritdoc */
  public expireObjects(prefix: string, days: number): void {
    this.bucket.addLifecycleRule({
      id: expiryRuleName(prefix),
      prefix: `${prefix}/`,
      expiration: Duration.days(days),
    });
  }

  /** @inheritdoc */
  public uploadStep(localDir: string, prefix: string) {
    return {
      image: STORE_COPY_IMAGES.aws,
      env: this.cliEnv(),
      script: [`aws s3 cp --recursive --only-show-errors ${localDir} "s3://${this.name}/${prefix}"`],
    };
  }

  /** @inheritdoc */
  public copyContainer(prefix: string, target: string, options: CopyOptions = {}): StoreCopyContainer {
    const sync = ['aws', 's3', 'sync', '--no-progress', '--only-show-errors'];
    return {
      container: storeCopyContainer({
        image: STORE_COPY_IMAGES.aws,
        // A date folder that does not exist (no requests that day) syncs nothing.
        command:
          options.recentHours === undefined
            ? [...sync, `s3://${this.name}/${prefix}`, target]
            : [
                'sh',
                '-ec',
                forEachRecentDay(options.recentHours, [
                  `${sync.join(' ')} "s3://${this.name}/${prefix}/$day" "${target}/$day"`,
                ]).join('\n'),
              ],
        env: this.cliEnv(),
      }),
      localPath: target,
    };
  }

  private cliEnv(): Record<string, string> {
    return { HOME: '/tmp', ...(this.region ? { AWS_REGION: this.region } : {}) };
  }
}
