import * as http from 'node:http';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import type * as ort from 'onnxruntime-node';
import { CaptureWriter, type CaptureOptions } from './capture';
import { ComputePool } from './compute-pool';
import { GrpcFrontEnd } from './grpc';
import { InferenceMetrics, type StatisticDuration, type VersionMetrics } from './metrics';
import {
  type LoadOptions,
  loadModelByName,
  loadRepositoryState,
  type ModelVersion,
  NOT_LOADED,
  releaseAll,
  type ServedModel,
  type UnavailableModel,
} from './repository';
import { buildFeeds, type OutputChoice, selectOutputs } from './request';
import {
  InferenceError,
  type RequestInput,
  tensorDataBinary,
  tensorDataJson,
  tensorDatatype,
  tensorFromBinary,
  tensorFromJson,
} from './tensors';

/** Options of {@link InferenceServer.start}. */
export interface ServerOptions extends LoadOptions {
  /**
   * Address to listen on.
   * @default '127.0.0.1'
   */
  readonly host?: string;
  /**
   * Port; 0 picks a free one.
   * @default 8000
   */
  readonly port?: number;
  /**
   * Largest request body; larger ones get 413.
   * @default 64 MiB
   */
  readonly maxBodyBytes?: number;
  /**
   * Largest JSON part of a request: a whole JSON body, or the JSON header of a body with binary tensors (Triton's
   * binary extension, for larger tensors). `JSON.parse` blocks the event loop for about 12 ms a MiB (measured),
   * so 8 MiB keeps a stall near 100 ms.
   * @default 8 MiB
   */
  readonly maxJsonBytes?: number;
  /**
   * Request bodies held at once, all requests together; a request that would exceed it gets 503.
   * @default 256 MiB
   */
  readonly maxTotalBodyBytes?: number;
  /**
   * How long `close()` waits for in-flight requests before closing their connections.
   * @default 30000
   */
  readonly drainTimeoutMs?: number;
  /**
   * Time a client has to send the request line and headers; then 408 and the connection closes.
   * @default 10000
   */
  readonly headersTimeoutMs?: number;
  /**
   * Time the request body may go without a byte; then 408. On shutdown a body that stalls for 1 s is cut, so a
   * client that sends nothing does not hold the drain.
   * @default 30000
   */
  readonly bodyTimeoutMs?: number;
  /**
   * Time to receive a whole request (headers and body), however steadily it trickles in; then 408.
   * @default 300000
   */
  readonly requestTimeoutMs?: number;
  /**
   * Time an idle keep-alive connection is kept open.
   * @default 65000
   */
  readonly idleTimeoutMs?: number;
  /**
   * Port of the KServe v2 gRPC service (`inference.GRPCInferenceService`; Triton's is 8001); 0 picks a free one.
   * @default - no gRPC service
   */
  readonly grpcPort?: number;
  /**
   * Run the models on compute threads, so that reading requests and writing responses overlap with compute
   * (onnxruntime's `session.run` blocks the thread it runs on). A model with `instance_group` count n runs n
   * sessions on n threads; the pool is as large as the largest count. Off: every session runs on the event loop's
   * thread.
   * @default true
   */
  readonly computeThreads?: boolean;
  /** Server version reported at `GET /v2`. */
  readonly version?: string;
  /**
   * Stop at the first model that cannot be loaded, as Triton's `--exit-on-error`; otherwise that model is
   * `UNAVAILABLE` (with its reason in `POST /v2/repository/index`) and the others are served.
   * @default false
   */
  readonly exitOnError?: boolean;
  /**
   * Triton's `--strict-readiness`: `/v2/health/ready` is ready only when every model of the repository is; without
   * it, when the server is up.
   * @default true
   */
  readonly strictReadiness?: boolean;
  /**
   * Triton's `--model-control-mode`: `explicit` loads only `loadModels` at start and lets clients load, reload and
   * unload models (`POST /v2/repository/models/<name>/load|unload`); `none` loads every model and refuses those.
   * @default 'none'
   */
  readonly modelControlMode?: 'none' | 'explicit';
  /**
   * With explicit model control, the models to load at start (`*`: all), as Triton's `--load-model`.
   * @default - none
   */
  readonly loadModels?: readonly string[];
  /**
   * Capture a sample of requests and responses as JSON Lines for drift detection (`mlstack drift --current
   * <dir>/<model>`).
   * @default - nothing is captured
   */
  readonly capture?: CaptureOptions;
}

