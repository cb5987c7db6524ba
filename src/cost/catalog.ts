import * as fs from 'node:fs';
import type { Cloud } from '../spec/gpu';
import { packageFile } from '../synth/package-info';

/** Where a price comes from, and when it was read or published. */
export interface PriceSource {
  readonly title: string;
  readonly url: string;
  /** `YYYY-MM-DD`. */
  readonly date: string;
  readonly note?: string;
}

/** What a price is per. */
export type PriceUnit = 'hour' | 'GB-month' | 'month';

/** One price of the catalog. */
export interface PriceRow {
  readonly cloud: Cloud;
  /** The region, or `*` for a price that holds in every region the catalog does not list. */
  readonly region: string;
  /**
   * `ec2/<instance type>`, `eks/cluster`, `gce/<machine type>`, `gce-gpu/<accelerator>`, `gce-disk/<disk type>`,
   * `vm/<VM size>`, `aks/cluster`, … (the estimator's names, printed with every unpriced resource).
   */
  readonly sku: string;
  readonly unit: PriceUnit;
  /** On-demand price in USD. */
  readonly usd: number;
  /** Spot (preemptible) price in USD, when the source gives one. */
  readonly spotUsd?: number;
  /** Key of {@link PriceCatalog.sources}. */
  readonly source: string;
  /** Index in {@link PriceCatalog.files} of the file the row comes from (later files win). */
  readonly file?: number;
}

/** A price catalog: dated sources and the prices taken from them. */
export interface PriceCatalog {
  readonly currency: 'USD';
  /** Hours a month is priced at (730 = 8760 / 12, as the clouds' calculators). */
  readonly hoursPerMonth: number;
  readonly sources: Readonly<Record<string, PriceSource>>;
  readonly prices: readonly PriceRow[];
  /** The files the catalog was read from, built-in first. */
  readonly files: readonly string[];
}

/** A price catalog file that cannot be used: names the file, the row and the field. */
export class PriceCatalogError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PriceCatalogError';
  }
}

const CLOUDS: readonly Cloud[] = ['aws', 'gcp', 'azure'];
const UNITS: readonly PriceUnit[] = ['hour', 'GB-month', 'month'];

/** mlstack's built-in catalog (`prices/catalog.json`, from the sources or the build). */
export function builtInCatalogFile(): string {
  const p = packageFile('prices/catalog.json');
  if (!p) {
    throw new PriceCatalogError(
      'the built-in price catalog prices/catalog.json is missing from this copy of mlstack',
    );
  }
  return p;
}

/**
 * Reads the built-in catalog and then each of `overrides` (a user's prices: negotiated, other regions): a row of
 * a later file replaces the row of the same cloud, region and sku; sources merge by key.
 * @throws PriceCatalogError naming the file, the row and the field of the first invalid value
 */
export function loadPriceCatalog(overrides: readonly string[] = []): PriceCatalog {
  const files = [builtInCatalogFile(), ...overrides];
  const sources: Record<string, PriceSource> = {};
  const rows = new Map<string, PriceRow>();
  let hoursPerMonth = 730;
  for (const [i, file] of files.entries()) {
    const parsed = readCatalogFile(file, i > 0);
    Object.assign(sources, parsed.sources);
    if (parsed.hoursPerMonth !== undefined) hoursPerMonth = parsed.hoursPerMonth;
    for (const row of parsed.prices) rows.set(priceKey(row.cloud, row.region, row.sku), { ...row, file: i });
  }
  for (const row of rows.values()) {
    if (!sources[row.source]) {
      throw new PriceCatalogError(
        `price ${row.cloud}/${row.region}/${row.sku} names source '${row.source}', which no catalog file defines: add it under "sources" with a title, url and date`,
      );
    }
  }
  return { currency: 'USD', hoursPerMonth, sources, prices: [...rows.values()], files };
}

function priceKey(cloud: Cloud, region: string, sku: string): string {
  return `${cloud} ${region} ${sku}`;
}

/**
 * The price of `sku` in `region`: from the last file that prices it there or everywhere (`*`); within one file the
 * row for the region wins over the `*` row. So a user's `*` price replaces the built-in regional ones.
 */
