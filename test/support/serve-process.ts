// Runs `mlstack serve` as a child process on 127.0.0.1 with a free port, for load, fault and signal tests:
// onnxruntime-node computes on the main thread, so a server in the test's own process would serialize the
// client's requests behind its own computations.
import { type ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const bin = path.resolve(__dirname, '..', '..', 'bin', 'mlstack.js');

export interface ServeProcess {
  url: string;
  /** `host:port` of the gRPC service. */
  grpc: string;
  proc: ChildProcess;
  stderr: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

export function startServe(args: string[], timeoutMs = 60_000): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [bin, 'serve', ...args, '--port', '0', '--grpc-port', '0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  const exited = new Promise<number | null>((resolve) => proc.on('exit', (code) => resolve(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`mlstack serve did not start in ${timeoutMs} ms: ${err}`));
    }, timeoutMs);
    proc.stderr!.on('data', (c: Buffer) => {
      err += c.toString();
      const m = /serving on (http:\/\/127\.0\.0\.1:\d+) and gRPC on (127\.0\.0\.1:\d+)/.exec(err);
      if (m) {
        clearTimeout(timer);
        resolve({ url: m[1], grpc: m[2], proc, stderr: () => err, exited });
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`mlstack serve exited with ${code} before serving: ${err}`));
    });
  });
}