const INFER_HEADER = 'inference-header-content-length';
const MODEL_PATH = /^\/v2\/models\/([^/]+)(?:\/versions\/([^/]+))?(?:\/(ready|config|infer|stats))?$/;

interface InferRequest {
  id?: unknown;
  parameters?: Record<string, unknown>;
  inputs?: RequestInput[];
  outputs?: { name: string; parameters?: Record<string, unknown> }[];
}

/**
 * A KServe v2 / Open Inference Protocol server over HTTP, as Triton implements it, on onnxruntime-node:
 * health, server and model metadata, model config, inference with JSON and Triton's binary tensor extension,
 * dynamic batching per model version, Prometheus metrics with Triton's names, and a graceful drain on close.
 */
export class InferenceServer {
  /** Loads `root` (an `.onnx` file or a Triton repository) and starts listening. */
  public static async start(root: string, options: ServerOptions = {}): Promise<InferenceServer> {
    const explicit = options.modelControlMode === 'explicit';
    const only =
      explicit && !(options.loadModels ?? []).includes('*') ? (options.loadModels ?? []) : undefined;
    const computePool = options.computeThreads === false ? undefined : new ComputePool();
    const withPool: ServerOptions = { ...options, ...(computePool ? { computePool } : {}) };
    let state;
    try {
      state = await loadRepositoryState(root, { ...withPool, ...(only ? { only } : {}) });
    } catch (e) {
      await computePool?.close();
      throw e;
    }
    const server = new InferenceServer(state.models, withPool, state.unavailable, root);
    try {
      await server.listen(options.host ?? '127.0.0.1', options.port ?? 8000);
      if (options.grpcPort !== undefined) {
        server.grpc = await GrpcFrontEnd.start(server, {
          host: options.host ?? '127.0.0.1',
          port: options.grpcPort,
          maxMessageBytes: server.maxBodyBytes,
          idleTimeoutMs: options.idleTimeoutMs ?? 65_000,
          repository: root,
        });
      }
    } catch (e) {
      await server.close(0);
      throw e;
    }
    return server;
  }

  public readonly metrics = new InferenceMetrics();
  /** The gRPC front end, with `grpcPort`. */
  private grpc?: GrpcFrontEnd;
  private readonly http: http.Server;
  /** Largest request body (HTTP) or message (gRPC). */
  public readonly maxBodyBytes: number;
  private readonly maxJsonBytes: number;
  private draining = false;
  /** Requests whose body is being read: on shutdown each gets at most 1 s more without a byte. */
  private readonly reading = new Set<BodyReader>();
  /** Bytes of request bodies held now, and each request's share. */
  private bodyBytes = 0;
  private readonly bodyShare = new WeakMap<http.IncomingMessage, number>();
  private inFlight = 0;
  /** The capture writer, with `capture`. */
  public readonly capture?: CaptureWriter;
  private readonly series = new Map<ModelVersion, VersionMetrics>();

  private constructor(
    /** The served models by name. */
    public readonly models: Map<string, ServedModel>,
    private readonly options: ServerOptions,
    private readonly broken: Map<string, UnavailableModel> = new Map(),
    /** The repository, for explicit model control. */
    private readonly root?: string,
  ) {
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.maxJsonBytes = options.maxJsonBytes ?? 8 * 1024 * 1024;
    const headersTimeout = options.headersTimeoutMs ?? 10_000;
    this.http = http.createServer(
      {
        headersTimeout,
        // Node needs requestTimeout >= headersTimeout (0 turns it off).
        requestTimeout: Math.max(options.requestTimeoutMs ?? 300_000, headersTimeout),
        // How often Node checks those two: often enough that a timeout is answered near its time.
        connectionsCheckingInterval: Math.min(1000, headersTimeout),
      },
      (req, res) => void this.handle(req, res),
    );
    this.http.keepAliveTimeout = options.idleTimeoutMs ?? 65_000;
    if (options.capture) this.capture = new CaptureWriter(options.capture);
    for (const m of models.values()) this.track(m);
  }

