// The model repository that synth writes is the one that gets served: `mlstack serve` of the synth output's
// folder answers like onnxruntime-node itself, and the files the Terraform objects upload are the same bytes.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { GpuCluster } from '../constructs/gpu-cluster';
import { ServingRuntime, TritonService } from '../constructs/triton-service';
import { ServingModel } from '../src/serving/model-repository';
import { GpuType } from '../src/spec/gpu';
import { MlApp } from '../stacks/app';
import { GcpMlStack } from '../stacks/gcp';
import type { TerraformJson } from './support/synth';
import { inferJson, plainValues, randomTensor } from './support/kserve-client';
import { startServe } from './support/serve-process';
import { fixtureModel } from './support/serving';

const out = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-serving-synth-'));
afterAll(() => fs.rmSync(out, { recursive: true, force: true }));

describe('TritonService: the synthesized model repository is servable', () => {
  const app = new MlApp({ outdir: out });
  const stack = new GcpMlStack(app.gcp, 'serving', { project: 'acme-ml-test', region: 'us-central1' });
  const cluster = new GpuCluster(stack, 'Gpus', {
    clusterName: 'ml',
    gpuPools: [{ name: 'l4', gpu: { type: GpuType.NVIDIA_L4 } }],
  });
  new TritonService(stack, 'Scoring', {
    cluster,
    runtime: ServingRuntime.ONNXRUNTIME,
    image: 'us-docker.pkg.dev/acme/ml/mlstack-server:0.1.0',
    models: [
      ServingModel.fromOnnxFile(fixtureModel('mlp'), { name: 'classifier', maxBatchSize: 16 }),
      ServingModel.fromOnnxFile(fixtureModel('two_inputs'), { name: 'pair', version: 3 }),
    ],
    canary: {
      model: ServingModel.fromOnnxFile(fixtureModel('cnn'), { name: 'pair', version: 4 }),
      weightPercent: 50,
    },
  });
  const result = app.synth();
  const repo = path.join(out, 'models', 'serving', 'scoring');
  const canaryRepo = path.join(out, 'models', 'serving', 'scoring-canary');

  it('writes the stable and canary repositories under models/<stack>/<service>', () => {
    const ours = result.files.filter((f) => f.startsWith('models/')).sort();
    expect(ours).toEqual([
      'models/serving/scoring-canary/classifier/1/model.onnx',
      'models/serving/scoring-canary/classifier/config.pbtxt',
      'models/serving/scoring-canary/pair/4/model.onnx',
      'models/serving/scoring-canary/pair/config.pbtxt',
      'models/serving/scoring/classifier/1/model.onnx',
      'models/serving/scoring/classifier/config.pbtxt',
      'models/serving/scoring/pair/3/model.onnx',
      'models/serving/scoring/pair/config.pbtxt',
    ]);
    expect(fs.readFileSync(path.join(repo, 'classifier', 'config.pbtxt'), 'utf8')).toContain(
      'max_batch_size: 16',
    );
  });

  it('uploads exactly those bytes: every Terraform object is a file of the written repository', () => {
    const stackDir = path.join(out, 'gcp', 'stacks', 'serving');
    const tf = JSON.parse(fs.readFileSync(path.join(stackDir, 'cdk.tf.json'), 'utf8')) as TerraformJson;
    const objects = Object.values(tf.resource.google_storage_bucket_object);
    expect(objects).toHaveLength(8);
    for (const o of objects) {
      const [prefix, ...rest] = String(o.name).split('/');
      const written = path.join(prefix === 'stable' ? repo : canaryRepo, ...rest);
      expect(fs.readFileSync(path.join(stackDir, String(o.source)))).toEqual(fs.readFileSync(written));
    }
  });

  it('is served by `mlstack serve <that folder>` with answers equal to onnxruntime-node', async () => {
    const srv = await startServe([repo]);
    try {
      const x = randomTensor([3, 16], 11);
      const session = await ort.InferenceSession.create(fixtureModel('mlp'));
      const want = await session.run({ x });
      await session.release();
      const r = await inferJson(srv.url, 'classifier', { x });
      expect(r.status).toBe(200);
      expect(r.outputs.y.data).toEqual(plainValues(want.y));
      const p = await inferJson(srv.url, 'pair', {
        a: randomTensor([1, 4], 5),
        b: new ort.Tensor('int64', BigInt64Array.from([7n, 8n, 9n, 10n]), [1, 4]),
      });
      expect(p.status).toBe(200);
      expect(p.body.model_version).toBe('3');
      expect(p.outputs.b_plus_one.data).toEqual([8, 9, 10, 11]);
    } finally {
      srv.proc.kill('SIGTERM');
      expect(await srv.exited).toBe(0);
    }
  });

  it('serves the canary repository with the canary model in place of the stable one', async () => {
    const srv = await startServe([canaryRepo]);
    try {
      const session = await ort.InferenceSession.create(fixtureModel('cnn'));
      const input = session.inputNames[0];
      const meta = session.inputMetadata[0] as { shape?: (number | string)[] };
      const dims = (meta.shape ?? []).map((d) => (typeof d === 'number' && d > 0 ? d : 1));
      const x = randomTensor(dims, 23);
      const want = await session.run({ [input]: x });
      const output = session.outputNames[0];
      await session.release();
      const r = await inferJson(srv.url, 'pair', { [input]: x });
      expect(r.status).toBe(200);
      expect(r.body.model_version).toBe('4');
      expect(r.outputs[output].data).toEqual(plainValues(want[output]));
    } finally {
      srv.proc.kill('SIGTERM');
      expect(await srv.exited).toBe(0);
    }
  });
});
