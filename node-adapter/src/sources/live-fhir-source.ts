// The live FHIR source (fhir/) behind the node's QuerySource port: the
// configuration's credentials are read (a SMART private key from its JWK
// file), the record key secret is loaded or created, and the node gets what
// readiness and the catalogue need on top of evaluation.
//
// Catalogue choice: a live source builds a minimal disclosure-safe entry from
// one count search per resource type (`_summary=count` where declared):
// patients and records, rounded as the store's catalogue rounds them. Codes,
// ages and the temporal span are left out: they would take one search per
// code or a read of every patient, which a catalogue request must not cost a
// regional server.
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import type { CatalogueEntry, FhirAuth as ConfigFhirAuth, NodeConfig } from '@tessera/schemas';
import type { RawResult } from '../engine/raw-result.ts';
import { catalogueHeader, roundCount } from '../catalogue/catalogue.ts';
import type { CatalogueSettings } from '../catalogue/catalogue.ts';
import { checkServerUrl, createAuthProvider } from '../fhir/auth.ts';
import type { FhirAuth } from '../fhir/auth.ts';
import { canSearch, readCapabilities, supportsParam } from '../fhir/capabilities.ts';
import { sourceProblem } from '../fhir/errors.ts';
import { createFhirHttp } from '../fhir/fhir-http.ts';
import { firstPage } from '../fhir/fhir-search.ts';
import { createFhirSource } from '../fhir/fhir-source.ts';
import type { FhirSource } from '../fhir/fhir-source.ts';
import { SEARCH_TYPES } from '../fhir/search-url.ts';
import type { SearchParam } from '../fhir/search-url.ts';
import type { QuerySource, SourceQuery } from '../service/ports.ts';

export type FhirSourceConfig = Extract<NodeConfig['source'], { kind: 'fhir' }>;

/** How long a live data version is trusted: readiness sees an outage within this time. */
export const LIVE_DATA_VERSION_TTL_MS = 10_000;
const DEFAULT_SCOPE = 'system/*.read';

export interface FhirQuerySource extends QuerySource {
  /** The server's data version within `timeoutMs`, or undefined when it is unreachable. */
  probe(timeoutMs: number): Promise<string | undefined>;
  /** A minimal disclosure-safe catalogue entry (see the file comment). */
  catalogue(settings: CatalogueSettings, dataVersion: string): Promise<CatalogueEntry>;
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
  readonly dataVersionTtlMs?: number;
}

function configError(detail: string): Error {
  return sourceProblem('ERR_SOURCE_CONFIG', { detail });
}

function isJson(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * The configuration's FHIR credentials as the FHIR client takes them: a
 * SMART Backend Services key is read from its JWK file (its `kid` is the
 * config's or the key's own; the scope defaults to `system/*.read`).
 * @example await resolveFhirAuth({ kind: 'none' }, '/etc/tessera') // { kind: 'none' }
 */
export async function resolveFhirAuth(
  auth: ConfigFhirAuth | undefined,
  baseDir: string,
): Promise<FhirAuth> {
  if (auth === undefined || auth.kind === 'none') return { kind: 'none' };
  if (auth.kind === 'bearer') return { kind: 'bearer', token: auth.token };
  if (auth.kind === 'basic') {
    return { kind: 'basic', username: auth.username, password: auth.password };
  }
  const file = isAbsolute(auth.privateKeyFile)
    ? auth.privateKeyFile
    : resolve(baseDir, auth.privateKeyFile);
  let jwk: unknown;
  try {
    jwk = JSON.parse(await readFile(file, 'utf8'));
  } catch {
    throw configError('auth.privateKeyFile is not a readable JWK (JSON) file');
  }
  if (!isJson(jwk) || typeof jwk.kty !== 'string') {
    throw configError('auth.privateKeyFile does not hold a JWK');
  }
  const kid = auth.kid ?? (typeof jwk.kid === 'string' ? jwk.kid : undefined);
  if (kid === undefined) throw configError('auth.kid is required when the key names no kid');
  return {
    kind: 'smart-backend',
    tokenUrl: auth.tokenUrl,
    clientId: auth.clientId,
    privateJwk: jwk,
    kid,
    scope: auth.scope ?? DEFAULT_SCOPE,
  };
}

/**
 * Reads the node's record key secret, creating 32 random bytes (mode 0600)
 * when the file does not exist. Refuses a key shorter than 16 bytes.
 */
export async function loadOrCreateRecordKeyFile(path: string): Promise<Uint8Array> {
  try {
    await writeFile(path, randomBytes(32), { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if (!(err instanceof Error && 'code' in err && err.code === 'EEXIST')) throw err;
  }
  const secret = new Uint8Array(await readFile(path));
  if (secret.byteLength < 16) throw configError('the record key file holds fewer than 16 bytes');
  return secret;
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
  const recordKeySecret = await loadOrCreateRecordKeyFile(keyFile);
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = config.timeoutMs ?? 30_000;
  const source: FhirSource = createFhirSource({
    baseUrl: config.baseUrl,
    auth,
    recordKeySecret,
    ...(config.concurrency === undefined ? {} : { concurrency: config.concurrency }),
    timeoutMs,
    maxResources: config.maxResources ?? 1_000_000,
    dataVersionTtlMs: options.dataVersionTtlMs ?? LIVE_DATA_VERSION_TTL_MS,
    fetch: fetchImpl,
  });
  // A separate small client for catalogue counts, so they never queue behind evaluations.
  const baseUrl = checkServerUrl(config.baseUrl, auth);
  const now = Date.now;
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
    async probe(ms) {
      try {
        return await source.dataVersion(AbortSignal.timeout(ms));
      } catch {
        return undefined;
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
        healthTheme: [...(settings.healthTheme ?? [])],
        accessRights: settings.accessRights ?? 'RESTRICTED',
        ...(settings.contactPoint ? { contactPoint: { ...settings.contactPoint } } : {}),
        dataVersion,
        codes: [],
      };
    },
    close: () => source.close(),
  };
}