  /** The models of the repository that are not served (could not be loaded, or not loaded), with their reasons. */
  public get unavailable(): ReadonlyMap<string, UnavailableModel> {
    return this.broken;
  }

  /** Metrics series for each version of a model that starts serving. */
  private track(m: ServedModel): void {
    for (const v of m.versions) {
      const series = this.metrics.forVersion(m.name, v.version);
      this.series.set(v, series);
      v.batcher.onExecute = () => series.executed();
    }
  }

  /** `http://host:port`. */
  public get url(): string {
    const a = this.http.address() as AddressInfo;
    const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
    return `http://${host}:${a.port}`;
  }

  /** Requests being handled now (read, queued or running), HTTP and gRPC. */
  public get activeRequests(): number {
    return this.inFlight + (this.grpc?.active ?? 0);
  }

  /** The bound port. */
  public get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** Compute threads running the models' sessions (0 with `computeThreads: false`). */
  public get computeThreads(): number {
    return this.options.computePool?.size ?? 0;
  }

  /** The bound gRPC port, with `grpcPort`. */
  public get grpcPort(): number | undefined {
    return this.grpc?.port;
  }

  private listen(host: string, port: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => {
        this.http.off('error', reject);
        resolve();
      });
    });
  }

  /**
   * Stops accepting connections and lets in-flight requests finish (readiness turns 503 meanwhile; responses
   * carry `Connection: close`). Requests already sent on open keep-alive connections are still served: the
   * connections close once no request has been in flight for `idleGraceMs`. Then the models are released.
   */
  public async close(idleGraceMs = 200): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    // net.Server#close stops accepting; http.Server#close would also drop idle keep-alive connections at once,
    // losing requests a client has sent but the server has not read yet.
    const closed = new Promise<void>((resolve) =>
      net.Server.prototype.close.call(this.http, () => resolve()),
    );
    for (const r of this.reading) r.shorten(1000);
    const drainMs = this.options.drainTimeoutMs ?? 30_000;
    const deadline = Date.now() + drainMs;
    const grpcClosed = this.grpc?.close(drainMs);
    let quietSince = this.activeRequests === 0 ? Date.now() : Infinity;
    while (Date.now() < deadline) {
      if (this.activeRequests > 0) quietSince = Infinity;
      else if (quietSince === Infinity) quietSince = Date.now();
      else if (Date.now() - quietSince >= idleGraceMs) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    this.http.closeAllConnections();
    await closed;
    await grpcClosed;
    // Captured rows of the last requests are written before the process may exit.
    await new Promise((r) => setImmediate(r));
    await this.capture?.close();
    await releaseAll(this.models);
    await this.options.computePool?.close();
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.inFlight++;
    if (this.draining) res.setHeader('Connection', 'close');
    try {
      await this.route(req, res);
    } catch (e) {
      const err = e instanceof InferenceError ? e : new InferenceError(500, (e as Error).message);
      if (!res.headersSent) {
        // A request whose body was not read to its end cannot share the connection with the next one.
        if (err.status === 408 || err.status === 413) res.setHeader('Connection', 'close');
        sendJson(res, err.status, { error: err.message });
      } else res.end();
    } finally {
      this.inFlight--;
      this.bodyBytes -= this.bodyShare.get(req) ?? 0;
      this.bodyShare.delete(req);
    }
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = req.url ?? '/';
    const q = raw.indexOf('?');
    const p = (q === -1 ? raw : raw.slice(0, q)).replace(/\/+$/, '') || '/';
    const method = req.method ?? 'GET';
    const get = (fn: () => void | Promise<void>) => {
      if (method !== 'GET' && method !== 'HEAD')
        throw new InferenceError(405, `${method} is not allowed on ${p}; use GET`);
      return fn();
    };

    if (p === '/v2/health/live') {
      return get(() => {
        const failure = this.options.computePool?.failure;
        sendJson(res, this.live ? 200 : 503, {
          live: this.live,
          ...(failure ? { error: failure.message } : {}),
        });
      });
    }
    if (p === '/v2/health/ready') {
      return get(() => {
        const ready = this.ready;
        sendJson(res, ready ? 200 : 503, { ready });
      });
    }
    const control = /^\/v2\/repository\/models\/([^/]+)\/(load|unload)$/.exec(p);
    if (control) {
      if (method !== 'POST') throw new InferenceError(405, `${method} is not allowed on ${p}; use POST`);
      const name = decodePathSegment(control[1]);
      await (control[2] === 'load' ? this.loadModel(name) : this.unloadModel(name));
      return sendJson(res, 200, {});
    }
    if (p === '/v2/repository/index') {
      if (method !== 'POST') throw new InferenceError(405, `${method} is not allowed on ${p}; use POST`);
      return this.handleRepositoryIndex(req, res);
    }
    if (p === '/v2') return get(() => sendJson(res, 200, this.serverMetadata()));
    if (p === '/metrics') {
      return get(async () => {
        res.writeHead(200, { 'Content-Type': this.metrics.registry.contentType });
        res.end(await this.metrics.registry.metrics());
      });
    }
    if (p === '/v2/models/stats') return get(() => sendJson(res, 200, this.modelStatistics()));
    const m = MODEL_PATH.exec(p);
    if (!m) throw new InferenceError(404, `no route for ${method} ${p}`);
    const name = decodePathSegment(m[1]);
    const versionArg = m[2] !== undefined ? decodePathSegment(m[2]) : undefined;
    const action = m[3];
    if (this.broken.has(name) && action === 'ready') {
      return get(() => sendJson(res, 400, { name, ready: false, error: `model '${name}' is unavailable` }));
    }
    const { model, version } = this.resolve(name, versionArg);

    if (action === 'infer') {
      if (method !== 'POST') throw new InferenceError(405, `${method} is not allowed on ${p}; use POST`);
      return this.infer(req, res, version);
    }
    if (action === 'ready') {
      return get(() => {
        const ready = this.modelReady(name, versionArg);
        sendJson(res, ready ? 200 : 503, { name, ready });
      });
    }
    if (action === 'config') return get(() => sendJson(res, 200, model.config));
    if (action === 'stats') return get(() => sendJson(res, 200, this.modelStatistics(name, versionArg)));
    return get(() => sendJson(res, 200, this.modelMetadata(name, versionArg)));
  }

  /** KServe v2 server metadata: name, version and the protocol extensions served. */
  public serverMetadata(): { name: string; version: string; extensions: string[] } {
    return {
      name: 'mlstack',
      version: this.options.version ?? '0.0.0',
      extensions: ['binary_tensor_data', 'model_configuration', 'model_repository', 'statistics'],
    };
  }

  /**
   * Triton's statistics extension: cumulative counts and durations (ns) of each served version of `name` (every
   * model without it), as `GET /v2/models[/<name>[/versions/<v>]]/stats` and gRPC `ModelStatistics` answer.
   * @throws InferenceError 404 for an unknown model or version
   */
  public modelStatistics(name?: string, version?: string): { model_stats: ModelStatisticsEntry[] } {
    if (name !== undefined) this.resolve(name, version);
    return {
      model_stats: this.metrics.statistics(name, version).map((x) => ({
        name: x.name,
        version: x.version,
        last_inference: x.lastInference,
        inference_count: x.inferenceCount,
        execution_count: x.executionCount,
        inference_stats: {
          success: { ...x.success },
          fail: { ...x.fail },
          queue: { ...x.queue },
          compute_input: { ...x.computeInput },
          compute_infer: { ...x.computeInfer },
          compute_output: { ...x.computeOutput },
        },
      })),
    };
  }

  /** The server is live: its compute threads run (a stopped one cannot run its models any more). */
  public get live(): boolean {
    return this.options.computePool?.failure === undefined;
  }

  /** The server is ready: not draining, and (with strict readiness) every model of the repository is served. */
  public get ready(): boolean {
    return (
      !this.draining &&
      this.live &&
      ((this.options.strictReadiness ?? true) === false ||
        ![...this.broken.values()].some((u) => u.reason !== NOT_LOADED))
    );
  }

  /** A model version serves (the highest version when `version` is not given). */
  public modelReady(name: string, version?: string): boolean {
    if (this.draining) return false;
    const model = this.models.get(name);
    return (
      model !== undefined && (version === undefined || model.versions.some((v) => v.version === version))
    );
  }

  /**
   * The served model and version a request names (the highest version when `version` is not given).
   * @throws InferenceError 404 for an unknown model or version, 503 for a model that could not be loaded
   */
  public resolve(name: string, version?: string): { model: ServedModel; version: ModelVersion } {
    const model = this.models.get(name);
    const broken = this.broken.get(name);
    if (broken)
      throw new InferenceError(503, `model '${name}' is unavailable: ${broken.reason.split('\n')[0]}`);
    if (!model) throw new InferenceError(404, `unknown model '${name}'`);
    const found =
      version === undefined ? model.versions[0] : model.versions.find((v) => v.version === version);
    if (!found) {
      throw new InferenceError(
        404,
        `unknown version '${version}' of model '${name}'; served versions: ${model.versions.map((v) => v.version).join(', ')}`,
      );
    }
    return { model, version: found };
  }

  /** KServe v2 model metadata: every served version without `version`, else that one. */
  public modelMetadata(name: string, version?: string): ModelMetadata {
    const { model, version: mv } = this.resolve(name, version);
    const tensor = (t: { name: string; datatype: string; shape: readonly number[] }) => ({
      name: t.name,
      datatype: t.datatype,
      shape: [...t.shape],
    });
    return {
      name,
      versions: version === undefined ? model.versions.map((v) => v.version) : [mv.version],
      platform: 'onnxruntime_onnx',
      inputs: mv.signature.inputs.map(tensor),
      outputs: mv.signature.outputs.map(tensor),
    };
  }

  /** Triton's repository index: every model with its version and state; `readyOnly` lists the served ones. */
  public repositoryIndex(readyOnly = false): RepositoryIndexEntry[] {
    const entries: RepositoryIndexEntry[] = [];
    for (const m of this.models.values()) {
      for (const v of m.versions) entries.push({ name: m.name, version: v.version, state: 'READY' });
    }
    if (!readyOnly) {
      for (const u of this.broken.values())
        entries.push({ name: u.name, state: 'UNAVAILABLE', reason: u.reason });
    }
    return entries.sort(
      (a, b) => a.name.localeCompare(b.name) || Number(b.version ?? 0) - Number(a.version ?? 0),
    );
  }

  /**
   * Triton's model repository extension, `POST /v2/repository/index`: every model with its version and state
   * (`READY`, or `UNAVAILABLE` with the reason it could not be loaded); `{"ready": true}` lists the ready ones.
   */
  private async handleRepositoryIndex(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await this.readBody(req, 64 * 1024);
    let readyOnly = false;
    if (body.length > 0) {
      const parsed = parseJsonObject(body, 'a JSON object such as {"ready": true}');
      readyOnly = parsed.ready === true;
    }
    sendJson(res, 200, this.repositoryIndex(readyOnly));
  }

  /** Reads a request body with the body timeout, registered so that shutdown can cut it short. */
  private async readBody(req: http.IncomingMessage, limit: number): Promise<Buffer> {
    // A JSON body is parsed at once: it has the JSON limit; a body with binary tensors the body limit.
    const binary = req.headers[INFER_HEADER] !== undefined;
    if (!binary && limit > this.maxJsonBytes) limit = this.maxJsonBytes;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > limit) {
      req.resume(); // discard, so that the response can be read
      throw new InferenceError(
        413,
        binary
          ? `request body exceeds the limit of ${limit} bytes`
          : `request body exceeds the limit of ${limit} bytes for JSON (this one is ${declared}): send large tensors as binary data (Triton's binary tensor extension, Inference-Header-Content-Length)`,
      );
    }
    const total = this.options.maxTotalBodyBytes ?? 256 * 1024 * 1024;
    const share = Number.isFinite(declared) ? declared : limit;
    if (this.bodyBytes + share > total) {
      req.resume();
      throw new InferenceError(
        503,
        `the server holds ${this.bodyBytes} bytes of request bodies (limit ${total}); retry later`,
      );
    }
    this.bodyBytes += share;
    this.bodyShare.set(req, (this.bodyShare.get(req) ?? 0) + share);
    const reader = new BodyReader(req, limit, this.options.bodyTimeoutMs ?? 30_000);
    if (this.draining) reader.shorten(1000);
    this.reading.add(reader);
    try {
      return await reader.body;
    } finally {
      this.reading.delete(reader);
    }
  }

  /** Serializes model loads and unloads. */
  private controlQueue: Promise<unknown> = Promise.resolve();
  /** Requests using each model version now: a version is released only when none is. */
  private readonly versionUse = new Map<ModelVersion, number>();

  /**
   * Triton's explicit model control: (re)loads a model from the repository as it is now; a failed reload keeps the
   * version that serves, and the replaced versions are released once their requests are answered.
   * @throws InferenceError 400 when model control is not explicit or the model cannot be loaded
   */
  public loadModel(name: string): Promise<void> {
    return this.modelControl(name, 'load');
  }

  /** Stops serving a model (explicit model control); its sessions are released once its requests are answered. */
  public unloadModel(name: string): Promise<void> {
    return this.modelControl(name, 'unload');
  }

  private async modelControl(name: string, action: 'load' | 'unload'): Promise<void> {
    if (this.options.modelControlMode !== 'explicit' || !this.root) {
      throw new InferenceError(
        400,
        `model control is disabled: start the server with --model-control-mode explicit`,
      );
    }
    const root = this.root;
    const run = this.controlQueue.then(async () => {
      const old = this.models.get(name);
      if (action === 'load') {
        let loaded: ServedModel;
        try {
          loaded = await loadModelByName(root, name, this.options);
        } catch (e) {
          if (!old) this.broken.set(name, { name, reason: (e as Error).message });
          throw new InferenceError(
            400,
            `failed to load '${name}': ${(e as Error).message.split('\n').join(' ')}`,
          );
        }
        this.track(loaded);
        this.models.set(name, loaded);
        this.broken.delete(name);
      } else {
        if (!old && !this.broken.has(name)) throw new InferenceError(400, `unknown model '${name}'`);
        this.models.delete(name);
        this.broken.set(name, { name, reason: NOT_LOADED });
      }
      if (old) void this.retire(old);
    });
    this.controlQueue = run.catch(() => undefined);
    await run;
  }

  /** Releases a model's sessions once no request uses them (bounded by the drain timeout). */
  private async retire(m: ServedModel): Promise<void> {
    const deadline = Date.now() + (this.options.drainTimeoutMs ?? 30_000);
    const busy = () =>
      m.versions.some(
        (v) => (this.versionUse.get(v) ?? 0) > 0 || v.batcher.pending > 0 || v.batcher.inFlight > 0,
      );
    while (busy() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    for (const v of m.versions) {
      this.versionUse.delete(v);
      await v.session.release();
    }
  }

  private infer(req: http.IncomingMessage, res: http.ServerResponse, mv: ModelVersion): Promise<void> {
    return this.execute(
      mv,
      async () => {
        const body = await this.readBody(req, this.maxBodyBytes);
        const received = process.hrtime.bigint();
        const { request, binary } = parseRequest(req, body, this.maxJsonBytes);
        const { feeds, batchSize } = httpFeeds(request, binary, mv);
        const outputs = selectOutputs(request.outputs, mv, request.parameters?.binary_data_output === true);
        return { feeds, batchSize, decodedAt: received, context: { request, outputs } };
      },
      (prepared, outputs) =>
        sendInferResponse(res, mv, prepared.context.request, prepared.context.outputs, outputs),
    );
  }

  /**
   * Runs one inference request of either front end (HTTP or gRPC) through the version's batcher, with Triton's
   * metrics: `prepare` reads and decodes the request (decode time counts from `decodedAt`), `respond` encodes the
   * outputs. A failure counts as `REJECTED` (client errors, 503) or `BACKEND` and is thrown on.
   */
  public async execute<C, T>(
    mv: ModelVersion,
    prepare: () => Promise<PreparedRequest<C>> | PreparedRequest<C>,
    respond: (prepared: PreparedRequest<C>, outputs: Record<string, ort.Tensor>) => T,
  ): Promise<T> {
    const started = process.hrtime.bigint();
    const series = this.series.get(mv)!;
    this.versionUse.set(mv, (this.versionUse.get(mv) ?? 0) + 1);
    try {
      const prepared = await prepare();
      const decodedUs = Number((process.hrtime.bigint() - (prepared.decodedAt ?? started)) / 1000n);
      series.pending(1);
      let result;
      try {
        result = await mv.batcher.submit(prepared.feeds, prepared.batchSize);
      } finally {
        series.pending(-1);
      }
      const encoding = process.hrtime.bigint();
      const answer = respond(prepared, result.outputs);
      series.converted(decodedUs, Number((process.hrtime.bigint() - encoding) / 1000n));
      const capture = this.capture;
      // After the response is on its way; one random number for requests that are not sampled.
      if (capture?.sample()) {
        setImmediate(() => capture.record(mv.name, prepared.feeds, result.outputs, prepared.batchSize));
      }
      series.success();
      series.completed(
        prepared.batchSize,
        Number((process.hrtime.bigint() - started) / 1000n),
        result.queueUs,
        result.computeUs,
      );
      return answer;
    } catch (e) {
      const status = e instanceof InferenceError ? e.status : 500;
      series.failure(
        status >= 500 && status !== 503 ? 'BACKEND' : 'REJECTED',
        Number((process.hrtime.bigint() - started) / 1000n),
      );
      throw e;
    } finally {
      this.versionUse.set(mv, (this.versionUse.get(mv) ?? 1) - 1);
    }
  }
}

