// A compute thread of the inference server (src/inference/compute-pool.ts): holds onnxruntime sessions and runs
// them, so that session.run, which blocks its thread, does not block the server's event loop. Tensor buffers
// arrive and leave transferred, not copied, where the sender gives them up.
import { parentPort } from 'node:worker_threads';
import type * as ort from 'onnxruntime-node';
import { ModelFileError } from './inspect';
import { openSession, plainMetadata } from './session';
import { fromWire, toWire, type WireTensor, type WorkerReply, type WorkerRequest } from './compute-pool';

const sessions = new Map<number, ort.InferenceSession>();
const port = parentPort!;

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}

function failure(id: number, e: unknown): WorkerReply {
  const err = e as Error;
  return {
    id,
    error: {
      message: String(err?.message ?? e),
      ...(err instanceof ModelFileError ? { file: err.file } : {}),
    },
  };
}

port.on('message', (m: WorkerRequest) => {
  void (async () => {
    try {
      switch (m.op) {
        case 'open': {
          const session = await openSession(m.file, m.options);
          sessions.set(m.session, session);
          reply({
            id: m.id,
            metadata: {
              inputs: session.inputMetadata.map(plainMetadata),
              outputs: session.outputMetadata.map(plainMetadata),
            },
          });
          return;
        }
        case 'run': {
          const session = sessions.get(m.session);
          if (!session) throw new Error(`session ${m.session} is not open in this thread`);
          const feeds: Record<string, ort.Tensor> = {};
          for (const [name, t] of Object.entries(m.feeds)) feeds[name] = fromWire(t);
          const outputs = await session.run(feeds);
          const wire: Record<string, WireTensor> = {};
          const transfer: ArrayBuffer[] = [];
          for (const [name, t] of Object.entries(outputs)) {
            wire[name] = toWire(t);
            if (t.type !== 'string') transfer.push((t.data as Uint8Array).buffer as ArrayBuffer);
          }
          reply({ id: m.id, outputs: wire }, [...new Set(transfer)]);
          return;
        }
        case 'release': {
          await sessions.get(m.session)?.release();
          sessions.delete(m.session);
          reply({ id: m.id });
          return;
        }
      }
    } catch (e) {
      reply(failure(m.id, e));
    }
  })();
});
