import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { Batcher, type BatcherOptions } from '../../src/inference/batcher';
import { fromFloat16Bits, toFloat16Bits } from '../../src/inference/datatypes';
import { InferenceError } from '../../src/inference/tensors';

const opts = (o: Partial<BatcherOptions> = {}): BatcherOptions => ({
  dynamic: true,
  maxBatchSize: 8,
  maxQueueDelayUs: 2000,
  preferredBatchSizes: [],
  maxQueueSize: 100,
  instances: 1,
  ...o,
});

const rows = (n: number, width: number, start: number) =>
  new ort.Tensor(
    'float32',
    Float32Array.from({ length: n * width }, (_, i) => start + i),
    [n, width],
  );

/** A fake model: y = x + 1000, recording the batch sizes it ran. */
function fakeModel(delayMs = 0) {
  const runs: number[] = [];
  const run = async (feeds: Record<string, ort.Tensor>) => {
    const x = feeds.x;
    runs.push(x.dims[0]);
    if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
    return {
      y: new ort.Tensor(
        'float32',
        (x.data as Float32Array).map((v) => v + 1000),
        x.dims,
      ),
    };
  };
  return { runs, run };
}

describe('Batcher', () => {
  it('merges concurrent requests and gives each its own rows back', async () => {
    const m = fakeModel();
    const b = new Batcher(m.run, opts());
    const results = await Promise.all([1, 2, 3].map((n, i) => b.submit({ x: rows(n, 2, i * 100) }, n)));
    expect(m.runs).toEqual([6]);
    expect(Array.from(results[1].outputs.y.data as Float32Array)).toEqual([1100, 1101, 1102, 1103]);
    expect(results[2].outputs.y.dims).toEqual([3, 2]);
    expect(results.every((r) => r.batchSize === 6)).toBe(true);
  });

  it('never exceeds maxBatchSize', async () => {
    const m = fakeModel();
    const b = new Batcher(m.run, opts({ maxBatchSize: 4 }));
    await Promise.all([3, 3, 2, 1].map((n) => b.submit({ x: rows(n, 1, 0) }, n)));
    expect(m.runs.every((n) => n <= 4)).toBe(true);
    expect(m.runs.reduce((a, c) => a + c, 0)).toBe(9);
  });

  it('does not merge requests of different non-batch shapes', async () => {
    const m = fakeModel();
    const b = new Batcher(m.run, opts());
    const [a, c] = await Promise.all([b.submit({ x: rows(1, 2, 0) }, 1), b.submit({ x: rows(1, 3, 0) }, 1)]);
    expect(m.runs).toEqual([1, 1]);
    expect(a.outputs.y.dims).toEqual([1, 2]);
    expect(c.outputs.y.dims).toEqual([1, 3]);
  });

  it('dispatches at once when a preferred batch size is reached', async () => {
    const m = fakeModel();
    const b = new Batcher(m.run, opts({ maxQueueDelayUs: 10_000_000, preferredBatchSizes: [2] }));
    const started = Date.now();
    await Promise.all([b.submit({ x: rows(1, 1, 0) }, 1), b.submit({ x: rows(1, 1, 0) }, 1)]);
    expect(m.runs).toEqual([2]);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('runs each request alone when dynamic batching is off', async () => {
    const m = fakeModel();
    const b = new Batcher(m.run, opts({ dynamic: false }));
    await Promise.all([1, 2].map((n) => b.submit({ x: rows(n, 1, 0) }, n)));
    expect(m.runs).toEqual([1, 2]);
  });

  it('refuses requests beyond maxQueueSize with 503', async () => {
    const m = fakeModel(20);
    const b = new Batcher(m.run, opts({ dynamic: false, maxQueueSize: 1 }));
    const all = [1, 2, 3].map(() =>
      b.submit({ x: rows(1, 1, 0) }, 1).then(
        () => 200,
        (e: InferenceError) => e.status,
      ),
    );
    expect(await Promise.all(all)).toEqual([200, 200, 503]);
  });

  it('a model that never answered fails with 500 and its reason, and keeps going', async () => {
    let fail = true;
    const b = new Batcher(
      async (feeds) => {
        if (fail) {
          fail = false;
          throw new Error(
            "Non-zero status code returned while running MatMul node. Name:'/secret/MatMul' Status Message: boom",
          );
        }
        return { y: feeds.x };
      },
      opts({ dynamic: false }),
    );
    const first = await Promise.allSettled([b.submit({ x: rows(1, 1, 0) }, 1)]);
    expect((first[0] as PromiseRejectedResult).reason).toMatchObject({
      status: 500,
      message: 'inference failed: boom',
    });
    await expect(b.submit({ x: rows(1, 1, 0) }, 1)).resolves.toMatchObject({ batchSize: 1 });
  });

  it('isolates the request that fails a merged batch: it gets 400 without node names, the others their answers', async () => {
    // An embedding lookup: a row of 7 is out of range, and fails any run it is part of.
    const runs: number[] = [];
    const b = new Batcher(
      async (feeds) => {
        const x = feeds.x;
        runs.push(x.dims[0]);
        if ((x.data as Float32Array).some((v) => v === 7)) {
          throw new Error(
            "Non-zero status code returned while running Gather node. Name:'/emb/Gather' Status Message: indices element out of data bounds, idx=7 must be within the inclusive range [-5,4]",
          );
        }
        return {
          y: new ort.Tensor(
            'float32',
            (x.data as Float32Array).map((v) => v * 10),
            x.dims,
          ),
        };
      },
      opts({ maxQueueDelayUs: 50_000 }),
    );
    const results = await Promise.allSettled([1, 7, 2, 3].map((v) => b.submit({ x: rows(1, 1, v) }, 1)));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    const answers = results.map((r) =>
      r.status === 'fulfilled' ? [...(r.value.outputs.y.data as Float32Array)] : [],
    );
    expect(answers).toEqual([[10], [], [20], [30]]);
    const reason = (results[1] as PromiseRejectedResult).reason as InferenceError;
    expect(reason).toMatchObject({
      status: 400,
      message:
        "the model could not run on this request's input: indices element out of data bounds, idx=7 must be within the inclusive range [-5,4]",
    });
    expect(reason.message).not.toContain('/emb/Gather');
    // One merged run of 4, then each request alone.
    expect(runs).toEqual([4, 1, 1, 1, 1]);
    // A model that has answered before: a lone failing request is the input's fault too.
    await expect(b.submit({ x: rows(1, 1, 7) }, 1)).rejects.toMatchObject({ status: 400 });
  });
});

describe('float16', () => {
  it.each([
    [0, 0x0000],
    [1, 0x3c00],
    [-2, 0xc000],
    [0.5, 0x3800],
    [65504, 0x7bff],
    [1e6, 0x7c00],
    [-Infinity, 0xfc00],
    [5.960464477539063e-8, 0x0001],
  ])('%f ↔ 0x%s', (v, bits) => {
    expect(toFloat16Bits(v)).toBe(bits);
    if (Number.isFinite(v) && v < 65520) expect(fromFloat16Bits(bits)).toBe(v);
  });

  it('rounds to nearest even and keeps NaN', () => {
    expect(fromFloat16Bits(toFloat16Bits(0.1))).toBeCloseTo(0.0999755859375, 12);
    expect(Number.isNaN(fromFloat16Bits(toFloat16Bits(NaN)))).toBe(true);
  });
});
