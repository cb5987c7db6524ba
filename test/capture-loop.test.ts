// Capture → drift → retrain on this machine: `mlstack serve --capture-dir` samples requests and responses into JSON
// Lines files (one row per batch item, columns named from the model signature), and `mlstack drift` reads that
// folder as the current window, finds the shift a client sent, and POSTs the report to the retrain webhook. All on
// 127.0.0.1, bounded in requests and time.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaptureWriter } from '../src/inference/capture';
import { readWindow } from '../src/drift/window';
import { mlstack } from './support/cli';
import { startServe } from './support/serve-process';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-capture-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const CLASSIFIER = path.join(__dirname, '..', 'examples', 'models', 'classifier.onnx');

describe('CaptureWriter', () => {
  it('writes one row per batch item, columns named from the signature, into dated files that appear whole', async () => {
    const dir = path.join(tmp, 'unit');
    const w = new CaptureWriter({ dir, sampleRate: 1, intervalMs: 60_000 });
    const at = Date.parse('2026-11-30T10:00:00Z');
    w.record(
      'm',
      {
        x: { dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
        id: { dims: [2], data: ['a', 'b'] },
      },
      { y: { dims: [2, 1], data: Float32Array.from([0.5, NaN]) } },
      2,
      at,
    );
    // Over the payload cap: counted, not written.
    const big = new CaptureWriter({ dir: path.join(tmp, 'big'), sampleRate: 1, maxPayloadBytes: 16 });
    big.record('m', { x: { dims: [1, 8], data: new Float32Array(8) } }, {}, 1, at);
    expect(big.counts).toMatchObject({ captured: 0, skippedLarge: 1 });
    await big.close();
    await w.close();
    const files = fs.readdirSync(path.join(dir, 'm', '2026-11-30'));
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^2026-11-30T10-00-00Z-\d+-1\.jsonl$/);
    const rows = fs
      .readFileSync(path.join(dir, 'm', '2026-11-30', files[0]), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(rows).toEqual([
      { timestamp: '2026-11-30T10:00:00.000Z', x_0: 1, x_1: 2, x_2: 3, id: 'a', y: 0.5 },
      { timestamp: '2026-11-30T10:00:00.000Z', x_0: 4, x_1: 5, x_2: 6, id: 'b', y: null },
    ]);
    expect(w.counts).toMatchObject({ captured: 1, rows: 2, files: 1, failedWrites: 0 });
  });

  it('samples the given share of requests', async () => {
    let i = 0;
    const w = new CaptureWriter({
      dir: path.join(tmp, 'share'),
      sampleRate: 0.25,
      random: () => (i++ % 100) / 100,
    });
    let sampled = 0;
    for (let n = 0; n < 1000; n++) if (w.sample()) sampled++;
    expect(sampled).toBe(250);
    expect(() => new CaptureWriter({ dir: tmp, sampleRate: 1.5 })).toThrow(/not between 0 and 1/);
    await w.close();
  });

  it('is read back by drift as one window, every file of the folder, with --since filtering by timestamp', async () => {
    const dir = path.join(tmp, 'window');
    fs.mkdirSync(path.join(dir, 'a'), { recursive: true });
    const now = Date.now();
    const line = (t: number, v: number) => `${JSON.stringify({ timestamp: new Date(t).toISOString(), v })}\n`;
    fs.writeFileSync(path.join(dir, 'a', '1.jsonl'), line(now - 3 * 3600_000, 1) + line(now - 60_000, 2));
    fs.writeFileSync(path.join(dir, '2.jsonl'), line(now, 3) + '{"v":4}\n');
    fs.writeFileSync(path.join(dir, '.3.jsonl.tmp'), line(now, 99));
    const all = await readWindow(dir, { timestampColumn: 'timestamp' });
    expect(all.rows).toBe(4);
    const recent = await readWindow(dir, { since: new Date(now - 3600_000) });
    expect(recent.rows).toBe(2);
    expect(recent.errors).toEqual([{ line: 2, message: "2.jsonl: no readable 'timestamp' timestamp" }]);
    await expect(readWindow(path.join(tmp, 'unit', 'm', 'nothing'))).rejects.toThrow(
      /no such file or folder/,
    );
  });
});

/** `n` rows of 16 features drawn around `mean` (deterministic). */
function rows(n: number, mean: number, seed: number): number[][] {
  let s = seed;
  const rnd = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
  return Array.from({ length: n }, () =>
    Array.from({ length: 16 }, () => {
      // Sum of uniforms: roughly normal around `mean`.
      let v = 0;
      for (let k = 0; k < 6; k++) v += rnd();
      return mean + (v - 3);
    }),
  );
}

async function infer(url: string, batch: number[][]): Promise<void> {
  const res = await fetch(`${url}/v2/models/classifier/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      inputs: [{ name: 'x', datatype: 'FP32', shape: [batch.length, 16], data: batch.flat() }],
    }),
  });
  expect(res.status).toBe(200);
  await res.arrayBuffer();
}

describe('capture → drift → retrain', () => {
  it('serves with capture on, takes a shifted load, and the drift job over the captured files calls the webhook', async () => {
    const repo = path.join(tmp, 'repo');
    fs.mkdirSync(path.join(repo, 'classifier', '1'), { recursive: true });
    fs.copyFileSync(CLASSIFIER, path.join(repo, 'classifier', '1', 'model.onnx'));
    /** Serves with capture on into `dir`, sends `data` in requests of 4 rows, 4 at a time, and stops the server. */
    const serveAndSend = async (dir: string, data: number[][]) => {
      const server = await startServe([
        repo,
        '--capture-dir',
        dir,
        '--capture-sample-rate',
        '0.5',
        '--capture-interval',
        '1s',
      ]);
      try {
        expect(server.stderr()).toMatch(/capturing 50\.0% of requests under /);
        for (let i = 0; i < data.length; i += 16) {
          await Promise.all([0, 4, 8, 12].map((o) => infer(server.url, data.slice(i + o, i + o + 4))));
        }
      } finally {
        server.proc.kill('SIGTERM');
        expect(await server.exited).toBe(0);
      }
    };
    // The reference: what the service saw when the model was trained (features around 0); then the live traffic,
    // shifted by +1.5 on every feature. 240 requests of 4 rows each, about half captured.
    const referenceDir = path.join(tmp, 'capture-reference');
    const capture = path.join(tmp, 'capture');
    await serveAndSend(referenceDir, rows(960, 0, 3));
    await serveAndSend(capture, rows(960, 1.5, 7));
    const header = Array.from({ length: 16 }, (_, i) => `x_${i}`);
    const reference = path.join(referenceDir, 'classifier');
    const modelDir = path.join(capture, 'classifier');
    const dates = fs.readdirSync(modelDir);
    expect(dates).toEqual([new Date().toISOString().slice(0, 10)]);
    const window = await readWindow(modelDir, { timestampColumn: 'timestamp' });
    expect(window.rows).toBeGreaterThan(300);
    expect(window.rows).toBeLessThan(700);
    expect([...window.columns.keys()]).toEqual([...header, 'y_0', 'y_1', 'y_2', 'y_3']);
    // Every sampled request is whole in the files: rows come in fours.
    expect(window.rows % 4).toBe(0);

    // The retrain hook on 127.0.0.1.
    const received: unknown[] = [];
    const hook = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body));
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
    try {
      const config = path.join(tmp, 'drift.json');
      fs.writeFileSync(
        config,
        JSON.stringify({
          timestampColumn: 'timestamp',
          webhook: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/retrain`,
        }),
      );
      const r = await mlstack(
        ['drift', '--reference', reference, '--current', modelDir, '--since', '1h', '--config', config],
        undefined,
        120_000,
      );
      // Every input feature moved; the model's outputs are compared too (their drift depends on the model).
      const m = /^DRIFT: (\d+) of 20 features drifted/m.exec(r.stdout);
      expect(m, r.stdout).not.toBeNull();
      expect(Number(m![1])).toBeGreaterThanOrEqual(16);
      expect(r.stdout).toMatch(/x_0, x_1, x_10, x_11, x_12, x_13, x_14, x_15, x_2/);
      expect(r.code).toBe(3);
      expect(received).toHaveLength(1);
      const report = received[0] as { verdict: string; features: { name: string; verdict: string }[] };
      expect(report.verdict).toBe('drift');
      expect(report.features.filter((f) => f.verdict === 'drift').map((f) => f.name)).toEqual(
        expect.arrayContaining(header),
      );
    } finally {
      await new Promise<void>((r) => hook.close(() => r()));
    }
  }, 120_000);
});
