// Request/response capture for drift detection: a sample of the served requests, one row per batch item, with the
// model's inputs and outputs flattened into columns named from its signature, written as JSON Lines, one file per
// interval, under `<dir>/<model>/<yyyy-mm-dd>/` (UTC), which is what `mlstack drift --current <dir>/<model>` and the
// DriftPipeline read. Files appear whole (written to a temporary name, then renamed), so an uploader never ships a
// partial one.
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A tensor as the server holds it (an onnxruntime Tensor fits). */
export interface CapturedTensor {
  readonly dims: readonly number[];
  readonly data: ArrayLike<number | bigint | string | boolean> | readonly string[];
}

/** Options of {@link CaptureWriter}. */
export interface CaptureOptions {
  /** The folder files go under. */
  readonly dir: string;
  /** Share of requests captured, 0 to 1. */
  readonly sampleRate: number;
  /**
   * How long one file collects rows before it is written.
   * @default 60000
   */
  readonly intervalMs?: number;
  /**
   * Requests whose inputs and outputs hold more bytes than this are not captured (images, long sequences): they are
   * counted as skipped.
   * @default 65536
   */
  readonly maxPayloadBytes?: number;
  /**
   * Bytes of rows held before a file is written early.
   * @default 16 MiB
   */
  readonly maxBufferBytes?: number;
  /** Random number source, for tests. @default Math.random */
  readonly random?: () => number;
}

/** What a writer did, for metrics and tests. */
export interface CaptureCounts {
  /** Requests captured. */
  captured: number;
  /** Rows written (batch items). */
  rows: number;
  /** Requests sampled but over the payload cap. */
  skippedLarge: number;
  /** Files written. */
  files: number;
  /** Files that could not be written (the reason is logged once per cause). */
  failedWrites: number;
}

const BYTES_PER: Record<string, number> = {
  Float32Array: 4,
  Float64Array: 8,
  Int32Array: 4,
  Uint32Array: 4,
  Int16Array: 2,
  Uint16Array: 2,
  Int8Array: 1,
  Uint8Array: 1,
  BigInt64Array: 8,
  BigUint64Array: 8,
};

function byteSize(t: CapturedTensor): number {
  const per = BYTES_PER[t.data.constructor?.name ?? ''];
  if (per) return t.data.length * per;
  let n = 0;
  for (let i = 0; i < t.data.length; i++) n += String(t.data[i]).length;
  return n;
}

/** A tensor value as JSON text: non-finite numbers are null (JSON has no NaN), int64 as numbers. */
function jsonValue(v: number | bigint | string | boolean): string {
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : 'null';
  if (typeof v === 'string') return JSON.stringify(v);
  return typeof v === 'bigint' ? String(Number(v)) : String(v);
}

/** The UTC date and time parts of a file name: `2026-11-30`, `2026-11-30T01-02-03Z`. */
function stamp(ms: number): { date: string; time: string } {
  const iso = new Date(ms).toISOString();
  return { date: iso.slice(0, 10), time: `${iso.slice(0, 19).replace(/:/g, '-')}Z` };
}

/**
 * Samples requests of the served models and writes them as JSON Lines. `record` is cheap when a request is not
 * sampled (one random number) and does its work after the response is sent; files are written off the request path.
 */
export class CaptureWriter {
  public readonly counts: CaptureCounts = {
    captured: 0,
    rows: 0,
    skippedLarge: 0,
    files: 0,
    failedWrites: 0,
  };
  private readonly buffers = new Map<string, { lines: string[]; bytes: number; started: number }>();
  private readonly timer: NodeJS.Timeout;
  private readonly intervalMs: number;
  private readonly maxPayload: number;
  private readonly maxBuffer: number;
  private readonly random: () => number;
  private writing: Promise<void> = Promise.resolve();
  private seq = 0;
  private readonly reported = new Set<string>();
  /** The escaped `,"<column>":` prefixes of a tensor with `per` values an item, made once per tensor shape. */
  private readonly keys = new Map<string, readonly string[]>();

