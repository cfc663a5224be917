// A copy of the region's data for the embedded store, by FHIR Bulk Data
// export: kick off a system-level `$export` of the types the node reads
// (optionally `_since` an earlier export), poll its status (honouring
// Retry-After), download the NDJSON files (and, `_since`, the deleted
// resources' Bundles), and load them with ingest into a DuckDB store. The
// credentials, retries, timeouts and failure mapping are the FHIR client's
// (fhir-client/), as for the live source; files are downloaded with credentials only from the server's own origin,
// and never from anywhere but https or that origin.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { ingest } from '../ingest/index.ts';
import type { IngestOptions, IngestReport } from '../ingest/index.ts';
import { checkServerUrl, createAuthProvider } from '../fhir-client/auth.ts';
import type { FhirAuth } from '../fhir-client/auth.ts';
import { nodeProblem } from '../errors.ts';
import {
  createFhirHttp,
  parseRetryAfter,
  readLimitedJson,
  waitFor,
} from '../fhir-client/fhir-http.ts';
import type { RequestSpec } from '../fhir-client/fhir-http.ts';
import { SEARCH_TYPES } from '../fhir-client/search-url.ts';
import type { SearchType } from '../fhir-client/search-url.ts';

export interface BulkDownloadOptions {
  readonly baseUrl: string;
  readonly auth: FhirAuth;
  /** Directory the output files are written to, as `<Type>.<n>.ndjson` (created by the caller). */
  readonly outDir: string;
  /**
   * Only resources changed since this instant (a previous export's
   * transactionTime), and the deletions since, which are written to
   * `deletedDir` when the server lists any.
   */
  readonly since?: string;
  /** Required with `since`: where the deleted resources' Bundles go (created by the caller). */
  readonly deletedDir?: string;
  /** Types to export (default: every type the node reads). */
  readonly types?: readonly SearchType[];
  /** Wait between polls when the server names none (default 5 s). */
  readonly pollIntervalMs?: number;
  /** Longest wait between polls, whatever Retry-After says (default 60 s). */
  readonly maxPollIntervalMs?: number;
  /** Longest the export may take before it is cancelled (default 1 h). */
  readonly maxWaitMs?: number;
  /** Most bytes downloaded in all (default 20 GiB). */
  readonly maxDownloadBytes?: number;
  /** Per request (default 30 s); per file download see downloadTimeoutMs. */
  readonly timeoutMs?: number;
  /** Per file (default 30 min). */
  readonly downloadTimeoutMs?: number;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now?: () => number;
}

export interface BulkDownload {
  /** The server's snapshot time of the export: the `since` of the next one. */
  readonly transactionTime: string;
  /** Output files downloaded. */
  readonly files: number;
  /** Deleted-resource files downloaded (`since` only). */
  readonly deletedFiles: number;
  readonly bytes: number;
  /** OperationOutcome files the server reported (not downloaded). */
  readonly errorFiles: number;
}

export interface BulkSyncOptions extends Omit<
  BulkDownloadOptions,
  'outDir' | 'since' | 'deletedDir'
> {
  readonly recordKeySecret: Uint8Array;
  /** The DuckDB store to (re)load. */
  readonly dbPath: string;
  /** Options passed to ingest (workers, maxBadShare, progress). */
  readonly ingest?: Omit<IngestOptions, 'sources' | 'dbPath' | 'recordKeySecret'>;
}

export interface BulkSyncReport extends Omit<BulkDownload, 'deletedFiles'> {
  readonly ingest: IngestReport;
}

interface ManifestFile {
  readonly type: string;
  readonly url: string;
}

interface Manifest {
  readonly transactionTime: string;
  readonly requiresAccessToken: boolean;
  readonly output: readonly ManifestFile[];
  /** Bundles of deleted resources (Bulk Data v2, `_since` exports). */
  readonly deleted: readonly ManifestFile[];
  readonly errorFiles: number;
}

function invalid(detail: string): Error {
  return nodeProblem('ERR_SOURCE_INVALID', { detail });
}

