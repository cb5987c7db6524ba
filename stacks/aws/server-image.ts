import * as fs from 'node:fs';
import * as path from 'node:path';
import { Stack, Token } from 'aws-cdk-lib';
import * as ecrAssets from 'aws-cdk-lib/aws-ecr-assets';
import { Construct } from 'constructs';
import type { ServerImageResolution } from '../ml-stack';

const DOCKERFILE = 'docker/mlstack-server.Dockerfile';
const ID = 'MlstackServerImage';

/**
 * The mlstack inference server as a Docker image asset of the stack: built from `docker/mlstack-server.Dockerfile`
 * and pushed to the bootstrap ECR repository by `cdk deploy`. Its URI is concrete at synth only when the stack has
 * an account and a region, which Kubernetes manifests written at synth need. One per stack.
 *
 * @example
 * const asset = MlstackServerImage.of(stack)?.asset; // after a TritonService or DriftPipeline asked for it
 */
export class MlstackServerImage extends Construct {
  /** The stack's server image, if a construct asked for it. */
  public static of(stack: Stack): MlstackServerImage | undefined {
    const found = stack.node.tryFindChild(ID);
    return found instanceof MlstackServerImage ? found : undefined;
  }

  /** The image of `stack`, made on first use, or why there is none. */
  public static resolve(stack: Stack): ServerImageResolution {
    const existing = MlstackServerImage.of(stack);
    if (existing) return { image: existing.imageUri };
    const root = packageRoot();
    if (!root || !fs.existsSync(path.join(root, DOCKERFILE)) || !fs.existsSync(path.join(root, 'src'))) {
      return {
        reason: `here: this copy of mlstack has no ${DOCKERFILE} and sources to build the image from`,
        fix: `Build ${DOCKERFILE} from a checkout of mlstack, push it and pass its reference as 'image'.`,
      };
    }
    if (Token.isUnresolved(stack.account) || Token.isUnresolved(stack.region)) {
      return {
        reason: 'when the stack has no account and region (the image asset URI would not be known at synth)',
        fix: "Set env: { account, region } on the AwsMlStack, or build docker/mlstack-server.Dockerfile, push it and pass 'image'.",
      };
    }
    return { image: new MlstackServerImage(stack, ID, root).imageUri };
  }

  /** The Docker image asset. */
  public readonly asset: ecrAssets.DockerImageAsset;
  /** Its URI in the bootstrap ECR repository. */
  public readonly imageUri: string;

  private constructor(stack: Stack, id: string, root: string) {
    super(stack, id);
    this.asset = new ecrAssets.DockerImageAsset(this, 'Default', {
      directory: root,
      file: DOCKERFILE,
      platform: ecrAssets.Platform.LINUX_AMD64,
      displayName: 'mlstack inference server',
    });
    const uri = stack.resolve(this.asset.imageUri) as unknown;
    if (typeof uri === 'string') {
      this.imageUri = uri;
    } else {
      // The default synthesizer writes the URI with Fn::Sub placeholders; with a concrete env they are known.
      const repo = stack.resolve(this.asset.repository.repositoryName) as unknown;
      if (typeof repo !== 'string') {
        throw new Error(`${stack.node.path}: the image repository name is not known at synth.`);
      }
      const suffix = stack.region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
      this.imageUri = `${stack.account}.dkr.ecr.${stack.region}.${suffix}/${repo}:${this.asset.assetHash}`;
    }
  }
}

/** The folder of the mlstack package (where package.json names it), if this code runs from one. */
function packageRoot(): string | undefined {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'mlstack') return dir;
      } catch {
        // not ours
      }
    }
    const parent = path.dirname(dir);
    if (parent === dir) return undefined;
    dir = parent;
  }
}
