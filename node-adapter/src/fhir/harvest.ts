// A copy of the region's data for the embedded store when the FHIR server
// offers no Bulk Data export: every resource type the node reads is harvested
// by paged search (the live source's client: credentials, retries, timeouts,
// paging checks) into Bulk Data style NDJSON files. And the store refresh
// both sync paths share: the new data is loaded into a NEW DuckDB file next
// to the store, which is renamed over the store only once it is complete, so
// a failed sync leaves the previous store and data version in place.
//
// Incremental refresh (`_since`): not used. The store holds flattened rows,
// not resources, so a partial export cannot be merged into it, and neither
// `_since` nor `_lastUpdated` reports deletions. Every sync reads everything;
// when the content is unchanged the new file is discarded and the store, its
// data version and the node's caches stay as they are.
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ingest } from '../ingest/index.ts';
import type { IngestReport } from '../ingest/index.ts';
import { checkServerUrl, createAuthProvider } from './auth.ts';
import type { FhirAuth } from './auth.ts';
import { canSearch, readCapabilities, supportsParam } from './capabilities.ts';
import { sourceProblem } from './errors.ts';
import { createFhirHttp } from './fhir-http.ts';
import type { FhirHttp } from './fhir-http.ts';
import { ResourceBudget, searchAll } from './fhir-search.ts';
import { SEARCH_TYPES } from './search-url.ts';
import type { SearchParam, SearchType } from './search-url.ts';
import { syncFromBulkExport } from './sync.ts';

