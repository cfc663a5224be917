// A copy of the region's data for the embedded store, by FHIR Bulk Data
// export: kick off a system-level `$export` of the types the node reads, poll
// its status (honouring Retry-After), download the NDJSON files, and load
// them with ingest into a DuckDB store. The credentials, retries, timeouts
// and failure mapping are the live source's; files are downloaded with
// credentials only from the server's own origin, and never from anywhere but
// https or that origin.
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { ingest } from '../ingest/index.ts';
import type { IngestOptions, IngestReport } from '../ingest/index.ts';
import { checkServerUrl, createAuthProvider } from './auth.ts';
import type { FhirAuth } from './auth.ts';
import { sourceProblem } from './errors.ts';
import { createFhirHttp, parseRetryAfter, readLimitedJson } from './fhir-http.ts';
import type { RequestSpec } from './fhir-http.ts';
import { SEARCH_TYPES } from './search-url.ts';
import type { SearchType } from './search-url.ts';

export interface BulkSyncOptions {
  readonly baseUrl: string;
  readonly auth: FhirAuth;
  readonly recordKeySecret: Uint8Array;
  /** The DuckDB store to (re)load. */
  readonly dbPath: string;
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
  /** Options passed to ingest (workers, maxBadShare, progress). */
  readonly ingest?: Omit<IngestOptions, 'sources' | 'dbPath' | 'recordKeySecret'>;
  readonly signal?: AbortSignal;
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly now?: () => number;
}

export interface BulkSyncReport {
  /** The server's snapshot time of the export. */
  readonly transactionTime: string;
  readonly files: number;
  readonly bytes: number;
  /** OperationOutcome files the server reported (not downloaded). */
  readonly errorFiles: number;
  readonly ingest: IngestReport;
}

interface ManifestFile {
  readonly type: SearchType;
  readonly url: string;
}

interface Manifest {
  readonly transactionTime: string;
  readonly requiresAccessToken: boolean;
  readonly output: readonly ManifestFile[];
  readonly errorFiles: number;
}

function invalid(detail: string): Error {
  return sourceProblem('ERR_SOURCE_INVALID', { detail });
}

function isJson(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sleepFor(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const timer = setTimeout(resolvePromise, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      },
      { once: true },
    );
  });
}

/** Reads a completed export's manifest, keeping the files of the requested types. */
export function readManifest(json: unknown, types: ReadonlySet<string>): Manifest {
  if (!isJson(json) || !Array.isArray(json.output) || typeof json.transactionTime !== 'string') {
    throw invalid('the FHIR server’s export manifest is not readable');
  }
  const output: ManifestFile[] = [];
  for (const item of json.output) {
    if (!isJson(item) || typeof item.type !== 'string' || typeof item.url !== 'string') {
      throw invalid('the FHIR server’s export manifest is not readable');
    }
    const type = SEARCH_TYPES.find((t) => t === item.type);
    if (type !== undefined && types.has(type)) output.push({ type, url: item.url });
  }
  return {
    transactionTime: json.transactionTime,
    requiresAccessToken: json.requiresAccessToken === true,
    output,
    errorFiles: Array.isArray(json.error) ? json.error.length : 0,
  };
}

/**
 * Exports the server's data with Bulk Data `$export` and loads it into the
 * store at `dbPath` (replacing its data, as ingest does).
 * @example await syncFromBulkExport({ baseUrl, auth, recordKeySecret, dbPath: 'node.duckdb' })
 */
export async function syncFromBulkExport(options: BulkSyncOptions): Promise<BulkSyncReport> {
  const baseUrl = checkServerUrl(options.baseUrl, options.auth);
  const base = new URL(baseUrl);
  const types = options.types ?? SEARCH_TYPES;
  if (types.length === 0 || !types.every((t) => (SEARCH_TYPES as readonly string[]).includes(t))) {
    throw sourceProblem('ERR_SOURCE_CONFIG', {
      detail: 'types must name resource types the node reads',
    });
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? sleepFor;
  const timeoutMs = options.timeoutMs ?? 30_000;
  const deps = { fetch: fetchImpl, timeoutMs, now };
  const http = createFhirHttp({
    fetch: fetchImpl,
    auth: createAuthProvider(options.auth, deps),
    timeoutMs,
    now,
  });
  // Files on another host never see the node's credentials.
  const anonymous = createFhirHttp({
    fetch: fetchImpl,
    auth: createAuthProvider({ kind: 'none' }, deps),
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
  const kickOffUrl = `${baseUrl}/$export?_type=${encodeURIComponent(types.join(','))}`;
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
        throw sourceProblem('ERR_SOURCE_UNAVAILABLE', {
          detail: 'the FHIR server’s export did not finish in time',
        });
      }
      await sleep(Math.min(state.waitMs ?? interval, maxInterval), signal);
    }
  } catch (err) {
    await release();
    throw err;
  }

  const dir = await mkdtemp(join(dirname(resolve(options.dbPath)), '.tessera-export-'));
  try {
    let bytes = 0;
    try {
      bytes = await downloadAll(manifest, dir);
    } finally {
      await release();
    }
    const report = await ingest({
      ...options.ingest,
      sources: [dir],
      dbPath: options.dbPath,
      recordKeySecret: options.recordKeySecret,
    });
    return {
      transactionTime: manifest.transactionTime,
      files: manifest.output.length,
      bytes,
      errorFiles: manifest.errorFiles,
      ingest: report,
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }

  async function downloadAll(files: Manifest, into: string): Promise<number> {
    let bytes = 0;
    const maxBytes = options.maxDownloadBytes ?? 20 * 1024 ** 3;
    const counters = new Map<string, number>();
    for (const file of files.output) {
      const url = new URL(file.url, `${baseUrl}/`);
      const sameOrigin = url.origin === base.origin;
      if (files.requiresAccessToken ? !sameOrigin : !sameOrigin && url.protocol !== 'https:') {
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
                  throw sourceProblem('ERR_SOURCE_TOO_LARGE', {
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
