// The live source against a real FHIR server (Medplum's router and in-memory
// repository behind Express), loaded over HTTP with transaction Bundles, with
// full and trimmed capabilities: every result must equal the brute-force
// oracle's over the same resources, record keys included.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { liveSourceDefaults } from '@tessera/schemas/testing';
import type { CohortQuery, EvaluableQuery, Expr } from '@tessera/schemas';
import type { Resource } from '@medplum/fhirtypes';
import { COMMON_PARAMS, TYPE_PARAMS, createFhirSource, recordKey } from '@tessera/node-adapter';
import type { FhirSource, RawResult } from '@tessera/node-adapter';
import { evaluateOracle, populationArbitrary, queryArbitrary } from '@tessera/node-adapter/oracle';
import type { FhirResource, OracleResult } from '@tessera/node-adapter/oracle';
import { loadResources, startFhirServer } from '../fhir-server/server.ts';
import type { FhirServer } from '../fhir-server/server.ts';
import { SYNTHEA_10 } from '../support/paths.ts';
import { QUERIES } from './queries.ts';

const SECRET = new TextEncoder().encode('live-source-integration-secret');
/** The live source's limits as a node configured without them has them. */
const { concurrency, timeoutMs, maxResources, pageSize, dataVersionTtlMs } = liveSourceDefaults();
const LIMITS = { concurrency, timeoutMs, maxResources, pageSize, dataVersionTtlMs };

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const SNOMED = 'http://snomed.info/sct';

function evaluable(query: CohortQuery, asOf = '2026-01-01'): EvaluableQuery {
  const parsed = parseQuery(query);
  return { ...canonicalQuery(parsed), asOf: parsed.asOf ?? asOf };
}

/** The oracle's figures in RawResult's shape, with every cell keyed. */
function expected(resources: readonly FhirResource[], query: EvaluableQuery): OracleResult {
  return evaluateOracle(resources, query, { recordKey: (id) => recordKey(SECRET, id) });
}

function expectSame(actual: RawResult, oracle: OracleResult, label: string): void {
  const round = (n: number | null): number | null =>
    n === null ? null : Number(n.toPrecision(10));
  const normal = (r: RawResult | OracleResult): unknown => ({
    ...r,
    measures: r.measures.map((m) =>
      m.type === 'summary'
        ? {
            ...m,
            mean: round(m.mean),
            sd: round(m.sd),
            sumAbs: round(m.sumAbs),
            maxAbs: round(m.maxAbs),
          }
        : m,
    ),
  });
  expect(normal(actual), label).toEqual(normal(oracle));
}

const ODD_SYSTEM = 'http://example.org/fhir/odd-codes';
/** A code holding every FHIR search separator (a real server must match it once escaped). */
const ODD_CODE = 'A,B$C\\D';

/** A population large enough to page (several hundred resources), the same every run. */
function population(): FhirResource[] {
  const [resources] = fc.sample(populationArbitrary({ maxPatients: 60, maxEventsPerPatient: 10 }), {
    seed: 20260101,
    numRuns: 1,
  });
  return [
    ...resources!,
    { resourceType: 'Patient', id: 'odd', gender: 'other', birthDate: '1980-05-05' },
    {
      resourceType: 'Condition',
      id: 'odd-condition',
      subject: { reference: 'Patient/odd' },
      code: { coding: [{ system: ODD_SYSTEM, code: ODD_CODE }] },
      recordedDate: '2021-01-01',
    },
  ];
}

/** Every parameter name the source may send. */
const ALLOWED = new Set([
  ...Object.values(TYPE_PARAMS).flat(),
  ...COMMON_PARAMS,
  'code:below',
  'medication:missing',
]);

function randomQueries(n: number): CohortQuery[] {
  return fc.sample(queryArbitrary(), { seed: 424242, numRuns: n });
}

