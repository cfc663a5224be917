// Conformance of the node's three ways to answer a query, on one generated
// population: the embedded DuckDB store (ingest of the population's NDJSON),
// the live FHIR source against a real FHIR server loaded over HTTP with
// transaction Bundles (full and trimmed capabilities), and the brute-force
// oracle. Counts, strata, bins, missing, summary n exactly and statistics
// (the sums of values clamped to random bounds included) to 1e-9 against the
// oracle; every cell key equal between store and live source. Then a sync from the server (Bulk Data `$export` from the full
// server, paged search from the trimmed one) gives a store that answers as
// the live source does; an incremental (`_since`) sync takes in additions and
// deletions and equals a full one; a sync that fails half-way leaves the
// store and its data version serving; and the node serves the live source
// with honest readiness.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalQuery, loadConfig, parseQuery } from '@tessera/schemas';
import type { CohortQuery, EvaluableQuery } from '@tessera/schemas';
import { liveSourceDefaults } from '@tessera/schemas/testing';
import type { Resource } from '@medplum/fhirtypes';
import { generateSigningKey, publicJwks } from '@tessera/gateway';
import { loadResources, startFhirServer } from '../fhir-server/server.ts';
import type { CapabilityLevel, FhirServer } from '../fhir-server/server.ts';
import { expectAgreement } from '@tessera/node-adapter/testing';
import type {
  DuckDbSource,
  FhirQuerySource,
  RawCell,
  RawResult,
  RefreshOptions,
  SourceQuery,
} from '@tessera/node-adapter';
import {
  createNodeService,
  ingest,
  mirrorDir,
  openDuckDbSource,
  openFhirQuerySource,
  readMirrorState,
  recordKey,
  refreshStore,
} from '@tessera/node-adapter';
import {
  evaluateOracle,
  populationArbitrary,
  populationHints,
  queryArbitrary,
  summaryBoundsArbitrary,
  writeNdjsonDir,
} from '@tessera/node-adapter/oracle';
import type { FhirResource } from '@tessera/node-adapter/oracle';
import { MORE_QUERIES, QUERIES } from './queries.ts';

/** A full Bulk Data export at least daily, as a sync configured without `fullEveryHours` does. */
const FULL_EVERY_MS = 24 * 3_600_000;

const SECRET = new TextEncoder().encode('conformance-record-key-secret-32b');
const AS_OF = '2026-01-01';

function evaluable(query: CohortQuery): EvaluableQuery {
  const parsed = parseQuery(query);
  return { ...canonicalQuery(parsed), asOf: parsed.asOf ?? AS_OF };
}

/** A few hundred patients, the same every run. */
function population(): FhirResource[] {
  const [resources] = fc.sample(
    populationArbitrary({ minPatients: 200, maxPatients: 220, maxEventsPerPatient: 8 }),
    { seed: 20261123, numRuns: 1 },
  );
  return resources!;
}

/** Every cell of a result, in order, for comparing cell keys. */
function cells(result: RawResult): RawCell[] {
  return [
    result.total,
    ...result.strata.map((s) => s.cell),
    ...result.measures.flatMap((m) =>
      m.type === 'histogram'
        ? [...m.bins.map((b) => b.cell), m.missing]
        : m.type === 'summary'
          ? [m.n]
          : [],
    ),
  ];
}

function expectSameCells(actual: RawResult, expected: RawResult, what: string): void {
  expect(cells(actual), what).toEqual(cells(expected));
}

const signal = (): AbortSignal => AbortSignal.timeout(60_000);

/** A fetch that records the URLs requested, for asserting what a sync asked. */
function recordingFetch(): { fetch: typeof fetch; urls: string[] } {
  const urls: string[] = [];
  return {
    urls,
    fetch: (input, init) => {
      urls.push(input instanceof Request ? input.url : String(input));
      return fetch(input, init);
    },
  };
}

