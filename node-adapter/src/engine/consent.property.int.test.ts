// The consent criterion, the opt-out and medication resource types against
// the brute-force oracle on random populations: random Consents (any status,
// provisions nested at random depths, periods around the query dates, with
// and without types and codes) and medication uses of every type, loaded by
// the real ingest; random queries combining consent and medication criteria,
// with and without the opt-out. Every count and cell key must agree.
import fc from 'fast-check';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import type { CodeSet, CohortQuery, Expr } from '@tessera/schemas';
import { describe, test } from 'vitest';
import { evaluateOracle } from '../../test/oracle/oracle.ts';
import type { FhirResource } from '../../test/oracle/read-fhir.ts';
import { expectAgreement, ingestResources } from '../../test/support/engine.ts';
import { excludeOptedOut } from '../evaluate/opt-out.ts';
import type { SourceQuery } from './bounds.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine } from './engine.ts';

const NUM_RUNS = Number(process.env.TESSERA_PROPERTY_RUNS ?? 15);
const POLICY = 'urn:oid:2.16.840.1.113883.3.1937.777.24.5.3';
const CODES = ['2.16.840.1.113883.3.1937.777.24.5.3.8', '2.16.840.1.113883.3.1937.777.24.5.3.6'];
const ATC = 'http://www.whocc.no/atc';
const AS_OF = ['2019-12-31', '2020-01-01', '2026-01-01', '2030-06-30'] as const;
const DATES = ['2019-12-31', '2020-01-01', '2024-05-05', '2026-01-01', '2030-06-30', '2031-01-01'];
const MEDICATION_TYPES = [
  'MedicationRequest',
  'MedicationStatement',
  'MedicationAdministration',
] as const;

const pick = <T>(items: readonly T[]) => fc.constantFrom(...items);

const period = fc.option(
  fc.record({ start: pick(DATES), end: pick(DATES) }, { requiredKeys: [] }),
  { nil: undefined },
);

interface ProvisionDraft {
  type: string | undefined;
  period: { start?: string; end?: string } | undefined;
  code: string | undefined;
  provision: ProvisionDraft[];
}

const provision: fc.Memo<ProvisionDraft> = fc.memo((depth) =>
  fc.record({
    type: fc.constantFrom<string | undefined>('permit', 'deny', 'permit', undefined),
    period,
    code: fc.option(pick(CODES), { nil: undefined }),
    provision: depth <= 1 ? fc.constant([]) : fc.array(provision(depth - 1), { maxLength: 3 }),
  }),
);

function provisionJson(p: ProvisionDraft): Record<string, unknown> {
  return {
    ...(p.type === undefined ? {} : { type: p.type }),
    ...(p.period === undefined ? {} : { period: p.period }),
    ...(p.code === undefined ? {} : { code: [{ coding: [{ system: POLICY, code: p.code }] }] }),
    ...(p.provision.length === 0 ? {} : { provision: p.provision.map(provisionJson) }),
  };
}

const population: fc.Arbitrary<FhirResource[]> = fc
  .array(
    fc.record({
      gender: pick(['female', 'male'] as const),
      consents: fc.array(
        fc.record({
          status: pick(['active', 'active', 'inactive', 'draft', 'entered-in-error'] as const),
          r5: fc.boolean(),
          provision: provision(3),
        }),
        { maxLength: 2 },
      ),
      medications: fc.array(pick(MEDICATION_TYPES), { maxLength: 3 }),
    }),
    { minLength: 1, maxLength: 25 },
  )
  .map((drafts) =>
    drafts.flatMap((d, p): FhirResource[] => [
      { resourceType: 'Patient', id: `p${p}`, gender: d.gender, birthDate: '1970-01-01' },
      ...d.consents.map((c, i): FhirResource => ({
        resourceType: 'Consent',
        id: `c${p}-${i}`,
        status: c.status,
        [c.r5 ? 'subject' : 'patient']: { reference: `Patient/p${p}` },
        provision: provisionJson(c.provision),
      })),
      ...d.medications.map((type, i): FhirResource => ({
        resourceType: type,
        id: `m${p}-${i}`,
        status: 'completed',
        subject: { reference: `Patient/p${p}` },
        medicationCodeableConcept: { coding: [{ system: ATC, code: 'A10BA02' }] },
      })),
    ]),
  );

const METFORMIN_AND_BELOW: CodeSet = [{ system: ATC, code: 'A10', descendants: true }];

const codeSet = fc
  .subarray(CODES, { minLength: 1 })
  .map((codes) => codes.map((code) => ({ system: POLICY, code })) as CodeSet);

const criterion: fc.Arbitrary<Expr> = fc.oneof<fc.Arbitrary<Expr>[]>(
  fc.record({ code: codeSet, decision: pick(['permit', 'deny'] as const) }).map((consent) => ({
    consent,
  })),
  fc
    .option(fc.subarray([...MEDICATION_TYPES], { minLength: 1 }), { nil: undefined })
    .map((types) => ({
      medication: {
        code: METFORMIN_AND_BELOW,
        ...(types === undefined
          ? {}
          : { resourceTypes: types as [(typeof MEDICATION_TYPES)[number]] }),
      },
    })),
);

const query: fc.Arbitrary<[CohortQuery, CodeSet | undefined]> = fc
  .tuple(
    fc.oneof(
      criterion,
      criterion.map((c): Expr => ({ not: c })),
      fc.tuple(criterion, criterion).map(([a, b]): Expr => ({ all: [a, { not: b }] })),
    ),
    pick(AS_OF),
    fc.option(codeSet, { nil: undefined }),
  )
  .map(([cohort, asOf, optOut]) => [{ version: 1, cohort, asOf, stratify: ['gender'] }, optOut]);

describe('consent and medication types: engine = oracle on random populations', () => {
  test('every count and cell key agrees, with and without an opt-out', async () => {
    await fc.assert(
      fc.asyncProperty(
        population,
        fc.array(query, { minLength: 1, maxLength: 6 }),
        async (resources, queries) => {
          const store = await ingestResources(resources);
          try {
            const engine = createEngine({ runner: store.runner, dialect: duckDbDialect });
            for (const [raw, optOut] of queries) {
              const parsed = parseQuery(raw);
              let q: SourceQuery = { ...canonicalQuery(parsed), asOf: parsed.asOf! };
              if (optOut !== undefined) q = excludeOptedOut(q, [optOut[0], ...optOut.slice(1)]);
              const expected = evaluateOracle(resources, q, { recordKey: store.recordKey });
              expectAgreement(await engine.evaluate(q), expected);
            }
          } finally {
            await store.close();
          }
        },
      ),
      { numRuns: NUM_RUNS, endOnFailure: process.env.TESSERA_PROPERTY_SHRINK === undefined },
    );
  }, 600_000);
});
