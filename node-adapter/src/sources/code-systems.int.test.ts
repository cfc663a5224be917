// Code-system aliases end to end on the store: data under either URL of a
// code system is found by a query under either, `codes` strata keep the
// labels the query asked for, and the node's own aliases and its policy on
// unconfirmed Conditions apply at ingest.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import type { CohortQuery } from '@tessera/schemas';
import { ingest } from '../ingest/ingest.ts';
import type { FhirReading } from '../ingest/reading.ts';
import type { SourceQuery } from '../engine/bounds.ts';
import { openDuckDbSource } from './duckdb-source.ts';

const SECRET = new Uint8Array(32).fill(9);
const DIMDI_GM = 'http://fhir.de/CodeSystem/dimdi/icd-10-gm';
const BFARM_GM = 'http://fhir.de/CodeSystem/bfarm/icd-10-gm';
const LOCAL_LOINC = 'https://lab.example/CodeSystem/loinc-copy';
const LOINC = 'http://loinc.org';

const dirs: string[] = [];
afterAll(async () => {
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
});

const patients = ['p1', 'p2', 'p3', 'p4'].map((id) => ({ resourceType: 'Patient', id }));
const condition = (id: string, patient: string, system: string, code: string, extra = {}) => ({
  resourceType: 'Condition',
  id,
  subject: { reference: `Patient/${patient}` },
  code: { coding: [{ system, code }] },
  ...extra,
});
const resources = [
  ...patients,
  condition('c1', 'p1', DIMDI_GM, 'E11.9'),
  condition('c2', 'p2', BFARM_GM, 'E11.9'),
  condition('c3', 'p3', BFARM_GM, 'E11.9', {
    verificationStatus: { coding: [{ code: 'differential' }] },
  }),
  {
    resourceType: 'Observation',
    id: 'o1',
    status: 'final',
    subject: { reference: 'Patient/p4' },
    code: { coding: [{ system: LOCAL_LOINC, code: '4548-4' }] },
  },
];

async function storeOf(reading?: FhirReading) {
  const dir = await mkdtemp(join(tmpdir(), 'tessera-aliases-'));
  dirs.push(dir);
  await writeFile(join(dir, 'all.ndjson'), resources.map((r) => JSON.stringify(r)).join('\n'));
  const report = await ingest({
    sources: [dir],
    dbPath: join(dir, 'store.duckdb'),
    recordKeySecret: SECRET,
    workers: 0,
    ...(reading === undefined ? {} : { reading }),
  });
  return { report, source: await openDuckDbSource(join(dir, 'store.duckdb')) };
}

function evaluable(query: CohortQuery) {
  return { ...canonicalQuery(parseQuery(query)), asOf: '2026-01-01' } as SourceQuery;
}

describe('code system aliases on the store', () => {
  test('either URL finds data under either, and codes strata keep the labels asked for', async () => {
    const { source } = await storeOf();
    try {
      for (const system of [BFARM_GM, DIMDI_GM]) {
        const result = await source.evaluate(
          evaluable({ version: 1, cohort: { condition: { code: [{ system, code: 'E11.9' }] } } }),
          AbortSignal.timeout(60_000),
        );
        expect(result.total.count, system).toBe(3);
      }
      const strata = await source.evaluate(
        evaluable({
          version: 1,
          cohort: { patient: { gender: ['unknown'] } },
          stratify: [
            'deceased',
            {
              codes: {
                of: 'condition',
                in: [
                  { system: DIMDI_GM, code: 'E11.9' },
                  { system: BFARM_GM, code: 'E11' },
                ],
              },
            },
          ],
        }),
        AbortSignal.timeout(60_000),
      );
      expect(strata.strata.map((s) => [s.key, s.cell.count])).toEqual([
        [{ deceased: 'true', codes: `${BFARM_GM}|E11` }, 0],
        [{ deceased: 'true', codes: `${DIMDI_GM}|E11.9` }, 0],
        [{ deceased: 'false', codes: `${BFARM_GM}|E11` }, 0],
        [{ deceased: 'false', codes: `${DIMDI_GM}|E11.9` }, 3],
      ]);
    } finally {
      source.close();
    }
  });

  test('the node configuration adds aliases and may leave out unconfirmed Conditions', async () => {
    const { report, source } = await storeOf({
      codeSystemAliases: { [LOCAL_LOINC]: LOINC },
      excludeUnconfirmedConditions: true,
    });
    try {
      expect(report.skippedReasons.Condition).toEqual({ 'unconfirmed (node policy)': 1 });
      const diabetes = await source.evaluate(
        evaluable({
          version: 1,
          cohort: { condition: { code: [{ system: BFARM_GM, code: 'E11', descendants: true }] } },
        }),
        AbortSignal.timeout(60_000),
      );
      expect(diabetes.total.count).toBe(2);
      for (const system of [LOINC, LOCAL_LOINC]) {
        const hba1c = await source.evaluate(
          evaluable({
            version: 1,
            cohort: { observation: { code: [{ system, code: '4548-4' }] } },
          }),
          AbortSignal.timeout(60_000),
        );
        expect(hba1c.total.count, system).toBe(1);
      }
    } finally {
      source.close();
    }
  });
});
