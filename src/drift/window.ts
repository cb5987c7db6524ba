import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { Worker } from 'node:worker_threads';
import { parse } from 'csv-parse';
import { workerScript } from '../synth/package-info';
import type { CountsAtReference } from './stats';

/** How a column is compared. */
export type FeatureType = 'numeric' | 'categorical';

/** A malformed row or value, with where it is. */
export interface RowError {
  readonly line: number;
  readonly message: string;
}

/** Values that count as missing. */
const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null', 'none']);

/** Infinite numbers as CSV and JSON Lines writers spell them (`inf`, `-inf`, `Infinity`, …). */
const INFINITE = /^[+-]?(inf|infinity)$/i;

/** A window that cannot be compared: names the file and the reason (the drift run fails, exit 1). */
export class DriftInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DriftInputError';
  }
}

/** Distinct values kept per column before it stops counting as categorical. */
export const MAX_CATEGORIES = 1000;

/**
 * A sample counted at the distinct values of a sorted reference sample (see {@link CountsAtReference}): each value
 * is located among the reference's values and counted, never kept. A table of equal-width buckets over the
 * reference's range narrows each search to a few neighbouring values (a plain binary search over 100,000 values
 * misses the cache at most steps: 8 s instead of 1 s for 16 million values here).
 */
export class ReferenceCounts implements CountsAtReference {
  public readonly values: Float64Array;
  public below = 0;
  public readonly equal: Float64Array;
  public readonly between: Float64Array;
  public total = 0;
  /** `start[b]` is the index of the first value in bucket `b` or after it (`start[buckets]` = values.length). */
  private readonly start: Int32Array;
  private readonly low: number;
  private readonly scale: number;
  private readonly last: number;

  constructor(sortedReference: Float64Array) {
    let k = 0;
    const distinct = new Float64Array(sortedReference.length);
    for (let i = 0; i < sortedReference.length; i++) {
      if (k === 0 || sortedReference[i] !== distinct[k - 1]) distinct[k++] = sortedReference[i];
    }
    const v = distinct.slice(0, k);
    this.values = v;
    this.equal = new Float64Array(k);
    this.between = new Float64Array(k);
    const buckets = Math.max(1, Math.min(1 << 17, k));
    this.low = k ? v[0] : 0;
    const range = k ? v[k - 1] - v[0] : 0;
    // Bucket of x: floor((x - low) * scale), monotone in x, so a value's bucket never exceeds a larger one's.
    this.scale = range > 0 && Number.isFinite(buckets / range) ? buckets / range : 0;
    this.last = buckets - 1;
    this.start = new Int32Array(buckets + 1);
    let b = 0;
    for (let i = 0; i < k; i++) {
      const own = this.bucket(v[i]);
      while (b <= own) this.start[b++] = i;
    }
    while (b <= buckets) this.start[b++] = k;
  }

  private bucket(x: number): number {
    const b = Math.floor((x - this.low) * this.scale);
    return b < 0 ? 0 : b > this.last ? this.last : b;
  }

  public add(x: number): void {
    const v = this.values;
    const b = this.bucket(x);
    // Values in earlier buckets are below x, those in later ones above it: search only x's bucket.
    let lo = this.start[b];
    let hi = this.start[b + 1];
    // lo ends as the number of reference values at most x.
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (v[mid] <= x) lo = mid + 1;
      else hi = mid;
    }
    if (lo === 0) this.below++;
    else if (v[lo - 1] === x) this.equal[lo - 1]++;
    else this.between[lo - 1]++;
    this.total++;
  }

  /** Adds counts made at the same reference values (another thread's part of the window). */
  public merge(c: Omit<CountsAtReference, 'values'>): void {
    this.below += c.below;
    for (let i = 0; i < this.values.length; i++) {
      this.equal[i] += c.equal[i];
      this.between[i] += c.between[i];
    }
    this.total += c.total;
  }
}

/**
 * Values a counted column collects before counting them: 64 Ki (512 KiB) keeps one column's reference values and
 * counts in the cache for a whole batch (1 Ki batches were 2× slower on the 20-feature benchmark).
 */
const COUNT_BATCH = 1 << 16;

/**
 * The numbers of a column: a growable Float64Array (a million numbers without a million objects), or, for a
 * current window whose statistics need only counts at the reference's values, those counts (memory flat in rows).
 */
export class NumberColumn {
  private data = new Float64Array(1024);
  public length = 0;
  /** Whether `data` is in ascending order (sorted once, then kept so until a push). */
  private ordered = true;
  /**
   * Counted columns collect values here and count them a batch at a time, so that one column's reference values
   * and counts stay in the cache while its batch is counted (rows interleave every column's values).
   */
  private pending = 0;

