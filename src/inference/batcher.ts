import type * as ort from 'onnxruntime-node';
import { concatBatch, InferenceError, splitBatch } from './tensors';

/**
 * Runs the model on a set of feeds; `owned` when the feeds' buffers are the batcher's own (a merged batch), which
 * the run may take (transfer to a compute thread) instead of copying.
 */
export type RunFn = (
  feeds: Record<string, ort.Tensor>,
  owned: boolean,
) => Promise<Record<string, ort.Tensor>>;

/** Options of a {@link Batcher}. */
export interface BatcherOptions {
  /** Merge concurrent requests into one run (Triton's dynamic batching). */
  readonly dynamic: boolean;
  /** Largest merged batch. */
  readonly maxBatchSize: number;
  /** How long the oldest request may wait for others, in microseconds. */
  readonly maxQueueDelayUs: number;
  /** Batch sizes that are dispatched as soon as they are reached. */
  readonly preferredBatchSizes: readonly number[];
  /** Requests waiting beyond this are refused with 503. */
  readonly maxQueueSize: number;
  /** Runs in flight at once (Triton's instance count). */
  readonly instances: number;
}

/** What one request gets back. */
export interface BatchResult {
  readonly outputs: Record<string, ort.Tensor>;
  /** Time in the queue, µs. */
  readonly queueUs: number;
  /** Time in `session.run`, µs (shared by every request of the batch). */
  readonly computeUs: number;
  /** Size of the batch this request ran in. */
  readonly batchSize: number;
}

interface Pending {
  readonly feeds: Record<string, ort.Tensor>;
  readonly batchSize: number;
  /** Requests merge only when their non-batch shapes are equal. */
  readonly shapeKey: string;
  readonly enqueued: bigint;
  resolve(r: BatchResult): void;
  reject(e: Error): void;
}

const now = () => process.hrtime.bigint();
const us = (from: bigint, to: bigint) => Number((to - from) / 1000n);

/**
 * The scheduler in front of one model version: a FIFO queue, at most `instances` runs in flight, and with
 * `dynamic` on, requests of equal non-batch shapes merged into one run of up to `maxBatchSize`, waiting at most
 * `maxQueueDelayUs` for company. Requests are validated before they get here, so a bad request never joins a batch.
 */
export class Batcher {
  private readonly queue: Pending[] = [];
  private busy = 0;
  private timer?: NodeJS.Timeout | NodeJS.Immediate;
  /** Set when a sub-millisecond wait has had its one loop turn: the next pick dispatches what it has. */
  private waitedTurn = false;
  /** Batches run. */
  public executions = 0;
  /** Runs that returned outputs: a model that has answered before and fails on one request failed on its input. */
  private succeeded = 0;
  /** Called once per model execution (for `nv_inference_exec_count`). */
  public onExecute?: (batchSize: number) => void;

  constructor(
    private readonly run: RunFn,
    private readonly options: BatcherOptions,
  ) {}

  /** Requests waiting. */
  public get pending(): number {
    return this.queue.length;
  }

  /** Runs in flight. */
  public get inFlight(): number {
    return this.busy;
  }

