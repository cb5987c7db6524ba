// `mlstack drift` as a child process on generated windows.
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { DriftReport } from '../src/drift/analyze';
import { mlstack } from './support/cli';
import { writeCsvWindow } from './support/drift-data';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'mlstack-drift-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));
const file = (n: string) => path.join(tmp, n);

writeCsvWindow(file('reference.csv'), { rows: 4000, seed: 1 });
writeCsvWindow(file('same.csv'), { rows: 3000, seed: 2 });
writeCsvWindow(file('age-shift.csv'), { rows: 3000, seed: 3, ageShift: 8 });
writeCsvWindow(file('schema-drift.csv'), { rows: 3000, seed: 4, drop: ['income'], extra: 'channel' });

const drift = (args: string[]) => mlstack(['drift', '--reference', file('reference.csv'), ...args]);
const report = (dir: string) =>
  JSON.parse(fs.readFileSync(path.join(dir, 'report.json'), 'utf8')) as DriftReport;

describe('mlstack drift', () => {
  it('finds no drift in a fresh sample of the same distributions, exit 0, and writes the report and metrics', async () => {
    const out = file('out-same');
    const r = await drift(['--current', file('same.csv'), '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /^no drift: 0 of 4 features drifted \(0%, threshold 30%\); 4000 reference and 3000 current rows/,
    );
    const rep = report(out);
    expect(rep.verdict).toBe('no_drift');
    expect(rep.schema.types).toEqual({
      age: 'numeric',
      country: 'categorical',
      income: 'numeric',
      score: 'numeric',
    });
    expect(rep.features.find((f) => f.name === 'age')!.statistics.map((s) => s.name)).toEqual([
      'psi',
      'ks_statistic',
      'ks_pvalue',
    ]);
    expect(rep.features.find((f) => f.name === 'country')!.statistics.map((s) => s.name)).toEqual([
      'jensen_shannon',
      'chi_square',
      'chi_square_pvalue',
    ]);
    const metrics = fs.readFileSync(path.join(out, 'metrics.prom'), 'utf8');
    expect(metrics).toMatch(/^mlstack_drift_dataset_drifted\{job_name="mlstack-drift"\} 0$/m);
    expect(metrics).toMatch(/^mlstack_drift_window_rows\{window="current",job_name="mlstack-drift"\} 3000$/m);
  });

  it('flags the one feature that drifted, and the dataset when its share crosses the threshold (exit 3)', async () => {
    const out = file('out-shift');
    const lenient = await drift(['--current', file('age-shift.csv'), '--out', out]);
    expect(lenient.code).toBe(0);
    const age = report(out).features.find((f) => f.name === 'age')!;
    expect(age.verdict).toBe('drift');
    expect(age.statistics.find((s) => s.name === 'psi')!.value).toBeGreaterThan(0.25);
    expect(
      report(out)
        .features.filter((f) => f.verdict === 'drift')
        .map((f) => f.name),
    ).toEqual(['age']);

    fs.writeFileSync(file('strict.json'), JSON.stringify({ datasetDriftShare: 0.25 }));
    const strict = await drift(['--current', file('age-shift.csv'), '--config', file('strict.json')]);
    expect(strict.code).toBe(3);
    expect(strict.stdout).toMatch(/^DRIFT: 1 of 4 features drifted \(25%, threshold 25%\): age;/);
    const zero = await drift([
      '--current',
      file('age-shift.csv'),
      '--config',
      file('strict.json'),
      '--drift-exit-code',
      '0',
    ]);
    expect(zero.code).toBe(0);
  });

  it('reports schema drift instead of crashing when a column disappears or appears', async () => {
    const out = file('out-schema');
    const r = await drift(['--current', file('schema-drift.csv'), '--out', out]);
    expect(r.code).toBe(3);
    expect(r.stdout).toContain('schema drift: missing in current: income');
    expect(r.stdout).toContain('schema drift: new in current: channel');
    const rep = report(out);
    expect(rep.schema).toMatchObject({ missingInCurrent: ['income'], newInCurrent: ['channel'] });
    expect(rep.features.find((f) => f.name === 'income')).toMatchObject({ type: 'schema', verdict: 'drift' });
  });

  it('skips malformed rows and reports their line numbers', async () => {
    const lines = fs.readFileSync(file('same.csv'), 'utf8').trimEnd().split('\n');
    lines.splice(10, 0, '41.5,DE');
    lines.splice(20, 0, '1,2,3,4,5');
    // 2 malformed of 400 rows: within the 5% budget, and enough rows for a verdict.
    fs.writeFileSync(file('malformed.csv'), `${lines.slice(0, 402).join('\n')}\n`);
    const out = file('out-malformed');
    const r = await drift(['--current', file('malformed.csv'), '--out', out]);
    expect([0, 3]).toContain(r.code);
    const rep = report(out);
    expect(rep.windows.current.skippedRows).toBe(2);
    expect(rep.errors.map((e) => [e.window, e.line])).toEqual([
      ['current', 11],
      ['current', 21],
    ]);
    expect(r.stdout).toMatch(/skipped current line 11: /);
  });

  it('fails when an unterminated quote swallows the rest of the window (over the malformed-row budget)', async () => {
    const lines = fs.readFileSync(file('same.csv'), 'utf8').trimEnd().split('\n');
    lines.splice(10, 0, '41.5,"unterminated,DE,0.1');
    fs.writeFileSync(file('swallowed.csv'), `${lines.slice(0, 402).join('\n')}\n`);
    const r = await drift(['--current', file('swallowed.csv')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /swallowed\.csv: 1 of the 10 rows of the current window are malformed, over the budget of 5% .*Quote Not Closed/,
    );
  });

  it('reads JSON Lines, reports bad lines by number, and uses a schema and a timestamp column', async () => {
    const jsonl = [
      ...Array.from({ length: 300 }, (_, i) =>
        JSON.stringify({
          ts: 1_700_000_000 + i,
          plan: i % 3 === 0 ? 'pro' : 'free',
          latency: (i % 17) * 1.5,
        }),
      ),
      'not json',
      '[1,2]',
    ];
    fs.writeFileSync(file('a.jsonl'), `${jsonl.join('\n')}\n`);
    fs.writeFileSync(
      file('schema.json'),
      JSON.stringify({ features: { plan: 'categorical' }, predictions: ['latency'] }),
    );
    fs.writeFileSync(file('ts.json'), JSON.stringify({ timestampColumn: 'ts' }));
    const out = file('out-jsonl');
    const r = await mlstack([
      'drift',
      '--reference',
      file('a.jsonl'),
      '--current',
      file('a.jsonl'),
      '--schema',
      file('schema.json'),
      '--config',
      file('ts.json'),
      '--out',
      out,
    ]);
    expect(r.code).toBe(0);
    const rep = report(out);
    expect(rep.errors.filter((e) => e.window === 'current')).toEqual([
      { window: 'current', line: 301, message: expect.stringMatching(/^not JSON/) },
      { window: 'current', line: 302, message: 'not a JSON object' },
    ]);
    expect(rep.windows.current.timeRange).toEqual({
      from: '2023-11-14T22:13:20.000Z',
      to: '2023-11-14T22:18:19.000Z',
    });
    expect(rep.predictions.map((p) => [p.name, p.verdict])).toEqual([['latency', 'ok']]);
    expect(rep.schema.inferred).toEqual(['latency']);
  });

  it('POSTs the report to the webhook when the dataset drifts (the retrain trigger)', async () => {
    const received: DriftReport[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        received.push(JSON.parse(body) as DriftReport);
        res.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      fs.writeFileSync(
        file('hook.json'),
        JSON.stringify({ datasetDriftShare: 0.25, webhook: `http://127.0.0.1:${port}/retrain` }),
      );
      const r = await drift(['--current', file('age-shift.csv'), '--config', file('hook.json')]);
      expect(r.code).toBe(3);
      expect(received).toHaveLength(1);
      expect(received[0].verdict).toBe('drift');
      expect(r.stdout).toContain(`posted the report to http://127.0.0.1:${port}/retrain (204)`);
    } finally {
      server.close();
    }
  });

  it('pushes the metrics to a Pushgateway under the job name', async () => {
    const pushes: { method: string; url: string; body: string }[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        pushes.push({ method: req.method!, url: req.url!, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      fs.writeFileSync(
        file('push.json'),
        JSON.stringify({ pushgateway: `http://127.0.0.1:${port}`, job: 'classifier-drift' }),
      );
      const r = await drift(['--current', file('same.csv'), '--config', file('push.json')]);
      expect(r.code).toBe(0);
      expect(pushes).toHaveLength(1);
      expect(pushes[0]).toMatchObject({ method: 'POST', url: '/metrics/job/classifier-drift' });
      expect(pushes[0].body).toMatch(/^mlstack_drift_dataset_drifted\{job_name="classifier-drift"\} 0$/m);
      expect(pushes[0].body).toContain(
        'mlstack_drift_statistic{feature="age",role="feature",statistic="psi",job_name="classifier-drift"}',
      );
    } finally {
      server.close();
    }
  });

  it('fails with one line on bad config, missing files and unknown feature overrides', async () => {
    fs.writeFileSync(file('bad.json'), JSON.stringify({ thresholds: { psi: { drift: -1 } } }));
    const bad = await drift(['--current', file('same.csv'), '--config', file('bad.json')]);
    expect(bad.code).toBe(1);
    expect(bad.stderr.trim()).toBe(
      'mlstack: config: thresholds.psi.drift (-1) must be a number from 0 to 10.',
    );
    fs.writeFileSync(file('unknown.json'), JSON.stringify({ features: { agee: { psi: { drift: 0.3 } } } }));
    const unknown = await drift(['--current', file('same.csv'), '--config', file('unknown.json')]);
    expect(unknown.stderr.trim()).toMatch(
      /^mlstack: config: features\.agee: no such feature; the features are age, income, country, score/,
    );
    const missing = await drift(['--current', file('nope.csv')]);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toMatch(/nope\.csv: no such file or folder$/);
  });
});