  constructor(
    /** The counts the values go to instead of being kept. */
    private readonly counter?: ReferenceCounts,
  ) {
    if (counter) this.data = new Float64Array(COUNT_BATCH);
  }

  /** The counts at the reference's values, for a counted column. */
  public get counts(): ReferenceCounts | undefined {
    if (this.counter && this.pending) this.flush();
    return this.counter;
  }

  public push(v: number): void {
    this.length++;
    if (this.counter) {
      if (this.pending === this.data.length) this.flush();
      this.data[this.pending++] = v;
      return;
    }
    if (this.length > this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length - 1] = v;
    this.ordered = false;
  }

  private flush(): void {
    const counter = this.counter!;
    for (let i = 0; i < this.pending; i++) counter.add(this.data[i]);
    this.pending = 0;
  }

  /** The values kept, in the order pushed (a copy). */
  public values(): Float64Array {
    return this.data.slice(0, this.counter ? 0 : this.length);
  }

  /** Adds values kept elsewhere (another thread's part of the window). */
  public append(values: Float64Array): void {
    for (let i = 0; i < values.length; i++) this.push(values[i]);
  }

  /** Adds counts at the same reference values made elsewhere (another thread's part of the window). */
  public addCounts(c: Omit<CountsAtReference, 'values'>): void {
    const counts = this.counts;
    if (!counts) throw new Error('counts added to a column that keeps its values');
    counts.merge(c);
    this.length += c.total;
  }

  /** The values, sorted ascending (a view; the column is sorted in place, once). */
  public sorted(): Float64Array {
    if (this.counter) throw new Error('the values of this column were counted, not kept');
    const view = this.data.subarray(0, this.length);
    if (!this.ordered) {
      view.sort();
      this.ordered = true;
    }
    return view;
  }
}

/** Everything kept of one column of a window. */
export interface ColumnStats {
  readonly name: string;
  rows: number;
  missing: number;
  /** Values that parsed as finite numbers. */
  readonly numbers: NumberColumn;
  /** Non-missing values that did not parse as numbers. */
  nonNumeric: number;
  /**
   * Infinite numbers (`inf`, `-inf`, `Infinity`): neither missing nor non-numeric, so one of them never re-types a
   * numeric column; numeric statistics give them a bucket of their own.
   */
  nonFinite: number;
  /** Whether any number had a fractional part. */
  fractional: boolean;
  /** Counts per value, until more than MAX_CATEGORIES distinct values are seen. */
  categories: Map<string, number> | undefined;
  /** First line where a value did not parse as a number, for messages. */
  firstNonNumericLine?: number;
}

/** One window (reference or current), read as a stream. */
export interface Window {
  readonly file: string;
  readonly columns: Map<string, ColumnStats>;
  rows: number;
  /** Rows skipped because they were malformed (the first 100 are in `errors`). */
  skipped: number;
  readonly errors: RowError[];
  /** Range of the timestamp column, when one is configured and parses. */
  timeRange?: { from: string; to: string };
  /** Columns whose numbers are counted at these sorted reference values instead of kept (`countAt`). */
  readonly countAt?: ReadonlyMap<string, Float64Array>;
}

function countsFor(w: Window, name: string): ReferenceCounts | undefined {
  const reference = w.countAt?.get(name);
  return reference ? new ReferenceCounts(reference) : undefined;
}

function column(w: Window, name: string): ColumnStats {
  let c = w.columns.get(name);
  if (!c) {
    c = {
      name,
      rows: 0,
      missing: 0,
      numbers: new NumberColumn(countsFor(w, name)),
      nonNumeric: 0,
      nonFinite: 0,
      fractional: false,
      categories: new Map(),
    };
    w.columns.set(name, c);
  }
  return c;
}

function addValue(w: Window, name: string, raw: unknown, line: number): void {
  addTo(column(w, name), raw, line);
}

/** What a value is: missing, a finite number, an infinity or text; with the text it is counted under. */
interface Classified {
  readonly kind: 'missing' | 'number' | 'infinite' | 'text';
  /** The number, for `number`. */
  readonly n: number;
  /** The value as counted among categories (trimmed). */
  readonly text: string;
}

const MISSING_VALUE: Classified = { kind: 'missing', n: NaN, text: '' };

/**
 * Whether a text value starts with a digit, sign or dot and ends with a digit or dot: then it has nothing to trim
 * and is no missing-value marker, so it is read as it is.
 */
