// The consent criterion, the opt-out policy and medication criteria kept to
// some resource types, on DuckDB over a hand-written population loaded by
// the real ingest (test/oracle/consent-clinic.ts): answers worked out by
// hand, and the oracle agreeing on every count and cell key.
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import type { CodeSet, CohortQuery, Expr } from '@tessera/schemas';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  CONSENT_CLINIC,
  MDAT_USE,
  MII_POLICY,
  RECONTACT,
} from '../../test/oracle/consent-clinic.ts';
import { evaluateOracle } from '../../test/oracle/oracle.ts';
import { expectAgreement, ingestResources, type TestStore } from '../../test/support/engine.ts';
import { excludeOptedOut } from '../evaluate/opt-out.ts';
import type { SourceQuery } from './bounds.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine, type Engine } from './engine.ts';
import type { RawResult } from './raw-result.ts';

const ATC = 'http://www.whocc.no/atc';
const METFORMIN: CodeSet = [{ system: ATC, code: 'A10BA02' }];
const MDAT: CodeSet = [{ system: MII_POLICY, code: MDAT_USE }];
const RECONTACT_CODES: CodeSet = [{ system: MII_POLICY, code: RECONTACT }];
const EVERYONE: Expr = { any: [{ patient: { deceased: true } }, { patient: { deceased: false } }] };

let store: TestStore;
let engine: Engine;

beforeAll(async () => {
  store = await ingestResources(CONSENT_CLINIC);
  engine = createEngine({ runner: store.runner, dialect: duckDbDialect });
});
afterAll(async () => {
  await store.close();
});

function sourceQuery(body: Omit<CohortQuery, 'version'>, asOf = '2026-01-01'): SourceQuery {
  return { ...canonicalQuery(parseQuery({ version: 1, ...body })), asOf };
}

/** Evaluates on the engine, checks the oracle agrees on every count and key. */
async function run(query: SourceQuery): Promise<RawResult> {
  const result = await engine.evaluate(query);
  const expected = evaluateOracle(CONSENT_CLINIC, query, { recordKey: store.recordKey });
  expectAgreement(result, expected);
  return result;
}

const count = async (cohort: CohortQuery['cohort'], asOf?: string) =>
  (await run(sourceQuery({ cohort }, asOf))).total.count;

describe('the consent criterion', () => {
  test('permits in force on asOf, in active Consents only, at any depth', async () => {
    // p1 (2020-2050), p5 (period of the root provision), p8 (root provision, R5 subject);
    // not p2 (expired), p3 (denies), p4 (inactive), p6 (none), p7 (from 2027).
    expect(await count({ consent: { code: MDAT } })).toBe(3);
  });

  test('is read on the query date: a consent starting later counts from then on', async () => {
    expect(await count({ consent: { code: MDAT } }, '2027-06-01')).toBe(4);
    // In 2016 p2's permit was in force, and p8's (open); p1, p5 and p7 not yet.
    expect(await count({ consent: { code: MDAT } }, '2016-01-01')).toBe(2);
  });

  test('denials are their own decision', async () => {
    expect(await count({ consent: { code: MDAT, decision: 'deny' } })).toBe(1); // p3
    expect(await count({ consent: { code: RECONTACT_CODES, decision: 'deny' } })).toBe(1); // p1
    expect(await count({ consent: { code: RECONTACT_CODES } })).toBe(0);
  });

  test('combines with other criteria and not', async () => {
    // Metformin in any use and MDAT consent: p1 only (p2 expired, p3 denies, p4 inactive, p6 none).
    expect(
      await count({ all: [{ consent: { code: MDAT } }, { medication: { code: METFORMIN } }] }),
    ).toBe(1);
    expect(await count({ not: { consent: { code: MDAT } } })).toBe(5);
  });
});

describe('medication criteria kept to resource types', () => {
  test('administrations only: the referenced Medication counts, requests and statements do not', async () => {
    expect(await count({ medication: { code: METFORMIN } })).toBe(5);
    expect(
      await count({
        medication: { code: METFORMIN, resourceTypes: ['MedicationAdministration'] },
      }),
    ).toBe(3); // p1, p4, p6
    expect(
      await count({
        medication: {
          code: METFORMIN,
          resourceTypes: ['MedicationRequest', 'MedicationStatement'],
        },
      }),
    ).toBe(3); // p2, p3, p6
  });

  test('all three types are the default, and hash alike', () => {
    const all = sourceQuery({
      cohort: {
        medication: {
          code: METFORMIN,
          resourceTypes: ['MedicationStatement', 'MedicationRequest', 'MedicationAdministration'],
        },
      },
    });
    expect(all).toEqual(sourceQuery({ cohort: { medication: { code: METFORMIN } } }));
  });
});

describe('the opt-out policy', () => {
  test('leaves the opted-out out of the total, every stratum and every measure cohort', async () => {
    const query = sourceQuery({ cohort: EVERYONE, stratify: ['gender'] });
    const before = await run(query);
    const after = await run(excludeOptedOut(query, [MDAT[0]]));
    expect(before.total.count).toBe(8);
    // p3, female, denies MDAT use.
    expect(after.total.count).toBe(7);
    expect(before.strata.map((s) => s.cell.count)).toEqual([4, 3, 1, 0]);
    expect(after.strata.map((s) => s.cell.count)).toEqual([3, 3, 1, 0]);
  });

  test('reaches patients a not would otherwise bring back', async () => {
    const query = sourceQuery({ cohort: { not: { medication: { code: METFORMIN } } } });
    expect((await run(query)).total.count).toBe(3); // p5, p7, p8
    const optedOut = excludeOptedOut(query, [RECONTACT_CODES[0]]);
    expect((await run(optedOut)).total.count).toBe(3); // p1 denies recontact, but is not in the cohort
    const mdatOptOut = sourceQuery({ cohort: { not: { patient: { gender: ['male'] } } } });
    expect((await run(excludeOptedOut(mdatOptOut, [MDAT[0]]))).total.count).toBe(4);
  });
});