/** A decoded inference request, ready for the batcher. */
export interface PreparedRequest<C> {
  readonly feeds: Record<string, ort.Tensor>;
  readonly batchSize: number;
  /** When decoding started (after the body was received); the request's start when not given. */
  readonly decodedAt?: bigint;
  /** What the front end needs to encode the response. */
  readonly context: C;
}

/** KServe v2 model metadata. */
export interface ModelMetadata {
  readonly name: string;
  readonly versions: string[];
  readonly platform: string;
  readonly inputs: { name: string; datatype: string; shape: number[] }[];
  readonly outputs: { name: string; datatype: string; shape: number[] }[];
}

/** One model version's statistics, in Triton's statistics extension. */
export interface ModelStatisticsEntry {
  readonly name: string;
  readonly version: string;
  readonly last_inference: number;
  readonly inference_count: number;
  readonly execution_count: number;
  readonly inference_stats: Readonly<
    Record<
      'success' | 'fail' | 'queue' | 'compute_input' | 'compute_infer' | 'compute_output',
      StatisticDuration
    >
  >;
}

/** One entry of Triton's repository index. */
export interface RepositoryIndexEntry {
  readonly name: string;
  readonly version?: string;
  readonly state: 'READY' | 'UNAVAILABLE';
  readonly reason?: string;
}