function plainNumberText(raw: string): boolean {
  if (raw.length === 0) return false;
  const first = raw.charCodeAt(0);
  const last = raw.charCodeAt(raw.length - 1);
  return (isDigit(first) || first === 45 || first === 43 || first === 46) && (isDigit(last) || last === 46);
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The one rule for what a raw value (CSV text or a JSON value) is. */
function classify(raw: unknown): Classified {
  let text: string;
  // The common case, a number as plain text, skips the trimming, lower-casing and marker lookup below.
  if (typeof raw === 'string' && plainNumberText(raw)) text = raw;
  else {
    if (
      raw === null ||
      raw === undefined ||
      (typeof raw === 'string' && MISSING.has(raw.trim().toLowerCase()))
    ) {
      return MISSING_VALUE;
    }
    text =
      typeof raw === 'string'
        ? raw.trim()
        : raw instanceof Date
          ? raw.toISOString()
          : typeof raw === 'object'
            ? JSON.stringify(raw)
            : String(raw);
  }
  // Parquet's 64-bit integers arrive as bigints.
  const n =
    typeof raw === 'number' || typeof raw === 'bigint'
      ? Number(raw)
      : typeof raw === 'string' && text !== ''
        ? Number(text)
        : NaN;
  if (Number.isFinite(n)) return { kind: 'number', n, text };
  if (n === Infinity || n === -Infinity || INFINITE.test(text)) return { kind: 'infinite', n, text };
  return { kind: 'text', n, text };
}

/** Counts a classified value in its column. */
function apply(c: ColumnStats, v: Classified, line: number): void {
  c.rows++;
  switch (v.kind) {
    case 'missing':
      c.missing++;
      return;
    case 'number':
      pushNumber(c, v.n);
      break;
    case 'infinite':
      c.nonFinite++;
      break;
    default:
      c.nonNumeric++;
      c.firstNonNumericLine ??= line;
  }
  countCategory(c, v.text);
}

function pushNumber(c: ColumnStats, n: number): void {
  c.numbers.push(n);
  if (!Number.isInteger(n)) c.fractional = true;
}

function countCategory(c: ColumnStats, text: string, n = 1): void {
  if (c.categories) {
    c.categories.set(text, (c.categories.get(text) ?? 0) + n);
    if (c.categories.size > MAX_CATEGORIES) c.categories = undefined;
  }
}

function addTo(c: ColumnStats, raw: unknown, line: number): void {
  apply(c, classify(raw), line);
}

function noteTime(w: Window, raw: unknown): void {
  const ms = timeOf(raw);
  if (ms === undefined) return;
  const iso = new Date(ms).toISOString();
  if (!w.timeRange) w.timeRange = { from: iso, to: iso };
  else {
    if (iso < w.timeRange.from) w.timeRange.from = iso;
    if (iso > w.timeRange.to) w.timeRange.to = iso;
  }
}

const MAX_ERRORS = 100;

function error(w: Window, line: number, message: string): void {
  w.skipped++;
  if (w.errors.length < MAX_ERRORS) w.errors.push({ line, message });
}

/** Options of {@link readWindow}. */
export interface ReadWindowOptions {
  /** A timestamp column: not compared, its range is reported. */
  readonly timestampColumn?: string;
  /**
   * Only rows whose timestamp (in `timestampColumn`, default `timestamp`) is at or after this time; rows without a
   * readable timestamp are malformed.
   * @default - every row
   */
  readonly since?: Date;
  /**
   * Columns whose numbers are only counted at these sorted reference values (what KS and PSI need of a current
   * window; see {@link countedFeatures}), so that memory does not grow with rows.
   * @default - every column's numbers are kept
   */
  readonly countAt?: ReadonlyMap<string, Float64Array>;
  /**
   * Only these columns are read (besides the timestamp); Parquet files do not even read the others' bytes.
   * @default - every column
   */
  readonly columns?: readonly string[];
  /**
   * Threads that read a large plain CSV file at once (byte ranges merged in file order).
   * @default - the machine's available parallelism (at most 8)
   */
  readonly threads?: number;
  /**
   * Plain CSV files from this size on are read on `threads` threads (tests set it low).
   * @default 33554432 (32 MiB)
   */
  readonly parallelMinBytes?: number;
}

/** The data files of a folder (CSV, JSON Lines), recursively, in name order; hidden and temporary ones left out. */
export function windowFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(csv|jsonl|ndjson|json|parquet)$/i.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

/**
 * Reads a window from a CSV file (a header row, RFC 4180 quoting), a JSON Lines file (one object a line; `.jsonl`,
 * `.ndjson` or `.json`), or a folder of them (what `mlstack serve --capture-dir` writes: every file under it, as one
 * window). Streams rows: only per-column numbers (typed arrays) and category counts are kept. Malformed rows are
 * skipped and reported with their file and line numbers.
 */
export async function readWindow(file: string, options: ReadWindowOptions = {}): Promise<Window> {
  if (!fs.existsSync(file)) throw new Error(`${file}: no such file or folder`);
  const w: Window = {
    file,
    columns: new Map(),
    rows: 0,
    skipped: 0,
    errors: [],
    ...(options.countAt ? { countAt: options.countAt } : {}),
  };
  if (fs.statSync(file).isDirectory()) {
    const files = windowFiles(file);
    if (files.length === 0) {
      throw new DriftInputError(`${file}: the folder has no CSV or JSON Lines files`);
    }
    for (const f of files) await readInto(w, f, options, `${path.relative(file, f)}: `);
  } else {
    await readInto(w, file, options, '');
  }
  // Columns absent from some rows (JSON rows, or files of a folder) count those rows as missing.
  for (const c of w.columns.values()) {
    if (c.rows < w.rows) {
      c.missing += w.rows - c.rows;
      c.rows = w.rows;
    }
  }
  return w;
}

/** Adds the rows of one file to `w`; `where` prefixes its row errors (the file's name within a folder). */
/** Adds whole records (JSON Lines, CSV through csv-parse, Parquet) to `w`: the rows in the window, the columns asked for. */
function rowTaker(
  w: Window,
  ts: string | undefined,
  inWindow: (timestamp: unknown, line: number) => boolean,
  columns: readonly string[] | undefined,
) {
  return (record: Record<string, unknown>, line: number) => {
    if (!inWindow(record[ts!], line)) return;
    w.rows++;
    for (const [k, v] of Object.entries(record)) {
      if (k === ts) noteTime(w, v);
      else if (!columns || columns.includes(k)) addValue(w, k, v, line);
    }
  };
}

/** Parquet files, by name. */
const PARQUET = /\.parquet$/i;

/**
 * Reads a Parquet file (what warehouses and capture pipelines write) with hyparquet, a row group at a time and only
 * the columns asked for (`columns` and the timestamp: the others' column chunks are not read). Every codec
 * pyarrow, Spark and DuckDB write is read (hyparquet-compressors: Snappy, gzip, Brotli, zstd, LZ4). Row numbers
 * (1-based) stand in for line numbers.
 */
async function readParquet(
  w: Window,
  file: string,
  options: ReadWindowOptions,
  where: string,
): Promise<void> {
  const { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema } =
    await import('hyparquet');
  const { compressors } = await import('hyparquet-compressors');
  const { ts, inWindow } = rowFilter(w, options.timestampColumn, options.since?.getTime(), where);
  const take = rowTaker(w, ts, inWindow, options.columns);
  let buffer: Awaited<ReturnType<typeof asyncBufferFromFile>>;
  let metadata: Awaited<ReturnType<typeof parquetMetadataAsync>>;
  try {
    buffer = await asyncBufferFromFile(file);
    metadata = await parquetMetadataAsync(buffer);
  } catch (e) {
    throw new DriftInputError(`${file}: is not a readable Parquet file (${(e as Error).message})`);
  }
  const names = parquetSchema(metadata).children.map((c) => c.element.name);
  const wanted = options.columns ? names.filter((n) => n === ts || options.columns!.includes(n)) : names;
  let row = 0;
  for (const group of metadata.row_groups) {
    const rows = Number(group.num_rows);
    let records: Record<string, unknown>[];
    try {
      records = await parquetReadObjects({
        file: buffer,
        metadata,
        columns: wanted,
        rowStart: row,
        rowEnd: row + rows,
        compressors,
      });
    } catch (e) {
      throw new DriftInputError(
        `${file}: rows ${row + 1}–${row + rows} cannot be read (${(e as Error).message})`,
      );
    }
    for (const r of records) take(r, ++row);
  }
}

/**
 * The timestamp column of a read, where its row errors go, and whether a row is in the window by its timestamp
 * (`since`, epoch ms); a row without a readable one is malformed.
 */
function rowFilter(w: Window, timestampColumn: string | undefined, since: number | undefined, where: string) {
  const ts = timestampColumn ?? (since !== undefined ? 'timestamp' : undefined);
  const fail = (line: number, message: string) => error(w, line, `${where}${message}`);
  const inWindow = (timestamp: unknown, line: number): boolean => {
    if (since === undefined) return true;
    const t = timeOf(timestamp);
    if (t === undefined) fail(line, `no readable '${ts}' timestamp`);
    return t !== undefined && t >= since;
  };
  return { ts, fail, inWindow };
}

async function readInto(w: Window, file: string, options: ReadWindowOptions, where: string): Promise<void> {
  if (!fs.statSync(file).isFile()) throw new Error(`${file}: no such file`);
  if (PARQUET.test(file)) {
    await readParquet(w, file, options, where);
    return;
  }
  const head = Buffer.alloc(8192);
  const fd = fs.openSync(file, 'r');
  let headBytes: number;
  try {
    headBytes = fs.readSync(fd, head, 0, head.length, 0);
  } finally {
    fs.closeSync(fd);
  }
  if (head.subarray(0, headBytes).includes(0)) {
    throw new DriftInputError(`${file}: is not a text file (CSV or JSON Lines): it has NUL bytes`);
  }
  const { ts, fail, inWindow } = rowFilter(w, options.timestampColumn, options.since?.getTime(), where);
  const take = rowTaker(w, ts, inWindow, options.columns);
  if (/\.(jsonl|ndjson|json)$/i.test(file)) {
    const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity });
    let n = 0;
    for await (const text of lines) {
      n++;
      if (text.trim() === '') continue;
      let obj: unknown;
      try {
        obj = JSON.parse(text);
      } catch (e) {
        fail(n, `not JSON: ${(e as Error).message}`);
        continue;
      }
      if (typeof obj !== 'object' || obj === null || Array.isArray(obj)) {
        fail(n, 'not a JSON object');
        continue;
      }
      take(obj as Record<string, unknown>, n);
    }
  } else {
    const scan = await scanCsv(file, options);
    if (!scan.quoted) {
      await readPlainCsv(w, file, options, where, scan.plan);
      return;
    }
    const parser = fs.createReadStream(file).pipe(
      parse({
        columns: true,
        bom: true,
        skip_empty_lines: true,
        trim: false,
        info: true,
        skip_records_with_error: true,
        on_skip: (err) => {
          if (err) fail((err as { lines?: number }).lines ?? 0, err.message);
        },
      }),
    );
    for await (const rec of parser as AsyncIterable<{
      record: Record<string, string>;
      info: { lines: number };
    }>) {
      take(rec.record, rec.info.lines);
    }
  }
}

