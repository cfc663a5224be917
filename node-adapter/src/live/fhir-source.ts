// The node's live FHIR source: answers query v1 directly against a FHIR R4
// server, for regions that do not want a copy of their data in the node.
//
// How: the CapabilityStatement is read once; each event criterion becomes
// the searches plan.ts derives from what the server declared (a superset of
// its matches), every returned resource is read the way ingest reads it
// (ingest/flatten.ts) and checked against the full criterion in the node
// (cohort.ts), and criteria combine as sets of patient ids, `not` being the
// complement within all Patients (fetched once per data version, which also
// gives demographics). `_summary=count` cannot answer a cohort (a cell needs
// its members' record keys), so it serves the data version's counts only.
//
// Patient ids and resources stay in this process: nothing here logs, and
// every error is a ProblemError with a fixed detail.
import { createHash, randomUUID } from 'node:crypto';
import type { CodeSet, Coding, EventKind, Period, ValueRange } from '@tessera/schemas';
import { canonicalJson, isIcd10 } from '@tessera/schemas';
import type { RawResult } from '../engine/raw-result.ts';
import { eventDateOf, flattenResource } from '../ingest/flatten.ts';
import type { FlattenContext } from '../ingest/flatten.ts';
import { createCodeSystemAliases } from '../ingest/reading.ts';
import type { CodeSystemAliases, FhirReading } from '../ingest/reading.ts';
import { canonicalQuerySystems, restoreCodeLabels } from '../engine/code-systems.ts';
import { recordKey } from '../store/record-key.ts';
import { onAbort } from '../fhir-client/abort.ts';
import { checkServerUrl, createAuthProvider } from '../fhir-client/auth.ts';
import type { FhirAuth } from '../fhir-client/auth.ts';
import {
  canSearch,
  readCapabilities,
  summariseCapabilities,
  supportsParam,
} from '../fhir-client/capabilities.ts';
import type { CapabilitySummary, SourceCapabilities } from '../fhir-client/capabilities.ts';
import {
  buildResult,
  criterionKey,
  eventCriteria,
  evaluateExpr,
  patientsMatching,
} from './cohort.ts';
import type { LiveCoding, LiveEvent, LivePatient, SourceQuery } from './cohort.ts';
import { nodeProblem } from '../errors.ts';
import { createFhirHttp } from '../fhir-client/fhir-http.ts';
import type { FhirHttp } from '../fhir-client/fhir-http.ts';
import { ResourceBudget, firstPage, searchAll } from '../fhir-client/fhir-search.ts';
import type { JsonObject } from '../fhir-client/fhir-search.ts';
import { KIND_TYPES, TYPE_ELEMENTS, medicationSearches, planSearches } from './plan.ts';
import {
  CONSENT_SEARCH,
  hasConsentCriterion,
  patientsConsenting,
  toLiveConsent,
} from './consent.ts';
import type { LiveConsent } from './consent.ts';
import type { EventSearch } from './plan.ts';
import { SEARCH_TYPES } from '../fhir-client/search-url.ts';
import type { SearchParam, SearchSpec, SearchType } from '../fhir-client/search-url.ts';

export type { FhirAuth } from '../fhir-client/auth.ts';
export type { CapabilitySummary } from '../fhir-client/capabilities.ts';
export type { EvaluableQuery, SourceQuery } from './cohort.ts';

export interface FhirSourceOptions {
  /** The server's base URL (`https://fhir.region.example/r4`). */
  readonly baseUrl: string;
  readonly auth: FhirAuth;
  /** The node's record key secret (at least 16 bytes), as ingest uses it. */
  readonly recordKeySecret: Uint8Array;
  /** Requests in flight at once. */
  readonly concurrency: number;
  /** Per request. */
  readonly timeoutMs: number;
  /** Resources one evaluation may read, and Patients the source may hold. */
  readonly maxResources: number;
  /** `_count` asked for, when the server declares it (at most 10,000). */
  readonly pageSize: number;
  /** How long a data version is trusted before it is read again (0: never). */
  readonly dataVersionTtlMs: number;
  readonly retry?: {
    readonly maxAttempts?: number;
    readonly backoffMs?: number;
    readonly maxRetryAfterMs?: number;
  };
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch (default Date.now). */
  readonly now?: () => number;
  /** A fresh random identifier, for a data version that must never be reused (default a random UUID). */
  readonly randomId?: () => string;
  /** How resources are read: code-system aliases, which Conditions count (node config `reading`). */
  readonly reading?: FhirReading;
}