/** Work directories a sync left next to its store (none, once it has finished). */
async function leftovers(storePath: string): Promise<string[]> {
  const name = storePath.slice(storePath.lastIndexOf('/') + 1);
  return (await readdir(join(storePath, '..'))).filter(
    (f) => f.startsWith(`.${name}.sync-`) || f === `${name}.export.old`,
  );
}

let dir: string;
let resources: FhirResource[];
let queries: SourceQuery[];
let store: DuckDbSource;
let keyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-conformance-'));
  resources = population();
  const hints = populationHints(resources);
  const random = fc.sample(queryArbitrary(hints), {
    seed: 77,
    numRuns: 8,
  });
  // Each query's summaries get random clamping bounds, as a node policy sets them.
  queries = [...QUERIES, ...MORE_QUERIES, ...random].map(evaluable).map((query, i) => {
    const [summaryBounds] = fc.sample(summaryBoundsArbitrary(query.measures, hints), {
      seed: 1000 + i,
      numRuns: 1,
    });
    return { ...query, summaryBounds: summaryBounds! };
  });
  expect(queries.some((q) => q.summaryBounds?.some((b) => b !== undefined))).toBe(true);
  await writeNdjsonDir(join(dir, 'ndjson'), resources);
  await ingest({
    sources: [join(dir, 'ndjson')],
    dbPath: join(dir, 'store.duckdb'),
    recordKeySecret: SECRET,
    maxBadShare: 1,
    workers: 0,
  });
  store = await openDuckDbSource(join(dir, 'store.duckdb'));
  keyFile = join(dir, 'record-key');
  await writeFile(keyFile, SECRET, { mode: 0o600 });
});

afterAll(async () => {
  store.close();
  await rm(dir, { recursive: true, force: true });
});

describe.each<CapabilityLevel>(['full', 'trimmed'])('conformance, %s capabilities', (level) => {
  let server: FhirServer;
  let live: FhirQuerySource;
  /** The live source's answers, reused for the synced store. */
  const liveAnswers: RawResult[] = [];

  beforeAll(async () => {
    server = await startFhirServer({
      capabilities: level,
      defaultPageSize: 100,
      // Several files per type, and a poll before the manifest (full only).
      bulk: { retryAfterSeconds: 0, resourcesPerFile: 150 },
    });
    await loadResources(server.baseUrl, resources as unknown as Resource[], 500);
    live = await openFhirQuerySource(liveSourceDefaults(server.baseUrl), {
      baseDir: dir,
      stateDir: dir,
      recordKeyFile: keyFile,
    });
  });

  afterAll(async () => {
    await live.close();
    await server.close();
  });

  it('store, live source and oracle give the same answers', async () => {
    const keyOf = (id: string): number => recordKey(SECRET, id);
    for (const [i, query] of queries.entries()) {
      const oracle = evaluateOracle(resources, query, { recordKey: keyOf });
      const fromStore = await store.evaluate(query, signal());
      const fromLive = await live.evaluate(query, signal());
      liveAnswers[i] = fromLive;
      expectAgreement(fromStore, oracle);
      expectAgreement(fromLive, oracle);
      expectSameCells(fromLive, fromStore, `query ${i}: cell keys, live vs store`);
    }
  });

  it('a sync from the server gives a store that answers as the live source does', async () => {
    const storePath = join(dir, `synced-${level}.duckdb`);
    const recorded = recordingFetch();
    const syncOptions = {
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      storePath,
      recordKeySecret: SECRET,
      mode: 'auto',
      incremental: false,
      fullEveryMs: FULL_EVERY_MS,
      workers: 0,
      maxBadShare: 1,
    } as const;
    const first = await refreshStore({ ...syncOptions, fetch: recorded.fetch });
    // The full server declares $export; the trimmed one does not, and auto
    // falls back to paged search there.
    expect(first.method).toBe(level === 'full' ? 'bulk' : 'search');
    expect(first.changed).toBe(true);
    expect(first.resources).toBe(resources.length);
    const files = recorded.urls.filter((u) => u.includes('/bulkfiles/'));
    if (level === 'full') {
      expect(recorded.urls.some((u) => new URL(u).pathname.endsWith('/$export'))).toBe(true);
      expect(files.filter((u) => u.includes('/Observation.')).length).toBeGreaterThan(1);
      // The export was released on the server once downloaded.
      expect(server.bulkJobs).toBe(0);
    } else {
      expect(files).toEqual([]);
    }
    const synced = await openDuckDbSource(storePath);
    try {
      expect(synced.version).toBe(first.dataVersion);
      expect(liveAnswers).toHaveLength(queries.length);
      for (const [i, query] of queries.entries()) {
        const fromLive = liveAnswers[i]!;
        const fromSync = await synced.evaluate(query, signal());
        expectAgreement(fromSync, fromLive);
        expectSameCells(fromSync, fromLive, `query ${i}: synced store vs live`);
      }
      // Unchanged data: the store and its version stay.
      const again = await refreshStore(syncOptions);
      expect(again.method).toBe(first.method);
      expect(again.changed).toBe(false);
      expect(again.dataVersion).toBe(first.dataVersion);
    } finally {
      synced.close();
    }
  });
});