function isJson(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function files(list: unknown, keep: (type: string) => boolean): ManifestFile[] {
  if (list === undefined) return [];
  if (!Array.isArray(list)) throw invalid('the FHIR server’s export manifest is not readable');
  const kept: ManifestFile[] = [];
  for (const item of list) {
    if (!isJson(item) || typeof item.type !== 'string' || typeof item.url !== 'string') {
      throw invalid('the FHIR server’s export manifest is not readable');
    }
    if (keep(item.type)) kept.push({ type: item.type, url: item.url });
  }
  return kept;
}

/** Reads a completed export's manifest, keeping the files of the requested types. */
export function readManifest(json: unknown, types: ReadonlySet<string>): Manifest {
  if (!isJson(json) || !Array.isArray(json.output) || typeof json.transactionTime !== 'string') {
    throw invalid('the FHIR server’s export manifest is not readable');
  }
  return {
    transactionTime: json.transactionTime,
    requiresAccessToken: json.requiresAccessToken === true,
    output: files(json.output, (type) => types.has(type)),
    deleted: files(json.deleted, (type) => type === 'Bundle'),
    errorFiles: Array.isArray(json.error) ? json.error.length : 0,
  };
}

/** Requests in flight at once, per client: status polls, file downloads, the release. */
const CONCURRENCY = 4;
const INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})$/;

/**
 * Exports the server's data with Bulk Data `$export` and loads it into the
 * store at `dbPath` (replacing its data, as ingest does).
 * @example await syncFromBulkExport({ baseUrl, auth, recordKeySecret, dbPath: 'node.duckdb' })
 */