/** A percent-encoded path segment; malformed encoding is the client's error (400), not the server's. */
function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new InferenceError(400, `the URL has malformed percent-encoding: ${JSON.stringify(segment)}`);
  }
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * Reads a request body up to `limit` bytes (beyond it, drains the rest and fails with 413: a body without a
 * declared length), failing with 408 when no byte arrives for `idleMs`.
 */
class BodyReader {
  public readonly body: Promise<Buffer>;
  private timer?: NodeJS.Timeout;
  private idleMs: number;
  private settled = false;

  constructor(req: http.IncomingMessage, limit: number, idleMs: number) {
    this.idleMs = idleMs;
    this.body = new Promise<Buffer>((resolve, reject) => {
      const done = (f: () => void) => {
        if (this.settled) return;
        this.settled = true;
        clearTimeout(this.timer);
        f();
      };
      this.onIdle = () =>
        done(() => {
          reject(new InferenceError(408, `the request body stalled: no byte for ${this.idleMs} ms`));
          req.unpipe();
          req.pause();
        });
      // A declared length over the limit never gets here (the server answers 413 before reading).
      const tooLarge = () => new InferenceError(413, `request body exceeds the limit of ${limit} bytes`);
      const chunks: Buffer[] = [];
      let size = 0;
      let over = false;
      req.on('data', (c: Buffer) => {
        this.arm();
        size += c.length;
        if (size > limit) over = true;
        if (!over) chunks.push(c);
      });
      req.on('end', () => done(() => (over ? reject(tooLarge()) : resolve(Buffer.concat(chunks, size)))));
      req.on('error', (e) =>
        done(() => reject(new InferenceError(400, `request body could not be read: ${e.message}`))),
      );
      req.on('aborted', () => done(() => reject(new InferenceError(400, 'request aborted'))));
      this.arm();
    });
  }

