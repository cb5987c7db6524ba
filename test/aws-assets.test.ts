// The AWS cloud assembly that `mlstack synth` writes is what `cdk deploy` needs: every asset its asset manifests
// name is on disk, equal to what a plain `cdk synth` stages, and publishes through the library `cdk deploy` uses
// (@aws-cdk/cdk-assets-lib) into an S3 stand-in on 127.0.0.1, arriving with the bytes and files it was staged with.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';
import {
  type IAws,
  type IS3Client,
  AssetManifest,
  AssetPublishing,
  DestinationPattern,
  FileManifestEntry,
} from '@aws-cdk/cdk-assets-lib';
import {
  GetBucketEncryptionCommand,
  GetBucketLocationCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import S3rver from 's3rver';
import * as yauzl from 'yauzl';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { listFiles } from '../src/synth/files';
import { cliEnv, mlstack, repo } from './support/cli';

const run = promisify(execFile);
const example = inject('example');
const assembly = path.join(example.out, 'aws');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-assets-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A file's SHA-256, or a folder's: every file's relative path and SHA-256, sorted. */
function digest(p: string): string {
  const h = createHash('sha256');
  if (fs.statSync(p).isDirectory()) {
    for (const f of listFiles(p)) h.update(`${f}\0`).update(fs.readFileSync(path.join(p, f)));
  } else {
    h.update(fs.readFileSync(p));
  }
  return h.digest('hex');
}

/** The file assets of every asset manifest of an assembly, by asset id. */
function fileAssets(dir: string): Map<string, { path: string; packaging: string; key: string }> {
  const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'manifest.json'), 'utf8')) as {
    artifacts: Record<string, { type: string; properties?: { file?: string } }>;
  };
  const out = new Map<string, { path: string; packaging: string; key: string }>();
  for (const a of Object.values(manifest.artifacts)) {
    if (a.type !== 'cdk:asset-manifest') continue;
    const assets = JSON.parse(fs.readFileSync(path.join(dir, a.properties!.file!), 'utf8')) as {
      files: Record<
        string,
        {
          source: { path: string; packaging?: string };
          destinations: Record<string, { objectKey: string }>;
        }
      >;
    };
    for (const [id, f] of Object.entries(assets.files)) {
      out.set(id, {
        path: f.source.path,
        packaging: f.source.packaging ?? 'file',
        key: Object.values(f.destinations)[0].objectKey,
      });
    }
  }
  return out;
}

/** The entries of a zip archive, by name, with their bytes. */
async function unzip(data: Buffer): Promise<Map<string, Buffer>> {
  return new Promise((resolve, reject) => {
    yauzl.fromBuffer(data, { lazyEntries: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const out = new Map<string, Buffer>();
      zip.on('entry', (entry: yauzl.Entry) => {
        if (entry.fileName.endsWith('/')) return zip.readEntry();
        zip.openReadStream(entry, (e, stream) => {
          if (e || !stream) return reject(e);
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            out.set(entry.fileName, Buffer.concat(chunks));
            zip.readEntry();
          });
        });
      });
      zip.on('end', () => resolve(out));
      zip.on('error', reject);
      zip.readEntry();
    });
  });
}

