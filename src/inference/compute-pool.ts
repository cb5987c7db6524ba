import { Worker } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import { ModelFileError, type ValueMetadata } from './inspect';
import { workerScript } from '../synth/package-info';
import { plainMetadata } from './session';

/** A tensor as it crosses threads: its type, dims and data (typed arrays transferred where the sender allows). */
export interface WireTensor {
  readonly type: ort.Tensor.Type;
  readonly dims: readonly number[];
  readonly data: ort.Tensor.DataType;
}

/** A tensor for another thread. */
export function toWire(t: ort.Tensor): WireTensor {
  return { type: t.type, dims: t.dims, data: t.data };
}

/** A tensor from another thread. */
export function fromWire(t: WireTensor): ort.Tensor {
  return new ort.Tensor(t.type, t.data as never, t.dims);
}

/** Messages to a compute thread. */
export type WorkerRequest =
  | { op: 'open'; id: number; session: number; file: string; options: ort.InferenceSession.SessionOptions }
  | { op: 'run'; id: number; session: number; feeds: Record<string, WireTensor> }
  | { op: 'release'; id: number; session: number };

/** A request before the thread numbers it. */
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

/** Replies of a compute thread. */
export interface WorkerReply {
  readonly id: number;
  readonly error?: { readonly message: string; readonly file?: string };
  readonly metadata?: { readonly inputs: ValueMetadata[]; readonly outputs: ValueMetadata[] };
  readonly outputs?: Record<string, WireTensor>;
}

/** An onnxruntime session the server runs a model version with: in this thread or on a compute thread. */
export interface ModelSession {
  /** Input and output metadata, as onnxruntime reports them. */
  readonly inputMetadata: readonly ValueMetadata[];
  readonly outputMetadata: readonly ValueMetadata[];
  /**
   * Runs the model. `owned`: the feeds' buffers are the caller's to give away (a batch the batcher concatenated),
   * so they are transferred to the compute thread rather than copied.
   */
  run(feeds: Record<string, ort.Tensor>, owned?: boolean): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
}

/** One compute thread and the requests it has not answered yet. */
class ComputeThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(r: WorkerReply): void; reject(e: Error): void }>();
  private nextId = 1;
  /** Why the thread stopped, once it has. */
  public failed?: Error;
  /** Set by `terminate()`: the exit that follows is not a failure. */
  private stopping = false;

  constructor(index: number) {
    const { file, execArgv } = workerScript(__dirname, 'session-worker');
    this.worker = new Worker(file, { execArgv, name: `mlstack-compute-${index}` });
    this.worker.unref();
    this.worker.on('message', (r: WorkerReply) => {
      const p = this.pending.get(r.id);
      this.pending.delete(r.id);
      p?.resolve(r);
    });
    const fail = (e: Error) => {
      if (this.stopping) return;
      this.failed ??= e;
      for (const p of this.pending.values()) p.reject(e);
      this.pending.clear();
    };
    this.worker.on('error', (e) => fail(new Error(`the compute thread failed: ${e.message}`)));
    this.worker.on('exit', (code) => fail(new Error(`the compute thread stopped (exit code ${code})`)));
  }

  public send(request: WithoutId<WorkerRequest>, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.failed) return Promise.reject(this.failed);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...request, id }, transfer);
    });
  }

  public async terminate(): Promise<void> {
    this.stopping = true;
    await this.worker.terminate();
  }
}

/**
 * The compute threads of an inference server: onnxruntime's `session.run` blocks the thread it runs on, so the
 * server runs sessions on these threads and keeps its event loop for reading requests and writing responses. A
 * model version with `instance_group` count n has n sessions, on threads 0..n-1 (threads are started as models
 * need them, so the pool is as large as the largest instance count); each thread runs one session at a time.
 */
export class ComputePool {
  private readonly threads: ComputeThread[] = [];
  private nextSession = 1;

  /** Threads started. */
  public get size(): number {
    return this.threads.length;
  }