export function findPrice(
  catalog: PriceCatalog,
  cloud: Cloud,
  region: string,
  sku: string,
): PriceRow | undefined {
  const candidates = catalog.prices.filter(
    (p) => p.cloud === cloud && p.sku === sku && (p.region === region || p.region === '*'),
  );
  const rank = (p: PriceRow) => (p.file ?? 0) * 2 + (p.region === region ? 1 : 0);
  return candidates.sort((a, b) => rank(b) - rank(a))[0];
}

interface CatalogFile {
  sources: Record<string, PriceSource>;
  hoursPerMonth?: number;
  prices: PriceRow[];
}

function readCatalogFile(file: string, isOverride: boolean): CatalogFile {
  let parsed: unknown;
  try {
    parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new PriceCatalogError(
      err.code === 'ENOENT' ? `${file}: no such price file` : `${file}: not valid JSON: ${err.message}`,
    );
  }
  const fail = (where: string, problem: string): never => {
    throw new PriceCatalogError(`${file}: ${where} ${problem}`);
  };
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    fail('the file', 'must be a JSON object with "sources" and "prices"');
  }
  const obj = parsed as Record<string, unknown>;
  if (obj.currency !== undefined && obj.currency !== 'USD') {
    fail(
      '"currency"',
      `is ${JSON.stringify(obj.currency)}; mlstack prices in USD: convert the prices to USD`,
    );
  }
  const hours = obj.hoursPerMonth;
  if (hours !== undefined && (typeof hours !== 'number' || !(hours > 0 && hours <= 744))) {
    fail(
      '"hoursPerMonth"',
      `is ${JSON.stringify(hours)}; use a number of hours from 1 to 744 (730 is the clouds' average)`,
    );
  }
  const sources: Record<string, PriceSource> = {};
  const rawSources = obj.sources ?? {};
  if (typeof rawSources !== 'object' || rawSources === null || Array.isArray(rawSources)) {
    fail('"sources"', 'must be an object of sources by key');
  }
  for (const [key, s] of Object.entries(rawSources as Record<string, unknown>)) {
    const src = (s ?? {}) as Record<string, unknown>;
    for (const field of ['title', 'url', 'date'] as const) {
      if (typeof src[field] !== 'string' || src[field] === '') {
        fail(`source '${key}'`, `has no "${field}": every source says what it is, where it is and its date`);
      }
    }
    if (!/^\d{4}-\d{2}-\d{2}$/.test(src.date as string)) {
      fail(`source '${key}' "date"`, `is ${JSON.stringify(src.date)}; write it as YYYY-MM-DD`);
    }
    sources[key] = {
      title: src.title as string,
      url: src.url as string,
      date: src.date as string,
      ...(typeof src.note === 'string' ? { note: src.note } : {}),
    };
  }
  if (!Array.isArray(obj.prices)) fail('"prices"', 'must be a list of prices');
  const prices = (obj.prices as unknown[]).map((r, i): PriceRow => {
    const row = (r ?? {}) as Record<string, unknown>;
    const at = `prices[${i}]`;
    if (!CLOUDS.includes(row.cloud as Cloud)) {
      fail(`${at}.cloud`, `is ${JSON.stringify(row.cloud)}; use one of ${CLOUDS.join(', ')}`);
    }
    for (const field of ['region', 'sku', 'source'] as const) {
      if (typeof row[field] !== 'string' || row[field] === '') fail(`${at}.${field}`, 'is missing');
    }
    if (!UNITS.includes(row.unit as PriceUnit)) {
      fail(`${at}.unit`, `is ${JSON.stringify(row.unit)}; use one of ${UNITS.join(', ')}`);
    }
    for (const field of ['usd', 'spotUsd'] as const) {
      const v = row[field];
      if ((field === 'usd' || v !== undefined) && (typeof v !== 'number' || !Number.isFinite(v) || v < 0)) {
        fail(`${at}.${field}`, `is ${JSON.stringify(v)}; give a price in USD, 0 or more`);
      }
    }
    return {
      cloud: row.cloud as Cloud,
      region: row.region as string,
      sku: row.sku as string,
      unit: row.unit as PriceUnit,
      usd: row.usd as number,
      ...(row.spotUsd !== undefined ? { spotUsd: row.spotUsd as number } : {}),
      source: row.source as string,
    };
  });
  if (!isOverride && prices.length === 0) fail('"prices"', 'is empty');
  return { sources, ...(hours !== undefined ? { hoursPerMonth: hours as number } : {}), prices };
}