  /** Queues a request; resolves with its own slice of the outputs. */
  public submit(feeds: Record<string, ort.Tensor>, batchSize: number): Promise<BatchResult> {
    if (this.queue.length >= this.options.maxQueueSize) {
      return Promise.reject(
        new InferenceError(
          503,
          `the queue is full (${this.options.maxQueueSize} requests waiting); retry later`,
        ),
      );
    }
    const shapeKey = Object.keys(feeds)
      .sort()
      .map((k) => `${k}:${feeds[k].dims.slice(1).join('x')}`)
      .join(';');
    return new Promise<BatchResult>((resolve, reject) => {
      this.queue.push({ feeds, batchSize, shapeKey, enqueued: now(), resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    while (this.busy < this.options.instances && this.queue.length > 0) {
      const batch = this.pick();
      if (!batch) return; // waiting for more requests; a timer is set
      void this.execute(batch);
    }
  }

  /** The next batch to run, or undefined when it is worth waiting for more requests. */
  private pick(): Pending[] | undefined {
    const head = this.queue[0];
    if (!this.options.dynamic) return this.queue.splice(0, 1);
    const chosen: number[] = [];
    let size = 0;
    for (let i = 0; i < this.queue.length && size < this.options.maxBatchSize; i++) {
      const p = this.queue[i];
      if (p.shapeKey !== head.shapeKey || size + p.batchSize > this.options.maxBatchSize) continue;
      chosen.push(i);
      size += p.batchSize;
    }
    const waited = us(head.enqueued, now());
    const full = size >= this.options.maxBatchSize || this.options.preferredBatchSizes.includes(size);
    // Wait for company only while the delay allows; a sub-millisecond delay is one turn of the event loop
    // (so that every request already read in this turn joins), never a busy spin.
    if (!full && !this.waitedTurn && waited < this.options.maxQueueDelayUs) {
      this.arm(this.options.maxQueueDelayUs - waited);
      return undefined;
    }
    this.waitedTurn = false;
    const batch = chosen.map((i) => this.queue[i]);
    for (let k = chosen.length - 1; k >= 0; k--) this.queue.splice(chosen[k], 1);
    return batch;
  }

  private arm(delayUs: number): void {
    if (this.timer) return;
    const short = delayUs < 1000;
    const fire = () => {
      this.timer = undefined;
      if (short) this.waitedTurn = true;
      this.schedule();
    };
    this.timer = short ? setImmediate(fire) : setTimeout(fire, Math.ceil(delayUs / 1000));
  }

  /**
   * After a merged batch failed: runs each of its requests alone, so that the requests that caused it fail (400)
   * and the others get their answers.
   */
  private async isolate(batch: Pending[], started: bigint): Promise<void> {
    const failures: [Pending, Error][] = [];
    for (const p of batch) {
      try {
        const outputs = await this.run(p.feeds, false);
        this.succeeded++;
        p.resolve({
          outputs,
          queueUs: us(p.enqueued, started),
          computeUs: us(started, now()),
          batchSize: p.batchSize,
        });
      } catch (e) {
        failures.push([p, e as Error]);
      }
    }
    const someAnswered = failures.length < batch.length;
    for (const [p, e] of failures) p.reject(this.runFailure(e, someAnswered || this.succeeded > 0));
  }

  /**
   * The error a request gets when onnxruntime failed on it: 400 when the model answers other requests (the input
   * is what it cannot run on, e.g. an index out of an embedding's range), 500 otherwise; either way onnxruntime's
   * status message without the names of the model's internal nodes.
   */
  private runFailure(e: Error, modelWorks: boolean): InferenceError {
    const reason = ortStatusMessage(e.message);
    return modelWorks
      ? new InferenceError(400, `the model could not run on this request's input: ${reason}`)
      : new InferenceError(500, `inference failed: ${reason}`);
  }

  private async execute(batch: Pending[]): Promise<void> {
    this.busy++;
    this.executions++;
    this.onExecute?.(batch.reduce((n, p) => n + p.batchSize, 0));
    const started = now();
    try {
      const names = Object.keys(batch[0].feeds);
      const feeds: Record<string, ort.Tensor> = {};
      for (const n of names) feeds[n] = concatBatch(batch.map((p) => p.feeds[n]));
      // A merged batch is a new buffer; a lone request's feeds stay the request's (capture, isolation read them).
      const outputs = await this.run(feeds, batch.length > 1);
      this.succeeded++;
      const done = now();
      const sizes = batch.map((p) => p.batchSize);
      const total = sizes.reduce((a, b) => a + b, 0);
      const split: Record<string, ort.Tensor[]> = {};
      for (const [n, t] of Object.entries(outputs)) split[n] = splitBatch(t, sizes);
      batch.forEach((p, i) => {
        const own: Record<string, ort.Tensor> = {};
        for (const n of Object.keys(split)) own[n] = split[n][i];
        p.resolve({
          outputs: own,
          queueUs: us(p.enqueued, started),
          computeUs: us(started, done),
          batchSize: total,
        });
      });
    } catch (e) {
      if (e instanceof InferenceError) {
        for (const p of batch) p.reject(e);
      } else if (batch.length === 1) {
        batch[0].reject(this.runFailure(e as Error, this.succeeded > 0));
      } else {
        await this.isolate(batch, started);
      }
    } finally {
      this.busy--;
      this.schedule();
    }
  }
}

/**
 * onnxruntime's reason for a failed run without its node names: the `Status Message` of `Non-zero status code
 * returned while running <Op> node. Name:'<node>' Status Message: <reason>`, or the message with `Name:'…'` removed.
 */
export function ortStatusMessage(message: string): string {
  const m = /Status Message:\s*([\s\S]*)$/.exec(message);
  const reason = (m ? m[1] : message).replace(/\s*Name:\s*'[^']*'/g, '').trim();
  return reason.split('\n')[0].trim() || 'onnxruntime failed';
}