  /**
   * Why a compute thread stopped, if one has: its sessions cannot run any more, so the server is no longer live
   * (the kubelet restarts the container) rather than answering 500 to every request of those models.
   */
  public get failure(): Error | undefined {
    return this.threads.find((t) => t.failed)?.failed;
  }

  private thread(i: number): ComputeThread {
    while (this.threads.length <= i) this.threads.push(new ComputeThread(this.threads.length));
    return this.threads[i];
  }

  /**
   * Opens `instances` sessions of a model file, one per thread, as one {@link ModelSession} that runs a request on
   * a free one.
   * @throws ModelFileError naming the file when onnxruntime cannot load it
   */
  public async open(
    file: string,
    options: ort.InferenceSession.SessionOptions,
    instances = 1,
  ): Promise<ModelSession> {
    const opened: { thread: ComputeThread; session: number }[] = [];
    let metadata: WorkerReply['metadata'];
    try {
      for (let i = 0; i < Math.max(1, instances); i++) {
        const thread = this.thread(i);
        const session = this.nextSession++;
        const r = await thread.send({ op: 'open', session, file, options });
        if (r.error) {
          throw r.error.file !== undefined
            ? new ModelFileError(r.error.file, r.error.message.slice(r.error.file.length + 2))
            : new Error(r.error.message);
        }
        opened.push({ thread, session });
        metadata = r.metadata;
      }
    } catch (e) {
      for (const o of opened) await this.release(o.thread, o.session);
      throw e;
    }
    return new PooledSession(this, opened, metadata!);
  }

  /** Releases one session. */
  public async release(thread: ComputeThread, session: number): Promise<void> {
    await thread.send({ op: 'release', session }).catch(() => undefined);
  }

  /** Stops every thread (after the server has released its models). */
  public async close(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
    this.threads.length = 0;
  }
}

/** A model version's sessions on the pool's threads; a run goes to a free one. */
class PooledSession implements ModelSession {
  public readonly inputMetadata: readonly ValueMetadata[];
  public readonly outputMetadata: readonly ValueMetadata[];
  private readonly busy: boolean[];
  private released = false;

  constructor(
    private readonly pool: ComputePool,
    private readonly instances: readonly { thread: ComputeThread; session: number }[],
    metadata: NonNullable<WorkerReply['metadata']>,
  ) {
    this.inputMetadata = metadata.inputs;
    this.outputMetadata = metadata.outputs;
    this.busy = instances.map(() => false);
  }

  public async run(feeds: Record<string, ort.Tensor>, owned = false): Promise<Record<string, ort.Tensor>> {
    if (this.released) throw new Error('the session was released');
    // The batcher keeps at most `instances` runs in flight; a free session is there.
    let i = this.busy.indexOf(false);
    if (i === -1) i = 0;
    this.busy[i] = true;
    try {
      const wire: Record<string, WireTensor> = {};
      const transfer: ArrayBuffer[] = [];
      for (const [name, t] of Object.entries(feeds)) {
        wire[name] = toWire(t);
        if (owned && t.type !== 'string') transfer.push((t.data as Uint8Array).buffer as ArrayBuffer);
      }
      const { thread, session } = this.instances[i];
      const r = await thread.send({ op: 'run', session, feeds: wire }, [...new Set(transfer)]);
      if (r.error) throw new Error(r.error.message);
      const outputs: Record<string, ort.Tensor> = {};
      for (const [name, t] of Object.entries(r.outputs!)) outputs[name] = fromWire(t);
      return outputs;
    } finally {
      this.busy[i] = false;
    }
  }

  public async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    for (const { thread, session } of this.instances) await this.pool.release(thread, session);
  }
}

/** A session in this thread, as a {@link ModelSession}. */
export function inProcessSession(session: ort.InferenceSession): ModelSession {
  return {
    inputMetadata: session.inputMetadata.map(plainMetadata),
    outputMetadata: session.outputMetadata.map(plainMetadata),
    run: (feeds) => session.run(feeds),
    release: () => session.release(),
  };
}