  /** Allows at most `ms` more without a byte (shutdown). */
  public shorten(ms: number): void {
    if (this.settled || ms >= this.idleMs) return;
    this.idleMs = ms;
    this.arm();
  }

  private onIdle: () => void = () => {};

  private arm(): void {
    if (this.settled) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onIdle(), this.idleMs);
    this.timer.unref();
  }
}

/** Splits a body into the JSON request and the binary tensor data that follows it. */
function parseRequest(
  req: http.IncomingMessage,
  body: Buffer,
  jsonLimit: number,
): { request: InferRequest; binary: Buffer } {
  const headerLen = req.headers[INFER_HEADER];
  let jsonPart: Buffer = body;
  let binary: Buffer = Buffer.alloc(0);
  if (headerLen !== undefined) {
    const n = Number(headerLen);
    if (!Number.isInteger(n) || n < 0 || n > body.length) {
      throw new InferenceError(
        400,
        `Inference-Header-Content-Length (${headerLen}) must be an integer between 0 and the body length (${body.length})`,
      );
    }
    if (n > jsonLimit) {
      throw new InferenceError(
        413,
        `the JSON header of the request is ${n} bytes, over the limit of ${jsonLimit}`,
      );
    }
    jsonPart = body.subarray(0, n);
    binary = body.subarray(n);
  }
  const request = parseJsonObject(jsonPart, 'a JSON object with an "inputs" list');
  return { request: request as InferRequest, binary };
}

