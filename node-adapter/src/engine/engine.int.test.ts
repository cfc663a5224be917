// The engine on DuckDB over a hand-written population (test/oracle/clinic.ts)
// loaded by the real ingest: answers worked out by hand, and the oracle
// agreeing on every count and cell key.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { canonicalQuery, parseQuery } from '@tessera/schemas';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CLINIC } from '../../test/oracle/clinic.ts';
import { readNdjsonDir } from '../../test/oracle/ndjson.ts';
import { evaluateOracle } from '../../test/oracle/oracle.ts';
import { createDuckDbRunner, openStore } from '../store/open.ts';
import type { SourceQuery } from './bounds.ts';
import type { EvaluableQuery } from './compile.ts';
import { duckDbDialect } from './duckdb-dialect.ts';
import { createEngine, type Engine } from './engine.ts';
import type { RawMeasure, RawResult } from './raw-result.ts';
import { expectAgreement, ingestResources, type TestStore } from '../../test/support/engine.ts';

const ICD10 = 'http://hl7.org/fhir/sid/icd-10';
const LOINC = 'http://loinc.org';
const ATC = 'http://www.whocc.no/atc';
const HBA1C = [{ system: LOINC, code: '4548-4' }];
const EVERYONE = { any: [{ patient: { deceased: true } }, { patient: { deceased: false } }] };
const REPO = join(import.meta.dirname, '../../..');

let store: TestStore;
let engine: Engine;

beforeAll(async () => {
  store = await ingestResources(CLINIC);
  engine = createEngine({ runner: store.runner, dialect: duckDbDialect });
});
afterAll(async () => {
  await store.close();
});

function evaluable(body: Record<string, unknown>, asOf = '2026-01-01'): EvaluableQuery {
  return { ...canonicalQuery(parseQuery({ version: 1, ...body })), asOf };
}

/** Evaluates on the engine, checks the oracle agrees on every count and key, returns the engine's answer. */
async function run(body: Record<string, unknown>, asOf?: string): Promise<RawResult> {
  const query = evaluable(body, asOf);
  const result = await engine.evaluate(query);
  const expected = evaluateOracle(CLINIC, query, { recordKey: (id) => store.recordKey(id) });
  expectAgreement(result, expected);
  return result;
}

const count = async (cohort: unknown, asOf?: string) => (await run({ cohort }, asOf)).total.count;
const strataCounts = (r: RawResult) => r.strata.map((s) => s.cell.count);

function histogram(m: RawMeasure | undefined) {
  if (m?.type !== 'histogram') throw new TypeError('not a histogram');
  return { bins: m.bins.map((b) => b.cell.count), missing: m.missing.count };
}

