// The engine on shapes of real-world FHIR data that the generated
// populations lack, loaded by the real ingest: answers worked out by hand,
// and the oracle agreeing on every count, cell key and statistic.
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { evaluateOracle } from '../../test/oracle/oracle.ts';
import type { FhirResource } from '../../test/oracle/read-fhir.ts';
import { expectAgreement, ingestResources, type TestStore } from '../../test/support/engine.ts';
import type { EvaluableQuery } from './compile.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine } from './engine.ts';
import type { RawResult } from './raw-result.ts';

const OPS = 'http://fhir.de/CodeSystem/bfarm/ops';

const patient = (id: string): FhirResource => ({
  resourceType: 'Patient',
  id,
  gender: 'female',
  birthDate: '1960-01-01',
});

/** A population loaded once per describe, and queries checked against the oracle on it. */
function population(resources: readonly FhirResource[]) {
  let store: TestStore;
  beforeAll(async () => {
    store = await ingestResources(resources);
  });
  afterAll(async () => {
    await store.close();
  });
  return async (body: Record<string, unknown>): Promise<RawResult> => {
    const query: EvaluableQuery = {
      ...canonicalQuery(parseQuery({ version: 1, ...body })),
      asOf: '2026-01-01',
    };
    const result = await createEngine({ runner: store.runner, dialect: duckDbDialect }).evaluate(
      query,
    );
    expectAgreement(result, evaluateOracle(resources, query, { recordKey: store.recordKey }));
    return result;
  };
}

describe('OPS descendants', () => {
  const procedure = (id: string, subject: string, code: string): FhirResource => ({
    resourceType: 'Procedure',
    id,
    status: 'completed',
    subject: { reference: `Patient/${subject}` },
    code: { coding: [{ system: OPS, code }] },
    performedDateTime: '2024-03-01',
  });
  const evaluate = population([
    ...['p1', 'p2', 'p3', 'p4', 'p5'].map(patient),
    procedure('a', 'p1', '5-390.1'),
    procedure('b', 'p2', '5-399'),
    procedure('c', 'p3', '5-38a.1'), // another group: not under 5-39
    procedure('d', 'p4', '8-810.w3'),
    procedure('e', 'p5', '8-81'), // the parent is not a descendant of 8-810
  ]);
  const count = async (code: string) =>
    (
      await evaluate({
        cohort: { procedure: { code: [{ system: OPS, code, descendants: true }] } },
      })
    ).total.count;

  test('5-39 covers 5-390 to 5-399, 8-810 covers 8-810.*', async () => {
    expect(await count('5-39')).toBe(2);
    expect(await count('5-390')).toBe(1);
    expect(await count('8-810')).toBe(1);
    expect(await count('8-81')).toBe(2);
    expect(await count('5-3')).toBe(3);
  });
});
