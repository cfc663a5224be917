// The live source over the public FHIR data sets (node-adapter's
// test/fixtures/fhir-corpus), served by a real FHIR server as published:
// every answer equals the brute-force oracle's over the same files, as the
// engine's do in the node adapter's corpus ingest test.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import type { CohortQuery, EvaluableQuery } from '@tessera/schemas';
import type { Resource } from '@medplum/fhirtypes';
import { recordKey } from '@tessera/node-adapter';
import type { FhirSource } from '@tessera/node-adapter';
import { evaluateOracle, readFhirDir } from '@tessera/node-adapter/oracle';
import type { FhirResource } from '@tessera/node-adapter/oracle';
import { loadResources, startFhirServer } from '../fhir-server/server.ts';
import type { FhirServer } from '../fhir-server/server.ts';
import { liveSourceOn } from '../support/live-source.ts';
import { PUBLIC_FHIR_CORPUS } from '../support/paths.ts';

const SECRET = new TextEncoder().encode('public-corpus-live-source-secret');

const BFARM = 'http://fhir.de/CodeSystem/bfarm';
const LOINC = 'http://loinc.org';
const code = (system: string, value: string): [{ system: string; code: string }] => [
  { system, code: value },
];

/** Per data set, queries on what it holds; each must answer as the oracle does. */
const QUERIES: Readonly<Record<string, readonly CohortQuery['cohort'][]>> = {
  'flare-specimen': [
    { condition: { code: code(`${BFARM}/icd-10-gm`, 'E13.9') } },
    { condition: { code: [{ system: `${BFARM}/icd-10-gm`, code: 'E13', descendants: true }] } },
    { not: { condition: { code: code('http://fhir.de/CodeSystem/dimdi/icd-10-gm', 'E13.9') } } },
  ],
  'mii-medikation': [
    { medication: { code: code(`${BFARM}/atc`, 'L01DB01') } },
    { medication: { code: code(`${BFARM}/atc`, 'L01DB01'), atLeast: 2 } },
    {
      medication: {
        code: code(`${BFARM}/atc`, 'L01DB01'),
        resourceTypes: ['MedicationAdministration'],
        period: { from: '2020-01-06', to: '2020-01-06' },
      },
    },
    { medication: { code: code(`${BFARM}/atc`, 'V06DC01') } },
    { encounter: { code: code('http://terminology.hl7.org/CodeSystem/v3-ActCode', 'IMP') } },
  ],
  'us-core': [
    { observation: { code: code(LOINC, '8480-6'), value: { min: 100, unit: 'mm[Hg]' } } },
    { observation: { code: code(LOINC, '8462-4'), value: { max: 43, unit: 'mm[Hg]' } } },
    { observation: { code: code(LOINC, '85354-9') } },
    { condition: { code: code('http://snomed.info/sct', '39065001'), ageAtEvent: { min: 28 } } },
    { patient: { gender: ['female'], age: { min: 38, max: 38 } } },
  ],
  'mii-labor': [
    { observation: { code: code(LOINC, '59826-8'), value: { min: 72, unit: 'umol/L' } } },
    { observation: { code: code(LOINC, '59826-8'), atLeast: 2 } },
    { observation: { code: code(LOINC, '1755-8'), value: { min: 14.9, unit: 'mg/d' } } },
    { observation: { code: code(LOINC, '5787-7') } },
    {
      observation: {
        code: code(LOINC, '59826-8'),
        period: { from: '2018-11-20', to: '2018-11-20' },
      },
    },
  ],
};

function evaluable(cohort: CohortQuery['cohort']): EvaluableQuery {
  return { ...canonicalQuery(parseQuery({ version: 1, cohort })), asOf: '2026-01-01' };
}

describe.each(Object.keys(QUERIES))('live FHIR source on the public data set %s', (set) => {
  let server: FhirServer;
  let source: FhirSource;
  let resources: FhirResource[];

  beforeAll(async () => {
    resources = await readFhirDir(join(PUBLIC_FHIR_CORPUS, set));
    server = await startFhirServer({ capabilities: 'full' });
    await loadResources(server.baseUrl, resources as unknown as Resource[]);
    source = liveSourceOn(server.baseUrl, SECRET);
  }, 60_000);

  afterAll(async () => {
    await source.close();
    await server.close();
  });

  it('answers as the oracle does, and finds someone for most questions', async () => {
    let found = 0;
    for (const [i, cohort] of QUERIES[set]!.entries()) {
      const query = evaluable(cohort);
      const actual = await source.evaluate(query);
      const oracle = evaluateOracle(resources, query, {
        recordKey: (id) => recordKey(SECRET, id),
      });
      expect(actual, `query ${i}`).toEqual(oracle);
      if (actual.total.count > 0) found += 1;
    }
    expect(found).toBeGreaterThanOrEqual(QUERIES[set]!.length - 1);
  });
});