/** Exact powers of ten (10^0 … 10^22 are exact doubles). */
const POW10 = Array.from({ length: 23 }, (_, i) => 10 ** i);

/** The fields of a header line `[s, e)` (without its newline and CR); the first line of a file may start with a BOM. */
function headerFields(b: Buffer, s: number, e: number, firstLine: boolean): string[] {
  const bom = firstLine && b[s] === 0xef && b[s + 1] === 0xbb && b[s + 2] === 0xbf;
  return b.toString('utf8', bom ? s + 3 : s, e).split(',');
}

/** Short values (up to 6 bytes) as one number: the key of the cache of values already classified. */
function shortKey(b: Uint8Array, s: number, e: number): number {
  let k = e - s;
  for (let i = s; i < e; i++) k = k * 256 + b[i];
  return k;
}

/** Classified short values kept per file; beyond this many distinct ones, new ones are classified each time. */
const MAX_CACHED = 1 << 16;

/**
 * Splits the line `[s, e)` of `b` at commas: the first `starts.length` fields' offsets go to `starts`/`ends` and
 * their values, read on the same pass, to `values` when they are plain decimals (`[+-]digits[.digits]`, at most 15
 * digits; NaN otherwise, for `Number()` to read). For those the value is exactly what `Number()` gives the text: the
 * digits are an exact integer below 2^53 and the power of ten is exact, so the one division is correctly rounded
 * (Clinger's fast path). Returns the number of fields.
 */