describe('the query-language examples', () => {
  test('1: women 40-79 with type 2 diabetes (E11 and below), by age band', async () => {
    const body = JSON.parse(
      readFileSync(
        join(
          REPO,
          'schemas/fixtures/queries/valid/example-1-women-40-79-type-2-diabetes-by-age-band.json',
        ),
        'utf8',
      ),
    ) as Record<string, unknown>;
    const r = await run(body);
    // a (40, E11.9); not b (39), not d (E11.9 entered in error, or in ICD-10-CM).
    expect(r.total.count).toBe(1);
    expect(r.strata.map((s) => s.key.ageBand)).toEqual(['0-17', '18-39', '40-64', '65-79', '80+']);
    expect(strataCounts(r)).toEqual([0, 0, 1, 0, 0]);
  });

  test('2: HbA1c of at least 6.5 % since 2020 without metformin, with a histogram', async () => {
    const body = JSON.parse(
      readFileSync(
        join(
          REPO,
          'schemas/fixtures/queries/valid/example-2-hba1c-since-2020-without-metformin.json',
        ),
        'utf8',
      ),
    ) as Record<string, unknown>;
    const r = await run(body);
    // b (6.5 on 2020-01-01, metformin entered in error) and h; a and g take
    // metformin, c's value is from 2019, d's 9.1 was entered in error.
    expect(r.total.count).toBe(2);
    expect(r.measures[0]).toEqual({ type: 'count' });
    // b's latest is 6.5; h's latest day has 5.5 and 6.5, so 6.0.
    expect(histogram(r.measures[1])).toEqual({ bins: [0, 1, 1, 0, 0], missing: 0 });
  });

  test('3: prediabetes by gender on the Synthea fixture is 5: female 4, male 1', async () => {
    const answers = JSON.parse(
      readFileSync(
        join(REPO, 'schemas/fixtures/queries/answers/example-3-prediabetes-by-gender.json'),
        'utf8',
      ),
    ) as { query: string; data: string; answers: { open: unknown } };
    const raw = parseQuery(
      JSON.parse(
        readFileSync(join(REPO, 'schemas/fixtures/queries/answers', answers.query), 'utf8'),
      ),
    );
    const query: EvaluableQuery = { ...canonicalQuery(raw), asOf: raw.asOf ?? '2026-01-01' };
    const synthea = await ingestResources(await readNdjsonDir(join(REPO, answers.data)));
    try {
      const r = await createEngine({ runner: synthea.runner, dialect: duckDbDialect }).evaluate(
        query,
      );
      expect({
        total: { count: r.total.count },
        strata: r.strata.map((s) => ({ key: s.key, cell: { count: s.cell.count } })),
      }).toEqual(answers.answers.open);
      expect(r.total.count).toBe(5);
    } finally {
      await synthea.close();
    }
  });
});

describe('patient criteria', () => {
  test('age in whole years at asOf, both bounds inclusive', async () => {
    // a is 40 today, d 79, h 55, c died at 79; b 39 is out.
    expect(await count({ patient: { age: { min: 40, max: 79 } } })).toBe(4);
    // c would be 80 had he lived.
    expect(await count({ patient: { age: { min: 80 } } })).toBe(0);
  });

  test('someone born on 29 February is a year older on 29 February or on 1 March', async () => {
    const males24 = { all: [{ patient: { gender: ['male'] } }, { patient: { age: { min: 24 } } }] };
    expect(await count(males24, '2024-02-28')).toBe(1);
    expect(await count(males24, '2024-02-29')).toBe(2);
    const males25 = { all: [{ patient: { gender: ['male'] } }, { patient: { age: { min: 25 } } }] };
    expect(await count(males25, '2025-02-28')).toBe(1);
    expect(await count(males25, '2025-03-01')).toBe(2);
  });

  test('not of an age criterion holds for patients without a birth date and the unborn', async () => {
    expect(await count({ not: { patient: { age: { min: 18 } } } })).toBe(2);
    expect(await count({ not: { patient: { birthDate: { from: '1900-01-01' } } } })).toBe(1);
  });

  test('gender any-of, absent gender as unknown, deceased from deceasedDateTime', async () => {
    expect(await count({ patient: { gender: ['female', 'other'] } })).toBe(5);
    expect(await count({ patient: { gender: ['unknown'] } })).toBe(1);
    expect(await count({ patient: { deceased: true } })).toBe(1);
    expect(await count({ patient: { birthDate: { from: '1986-01-01', to: '1986-01-02' } } })).toBe(
      2,
    );
  });
});