/** A request body that must be a JSON object; anything else is the client's error (400). */
function parseJsonObject(body: Buffer, expected: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new InferenceError(400, `malformed JSON in the request: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new InferenceError(400, `the request must be ${expected}`);
  }
  return parsed as Record<string, unknown>;
}

/** The feeds of an HTTP request: each input from its JSON `data` or its slice of the binary data that follows. */
function httpFeeds(
  request: InferRequest,
  binary: Buffer,
  mv: ModelVersion,
): { feeds: Record<string, ort.Tensor>; batchSize: number } {
  let offset = 0;
  const built = buildFeeds(request.inputs, mv, (input, sig) => {
    const size = input.parameters?.binary_data_size;
    if (size === undefined) return tensorFromJson(input, sig.datatype);
    if (typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
      throw new InferenceError(400, `input '${input.name}': binary_data_size must be a non-negative integer`);
    }
    if (offset + size > binary.length) {
      throw new InferenceError(
        400,
        `input '${input.name}': binary_data_size ${size} runs past the end of the binary data (${binary.length - offset} bytes left)`,
      );
    }
    const tensor = tensorFromBinary(input, sig.datatype, binary.subarray(offset, offset + size));
    offset += size;
    return tensor;
  });
  if (offset !== binary.length) {
    throw new InferenceError(
      400,
      `${binary.length - offset} bytes of binary data follow the inputs that no input claims`,
    );
  }
  return built;
}

function sendInferResponse(
  res: http.ServerResponse,
  mv: ModelVersion,
  request: InferRequest,
  choices: OutputChoice[],
  outputs: Record<string, ort.Tensor>,
): void {
  const parts: string[] = [];
  const blobs: Buffer[] = [];
  for (const c of choices) {
    const t = outputs[c.name];
    const head = `"name":${JSON.stringify(c.name)},"datatype":"${tensorDatatype(t)}","shape":${JSON.stringify(t.dims)}`;
    if (c.binary) {
      const blob = tensorDataBinary(t);
      blobs.push(blob);
      parts.push(`{${head},"parameters":{"binary_data_size":${blob.length}}}`);
    } else {
      parts.push(`{${head},"data":${tensorDataJson(t)}}`);
    }
  }
  const id = request.id !== undefined ? `,"id":${JSON.stringify(request.id)}` : '';
  const json = `{"model_name":${JSON.stringify(mv.name)},"model_version":${JSON.stringify(mv.version)}${id},"outputs":[${parts.join(',')}]}`;
  if (blobs.length === 0) {
    res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(json) });
    res.end(json);
    return;
  }
  const header = Buffer.from(json, 'utf8');
  const body = Buffer.concat([header, ...blobs]);
  res.writeHead(200, {
    'Content-Type': 'application/octet-stream',
    'Content-Length': body.length,
    'Inference-Header-Content-Length': header.length,
  });
  res.end(body);
}
