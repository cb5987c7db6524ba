// A KServe v2 gRPC client generated at run time from proto/grpc_service.proto, as @grpc/proto-loader generates one
// from any copy of the protocol's proto.
import * as path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = path.join(__dirname, '..', '..', 'proto', 'grpc_service.proto');

export type Unary = (
  request: object,
  callback: (err: grpc.ServiceError | null, res: Response) => void,
) => void;
export type Response = Record<string, unknown> & {
  outputs?: { name: string; datatype: string; shape: string[] }[];
  raw_output_contents?: Buffer[];
};

/** A client of `inference.GRPCInferenceService` generated from the proto at run time (as @grpc/proto-loader does). */
export function generatedClient(address: string): grpc.Client & Record<string, Unary> {
  const def = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, defaults: true, arrays: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    inference: { GRPCInferenceService: new (a: string, c: grpc.ChannelCredentials) => grpc.Client };
  };
  return new pkg.inference.GRPCInferenceService(address, grpc.credentials.createInsecure()) as grpc.Client &
    Record<string, Unary>;
}

export function call(client: Record<string, Unary>, method: string, request: object): Promise<Response> {
  return new Promise((resolve, reject) =>
    client[method](request, (err, res) => (err ? reject(err) : resolve(res))),
  );
}

export async function callError(client: Record<string, Unary>, method: string, request: object) {
  try {
    await call(client, method, request);
  } catch (e) {
    const err = e as grpc.ServiceError;
    return { code: grpc.status[err.code], details: err.details };
  }
  throw new Error(`${method} succeeded`);
}