describe('the age of a dead patient is the age at death', () => {
  // Everyone but the unborn is born on 15 June 1950 (75 on 2026-01-01) or on
  // 29 February 1960, and dies, if at all, about a birthday.
  const death = (id: string, birthDate: string, deceased?: string | boolean) => ({
    resourceType: 'Patient',
    id,
    gender: 'female',
    birthDate,
    ...(deceased === undefined
      ? {}
      : typeof deceased === 'boolean'
        ? { deceasedBoolean: deceased }
        : { deceasedDateTime: deceased }),
  });
  const PEOPLE = [
    death('day-before', '1950-06-15', '2020-06-14T10:00:00Z'), // 69
    death('on-birthday', '1950-06-15', '2020-06-15'), // 70
    death('day-after', '1950-06-15', '2020-06-16T08:00:00+02:00'), // 70
    death('offset', '1950-06-15', '2020-06-15T23:30:00-05:00'), // 70: the date as written
    death('month-only', '1950-06-15', '2020-06'), // 2020-06-01: 69
    death('after-asOf', '1950-06-15', '2030-01-01'), // 75 on 2026-01-01
    death('no-date', '1950-06-15', true), // 75
    death('alive', '1950-06-15', false), // 75
    death('leap-28', '1960-02-29', '2021-02-28'), // 60: turns 61 on 1 March
    death('leap-01', '1960-02-29', '2021-03-01'), // 61
    death('before-birth', '2000-01-01', '1999-12-31'), // no age at all
    {
      resourceType: 'Condition',
      id: 'late',
      subject: { reference: 'Patient/day-before' },
      code: { coding: [{ system: ICD10, code: 'I10' }] },
      onsetDateTime: '2022-01-01',
    },
  ];
  let own: TestStore;
  let ownEngine: Engine;
  beforeAll(async () => {
    own = await ingestResources(PEOPLE);
    ownEngine = createEngine({ runner: own.runner, dialect: duckDbDialect });
  });
  afterAll(async () => {
    await own.close();
  });

  async function evaluate(body: Record<string, unknown>, asOf = '2026-01-01'): Promise<RawResult> {
    const query = evaluable(body, asOf);
    const result = await ownEngine.evaluate(query);
    expectAgreement(result, evaluateOracle(PEOPLE, query, { recordKey: own.recordKey }));
    return result;
  }
  const aged = async (age: Record<string, number>, asOf?: string) =>
    (await evaluate({ cohort: { patient: { age } } }, asOf)).total.count;

  test('a death the day before a birthday stops the age short of it, a death on it does not', async () => {
    expect(await aged({ min: 70, max: 70 })).toBe(3);
    expect(await aged({ min: 69, max: 69 })).toBe(2);
    expect(await aged({ min: 75 })).toBe(3);
    expect(await aged({ min: 76 })).toBe(0);
    // Nobody with a death date ages past it: 10 have an age, before-birth none.
    expect(await aged({ min: 0 })).toBe(10);
    expect(await evaluate({ cohort: { not: { patient: { age: { min: 0 } } } } })).toMatchObject({
      total: { count: 1 },
    });
  });

  test('29 February: a death on 28 February comes before the birthday in a common year', async () => {
    expect(await aged({ min: 60, max: 60 })).toBe(1);
    expect(await aged({ min: 61, max: 61 })).toBe(1);
  });

  test('before the death, the dead aged like everyone else', async () => {
    // On 2020-06-14 all born in 1950 are 69; on 2020-06-15 those alive or
    // dying that day are 70, and the two who died earlier stay 69.
    expect(await aged({ min: 70 }, '2020-06-14')).toBe(0);
    expect(await aged({ min: 70 }, '2020-06-15')).toBe(6);
    expect(await aged({ max: 69 }, '2020-06-15')).toBe(4);
  });

  test('age bands place the dead by their age at death', async () => {
    const r = await evaluate({
      cohort: { patient: { gender: ['female'] } },
      stratify: [{ ageBand: [0, 61, 70, 75] }],
    });
    expect(r.strata.map((s) => [s.key.ageBand, s.cell.count])).toEqual([
      ['0-60', 1],
      ['61-69', 3],
      ['70-74', 3],
      ['75+', 3],
    ]);
  });

  test('an event after death is at the age at death', async () => {
    const i10 = [{ system: ICD10, code: 'I10' }];
    expect(
      await evaluate({ cohort: { condition: { code: i10, ageAtEvent: { min: 70 } } } }),
    ).toMatchObject({
      total: { count: 0 },
    });
    expect(
      await evaluate({ cohort: { condition: { code: i10, ageAtEvent: { max: 69 } } } }),
    ).toMatchObject({
      total: { count: 1 },
    });
  });
});