describe('the AWS cloud assembly of mlstack synth', () => {
  it('has every asset its asset manifests name, none of them empty', () => {
    const assets = fileAssets(assembly);
    // The model repository and its canary, the edge package, the BucketDeployment handler and its awscli layer,
    // and the template.
    expect(assets.size).toBeGreaterThanOrEqual(6);
    for (const [id, a] of assets) {
      const p = path.join(assembly, a.path);
      expect(fs.existsSync(p), `${id}: ${a.path}`).toBe(true);
      if (a.packaging === 'zip') {
        expect(fs.statSync(p).isDirectory(), a.path).toBe(true);
        expect(listFiles(p).length, a.path).toBeGreaterThan(0);
      } else {
        expect(fs.statSync(p).size, a.path).toBeGreaterThan(22);
      }
    }
  });

  it('is the same whatever folder the checkout and the output live in', async () => {
    // A second checkout: the repository's files in another folder, sharing node_modules.
    const checkout = path.join(tmp, 'checkout');
    const { stdout } = await run('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: repo,
      maxBuffer: 64 << 20,
    });
    for (const f of stdout.split('\0').filter(Boolean)) {
      if (!fs.existsSync(path.join(repo, f))) continue;
      fs.mkdirSync(path.dirname(path.join(checkout, f)), { recursive: true });
      fs.copyFileSync(path.join(repo, f), path.join(checkout, f));
    }
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(checkout, 'node_modules'), 'dir');
    const out = path.join(tmp, 'elsewhere', 'out');
    // --check as the shared synth: its validation report is compared too.
    const r = await mlstack(['synth', '--out', out, '--quiet', '--check'], checkout);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const files = listFiles(example.out);
    expect(listFiles(out)).toEqual(files);
    for (const f of files) {
      expect(digest(path.join(out, f)), f).toBe(digest(path.join(example.out, f)));
    }
    // No trace of either machine path in the assembly.
    for (const f of listFiles(assembly).filter((x) => x.endsWith('.json'))) {
      const text = fs.readFileSync(path.join(assembly, f), 'utf8');
      expect(text, f).not.toContain(repo);
      expect(text, f).not.toContain(os.tmpdir());
    }
  });

  it('runs an MlApp program under the CDK CLI: cdk synth finds the assembly, with the other folders beside it', async () => {
    const out = path.join(tmp, 'cdk-mlapp.out');
    const cdk = path.join(repo, 'node_modules', 'aws-cdk', 'bin', 'cdk');
    const tsx = path.join(repo, 'node_modules', '.bin', 'tsx');
    await run(
      process.execPath,
      [cdk, 'synth', '--no-notices', '--quiet', '--app', `${tsx} examples/app.ts`, '-o', out],
      { cwd: repo, env: cliEnv, timeout: 300_000 },
    );
    const manifest = JSON.parse(fs.readFileSync(path.join(out, 'manifest.json'), 'utf8')) as {
      artifacts: Record<string, { type: string }>;
    };
    expect(manifest.artifacts['ml-platform-aws'].type).toBe('aws:cloudformation:stack');
    // The same resources (the CLI adds path metadata and version reporting to the template).
    const resources = (dir: string) =>
      Object.keys(
        (
          JSON.parse(fs.readFileSync(path.join(dir, 'ml-platform-aws.template.json'), 'utf8')) as {
            Resources: Record<string, unknown>;
          }
        ).Resources,
      ).filter((r) => r !== 'CDKMetadata');
    expect(resources(out)).toEqual(resources(path.join(example.out, 'aws')));
    expect(listFiles(path.join(out, 'k8s'))).toEqual(listFiles(path.join(example.out, 'k8s')));
  });

  it('stages the same assets, byte for byte, as a plain `cdk synth` of the AWS example (cdk.json)', async () => {
    const out = path.join(tmp, 'cdk.out');
    const cdk = path.join(repo, 'node_modules', 'aws-cdk', 'bin', 'cdk');
    const synth = await run(process.execPath, [cdk, 'synth', '--no-notices', '--quiet', '-o', out], {
      cwd: repo,
      env: { ...cliEnv, CDK_DEFAULT_REGION: 'us-east-1' },
      timeout: 300_000,
    });
    // A plain CDK app has no MlApp to write the Kubernetes objects: the cluster writes them into the assembly, the
    // same files as mlstack synth, and says that cdk deploy does not apply them.
    const k8s = (root: string) => path.join(root, 'k8s', 'ml-platform-aws', 'ml-platform');
    expect(listFiles(k8s(out)).length).toBeGreaterThan(10);
    expect(listFiles(k8s(out))).toEqual(listFiles(k8s(example.out)));
    for (const f of listFiles(k8s(out))) {
      expect(fs.readFileSync(path.join(k8s(out), f), 'utf8'), f).toBe(
        fs.readFileSync(path.join(k8s(example.out), f), 'utf8'),
      );
    }
    expect(synth.stderr).toMatch(
      /are written to <cloud assembly>\/k8s\/ml-platform-aws\/ml-platform\/.*not applied by cdk deploy/,
    );
    expect(example.stdout).not.toMatch(/not applied by cdk deploy/);
    // The template differs only by what the cdk CLI asks aws-cdk-lib to add (path and asset metadata, version
    // reporting).
    const template = (dir: string) => {
      const t = JSON.parse(fs.readFileSync(path.join(dir, 'ml-platform-aws.template.json'), 'utf8')) as {
        Resources: Record<string, { Type: string; Metadata?: Record<string, unknown> }>;
        Conditions?: Record<string, unknown>;
      };
      delete t.Resources.CDKMetadata;
      delete t.Conditions?.CDKMetadataAvailable;
      if (t.Conditions && Object.keys(t.Conditions).length === 0) delete t.Conditions;
      for (const r of Object.values(t.Resources)) {
        for (const k of Object.keys(r.Metadata ?? {})) {
          if (k === 'aws:cdk:path' || k.startsWith('aws:asset:')) delete r.Metadata![k];
        }
        if (r.Metadata && Object.keys(r.Metadata).length === 0) delete r.Metadata;
      }
      return t;
    };
    expect(template(assembly)).toEqual(template(out));

    // Every other asset is the same asset, byte for byte.
    const isTemplate = (a: { path: string }) => a.path.endsWith('.template.json');
    const ours = new Map([...fileAssets(assembly)].filter(([, a]) => !isTemplate(a)));
    const theirs = new Map([...fileAssets(out)].filter(([, a]) => !isTemplate(a)));
    expect(ours.size).toBeGreaterThanOrEqual(5);
    expect([...ours.keys()].sort()).toEqual([...theirs.keys()].sort());
    for (const [id, a] of ours) {
      expect(digest(path.join(assembly, a.path)), `${id} (${a.path})`).toBe(
        digest(path.join(out, theirs.get(id)!.path)),
      );
    }
  });
});