export interface HarvestOptions {
  readonly baseUrl: string;
  readonly auth: FhirAuth;
  /** Directory the NDJSON files are written to (created by the caller). */
  readonly outDir: string;
  /** Types to harvest (default: every type the node reads that the server can search). */
  readonly types?: readonly SearchType[];
  /** `_count` asked for, when the server declares it (default 500). */
  readonly pageSize?: number;
  /** Requests in flight at once (default 4). */
  readonly concurrency?: number;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** Most resources read in all (default 50,000,000). */
  readonly maxResources?: number;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export interface HarvestReport {
  /** Resources written per type. */
  readonly resources: Readonly<Partial<Record<SearchType, number>>>;
  readonly total: number;
  readonly files: readonly string[];
}

function isJson(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * True when a CapabilityStatement declares the system-level Bulk Data
 * `$export` operation (`rest.operation` named `export`).
 * @example declaresBulkExport(await (await fetch(`${base}/metadata`)).json())
 */
export function declaresBulkExport(statement: unknown): boolean {
  if (!isJson(statement) || !Array.isArray(statement.rest)) return false;
  return statement.rest.some(
    (rest) =>
      isJson(rest) &&
      rest.mode === 'server' &&
      Array.isArray(rest.operation) &&
      rest.operation.some(
        (op) =>
          isJson(op) &&
          (op.name === 'export' ||
            (typeof op.definition === 'string' &&
              /\/OperationDefinition\/(?:[a-z-]*-)?export$/i.test(op.definition))),
      ),
  );
}

function httpFor(
  options: Pick<HarvestOptions, 'auth' | 'concurrency' | 'timeoutMs' | 'fetch' | 'now'>,
): FhirHttp {
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const timeoutMs = options.timeoutMs ?? 30_000;
  return createFhirHttp({
    fetch: fetchImpl,
    auth: createAuthProvider(options.auth, { fetch: fetchImpl, timeoutMs, now }),
    concurrency: options.concurrency ?? 4,
    timeoutMs,
    now,
  });
}

async function writeLines(out: WriteStream, lines: readonly string[]): Promise<void> {
  if (lines.length === 0) return;
  if (!out.write(`${lines.join('\n')}\n`)) await once(out, 'drain');
}

/**
 * Reads every resource of the node's types by paged search and writes them
 * as `<Type>.000.ndjson` in `outDir`. Types the server cannot search are
 * skipped (their files are absent).
 * @example await harvestBySearch({ baseUrl, auth: { kind: 'none' }, outDir: tmp })
 */
export async function harvestBySearch(options: HarvestOptions): Promise<HarvestReport> {
  const baseUrl = checkServerUrl(options.baseUrl, options.auth);
  const http = httpFor(options);
  const pageSize = options.pageSize ?? 500;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 10_000) {
    throw sourceProblem('ERR_SOURCE_CONFIG', { detail: 'pageSize must be from 1 to 10000' });
  }
  const caps = readCapabilities(await http.getJson(`${baseUrl}/metadata`, options.signal));
  const types = (options.types ?? SEARCH_TYPES).filter((t) => canSearch(caps, t));
  const budget = new ResourceBudget(options.maxResources ?? 50_000_000);
  const counts: Partial<Record<SearchType, number>> = {};
  const files: string[] = [];
  await Promise.all(
    types.map(async (type) => {
      const path = join(options.outDir, `${type}.000.ndjson`);
      files.push(path);
      const out = createWriteStream(path);
      // Pages arrive in order; writes are chained so backpressure holds.
      let writing = Promise.resolve();
      let n = 0;
      try {
        const params: SearchParam[] = supportsParam(caps, type, '_count')
          ? [{ name: '_count', values: [{ kind: 'count', value: pageSize }] }]
          : [];
        await searchAll(
          http,
          baseUrl,
          { type, params },
          budget,
          (page) => {
            n += page.length;
            const lines = page.map((r) => JSON.stringify(r));
            writing = writing.then(() => writeLines(out, lines));
          },
          options.signal,
        );
        await writing;
      } finally {
        out.end();
        await once(out, 'close');
      }
      counts[type] = n;
    }),
  );
  const total = Object.values(counts).reduce((s, n) => s + n, 0);
  return { resources: counts, total, files: files.sort() };
}

export type SyncMode = 'auto' | 'bulk' | 'search';

export interface RefreshOptions {
  readonly baseUrl: string;
  readonly auth: FhirAuth;
  /** The store to refresh; replaced by rename only when a complete new one differs. */
  readonly storePath: string;
  readonly recordKeySecret: Uint8Array;
  /** `auto` (default): Bulk Data export when the server declares it, paged search otherwise. */
  readonly mode?: SyncMode;
  readonly pageSize?: number;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  /** Bulk Data only: wait between status polls when the server names none. */
  readonly pollIntervalMs?: number;
  /** Parser threads for ingest (default: ingest's choice). */
  readonly workers?: number;
  /** Largest tolerated share of malformed resources (default ingest's, 0.01). */
  readonly maxBadShare?: number;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export interface RefreshReport {
  readonly method: 'bulk' | 'search';
  /** True when the store was replaced (its data version changed). */
  readonly changed: boolean;
  readonly dataVersion: string;
  /** Resources read from the server. */
  readonly resources: number;
  readonly ingest: IngestReport;
  readonly elapsedMs: number;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Refreshes the DuckDB store at `storePath` from a FHIR server: the data is
 * loaded into a new file in the same directory (a copy of the current store,
 * so unchanged content keeps its data version), which is renamed over the
 * store when complete and changed. On any failure the new file is removed
 * and the store is untouched.
 * @example await refreshStore({ baseUrl, auth: { kind: 'none' }, storePath: 'node.duckdb', recordKeySecret })
 */
export async function refreshStore(options: RefreshOptions): Promise<RefreshReport> {
  const started = performance.now();
  const storePath = resolve(options.storePath);
  const baseUrl = checkServerUrl(options.baseUrl, options.auth);
  const mode = options.mode ?? 'auto';
  let method: 'bulk' | 'search' = mode === 'bulk' ? 'bulk' : 'search';
  if (mode === 'auto') {
    const statement = await httpFor(options).getJson(`${baseUrl}/metadata`, options.signal);
    method = declaresBulkExport(statement) ? 'bulk' : 'search';
  }
  const work = await mkdtemp(join(dirname(storePath), `.${basename(storePath)}.sync-`));
  const next = join(work, 'store.duckdb');
  try {
    if (await exists(storePath)) await copyFile(storePath, next);
    const common = {
      baseUrl,
      auth: options.auth,
      recordKeySecret: options.recordKeySecret,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.now === undefined ? {} : { now: options.now }),
    };
    const ingestExtra = {
      ...(options.workers === undefined ? {} : { workers: options.workers }),
      ...(options.maxBadShare === undefined ? {} : { maxBadShare: options.maxBadShare }),
    };
    let report: IngestReport;
    let resources: number;
    if (method === 'bulk') {
      const bulk = await syncFromBulkExport({
        ...common,
        dbPath: next,
        ingest: ingestExtra,
        ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
      });
      report = bulk.ingest;
      resources = bulk.ingest.total;
    } else {
      const ndjson = join(work, 'ndjson');
      await mkdir(ndjson);
      const harvest = await harvestBySearch({
        ...common,
        outDir: ndjson,
        ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      });
      resources = harvest.total;
      report = await ingest({
        ...ingestExtra,
        sources: [ndjson],
        dbPath: next,
        recordKeySecret: options.recordKeySecret,
      });
    }
    if (options.signal?.aborted === true) {
      throw sourceProblem('ERR_SOURCE_UNAVAILABLE', { detail: 'the sync was cancelled' });
    }
    // The swap: one rename within the directory; readers of the old file keep it open.
    if (report.changed) await rename(next, storePath);
    return {
      method,
      changed: report.changed,
      dataVersion: report.dataVersion,
      resources,
      ingest: report,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