describe('sync by Bulk Data export, incremental and failing', () => {
  let server: FhirServer;
  const added: Resource[] = [
    { resourceType: 'Patient', id: 'late-1', gender: 'female', birthDate: '1961-04-05' },
    {
      resourceType: 'Condition',
      id: 'late-1-e11',
      subject: { reference: 'Patient/late-1' },
      code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10', code: 'E11.9' }] },
      onsetDateTime: '2019-03-01',
    },
  ];

  beforeAll(async () => {
    server = await startFhirServer({
      capabilities: 'full',
      bulk: { retryAfterSeconds: 0, resourcesPerFile: 150 },
    });
    await loadResources(server.baseUrl, resources as unknown as Resource[], 500);
    // The first export's snapshot lies after every loaded resource's lastUpdated.
    await new Promise((resolve) => setTimeout(resolve, 5));
  });

  afterAll(async () => {
    await server.close();
  });

  const options = (storePath: string, extra: Partial<RefreshOptions> = {}): RefreshOptions => ({
    baseUrl: server.baseUrl,
    auth: { kind: 'none' },
    storePath,
    recordKeySecret: SECRET,
    mode: 'bulk',
    incremental: true,
    fullEveryMs: FULL_EVERY_MS,
    workers: 0,
    maxBadShare: 1,
    ...extra,
  });

  /** Every conformance query on a store, against the oracle over `from`. */
  async function expectAnswers(storePath: string, from: readonly FhirResource[]): Promise<void> {
    const synced = await openDuckDbSource(storePath);
    try {
      for (const query of queries) {
        const oracle = evaluateOracle(from, query, { recordKey: (id) => recordKey(SECRET, id) });
        expectAgreement(await synced.evaluate(query, signal()), oracle);
      }
    } finally {
      synced.close();
    }
  }

  it('an incremental sync asks only for what changed _since, and equals a full sync', async () => {
    const storePath = join(dir, 'incremental.duckdb');
    const first = await refreshStore(options(storePath));
    expect(first).toMatchObject({ method: 'bulk', since: undefined, changed: true });
    const kept = await readMirrorState(mirrorDir(storePath));
    expect(kept?.dataVersion).toBe(first.dataVersion);

    // Nothing changed: an empty export, the store and its version stay.
    const recorded = recordingFetch();
    const quiet = await refreshStore(options(storePath, { fetch: recorded.fetch }));
    expect(quiet).toMatchObject({ since: kept!.transactionTime, resources: 0, changed: false });
    expect(quiet.dataVersion).toBe(first.dataVersion);
    const kickOff = new URL(recorded.urls.find((u) => u.includes('/$export'))!);
    expect(kickOff.searchParams.get('_since')).toBe(kept!.transactionTime);

    // A patient and a condition added after the first sync.
    const keptQuiet = await readMirrorState(mirrorDir(storePath));
    expect(keptQuiet!.transactionTime > kept!.transactionTime).toBe(true);
    await loadResources(server.baseUrl, added);
    const second = await refreshStore(options(storePath));
    expect(second).toMatchObject({ since: keptQuiet!.transactionTime, resources: 2 });
    expect(second.changed).toBe(true);
    expect(second.dataVersion).not.toBe(first.dataVersion);
    const withAdded = [...resources, ...(added as unknown as FhirResource[])];
    await expectAnswers(storePath, withAdded);
    // The same content as a full export into a new store: the same content hash.
    const fullPath = join(dir, 'full-after-add.duckdb');
    const full = await refreshStore(options(fullPath));
    expect(full.since).toBeUndefined();
    expect(second.ingest.contentHash).toBe(full.ingest.contentHash);

    // Deleted on the server: gone from the store at the next incremental sync.
    for (const r of [...added].reverse()) {
      const response = await fetch(`${server.baseUrl}/${r.resourceType}/${r.id}`, {
        method: 'DELETE',
      });
      expect(response.ok).toBe(true);
    }
    const third = await refreshStore(options(storePath));
    expect(third.since).toBeDefined();
    expect(third.changed).toBe(true);
    expect(third.ingest.contentHash).toBe(first.ingest.contentHash);
    await expectAnswers(storePath, resources);
    expect(await leftovers(storePath)).toEqual([]);

    // Past fullEveryMs, or asked for, a full export again.
    const forced = await refreshStore(options(storePath, { fullEveryMs: 0 }));
    expect(forced.since).toBeUndefined();
    expect(forced.changed).toBe(false);
    // A sync that keeps no export removes the kept one.
    await refreshStore(options(storePath, { incremental: false }));
    expect(await readMirrorState(mirrorDir(storePath))).toBeUndefined();
  });

  it('a node serves its store until the sync swaps it; a sync failing half-way changes nothing', async () => {
    // Well-formed resources only: the node's sync tolerates the default 1 % of malformed ones.
    const own = await startFhirServer({ capabilities: 'full', bulk: { retryAfterSeconds: 0 } });
    await loadResources(
      own.baseUrl,
      Array.from({ length: 40 }, (_, i) => ({
        resourceType: 'Patient',
        id: `b${i}`,
        gender: i % 2 === 0 ? 'female' : 'male',
        birthDate: '1970-01-01',
      })),
    );
    await new Promise((resolve) => setTimeout(resolve, 5));
    const storePath = join(dir, 'node-bulk.duckdb');
    const first = await refreshStore({ ...options(storePath), baseUrl: own.baseUrl });
    expect(first.method).toBe('bulk');
    const key = await generateSigningKey();
    const node = await createNodeService(
      loadConfig('node-config', {
        gateway: { issuer: 'https://gateway.test', publicJwks: publicJwks([key.publicJwk]) },
        projects: ['p'],
        policy: 'open',
        recordKeyFile: keyFile,
        nodeId: 'bulk-synced',
        source: { kind: 'duckdb', path: storePath },
        sync: { baseUrl: own.baseUrl, storePath, mode: 'bulk', incremental: true },
        stateDir: join(dir, 'state-bulk'),
      }),
      { allowOpenPolicy: true, logger: pino({ level: 'silent' }) },
    );
    try {
      const version = async (): Promise<string> => {
        const ready = await request(node.app).get('/readyz');
        expect(ready.status).toBe(200);
        return ready.body.dataVersion as string;
      };
      const before = await version();
      const quiet = await node.sync!();
      expect(quiet.changed).toBe(false);
      expect(await version()).toBe(before);

      await loadResources(own.baseUrl, added);
      const keptBefore = await readMirrorState(mirrorDir(storePath));
      // An output file answering 500, then the status URL erroring: each
      // sync fails after the export started, and nothing changes.
      for (const on of ['output', 'status'] as const) {
        own.injectBulkFault({ on, status: 500 });
        await expect(node.sync!()).rejects.toMatchObject({ code: 'ERR_SOURCE_UNAVAILABLE' });
        own.injectBulkFault(undefined);
        expect(await version()).toBe(before);
        expect(await readMirrorState(mirrorDir(storePath))).toEqual(keptBefore);
        expect(await leftovers(storePath)).toEqual([]);
        // The failed export was released on the server all the same.
        expect(own.bulkJobs).toBe(0);
      }
      const stale = await openDuckDbSource(storePath);
      expect(stale.version).toBe(before);
      stale.close();

      // The next sync succeeds incrementally, and only its swap changes the version.
      const swapped = await node.sync!();
      expect(swapped.changed).toBe(true);
      expect(await version()).toBe(swapped.dataVersion);
      expect(swapped.dataVersion).not.toBe(before);
      expect((await readMirrorState(mirrorDir(storePath)))!.fullAt).toBe(keptBefore!.fullAt);
    } finally {
      await node.close();
      await own.close();
    }
  });
});

