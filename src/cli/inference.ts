import { inspectModel, type ModelSignature } from '../inference/inspect';
import type { InferenceServer as Server } from '../inference/server';
import { tritonConfig } from '../inference/triton-config';
import * as path from 'node:path';
import { peerRange } from '../synth/package-info';

/** Options of `mlstack inspect`. */
export interface InspectOptions {
  readonly json: boolean;
  readonly tritonConfig: boolean;
  readonly name?: string;
  readonly maxBatchSize?: number;
}

/** `mlstack inspect`: the signature as a table or JSON, or the generated `config.pbtxt`. */
export async function inspectCommand(
  file: string,
  opts: InspectOptions,
  out: (s: string) => void,
): Promise<void> {
  const sig = await inspectModel(file);
  if (opts.tritonConfig) {
    const name = opts.name ?? path.basename(file).replace(/\.onnx$/i, '');
    out(
      tritonConfig(sig, {
        name,
        ...(opts.maxBatchSize !== undefined ? { maxBatchSize: opts.maxBatchSize } : {}),
      }),
    );
  } else if (opts.json) {
    out(`${JSON.stringify(sig, null, 2)}\n`);
  } else {
    out(signatureTable(file, sig));
  }
}

/** A plain-text table of a signature. */
export function signatureTable(file: string, sig: ModelSignature): string {
  const rows = [
    ...sig.inputs.map((t) => ['input', t.name, t.datatype, `[${t.shape.join(', ')}]`]),
    ...sig.outputs.map((t) => ['output', t.name, t.datatype, `[${t.shape.join(', ')}]`]),
  ];
  const head = ['kind', 'name', 'datatype', 'shape'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]))
      .join('  ')
      .trimEnd();
  return [
    `${file}`,
    line(head),
    ...rows.map(line),
    `dynamic batch: ${sig.dynamicBatch ? 'yes (first dimension)' : 'no (max_batch_size 0)'}`,
    '',
  ].join('\n');
}

/** Options of `mlstack serve`. */
export interface ServeOptions {
  readonly host: string;
  readonly port: number;
  /** Port of the KServe v2 gRPC service; none when not given. */
  readonly grpcPort?: number;
  readonly threads?: number;
  /** Execution providers in preference order. */
  readonly executionProviders?: readonly string[];
  readonly maxBodyBytes?: number;
  /** Largest JSON part of a request. */
  readonly maxJsonBytes?: number;
  /** Request bodies held at once before 503. */
  readonly maxTotalBodyBytes?: number;
  readonly batching: boolean;
  /** Run the models on compute threads (default) or on the event loop's thread. */
  readonly computeThreads?: boolean;
  readonly version: string;
  /** Stop at the first model that cannot be loaded (else it is unavailable and the rest is served). */
  readonly exitOnError?: boolean;
  /** `/v2/health/ready` only when every model is (Triton's `--strict-readiness`). */
  readonly strictReadiness?: boolean;
  /** Triton's model control mode, and the models loaded at start with `explicit`. */
  readonly modelControlMode?: 'none' | 'explicit';
  readonly loadModel?: readonly string[];
  /** Client timeouts in milliseconds (`headersTimeoutMs` … of the server options). */
  readonly headersTimeout?: number;
  readonly bodyTimeout?: number;
  readonly requestTimeout?: number;
  readonly idleTimeout?: number;
  /** Capture folder, share of requests (default 0.1), interval (ms) and payload cap (bytes). */
  readonly captureDir?: string;
  readonly captureSampleRate?: number;
  readonly captureInterval?: number;
  readonly captureMaxPayloadBytes?: number;
}

/**
 * `mlstack serve`: loads the models, serves until SIGTERM or SIGINT, then drains in-flight requests and
 * resolves (the process then exits 0).
 */
export async function serveCommand(
  root: string,
  opts: ServeOptions,
  log: (s: string) => void,
): Promise<void> {
  const started = Date.now();
  const InferenceServer = loadServer();
  const server = await InferenceServer.start(root, {
    host: opts.host,
    port: opts.port,
    ...(opts.grpcPort !== undefined ? { grpcPort: opts.grpcPort } : {}),
    disableBatching: !opts.batching,
    computeThreads: opts.computeThreads ?? true,
    version: opts.version,
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.executionProviders?.length
      ? { executionProviders: opts.executionProviders, onFallback: (m: string) => log(m) }
      : {}),
    ...(opts.maxBodyBytes !== undefined ? { maxBodyBytes: opts.maxBodyBytes } : {}),
    ...(opts.maxJsonBytes !== undefined ? { maxJsonBytes: opts.maxJsonBytes } : {}),
    ...(opts.maxTotalBodyBytes !== undefined ? { maxTotalBodyBytes: opts.maxTotalBodyBytes } : {}),
    exitOnError: opts.exitOnError ?? false,
    modelControlMode: opts.modelControlMode ?? 'none',
    ...(opts.loadModel ? { loadModels: opts.loadModel } : {}),
    ...(opts.headersTimeout !== undefined ? { headersTimeoutMs: opts.headersTimeout } : {}),
    ...(opts.bodyTimeout !== undefined ? { bodyTimeoutMs: opts.bodyTimeout } : {}),
    ...(opts.requestTimeout !== undefined ? { requestTimeoutMs: opts.requestTimeout } : {}),
    ...(opts.idleTimeout !== undefined ? { idleTimeoutMs: opts.idleTimeout } : {}),
    strictReadiness: opts.strictReadiness ?? true,
    ...(opts.captureDir
      ? {
          capture: {
            dir: opts.captureDir,
            sampleRate: opts.captureSampleRate ?? 0.1,
            ...(opts.captureInterval !== undefined ? { intervalMs: opts.captureInterval } : {}),
            ...(opts.captureMaxPayloadBytes !== undefined
              ? { maxPayloadBytes: opts.captureMaxPayloadBytes }
              : {}),
          },
        }
      : {}),
  });
  const names = [...server.models.values()].map(
    (m) => `${m.name}@${m.versions.map((v) => v.version).join(',')}`,
  );
  log(
    `loaded ${names.length} model(s) in ${Date.now() - started} ms: ${names.slice(0, 10).join(' ')}${names.length > 10 ? ' …' : ''}`,
  );
  for (const u of server.unavailable.values()) {
    log(`unavailable: ${u.name}: ${u.reason.split('\n').join(' ')}`);
  }
  if (opts.captureDir) {
    log(
      `capturing ${((opts.captureSampleRate ?? 0.1) * 100).toFixed(1)}% of requests under ${opts.captureDir}`,
    );
  }
  const grpcPort = server.grpcPort;
  log(
    `serving on ${server.url}${grpcPort !== undefined ? ` and gRPC on ${new URL(server.url).hostname}:${grpcPort}` : ''}`,
  );
  await new Promise<void>((resolve) => {
    const stop = (sig: string) => {
      log(`${sig}: draining in-flight requests`);
      void server.close().then(() => {
        log('stopped');
        resolve();
      });
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
}

/**
 * The inference server, loaded on demand: it needs onnxruntime-node, an optional peer that only `mlstack serve`
 * uses (synth reads model signatures without it).
 * @throws a one-line error with the install command when onnxruntime-node is missing
 */
function loadServer(): typeof Server {
  try {
    require.resolve('onnxruntime-node');
  } catch {
    throw new Error(
      `mlstack serve needs onnxruntime-node, an optional peer dependency: run 'npm install onnxruntime-node@${peerRange('onnxruntime-node')}' (synth does not need it).`,
    );
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../inference/server') as typeof import('../inference/server')).InferenceServer;
}
