import * as fs from 'node:fs';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';

/** What type-checking the app found. */
export interface TypecheckResult {
  /** `file:line:col: error TSnnnn: message`, one per diagnostic, files relative to the working directory. */
  readonly errors: readonly string[];
  /** Why it did not run (no TypeScript to load), when it did not. */
  readonly skipped?: string;
  /** Its wall time. */
  readonly ms: number;
}

/**
 * The worker's program: type-checks `workerData.file` with the TypeScript the app would use, under the app's
 * tsconfig.json (or strict defaults), `noEmit` and `skipLibCheck`. Plain JavaScript, so that it runs the same from
 * the sources (tsx) and from `dist/`.
 */
const WORKER = `(() => {
const { parentPort, workerData } = require('node:worker_threads');
const path = require('node:path');
const started = Date.now();
let ts;
try {
  ts = require(require.resolve('typescript', { paths: [path.dirname(workerData.file), workerData.fallback] }));
} catch {
  parentPort.postMessage({ errors: [], skipped: 'TypeScript is not installed next to the app', ms: Date.now() - started });
  return;
}
const dir = path.dirname(workerData.file);
const configFile = ts.findConfigFile(dir, ts.sys.fileExists);
let options = {
  strict: true, target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.Node16,
  moduleResolution: ts.ModuleResolutionKind.Node16, esModuleInterop: true, resolveJsonModule: true,
};
if (configFile) {
  const parsed = ts.getParsedCommandLineOfConfigFile(configFile, {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
  if (parsed) options = parsed.options;
}
const program = ts.createProgram([workerData.file], {
  ...options, noEmit: true, skipLibCheck: true, incremental: false, composite: false, declaration: false,
  tsBuildInfoFile: undefined,
});
const errors = ts.getPreEmitDiagnostics(program)
  .filter((d) => d.category === ts.DiagnosticCategory.Error)
  .map((d) => {
    const text = ts.flattenDiagnosticMessageText(d.messageText, ' ');
    if (!d.file) return 'error TS' + d.code + ': ' + text;
    const { line, character } = d.file.getLineAndCharacterOfPosition(d.start || 0);
    return path.relative(workerData.cwd, d.file.fileName) + ':' + (line + 1) + ':' + (character + 1) + ': error TS' + d.code + ': ' + text;
  });
parentPort.postMessage({ errors, ms: Date.now() - started });
})();
`;

/**
 * Starts type-checking a TypeScript app in a worker thread, so that it runs while the app synthesizes.
 * @returns the result, and a function that stops the worker early
 */
export function startTypecheck(file: string): { result: Promise<TypecheckResult>; stop: () => void } {
  const worker = new Worker(WORKER, {
    eval: true,
    workerData: { file, cwd: process.cwd(), fallback: __dirname },
  });
  worker.unref();
  let stopped = false;
  const result = new Promise<TypecheckResult>((resolve, reject) => {
    worker.once('message', (m: TypecheckResult) => resolve(m));
    worker.once('error', reject);
    worker.once('exit', (code) => {
      if (stopped) resolve({ errors: [], skipped: 'stopped', ms: 0 });
      else if (code !== 0) reject(new Error(`type-checking the app stopped (worker exit code ${code})`));
    });
  });
  return {
    result,
    stop: () => {
      stopped = true;
      void worker.terminate();
    },
  };
}

/**
 * The lines to print for a syntax error esbuild (through tsx) reported while loading the app: each error's
 * `file:line:col: message` and a code frame of its line, instead of only `Transform failed with 1 error:`.
 * @returns undefined for any other error
 */
export function syntaxErrorLines(err: Error): string[] | undefined {
  if (!/^Transform failed with \d+ errors?:/.test(err.message)) return undefined;
  const lines: string[] = [];
  for (const m of err.message.matchAll(/^(.+?):(\d+):(\d+): ERROR: (.+)$/gm)) {
    const [, file, lineText, colText, text] = m;
    const line = Number(lineText);
    const col = Number(colText);
    lines.push(`${path.relative(process.cwd(), file)}:${line}:${col + 1}: syntax error: ${text}`);
    let source: string[];
    try {
      source = fs.readFileSync(file, 'utf8').split('\n');
    } catch {
      continue;
    }
    const width = String(line + 1).length;
    for (let n = Math.max(1, line - 1); n <= Math.min(source.length, line + 1); n++) {
      lines.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${source[n - 1]}`);
      if (n === line) lines.push(`  ${' '.repeat(width)} | ${' '.repeat(col)}^`);
    }
  }
  return lines.length ? lines : undefined;
}