describe('event criteria', () => {
  test('atLeast counts distinct resources, not codings', async () => {
    expect(
      await count({
        condition: { code: [{ system: ICD10, code: 'E11', descendants: true }], atLeast: 2 },
      }),
    ).toBe(1);
  });

  test('atLeast tells medication resources of different types apart when their ids are equal', async () => {
    const atc = { coding: [{ system: ATC, code: 'A10BA02' }] };
    const resources = [
      { resourceType: 'Patient', id: 'm', gender: 'female', birthDate: '1970-01-01' },
      {
        resourceType: 'MedicationRequest',
        id: 'same',
        subject: { reference: 'Patient/m' },
        authoredOn: '2024-01-01',
        medicationCodeableConcept: atc,
      },
      {
        resourceType: 'MedicationStatement',
        id: 'same',
        subject: { reference: 'Patient/m' },
        effectiveDateTime: '2024-02-01',
        medicationCodeableConcept: atc,
      },
    ];
    const own = await ingestResources(resources);
    try {
      const query = evaluable({
        cohort: { medication: { code: [{ system: ATC, code: 'A10BA02' }], atLeast: 2 } },
      });
      const result = await createEngine({ runner: own.runner, dialect: duckDbDialect }).evaluate(
        query,
      );
      expect(result.total.count).toBe(1);
      expectAgreement(result, evaluateOracle(resources, query, { recordKey: own.recordKey }));
    } finally {
      await own.close();
    }
  });

  test('ageAtEvent in whole years on the event date; no birth date, no match', async () => {
    const e11 = [{ system: ICD10, code: 'E11', descendants: true }];
    expect(await count({ condition: { code: e11, ageAtEvent: { max: 33 } } })).toBe(2);
    expect(await count({ condition: { code: e11, ageAtEvent: { max: 32 } } })).toBe(0);
    expect(await count({ condition: { code: e11, ageAtEvent: { min: 34 } } })).toBe(1);
    const e10 = [
      { system: 'http://fhir.de/CodeSystem/bfarm/icd-10-gm', code: 'E10', descendants: true },
    ];
    expect(await count({ condition: { code: e10 } })).toBe(1);
    expect(await count({ condition: { code: e10, ageAtEvent: { min: 0 } } })).toBe(0);
  });

  test('ageAtEvent on a birthday: a turned 34 on the day of her encounter, g was still 17 on 28 February', async () => {
    const amb = [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }];
    expect(await count({ encounter: { code: amb, ageAtEvent: { min: 34, max: 34 } } })).toBe(1);
    expect(await count({ encounter: { code: amb, ageAtEvent: { max: 33 } } })).toBe(0);
    expect(await count({ encounter: { code: amb, ageAtEvent: { min: 35 } } })).toBe(0);
    const cvx = [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }];
    expect(await count({ immunization: { code: cvx, ageAtEvent: { max: 17 } } })).toBe(1);
    expect(await count({ immunization: { code: cvx, ageAtEvent: { min: 18 } } })).toBe(0);
  });

  test('an event without a date never meets a period', async () => {
    expect(await count({ condition: { code: [{ system: ICD10, code: 'I10' }] } })).toBe(1);
    expect(
      await count({
        condition: { code: [{ system: ICD10, code: 'I10' }], period: { from: '1900-01-01' } },
      }),
    ).toBe(0);
  });

  test('values convert between units when UCUM can, with the molar mass of glucose', async () => {
    const glucose = [
      { system: LOINC, code: '2339-0' },
      { system: LOINC, code: '15074-8' },
      { system: 'urn:local', code: 'GLU' },
    ];
    // a 126 mg/dL; b 7 mmol/L = 126.112 mg/dL; c's local code has no molar mass.
    expect(
      await count({ observation: { code: glucose, value: { min: 126, unit: 'mg/dL' } } }),
    ).toBe(2);
    expect(
      await count({ observation: { code: glucose, value: { max: 126, unit: 'mg/dL' } } }),
    ).toBe(1);
    // In mmol/L c's value needs no conversion.
    expect(await count({ observation: { code: glucose, value: { min: 7, unit: 'mmol/L' } } })).toBe(
      2,
    );
    const weight = [{ system: LOINC, code: '29463-7' }];
    // a 70.5 kg, d 65000 g, h 200 [lb_av] = 90.7 kg.
    expect(
      await count({ observation: { code: weight, value: { min: 65, max: 71, unit: 'kg' } } }),
    ).toBe(2);
    expect(await count({ observation: { code: weight, value: { min: 90000, unit: 'g' } } })).toBe(
      1,
    );
    // g's HbA1c is in mmol/L, which does not convert to %; e's has no date,
    // which matters only to periods.
    expect(await count({ observation: { code: HBA1C, value: { min: 0, unit: '%' } } })).toBe(6);
    expect(await count({ observation: { code: HBA1C, value: { min: 0, unit: 'kg' } } })).toBe(0);
  });

  test('valueCode, medications by reference, and the other kinds', async () => {
    expect(
      await count({
        observation: {
          code: [{ system: LOINC, code: '72166-2' }],
          valueCode: [{ system: 'http://snomed.info/sct', code: '449868002' }],
        },
      }),
    ).toBe(1);
    expect(
      await count({ medication: { code: [{ system: ATC, code: 'A10', descendants: true }] } }),
    ).toBe(4);
    expect(
      await count({ medication: { code: [{ system: ATC, code: 'A10B', descendants: true }] } }),
    ).toBe(3);
    expect(
      await count({
        medication: { code: [{ system: ATC, code: 'A10BA02' }], period: { to: '2020-12-31' } },
      }),
    ).toBe(1);
    expect(
      await count({
        immunization: { code: [{ system: 'http://hl7.org/fhir/sid/cvx', code: '140' }] },
      }),
    ).toBe(1);
    const amb = [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ActCode', code: 'AMB' }];
    expect(
      await count({ encounter: { code: amb, period: { from: '2020-01-01', to: '2020-01-01' } } }),
    ).toBe(1);
    expect(
      await count({
        encounter: { code: [{ system: 'http://snomed.info/sct', code: '185349003' }] },
      }),
    ).toBe(1);
    expect(
      await count({
        procedure: {
          code: [{ system: 'http://snomed.info/sct', code: '73761001' }],
          period: { from: '2016-01-01', to: '2016-01-01' },
        },
      }),
    ).toBe(1);
  });
});

