import * as fs from 'node:fs';
import * as path from 'node:path';
import * as readline from 'node:readline';
import { parse } from 'csv-parse';

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

/** A growable Float64Array: a million numbers without a million objects. */
export class NumberColumn {
  private data = new Float64Array(1024);
  public length = 0;

  public push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  /** The values, sorted ascending (a view; the column is sorted in place). */
  public sorted(): Float64Array {
    return this.data.subarray(0, this.length).sort();
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
}

function column(w: Window, name: string): ColumnStats {
  let c = w.columns.get(name);
  if (!c) {
    c = {
      name,
      rows: 0,
      missing: 0,
      numbers: new NumberColumn(),
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

function addTo(c: ColumnStats, raw: unknown, line: number): void {
  c.rows++;
  let text: string;
  // The common case, a number as plain text, skips the trimming, lower-casing and marker lookup below.
  if (typeof raw === 'string' && plainNumberText(raw)) text = raw;
  else {
    if (
      raw === null ||
      raw === undefined ||
      (typeof raw === 'string' && MISSING.has(raw.trim().toLowerCase()))
    ) {
      c.missing++;
      return;
    }
    text = typeof raw === 'string' ? raw.trim() : typeof raw === 'object' ? JSON.stringify(raw) : String(raw);
  }
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && text !== '' ? Number(text) : NaN;
  if (Number.isFinite(n)) {
    c.numbers.push(n);
    if (!Number.isInteger(n)) c.fractional = true;
  } else if (n === Infinity || n === -Infinity || INFINITE.test(text)) {
    c.nonFinite++;
  } else {
    c.nonNumeric++;
    c.firstNonNumericLine ??= line;
  }
  if (c.categories) {
    c.categories.set(text, (c.categories.get(text) ?? 0) + 1);
    if (c.categories.size > MAX_CATEGORIES) c.categories = undefined;
  }
}

function noteTime(w: Window, raw: unknown): void {
  const t = typeof raw === 'number' ? new Date(raw > 1e12 ? raw : raw * 1000) : new Date(String(raw));
  if (Number.isNaN(t.getTime())) return;
  const iso = t.toISOString();
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
}

/** The data files of a folder (CSV, JSON Lines), recursively, in name order; hidden and temporary ones left out. */
export function windowFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith('.')) continue;
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(csv|jsonl|ndjson|json)$/i.test(e.name)) out.push(p);
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
  const w: Window = { file, columns: new Map(), rows: 0, skipped: 0, errors: [] };
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
async function readInto(w: Window, file: string, options: ReadWindowOptions, where: string): Promise<void> {
  if (!fs.statSync(file).isFile()) throw new Error(`${file}: no such file`);
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
  const since = options.since?.getTime();
  const ts = options.timestampColumn ?? (since !== undefined ? 'timestamp' : undefined);
  const fail = (line: number, message: string) => error(w, line, `${where}${message}`);
  /** Whether a row is in the window by its timestamp (`since`); a row without a readable one is malformed. */
  const inWindow = (timestamp: unknown, line: number): boolean => {
    if (since === undefined) return true;
    const t = timeOf(timestamp);
    if (t === undefined) fail(line, `no readable '${ts}' timestamp`);
    return t !== undefined && t >= since;
  };
  const take = (record: Record<string, unknown>, line: number) => {
    if (!inWindow(record[ts!], line)) return;
    w.rows++;
    for (const [k, v] of Object.entries(record)) {
      if (k === ts) noteTime(w, v);
      else addValue(w, k, v, line);
    }
  };
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
  } else if (!(await hasQuote(file))) {
    await readPlainCsv(w, file, ts, inWindow, fail);
  } else {
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

/** Whether a file has a `"` anywhere: only then can a CSV field be quoted (and need the full RFC 4180 parser). */
async function hasQuote(file: string): Promise<boolean> {
  for await (const chunk of fs.createReadStream(file, { highWaterMark: 1 << 20 })) {
    if ((chunk as Buffer).includes(0x22)) return true;
  }
  return false;
}

/**
 * Reads a CSV file without quotes (what numeric exports and mlstack's capture write) a line at a time: split on
 * commas, each value added to its column by index, no object per row. Same rows, values, line numbers and
 * skipped-row rules as the csv-parse path (which files with quotes take); about 4× as fast (docs/benchmarks.md).
 */
async function readPlainCsv(
  w: Window,
  file: string,
  ts: string | undefined,
  inWindow: (timestamp: unknown, line: number) => boolean,
  fail: (line: number, message: string) => void,
): Promise<void> {
  let header: string[] | undefined;
  let cols: (ColumnStats | undefined)[] = [];
  let tsIndex = -1;
  let lineNo = 0;
  let carry = '';
  const row = (text: string) => {
    lineNo++;
    const line = text.endsWith('\r') ? text.slice(0, -1) : text;
    if (line === '') return;
    if (!header) {
      header = (lineNo === 1 && line.charCodeAt(0) === 0xfeff ? line.slice(1) : line).split(',');
      tsIndex = ts === undefined ? -1 : header.indexOf(ts);
      return;
    }
    const fields = line.split(',');
    if (fields.length !== header.length) {
      fail(
        lineNo,
        `Invalid Record Length: columns length is ${header.length}, got ${fields.length} on line ${lineNo}`,
      );
      return;
    }
    if (!inWindow(tsIndex >= 0 ? fields[tsIndex] : undefined, lineNo)) return;
    w.rows++;
    // Columns exist from the first data row on, as with csv-parse.
    if (cols.length === 0) cols = header.map((name, i) => (i === tsIndex ? undefined : column(w, name)));
    for (let i = 0; i < fields.length; i++) {
      const c = cols[i];
      if (c) addTo(c, fields[i], lineNo);
      else noteTime(w, fields[i]);
    }
  };
  for await (const chunk of fs.createReadStream(file, { encoding: 'utf8', highWaterMark: 1 << 20 })) {
    const text = carry + (chunk as string);
    let start = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', start)) {
      row(text.slice(start, nl));
      start = nl + 1;
    }
    carry = text.slice(start);
  }
  if (carry !== '') row(carry);
}

/** A timestamp as epoch milliseconds (ISO strings, or epoch seconds/milliseconds), if it reads as one. */
function timeOf(raw: unknown): number | undefined {
  if (raw === null || raw === undefined || raw === '') return undefined;
  const t = typeof raw === 'number' ? (raw > 1e12 ? raw : raw * 1000) : new Date(String(raw)).getTime();
  return Number.isNaN(t) ? undefined : t;
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