function splitLine(
  b: Uint8Array,
  s: number,
  e: number,
  starts: Int32Array,
  ends: Int32Array,
  values: Float64Array,
): number {
  const width = starts.length;
  let n = 0;
  let at = s;
  for (;;) {
    let i = at;
    let neg = false;
    if (i < e) {
      const c0 = b[i];
      if (c0 === 45) {
        neg = true;
        i++;
      } else if (c0 === 43) i++;
    }
    let m = 0;
    let digits = 0;
    let frac = -1;
    let plain = true;
    for (; i < e; i++) {
      const c = b[i];
      if (c === 44) break;
      if (c >= 48 && c <= 57) {
        m = m * 10 + (c - 48);
        digits++;
      } else if (c === 46 && frac < 0) frac = digits;
      else plain = false;
    }
    if (n < width) {
      starts[n] = at;
      ends[n] = i;
      if (!plain || digits === 0 || digits > 15) values[n] = NaN;
      else {
        const v = frac < 0 || frac === digits ? m : m / POW10[digits - frac];
        values[n] = neg ? -v : v;
      }
    }
    n++;
    if (i >= e) return n;
    at = i + 1;
  }
}

/**
 * Reads the lines of a CSV file without quotes (what numeric exports and mlstack's capture write) from its bytes
 * into a window: lines and fields are found by scanning for newlines and commas, plain decimals are read from the
 * bytes (no string per value), and short values (categories, markers such as `NA`) are classified once per
 * distinct value. Same rows, values, line numbers and skipped-row rules as the csv-parse path (which files with
 * quotes take); test/unit/drift-csv.test.ts checks that on generated files, docs/benchmarks.md has the speed.
 */
class PlainCsvReader {
  private header: string[] | undefined;
  private cols: (ColumnStats | undefined)[] = [];
  private tsIndex = -1;
  private lineNo = 0;
  private starts = new Int32Array(0);
  private ends = new Int32Array(0);
  private values = new Float64Array(0);
  private readonly cache = new Map<number, Classified>();