describe('publishing the assembly as cdk deploy does, into an S3 stand-in on 127.0.0.1', () => {
  const account = '123456789012';
  const region = 'us-east-1';
  const bucket = `cdk-hnb659fds-assets-${account}-${region}`;
  let server: S3rver;
  let s3: S3Client;

  beforeAll(async () => {
    server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: path.join(tmp, 's3'),
      configureBuckets: [{ name: bucket, configs: [] }],
    });
    const { port } = (await server.run()) as { port: number };
    s3 = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      region,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    });
  });
  afterAll(async () => {
    s3?.destroy();
    await server?.close();
  });

  it('uploads every file asset: files as they are, folders as zips of exactly their files', async () => {
    const client: IS3Client = {
      getBucketEncryption: (input) => s3.send(new GetBucketEncryptionCommand(input)),
      getBucketLocation: (input) => s3.send(new GetBucketLocationCommand(input)),
      listObjectsV2: (input) => s3.send(new ListObjectsV2Command(input)),
      upload: (input) => new Upload({ client: s3, params: input }).done(),
    };
    const aws: IAws = {
      discoverPartition: async () => 'aws',
      discoverDefaultRegion: async () => region,
      discoverCurrentAccount: async () => ({ accountId: account, partition: 'aws' }),
      discoverTargetAccount: async () => ({ accountId: account, partition: 'aws' }),
      s3Client: async () => client,
      ecrClient: async () => {
        throw new Error('the example has no container image assets');
      },
      secretsManagerClient: async () => {
        throw new Error('not used by file assets');
      },
    };
    // cdk-assets caches the zips it makes next to the manifest: publish from a copy of the shared output.
    const copy = path.join(tmp, 'publish');
    fs.cpSync(assembly, copy, { recursive: true });
    const manifests = fs
      .readdirSync(copy)
      .filter((f) => f.endsWith('.assets.json'))
      .map((f) => AssetManifest.fromFile(path.join(copy, f)));
    const events: string[] = [];
    for (const m of manifests) {
      const files = m.select(
        m.entries
          .filter((e) => e instanceof FileManifestEntry)
          .map((e) => new DestinationPattern(e.id.assetId, e.id.destinationId)),
      );
      const publishing = new AssetPublishing(files, {
        aws,
        throwOnError: true,
        progressListener: { onPublishEvent: (type, e) => events.push(`${type}: ${e.message}`) },
      });
      await publishing.publish();
      expect(publishing.failures).toEqual([]);
    }

    const assets = fileAssets(assembly);
    for (const [id, a] of assets) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: a.key }));
      const body = Buffer.from(await object.Body!.transformToByteArray());
      const source = path.join(assembly, a.path);
      if (a.packaging === 'zip') {
        const entries = await unzip(body);
        const expected = listFiles(source);
        expect([...entries.keys()].sort(), id).toEqual(expected);
        for (const f of expected) {
          expect(entries.get(f)!.equals(fs.readFileSync(path.join(source, f))), `${id}: ${f}`).toBe(true);
        }
      } else {
        expect(body.equals(fs.readFileSync(source)), id).toBe(true);
      }
    }
    expect(events.filter((e) => e.startsWith('upload')).length).toBe(assets.size);
  });
});