export interface FhirSource {
  /** What the server declared, as the source uses it. */
  capabilities(): Promise<CapabilitySummary>;
  /** True figures of a canonical query with asOf pinned, summaries clamped to its bounds. */
  evaluate(query: SourceQuery, signal?: AbortSignal): Promise<RawResult>;
  /** Changes when the server's data changes (counts and latest update per type). */
  dataVersion(signal?: AbortSignal): Promise<string>;
  /** Cancels running evaluations and forgets every cached patient. */
  close(): Promise<void>;
}

const MIN_SECRET_BYTES = 16;

function configError(detail: string): Error {
  return nodeProblem('ERR_SOURCE_CONFIG', { detail });
}

function positiveInt(value: number, name: string): number {
  if (!Number.isInteger(value) || value < 1) {
    throw configError(`${name} must be a positive integer`);
  }
  return value;
}

/** A search with the server's paging size and element subset added, where declared. */
function paged(caps: SourceCapabilities, spec: SearchSpec, pageSize: number): SearchSpec {
  const extra: SearchParam[] = [];
  if (supportsParam(caps, spec.type, '_count')) {
    extra.push({ name: '_count', values: [{ kind: 'count', value: pageSize }] });
  }
  if (supportsParam(caps, spec.type, '_elements')) {
    extra.push({
      name: '_elements',
      values: [{ kind: 'elements', names: TYPE_ELEMENTS[spec.type] }],
    });
  }
  return { type: spec.type, params: [...spec.params, ...extra] };
}

function toLiveEvent(
  resource: JsonObject,
  kind: EventKind,
  patients: ReadonlyMap<string, LivePatient>,
  medications: ReadonlyMap<string, readonly LiveCoding[]>,
  reading: FlattenContext,
): LiveEvent | undefined {
  const flat = flattenResource(resource, reading);
  if (flat.type !== 'event' || flat.kind !== kind) return undefined;
  const patient = patients.get(flat.patientId);
  if (patient === undefined) return undefined;
  const codings =
    flat.medicationRef === undefined ? flat.codings : (medications.get(flat.medicationRef) ?? []);
  return {
    key: `${String(resource.resourceType)}/${flat.resourceId}`,
    patientId: flat.patientId,
    date: eventDateOf(flat, patient.birthDate),
    codings,
    value: flat.value ?? null,
    unit: flat.unit ?? null,
    valueCodings: flat.valueCodings ?? [],
    ...(flat.components === undefined ? {} : { components: flat.components }),
  };
}

/**
 * A canonical code set widened to every URL of each coding's system, and
 * for ICD-10 to the dotted form too (data under an alias URL was never
 * normalised): what a server is asked for.
 */
function searchVariants(codes: CodeSet, aliases: CodeSystemAliases): CodeSet {
  const out: Coding[] = [];
  for (const coding of codes) {
    for (const system of aliases.variants(coding.system)) {
      out.push({ ...coding, system });
      if (system !== coding.system && isIcd10(coding.system) && coding.code.length > 3) {
        out.push({ ...coding, system, code: `${coding.code.slice(0, 3)}.${coding.code.slice(3)}` });
      }
    }
  }
  return out as unknown as CodeSet;
}

interface Evaluation {
  readonly caps: SourceCapabilities;
  readonly patients: ReadonlyMap<string, LivePatient>;
  readonly budget: ResourceBudget;
  readonly signal: AbortSignal;
  /** One fetch per distinct search, shared by criteria, dimensions and measures. */
  readonly fetched: Map<string, Promise<LiveEvent[]>>;
}

/**
 * Creates the live source and starts reading the server's
 * CapabilityStatement. Options are checked now; a bad one throws
 * ERR_SOURCE_CONFIG naming it.
 * @example const source = createFhirSource({ baseUrl, auth: { kind: 'none' }, recordKeySecret,
 *            concurrency: 4, timeoutMs: 30_000, maxResources: 100_000, pageSize: 500, dataVersionTtlMs: 10_000 });
 *          const raw = await source.evaluate({ ...canonicalQuery(q), asOf: '2026-01-01' });
 */
