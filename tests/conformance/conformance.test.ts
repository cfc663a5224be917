// Conformance of the node's three ways to answer a query, on one generated
// population: the embedded DuckDB store (ingest of the population's NDJSON),
// the live FHIR source against a real FHIR server loaded over HTTP with
// transaction Bundles (full and trimmed capabilities), and the brute-force
// oracle. Counts, strata, bins, missing, summary n exactly and statistics
// to 1e-9 against the oracle; every cell key equal between store and live
// source. Then a sync from the server gives a store that answers as the live
// source does, and the node serves the live source with honest readiness.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import pino from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalQuery, loadConfig, nodeConfigSchemaId, parseQuery } from '@tessera/schemas';
import type { CohortQuery, NodeConfig } from '@tessera/schemas';
import type { Resource } from '@medplum/fhirtypes';
import { generateSigningKey, publicJwks } from '../../gateway/src/auth/node-token.ts';
import { loadResources, startFhirServer } from '../fhir-server/server.ts';
import type { CapabilityLevel, FhirServer } from '../fhir-server/server.ts';
import { expectAgreement } from '../../node-adapter/src/engine/test-support.ts';
import type { RawCell, RawResult } from '../../node-adapter/src/engine/raw-result.ts';
import { refreshStore } from '../../node-adapter/src/fhir/harvest.ts';
import { ingest } from '../../node-adapter/src/ingest/index.ts';
import { writeNdjsonDir } from '../../node-adapter/src/oracle/ndjson.ts';
import { evaluateOracle } from '../../node-adapter/src/oracle/oracle.ts';
import {
  populationArbitrary,
  populationHints,
  queryArbitrary,
} from '../../node-adapter/src/oracle/random-population.ts';
import type { FhirResource } from '../../node-adapter/src/oracle/read-fhir.ts';
import { openFhirQuerySource } from '../../node-adapter/src/server/fhir-source-adapter.ts';
import type { FhirQuerySource } from '../../node-adapter/src/server/fhir-source-adapter.ts';
import { createNodeService } from '../../node-adapter/src/server/node.ts';
import { openDuckDbSource } from '../../node-adapter/src/server/source.ts';
import type { DuckDbSource } from '../../node-adapter/src/server/source.ts';
import type { EvaluableQuery } from '../../node-adapter/src/service/ports.ts';
import { recordKey } from '../../node-adapter/src/store/record-key.ts';
import { MORE_QUERIES, QUERIES } from './queries.ts';

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

let dir: string;
let resources: FhirResource[];
let queries: EvaluableQuery[];
let store: DuckDbSource;
let keyFile: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-conformance-'));
  resources = population();
  const random = fc.sample(queryArbitrary(populationHints(resources)), {
    seed: 77,
    numRuns: 8,
  });
  queries = [...QUERIES, ...MORE_QUERIES, ...random].map(evaluable);
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
    server = await startFhirServer({ capabilities: level, defaultPageSize: 100 });
    await loadResources(server.baseUrl, resources as unknown as Resource[], 500);
    live = await openFhirQuerySource(
      { kind: 'fhir', baseUrl: server.baseUrl, auth: { kind: 'none' } },
      { baseDir: dir, stateDir: dir, recordKeyFile: keyFile },
    );
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
    const first = await refreshStore({
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      storePath,
      recordKeySecret: SECRET,
      mode: 'auto',
      workers: 0,
      maxBadShare: 1,
    });
    // The test server declares no $export: auto falls back to paged search.
    expect(first.method).toBe('search');
    expect(first.changed).toBe(true);
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
      const again = await refreshStore({
        baseUrl: server.baseUrl,
        auth: { kind: 'none' },
        storePath,
        recordKeySecret: SECRET,
        mode: 'search',
        workers: 0,
        maxBadShare: 1,
      });
      expect(again.changed).toBe(false);
      expect(again.dataVersion).toBe(first.dataVersion);
    } finally {
      synced.close();
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
      loadConfig<NodeConfig>(nodeConfigSchemaId, {
        ...base,
        nodeId: 'live',
        source: { kind: 'fhir', baseUrl: server.baseUrl },
        stateDir: join(dir, 'state-live'),
      }),
      { allowOpenPolicy: true, logger: pino({ level: 'silent' }), liveDataVersionTtlMs: 0 },
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
      workers: 0,
    });
    const syncNode = await createNodeService(
      loadConfig<NodeConfig>(nodeConfigSchemaId, {
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
