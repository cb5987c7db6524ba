import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type * as ort from 'onnxruntime-node';
import { type KServeDatatype } from './datatypes';
import type { TensorSignature } from './inspect';
import type { ModelVersion } from './repository';
import { packageFile } from '../synth/package-info';
import { buildFeeds, selectOutputs } from './request';
import type { InferenceServer, RepositoryIndexEntry } from './server';
import {
  InferenceError,
  type RequestInput,
  tensorDataBinary,
  tensorDatatype,
  tensorFromBinary,
  tensorFromJson,
} from './tensors';

/** The KServe v2 gRPC service definition, shipped with mlstack (`proto/grpc_service.proto`). */
export const GRPC_PROTO_FILE = 'grpc_service.proto';

/** Options of the gRPC front end. */
export interface GrpcOptions {
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  /** Largest request message; larger ones get RESOURCE_EXHAUSTED. */
  readonly maxMessageBytes: number;
  /** Time an idle connection is kept open. */
  readonly idleTimeoutMs: number;
  /** The repository's path, for `repository_name` in the repository RPCs. */
  readonly repository?: string;
}

/** The proto file, from the sources or the build. */
function protoPath(): string {
  const p = packageFile(`proto/${GRPC_PROTO_FILE}`);
  if (!p) {
    throw new Error(
      `the gRPC service definition proto/${GRPC_PROTO_FILE} is missing from this copy of mlstack`,
    );
  }
  return p;
}

/** How messages are turned into objects: field names as in the proto, 64-bit integers as decimal strings. */
const LOADER: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  arrays: true,
  oneofs: true,
};

/** The service definition, loaded once. */
let service: grpc.ServiceDefinition | undefined;
function serviceDefinition(): grpc.ServiceDefinition {
  if (service) return service;
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(protoPath(), LOADER)) as unknown as {
    inference: { GRPCInferenceService: { service: grpc.ServiceDefinition } };
  };
  return (service = pkg.inference.GRPCInferenceService.service);
}

/** gRPC status of a request error, as Triton maps its error codes. */
export function grpcStatus(httpStatus: number): grpc.status {
  switch (httpStatus) {
    case 400:
    case 405:
      return grpc.status.INVALID_ARGUMENT;
    case 404:
      return grpc.status.NOT_FOUND;
    case 408:
      return grpc.status.DEADLINE_EXCEEDED;
    case 413:
      return grpc.status.RESOURCE_EXHAUSTED;
    case 501:
      return grpc.status.UNIMPLEMENTED;
    case 503:
      return grpc.status.UNAVAILABLE;
    default:
      return httpStatus >= 400 && httpStatus < 500 ? grpc.status.INVALID_ARGUMENT : grpc.status.INTERNAL;
  }
}

interface TensorContents {
  bool_contents: boolean[];
  int_contents: number[];
  int64_contents: string[];
  uint_contents: number[];
  uint64_contents: string[];
  fp32_contents: number[];
  fp64_contents: number[];
  bytes_contents: Buffer[];
}

interface InferRequestMessage {
  model_name: string;
  model_version: string;
  id: string;
  inputs: { name: string; datatype: string; shape: string[]; contents: TensorContents | null }[];
  outputs: { name: string }[];
  raw_input_contents: Buffer[];
}

/** The typed-contents field of each datatype (FP16 and BF16 have none: they travel as raw bytes). */
const CONTENTS_FIELD: Partial<Record<KServeDatatype, keyof TensorContents>> = {
  BOOL: 'bool_contents',
  INT8: 'int_contents',
  INT16: 'int_contents',
  INT32: 'int_contents',
  INT64: 'int64_contents',
  UINT8: 'uint_contents',
  UINT16: 'uint_contents',
  UINT32: 'uint_contents',
  UINT64: 'uint64_contents',
  FP32: 'fp32_contents',
  FP64: 'fp64_contents',
  BYTES: 'bytes_contents',
};

const bad = (message: string) => new InferenceError(400, message);

/** A shape of decimal strings (64-bit integers on the wire) as numbers; a dimension beyond 2^53 is an error. */
function shapeOf(name: string, shape: string[]): number[] {
  return shape.map((d) => {
    const n = Number(d);
    if (!Number.isSafeInteger(n)) throw bad(`input '${name}': shape dimension ${d} is out of range`);
    return n;
  });
}