  constructor(private readonly options: CaptureOptions) {
    if (!(options.sampleRate >= 0 && options.sampleRate <= 1)) {
      throw new Error(`capture sample rate ${options.sampleRate} is not between 0 and 1`);
    }
    this.intervalMs = options.intervalMs ?? 60_000;
    this.maxPayload = options.maxPayloadBytes ?? 65_536;
    this.maxBuffer = options.maxBufferBytes ?? 16 * 1024 * 1024;
    this.random = options.random ?? Math.random;
    fs.mkdirSync(options.dir, { recursive: true });
    this.timer = setInterval(() => this.rotate(false), Math.min(this.intervalMs, 1000));
    this.timer.unref();
  }

  /** Whether this request is captured (decided before any work is done for it). */
  public sample(): boolean {
    return this.options.sampleRate > 0 && this.random() < this.options.sampleRate;
  }

  /**
   * Adds a sampled request: one row per batch item (`batchSize` items along the first dimension; a model without
   * batching is one item), each tensor's item values as `<name>` (one value) or `<name>_<i>` (flattened, row-major).
   */
  public record(
    model: string,
    inputs: Readonly<Record<string, CapturedTensor>>,
    outputs: Readonly<Record<string, CapturedTensor>>,
    batchSize: number,
    now = Date.now(),
  ): void {
    const tensors = [...Object.entries(inputs), ...Object.entries(outputs)];
    let bytes = 0;
    for (const [, t] of tensors) bytes += byteSize(t);
    if (bytes > this.maxPayload) {
      this.counts.skippedLarge++;
      return;
    }
    const items = Math.max(1, batchSize);
    const timestamp = new Date(now).toISOString();
    let buffer = this.buffers.get(model);
    if (!buffer) {
      buffer = { lines: [], bytes: 0, started: now };
      this.buffers.set(model, buffer);
    }
    // Rows are built as text: JSON.stringify of row objects cost 3× as much.
    const parts = tensors.map(([name, t]) => {
      const per = Math.floor(t.data.length / items);
      return { t, per, keys: this.keysOf(name, per) };
    });
    const head = `{"timestamp":"${timestamp}"`;
    for (let item = 0; item < items; item++) {
      let line = head;
      for (const { t, per, keys } of parts) {
        const from = item * per;
        for (let i = 0; i < per; i++) line += keys[i] + jsonValue(t.data[from + i]);
      }
      line += '}\n';
      buffer.lines.push(line);
      buffer.bytes += line.length;
    }
    this.counts.captured++;
    this.counts.rows += items;
    if (buffer.bytes >= this.maxBuffer) this.flushModel(model);
  }

  private keysOf(name: string, per: number): readonly string[] {
    const id = `${per}|${name}`;
    let keys = this.keys.get(id);
    if (!keys) {
      keys =
        per === 1
          ? [`,${JSON.stringify(name)}:`]
          : Array.from({ length: per }, (_, i) => `,${JSON.stringify(`${name}_${i}`)}:`);
      this.keys.set(id, keys);
    }
    return keys;
  }

  /** Writes what is buffered now and stops; resolves when every file is on disk. */
  public async close(): Promise<void> {
    clearInterval(this.timer);
    this.rotate(true);
    await this.writing;
  }

  /** Writes each model's rows whose interval is over (or all of them). */
  private rotate(all: boolean): void {
    const now = Date.now();
    for (const [model, b] of this.buffers) {
      if (b.lines.length && (all || now - b.started >= this.intervalMs)) this.flushModel(model);
    }
  }

  private flushModel(model: string): void {
    const b = this.buffers.get(model);
    if (!b || b.lines.length === 0) return;
    this.buffers.delete(model);
    const { date, time } = stamp(b.started);
    const dir = path.join(this.options.dir, model, date);
    const name = `${time}-${process.pid}-${++this.seq}.jsonl`;
    const text = b.lines.join('');
    this.writing = this.writing.then(async () => {
      try {
        await fs.promises.mkdir(dir, { recursive: true });
        const tmp = path.join(dir, `.${name}.tmp`);
        await fs.promises.writeFile(tmp, text);
        await fs.promises.rename(tmp, path.join(dir, name));
        this.counts.files++;
      } catch (e) {
        this.counts.failedWrites++;
        const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
        if (!this.reported.has(why)) {
          this.reported.add(why);
          process.stderr.write(
            `mlstack serve: capture file ${path.join(dir, name)} not written: ${(e as Error).message}\n`,
          );
        }
      }
    });
  }
}
