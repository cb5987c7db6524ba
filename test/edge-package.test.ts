// The device package: written, archived, unpacked into a temp folder and started exactly as a device's run step
// would (`sh run.sh` with MLSTACK_HOME), answering an inference on 127.0.0.1 like onnxruntime-node itself.
import { type ChildProcess, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { EdgeDevices, EdgeFleet } from '../constructs/edge-fleet';
import { checkEdgeModel, EdgeTarget, unpackEdgePackage, writeEdgePackage } from '../src/edge/package';
import { MlApp } from '../stacks/app';
import { GcpMlStack } from '../stacks/gcp';
import { ServingModel } from '../src/serving/model-repository';
import { inferJson, plainValues, randomTensor } from './support/kserve-client';
import { mlstack, repo } from './support/cli';
import { buildModel, IDENTITY_TYPES } from './support/onnx-builder';
import { fixtureModel } from './support/serving';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-edge-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Device {
  url: string;
  proc: ChildProcess;
  exited: Promise<number | null>;
  stderr: () => string;
}

function runScript(dir: string): Promise<Device> {
  const proc = spawn('sh', [path.join(dir, 'run.sh')], {
    env: { ...process.env, MLSTACK_HOME: repo, MLSTACK_PORT: '0', MLSTACK_GRPC_PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  let err = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`run.sh did not start the server in 60 s: ${err}`));
    }, 60_000);
    proc.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], proc, exited, stderr: () => err });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`run.sh exited with ${code}: ${err}`));
    });
  });
}

