// A worker thread of the drift reader: reads one byte range of a large plain CSV window (src/drift/window.ts,
// readPlainCsv) and posts what it counted back, its arrays transferred rather than copied.
import { parentPort, workerData } from 'node:worker_threads';
import { readRange, type RangeJob } from './window';

void readRange(workerData as RangeJob).then((part) => {
  const transfer = part.columns.flatMap((c) =>
    [c.numbers, ...(c.counts ? [c.counts.equal, c.counts.between] : [])].map((a) => a.buffer as ArrayBuffer),
  );
  parentPort!.postMessage(part, transfer);
});