export function createFhirSource(options: FhirSourceOptions): FhirSource {
  const baseUrl = checkServerUrl(options.baseUrl, options.auth);
  if (options.recordKeySecret.byteLength < MIN_SECRET_BYTES) {
    throw configError(`recordKeySecret must be at least ${MIN_SECRET_BYTES} bytes`);
  }
  const secret = options.recordKeySecret;
  let aliases: CodeSystemAliases;
  try {
    aliases = createCodeSystemAliases(options.reading?.codeSystemAliases);
  } catch (err) {
    throw configError(err instanceof RangeError ? err.message : 'code system aliases not usable');
  }
  const reading: FlattenContext = {
    aliases,
    excludeUnconfirmedConditions: options.reading?.excludeUnconfirmedConditions === true,
  };
  const maxResources = positiveInt(options.maxResources, 'maxResources');
  const pageSize = positiveInt(options.pageSize, 'pageSize');
  if (pageSize > 10_000) throw configError('pageSize must be at most 10000');
  const ttlMs = options.dataVersionTtlMs;
  const now = options.now ?? Date.now;
  const randomId = options.randomId ?? randomUUID;
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const timeoutMs = positiveInt(options.timeoutMs, 'timeoutMs');
  const auth = createAuthProvider(options.auth, { fetch: fetchImpl, timeoutMs, now });
  const http: FhirHttp = createFhirHttp({
    fetch: fetchImpl,
    auth,
    concurrency: positiveInt(options.concurrency, 'concurrency'),
    timeoutMs,
    ...(options.retry ?? {}),
    now,
  });
  const lifetime = new AbortController();
  let closed = false;

  let capsPromise: Promise<SourceCapabilities> | undefined;
  function capabilities(): Promise<SourceCapabilities> {
    capsPromise ??= http
      .getJson(`${baseUrl}/metadata`, lifetime.signal)
      .then(readCapabilities)
      .catch((err: unknown) => {
        capsPromise = undefined;
        throw err;
      });
    return capsPromise;
  }
  // Read at start; a failure now is retried by the first caller.
  capabilities().catch(() => undefined);

  let version: { readonly value: string; readonly at: number } | undefined;
  let patientCache:
    { readonly version: string; readonly patients: Promise<Map<string, LivePatient>> } | undefined;

  function ensureOpen(): void {
    if (closed)
      throw nodeProblem('ERR_SOURCE_UNAVAILABLE', { detail: 'the live source is closed' });
  }

  async function countOf(
    caps: SourceCapabilities,
    type: SearchType,
    signal: AbortSignal,
  ): Promise<number | undefined> {
    const params: SearchParam[] = supportsParam(caps, type, '_summary')
      ? [{ name: '_summary', values: [{ kind: 'summary-count' }] }]
      : supportsParam(caps, type, '_count')
        ? [{ name: '_count', values: [{ kind: 'count', value: 1 }] }]
        : [];
    return (await firstPage(http, baseUrl, { type, params }, signal)).total;
  }

  async function lastUpdatedOf(
    caps: SourceCapabilities,
    type: SearchType,
    signal: AbortSignal,
  ): Promise<string | undefined> {
    if (!supportsParam(caps, type, '_sort')) return undefined;
    const params: SearchParam[] = [{ name: '_sort', values: [{ kind: 'sort-last-updated-desc' }] }];
    if (supportsParam(caps, type, '_count')) {
      params.push({ name: '_count', values: [{ kind: 'count', value: 1 }] });
    }
    const page = await firstPage(http, baseUrl, { type, params }, signal);
    const meta = page.resources[0]?.meta;
    const at =
      typeof meta === 'object' && meta !== null ? (meta as JsonObject).lastUpdated : undefined;
    return typeof at === 'string' ? at : undefined;
  }

  async function readDataVersion(signal: AbortSignal): Promise<string> {
    const caps = await capabilities();
    const types = SEARCH_TYPES.filter((t) => canSearch(caps, t));
    const parts = await Promise.all(
      types.map(async (type) => {
        const [count, latest] = await Promise.all([
          countOf(caps, type, signal),
          lastUpdatedOf(caps, type, signal),
        ]);
        return { type, count, latest };
      }),
    );
    if (parts.some((p) => p.count === undefined)) {
      // Without counts nothing shows a change: a version that is never reused.
      return `${new Date(now()).toISOString()}#live-${randomId().slice(0, 8)}`;
    }
    const digest = createHash('sha256')
      .update(canonicalJson(parts.map((p) => [p.type, p.count, p.latest ?? null])))
      .digest('hex')
      .slice(0, 12);
    const latest = parts
      .map((p) => p.latest)
      .filter((l): l is string => l !== undefined)
      .sort()
      .at(-1);
    return `${latest ?? 'live'}#${digest}`;
  }

  async function dataVersion(signal?: AbortSignal): Promise<string> {
    ensureOpen();
    const at = now();
    if (version !== undefined && at - version.at < ttlMs) return version.value;
    const value = await readDataVersion(signal ?? lifetime.signal);
    version = { value, at };
    return value;
  }

  async function loadPatients(
    caps: SourceCapabilities,
    signal: AbortSignal,
  ): Promise<Map<string, LivePatient>> {
    const patients = new Map<string, LivePatient>();
    const budget = new ResourceBudget(maxResources);
    await searchAll(
      http,
      baseUrl,
      paged(caps, { type: 'Patient', params: [] }, pageSize),
      budget,
      (page) => {
        for (const resource of page) {
          const flat = flattenResource(resource);
          if (flat.type !== 'patient') continue;
          patients.set(flat.id, {
            id: flat.id,
            gender: flat.gender,
            birthDate: flat.birthDate,
            deceased: flat.deceased,
            deceasedDate: flat.deceasedDate,
            recordKey: recordKey(secret, flat.id),
          });
        }
      },
      signal,
    );
    return patients;
  }

  function patientsFor(
    caps: SourceCapabilities,
    at: string,
    signal: AbortSignal,
  ): Promise<Map<string, LivePatient>> {
    if (patientCache?.version !== at) {
      const patients = loadPatients(caps, lifetime.signal);
      patientCache = { version: at, patients };
      patients.catch(() => {
        if (patientCache?.patients === patients) patientCache = undefined;
      });
    }
    const { patients } = patientCache;
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason as Error);
      const stop = onAbort(signal, () => reject(signal.reason as Error));
      void patients.then(resolve, reject).finally(stop);
    });
  }

  /** Reads every page of every search (a union), handing each resource to `take`. */
  async function readAll(
    ev: Evaluation,
    specs: readonly SearchSpec[],
    take: (resource: JsonObject) => void,
  ): Promise<void> {
    await Promise.all(
      specs.map((spec) =>
        searchAll(
          http,
          baseUrl,
          paged(ev.caps, spec, pageSize),
          ev.budget,
          (page) => page.forEach(take),
          ev.signal,
        ),
      ),
    );
  }

  async function readMedications(
    ev: Evaluation,
    codes: CodeSet,
  ): Promise<Map<string, LiveCoding[]>> {
    const medications = new Map<string, LiveCoding[]>();
    await readAll(ev, medicationSearches(ev.caps, codes), (resource) => {
      const flat = flattenResource(resource, reading);
      if (flat.type === 'medication') medications.set(flat.id, [...flat.codings]);
    });
    return medications;
  }

  async function readEvents(ev: Evaluation, search: EventSearch): Promise<LiveEvent[]> {
    // Medications matching the codes, so references resolve; a reference to
    // any other Medication matches nothing either way.
    const medications =
      search.kind === 'medication'
        ? await readMedications(ev, search.code)
        : new Map<string, LiveCoding[]>();
    const events = new Map<string, LiveEvent>();
    const types = search.resourceTypes ?? KIND_TYPES[search.kind];
    const specs = types.flatMap((type) => planSearches(ev.caps, type, search));
    await readAll(ev, specs, (resource) => {
      const event = toLiveEvent(resource, search.kind, ev.patients, medications, reading);
      if (event !== undefined) events.set(event.key, event);
    });
    return [...events.values()];
  }

  function eventsOf(ev: Evaluation, search: EventSearch): Promise<LiveEvent[]> {
    const key = canonicalJson(search);
    let found = ev.fetched.get(key);
    if (found === undefined) {
      found = readEvents(ev, search);
      ev.fetched.set(key, found);
    }
    return found;
  }

  /** The active Consents of known patients; none read when the query asks for none. */
  async function readConsents(ev: Evaluation, needed: boolean): Promise<LiveConsent[]> {
    if (!needed || !canSearch(ev.caps, 'Consent')) return [];
    const consents: LiveConsent[] = [];
    await readAll(ev, [CONSENT_SEARCH], (resource) => {
      const consent = toLiveConsent(resource);
      if (consent !== undefined && ev.patients.has(consent.patientId)) consents.push(consent);
    });
    return consents;
  }

  function searchOf(
    kind: EventKind,
    c: {
      code: CodeSet;
      period?: Period;
      value?: ValueRange;
      valueCode?: CodeSet;
      resourceTypes?: readonly SearchType[];
    },
  ): EventSearch {
    // The server holds codes under whichever URL of their system they were written with.
    return {
      kind,
      code: searchVariants(c.code, aliases),
      // Only the types kept to are read; the node still checks every event's type.
      ...(c.resourceTypes === undefined ? {} : { resourceTypes: c.resourceTypes }),
      ...(c.period === undefined ? {} : { period: c.period }),
      ...(c.value === undefined ? {} : { value: c.value }),
      ...(c.valueCode === undefined ? {} : { valueCode: searchVariants(c.valueCode, aliases) }),
    };
  }

  async function evaluate(asked: SourceQuery, signal?: AbortSignal): Promise<RawResult> {
    ensureOpen();
    const query = canonicalQuerySystems(asked, aliases);
    const controller = new AbortController();
    const abort = (): void => controller.abort(signal?.reason ?? lifetime.signal.reason);
    if (signal?.aborted === true || lifetime.signal.aborted) abort();
    // Concurrent evaluations share the source's lifetime signal (and perhaps the caller's).
    const stops = [onAbort(lifetime.signal, abort)];
    if (signal !== undefined) stops.push(onAbort(signal, abort));
    try {
      const caps = await capabilities();
      const at = await dataVersion(controller.signal);
      const patients = await patientsFor(caps, at, controller.signal);
      const ev: Evaluation = {
        caps,
        patients,
        budget: new ResourceBudget(maxResources),
        signal: controller.signal,
        fetched: new Map(),
      };
      const criteria = [...eventCriteria(query.cohort)];
      const sets = new Map<string, Set<string>>();
      const work: Promise<void>[] = criteria.map(async ([key, { kind, criterion }]) => {
        const events = await eventsOf(ev, searchOf(kind, criterion));
        sets.set(key, patientsMatching(events, criterion, patients));
      });
      const dimensionEvents = new Map<number, LiveEvent[]>();
      query.stratify.forEach((d, i) => {
        if (typeof d !== 'object' || !('codes' in d)) return;
        work.push(
          eventsOf(ev, searchOf(d.codes.of, { code: d.codes.in })).then((events) => {
            dimensionEvents.set(i, events);
          }),
        );
      });
      let consents: LiveConsent[] = [];
      work.push(
        readConsents(ev, hasConsentCriterion(query.cohort)).then((found) => {
          consents = found;
        }),
      );
      const measureEvents = new Map<number, LiveEvent[]>();
      query.measures.forEach((m, i) => {
        const spec = 'histogram' in m ? m.histogram : 'summary' in m ? m.summary : undefined;
        if (spec === undefined) return;
        const search = searchOf('observation', {
          code: spec.observation,
          ...(spec.period === undefined ? {} : { period: spec.period }),
        });
        work.push(eventsOf(ev, search).then((events) => void measureEvents.set(i, events)));
      });
      await Promise.all(work).catch((err: unknown) => {
        controller.abort(err);
        throw err;
      });
      const cohort = evaluateExpr(
        query.cohort,
        patients,
        query.asOf,
        (kind, criterion) => sets.get(criterionKey(kind, criterion)) ?? new Set(),
        (criterion) => patientsConsenting(consents, criterion, query.asOf),
      );
      const result = buildResult(query, { patients, cohort, dimensionEvents, measureEvents });
      return restoreCodeLabels(result, asked);
    } finally {
      for (const stop of stops) stop();
    }
  }

  return {
    async capabilities() {
      ensureOpen();
      return summariseCapabilities(await capabilities());
    },
    evaluate,
    dataVersion,
    close() {
      closed = true;
      lifetime.abort(
        nodeProblem('ERR_SOURCE_UNAVAILABLE', { detail: 'the live source is closed' }),
      );
      patientCache = undefined;
      version = undefined;
      return Promise.resolve();
    },
  };
}
