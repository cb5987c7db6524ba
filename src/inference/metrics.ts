import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** The metric series of one model version, bound to its labels once (label lookups cost on the hot path). */
export interface VersionMetrics {
  success(): void;
  /** A failed request, and how long it took (µs) when known. */
  failure(reason: 'REJECTED' | 'BACKEND', durationUs?: number): void;
  executed(): void;
  pending(delta: number): void;
  completed(batchSize: number, totalUs: number, queueUs: number, computeUs: number): void;
  /** Time spent decoding the request's tensors and encoding the response's, in microseconds. */
  converted(inputUs: number, outputUs: number): void;
}

/** A count and a cumulative duration in nanoseconds (Triton's `StatisticDuration`). */
export interface StatisticDuration {
  count: number;
  ns: number;
}

/**
 * One model version's cumulative statistics, as Triton's statistics extension reports them (gRPC `ModelStatistics`):
 * the same numbers as the Prometheus counters, kept as plain values so they can be read synchronously.
 */
export interface VersionStatistics {
  readonly name: string;
  readonly version: string;
  /** Milliseconds since the epoch of the last successful inference; 0 before the first. */
  lastInference: number;
  inferenceCount: number;
  executionCount: number;
  readonly success: StatisticDuration;
  readonly fail: StatisticDuration;
  readonly queue: StatisticDuration;
  readonly computeInput: StatisticDuration;
  readonly computeInfer: StatisticDuration;
  readonly computeOutput: StatisticDuration;
}

/**
 * The server's Prometheus metrics, named as Triton names them so that one set of dashboards and alerts
 * serves both runtimes (durations are cumulative microsecond counters, as in Triton), plus a latency
 * histogram for percentiles.
 * @see https://docs.nvidia.com/deeplearning/triton-inference-server/user-guide/docs/user_guide/metrics.html
 */
export class InferenceMetrics {
  public readonly registry = new Registry();
  public readonly success: Counter<'model' | 'version'>;
  public readonly failure: Counter<'model' | 'version' | 'reason'>;
  public readonly inferenceCount: Counter<'model' | 'version'>;
  public readonly execCount: Counter<'model' | 'version'>;
  public readonly requestDuration: Counter<'model' | 'version'>;
  public readonly queueDuration: Counter<'model' | 'version'>;
  public readonly computeDuration: Counter<'model' | 'version'>;
  public readonly inputDuration: Counter<'model' | 'version'>;
  public readonly outputDuration: Counter<'model' | 'version'>;
  public readonly pending: Gauge<'model' | 'version'>;
  public readonly latency: Histogram<'model' | 'version'>;

  constructor() {
    const registers = [this.registry];
    const labelNames = ['model', 'version'] as const;
    this.success = new Counter({
      name: 'nv_inference_request_success',
      help: 'Number of successful inference requests, all batch sizes',
      labelNames,
      registers,
    });
    this.failure = new Counter({
      name: 'nv_inference_request_failure',
      help: 'Number of failed inference requests, all batch sizes',
      labelNames: ['model', 'version', 'reason'] as const,
      registers,
    });
    this.inferenceCount = new Counter({
      name: 'nv_inference_count',
      help: 'Number of inferences performed (a batch of n counts n)',
      labelNames,
      registers,
    });
    this.execCount = new Counter({
      name: 'nv_inference_exec_count',
      help: 'Number of model executions performed (a batch counts 1)',
      labelNames,
      registers,
    });
    this.requestDuration = new Counter({
      name: 'nv_inference_request_duration_us',
      help: 'Cumulative inference request duration in microseconds',
      labelNames,
      registers,
    });
    this.queueDuration = new Counter({
      name: 'nv_inference_queue_duration_us',
      help: 'Cumulative inference queuing duration in microseconds',
      labelNames,
      registers,
    });
    this.computeDuration = new Counter({
      name: 'nv_inference_compute_infer_duration_us',
      help: 'Cumulative compute inference duration in microseconds',
      labelNames,
      registers,
    });
    // Triton's names for the time around compute: here, decoding the request body (JSON or binary) into tensors,
    // and encoding the outputs into the response.
    this.inputDuration = new Counter({
      name: 'nv_inference_compute_input_duration_us',
      help: 'Cumulative time decoding request inputs into tensors, in microseconds',
      labelNames,
      registers,
    });
    this.outputDuration = new Counter({
      name: 'nv_inference_compute_output_duration_us',
      help: 'Cumulative time encoding outputs into responses, in microseconds',
      labelNames,
      registers,
    });
    this.pending = new Gauge({
      name: 'nv_inference_pending_request_count',
      help: 'Instantaneous number of pending requests awaiting execution',
      labelNames,
      registers,
    });
    this.latency = new Histogram({
      name: 'mlstack_inference_request_duration_seconds',
      help: 'Inference request duration from arrival to response, for percentiles',
      labelNames,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
  }

  private readonly stats = new Map<string, VersionStatistics>();

  /** The statistics of the versions of `model` (all models without it) that have served, by name and version. */
  public statistics(model?: string, version?: string): VersionStatistics[] {
    return [...this.stats.values()].filter(
      (x) => (model === undefined || x.name === model) && (version === undefined || x.version === version),
    );
  }

  /** The series of one model version. */
  public forVersion(model: string, version: string): VersionMetrics {
    const d = (): StatisticDuration => ({ count: 0, ns: 0 });
    const key = `${model}\n${version}`;
    const stats: VersionStatistics = this.stats.get(key) ?? {
      name: model,
      version,
      lastInference: 0,
      inferenceCount: 0,
      executionCount: 0,
      success: d(),
      fail: d(),
      queue: d(),
      computeInput: d(),
      computeInfer: d(),
      computeOutput: d(),
    };
    this.stats.set(key, stats);
    const add = (x: StatisticDuration, us: number) => {
      x.count++;
      x.ns += us * 1000;
    };
    const success = this.success.labels(model, version);
    const rejected = this.failure.labels(model, version, 'REJECTED');
    const backend = this.failure.labels(model, version, 'BACKEND');
    const count = this.inferenceCount.labels(model, version);
    const exec = this.execCount.labels(model, version);
    const request = this.requestDuration.labels(model, version);
    const queue = this.queueDuration.labels(model, version);
    const compute = this.computeDuration.labels(model, version);
    const input = this.inputDuration.labels(model, version);
    const output = this.outputDuration.labels(model, version);
    const pending = this.pending.labels(model, version);
    const latency = this.latency.labels(model, version);
    return {
      success: () => success.inc(),
      failure: (reason, durationUs = 0) => {
        (reason === 'BACKEND' ? backend : rejected).inc();
        add(stats.fail, durationUs);
      },
      executed: () => {
        exec.inc();
        stats.executionCount++;
      },
      pending: (delta) => pending.inc(delta),
      completed: (batchSize, totalUs, queueUs, computeUs) => {
        count.inc(batchSize);
        request.inc(totalUs);
        queue.inc(queueUs);
        compute.inc(computeUs);
        latency.observe(totalUs / 1e6);
        stats.inferenceCount += batchSize;
        stats.lastInference = Date.now();
        add(stats.success, totalUs);
        add(stats.queue, queueUs);
        add(stats.computeInfer, computeUs);
      },
      converted: (inputUs, outputUs) => {
        input.inc(inputUs);
        output.inc(outputUs);
        add(stats.computeInput, inputUs);
        add(stats.computeOutput, outputUs);
      },
    };
  }
}
