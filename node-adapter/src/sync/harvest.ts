// A copy of the region's data for the embedded store when the FHIR server
// offers no Bulk Data export: every resource type the node reads is harvested
// by paged search (the FHIR client the live source uses too: credentials,
// retries, timeouts, paging checks) into Bulk Data style NDJSON files. And the store refresh
// both sync paths share: the new data is loaded into a NEW DuckDB file next
// to the store, which is renamed over the store only once it is complete, so
// a failed sync leaves the previous store and data version in place.
//
// Incremental refresh: Bulk Data only, and only when asked for
// (`incremental`), with the last export kept next to the store (mirror.ts):
// the store holds flattened rows a partial export cannot be merged into.
// Whether a server reports deletions in a `_since` export cannot be read from
// its CapabilityStatement, so a full export still runs every `fullEveryMs`.
// Paged search is always complete: `_lastUpdated` reports no deletions.
// When the content is unchanged the new file is discarded and the store, its
// data version and the node's caches stay as they are.
import type { FhirReading } from '../ingest/reading.ts';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { ingest } from '../ingest/index.ts';
import type { IngestReport } from '../ingest/index.ts';
import { readMeta } from '../ingest/publish.ts';
import { META } from '../store/layout.ts';
import { openStore } from '../store/open.ts';
import { checkServerUrl, createAuthProvider } from '../fhir-client/auth.ts';
import type { FhirAuth } from '../fhir-client/auth.ts';
import { canSearch, readCapabilities, supportsParam } from '../fhir-client/capabilities.ts';
import { nodeProblem } from '../errors.ts';
import { createFhirHttp } from '../fhir-client/fhir-http.ts';
import type { FhirHttp } from '../fhir-client/fhir-http.ts';
import { ResourceBudget, searchAll } from '../fhir-client/fhir-search.ts';
import {
  buildMirror,
  createMirror,
  mergeMirror,
  mirrorDir,
  mirrorFiles,
  readDeletions,
  readMirrorState,
  replaceMirror,
  writeMirrorState,
} from './mirror.ts';
import type { MirrorState } from './mirror.ts';
import { SEARCH_TYPES } from '../fhir-client/search-url.ts';
import type { SearchParam, SearchType } from '../fhir-client/search-url.ts';
import { downloadBulkExport } from './bulk-export.ts';
import type { BulkDownloadOptions } from './bulk-export.ts';

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
    throw nodeProblem('ERR_SOURCE_CONFIG', { detail: 'pageSize must be from 1 to 10000' });
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
  /** `auto`: Bulk Data export when the server declares it, paged search otherwise. */
  readonly mode: SyncMode;
  readonly pageSize?: number;
  readonly concurrency?: number;
  readonly timeoutMs?: number;
  /** Bulk Data only: wait between status polls when the server names none. */
  readonly pollIntervalMs?: number;
  /**
   * Bulk Data only: keep the export next to the store (`<store>.export/`)
   * and ask the next export only for what changed `_since`.
   * For servers that list deleted resources in their `_since` manifests.
   */
  readonly incremental: boolean;
  /** With `incremental`: a full export at least this often. */
  readonly fullEveryMs: number;
  /** With `incremental`: a `_since` export larger than this is replaced by a full one (default 256 MiB). */
  readonly maxDeltaBytes?: number;
  /** Parser threads for ingest (default: ingest's choice). */
  readonly workers?: number;
  /** Largest tolerated share of malformed resources (default ingest's, 0.01). */
  readonly maxBadShare?: number;
  /** How resources are read (the node configuration's `reading`). */
  readonly reading?: FhirReading;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