  constructor(
    private readonly w: Window,
    private readonly ts: string | undefined,
    private readonly inWindow: (timestamp: unknown, line: number) => boolean,
    private readonly fail: (line: number, message: string) => void,
    /** Only these columns are counted. */
    private readonly columns?: readonly string[],
  ) {}

  /** The value `[s, e)` of `b` classified (short ones from the cache). */
  private classified(b: Buffer, s: number, e: number): Classified {
    if (e - s > 6) return classify(b.toString('utf8', s, e));
    const key = shortKey(b, s, e);
    let v = this.cache.get(key);
    if (v === undefined) {
      v = classify(b.toString('utf8', s, e));
      if (this.cache.size < MAX_CACHED) this.cache.set(key, v);
    }
    return v;
  }

  /** Starts within a file, after its header: `lineNo` lines come before the first one read. */
  public startAfter(header: string[], lineNo: number): this {
    this.setHeader(header);
    this.lineNo = lineNo;
    return this;
  }

  private setHeader(header: string[]): void {
    this.header = header;
    this.tsIndex = this.ts === undefined ? -1 : header.indexOf(this.ts);
    this.starts = new Int32Array(header.length);
    this.ends = new Int32Array(header.length);
    this.values = new Float64Array(header.length);
  }

  /** One line `[s, e)` of `b`, without its newline. */
  public line(b: Buffer, s: number, e: number): void {
    const lineNo = ++this.lineNo;
    if (e > s && b[e - 1] === 13) e--;
    if (e === s) return;
    const header = this.header;
    if (!header) {
      this.setHeader(headerFields(b, s, e, lineNo === 1));
      return;
    }
    const { starts, ends, values, tsIndex, w } = this;
    const width = header.length;
    const n = splitLine(b, s, e, starts, ends, values);
    if (n !== width) {
      this.fail(lineNo, `Invalid Record Length: columns length is ${width}, got ${n} on line ${lineNo}`);
      return;
    }
    if (
      !this.inWindow(tsIndex >= 0 ? b.toString('utf8', starts[tsIndex], ends[tsIndex]) : undefined, lineNo)
    ) {
      return;
    }
    w.rows++;
    // Columns exist from the first data row on, as with csv-parse.
    if (this.cols.length === 0) {
      const wanted = this.columns;
      this.cols = header.map((name, i) =>
        i === tsIndex || (wanted && !wanted.includes(name)) ? undefined : column(w, name),
      );
    }
    const cols = this.cols;
    for (let i = 0; i < width; i++) {
      const c = cols[i];
      if (!c) {
        if (i === tsIndex) noteTime(w, b.toString('utf8', starts[i], ends[i]));
        continue;
      }
      const v = values[i];
      if (v === v) {
        c.rows++;
        pushNumber(c, v);
        if (c.categories) countCategory(c, this.classified(b, starts[i], ends[i]).text);
      } else apply(c, this.classified(b, starts[i], ends[i]), lineNo);
    }
  }

  /** Reads the bytes `[from, to)` of `file` (a range that starts at a line) a buffer at a time. */
  public async read(file: string, from = 0, to = Infinity): Promise<void> {
    const fh = await fs.promises.open(file, 'r');
    try {
      let buf = Buffer.allocUnsafe(4 << 20);
      let filled = 0;
      let position = from;
      for (;;) {
        if (filled === buf.length) {
          // A line longer than the buffer: grow it.
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, filled);
          buf = bigger;
        }
        const want = Math.min(buf.length - filled, to - position);
        const { bytesRead } = want > 0 ? await fh.read(buf, filled, want, position) : { bytesRead: 0 };
        if (bytesRead === 0) break;
        position += bytesRead;
        const end = filled + bytesRead;
        let start = 0;
        for (let nl = buf.indexOf(10, 0); nl !== -1 && nl < end; nl = buf.indexOf(10, start)) {
          this.line(buf, start, nl);
          start = nl + 1;
        }
        buf.copy(buf, 0, start, end);
        filled = end - start;
      }
      if (filled > 0) this.line(buf, 0, filled);
    } finally {
      await fh.close();
    }
  }
}

/** Plain CSV files at least this large are read in byte ranges on several threads at once. */
const PARALLEL_MIN_BYTES = 32 << 20;

/** Where the threads of a plain CSV file read: its header and byte ranges that start at line starts. */
interface RangePlan {
  readonly header: string[];
  readonly ranges: readonly { from: number; to: number; linesBefore: number }[];
}

/**
 * One pass over a CSV file's bytes: whether it has a `"` anywhere (then only the RFC 4180 parser reads it right),
 * and, for a large file to be read on several threads, where to split it: at the first line start after each
 * equal share of the bytes, with the lines before each cut (for line numbers). No plan when the file is small,
 * one thread is asked for, or the header is not within the first chunk.
 */