describe.each(['full', 'trimmed'] as const)('live FHIR source, %s capabilities', (capabilities) => {
  let server: FhirServer;
  let source: FhirSource;
  let resources: FhirResource[];

  beforeAll(async () => {
    resources = population();
    server = await startFhirServer({ capabilities, defaultPageSize: 37 });
    await loadResources(server.baseUrl, resources as unknown as Resource[], 200);
    source = createFhirSource({
      ...LIMITS,
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      recordKeySecret: SECRET,
      pageSize: 50,
    });
  }, 120_000);

  afterAll(async () => {
    await source.close();
    await server.close();
  });

  it('declares what it serves, and the source reads it', async () => {
    const caps = await source.capabilities();
    expect(caps.fhirVersion).toBe('4.0.1');
    if (capabilities === 'full') {
      expect(caps.common).toEqual(['_count', '_elements', '_sort', '_summary']);
      expect(caps.types.Condition?.params).toEqual([
        'code',
        'onset-age',
        'onset-date',
        'recorded-date',
        'subject',
      ]);
    } else {
      expect(caps.common).toEqual([]);
      expect(caps.types.Observation?.params).toEqual([]);
    }
  });

  it('answers every criterion kind, combination, dimension and measure as the oracle does', async () => {
    for (const [i, q] of QUERIES.entries()) {
      const query = evaluable(q);
      expectSame(await source.evaluate(query), expected(resources, query), `query ${i}`);
    }
  });

  it('answers random queries as the oracle does', async () => {
    for (const [i, q] of randomQueries(capabilities === 'full' ? 40 : 20).entries()) {
      const query = evaluable(q);
      expectSame(await source.evaluate(query), expected(resources, query), `random query ${i}`);
    }
  });

  it('matches codes holding search separators, and lets no code inject a parameter (threat 35)', async () => {
    const urls: string[] = [];
    const recording = createFhirSource({
      ...LIMITS,
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      recordKeySecret: SECRET,
      fetch: (input, init) => {
        urls.push(input instanceof Request ? input.url : String(input));
        return fetch(input, init);
      },
    });
    const odd = evaluable({
      version: 1,
      cohort: { condition: { code: [{ system: ODD_SYSTEM, code: ODD_CODE }] } },
    });
    const oddResult = await recording.evaluate(odd);
    expect(oddResult.total.count).toBe(1);
    expectSame(oddResult, expected(resources, odd), 'odd code');

    // The query schema already refuses `|` and spaces; everything else must be escaped.
    const injections = [
      'E11&_has:Observation:patient:code=1234',
      'E11,http://hl7.org/fhir/sid/icd-10',
      'E11&subject=Patient/p1',
      '$everything',
      '\\,\\$',
      'E11#x',
    ];
    const attack = evaluable({
      version: 1,
      cohort: {
        any: injections.map((code): Expr => ({
          condition: {
            code: [
              { system: ICD10, code },
              { system: `${SNOMED}${code}`, code: 'x' },
            ],
          },
        })) as [Expr, ...Expr[]],
      },
    });
    expectSame(await recording.evaluate(attack), expected(resources, attack), 'injection');
    expect(urls.length).toBeGreaterThan(5);
    for (const url of urls) {
      const parsed = new URL(url);
      expect(parsed.hash).toBe('');
      for (const name of parsed.searchParams.keys()) expect(ALLOWED.has(name), name).toBe(true);
    }
    await recording.close();
  });

  it('keeps its data version while the data stays the same', async () => {
    const a = await source.dataVersion();
    const fresh = createFhirSource({
      ...LIMITS,
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      recordKeySecret: SECRET,
    });
    expect(await fresh.dataVersion()).toBe(a);
    await fresh.close();
  });
});

describe('live FHIR source data version', () => {
  it('changes when a resource is added or updated, and the next evaluation sees it', async () => {
    const server = await startFhirServer({ capabilities: 'full' });
    const patient = { resourceType: 'Patient', id: 'v1', gender: 'female' } as const;
    await loadResources(server.baseUrl, [patient]);
    const source = createFhirSource({
      ...LIMITS,
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      recordKeySecret: SECRET,
      dataVersionTtlMs: 0,
    });
    const women = evaluable({ version: 1, cohort: { patient: { gender: ['female'] } } });
    const v1 = await source.dataVersion();
    expect((await source.evaluate(women)).total.count).toBe(1);
    await loadResources(server.baseUrl, [{ ...patient, id: 'v2' }]);
    const v2 = await source.dataVersion();
    expect(v2).not.toBe(v1);
    expect((await source.evaluate(women)).total.count).toBe(2);
    await new Promise((r) => setTimeout(r, 5));
    await loadResources(server.baseUrl, [{ ...patient, gender: 'male' }]);
    expect(await source.dataVersion()).not.toBe(v2);
    expect((await source.evaluate(women)).total.count).toBe(1);
    await source.close();
    await server.close();
  });
});

function readNdjson(dir: string, types: ReadonlySet<string>): Resource[] {
  const out: Resource[] = [];
  for (const file of readdirSync(dir).sort()) {
    const type = file.split('.')[0]!;
    if (!types.has(type)) continue;
    for (const line of readFileSync(join(dir, file), 'utf8').split('\n')) {
      if (line.trim() !== '') out.push(JSON.parse(line) as Resource);
    }
  }
  return out;
}

describe('live FHIR source on the Synthea fixture', () => {
  let server: FhirServer;
  let source: FhirSource;

  beforeAll(async () => {
    server = await startFhirServer({ capabilities: 'full' });
    const types = new Set([
      'Patient',
      'Condition',
      'Encounter',
      'Immunization',
      'MedicationRequest',
      'Procedure',
    ]);
    await loadResources(server.baseUrl, readNdjson(SYNTHEA_10, types), 500);
    source = createFhirSource({
      ...LIMITS,
      baseUrl: server.baseUrl,
      auth: { kind: 'none' },
      recordKeySecret: SECRET,
    });
  }, 120_000);

  afterAll(async () => {
    await source.close();
    await server.close();
  });

  it('finds 5 patients with prediabetes: female 4, male 1 (query-language example 3)', async () => {
    const raw = await source.evaluate(
      evaluable({
        version: 1,
        cohort: { condition: { code: [{ system: SNOMED, code: '15777000' }] } },
        stratify: ['gender'],
      }),
    );
    expect(raw.total.count).toBe(5);
    expect(raw.strata.map((s) => [s.key.gender, s.cell.count])).toEqual([
      ['female', 4],
      ['male', 1],
      ['other', 0],
      ['unknown', 0],
    ]);
  });
});