describe('stratification', () => {
  test('every stratum in a fixed order; no birth date or unborn: in no age band', async () => {
    const r = await run({
      cohort: { not: { patient: { deceased: true } } },
      stratify: ['deceased', { ageBand: [0, 18, 40, 65, 80] }],
    });
    expect(r.total.count).toBe(7);
    expect(r.strata.map((s) => `${s.key.deceased!}/${s.key.ageBand!}`)).toEqual([
      'true/0-17',
      'true/18-39',
      'true/40-64',
      'true/65-79',
      'true/80+',
      'false/0-17',
      'false/18-39',
      'false/40-64',
      'false/65-79',
      'false/80+',
    ]);
    expect(strataCounts(r)).toEqual([0, 0, 0, 0, 0, 0, 2, 2, 1, 0]);
  });

  test('codes strata overlap and say so', async () => {
    const r = await run({
      cohort: EVERYONE,
      stratify: [
        {
          codes: {
            of: 'condition',
            in: [
              { system: ICD10, code: 'I10' },
              { system: ICD10, code: 'E11.9' },
              { system: ICD10, code: 'E11', descendants: true },
            ],
          },
        },
        'gender',
      ],
    });
    expect(r.overlapping).toBe(true);
    expect(
      r.strata
        .filter((s) => s.cell.count > 0)
        .map((s) => [s.key.codes, s.key.gender, s.cell.count]),
    ).toEqual([
      [`${ICD10}|E11`, 'female', 2],
      [`${ICD10}|E119`, 'female', 2],
      [`${ICD10}|I10`, 'female', 1],
    ]);
  });
});