async function scanCsv(
  file: string,
  options: ReadWindowOptions,
): Promise<{ quoted: boolean; plan?: RangePlan }> {
  const size = fs.statSync(file).size;
  const threads = Math.max(1, Math.min(options.threads ?? os.availableParallelism(), 8));
  const split = threads > 1 && size >= (options.parallelMinBytes ?? PARALLEL_MIN_BYTES);
  const guesses = split
    ? Array.from({ length: threads - 1 }, (_, i) => Math.floor((size * (i + 1)) / threads))
    : [];
  let header: string[] | undefined;
  let headerEnd = 0;
  const cuts: { at: number; linesBefore: number }[] = [];
  let lines = 0;
  let position = 0;
  let next = 0;
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    const b = chunk as Buffer;
    if (b.includes(0x22)) return { quoted: true };
    if (position === 0 && guesses.length) {
      // The header: the first non-empty line, as the reader takes it.
      for (let s = 0, nl = b.indexOf(10); nl !== -1; s = nl + 1, nl = b.indexOf(10, s)) {
        const e = nl > s && b[nl - 1] === 13 ? nl - 1 : nl;
        if (e > s) {
          header = headerFields(b, s, e, s === 0);
          headerEnd = nl + 1;
          break;
        }
      }
      if (!header) guesses.length = 0;
    }
    if (next < guesses.length) {
      for (let nl = b.indexOf(10); nl !== -1; nl = b.indexOf(10, nl + 1)) {
        lines++;
        const at = position + nl + 1;
        // Each share starts at the first line start after its guess, after the header and before the end.
        for (; next < guesses.length && guesses[next] <= position + nl; next++) {
          if (at > headerEnd && at < size && at > (cuts[cuts.length - 1]?.at ?? 0))
            cuts.push({ at, linesBefore: lines });
        }
        if (next === guesses.length) break;
      }
    }
    position += b.length;
  }
  if (!header || cuts.length === 0) return { quoted: false };
  const starts = [{ at: 0, linesBefore: 0 }, ...cuts];
  return {
    quoted: false,
    plan: {
      header,
      ranges: starts.map((c, k) => ({
        from: c.at,
        to: starts[k + 1]?.at ?? size,
        linesBefore: c.linesBefore,
      })),
    },
  };
}

/**
 * Reads a plain CSV file into `w`: on one thread, or, with a plan (a large file on a machine with more than one
 * core), in byte ranges read at once by worker threads and this one, merged in file order into the same window
 * (test/unit/drift-csv.test.ts compares both ways).
 */
async function readPlainCsv(
  w: Window,
  file: string,
  options: ReadWindowOptions,
  where: string,
  plan: RangePlan | undefined,
): Promise<void> {
  const { ts, fail, inWindow } = rowFilter(w, options.timestampColumn, options.since?.getTime(), where);
  if (!plan) {
    await new PlainCsvReader(w, ts, inWindow, fail, options.columns).read(file);
    return;
  }
  const jobs = plan.ranges.slice(1).map((r): RangeJob => ({
    file,
    from: r.from,
    to: r.to,
    linesBefore: r.linesBefore,
    header: plan.header,
    where,
    ...(options.timestampColumn !== undefined ? { timestampColumn: options.timestampColumn } : {}),
    ...(options.since ? { since: options.since.getTime() } : {}),
    ...(w.countAt ? { countAt: [...w.countAt] } : {}),
    ...(options.columns ? { columns: [...options.columns] } : {}),
  }));
  const parts = jobs.map((job) => readRangeInWorker(job));
  // This thread reads the first range (with the header) meanwhile.
  await new PlainCsvReader(w, ts, inWindow, fail, options.columns).read(file, 0, plan.ranges[0].to);
  for (const part of await Promise.all(parts)) mergePart(w, part);
}

/** One byte range of a plain CSV file for a worker thread to read. */
export interface RangeJob {
  readonly file: string;
  readonly from: number;
  readonly to: number;
  /** Lines of the file before `from` (line numbers of errors continue from there). */
  readonly linesBefore: number;
  readonly header: string[];
  readonly where: string;
  readonly timestampColumn?: string;
  readonly since?: number;
  readonly countAt?: [string, Float64Array][];
  readonly columns?: string[];
}

/** What a worker read of its range: a window's counts, in a form that crosses threads. */
export interface WindowPart {
  readonly rows: number;
  readonly skipped: number;
  readonly errors: RowError[];
  readonly timeRange?: { from: string; to: string };
  readonly columns: {
    readonly name: string;
    readonly rows: number;
    readonly missing: number;
    readonly nonNumeric: number;
    readonly nonFinite: number;
    readonly fractional: boolean;
    readonly categories?: [string, number][];
    readonly firstNonNumericLine?: number;
    /** The numbers kept, or (a counted column) the counts at the reference's values. */
    readonly numbers: Float64Array;
    readonly counts?: { below: number; equal: Float64Array; between: Float64Array; total: number };
  }[];
}