export interface RefreshReport {
  readonly method: 'bulk' | 'search';
  /** The `_since` of an incremental Bulk Data export; undefined for a full read. */
  readonly since: string | undefined;
  /** True when the store was replaced (its data version changed). */
  readonly changed: boolean;
  readonly dataVersion: string;
  /** Resources read from the server (for an incremental export: changed or new ones). */
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

/** The data version of the store at `path` (a private copy), or undefined. */
async function storeVersion(path: string): Promise<string | undefined> {
  if (!(await exists(path))) return undefined;
  const store = await openStore(path, { readOnly: true });
  try {
    return (await readMeta(store.connection)).get(META.dataVersion);
  } catch {
    return undefined;
  } finally {
    store.close();
  }
}

function sameTypes(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && [...a].sort().join() === [...b].sort().join();
}

interface Loaded {
  readonly report: IngestReport;
  readonly resources: number;
  readonly since: string | undefined;
  /** The kept export to put in place after the store (incremental only). */
  readonly mirror?: string;
}

/**
 * Refreshes the DuckDB store at `storePath` from a FHIR server: the data is
 * loaded into a new file in the same directory (a copy of the current store,
 * so unchanged content keeps its data version), which is renamed over the
 * store when complete and changed. On any failure the new file is removed
 * and the store (and the kept export, when incremental) is untouched.
 * @example await refreshStore({ baseUrl, auth: { kind: 'none' }, storePath: 'node.duckdb', recordKeySecret,
 *   mode: 'auto', incremental: false, fullEveryMs: 24 * 3_600_000 })
 */
export async function refreshStore(options: RefreshOptions): Promise<RefreshReport> {
  const started = performance.now();
  const now = options.now ?? Date.now;
  const storePath = resolve(options.storePath);
  const baseUrl = checkServerUrl(options.baseUrl, options.auth);
  const { mode } = options;
  let method: 'bulk' | 'search' = mode === 'bulk' ? 'bulk' : 'search';
  if (mode === 'auto') {
    const statement = await httpFor(options).getJson(`${baseUrl}/metadata`, options.signal);
    method = declaresBulkExport(statement) ? 'bulk' : 'search';
  }
  const kept = mirrorDir(storePath);
  const work = await mkdtemp(join(dirname(storePath), `.${basename(storePath)}.sync-`));
  const next = join(work, 'store.duckdb');
  try {
    if (await exists(storePath)) await copyFile(storePath, next);
    const common = {
      baseUrl,
      auth: options.auth,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      ...(options.fetch === undefined ? {} : { fetch: options.fetch }),
      ...(options.now === undefined ? {} : { now: options.now }),
    };
    const load = (sources: string): Promise<IngestReport> =>
      ingest({
        ...(options.workers === undefined ? {} : { workers: options.workers }),
        ...(options.maxBadShare === undefined ? {} : { maxBadShare: options.maxBadShare }),
        ...(options.reading === undefined ? {} : { reading: options.reading }),
        sources: [sources],
        dbPath: next,
        recordKeySecret: options.recordKeySecret,
      });
    const bulk: Omit<BulkDownloadOptions, 'outDir'> = {
      ...common,
      ...(options.pollIntervalMs === undefined ? {} : { pollIntervalMs: options.pollIntervalMs }),
    };

    /**
     * A `_since` export merged into the kept one when that belongs to this
     * store, server and types and the last full export is recent; a full one
     * otherwise (or when the changes are too many to merge in memory).
     */
    const incremental = async (): Promise<Loaded> => {
      const types = SEARCH_TYPES;
      const state = await readMirrorState(kept);
      const { fullEveryMs } = options;
      let since: string | undefined;
      if (
        state !== undefined &&
        state.baseUrl === baseUrl &&
        sameTypes(state.types, types) &&
        now() - Date.parse(state.fullAt) < fullEveryMs &&
        state.dataVersion === (await storeVersion(next))
      ) {
        since = state.transactionTime;
      }
      const fresh = join(work, 'export');
      await createMirror(fresh);
      for (let attempt = 0; ; attempt++) {
        const delta = join(work, `download-${attempt}`);
        const deletedDir = join(work, `deleted-${attempt}`);
        await mkdir(delta);
        await mkdir(deletedDir);
        const startedAt = new Date(now()).toISOString();
        const got = await downloadBulkExport({
          ...bulk,
          types,
          outDir: delta,
          ...(since === undefined ? {} : { since, deletedDir }),
        });
        if (since !== undefined && got.bytes > (options.maxDeltaBytes ?? 256 << 20)) {
          since = undefined;
          continue;
        }
        let resources: number | undefined;
        if (since === undefined) {
          await buildMirror(delta, fresh, types);
        } else {
          const merged = await mergeMirror({
            previous: kept,
            delta,
            deleted: await readDeletions(deletedDir, types),
            into: fresh,
            types,
          });
          resources = merged.resources;
        }
        const report = await load(mirrorFiles(fresh));
        const keptState: MirrorState = {
          format: 1,
          baseUrl,
          types,
          transactionTime: got.transactionTime,
          fullAt: since === undefined ? startedAt : state!.fullAt,
          dataVersion: report.dataVersion,
        };
        await writeMirrorState(fresh, keptState);
        return { report, resources: resources ?? report.total, since, mirror: fresh };
      }
    };

    let loaded: Loaded;
    if (method === 'search') {
      const ndjson = join(work, 'ndjson');
      await mkdir(ndjson);
      const harvest = await harvestBySearch({
        ...common,
        outDir: ndjson,
        ...(options.pageSize === undefined ? {} : { pageSize: options.pageSize }),
        ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      });
      loaded = { report: await load(ndjson), resources: harvest.total, since: undefined };
    } else if (!options.incremental) {
      const ndjson = join(work, 'ndjson');
      await mkdir(ndjson);
      await downloadBulkExport({ ...bulk, outDir: ndjson });
      const report = await load(ndjson);
      loaded = { report, resources: report.total, since: undefined };
    } else {
      loaded = await incremental();
    }

    if (options.signal?.aborted === true) {
      throw nodeProblem('ERR_SOURCE_UNAVAILABLE', { detail: 'the sync was cancelled' });
    }
    const { report } = loaded;
    // The swap: one rename within the directory; readers of the old file keep it open.
    if (report.changed) await rename(next, storePath);
    // The kept export follows the store; a sync that keeps none removes a stale one.
    // Past the swap nothing may fail the sync (the node must switch to the new
    // store): without a kept export the next sync is a full one.
    const drop = (): Promise<void> => rm(kept, { recursive: true, force: true });
    if (loaded.mirror !== undefined) {
      await replaceMirror(loaded.mirror, kept).catch(() => drop().catch(() => undefined));
    } else {
      await drop().catch(() => undefined);
    }
    return {
      method,
      since: loaded.since,
      changed: report.changed,
      dataVersion: report.dataVersion,
      resources: loaded.resources,
      ingest: report,
      elapsedMs: Math.round(performance.now() - started),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