describe('measures', () => {
  test('histogram: latest, earliest and mean; below the first edge counts as missing', async () => {
    const hist = async (pick: string, edges: number[]) =>
      histogram(
        (
          await run({
            cohort: EVERYONE,
            measures: [{ histogram: { observation: HBA1C, unit: '%', edges, pick } }],
          })
        ).measures[0],
      );
    expect(await hist('latest', [6, 8])).toEqual({ bins: [4, 1], missing: 3 });
    expect(await hist('earliest', [6, 8])).toEqual({ bins: [3, 2], missing: 3 });
    expect(await hist('mean', [6, 8])).toEqual({ bins: [4, 1], missing: 3 });
    expect(await hist('latest', [6.5, 8])).toEqual({ bins: [1, 1], missing: 6 });
  });

  test('histogram bins carry their bounds, the last one open', async () => {
    const r = await run({
      cohort: EVERYONE,
      measures: [{ histogram: { observation: HBA1C, unit: '%', edges: [6, 8] } }],
    });
    const m = r.measures[0];
    expect(m?.type === 'histogram' && m.bins.map(({ from, to }) => ({ from, to }))).toEqual([
      { from: 6, to: 8 },
      { from: 8, to: undefined },
    ]);
  });

  test('summary: n, mean, sample sd, sum and max of absolute values, in the measure unit', async () => {
    const r = await run({
      cohort: EVERYONE,
      measures: [
        { summary: { observation: HBA1C, unit: '%' } },
        {
          summary: { observation: [{ system: LOINC, code: '29463-7' }], unit: 'kg', pick: 'mean' },
        },
        { summary: { observation: HBA1C, unit: '%', period: { from: '2030-01-01' } } },
      ],
    });
    const [a1c, weight, none] = r.measures;
    expect(a1c?.type).toBe('summary');
    if (a1c?.type !== 'summary' || weight?.type !== 'summary' || none?.type !== 'summary') return;
    expect(a1c.n.count).toBe(5);
    expect(a1c.mean).toBeCloseTo(6.58, 12);
    expect(a1c.sd).toBeCloseTo(Math.sqrt(2.728 / 4), 12);
    expect(a1c.sumAbs).toBeCloseTo(32.9, 12);
    expect(a1c.maxAbs).toBe(8);
    expect(weight.n.count).toBe(3);
    expect(weight.mean).toBeCloseTo((70.5 + 65 + 200 * 0.45359237) / 3, 9);
    expect(none).toMatchObject({
      n: { count: 0, cellKey: 0 },
      mean: null,
      sd: null,
      sumAbs: 0,
      maxAbs: 0,
      clampedSum: null,
      clampedSumSquares: null,
    });
  });

  test('summary: each patient value clamped to the bounds given before it is summed', async () => {
    const measures = [
      { count: 'patients' },
      { summary: { observation: HBA1C, unit: '%' } },
      { summary: { observation: HBA1C, unit: '%', period: { from: '2030-01-01' } } },
    ];
    const summaries = async (bounds: SourceQuery['summaryBounds']) => {
      const query: SourceQuery = {
        ...evaluable({ cohort: EVERYONE, measures }),
        ...(bounds === undefined ? {} : { summaryBounds: bounds }),
      };
      const r = await engine.evaluate(query);
      expectAgreement(r, evaluateOracle(CLINIC, query, { recordKey: store.recordKey }));
      return r.measures.slice(1);
    };
    // The latest values are 8, 6.5, 6.4, 6.0 and 6.0: cut above and below.
    const [cut, empty] = await summaries([undefined, { min: 6.2, max: 7 }, { min: 6.2, max: 7 }]);
    expect(cut).toMatchObject({ n: { count: 5 }, mean: 6.58, maxAbs: 8 });
    if (cut?.type !== 'summary' || empty?.type !== 'summary') throw new TypeError('not summaries');
    expect(cut.clampedSum).toBeCloseTo(7 + 6.5 + 6.4 + 6.2 + 6.2, 12);
    expect(cut.clampedSumSquares).toBeCloseTo(49 + 42.25 + 40.96 + 38.44 + 38.44, 12);
    expect(empty).toMatchObject({ n: { count: 0 }, clampedSum: 0, clampedSumSquares: 0 });
    // Wide bounds cut nothing; equal ones make every value the bound.
    const [wide] = await summaries([undefined, { min: -1000, max: 1000 }]);
    expect(wide).toMatchObject({ clampedSum: expect.closeTo(32.9, 12) as number });
    const [point] = await summaries([undefined, { min: 5.5, max: 5.5 }]);
    expect(point).toMatchObject({ clampedSum: 27.5, clampedSumSquares: 151.25 });
    // Bounds only for the second summary: the first has no clamped sums.
    const [unbounded, bounded] = await summaries([undefined, undefined, { min: 0, max: 1 }]);
    expect(unbounded).toMatchObject({ clampedSum: null, clampedSumSquares: null });
    expect(bounded).toMatchObject({ clampedSum: 0, clampedSumSquares: 0 });
    await expect(summaries([undefined, { min: 7, max: 6 }])).rejects.toThrow(RangeError);
    await expect(summaries([undefined, { min: 0, max: Number.NaN }])).rejects.toThrow(RangeError);
  });
});