/** Reads one range of a plain CSV file (in a worker thread: src/drift/window-worker.ts). */
export async function readRange(job: RangeJob): Promise<WindowPart> {
  const w: Window = {
    file: job.file,
    columns: new Map(),
    rows: 0,
    skipped: 0,
    errors: [],
    ...(job.countAt ? { countAt: new Map(job.countAt) } : {}),
  };
  const { ts, fail, inWindow } = rowFilter(w, job.timestampColumn, job.since, job.where);
  await new PlainCsvReader(w, ts, inWindow, fail, job.columns)
    .startAfter(job.header, job.linesBefore)
    .read(job.file, job.from, job.to);
  return {
    rows: w.rows,
    skipped: w.skipped,
    errors: w.errors,
    ...(w.timeRange ? { timeRange: w.timeRange } : {}),
    columns: [...w.columns.values()].map((c) => {
      const counts = c.numbers.counts;
      return {
        name: c.name,
        rows: c.rows,
        missing: c.missing,
        nonNumeric: c.nonNumeric,
        nonFinite: c.nonFinite,
        fractional: c.fractional,
        ...(c.categories ? { categories: [...c.categories] } : {}),
        ...(c.firstNonNumericLine !== undefined ? { firstNonNumericLine: c.firstNonNumericLine } : {}),
        numbers: counts ? new Float64Array(0) : c.numbers.values(),
        ...(counts
          ? {
              counts: {
                below: counts.below,
                equal: counts.equal,
                between: counts.between,
                total: counts.total,
              },
            }
          : {}),
      };
    }),
  };
}

function readRangeInWorker(job: RangeJob): Promise<WindowPart> {
  const { file, execArgv } = workerScript(__dirname, 'window-worker');
  return new Promise((resolve, reject) => {
    const worker = new Worker(file, { workerData: job, execArgv });
    let settled = false;
    worker.once('message', (part: WindowPart) => {
      settled = true;
      resolve(part);
      void worker.terminate();
    });
    worker.once('error', (e) => {
      settled = true;
      reject(e);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`${job.file}: the reader thread exited (${code}) before it finished`));
    });
  });
}

/** Adds a part read by a worker to `w`, as if its rows had been read here after those already in `w`. */
function mergePart(w: Window, part: WindowPart): void {
  w.rows += part.rows;
  w.skipped += part.skipped;
  for (const e of part.errors) if (w.errors.length < MAX_ERRORS) w.errors.push(e);
  if (part.timeRange) {
    noteTime(w, part.timeRange.from);
    noteTime(w, part.timeRange.to);
  }
  for (const p of part.columns) {
    const c = column(w, p.name);
    c.rows += p.rows;
    c.missing += p.missing;
    c.nonNumeric += p.nonNumeric;
    c.nonFinite += p.nonFinite;
    c.fractional ||= p.fractional;
    if (p.firstNonNumericLine !== undefined) c.firstNonNumericLine ??= p.firstNonNumericLine;
    if (p.counts) c.numbers.addCounts(p.counts);
    else c.numbers.append(p.numbers);
    if (!p.categories) c.categories = undefined;
    else if (c.categories) for (const [k, n] of p.categories) countCategory(c, k, n);
  }
}

/**
 * A timestamp as epoch milliseconds (ISO strings, epoch seconds/milliseconds, or a Parquet timestamp's Date), if
 * it reads as one.
 */
function timeOf(raw: unknown): number | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined;
  if (raw instanceof Date) return Number.isNaN(raw.getTime()) ? undefined : raw.getTime();
  const n = typeof raw === 'bigint' ? Number(raw) : raw;
  const t = typeof n === 'number' ? (n > 1e12 ? n : n * 1000) : new Date(String(n)).getTime();
  // Beyond ±8.64e15 ms a Date is invalid.
  return Number.isFinite(t) && Math.abs(t) <= 8.64e15 ? t : undefined;
}

/**
 * The type a column has in a window: numeric when every non-missing value is a number and there are more than
 * 20 distinct values or fractions; categorical when it has at most MAX_CATEGORIES distinct values; else neither
 * (free text or identifiers), which is reported and not compared.
 */
export function inferType(c: ColumnStats): FeatureType | undefined {
  const present = c.rows - c.missing;
  if (present === 0) return undefined;
  if (c.nonNumeric === 0 && (c.fractional || !c.categories || c.categories.size > 20)) return 'numeric';
  if (c.categories) return 'categorical';
  return undefined;
}