/** A tensor from an input's typed `contents`, checked for the field its datatype uses, count and range. */
function tensorFromContents(
  input: RequestInput,
  datatype: KServeDatatype,
  contents: TensorContents | null,
): ort.Tensor {
  const field = CONTENTS_FIELD[datatype];
  if (!field) {
    throw bad(
      `input '${input.name}': ${datatype} has no typed contents field; send it in raw_input_contents`,
    );
  }
  const others = contents
    ? (Object.keys(contents) as (keyof TensorContents)[]).filter((k) => k !== field && contents[k].length > 0)
    : [];
  if (others.length > 0) {
    throw bad(`input '${input.name}': datatype ${datatype} takes ${field}, not ${others.join(', ')}`);
  }
  const values: unknown[] = contents?.[field] ?? [];
  // 64-bit integers arrive as decimal strings (every bit kept), bytes as buffers; the JSON path checks the rest.
  const data =
    field === 'int64_contents' || field === 'uint64_contents'
      ? (values as string[]).map((v) => BigInt(v))
      : field === 'bytes_contents'
        ? (values as Buffer[]).map((b) => b.toString('utf8'))
        : values;
  return tensorFromJson({ ...input, data }, datatype);
}

/**
 * The feeds of a `ModelInfer` request: every input from its entry of `raw_input_contents` (all of them) or from
 * its typed `contents` (none raw), as the protocol requires.
 */
function grpcFeeds(request: InferRequestMessage, mv: ModelVersion): ReturnType<typeof buildFeeds> {
  const raw = request.raw_input_contents;
  if (raw.length > 0 && raw.length !== request.inputs.length) {
    throw bad(
      `raw_input_contents has ${raw.length} entries for ${request.inputs.length} inputs: give one per input, in the order of inputs, or none`,
    );
  }
  const inputs = request.inputs.map((i) => ({
    name: i.name,
    datatype: i.datatype,
    shape: shapeOf(i.name, i.shape),
  }));
  return buildFeeds(inputs, mv, (input: RequestInput, sig: TensorSignature, index: number) => {
    const contents = request.inputs[index].contents;
    if (raw.length > 0) {
      if (contents && Object.values(contents).some((v: unknown[]) => v.length > 0)) {
        throw bad(`input '${input.name}': has contents although the request carries raw_input_contents`);
      }
      return tensorFromBinary(input, sig.datatype, raw[index]);
    }
    return tensorFromContents(input, sig.datatype, contents);
  });
}

type Handler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

/**
 * The KServe v2 gRPC front end of an {@link InferenceServer} (`inference.GRPCInferenceService`): health, metadata,
 * `ModelInfer` with typed contents or `raw_input_contents` (outputs always in `raw_output_contents`, as Triton
 * answers), and the model repository RPCs — through the same batcher, metrics and errors as HTTP.
 */
