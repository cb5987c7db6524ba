// Models run on compute threads: onnxruntime's session.run blocks the thread it runs on, so on the event loop's
// thread a long inference holds every other request, health probes included. These tests check the order in which
// answers arrive, not their timing, with margins that hold on a busy machine.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectModel } from '../../src/inference/inspect';
import { InferenceServer } from '../../src/inference/server';
import { tritonConfig } from '../../src/inference/triton-config';
import { inferBinary, json, randomTensor, request } from '../support/kserve-client';
import { slowModel } from '../support/onnx-builder';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-compute-'));
const slowFile = path.join(tmp, 'slow.onnx');
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
beforeAll(() => fs.writeFileSync(slowFile, slowModel(40)));

/**
 * Sends four long inferences (one runs at a time) and, once the first is in, a liveness probe; returns the order
 * of the answers.
 */
async function answers(server: InferenceServer): Promise<string[]> {
  const order: string[] = [];
  const x = randomTensor([8, 1024], 1);
  const infers = Array.from({ length: 4 }, () =>
    inferBinary(server.url, 'slow', { x }).then((r) => {
      expect(r.status).toBe(200);
      order.push('infer');
    }),
  );
  for (let i = 0; i < 500 && server.activeRequests === 0; i++) await new Promise((r) => setTimeout(r, 1));
  const live = request(`${server.url}/v2/health/live`, 'GET').then((r) => {
    expect(r.status).toBe(200);
    order.push('live');
  });
  await Promise.all([...infers, live]);
  return order;
}

describe('compute threads', () => {
  it('answers a health probe while a model computes; on the event loop thread the probe waits', async () => {
    const options = { port: 0, threads: 1, disableBatching: true };
    const threaded = await InferenceServer.start(slowFile, options);
    try {
      expect(threaded.computeThreads).toBe(1);
      // The probe needs a moment of the event loop; the four inferences need the compute thread for a while.
      expect((await answers(threaded)).indexOf('live')).toBeLessThan(4);
    } finally {
      await threaded.close();
    }
    const inline = await InferenceServer.start(slowFile, { ...options, computeThreads: false });
    try {
      expect(inline.computeThreads).toBe(0);
      // session.run holds the event loop: the probe waits at least for the inference that was running.
      expect((await answers(inline))[0]).toBe('infer');
    } finally {
      await inline.close();
    }
  });

  it('runs an instance_group of n as n sessions on n threads, answers equal to session.run', async () => {
    const repo = path.join(tmp, 'repo');
    fs.mkdirSync(path.join(repo, 'mlp', '1'), { recursive: true });
    const mlp = path.join(__dirname, '..', 'fixtures', 'models', 'mlp.onnx');
    fs.copyFileSync(mlp, path.join(repo, 'mlp', '1', 'model.onnx'));
    fs.writeFileSync(
      path.join(repo, 'mlp', 'config.pbtxt'),
      tritonConfig(await inspectModel(mlp), {
        name: 'mlp',
        maxBatchSize: 8,
        dynamicBatching: false,
        instanceGroup: { kind: 'cpu', count: 3 },
      }),
    );
    const server = await InferenceServer.start(repo, { port: 0, threads: 1 });
    const session = await ort.InferenceSession.create(mlp);
    try {
      expect(server.computeThreads).toBe(3);
      const inputs = Array.from({ length: 24 }, (_, i) => randomTensor([2, 16], i));
      const answers = await Promise.all(inputs.map((x) => inferBinary(server.url, 'mlp', { x })));
      for (const [i, r] of answers.entries()) {
        expect(r.status).toBe(200);
        const want = (await session.run({ x: inputs[i] })).y.data as Float32Array;
        expect(Array.from(r.outputs.y.data as Float32Array)).toEqual(Array.from(want));
      }
    } finally {
      await session.release();
      await server.close();
    }
  });

  it('is not live once a compute thread has stopped, so that the kubelet restarts it', async () => {
    const server = await InferenceServer.start(slowFile, { port: 0, threads: 1 });
    try {
      expect((await request(`${server.url}/v2/health/live`, 'GET')).status).toBe(200);
      // Stop the thread from outside, as a crash of the thread would.
      const pool = server['options'].computePool!;
      await pool['threads'][0]['worker'].terminate();
      const live = await request(`${server.url}/v2/health/live`, 'GET');
      expect(live.status).toBe(503);
      expect(json(live)).toEqual({ live: false, error: 'the compute thread stopped (exit code 1)' });
      expect((await request(`${server.url}/v2/health/ready`, 'GET')).status).toBe(503);
      const r = await inferBinary(server.url, 'slow', { x: randomTensor([1, 1024], 2) });
      expect(r.status).toBe(500);
    } finally {
      await server.close();
    }
  });
});