describe('node service over the live source and sync', () => {
  it('reports readiness from the FHIR server, and a failed sync keeps store and version', async () => {
    const server = await startFhirServer({ capabilities: 'full' });
    const patients = (from: number, to: number): Resource[] =>
      Array.from({ length: to - from }, (_, i) => ({
        resourceType: 'Patient',
        id: `n${from + i}`,
        gender: i % 2 === 0 ? 'female' : 'male',
        birthDate: '1970-01-01',
      }));
    await loadResources(server.baseUrl, patients(0, 30));
    const key = await generateSigningKey();
    const base = {
      gateway: { issuer: 'https://gateway.test', publicJwks: publicJwks([key.publicJwk]) },
      projects: ['p'],
      policy: 'open',
      recordKeyFile: keyFile,
    };
    const liveNode = await createNodeService(
      loadConfig('node-config', {
        ...base,
        nodeId: 'live',
        source: { kind: 'fhir', baseUrl: server.baseUrl, dataVersionTtlMs: 0 },
        stateDir: join(dir, 'state-live'),
      }),
      { allowOpenPolicy: true, logger: pino({ level: 'silent' }) },
    );
    const ready = await request(liveNode.app).get('/readyz');
    expect(ready.status).toBe(200);
    expect(ready.body.status).toBe('ready');
    const catalogue = await request(liveNode.app).get('/v1/catalogue');
    expect(catalogue.status).toBe(200);

    // A node that syncs from the same server into the store it serves.
    const storePath = join(dir, 'node-synced.duckdb');
    await refreshStore({
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      storePath,
      recordKeySecret: SECRET,
      mode: 'auto',
      incremental: false,
      fullEveryMs: FULL_EVERY_MS,
      workers: 0,
    });
    const syncNode = await createNodeService(
      loadConfig('node-config', {
        ...base,
        nodeId: 'synced',
        source: { kind: 'duckdb', path: storePath },
        sync: { baseUrl: server.baseUrl, storePath, mode: 'search' },
        stateDir: join(dir, 'state-sync'),
      }),
      { allowOpenPolicy: true, logger: pino({ level: 'silent' }) },
    );
    const before = (await request(syncNode.app).get('/readyz')).body.dataVersion as string;
    await loadResources(server.baseUrl, patients(30, 40));
    const swapped = await syncNode.sync!();
    expect(swapped.changed).toBe(true);
    const after = (await request(syncNode.app).get('/readyz')).body.dataVersion as string;
    expect(after).toBe(swapped.dataVersion);
    expect(after).not.toBe(before);

    await server.close();
    const down = await request(liveNode.app).get('/readyz');
    expect(down.status).toBe(503);
    expect(down.body.reason).toBe('source unavailable');
    await expect(syncNode.sync!()).rejects.toThrow();
    expect((await request(syncNode.app).get('/readyz')).body.dataVersion).toBe(after);
    await liveNode.close();
    await syncNode.close();
  });
});