describe('edge device package', () => {
  const model = ServingModel.fromOnnxFile(fixtureModel('mlp'), { name: 'gesture', maxBatchSize: 8 });

  it('is deterministic: the same content gives the same archive bytes', async () => {
    const a = writeEdgePackage(path.join(tmp, 'a', 'package'), {
      fleet: 'kiosks',
      version: '1.0.0',
      model,
      target: EdgeTarget.LINUX_X86_64,
    });
    const b = writeEdgePackage(path.join(tmp, 'b', 'package'), {
      fleet: 'kiosks',
      version: '1.0.0',
      model,
      target: EdgeTarget.LINUX_X86_64,
    });
    expect(a.sha256).toBe(b.sha256);
    expect(a.files).toEqual([
      'manifest.json',
      'models/gesture/1/model.onnx',
      'models/gesture/config.pbtxt',
      'run.sh',
    ]);
    const manifest = JSON.parse(fs.readFileSync(path.join(a.dir, 'manifest.json'), 'utf8'));
    expect(manifest).toMatchObject({
      fleet: 'kiosks',
      version: '1.0.0',
      target: 'linux-x86_64',
      executionProviders: ['cpu'],
    });
    expect(Object.keys(manifest.files)).toEqual([
      'models/gesture/1/model.onnx',
      'models/gesture/config.pbtxt',
      'run.sh',
    ]);
  });

  it('is what synth writes; unpacked and started as the device runs it, it answers like onnxruntime-node', async () => {
    const out = path.join(tmp, 'synth');
    const app = new MlApp({ outdir: out });
    const stack = new GcpMlStack(app.gcp, 'edge', { project: 'acme-ml-test', region: 'us-central1' });
    new EdgeFleet(stack, 'Kiosks', {
      model,
      devices: EdgeDevices.group('retail-kiosks'),
      target: EdgeTarget.LINUX_X86_64,
      image: 'registry.example.com/kiosks:1.0.0',
    });
    const files = app.synth().files.filter((f) => f.startsWith('edge/'));
    expect(files).toEqual(
      expect.arrayContaining([
        'edge/edge/kiosks/Dockerfile',
        'edge/edge/kiosks/package.tgz',
        'edge/edge/kiosks/package/run.sh',
        'edge/edge/kiosks/bundle/deployment-kiosks.json',
      ]),
    );
    const device = path.join(tmp, 'device');
    unpackEdgePackage(path.join(out, 'edge', 'edge', 'kiosks', 'package.tgz'), device);
    expect(fs.statSync(path.join(device, 'run.sh')).mode & 0o111).not.toBe(0);
    const srv = await runScript(device);
    try {
      const x = randomTensor([2, 16], 5);
      const session = await ort.InferenceSession.create(fixtureModel('mlp'));
      const want = await session.run({ x });
      await session.release();
      const r = await inferJson(srv.url, 'gesture', { x });
      expect(r.status).toBe(200);
      expect(r.outputs.y.data).toEqual(plainValues(want.y));
    } finally {
      srv.proc.kill('SIGTERM');
      expect(await srv.exited).toBe(0);
    }
  });

  it("runs a Jetson package on a machine without its GPU providers, falling back in the target's order", async () => {
    const pkg = writeEdgePackage(path.join(tmp, 'jetson', 'package'), {
      fleet: 'kiosks',
      version: '1.0.0',
      model,
      target: EdgeTarget.JETSON_ORIN,
    });
    expect(fs.readFileSync(path.join(pkg.dir, 'run.sh'), 'utf8')).toContain(
      '--execution-providers tensorrt,cuda,cpu',
    );
    const device = path.join(tmp, 'jetson-device');
    unpackEdgePackage(pkg.archive, device);
    const srv = await runScript(device);
    try {
      // This machine has no CUDA or TensorRT libraries: the server says so and serves on the CPU.
      expect(srv.stderr()).toMatch(/execution provider tensorrt is unavailable here; trying cuda, cpu/);
      expect(srv.stderr()).toMatch(/execution provider cuda is unavailable here; trying cpu/);
      const r = await inferJson(srv.url, 'gesture', { x: randomTensor([1, 16], 9) });
      expect(r.status).toBe(200);
    } finally {
      srv.proc.kill('SIGTERM');
      expect(await srv.exited).toBe(0);
    }
    const bad = await mlstack(['serve', device, '--execution-providers', 'gpu']);
    expect(bad.code).toBe(2);
    expect(bad.stderr.trim()).toBe("mlstack: --execution-providers: 'gpu' is not tensorrt, cuda or cpu.");
  });

  it('refuses an FP16-only model on a CPU target and a model over the target size budget', () => {
    const fp16File = path.join(tmp, 'fp16.onnx');
    fs.writeFileSync(
      fp16File,
      buildModel({
        name: 'half',
        inputs: [{ name: 'x', type: IDENTITY_TYPES.FP16, shape: ['batch', 4] }],
        outputs: [{ name: 'y', type: IDENTITY_TYPES.FP16, shape: ['batch', 4] }],
        nodes: [{ op: 'Identity', inputs: ['x'], outputs: ['y'] }],
      }),
    );
    const half = ServingModel.fromOnnxFile(fp16File, { name: 'half' });
    expect(checkEdgeModel(half, EdgeTarget.RASPBERRY_PI)).toEqual([
      expect.stringMatching(
        /^model 'half' computes in FP16 only, which target raspberry-pi .* use EdgeTarget.JETSON_ORIN$/,
      ),
    ]);
    expect(checkEdgeModel(half, EdgeTarget.JETSON_ORIN)).toEqual([]);

    const bigFile = path.join(tmp, 'big.onnx');
    fs.copyFileSync(fixtureModel('mlp'), bigFile);
    const big = ServingModel.fromOnnxFile(bigFile, { name: 'big' });
    fs.truncateSync(bigFile, 300 * 2 ** 20); // sparse: the size is what the check reads
    expect(checkEdgeModel(big, EdgeTarget.RASPBERRY_PI)).toEqual([
      "model 'big' version 1 is 300.0 MiB, over the 256 MiB budget of target raspberry-pi: quantize or prune it, or pick a larger target",
    ]);
    expect(checkEdgeModel(big, EdgeTarget.LINUX_X86_64)).toEqual([]);
  });
});