describe('cell keys', () => {
  test('the sum of record keys wraps at 2^32 and an empty cell has key 0', async () => {
    const mem = await openStore(':memory:');
    try {
      await mem.connection.run(
        `INSERT INTO patients VALUES (0, 'x', 'female', DATE '1990-01-01', false, NULL, 4294967295),
                                     (1, 'y', 'female', NULL, false, NULL, 4294967295),
                                     (2, 'z', 'male', NULL, true, NULL, 7)`,
      );
      const r = await createEngine({
        runner: createDuckDbRunner(mem.connection),
        dialect: duckDbDialect,
      }).evaluate(evaluable({ cohort: { patient: { deceased: false } }, stratify: ['gender'] }));
      expect(r.total).toEqual({ count: 2, cellKey: 4294967294 });
      expect(r.strata.map((s) => s.cell)).toEqual([
        { count: 2, cellKey: 4294967294 },
        { count: 0, cellKey: 0 },
        { count: 0, cellKey: 0 },
        { count: 0, cellKey: 0 },
      ]);
    } finally {
      mem.close();
    }
  });
});

describe('stored units', () => {
  test('an engine over data that cannot change probes a code set once; otherwise on every evaluation', async () => {
    const statements = (immutable: boolean) => {
      const seen: string[] = [];
      const e = createEngine({
        runner: {
          all: (sql, params) => {
            seen.push(sql.startsWith('WITH') ? 'query' : 'probe');
            return store.runner.all(sql, params);
          },
        },
        dialect: duckDbDialect,
        immutable,
      });
      return { e, seen };
    };
    const hba1c = evaluable({
      cohort: { observation: { code: HBA1C, value: { min: 6.5, unit: '%' } } },
    });
    const both = evaluable({
      cohort: { observation: { code: HBA1C, value: { min: 6.5, unit: '%' } } },
      measures: [{ summary: { observation: [{ system: LOINC, code: '2339-0' }], unit: 'mg/dL' } }],
    });
    const cached = statements(true);
    const first = await cached.e.evaluate(hba1c);
    expect(await cached.e.evaluate(hba1c)).toEqual(first);
    expect(await cached.e.evaluate(both)).toEqual(await engine.evaluate(both));
    expect(cached.seen).toEqual(['probe', 'query', 'query', 'probe', 'query']);
    expect(first).toEqual(await engine.evaluate(hba1c));

    const uncached = statements(false);
    await uncached.e.evaluate(hba1c);
    await uncached.e.evaluate(hba1c);
    expect(uncached.seen).toEqual(['probe', 'query', 'probe', 'query']);
  });
});