export async function syncFromBulkExport(options: BulkSyncOptions): Promise<BulkSyncReport> {
  const dir = await mkdtemp(join(dirname(resolve(options.dbPath)), '.tessera-export-'));
  try {
    const download = await downloadBulkExport({ ...options, outDir: dir });
    const report = await ingest({
      ...options.ingest,
      sources: [dir],
      dbPath: options.dbPath,
      recordKeySecret: options.recordKeySecret,
    });
    const { transactionTime, files, bytes, errorFiles } = download;
    return { transactionTime, files, bytes, errorFiles, ingest: report };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Runs a Bulk Data `$export` (`_since` one, when asked) and downloads its
 * files; the export is released on the server (DELETE on its status URL)
 * whatever happens.
 * @example await downloadBulkExport({ baseUrl, auth, outDir: tmp, since: last.transactionTime, deletedDir })
 */
export async function downloadBulkExport(options: BulkDownloadOptions): Promise<BulkDownload> {
  const baseUrl = checkServerUrl(options.baseUrl, options.auth);
  const base = new URL(baseUrl);
  const types = options.types ?? SEARCH_TYPES;
  if (types.length === 0 || !types.every((t) => (SEARCH_TYPES as readonly string[]).includes(t))) {
    throw nodeProblem('ERR_SOURCE_CONFIG', {
      detail: 'types must name resource types the node reads',
    });
  }
  if (
    options.since !== undefined &&
    (!INSTANT.test(options.since) || options.deletedDir === undefined)
  ) {
    throw nodeProblem('ERR_SOURCE_CONFIG', {
      detail: 'since must be a FHIR instant, with a directory for deletions',
    });
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? waitFor;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deps = { fetch: fetchImpl, timeoutMs, now };
  const http = createFhirHttp({
    fetch: fetchImpl,
    auth: createAuthProvider(options.auth, deps),
    concurrency: CONCURRENCY,
    timeoutMs,
    now,
  });
  // Files on another host never see the node's credentials.
  const anonymous = createFhirHttp({
    fetch: fetchImpl,
    auth: createAuthProvider({ kind: 'none' }, deps),
    concurrency: CONCURRENCY,
    timeoutMs,
    now,
  });
  const signal = options.signal;

  const kickOff: RequestSpec<string> = {
    headers: { accept: 'application/fhir+json', prefer: 'respond-async' },
    read: async (response) => {
      await response.body?.cancel().catch(() => undefined);
      const location = response.headers.get('content-location');
      if (response.status !== 202 || location === null) {
        throw invalid('the FHIR server did not start an asynchronous export');
      }
      const status = new URL(location, `${baseUrl}/`);
      if (status.origin !== base.origin) throw invalid('the export status lies on another server');
      return status.toString();
    },
  };
  const since = options.since === undefined ? '' : `&_since=${encodeURIComponent(options.since)}`;
  const kickOffUrl = `${baseUrl}/$export?_type=${encodeURIComponent(types.join(','))}${since}`;
  const statusUrl = await http.request(kickOffUrl, kickOff, signal);

  // Cancels a running export, or releases a finished one's files (Bulk Data: DELETE the status URL).
  const release = (): Promise<void> =>
    http
      .request(statusUrl, {
        method: 'DELETE',
        headers: {},
        read: (r) => r.body?.cancel() ?? Promise.resolve(),
      })
      .catch(() => undefined);

  type Poll =
    | { readonly done: false; readonly waitMs: number | undefined }
    | { readonly done: true; readonly manifest: Manifest };
  const poll: RequestSpec<Poll> = {
    headers: { accept: 'application/json' },
    read: async (response) => {
      if (response.status === 202) {
        await response.body?.cancel().catch(() => undefined);
        return { done: false, waitMs: parseRetryAfter(response.headers.get('retry-after'), now()) };
      }
      if (response.status !== 200) throw invalid('the FHIR server’s export status is not readable');
      return {
        done: true,
        manifest: readManifest(await readLimitedJson(response, 16 << 20), new Set(types)),
      };
    },
  };

  const deadline = now() + (options.maxWaitMs ?? 3_600_000);
  const interval = options.pollIntervalMs ?? 5000;
  const maxInterval = options.maxPollIntervalMs ?? 60_000;
  let manifest: Manifest;
  try {
    for (;;) {
      const state = await http.request(statusUrl, poll, signal);
      if (state.done) {
        manifest = state.manifest;
        break;
      }
      if (now() >= deadline) {
        throw nodeProblem('ERR_SOURCE_UNAVAILABLE', {
          detail: 'the FHIR server’s export did not finish in time',
        });
      }
      await sleep(Math.min(state.waitMs ?? interval, maxInterval), signal);
    }
  } catch (err) {
    await release();
    throw err;
  }

  const deleted = options.since === undefined ? [] : manifest.deleted;
  let bytes = 0;
  try {
    bytes = await downloadAll(manifest.output, options.outDir, 0);
    if (options.deletedDir !== undefined) {
      bytes = await downloadAll(deleted, options.deletedDir, bytes);
    }
  } finally {
    await release();
  }
  return {
    transactionTime: manifest.transactionTime,
    files: manifest.output.length,
    deletedFiles: deleted.length,
    bytes,
    errorFiles: manifest.errorFiles,
  };

  /** Downloads `list` into `into`; returns the bytes downloaded in all, `before` included. */
  async function downloadAll(
    list: readonly ManifestFile[],
    into: string,
    before: number,
  ): Promise<number> {
    let bytes = before;
    const maxBytes = options.maxDownloadBytes ?? 20 * 1024 ** 3;
    const counters = new Map<string, number>();
    for (const file of list) {
      const url = new URL(file.url, `${baseUrl}/`);
      const sameOrigin = url.origin === base.origin;
      if (manifest.requiresAccessToken ? !sameOrigin : !sameOrigin && url.protocol !== 'https:') {
        throw invalid('an export file lies where the node does not fetch from');
      }
      const n = counters.get(file.type) ?? 0;
      counters.set(file.type, n + 1);
      const path = join(into, `${file.type}.${String(n).padStart(3, '0')}.ndjson`);
      const download: RequestSpec<number> = {
        headers: { accept: 'application/fhir+ndjson' },
        timeoutMs: options.downloadTimeoutMs ?? 1_800_000,
        read: async (response) => {
          const out = createWriteStream(path);
          let written = 0;
          try {
            if (response.body !== null) {
              for await (const chunk of response.body as AsyncIterable<Uint8Array>) {
                written += chunk.byteLength;
                if (bytes + written > maxBytes) {
                  throw nodeProblem('ERR_SOURCE_TOO_LARGE', {
                    detail: `the export is larger than ${maxBytes} bytes`,
                  });
                }
                if (!out.write(chunk)) await once(out, 'drain');
              }
            }
          } finally {
            out.end();
            await once(out, 'close');
          }
          return written;
        },
      };
      bytes += await (sameOrigin ? http : anonymous).request(url.toString(), download, signal);
    }
    return bytes;
  }
}
