import { StorageBucket, type StorageBucketLifecycleRule } from '@cdktf/provider-google/lib/storage-bucket';
import { StorageBucketObject } from '@cdktf/provider-google/lib/storage-bucket-object';
import { Construct } from 'constructs';
import type {
  CopyOptions,
  ObjectStoreCapability,
  ObjectStoreSpec,
  StoreCopyContainer,
} from '../capabilities';
import { capabilityOf } from '../private/capability-of';
import { physicalName, visiblePath } from '../private/naming';
import { forEachRecentDay, STORE_COPY_IMAGES, storeCopyContainer } from '../private/store-copy';
import { uploadDirectory } from '../private/terraform';

/** Props of {@link GcsObjectStore}. */
export interface GcsObjectStoreProps extends ObjectStoreSpec {
  /** The project (bucket names start with it). */
  readonly project: string;
  /** The region (the bucket's location). */
  readonly region: string;
  /** The stack name, part of the derived bucket name's identity. */
  readonly stackName: string;
  /** Labels of the bucket. */
  readonly labels: Readonly<Record<string, string>>;
}

/**
 * A regional GCS bucket: uniform bucket-level access, public access prevention enforced, versioned (old versions
 * deleted after 30 days), encrypted at rest by Google (always on). With `retain` it has Terraform
 * `prevent_destroy` and keeps its objects on destroy; without, `terraform destroy` deletes it with its objects
 * (they are what the apply uploads). `contents` become `google_storage_bucket_object`s whose sources are Terraform
 * assets next to `cdk.tf.json`.
 *
 * The bucket is this construct's default child; the assets and objects are created next to it
 * (`<id>-Asset<n>`, `<id>-Object-<hash>`: the construct ids of mlstack 0.1, kept so that Terraform addresses do not
 * change).
 *
 * @example
 * GcsObjectStore.of(service.modelStore).bucket.putSoftDeletePolicy({ retentionDurationSeconds: 7 * 86400 });
 */
export class GcsObjectStore extends Construct implements ObjectStoreCapability {
  /**
   * The GcsObjectStore behind an object store capability (e.g. `TritonService.modelStore`).
   * @throws when another cloud's stack made it
   */
  public static of(store: ObjectStoreCapability): GcsObjectStore {
    return capabilityOf(store, GcsObjectStore, 'a GcsObjectStore (an object store made by a GcpMlStack)');
  }

  /** The bucket name, concrete at synth. */
  public readonly name: string;
  /** The bucket. */
  public readonly bucket: StorageBucket;
  /** The uploaded objects. */
  public readonly objects: StorageBucketObject[] = [];
  /** Triton reads `gs://` itself with the GKE metadata server's credentials. */
  public readonly tritonReadsUri = true;
  /** The bucket's lifecycle rules (expireObjects adds to them). */
  private readonly rules: StorageBucketLifecycleRule[] = [];

  constructor(scope: Construct, id: string, props: GcsObjectStoreProps) {
    super(scope, id);
    const name =
      props.name ??
      physicalName({
        prefix: props.project,
        readable: `${scope.node.id}${id}`,
        identity: [props.project, props.stackName, visiblePath(scope), id],
        maxLength: 63,
      });
    if (!/^[a-z0-9][a-z0-9_.-]{1,61}[a-z0-9]$/.test(name) || name.startsWith('goog')) {
      throw new Error(
        `${scope.node.path}: bucket name '${name}' is not a valid Cloud Storage bucket name. Use 3-63 lowercase letters, digits, '-', '_' and '.', not starting with 'goog'.`,
      );
    }
    this.name = name;
    this.rules.push(
      {
        condition: { daysSinceNoncurrentTime: props.lifecycle?.noncurrentVersionDays ?? 30 },
        action: { type: 'Delete' },
      },
      ...(props.lifecycle?.infrequentAccessAfterDays
        ? [
            {
              condition: { age: props.lifecycle.infrequentAccessAfterDays },
              action: { type: 'SetStorageClass', storageClass: 'NEARLINE' },
            },
          ]
        : []),
    );
    this.bucket = new StorageBucket(this, 'Default', {
      name,
      location: props.region.toUpperCase(),
      uniformBucketLevelAccess: true,
      publicAccessPrevention: 'enforced',
      versioning: { enabled: true },
      lifecycleRule: this.rules,
      // A retained bucket outlives the stack; any other holds only what the apply uploads, and goes with it.
      forceDestroy: !props.retain,
      ...(props.retain ? { lifecycle: { preventDestroy: true } } : {}),
      labels: { ...props.labels, purpose: 'mlstack-models' },
    });
    uploadDirectory(scope, id, props.contents, (objectId, key, source) => {
      this.objects.push(
        new StorageBucketObject(scope, objectId, { bucket: this.bucket.name, name: key, source }),
      );
    });
  }

  /** @inheritdoc */
  public uri(prefix: string): string {
    return `gs://${this.name}/${prefix}`;
  }

  /** @inheritdoc */
  public pythonUri(prefix: string): string {
    return `gs://${this.name}/${prefix}`;
  }

  /** @inheritdoc */
  public expireObjects(prefix: string, days: number): void {
    this.rules.push({ condition: { age: days, matchesPrefix: [`${prefix}/`] }, action: { type: 'Delete' } });
    this.bucket.putLifecycleRule(this.rules);
  }

  /** @inheritdoc */
  public uploadStep(localDir: string, prefix: string) {
    return {
      image: STORE_COPY_IMAGES.gcp,
      env: { HOME: '/tmp', CLOUDSDK_CONFIG: '/tmp/gcloud' },
      script: [`gcloud storage cp --recursive ${localDir}/* "gs://${this.name}/${prefix}/"`],
    };
  }

  /** @inheritdoc */
  public copyContainer(prefix: string, target: string, options: CopyOptions = {}): StoreCopyContainer {
    const base = `gs://${this.name}/${prefix}`;
    return {
      container: storeCopyContainer({
        image: STORE_COPY_IMAGES.gcp,
        command:
          options.recentHours === undefined
            ? ['gcloud', 'storage', 'rsync', '--recursive', base, target]
            : [
                'sh',
                '-ec',
                [
                  // gcloud fails on a source that matches nothing, so list the date folders first (an empty
                  // prefix lists nothing; its message stays in the log) and copy those of the last hours.
                  `days=$(gcloud storage ls "${base}/") || days=""`,
                  ...forEachRecentDay(options.recentHours, [
                    'case "$days" in',
                    `  *"/$day/"*) mkdir -p "${target}/$day" && gcloud storage rsync --recursive "${base}/$day" "${target}/$day" ;;`,
                    'esac',
                  ]),
                ].join('\n'),
              ],
        env: { HOME: '/tmp', CLOUDSDK_CONFIG: '/tmp/gcloud' },
      }),
      localPath: target,
    };
  }
}