export class GrpcFrontEnd {
  /** Starts listening. */
  public static async start(server: InferenceServer, options: GrpcOptions): Promise<GrpcFrontEnd> {
    const front = new GrpcFrontEnd(server, options);
    const host = options.host.includes(':') ? `[${options.host}]` : options.host;
    front.port = await new Promise<number>((resolve, reject) =>
      front.grpc.bindAsync(`${host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (e, port) =>
        e ? reject(new Error(`gRPC cannot listen on ${host}:${options.port}: ${e.message}`)) : resolve(port),
      ),
    );
    return front;
  }

  /** The bound port. */
  public port = 0;
  /** Calls being handled now. */
  public active = 0;
  private readonly grpc: grpc.Server;

  private constructor(
    private readonly server: InferenceServer,
    private readonly options: GrpcOptions,
  ) {
    this.grpc = new grpc.Server({
      'grpc.max_receive_message_length': options.maxMessageBytes,
      'grpc.max_send_message_length': -1,
      'grpc.max_connection_idle_ms': options.idleTimeoutMs,
    });
    const unary =
      <Req, Res>(fn: (request: Req) => Res | Promise<Res>): Handler =>
      (call, callback) => {
        this.active++;
        Promise.resolve()
          .then(() => fn(call.request as Req))
          .then(
            (res) => callback(null, res),
            (e: unknown) => {
              const err = e instanceof InferenceError ? e : new InferenceError(500, (e as Error).message);
              callback({ code: grpcStatus(err.status), details: err.message });
            },
          )
          .finally(() => this.active--);
      };
    const handlers: Record<string, Handler> = {
      ServerLive: unary(() => ({ live: this.server.live })),
      ServerReady: unary(() => ({ ready: this.server.ready })),
      ModelReady: unary((r: { name: string; version: string }) => ({
        ready: this.server.modelReady(r.name, r.version || undefined),
      })),
      ServerMetadata: unary(() => this.server.serverMetadata()),
      ModelMetadata: unary((r: { name: string; version: string }) =>
        this.server.modelMetadata(r.name, r.version || undefined),
      ),
      ModelInfer: unary((r: InferRequestMessage) => this.infer(r)),
      ModelStatistics: unary((r: { name: string; version: string }) =>
        this.server.modelStatistics(r.name || undefined, r.version || undefined),
      ),
      ModelConfig: unary((r: { name: string; version: string }) => ({
        config: this.server.resolve(r.name, r.version || undefined).model.config,
      })),
      RepositoryIndex: unary((r: { repository_name: string; ready: boolean }) => {
        this.checkRepository(r.repository_name);
        return { models: this.server.repositoryIndex(r.ready).map(indexEntry) };
      }),
      RepositoryModelLoad: unary(async (r: RepositoryModelRequest) => {
        this.checkModelRequest(r);
        await this.server.loadModel(r.model_name);
        return {};
      }),
      RepositoryModelUnload: unary(async (r: RepositoryModelRequest) => {
        this.checkModelRequest(r);
        await this.server.unloadModel(r.model_name);
        return {};
      }),
    };
    this.grpc.addService(serviceDefinition(), handlers);
  }

  private async infer(request: InferRequestMessage): Promise<unknown> {
    if (!request.model_name) throw new InferenceError(400, 'model_name is empty');
    const { version: mv } = this.server.resolve(request.model_name, request.model_version || undefined);
    return this.server.execute(
      mv,
      () => {
        const { feeds, batchSize } = grpcFeeds(request, mv);
        const outputs = selectOutputs(request.outputs.length > 0 ? request.outputs : undefined, mv);
        return { feeds, batchSize, context: outputs };
      },
      (prepared, result) => {
        const outputs = prepared.context.map((c) => result[c.name]);
        return {
          model_name: mv.name,
          model_version: mv.version,
          id: request.id,
          outputs: outputs.map((t, i) => ({
            name: prepared.context[i].name,
            datatype: tensorDatatype(t),
            shape: t.dims,
          })),
          raw_output_contents: outputs.map((t) => tensorDataBinary(t)),
        };
      },
    );
  }

  /** mlstack serves one repository: `repository_name` is empty, or names it (its path or folder name). */
  private checkRepository(name: string): void {
    const root = this.options.repository;
    if (!name || (root && (name === root || name === path.basename(path.resolve(root))))) return;
    throw new InferenceError(404, `unknown repository '${name}'; this server serves ${root ?? 'one model'}`);
  }

  private checkModelRequest(r: RepositoryModelRequest): void {
    this.checkRepository(r.repository_name);
    const keys = Object.keys(r.parameters ?? {});
    if (keys.length > 0) {
      throw new InferenceError(
        400,
        `parameters ${keys.join(', ')} are not supported: mlstack loads a model from its files in the repository`,
      );
    }
    if (!r.model_name) throw new InferenceError(400, 'model_name is empty');
  }

  /**
   * Stops taking calls and lets the ones in flight finish, for at most `timeoutMs`; then cancels the rest.
   */
  public async close(timeoutMs: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpc.forceShutdown();
        resolve();
      }, timeoutMs);
      timer.unref();
      this.grpc.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

interface RepositoryModelRequest {
  repository_name: string;
  model_name: string;
  parameters: Record<string, unknown>;
}

function indexEntry(e: RepositoryIndexEntry): {
  name: string;
  version: string;
  state: string;
  reason: string;
} {
  return { name: e.name, version: e.version ?? '', state: e.state, reason: e.reason ?? '' };
}
