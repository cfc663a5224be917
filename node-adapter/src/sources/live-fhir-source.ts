// The live FHIR source (live/) as the node's source: the configuration's
// credentials are read (a SMART private key from its JWK file), the record
// key secret is loaded or created, and the node gets what readiness and the
// catalogue need on top of evaluation. Its data is as fresh as its server's:
// its age is 0 and it keeps no store.
//
// Catalogue choice: a live source builds a minimal disclosure-safe entry from
// one count search per resource type (`_summary=count` where declared):
// patients and records, rounded as the store's catalogue rounds them. Codes,
// ages and the temporal span are left out: they would take one search per
// code or a read of every patient, which a catalogue request must not cost a
// regional server.
import type { FhirReading } from '../ingest/reading.ts';
import { isAbsolute, join, resolve } from 'node:path';
import type { LoadedConfig } from '@tessera/schemas';
import { catalogueHeader, roundCount } from '../catalogue/catalogue.ts';
import type { RawResult } from '../engine/raw-result.ts';
import type { SourceQuery } from '../evaluate/ports.ts';
import { checkServerUrl, createAuthProvider } from '../fhir-client/auth.ts';
import { resolveFhirAuth } from '../fhir-client/auth-config.ts';
import { canSearch, readCapabilities, supportsParam } from '../fhir-client/capabilities.ts';
import { createFhirHttp } from '../fhir-client/fhir-http.ts';
import { firstPage } from '../fhir-client/fhir-search.ts';
import { SEARCH_TYPES } from '../fhir-client/search-url.ts';
import type { SearchParam } from '../fhir-client/search-url.ts';
import { createFhirSource } from '../live/fhir-source.ts';
import type { FhirSource } from '../live/fhir-source.ts';
import { loadOrCreateKeyFile } from '../store/key-file.ts';
import type { NodeSource } from './source.ts';

/** The configuration's live source, every default filled in. */
export type FhirSourceConfig = Extract<LoadedConfig<'node-config'>['source'], { kind: 'fhir' }>;

export interface FhirQuerySource extends NodeSource {
  close(): Promise<void>;
}

export interface FhirSourceAdapterOptions {
  /** Directory relative paths in the config are resolved against. */
  readonly baseDir: string;
  /** Where the record key lives unless `recordKeyFile` says otherwise. */
  readonly stateDir: string;
  /** The config's `recordKeyFile`. */
  readonly recordKeyFile?: string;
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (tokens, retries, the data version's lifetime). */
  readonly now?: () => number;
  /** A fresh random identifier (a data version that must never be reused). */
  readonly randomId?: () => string;
  /** How resources are read (the node configuration's `reading`). */
  readonly reading?: FhirReading;
}

/**
 * Opens the live FHIR source for a node configuration. The record key comes
 * from `recordKeyFile`, by default `<stateDir>/record-key` (created if absent).
 * @example const source = await openFhirQuerySource(config.source, { baseDir, stateDir });
 */
export async function openFhirQuerySource(
  config: FhirSourceConfig,
  options: FhirSourceAdapterOptions,
): Promise<FhirQuerySource> {
  const auth = await resolveFhirAuth(config.auth, options.baseDir);
  const keyFile =
    options.recordKeyFile === undefined
      ? join(options.stateDir, 'record-key')
      : isAbsolute(options.recordKeyFile)
        ? options.recordKeyFile
        : resolve(options.baseDir, options.recordKeyFile);
  const recordKeySecret = await loadOrCreateKeyFile(keyFile);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const { timeoutMs, readinessTimeoutMs } = config;
  const source: FhirSource = createFhirSource({
    baseUrl: config.baseUrl,
    auth,
    recordKeySecret,
    concurrency: config.concurrency,
    timeoutMs,
    maxResources: config.maxResources,
    pageSize: config.pageSize,
    dataVersionTtlMs: config.dataVersionTtlMs,
    fetch: fetchImpl,
    ...(options.now === undefined ? {} : { now: options.now }),
    ...(options.randomId === undefined ? {} : { randomId: options.randomId }),
    ...(options.reading === undefined ? {} : { reading: options.reading }),
  });
  // A separate small client for catalogue counts, so they never queue behind evaluations.
  const baseUrl = checkServerUrl(config.baseUrl, auth);
  const now = options.now ?? Date.now;
  const http = createFhirHttp({
    fetch: fetchImpl,
    auth: createAuthProvider(auth, { fetch: fetchImpl, timeoutMs, now }),
    concurrency: 2,
    timeoutMs,
    now,
  });

  async function counts(): Promise<{ patients: number; records: number }> {
    const caps = readCapabilities(await http.getJson(`${baseUrl}/metadata`));
    const totals = await Promise.all(
      SEARCH_TYPES.filter((t) => t !== 'Medication' && canSearch(caps, t)).map(async (type) => {
        const params: SearchParam[] = supportsParam(caps, type, '_summary')
          ? [{ name: '_summary', values: [{ kind: 'summary-count' }] }]
          : supportsParam(caps, type, '_count')
            ? [{ name: '_count', values: [{ kind: 'count', value: 1 }] }]
            : [];
        return { type, total: (await firstPage(http, baseUrl, { type, params })).total ?? 0 };
      }),
    );
    return {
      patients: totals.find((t) => t.type === 'Patient')?.total ?? 0,
      records: totals.filter((t) => t.type !== 'Patient').reduce((s, t) => s + t.total, 0),
    };
  }

  return {
    evaluate: (query: SourceQuery, signal: AbortSignal): Promise<RawResult> =>
      source.evaluate(query, signal),
    dataVersion: () => source.dataVersion(),
    async readiness() {
      try {
        const version = await source.dataVersion(AbortSignal.timeout(readinessTimeoutMs));
        return { ready: true, dataVersion: version, dataAgeSeconds: 0 };
      } catch {
        return { ready: false, reason: 'source unavailable' };
      }
    },
    async catalogue(settings, dataVersion) {
      const base = Math.max(10, settings.threshold);
      const { patients, records } = await counts();
      return {
        ...catalogueHeader(settings),
        numberOfRecords: roundCount(records, base),
        numberOfUniqueIndividuals: roundCount(patients, base),
        hasCodingSystem: [],
        healthTheme: [...settings.healthTheme],
        accessRights: settings.accessRights,
        ...(settings.contactPoint ? { contactPoint: { ...settings.contactPoint } } : {}),
        dataVersion,
        codes: [],
      };
    },
    dataAgeSeconds: () => 0,
    storeBytes: () => 0,
    close: () => source.close(),
  };
}
